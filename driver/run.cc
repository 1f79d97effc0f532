#include "driver/run.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "driver/checksum.h"
#include "driver/chunk_states.h"
#include "driver/fingerprint.h"
#include "driver/plan.h"
#include "driver/run_recorder.h"
#include "driver/scheduler.h"
#include "driver/space.h"
#include "driver/worker.h"
#include "driver/worker_set.h"
#include "io/config.h"
#include "io/error.h"
#include "io/file_bytes.h"
#include "io/inputs.h"
#include "io/journal.h"
#include "io/output_file.h"
#include "io/output_lock.h"
#include "kernels/binding.h"

namespace sweep {
namespace {

double WallSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::string AbsolutePath(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) return path;
  return std::string(cwd) + "/" + path;
}

// The config's path with an absolute folder: relative paths in its text resolve against it.
std::string ConfigPathForResume(const Config& config) {
  const size_t slash = config.file.rfind('/');
  return config.folder + "/" +
         (slash == std::string::npos ? config.file : config.file.substr(slash + 1));
}

OutputLayoutSpec MakeLayoutSpec(const Config& config, const Space& space, const Plan& plan,
                                const KernelBinding& binding, const std::string& fingerprint) {
  OutputLayoutSpec spec;
  spec.config_text = config.text;
  spec.config_file = ConfigPathForResume(config);
  spec.fingerprint = fingerprint;
  spec.kernel_name = binding.name;
  spec.seed = config.seed;
  spec.points = plan.points();
  spec.chunk_size = plan.chunk_size();
  spec.chunks = plan.chunks();
  for (size_t d = 0; d < space.dimensions().size(); ++d) {
    const Dimension& dim = space.dimensions()[d];
    spec.dimensions.push_back(
        {dim.name, dim.size, [&space, d](uint64_t k) { return space.Coordinate(d, k); }});
  }
  for (size_t i = 0; i < space.parameter_names().size(); ++i) {
    int type = SWEEP_VALUE_NUMBER;
    switch (space.parameter_type(int(i))) {
      case Value::Type::kInteger:
        type = SWEEP_VALUE_INTEGER;
        break;
      case Value::Type::kString:
        type = SWEEP_VALUE_STRING;
        break;
      default:
        break;
    }
    spec.parameters.push_back({space.parameter_names()[i], type});
  }
  spec.resolve = [&space](uint64_t point, sweep_value* values) { space.Resolve(point, values); };
  spec.outputs = binding.outputs;
  return spec;
}

// The descriptor of a sealed memfd holding `text`, for spawned workers to read their job from.
int JobMemfd(const std::string& text) {
  const int fd = memfd_create("sweep-job", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw Error(std::string("memfd_create: ") + std::strerror(errno));
  WriteBytesAt(fd, text.data(), text.size(), 0, "writing the worker job");
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

std::string SelfExecutable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw Error("cannot find the sweep executable: " + std::string(std::strerror(errno)));
  path[n] = '\0';
  return path;
}

// `sweep-worker` beside this executable when it is there: it links no HDF5 (and none of the
// network libraries HDF5 pulls in), so a worker starts in a fraction of the time. Otherwise this
// executable's own `__worker` entry.
std::vector<std::string> WorkerCommand() {
  const std::string self = SelfExecutable();
  const std::string slim = self.substr(0, self.rfind('/') + 1) + "sweep-worker";
  if (access(slim.c_str(), X_OK) == 0) return {slim};
  return {self, "__worker"};
}

}  // namespace

std::vector<uint64_t> ParseIndexList(const std::string& text, const std::string& option) {
  std::vector<uint64_t> out;
  size_t pos = 0;
  auto bad = [&](const std::string& part) {
    return Error(option + ": `" + part + "` is not an index or a range like 7-9", ExitCode::kUsage);
  };
  auto number = [&](const std::string& s, const std::string& part) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) throw bad(part);
    try {
      return uint64_t(std::stoull(s));
    } catch (const std::exception&) {
      throw bad(part);
    }
  };
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string part = text.substr(pos, comma - pos);
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      out.push_back(number(part, part));
    } else {
      const uint64_t a = number(part.substr(0, dash), part),
                     b = number(part.substr(dash + 1), part);
      if (b < a || b - a > 100'000'000) throw bad(part);
      for (uint64_t i = a; i <= b; ++i) out.push_back(i);
    }
    pos = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int ExecuteRun(const RunRequest& request) {
  const bool fresh = request.mode == RunRequest::Mode::kRun;

  // 1. The config, the space, the kernel, the plan: everything checkable before writing.
  std::optional<OutputLayout> existing;
  Config config;
  std::string output_path;
  if (fresh) {
    config = LoadConfig(request.config_path, request.overrides);
    output_path =
        request.output_path.empty() ? config.output.path : AbsolutePath(request.output_path);
  } else {
    output_path = AbsolutePath(request.output_path);
    existing = ReadOutputLayout(output_path);
    config = ParseConfig(existing->config_text, existing->config_file);
  }
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  const int workers = WorkerCount(request.workers, config.execution.workers);
  const Plan plan = fresh ? PlanFor(space.points(), uint64_t(config.execution.chunk_size), workers)
                          : Plan(existing->points, existing->chunk_size);
  if (!fresh && (plan.points() != space.points() || plan.chunks() != existing->chunks)) {
    throw Error(output_path + ": its stored config gives " + std::to_string(space.points()) +
                    " points, but the file holds " + std::to_string(existing->points),
                ExitCode::kUsage);
  }
  const bool sharded = request.shard.has_value();
  if (sharded && request.force) {
    throw Error(
        "--shard: shards share one output, so none may replace it; remove it first instead of "
        "--force",
        ExitCode::kUsage);
  }
  if (fresh && !sharded && FileExists(output_path) && !request.force) {
    throw Error(output_path + ": exists; use --force to replace it, or `sweep resume " +
                    output_path + "` to finish it",
                ExitCode::kUsage);
  }

  // 2. Inputs: checked and published (memfds and mappings only; no file is written).
  PublishedInputs published = PublishInputs(config.inputs);
  std::vector<InputShape> shapes;
  for (const PublishedInput& in : published.inputs()) shapes.push_back({in.dtype, in.shape});
  CheckInputsAgainstKernel(config, binding, shapes);
  const MappedInputs driver_inputs(published.inputs());
  const std::string fingerprint = Fingerprint(binding, config, driver_inputs).dump();

  // 3. The lock, then the output and the journal.
  if (fresh) {
    const size_t slash = output_path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      const std::string folder = output_path.substr(0, slash);
      if (!FileExists(folder) && mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
        throw Error("cannot create " + folder + ": " + std::strerror(errno));
      }
    }
  }
  std::optional<OutputLock> shard_lock;
  std::string journal_path = output_path + ".journal";
  if (sharded) {
    const auto [index, count] = *request.shard;
    const std::string shard_name = fmt::format("shard-{}-of-{}", index, count);
    shard_lock.emplace(output_path + "." + shard_name, OutputLock::Mode::kExclusive, 0);
    journal_path += "." + shard_name;
  }
  // Shards wait for each other while one of them creates the output.
  OutputLock lock(output_path, OutputLock::Mode::kExclusive, sharded ? 120.0 : 0.0);
  auto check_unchanged = [&](const OutputLayout& stored) {
    const std::vector<std::string> changes =
        FingerprintChanges(nlohmann::json::parse(stored.fingerprint, nullptr, false),
                           nlohmann::json::parse(fingerprint));
    if (changes.empty()) return;
    std::string list;
    for (const std::string& c : changes) list += "\n  " + c;
    if (!request.force || sharded) {
      throw Error(output_path +
                      ": the kernel, its options or an input changed since the file was made" +
                      (sharded ? "" : " (--force to go on anyway)") + ":" + list,
                  ExitCode::kUsage);
    }
    std::fprintf(stderr, "sweep: warning: going on although these changed:%s\n", list.c_str());
  };

  std::vector<uint64_t> todo;
  std::optional<Journal> journal;
  if (fresh && (!sharded || !FileExists(output_path))) {
    CreateOutputFile(output_path, MakeLayoutSpec(config, space, plan, binding, fingerprint));
    journal.emplace(Journal::Create(journal_path));
    for (uint64_t c = 0; c < plan.chunks(); ++c) {
      if (!sharded || c % uint64_t(request.shard->second) == uint64_t(request.shard->first))
        todo.push_back(c);
    }
    if (sharded) lock.Downgrade();
  } else if (sharded) {
    // Another shard made the output, or this shard runs again (a requeued array task): go on
    // with this shard's chunks that are not done.
    const OutputLayout stored = ReadOutputLayout(output_path);
    if (stored.config_text != config.text || stored.points != plan.points() ||
        stored.chunk_size != plan.chunk_size()) {
      throw Error(output_path +
                      ": exists with another config or chunk size; every shard must run "
                      "the same config (remove the output to start over)",
                  ExitCode::kUsage);
    }
    check_unchanged(stored);
    lock.Downgrade();
    // Plain copies: C++17 lambdas cannot capture structured bindings (clang refuses).
    const uint64_t index = uint64_t(request.shard->first), count = uint64_t(request.shard->second);
    auto mine = [index, count](uint64_t c) { return c % count == index; };
    ChunkStates states = ReadChunkStates(output_path, stored);
    VerifyDoneChunks(output_path, stored, plan, mine, &states);
    for (uint64_t c = 0; c < plan.chunks(); ++c)
      if (mine(c) && states.status[c] != kChunkDone) todo.push_back(c);
    journal.emplace(FileExists(journal_path) ? Journal::OpenForAppend(journal_path)
                                             : Journal::Create(journal_path));
  } else {
    check_unchanged(*existing);
    ChunkStates states = ReadChunkStates(output_path, *existing);
    if (request.mode == RunRequest::Mode::kResume) {
      const uint64_t torn = VerifyDoneChunks(
          output_path, *existing, plan, [](uint64_t) { return true; }, &states);
      if (torn)
        std::fprintf(stderr,
                     "sweep: %llu chunks recorded done had damaged rows; recomputing them\n",
                     (unsigned long long)torn);
      for (uint64_t c = 0; c < plan.chunks(); ++c)
        if (states.status[c] != kChunkDone) todo.push_back(c);
    } else {
      if (request.failed) {
        for (uint64_t c = 0; c < plan.chunks(); ++c)
          if (states.status[c] == kChunkFailed) todo.push_back(c);
      }
      for (uint64_t c : request.chunks) {
        if (c >= plan.chunks())
          throw Error("--chunks: chunk " + std::to_string(c) + " does not exist (the sweep has " +
                          std::to_string(plan.chunks()) + ")",
                      ExitCode::kUsage);
        todo.push_back(c);
      }
      for (uint64_t p : request.points) {
        if (p >= plan.points())
          throw Error("--points: point " + std::to_string(p) + " does not exist (the sweep has " +
                          std::to_string(plan.points()) + ")",
                      ExitCode::kUsage);
        todo.push_back(plan.ChunkOf(p));
      }
      std::sort(todo.begin(), todo.end());
      todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
    }
    journal.emplace(FileExists(journal_path) ? Journal::OpenForAppend(journal_path)
                                             : Journal::Create(journal_path));
  }
  const OutputLayout layout = ReadOutputLayout(output_path);

  JournalRecord started;
  started.type = "started";
  started.time = WallSeconds();
  started.pid = getpid();
  started.command =
      fresh
          ? (sharded ? fmt::format("run --shard {}/{}", request.shard->first, request.shard->second)
                     : "run")
      : request.mode == RunRequest::Mode::kResume ? "resume"
                                                  : "rerun";
  started.workers = request.inline_compute ? 1 : workers;
  journal->Append(started);

  uint64_t points_todo = 0;
  for (uint64_t c : todo) points_todo += plan.chunk(c).count;
  std::unique_ptr<Progress> progress = MakeProgress(request.progress, stdout);
  const int ranks =
      request.inline_compute
          ? 1
          : int(std::min<uint64_t>(uint64_t(workers), std::max<uint64_t>(todo.size(), 1)));
  RunRecorder recorder(space, layout, output_path, *journal, *progress, points_todo, todo.size(),
                       ranks);

  // 4. Compute.
  bool interrupted = false;
  std::string stop_message;
  try {
    if (todo.empty()) {
      // Nothing to do: a resume of a finished sweep.
    } else if (request.inline_compute) {
      Scoreboard scoreboard(1);
      WorkerSetup setup{&space,      &binding, &driver_inputs.views(),
                        output_path, &layout,  &scoreboard};
      ChunkComputer computer(setup, 0);
      computer.InitKernel();
      for (uint64_t c : todo) {
        const Message m = computer.Compute(c);
        if (m.type == MessageType::kDone) {
          recorder.ChunkDone(plan.chunk(c), m.checksum, m.seconds, 0, 1);
        } else {
          ChunkFailure f;
          f.chunk = plan.chunk(c);
          f.point = m.point;
          f.kind = ChunkFailure::Kind::kKernelError;
          f.reason = m.text;
          f.rank = 0;
          recorder.ChunkFailed(f);
        }
      }
    } else {
      WorkerLaunch launch;
      launch.method = config.execution.start == ExecutionSpec::Start::kFork
                          ? WorkerLaunch::Method::kFork
                          : WorkerLaunch::Method::kSpawn;
      launch.size = ranks;
      launch.log_dir = output_path + ".logs";
      launch.memory_limit = config.execution.memory_limit_bytes;
      int job_fd = -1;
      // The fork child reaches the scoreboard through the ProcessWorkerSet it inherits.
      ProcessWorkerSet* set_ptr = nullptr;
      if (launch.method == WorkerLaunch::Method::kSpawn) {
        job_fd = JobMemfd(EncodeWorkerJob(config.text, ConfigPathForResume(config), output_path,
                                          layout, DescribeInputs(published.inputs())));
        launch.argv = WorkerCommand();
        launch.pass_fds = {job_fd};
      } else {
        launch.child_main = [&](int rank, int socket_fd) {
          WorkerSetup setup{&space,
                            &binding,
                            &driver_inputs.views(),
                            output_path,
                            &layout,
                            &set_ptr->scoreboard()};
          return WorkerLoop(setup, rank, socket_fd);
        };
      }
      // Workers are started (and restarted) during the whole run, so the job stays open.
      struct CloseOnExit {
        int fd;
        ~CloseOnExit() {
          if (fd >= 0) close(fd);
        }
      } job_closer{job_fd};
      ProcessWorkerSet set(launch);
      set_ptr = &set;
      SchedulerOptions options;
      options.dynamic = config.execution.schedule == ExecutionSpec::Schedule::kDynamic;
      options.batch = config.execution.chunk_size == 0;
      options.timeout_seconds = config.execution.timeout_seconds;
      options.retries = config.execution.retries;
      Scheduler scheduler(set, plan, todo, options, recorder);
      interrupted = scheduler.Run() == Scheduler::Outcome::kInterrupted;
    }
  } catch (const std::exception& e) {
    stop_message = e.what();
  }

  // 5. Record the stop and report.
  JournalRecord stopped;
  stopped.type = "stopped";
  stopped.time = WallSeconds();
  stopped.reason = !stop_message.empty() ? "error" : interrupted ? "interrupted" : "finished";
  stopped.message = stop_message;
  try {
    journal->Append(stopped);
    journal->Sync();
  } catch (const Error&) {
    // The journal is already unwritable (a full disk): the error below says why.
  }
  progress->Finish(recorder.Snapshot(), interrupted);
  if (request.progress != ProgressMode::kQuiet && request.progress != ProgressMode::kJson) {
    std::printf("results: %s\n", output_path.c_str());
  }
  if (!stop_message.empty()) throw Error(stop_message);
  if (interrupted) return int(ExitCode::kInterrupted);
  if (recorder.chunks_failed() > 0) {
    std::fprintf(
        stderr,
        "sweep: %llu chunks failed; see `sweep status %s`, fix, then `sweep rerun %s --failed`\n",
        (unsigned long long)recorder.chunks_failed(), output_path.c_str(), output_path.c_str());
    return int(ExitCode::kChunksFailed);
  }
  return int(ExitCode::kOk);
}

}  // namespace sweep
