#include "kernels/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "io/clock.h"
#include "io/error.h"
#include "io/process.h"
#include "io/stream_file.h"
#include "io/workdirs.h"
#include "kernels/command_outputs.h"
#include "kernels/dtype.h"
#include "kernels/program.h"
#include "kernels/stream_quote.h"

extern char** environ;

namespace sweep {
namespace {

constexpr size_t kStdoutLimit = size_t{64} << 20;
// What is kept in memory of a stream that holds no outputs, for the failure's quote.
constexpr size_t kStreamKeep = 16384;
// What the work directory keeps of each stream (io/stream_file.h).
constexpr uint64_t kSavedHead = uint64_t{64} << 10;
constexpr uint64_t kSavedTail = uint64_t{1} << 20;
constexpr uint64_t kNoPoint = std::numeric_limits<uint64_t>::max();

// A bound command kernel: the table and everything it points into.
struct CommandKernel : RuntimeKernel {
  std::string program;  // argv[0] as written: what messages name
  std::string path;     // the executable that runs
  std::string argv0;    // what the program gets as argv[0]: its path, or its name from PATH
  std::vector<CommandTemplate> args;  // argv[1..]
  std::vector<std::string> param_names;
  std::vector<CommandOutput> output_specs;
  double limit_seconds = 0;  // per point; 0: none
  std::vector<CommandFile> files;
  std::vector<CommandEnv> env;
  std::string results_file;
  Workdirs workdirs{"", false};
  bool remove_empty_root = false;
  CommandSpec::Keep keep = CommandSpec::Keep::kFailed;

  int Init(void** state, const sweep_options*, const sweep_array*, char* err,
           size_t err_size) override;
};

// What a worker keeps between points.
struct CommandState {
  const CommandKernel* kernel = nullptr;
  uint64_t point = kNoPoint;
  int devnull = -1;
  // The worker's, without SWEEP_POINT, SWEEP_SEED and the variables of `env:`: taken at the
  // first point, not in init(), which a forkserver's zygote ran for every worker
  // (driver/zygote.h).
  std::vector<std::string> environment;
  bool environment_taken = false;
};

int Fail(char* err, size_t err_size, const std::string& message) {
  return sweep_fail(err, err_size, message.c_str());
}

int CommandKernel::Init(void** state, const sweep_options*, const sweep_array*, char* err,
                        size_t err_size) {
  KillProgramWhenTheDriverDies();
  auto s = std::make_unique<CommandState>();
  s->kernel = this;
  s->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (s->devnull < 0) return Fail(err, err_size, std::string("/dev/null: ") + strerror(errno));
  *state = s.release();
  return 0;
}

void SetPoint(void* state, uint64_t point) { static_cast<CommandState*>(state)->point = point; }

void Finish(void* state) {
  auto* s = static_cast<CommandState*>(state);
  if (!s) return;
  if (s->devnull >= 0) close(s->devnull);
  if (s->kernel->remove_empty_root) s->kernel->workdirs.RemoveRootIfEmpty();
  delete s;
}

// ---- Running the program ----

struct RunOutcome {
  std::string start_error;  // the program did not start: why
  int wait_status = 0;
  bool timed_out = false;
  bool stdout_overflow = false;
  std::string out;  // whole when it holds the outputs, else its last kStreamKeep bytes
  std::string err;  // the last kStreamKeep bytes
};

// The files a run's stdout and stderr are saved in.
struct SavedStreams {
  std::optional<StreamFile> out, err;
};

// Reads what fd has now into *text, keeping only its last `keep_tail` bytes unless 0, and into
// `file`; returns false at end of file (or on an error).
bool DrainAndSave(int fd, std::string* text, size_t keep_tail, std::optional<StreamFile>* file) {
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    if (n <= 0) return false;
    if (*file) (*file)->Append(buffer, size_t(n));
    text->append(buffer, size_t(n));
    if (keep_tail && text->size() > 2 * keep_tail) text->erase(0, text->size() - keep_tail);
    if (!keep_tail && text->size() > kStdoutLimit) return true;
  }
}

// Runs the program in the folder `cwd` (a descriptor), saving its streams in `saved`. Its stdout
// is kept whole when it holds the outputs (up to kStdoutLimit), else only its tail, like stderr's.
RunOutcome Run(const CommandState& s, const std::vector<std::string>& argv,
               const std::vector<std::string>& env, int cwd, SavedStreams* saved) {
  RunOutcome r;
  Pipe out, err;
  if (out.read < 0 || err.read < 0) {
    r.start_error = std::string("pipe: ") + strerror(errno);
    return r;
  }
  const double limit = s.kernel->limit_seconds;
  const double deadline = limit > 0 ? SteadySeconds() + limit : 0;
  // Its own process group, so a timeout kills everything the program started; killed if the
  // worker dies, since the driver's kill of the worker's group does not reach this one.
  ChildSetup setup;
  setup.fds = {{s.devnull, 0}, {out.write, 1}, {err.write, 2}};
  setup.env = env;
  setup.cwd = cwd;
  const size_t stdout_keep = s.kernel->results_file.empty() ? 0 : kStreamKeep;
  pid_t pid;
  try {
    pid = StartProgram(s.kernel->path, argv, setup);
  } catch (const Error& e) {
    r.start_error = e.what();
    return r;
  }
  out.CloseWrite();
  err.CloseWrite();
  fcntl(out.read, F_SETFL, fcntl(out.read, F_GETFL) | O_NONBLOCK);
  fcntl(err.read, F_SETFL, fcntl(err.read, F_GETFL) | O_NONBLOCK);

  // True once the program has exited, leaving it a zombie: its pid, and so its process group's
  // id, cannot be reused until we reap it, which makes killing the group after it safe.
  const auto exited = [&](bool block) {
    siginfo_t info{};
    const int options = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
    while (waitid(P_PID, id_t(pid), &info, options) < 0) {
      if (errno != EINTR) return true;  // nothing to wait for: reaped or not ours
    }
    return info.si_pid == pid;
  };
  bool out_open = true, err_open = true, done = false;
  while (!done && (out_open || err_open)) {
    // Wake at least every 50 ms: a program may exit while something it started still holds
    // its stdout, and that must not hold up the point.
    int wait_ms = 50;
    if (deadline > 0) {
      const double left = deadline - SteadySeconds();
      if (left <= 0) {
        r.timed_out = true;
        break;
      }
      wait_ms = int(std::min(50.0, std::ceil(left * 1000)));
    }
    pollfd fds[2] = {{out_open ? out.read : -1, POLLIN, 0}, {err_open ? err.read : -1, POLLIN, 0}};
    const int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno != EINTR) break;
    if (n == 0) done = exited(false);
    if (out_open) out_open = DrainAndSave(out.read, &r.out, stdout_keep, &saved->out);
    if (err_open) err_open = DrainAndSave(err.read, &r.err, kStreamKeep, &saved->err);
    if (r.out.size() > kStdoutLimit) {
      r.stdout_overflow = true;
      break;
    }
  }
  if (!r.timed_out && !r.stdout_overflow) {
    // stdout and stderr are closed (or the program exited): wait for it, within the limit.
    if (deadline <= 0) {
      exited(true);
    } else {
      while (!exited(false)) {
        if (SteadySeconds() >= deadline) {
          r.timed_out = true;
          break;
        }
        usleep(2000);
      }
    }
  }
  // Whatever is left of its group goes with it: a timeout, or what it started and left behind.
  kill(-pid, SIGKILL);
  SetProgramGroup(0);
  while (waitpid(pid, &r.wait_status, 0) < 0) {
    if (errno == EINTR) continue;
    r.start_error = std::string("lost its exit status: waitpid: ") + strerror(errno);
    break;
  }
  // A worker that is a child subreaper inherits the orphans of its programs: those that have
  // died (the group kill above) are reaped now, the rest after a later point. Its only other
  // children are earlier points' programs, all waited for.
  if (IsChildSubreaper()) ReapExitedChildren([](pid_t) { return false; });
  if (r.err.size() > kStreamKeep) r.err.erase(0, r.err.size() - kStreamKeep);
  if (stdout_keep && r.out.size() > stdout_keep) r.out.erase(0, r.out.size() - stdout_keep);
  return r;
}

// What went wrong with a run, or "" when its outputs are read into `outputs`. `dir`: its work
// directory, where a results file is read.
std::string ReadRun(const CommandKernel& k, const RunOutcome& r, int dir, sweep_array* outputs) {
  if (!r.start_error.empty()) return r.start_error;
  if (r.timed_out) {
    return fmt::format(
        "ran over {:.3g} s (execution.timeout less its margin); its process group was killed",
        k.limit_seconds);
  }
  if (r.stdout_overflow) return "wrote more than 64 MiB on stdout; killed";
  if (!WIFEXITED(r.wait_status) || WEXITSTATUS(r.wait_status) != 0) {
    return WIFSIGNALED(r.wait_status) ? "killed by " + DescribeWaitStatus(r.wait_status)
                                      : "failed with " + DescribeWaitStatus(r.wait_status);
  }
  if (k.results_file.empty()) {
    if (r.out.find_first_not_of(" \t\r\n") == std::string::npos)
      return "printed nothing on stdout (expected its outputs: " + OutputList(k.outputs) + ")";
    return ReadCommandOutputs(r.out, "stdout", k.outputs, outputs);
  }
  std::optional<std::string> text;
  try {
    text = ReadFileBelow(dir, k.results_file, kStdoutLimit);
  } catch (const Error& e) {
    return std::string("results_file ") + e.what();
  }
  if (!text) {
    return "did not write its results_file `" + k.results_file +
           "` in its work directory (expected its outputs: " + OutputList(k.outputs) + ")";
  }
  return ReadCommandOutputs(*text, k.results_file, k.outputs, outputs);
}

// The worker's environment without what is set for each point: SWEEP_POINT, SWEEP_SEED and the
// variables of `env:`.
std::vector<std::string> WorkerEnvironment(const std::vector<CommandEnv>& env) {
  const auto set_per_point = [&env](const char* variable) {
    const auto named = [variable](const std::string& name) {
      return std::strncmp(variable, name.c_str(), name.size()) == 0 && variable[name.size()] == '=';
    };
    if (named("SWEEP_POINT") || named("SWEEP_SEED")) return true;
    return std::any_of(env.begin(), env.end(), [&](const CommandEnv& e) { return named(e.name); });
  };
  std::vector<std::string> environment;
  for (char** e = environ; e && *e; ++e) {
    if (!set_per_point(*e)) environment.emplace_back(*e);
  }
  return environment;
}

// The environment of the program at one point: the worker's, `env:` rendered over it, and the
// point's index and seed.
std::vector<std::string> Environment(const CommandState& s, const PointText& point) {
  std::vector<std::string> env = s.environment;
  for (const CommandEnv& e : s.kernel->env)
    env.push_back(e.name + "=" + RenderCommandTemplate(e.value, point));
  env.push_back("SWEEP_POINT=" + std::to_string(point.point));
  env.push_back("SWEEP_SEED=" + std::to_string(point.seed));
  return env;
}

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  // A reason of about 1 KiB, with as much of the program's stderr as fits, whatever room the
  // caller gives: it is one line of `sweep status`.
  err_size = std::min<size_t>(err_size, 1024);
  CommandState& s = *static_cast<CommandState*>(state);
  const CommandKernel& k = *s.kernel;
  const std::string name = "command `" + k.program + "`: ";
  // The point names its work directory, and {point} and SWEEP_POINT need it.
  if (s.point == kNoPoint)
    return Fail(err, err_size, name + "the caller gave no point index (set_point)");
  if (!s.environment_taken) {
    s.environment = WorkerEnvironment(k.env);
    s.environment_taken = true;
  }
  const PointText point{params, seed, s.point, k.workdirs.PathOf(s.point)};
  std::vector<std::string> argv = {k.argv0};
  for (const CommandTemplate& arg : k.args) argv.push_back(RenderCommandTemplate(arg, point));

  std::string problem;
  RunOutcome r;
  ScopedFd dir;
  SavedStreams saved;
  try {
    dir = k.workdirs.MakeFresh(s.point);
    for (const CommandFile& f : k.files)
      WriteFileBelow(dir.get(), f.name, RenderCommandTemplate(f.text, point), mode_t(f.mode));
    saved.out.emplace(dir.get(), kStdoutFile, kSavedHead, kSavedTail);
    saved.err.emplace(dir.get(), kStderrFile, kSavedHead, kSavedTail);
  } catch (const Error& e) {
    problem = std::string("work directory: ") + e.what();
  }
  if (problem.empty()) {
    r = Run(s, argv, Environment(s, point), dir.get(), &saved);
    saved.out->Close();
    saved.err->Close();
    problem = ReadRun(k, r, dir.get(), outputs);
  }
  dir.reset();
  const bool keep = k.keep == CommandSpec::Keep::kAlways ||
                    (k.keep == CommandSpec::Keep::kFailed && !problem.empty());
  if (!keep) {
    try {
      k.workdirs.Remove(s.point);
    } catch (const Error& e) {
      // The disk would fill up with what was to be removed: not a point to call done.
      if (problem.empty()) problem = std::string("its work directory stays: ") + e.what();
    }
  }
  if (problem.empty()) return 0;
  // Out of time is transient, retried as a chunk timeout is (kernels/kernel.h).
  const std::string message = Printable((r.timed_out ? SWEEP_TIMEOUT_PREFIX : "") + name + problem);
  const size_t room = err_size > message.size() + 3 ? err_size - 1 - message.size() - 2 : 0;
  const std::string quote = QuoteStreams(r.out, r.err, room);
  return Fail(err, err_size, quote.empty() ? message : message + "; " + quote);
}

}  // namespace

CommandKernelTable MakeCommandKernel(CommandSpec spec) {
  auto k = std::make_shared<CommandKernel>();
  k->program = std::move(spec.program);
  k->path = std::move(spec.path);
  k->argv0 = k->program.find('/') == std::string::npos ? k->program : k->path;
  k->args = std::move(spec.args);
  k->param_names = std::move(spec.param_names);
  k->output_specs = std::move(spec.outputs);
  k->outputs = OutputDecls(k->output_specs);
  for (const std::string& p : k->param_names)
    k->params.push_back(
        sweep_param_decl{p.c_str(), "a sweep parameter the command's arguments name"});
  k->limit_seconds = spec.limit_seconds;
  k->files = std::move(spec.files);
  k->env = std::move(spec.env);
  k->results_file = std::move(spec.results_file);
  k->workdirs = Workdirs(spec.workdir_root, !spec.workdir_root_is_default);
  k->remove_empty_root = spec.workdir_root_is_default;
  k->keep = spec.keep;
  k->description = "runs `" + k->program + "` once per point";
  k->Publish("command", "command kernel", Compute, Finish);

  CommandKernelTable made;
  made.kernel = &k->table;
  made.set_point = SetPoint;
  made.owner = std::move(k);
  return made;
}

}  // namespace sweep
