#include "kernels/persistent.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <utility>

#include "io/clock.h"
#include "io/error.h"
#include "io/process.h"
#include "io/workdirs.h"
#include "kernels/command_outputs.h"
#include "kernels/dtype.h"
#include "kernels/program.h"

extern char** environ;

namespace sweep {
namespace {

constexpr size_t kLineLimit = size_t{64} << 20;  // the longest line a program may write
constexpr size_t kStderrKeep = 4096;             // of stderr, for failure messages
constexpr size_t kReadAtOnce = size_t{1} << 20;  // read between two looks for whole lines
constexpr double kRetireSeconds = 2;             // from end of file on stdin to SIGKILL
constexpr uint64_t kNoPoint = std::numeric_limits<uint64_t>::max();

int Fail(char* err, size_t err_size, const std::string& message) {
  return sweep_fail(err, err_size, message.c_str());
}

// JSON text of a number as Python's json module writes it: the shortest text that reads back as
// the same double, with ".0" on an integral one (so it reads back as a float), and NaN, Infinity
// and -Infinity bare.
std::string JsonNumber(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  std::string text = fmt::format("{}", x);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string JsonValue(const sweep_value& v) {
  switch (v.type) {
    case SWEEP_VALUE_INTEGER:
      return std::to_string(v.integer);
    case SWEEP_VALUE_STRING:
      return nlohmann::json(v.string ? v.string : "").dump();
    default:
      return JsonNumber(v.number);
  }
}

std::string Quoted(const std::string& text) { return nlohmann::json(text).dump(); }

// A bound persistent kernel: the table and everything it points into.
struct PersistentKernel : RuntimeKernel {
  std::string program;  // argv[0] as written: what messages name
  std::string path;     // the executable that runs
  std::vector<std::string> argv;
  std::vector<CommandFile> files;
  std::vector<std::string> env;  // `env:`, rendered once: NAME=value, set over the worker's
  std::vector<std::string> param_names;
  std::vector<std::string> option_names;
  std::vector<std::string> input_names;
  std::vector<CommandOutput> output_specs;
  std::string outputs_json;  // the hello's "outputs"
  double limit_seconds = 0;  // per point; 0: none
  uint64_t max_points = 0;
  Workdirs workdirs{"", false};
  bool remove_empty_root = false;
  CommandSpec::Keep keep = CommandSpec::Keep::kFailed;

  int Init(void** state, const sweep_options* options, const sweep_array*, char* err,
           size_t err_size) override;
};

// One running program: our ends of its pipes and what it said so far.
struct Program {
  pid_t pid = -1;
  ScopedFd in, out, err;
  uint64_t first_point = 0;  // names its work directory
  uint64_t served = 0;       // points it answered
  bool failed = false;       // a point it served failed: its directory is kept (keep: failed)
  std::string pending;       // stdout that is not a whole line yet
  bool in_log_line = false;  // `pending` continues a log line already passed on
  bool err_open = true;      // stderr has not reached its end
  std::string err_tail;      // the last kStderrKeep bytes of stderr, or so
};

// What a worker keeps between points.
struct PersistentState {
  const PersistentKernel* kernel = nullptr;
  uint64_t point = kNoPoint;
  std::string options_json;  // the hello's "options"
  std::string inputs_json;   // the hello's "inputs"; "" until place_inputs
  std::optional<Program> program;
};

int PersistentKernel::Init(void** state, const sweep_options* given, const sweep_array*, char*,
                           size_t) {
  KillProgramWhenTheDriverDies();
  auto s = std::make_unique<PersistentState>();
  s->kernel = this;
  std::string text = "{";
  for (int i = 0; i < given->count && i < int(option_names.size()); ++i)
    text += (i ? ", " : "") + Quoted(option_names[size_t(i)]) + ": " + JsonValue(given->values[i]);
  s->options_json = text + "}";
  if (inputs.empty()) s->inputs_json = "{}";
  *state = s.release();
  return 0;
}

void SetPoint(void* state, uint64_t point) { static_cast<PersistentState*>(state)->point = point; }

void PlaceInputs(void* state, const std::vector<PublishedInput>& inputs) {
  auto& s = *static_cast<PersistentState*>(state);
  std::string text = "{";
  for (size_t i = 0; i < inputs.size() && i < s.kernel->input_names.size(); ++i) {
    const PublishedInput& in = inputs[i];
    const std::string path = in.memfd ? fmt::format("/proc/{}/fd/{}", in.pid, in.fd) : in.path;
    text +=
        fmt::format("{}{}: {{\"path\": {}, \"offset\": {}, \"dtype\": \"{}\", \"shape\": [{}]}}",
                    i ? ", " : "", Quoted(s.kernel->input_names[i]), Quoted(path), in.offset,
                    DtypeName(in.dtype), fmt::join(in.shape, ", "));
  }
  s.inputs_json = text + "}";
}

// ---- The program's log ----

// Passes `n` bytes of the program's log on to the worker's log (its stderr). The driver keeps
// that log in bounded space, with its latest bytes (driver/worker_log.h), so a program that
// floods it is slowed to the driver's pace, not cut off: a failure's tail is always there.
void Log(PersistentState&, const char* data, size_t n) {
  for (size_t done = 0; done < n;) {
    const ssize_t w = write(2, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;  // a log that cannot be written is no reason to fail a point
    done += size_t(w);
  }
}

void Log(PersistentState& s, const std::string& text) { Log(s, text.data(), text.size()); }

// Reads what stderr has now: into the log, and the tail kept for messages.
void ReadStderr(PersistentState& s) {
  Program& p = *s.program;
  if (!p.err_open) return;
  std::string chunk;
  p.err_open = Drain(p.err.get(), &chunk, 0, kReadAtOnce);
  Log(s, chunk);
  p.err_tail += chunk;
  if (p.err_tail.size() > 2 * kStderrKeep) p.err_tail.erase(0, p.err_tail.size() - kStderrKeep);
}

// The next result line among the whole lines of stdout read so far, passing the lines before it
// on as log; nullopt when there is none yet.
std::optional<nlohmann::json> TakeResult(PersistentState& s) {
  Program& p = *s.program;
  size_t from = 0, log_from = 0;  // the next line; the first not passed on yet
  std::optional<nlohmann::json> result;
  for (size_t end; !result && (end = p.pending.find('\n', from)) != std::string::npos;) {
    const size_t line = from;
    from = end + 1;
    if (p.in_log_line) {
      p.in_log_line = false;
      continue;
    }
    const size_t first = p.pending.find_first_not_of(" \t\r", line);
    if (first >= end || p.pending[first] != '{') continue;
    std::optional<nlohmann::json> j = JsonObjectLine(p.pending.substr(line, end - line));
    if (j && j->contains("point")) {
      Log(s, p.pending.data() + log_from, line - log_from);
      log_from = from;
      result = std::move(j);
    }
  }
  Log(s, p.pending.data() + log_from, from - log_from);
  p.pending.erase(0, from);
  // A long piece of a line that cannot be a result goes on at once, so a program that floods
  // its log without line breaks holds no memory here.
  const size_t first = p.pending.find_first_not_of(" \t\r");
  const bool may_be_result =
      !p.in_log_line && first != std::string::npos && p.pending[first] == '{';
  if (!result && !may_be_result && (p.in_log_line || p.pending.size() > kReadAtOnce)) {
    Log(s, p.pending);
    p.in_log_line = true;
    p.pending.clear();
  }
  return result;
}

// Writes as much of `text` from *sent on as the pipe takes now. False when the program closed
// its stdin (it exited, or will): what it said, and its exit, tell why.
bool WriteSome(int fd, const std::string& text, size_t* sent) {
  // A program gone before it read raises SIGPIPE, which would kill the worker: blocked for the
  // write, and taken back if the write raised it.
  sigset_t pipe_signal, before;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &before);
  bool open = true;
  while (*sent < text.size()) {
    const ssize_t w = write(fd, text.data() + *sent, text.size() - *sent);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (w <= 0) {
      if (errno == EPIPE) {
        const timespec now{0, 0};
        sigtimedwait(&pipe_signal, nullptr, &now);
      }
      open = false;
      break;
    }
    *sent += size_t(w);
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return open;
}

enum class Outcome {
  kAnswer,   // a result line came
  kEnded,    // stdout reached its end: the program exited, or closed it
  kTimeout,  // the deadline passed first
  kOverlong  // a line over kLineLimit
};

// Sends `text` and reads until a result line comes, or the program ends, or `deadline` (steady
// seconds; 0: none) passes. stdout, stderr and stdin are served together, so a program that
// writes much before it reads cannot deadlock with us.
Outcome Exchange(PersistentState& s, const std::string& text, double deadline,
                 nlohmann::json* answer) {
  Program& p = *s.program;
  size_t sent = 0;
  bool out_open = true;
  for (;;) {
    if (std::optional<nlohmann::json> result = TakeResult(s)) {
      *answer = std::move(*result);
      return Outcome::kAnswer;
    }
    if (p.pending.size() > kLineLimit) return Outcome::kOverlong;
    if (!out_open) return Outcome::kEnded;
    int wait_ms = -1;
    if (deadline > 0) {
      const double left = deadline - SteadySeconds();
      if (left <= 0) return Outcome::kTimeout;
      wait_ms = int(std::min(1e6, std::ceil(left * 1000)));
    }
    const bool writing = sent < text.size() && p.in.valid();
    pollfd fds[3] = {{p.out.get(), POLLIN, 0},
                     {p.err_open ? p.err.get() : -1, POLLIN, 0},
                     {writing ? p.in.get() : -1, POLLOUT, 0}};
    const int n = poll(fds, 3, wait_ms);
    if (n < 0 && errno != EINTR) return Outcome::kEnded;
    if (n <= 0) continue;
    if (fds[2].revents && !WriteSome(p.in.get(), text, &sent)) p.in.reset();
    if (fds[1].revents) ReadStderr(s);
    if (fds[0].revents)
      out_open = Drain(p.out.get(), &p.pending, 0, p.pending.size() + kReadAtOnce);
  }
}

// ---- Starting and stopping ----

std::vector<std::string> ProgramEnvironment(const PersistentKernel& k) {
  std::vector<std::string> env;
  bool unbuffered = false;
  const auto set_here = [&k](const char* variable) {
    for (const std::string& e : k.env) {
      const size_t name = e.find('=') + 1;  // the name and its `=`
      if (std::strncmp(variable, e.c_str(), name) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "SWEEP_POINT=", 12) == 0 || std::strncmp(*e, "SWEEP_SEED=", 11) == 0 ||
        set_here(*e))
      continue;
    unbuffered = unbuffered || std::strncmp(*e, "PYTHONUNBUFFERED=", 17) == 0;
    env.emplace_back(*e);
  }
  for (const std::string& e : k.env) {
    unbuffered = unbuffered || e.rfind("PYTHONUNBUFFERED=", 0) == 0;
    env.push_back(e);
  }
  if (!unbuffered) env.emplace_back("PYTHONUNBUFFERED=1");
  return env;
}

// Removes a program's work directory unless `keep:` keeps it. Returns what went wrong, or "".
std::string Tidy(const PersistentKernel& k, uint64_t first_point, bool failed) {
  const bool keep =
      k.keep == CommandSpec::Keep::kAlways || (k.keep == CommandSpec::Keep::kFailed && failed);
  if (keep) return "";
  try {
    k.workdirs.Remove(first_point);
  } catch (const Error& e) {
    return std::string("its work directory stays: ") + e.what();
  }
  return "";
}

// Starts the program for `point`, in a fresh work directory. Returns what went wrong, or "".
std::string Start(PersistentState& s, uint64_t point) {
  const PersistentKernel& k = *s.kernel;
  if (s.inputs_json.empty())
    return "the places of the inputs were not given (KernelBinding::place_inputs)";
  ScopedFd dir;
  try {
    dir = k.workdirs.MakeFresh(point);
    for (const CommandFile& f : k.files)
      WriteFileBelow(dir.get(), f.name, Render(f.text, nullptr, 0, point), mode_t(f.mode));
  } catch (const Error& e) {
    return std::string("work directory: ") + e.what();
  }
  Pipe in, out, err;
  if (in.read < 0 || out.read < 0 || err.read < 0) return std::string("pipe: ") + strerror(errno);
  ChildSetup setup;
  setup.fds = {{in.read, 0}, {out.write, 1}, {err.write, 2}};
  setup.env = ProgramEnvironment(k);
  setup.cwd = dir.get();
  pid_t pid;
  try {
    pid = StartProgram(k.path, k.argv, setup);
  } catch (const Error& e) {
    dir.reset();
    Tidy(k, point, true);
    return e.what();
  }
  Program& p = s.program.emplace();
  p.pid = pid;
  p.first_point = point;
  p.in.reset(in.write);
  p.out.reset(out.read);
  p.err.reset(err.read);
  in.write = out.read = err.read = -1;  // owned by the Program now
  for (const ScopedFd* fd : {&p.in, &p.out, &p.err})
    fcntl(fd->get(), F_SETFL, fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  return "";
}

// Ends the program: after `grace_seconds` for it to exit by itself (reading what it still says
// into the log), its process group is killed; it is reaped and its directory tidied. Returns its
// wait status.
int Stop(PersistentState& s, double grace_seconds) {
  Program& p = *s.program;
  p.in.reset();  // end of file: a program serving stdin ends
  const double until = SteadySeconds() + grace_seconds;
  bool out_open = true;
  const auto exited = [&] {
    siginfo_t info{};
    while (waitid(P_PID, id_t(p.pid), &info, WEXITED | WNOWAIT | WNOHANG) < 0) {
      if (errno != EINTR) return true;
    }
    return info.si_pid == p.pid;
  };
  while (!exited() && SteadySeconds() < until) {
    pollfd fds[2] = {{out_open ? p.out.get() : -1, POLLIN, 0},
                     {p.err_open ? p.err.get() : -1, POLLIN, 0}};
    if (poll(fds, 2, out_open || p.err_open ? 5 : 0) < 0 && errno != EINTR) break;
    if (!out_open && !p.err_open) usleep(2000);
    if (fds[0].revents) {
      out_open = Drain(p.out.get(), &p.pending, 0, p.pending.size() + kReadAtOnce);
      Log(s, p.pending);
      p.pending.clear();
    }
    if (fds[1].revents) ReadStderr(s);
  }
  // The zombie pins the group's id: whatever it left running goes with it.
  kill(-p.pid, SIGKILL);
  SetProgramGroup(0);
  int status = 0;
  while (waitpid(p.pid, &status, 0) < 0 && errno == EINTR) {
  }
  ReadStderr(s);  // what it said last, if it is there already
  if (!p.pending.empty() && !p.in_log_line) Log(s, p.pending + "\n");
  const std::string untidy = Tidy(*s.kernel, p.first_point, p.failed);
  if (!untidy.empty()) Log(s, "sweep: command `" + s.kernel->program + "`: " + untidy + "\n");
  return status;
}

// Fails the point the program failed by ending, not answering, or answering out of step, with
// `what` and its stderr's tail: it is stopped at once, and the next point starts it again.
int FailAndStop(PersistentState& s, const std::string& what, bool timed_out, char* err,
                size_t err_size) {
  s.program->failed = true;
  Stop(s, 0);
  const std::string tail = s.program->err_tail;
  s.program.reset();
  const std::string message = (timed_out ? SWEEP_TIMEOUT_PREFIX : "") + std::string("command `") +
                              s.kernel->program + "`: " + what;
  return Fail(err, err_size, WithTail(Printable(message), "; stderr: ", tail, err_size));
}

// Fails the point in flight when the program's stdout ended: it exited (or died), or closed it.
int FailEnded(PersistentState& s, uint64_t point, char* err, size_t err_size) {
  Program& p = *s.program;
  // Given a moment to exit, so its exit status says what happened.
  const double until = SteadySeconds() + 1;
  bool gone = false;
  while (!gone && SteadySeconds() < until) {
    siginfo_t info{};
    gone =
        waitid(P_PID, id_t(p.pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_pid == p.pid;
    if (!gone) usleep(2000);
  }
  p.failed = true;
  const int status = Stop(s, 0);
  const std::string how = !gone ? "closed its stdout without exiting (it was killed)"
                          : WIFSIGNALED(status) ? "was killed by " + DescribeWaitStatus(status)
                                                : "exited with " + DescribeWaitStatus(status);
  const std::string what =
      how + " " +
      (p.served == 0 ? fmt::format("before it answered its first point, {}", point)
                     : fmt::format("while computing point {} (it had answered {} point{} since it "
                                   "started)",
                                   point, p.served, p.served == 1 ? "" : "s"));
  const std::string tail = p.err_tail;
  s.program.reset();
  const std::string message = "command `" + s.kernel->program + "`: " + what;
  return Fail(err, err_size, WithTail(Printable(message), "; stderr: ", tail, err_size));
}

// A result line's JSON, shortened for a message.
std::string Shown(const nlohmann::json& line) {
  std::string text = line.dump();
  return text.size() > 200 ? text.substr(0, 200) + "..." : text;
}

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  PersistentState& s = *static_cast<PersistentState*>(state);
  const PersistentKernel& k = *s.kernel;
  const std::string name = "command `" + k.program + "`: ";
  if (s.point == kNoPoint)
    return Fail(err, err_size, name + "the caller gave no point index (set_point)");
  const uint64_t point = s.point;
  std::string text;
  if (!s.program) {
    const std::string problem = Start(s, point);
    if (!problem.empty()) return Fail(err, err_size, Printable(name + problem));
    text = "{\"sweep\": \"stream/1\", \"options\": " + s.options_json +
           ", \"outputs\": " + k.outputs_json + ", \"inputs\": " + s.inputs_json + "}\n";
  }
  text += fmt::format("{{\"point\": {}, \"seed\": {}", point, seed);
  for (size_t i = 0; i < k.param_names.size(); ++i)
    text += ", " + Quoted(k.param_names[i]) + ": " + JsonValue(params[i]);
  text += "}\n";

  const double deadline = k.limit_seconds > 0 ? SteadySeconds() + k.limit_seconds : 0;
  nlohmann::json answer;
  switch (Exchange(s, text, deadline, &answer)) {
    case Outcome::kEnded:
      return FailEnded(s, point, err, err_size);
    case Outcome::kTimeout:
      return FailAndStop(s,
                         fmt::format("no answer for point {} within {:.3g} s (execution.timeout "
                                     "less its margin); its process group was killed, and it is "
                                     "started again for the next point",
                                     point, k.limit_seconds),
                         true, err, err_size);
    case Outcome::kOverlong:
      return FailAndStop(s,
                         fmt::format("wrote a line of more than 64 MiB on stdout while computing "
                                     "point {}; it was stopped",
                                     point),
                         false, err, err_size);
    case Outcome::kAnswer:
      break;
  }
  const nlohmann::json& said = answer["point"];
  if (!said.is_number_integer() || said.get<int64_t>() < 0 || said.get<uint64_t>() != point) {
    return FailAndStop(s,
                       fmt::format("answered {} while point {} was asked (a result line's "
                                   "\"point\" is the index of the point it answers); it was "
                                   "stopped, and is started again for the next point",
                                   Shown(answer), point),
                       false, err, err_size);
  }
  Program& p = *s.program;
  ++p.served;
  std::string problem;
  if (const auto error = answer.find("error"); error != answer.end()) {
    problem = error->is_string() ? error->get<std::string>() : error->dump();
    if (problem.empty()) problem = "an error (its \"error\" was empty)";
  } else {
    problem = ReadOutputsFromJson(answer, k.outputs, outputs);
    if (!problem.empty()) problem = name + fmt::format("point {}: ", point) + problem;
  }
  if (!problem.empty()) p.failed = true;
  if (k.max_points > 0 && p.served >= k.max_points) {
    Stop(s, kRetireSeconds);
    s.program.reset();
  }
  if (problem.empty()) return 0;
  return Fail(err, err_size, Printable(problem));
}

void Finish(void* state) {
  auto* s = static_cast<PersistentState*>(state);
  if (!s) return;
  if (s->program) Stop(*s, kRetireSeconds);
  if (s->kernel->remove_empty_root) s->kernel->workdirs.RemoveRootIfEmpty();
  delete s;
}

}  // namespace

PersistentKernelTable MakePersistentKernel(PersistentSpec spec) {
  auto k = std::make_shared<PersistentKernel>();
  CommandSpec& c = spec.command;
  k->program = std::move(c.program);
  k->path = std::move(c.path);
  k->argv = {k->program.find('/') == std::string::npos ? k->program : k->path};
  for (const CommandTemplate& arg : c.args) k->argv.push_back(Render(arg, nullptr, 0, 0));
  k->files = std::move(c.files);
  for (const CommandEnv& e : c.env) k->env.push_back(e.name + "=" + Render(e.value, nullptr, 0, 0));
  k->param_names = std::move(spec.parameters);
  for (const std::string& p : k->param_names)
    k->params.push_back(sweep_param_decl{p.c_str(), "a sweep parameter, sent with each point"});
  for (const PersistentSpec::Option& o : spec.options) k->option_names.push_back(o.name);
  for (size_t i = 0; i < spec.options.size(); ++i) {
    sweep_value none{};
    none.type = spec.options[i].type;
    none.string = "";
    k->options.push_back(sweep_option_decl{k->option_names[i].c_str(), spec.options[i].type, none,
                                           "passed to the program in its hello"});
  }
  k->input_names = std::move(spec.inputs);
  for (const std::string& in : k->input_names)
    k->inputs.push_back(sweep_input_decl{in.c_str(), 0, -1, "passed to the program by its place"});
  k->output_specs = std::move(c.outputs);
  k->outputs = OutputDecls(k->output_specs);
  k->outputs_json = "{";
  for (size_t i = 0; i < k->output_specs.size(); ++i) {
    const CommandOutput& o = k->output_specs[i];
    k->outputs_json += fmt::format("{}{}: {{\"dtype\": \"{}\", \"shape\": [{}]}}", i ? ", " : "",
                                   Quoted(o.name), DtypeName(o.dtype), fmt::join(o.shape, ", "));
  }
  k->outputs_json += "}";
  k->limit_seconds = c.limit_seconds;
  k->max_points = spec.max_points;
  k->workdirs = Workdirs(c.workdir_root, !c.workdir_root_is_default, "program-");
  k->remove_empty_root = c.workdir_root_is_default;
  k->keep = c.keep;
  k->description = "serves points from one `" + k->program + "` per worker (stream/1)";
  k->Publish("persistent", "persistent kernel", Compute, Finish);

  PersistentKernelTable made;
  made.kernel = &k->table;
  made.set_point = SetPoint;
  made.place_inputs = PlaceInputs;
  made.owner = std::move(k);
  return made;
}

}  // namespace sweep
