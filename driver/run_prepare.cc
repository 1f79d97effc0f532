// PrepareRun (driver/run_steps.h): from a request to an open output, a ledger and the chunks to
// compute, for each mode of driver/run.h.
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

extern char** environ;

#include "driver/command_binding.h"
#include "driver/fingerprint.h"
#include "driver/gpus.h"
#include "driver/run_steps.h"
#include "driver/worker.h"
#include "driver/worker_board.h"
#include "io/error.h"

namespace sweep {

namespace fs = std::filesystem;
namespace {

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

int ValueTypeOf(Value::Type type) {
  switch (type) {
    case Value::Type::kInteger:
      return SWEEP_VALUE_INTEGER;
    case Value::Type::kString:
      return SWEEP_VALUE_STRING;
    default:
      return SWEEP_VALUE_NUMBER;
  }
}

// `--input NAME=PATH` of a resume or rerun: input NAME of the stored config is read from PATH
// (relative to the working folder). Without it, an input whose file is gone is named with the way
// to point to it, rather than as a config error in a config the user did not write just now.
void PointInputs(const RunRequest& request, Config* config) {
  for (const std::string& arg : request.input_paths) {
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    auto input = std::find_if(config->inputs.begin(), config->inputs.end(),
                              [&](const InputSpec& spec) { return spec.name == name; });
    if (equals == std::string::npos || equals + 1 == arg.size() || name.empty()) {
      throw Error("--input " + arg + ": expected NAME=PATH", ExitCode::kUsage);
    }
    if (input == config->inputs.end()) {
      std::string names;
      for (const InputSpec& spec : config->inputs) names += (names.empty() ? "" : ", ") + spec.name;
      throw Error("--input " + arg + ": the sweep has no input `" + name +
                      "` (its inputs: " + (names.empty() ? "none" : names) + ")",
                  ExitCode::kUsage);
    }
    if (input->kind == InputSpec::Kind::kGenerate) {
      throw Error("--input " + arg + ": input `" + name + "` is generated, not read from a file",
                  ExitCode::kUsage);
    }
    input->path = AbsolutePath(arg.substr(equals + 1));
    for (const char* kind : {"npy", "hdf5", "raw"})
      DropPathTemplate(config, "inputs." + name + "." + kind);
  }
  for (const InputSpec& input : config->inputs) {
    struct stat st {};
    if (input.kind == InputSpec::Kind::kGenerate || stat(input.path.c_str(), &st) == 0) continue;
    throw Error(fmt::format("{}: input `{}` was read from {}, which is gone; if it moved, say "
                            "where: `sweep {} {} --input {}=NEW_PATH`",
                            request.output_path, input.name, input.path,
                            request.mode == RunRequest::Mode::kResume ? "resume" : "rerun",
                            request.output_path, input.name),
                ExitCode::kUsage);
  }
}

// What a file that is not a regular one is, for the message that refuses it as the output.
std::string KindOfFile(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// The output is a regular file, or a name where nothing is yet. A folder, a device or a FIFO (also
// through a symbolic link) is refused before anything is created, whatever --force says:
// replacing one is never what was meant, and reading a FIFO would block for ever.
void RefuseNonRegularOutput(const std::string& path) {
  if (!path.empty() && path.back() == '/') {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
      throw Error(path + ": names a folder; the output must be a file", ExitCode::kUsage);
    }
  }
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) return;
  const std::string kind = KindOfFile(st.st_mode);
  throw Error(path + ": is " + kind + (kind.rfind("not ", 0) == 0 ? "" : ", not a file") +
                  "; the output must be a regular file (or a new name)",
              ExitCode::kUsage);
}

// The config, the space, the kernel and the plan: everything checkable before writing.
void LoadSweep(const RunRequest& request, PreparedRun* run) {
  std::optional<OutputLayout> stored;
  if (request.mode == RunRequest::Mode::kRun) {
    run->config = LoadConfig(request.config_path, request.overrides);
    // Paths naming environment variables are this node's: `-o` makes the config's output moot.
    ExpandPaths(&run->config, request.output_path.empty() ? kAllPaths : kNodePaths);
    run->output_path =
        request.output_path.empty() ? run->config.output.path : AbsolutePath(request.output_path);
    RefuseNonRegularOutput(run->output_path);
  } else {
    run->output_path = AbsolutePath(request.output_path);
    RefuseNonRegularOutput(run->output_path);
    stored = ReadOutputLayout(run->output_path);
    run->config = ParseConfig(stored->config_text, stored->config_file);
    PointInputs(request, &run->config);
    ExpandPaths(&run->config, kNodePaths);
  }
  // What derives from the output's path (the command kernel's work folder) follows the file.
  run->config.output.path = run->output_path;
  DropPathTemplate(&run->config, "output.path");
  // An output keeps the seed rule it was made with (driver/space.h): one made before seeds by
  // value resumes with seeds by index.
  run->space.emplace(run->config,
                     stored ? SeedRuleOf(stored->fingerprint) : SeedRule::kParameterValues);
  run->binding = BindKernel(run->config, *run->space);
  if (!stored) PrintCommandWarnings(run->config);
  run->gpu_devices = NodeGpus(run->config.execution, environ);
  run->workers = NodeWorkers(request.workers, run->config.execution, run->gpu_devices);
  const uint64_t chunk_size =
      request.chunk_size.value_or(uint64_t(run->config.execution.chunk_size));
  run->batch = chunk_size == 0;
  if (!stored) {
    // A shard that finds the output made by another adopts its plan (JoinShard).
    run->plan = PlanFor(run->space->points(), chunk_size, run->workers * request.ranks);
    return;
  }
  run->plan.emplace(stored->points, stored->chunk_size);
  if (run->plan->points() != run->space->points() || run->plan->chunks() != stored->chunks) {
    throw Error(run->output_path + ": its stored config gives " +
                    std::to_string(run->space->points()) + " points, but the file holds " +
                    std::to_string(stored->points),
                ExitCode::kUsage);
  }
}

// `-o` naming the run's own config, one of its input files or a file its kernel is made of (under
// any name) would have --force destroy what the run reads: refused, whatever --force says.
void RefuseReplacingOwnFiles(const PreparedRun& run) {
  struct stat output {};
  if (stat(run.output_path.c_str(), &output) != 0) return;
  const auto same = [&](const std::string& path) {
    struct stat other {};
    return stat(path.c_str(), &other) == 0 && other.st_dev == output.st_dev &&
           other.st_ino == output.st_ino;
  };
  std::string what;
  if (!run.config.file.empty() && same(run.config.file)) what = "its own config";
  for (const InputSpec& input : run.config.inputs) {
    if (what.empty() && input.kind != InputSpec::Kind::kGenerate && same(input.path))
      what = "its input `" + input.name + "`";
  }
  for (const KernelFile& file : KernelFiles(run.config)) {
    if (what.empty() && same(file.path)) what = file.role;
  }
  if (!what.empty()) {
    throw Error(run.output_path + ": is " + what + "; the output must be another file",
                ExitCode::kUsage);
  }
}

void CheckOutputPath(const RunRequest& request, const PreparedRun& run) {
  if (run.shard && request.force) {
    throw Error(
        "--shard: shards share one output, so none may replace it; remove it first instead of "
        "--force",
        ExitCode::kUsage);
  }
  if (request.mode == RunRequest::Mode::kRun && !run.shard && FileExists(run.output_path) &&
      !request.force) {
    throw Error(run.output_path + ": exists; use --force to replace it, or `sweep resume " +
                    run.output_path + "` to finish it",
                ExitCode::kUsage);
  }
  RefuseReplacingOwnFiles(run);
  // A work root the config names may be a folder of the user's, or another sweep's.
  if (!run.config.kernel.command.empty() && !run.config.kernel.workdir.root.empty())
    WorkdirRootClaim::Check(CommandWorkdirRoot(run.config), run.output_path);
}

// Inputs checked and published (memfds and mappings only; no file is written), and fingerprinted.
// Those copied into memory must fit it beside every worker's result blocks (io/inputs.h).
void PublishSweepInputs(PreparedRun* run) {
  uint64_t blocks = 0;
  if (__builtin_mul_overflow(WorkerBlockBytes(*run->space, run->binding, run->plan->chunk_size()),
                             uint64_t(run->workers), &blocks))
    blocks = UINT64_MAX;
  run->published.emplace(PublishInputs(run->config.inputs, blocks));
  std::vector<InputShape> shapes;
  for (const PublishedInput& in : run->published->inputs()) shapes.push_back({in.dtype, in.shape});
  CheckInputsAgainstKernel(run->config, run->binding, shapes);
  run->inputs.emplace(run->published->inputs());
  run->input_guard.emplace(run->published->inputs(), *run->inputs);
  run->fingerprint = Fingerprint(run->binding, run->config, *run->inputs,
                                 run->input_guard->start_hashes(), run->space->seed_rule())
                         .dump();
}

std::string JournalPath(const PreparedRun& run) {
  std::string path = run.output_path + ".journal";
  if (run.shard) path += fmt::format(".shard-{}-of-{}", run.shard->first, run.shard->second);
  return path;
}

// A run that meets a `sweep status` probing the lock at that instant waits this long for it.
constexpr double kLockGraceSeconds = 0.5;
// How long a shard waits for another shard to create the output (it is created whole before any
// shard computes: seconds for the largest sweeps).
constexpr double kCreateWaitSeconds = 600;

std::string ShardLockName(const PreparedRun& run) {
  return fmt::format("{}.shard-{}-of-{}", run.output_path, run.shard->first, run.shard->second);
}

// The files sweep keeps beside the output are opened without following symbolic links (a link
// there would have sweep write, truncate or lock whatever it points to); one found there is named
// before anything is written.
void RefuseLinksBeside(const PreparedRun& run) {
  std::vector<std::string> beside = {OutputLock::LockPath(run.output_path), JournalPath(run),
                                     run.output_path + ".logs",
                                     WorkerBoardPath(run.output_path, run.shard)};
  if (run.shard) beside.push_back(OutputLock::LockPath(ShardLockName(run)));
  // The command kernel's default work folder (one the config names may be a link).
  if (!run.config.kernel.command.empty() && run.config.kernel.workdir.root.empty())
    beside.push_back(CommandWorkdirRoot(run.config));
  for (const std::string& path : beside) {
    struct stat st {};
    if (lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
      throw Error(path +
                      ": is a symbolic link; sweep does not follow links beside its output "
                      "(remove it)",
                  ExitCode::kUsage);
    }
  }
}

// A plain run, resume or rerun holds the output alone; shards hold it together, each also holding
// its own shard lock, so that one shard cannot run twice. A work root the config names is claimed
// the same way (io/workdirs.h).
void TakeLocks(PreparedRun* run) {
  if (run->mode == RunRequest::Mode::kRun) {
    const size_t slash = run->output_path.rfind('/');
    if (slash != std::string::npos && slash > 0) {
      const std::string folder = run->output_path.substr(0, slash);
      if (!FileExists(folder) && mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
        throw Error("cannot create " + folder + ": " + std::strerror(errno));
      }
    }
  }
  RefuseLinksBeside(*run);
  const OutputLock::Mode mode =
      run->shard ? OutputLock::Mode::kShared : OutputLock::Mode::kExclusive;
  if (run->shard) run->shard_lock.emplace(ShardLockName(*run), OutputLock::Mode::kExclusive, 0);
  run->lock.emplace(run->output_path, mode, kLockGraceSeconds);
  if (!run->config.kernel.command.empty() && !run->config.kernel.workdir.root.empty())
    run->workdir_claim.emplace(CommandWorkdirRoot(run->config), run->output_path, mode);
}

// Whether this run creates the output. Shards that start together find it missing together:
// the first to take `OUT.h5.create.lock` creates it, the others wait for that lock and then find
// the file there, complete (it is renamed into place whole).
bool MustCreate(const PreparedRun& run, std::optional<OutputLock>* creating) {
  if (run.mode != RunRequest::Mode::kRun) return false;
  if (!run.shard) return true;
  if (FileExists(run.output_path)) return false;
  try {
    creating->emplace(run.output_path + ".create", OutputLock::Mode::kExclusive,
                      kCreateWaitSeconds);
  } catch (const Error& e) {
    if (e.code() != ExitCode::kLocked) throw;
    throw Error(fmt::format("{}: another shard has been creating it for over {:.0f} s ({}); "
                            "remove it and its shards' journals to start over",
                            run.output_path, kCreateWaitSeconds, e.what()),
                ExitCode::kLocked);
  }
  return !FileExists(run.output_path);
}

// Refuses (or with --force, warns about) a kernel, options or inputs that changed since the last
// run of this output: the latest fingerprint its journals hold, else the one it was made with.
// The run's own `started` record then holds the new one, so after `--force` later runs compare
// with what it computed with. Shards never go on over a change: their results would mix.
void CheckUnchanged(const RunRequest& request, const PreparedRun& run) {
  const std::string& last = run.ledger->last_fingerprint();
  const std::vector<std::string> changes = FingerprintChanges(
      nlohmann::json::parse(last.empty() ? run.file->layout().fingerprint : last, nullptr, false),
      nlohmann::json::parse(run.fingerprint), run.config);
  if (changes.empty()) return;
  std::string list;
  for (const std::string& c : changes) list += "\n  " + c;
  if (!request.force || run.shard) {
    throw Error(run.output_path +
                    ": the kernel, its options or an input changed since the last run" +
                    (run.shard ? "" : " (--force to go on with them)") + ":" + list,
                ExitCode::kUsage);
  }
  std::fprintf(stderr,
               "sweep: warning: going on although these changed (the chunks done so far keep "
               "their results; later resumes compare with what this run computes with):%s\n",
               list.c_str());
}

ChunkSelection SelectionFor(const RunRequest& request, const PreparedRun& run) {
  ChunkSelection selection;
  selection.shard = run.shard;
  switch (request.mode) {
    case RunRequest::Mode::kRun:
    case RunRequest::Mode::kResume:
      selection.kind = ChunkSelection::Kind::kUnfinished;
      break;
    case RunRequest::Mode::kRerun:
      selection.kind = ChunkSelection::Kind::kChosen;
      selection.failed = request.failed;
      selection.chunks = request.chunks;
      selection.points = request.points;
      break;
  }
  return selection;
}

// `OUT.h5.tmp-<pid>`: what a creator killed between writing and renaming leaves. The caller
// holds the lock that every creator of this output holds, so no live creator owns one.
void RemoveStaleTemporaries(const std::string& output_path) {
  const fs::path output(output_path);
  const std::string prefix = output.filename().string() + ".tmp-";
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(output.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        name.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
      fs::remove(entry.path(), ec);
    }
  }
}

void CreateNewOutput(PreparedRun* run) {
  RemoveStaleTemporaries(run->output_path);
  CreateOutputFile(run->output_path, LayoutSpecFor(run->config, *run->space, run->binding,
                                                   *run->plan, run->fingerprint));
  run->file.emplace(OutputFile::Open(run->output_path, OutputFile::Access::kReadWrite));
  run->journal.emplace(Journal::Create(JournalPath(*run)));
  run->ledger.emplace(ChunkLedger::ForNewOutput(*run->file));
  ChunkSelection every;
  every.shard = run->shard;
  run->todo = run->ledger->Todo(every);
}

// An output that exists: a resume, a rerun, or a shard joining (or a requeued shard going on).
void OpenExistingOutput(const RunRequest& request, PreparedRun* run) {
  run->file.emplace(OutputFile::Open(run->output_path, OutputFile::Access::kReadWrite));
  const OutputLayout& stored = run->file->layout();
  if (run->shard) {
    // Shards may differ in -j and --chunk-size (settings, not config): the output's plan holds.
    if (stored.config_text != run->config.text || stored.points != run->space->points()) {
      throw Error(run->output_path +
                      ": exists with another config; every shard must run the same config "
                      "(remove the output to start over)",
                  ExitCode::kUsage);
    }
    run->plan.emplace(stored.points, stored.chunk_size);
  }
  run->ledger.emplace(ChunkLedger::Load(*run->file));
  CheckUnchanged(request, *run);
  for (const std::string& path : run->ledger->truncated_journals()) {
    std::fprintf(stderr,
                 "sweep: warning: %s: ignoring an incomplete last record (a kill or a full "
                 "disk stopped its write)\n",
                 path.c_str());
  }
  for (const auto& [path, count] : run->ledger->damaged_journals()) {
    std::fprintf(stderr,
                 "sweep: warning: %s: %llu damaged records skipped (what they held is lost; a "
                 "resume trusts a done chunk only once its rows match its checksum)\n",
                 path.c_str(), (unsigned long long)count);
  }
  const ChunkSelection selection = SelectionFor(request, *run);
  if (selection.kind == ChunkSelection::Kind::kUnfinished) {
    const uint64_t torn = run->ledger->VerifyDone(selection);
    if (torn && !run->shard) {
      std::fprintf(stderr, "sweep: %llu chunks recorded done had damaged rows; recomputing them\n",
                   (unsigned long long)torn);
    }
  }
  run->todo = run->ledger->Todo(selection);
  const std::string journal_path = JournalPath(*run);
  run->journal.emplace(FileExists(journal_path) ? Journal::OpenForAppend(journal_path)
                                                : Journal::Create(journal_path));
}

// A resume or rerun does not trust the parameter values in the file: they are recomputed from the
// stored config, and any that differ (a damaged or edited file) are written back and named.
void RepairParameterVariables(PreparedRun* run) {
  const ChunkLedger& ledger = *run->ledger;
  const auto repairs = run->filler->RepairVariables(
      [&ledger](uint64_t c) { return ledger.status(c) != ChunkStatus::kPending; });
  for (const OutputFiller::Repair& r : repairs) {
    std::fprintf(stderr,
                 "sweep: warning: %s: /%s held %llu values that are not the config's (the file "
                 "was damaged or edited); rewritten from the config\n",
                 run->output_path.c_str(), r.variable.c_str(), (unsigned long long)r.values);
  }
}

}  // namespace

namespace {

// Now, as CF's `history` and NCO write it: "2026-12-07T06:30:00Z".
std::string UtcTimestamp() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace

OutputLayoutSpec LayoutSpecFor(const Config& config, const Space& space,
                               const KernelBinding& binding, const Plan& plan,
                               const std::string& fingerprint) {
  OutputLayoutSpec spec;
  spec.config_text = config.text;
  spec.config_file = ConfigPathForResume(config);
  spec.fingerprint = fingerprint;
  spec.kernel_name = binding.name;
  spec.seed = config.seed;
  spec.points = plan.points();
  spec.chunk_size = plan.chunk_size();
  spec.chunks = plan.chunks();
  for (const Dimension& dim : space.dimensions()) spec.dimensions.push_back({dim.name, dim.size});
  // Every parameter is a variable on its dimension (a grid axis is its dimension's coordinate);
  // `sample` and `replicate` are coordinates 0..n-1 of their own.
  for (int i = 0; i < int(space.parameter_names().size()); ++i) {
    spec.variables.push_back({space.parameter_names()[size_t(i)], space.dimension_of(i),
                              ValueTypeOf(space.parameter_type(i)),
                              [&space, i](uint64_t k) { return space.ParameterValue(i, k); }});
  }
  for (int d = 0; d < int(space.dimensions().size()); ++d) {
    const Dimension& dim = space.dimensions()[size_t(d)];
    if (dim.name != "sample" && dim.name != "replicate") continue;
    spec.variables.push_back({dim.name, d, SWEEP_VALUE_INTEGER,
                              [&space, d](uint64_t k) { return space.Coordinate(size_t(d), k); }});
  }
  spec.outputs = binding.outputs;
  spec.title = config.name;
  // The command that makes this sweep, not every flag of the invocation: -j, --shard and the like
  // are settings of one invocation (any other gives the same file), and `sweep plan` must know the
  // file's exact size, which the text's length is part of. `--set` overrides are in `config`.
  spec.history = UtcTimestamp() + ": sweep run " + spec.config_file;
  spec.attributes = binding.attributes;
  spec.output_dims = binding.output_dims;
  return spec;
}

uint64_t PreparedRun::PointsTodo() const {
  uint64_t points = 0;
  for (uint64_t c : todo) points += plan->chunk(c).count;
  return points;
}

WorkerContext PreparedRun::WorkerContextFor(const std::string& rows_path) const {
  WorkerContext context;
  context.config = &config;
  context.space = &*space;
  context.binding = &binding;
  context.published = &*published;
  context.inputs = &*inputs;
  context.layout = &file->layout();
  context.rows_path = rows_path;
  context.log_dir = output_path + ".logs";
  if (!reuse.empty()) context.reuse = &reuse;
  context.gpu_devices = gpu_devices;
  return context;
}

std::string PreparedRun::CommandName() const {
  switch (mode) {
    case RunRequest::Mode::kRun:
      if (shard) return fmt::format("run --shard {}/{}", shard->first, shard->second);
      return mpi ? "run --mpi" : "run";
    case RunRequest::Mode::kResume:
      return mpi ? "resume --mpi" : "resume";
    case RunRequest::Mode::kRerun:
      break;
  }
  return "rerun";
}

std::unique_ptr<PreparedRun> PrepareRun(const RunRequest& request) {
  auto run = std::make_unique<PreparedRun>();
  run->mode = request.mode;
  run->mpi = request.mpi;
  if (request.shard)
    run->shard.emplace(uint64_t(request.shard->first), uint64_t(request.shard->second));
  LoadSweep(request, run.get());
  CheckOutputPath(request, *run);
  PublishSweepInputs(run.get());
  if (!request.reuse.empty()) {
    run->reuse = ReusePlan::Open(request.reuse, run->config, *run->space, run->fingerprint,
                                 run->output_path);
  }
  if (request.mode == RunRequest::Mode::kRun && !FileExists(run->output_path)) {
    CheckOutputFits(run->output_path, LayoutSpecFor(run->config, *run->space, run->binding,
                                                    *run->plan, run->fingerprint));
  }
  // A run refused from here on (the output in use under another name, a change refused, a
  // chosen chunk that does not exist) leaves nothing it made: its lock file, its output's folder.
  const std::string folder = run->output_path.substr(0, run->output_path.rfind('/'));
  const bool folder_existed = folder.empty() || FileExists(folder);
  struct stat lock_file {};
  const bool lock_file_existed =
      lstat(OutputLock::LockPath(run->output_path).c_str(), &lock_file) == 0;
  const auto leave_nothing = [&] {
    if (run->lock && !run->shard && !lock_file_existed) run->lock->RemoveFile();
    if (!folder_existed) rmdir(folder.c_str());  // only if empty: a refusal wrote nothing there
  };
  bool created = false;
  try {
    TakeLocks(run.get());
    std::optional<OutputLock> creating;
    const OutputLock::Mode mode =
        run->shard ? OutputLock::Mode::kShared : OutputLock::Mode::kExclusive;
    if (MustCreate(*run, &creating)) {
      // A run that replaces an output (--force) must not replace one a run writes under another
      // name.
      if (FileExists(run->output_path)) InodeLock(run->output_path, mode);
      CreateNewOutput(run.get());
      created = true;
      run->inode_lock.emplace(run->output_path, mode);
    } else {
      run->inode_lock.emplace(run->output_path, mode);
      OpenExistingOutput(request, run.get());
    }
  } catch (...) {
    if (!created) leave_nothing();
    throw;
  }
  run->ledger->RecordInto(&*run->journal);
  // The pending chunks get their "not computed" rows and deferred coordinates before they are
  // computed; done and failed ones (a rerun) already have them.
  std::vector<uint64_t> pending;
  for (uint64_t c : run->todo) {
    if (run->ledger->status(c) == ChunkStatus::kPending) pending.push_back(c);
  }
  run->filler.emplace(*run->file, *run->space, *run->plan, pending);
  if (request.mode != RunRequest::Mode::kRun) RepairParameterVariables(run.get());
  if (!run->reuse.empty()) {
    run->reused = run->reuse.Count(*run->plan, run->todo);
    if (request.progress != ProgressMode::kQuiet && request.progress != ProgressMode::kJson) {
      std::printf("%s",
                  ReuseSummary(run->reuse, run->reused, run->PointsTodo(), run->config).c_str());
      std::fflush(stdout);
    }
  }
  return run;
}

}  // namespace sweep
