#include "driver/worker.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "driver/checksum.h"
#include "driver/plan.h"
#include "io/clock.h"
#include "io/config_json.h"
#include "io/error.h"
#include "io/inputs.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

// The high-water mark of this process's resident set since it started or last exec'd: VmHWM of
// /proc/self/status, in bytes; 0 where /proc cannot tell. Not getrusage's ru_maxrss: Linux keeps
// it across exec, so a worker spawned by a large driver would report the driver's peak. The file
// stays open (a pread costs less than an open) and is reopened in a forked child.
uint64_t ResidentHighWaterBytes() {
  static int fd = -1;
  static pid_t owner = 0;
  if (fd < 0 || owner != getpid()) {
    if (fd >= 0) close(fd);
    fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    owner = getpid();
    if (fd < 0) return 0;
  }
  char text[4096];
  const ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return 0;
  text[n] = '\0';
  const char* line = std::strstr(text, "\nVmHWM:");
  return line ? std::strtoull(line + 8, nullptr, 10) * 1024 : 0;  // "VmHWM:   1234 kB"
}

// The room a kernel's message gets: a reason line and its details, such as a Python traceback
// (kernels/kernel.h), well within a protocol message (driver/protocol.h).
constexpr size_t kKernelMessageBytes = 8192;

// driver/worker.h: the peak resident memory of this process since it started, or of any child
// it waited for. A child's ru_maxrss counts from its fork, when its memory is a copy of the
// worker's, so it is never the driver's.
uint64_t PeakResidentBytes() {
  struct rusage self {
  }, children{};
  getrusage(RUSAGE_CHILDREN, &children);
  uint64_t own = ResidentHighWaterBytes();
  if (own == 0) {  // no /proc: the process's own count, which may include a parent's before exec
    getrusage(RUSAGE_SELF, &self);
    own = uint64_t(self.ru_maxrss) * 1024;
  }
  return std::max(own, uint64_t(children.ru_maxrss) * 1024);  // KiB on Linux
}

// SWEEP_FORCE_PER_POINT=1 (for tests): call compute() per point even when the kernel has
// compute_batch(), so a test can compare the two paths' bytes.
bool ForcedPerPoint() {
  const char* force = std::getenv("SWEEP_FORCE_PER_POINT");
  return force && std::strcmp(force, "1") == 0;
}

// Calls a kernel entry, turning what a C++ kernel throws into its error: a bad_alloc into the
// protocol's out-of-memory marker (the RLIMIT_DATA backstop, or the machine, refused memory),
// anything else into a message (as deterministic as an error it reports).
template <typename Call>
int CallKernel(char* err, size_t err_size, Call call) {
  err[0] = '\0';
  try {
    return call();
  } catch (const std::bad_alloc&) {
    std::snprintf(err, err_size, "%s: the kernel could not allocate", kOutOfMemoryReason);
  } catch (const std::exception& e) {
    std::snprintf(err, err_size, "exception: %s", e.what());
  } catch (...) {
    std::snprintf(err, err_size, "exception of an unknown type");
  }
  return 1;
}

}  // namespace

uint64_t WorkerBlockPoints(const std::vector<sweep_output_decl>& outputs, uint64_t chunk_size) {
  uint64_t widest = 1;
  for (const sweep_output_decl& o : outputs) widest = std::max(widest, OutputBytesPerPoint(o));
  return std::max<uint64_t>(1, std::min(chunk_size, kWorkerBlockBytes / widest));
}

uint64_t WorkerBlockBytes(const Space& space, const KernelBinding& binding, uint64_t chunk_size) {
  uint64_t per_point = PointBatch::BytesPerPoint(space, binding);
  for (const sweep_output_decl& o : binding.outputs) per_point += OutputBytesPerPoint(o);
  return WorkerBlockPoints(binding.outputs, chunk_size) * per_point;
}

ChunkComputer::ChunkComputer(const WorkerSetup& setup, int rank)
    : setup_(setup),
      rank_(rank),
      kernel_(*setup.binding->kernel),
      plan_(setup.layout->points, setup.layout->chunk_size),
      block_points_(WorkerBlockPoints(setup.binding->outputs, plan_.chunk_size())),
      batch_(*setup.space, *setup.binding, block_points_),
      batched_(kernel_.compute_batch != nullptr && !ForcedPerPoint()),
      params_(setup.binding->parameter_source.size()),
      checksum_(setup.binding->outputs.size()),
      file_(setup.output_path, *setup.layout, OutputFile::Access::kReadWrite) {
  const std::vector<sweep_output_decl>& outs = setup.binding->outputs;
  for (size_t i = 0; i < outs.size(); ++i) {
    const uint64_t bpp = OutputBytesPerPoint(outs[i]);
    bytes_per_point_.push_back(bpp);
    buffers_.emplace_back(block_points_ * bpp);
    sweep_array view{};
    view.dtype = outs[i].dtype;
    view.rank = outs[i].rank;
    for (int d = 0; d < outs[i].rank; ++d) view.shape[d] = outs[i].shape[d];
    views_.push_back(view);
  }
  if (setup.reuse && !setup.reuse->empty()) {
    reused_rows_.emplace(*setup.reuse, bytes_per_point_, setup.copy_reused);
    taken_.resize(size_t(block_points_));
  }
}

ChunkComputer::~ChunkComputer() { FinishKernel(); }

void* InitKernel(const WorkerSetup& setup) {
  const KernelBinding& binding = *setup.binding;
  const sweep_kernel& kernel = *binding.kernel;
  std::vector<sweep_array> inputs;
  for (int source : binding.input_source) inputs.push_back(setup.inputs->at(size_t(source)));
  char err[kKernelMessageBytes] = "";
  const sweep_options options = binding.options();
  void* state = nullptr;
  if (kernel.init(&state, &options, inputs.data(), err, sizeof err) != 0) {
    throw Error(std::string("kernel ") + kernel.name + ": init: " + err);
  }
  if (binding.place_inputs) {
    std::vector<PublishedInput> places;
    for (int source : binding.input_source) places.push_back(setup.places->at(size_t(source)));
    binding.place_inputs(state, places);
  }
  return state;
}

void ChunkComputer::InitKernel() { AdoptKernel(sweep::InitKernel(setup_)); }

void ChunkComputer::AdoptKernel(void* state) {
  state_ = state;
  initialised_ = true;
  // A kernel may learn in init() that it ignores seeds (kernels/kernel.h); a forkserver's worker
  // inherits the flags the zygote's init() set.
  if (kernel_.flags & SWEEP_KERNEL_IGNORES_SEED) batch_.DropSeeds();
}

void ChunkComputer::FinishKernel() {
  if (initialised_ && kernel_.finish) kernel_.finish(state_);
  initialised_ = false;
}

Message ChunkComputer::Compute(uint64_t chunk_index) {
  const Chunk chunk = plan_.chunk(chunk_index);
  const double start = SteadySeconds(), start_time = WallSeconds();
  checksum_.Reset();
  const std::vector<sweep_output_decl>& outs = setup_.binding->outputs;
  uint64_t reused = 0;
  for (uint64_t block_first = chunk.first; block_first < chunk.end();
       block_first += block_points_) {
    const uint64_t n = std::min(block_points_, chunk.end() - block_first);
    const std::optional<Message> failed = ComputeBlock(chunk_index, block_first, n, &reused);
    if (failed) {
      setup_.scoreboard->Publish(rank_, Scoreboard::kIdle);
      return *failed;
    }
    for (size_t o = 0; o < outs.size(); ++o) {
      file_.WriteRows(o, block_first, n, buffers_[o].data());
      checksum_.Add(o, buffers_[o].data(), n * bytes_per_point_[o]);
    }
  }
  setup_.scoreboard->Publish(rank_, Scoreboard::kIdle);
  return Message::Done(chunk_index, checksum_.Finish(), SteadySeconds() - start, start_time,
                       PeakResidentBytes(), reused);
}

std::optional<Message> ChunkComputer::ComputeBlock(uint64_t chunk_index, uint64_t first, uint64_t n,
                                                   uint64_t* reused) {
  uint64_t taken = 0;
  if (reused_rows_) {
    std::fill(taken_.begin(), taken_.begin() + ptrdiff_t(n), uint8_t{0});
    std::vector<char*> rows;
    for (std::vector<char>& buffer : buffers_) rows.push_back(buffer.data());
    taken = reused_rows_->Take(first, n, rows, taken_.data());
    *reused += taken;
  }
  if (taken == 0) return ComputeRun(chunk_index, first, n, 0);
  if (taken == n) return std::nullopt;  // a block copied whole: nothing to fill or compute
  // The points left, in runs of consecutive ones.
  for (uint64_t at = 0; at < n;) {
    while (at < n && taken_[size_t(at)]) ++at;
    uint64_t end = at;
    while (end < n && !taken_[size_t(end)]) ++end;
    if (end > at) {
      if (std::optional<Message> failed = ComputeRun(chunk_index, first + at, end - at, at))
        return failed;
    }
    at = end;
  }
  return std::nullopt;
}

std::optional<Message> ChunkComputer::ComputeRun(uint64_t chunk_index, uint64_t first, uint64_t n,
                                                 uint64_t at) {
  // The rows read missing until the kernel writes them: a point that fails, or an output it
  // leaves unwritten, keeps the missing value (kernels/dtype.h).
  const std::vector<sweep_output_decl>& outs = setup_.binding->outputs;
  for (size_t o = 0; o < outs.size(); ++o) {
    const uint64_t elements = bytes_per_point_[o] / DtypeSize(outs[o].dtype);
    FillMissing(buffers_[o].data() + at * bytes_per_point_[o], outs[o].dtype, n * elements);
  }
  const sweep_batch& batch = batch_.Fill(first, n);
  return batched_ ? ComputeBatch(chunk_index, first, at, batch)
                  : ComputePoints(chunk_index, first, n, at);
}

std::optional<Message> ChunkComputer::ComputePoints(uint64_t chunk_index, uint64_t first,
                                                    uint64_t n, uint64_t at) {
  char err[kKernelMessageBytes];
  for (uint64_t i = 0; i < n; ++i) {
    const uint64_t point = first + i;
    setup_.scoreboard->Publish(rank_, point);
    for (size_t j = 0; j < params_.size(); ++j) params_[j] = batch_.Value(j, i);
    for (size_t o = 0; o < views_.size(); ++o)
      views_[o].data = buffers_[o].data() + (at + i) * bytes_per_point_[o];
    if (setup_.binding->set_point) setup_.binding->set_point(state_, point);
    const uint64_t seed = batch_.Seed(i);
    const int rc = CallKernel(err, sizeof err, [&] {
      return kernel_.compute(state_, params_.data(), seed, views_.data(), err, sizeof err);
    });
    if (rc != 0)
      return Message::Failed(chunk_index, point, err[0] ? err : "the kernel reported an error");
  }
  return std::nullopt;
}

std::optional<Message> ChunkComputer::ComputeBatch(uint64_t chunk_index, uint64_t first,
                                                   uint64_t at, const sweep_batch& batch) {
  char err[kKernelMessageBytes];
  // A crash inside the call is blamed on the batch's first point: the scoreboard says no more.
  setup_.scoreboard->Publish(rank_, first);
  for (size_t o = 0; o < views_.size(); ++o)
    views_[o].data = buffers_[o].data() + at * bytes_per_point_[o];
  int64_t failed = 0;
  const int rc = CallKernel(err, sizeof err, [&] {
    return kernel_.compute_batch(state_, &batch, views_.data(), &failed, err, sizeof err);
  });
  if (rc == 0) return std::nullopt;
  // A kernel that names no point, or one outside the batch, fails at the batch's first.
  const uint64_t named = failed >= 0 && failed < batch.count ? uint64_t(failed) : 0;
  return Message::Failed(chunk_index, first + named, err[0] ? err : "the kernel reported an error");
}

int WorkerLoop(const WorkerSetup& setup, int rank, int socket_fd, void* kernel_state) {
  std::optional<ChunkComputer> computer;
  try {
    computer.emplace(setup, rank);
    if (kernel_state) {
      computer->AdoptKernel(kernel_state);
    } else {
      computer->InitKernel();
    }
  } catch (const std::exception& e) {
    SendMessage(socket_fd, Message::Fatal(e.what()));
    return 1;
  }
  if (!SendMessage(socket_fd, Message::Ready(getpid()))) return 1;
  int code = 0;
  try {
    while (std::optional<Message> m = ReceiveMessage(socket_fd)) {
      if (m->type == MessageType::kShutdown) break;
      if (m->type != MessageType::kAssign)
        throw Error("protocol: a worker got a message it does not take");
      for (uint64_t c = m->chunk; c < m->chunk + m->count; ++c) {
        if (!SendMessage(socket_fd, computer->Compute(c))) return 1;  // the driver is gone
      }
    }
  } catch (const std::exception& e) {
    SendMessage(socket_fd, Message::Fatal(e.what()));
    std::fprintf(stderr, "sweep worker %d: %s\n", rank, e.what());
    code = 1;
  }
  computer->FinishKernel();
  return code;
}

std::string EncodeWorkerJob(const Config& config, SeedRule seeds, const std::string& rows_path,
                            const OutputLayout& layout, const std::string& inputs_json,
                            const ReusePlan* reuse, bool copy_reused) {
  nlohmann::json job;
  job["sweep"] = ConfigToJson(config);
  job["seeds_by_index"] = seeds == SeedRule::kPointIndex;
  if (reuse && !reuse->empty()) {
    job["reuse"] = reuse->Encode();
    job["copy_reused"] = copy_reused;
  }
  job["output_path"] = rows_path;
  job["inputs"] = inputs_json;
  // What a worker needs of the layout, so it never opens the file with HDF5.
  job["layout"] = EncodeRowLayout(layout);
  return job.dump();
}

std::string ReadSpawnedJob(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) throw Error("worker job: " + std::string(std::strerror(errno)));
  std::string text(size_t(st.st_size), '\0');
  if (pread(fd, text.data(), text.size(), 0) != ssize_t(text.size()))
    throw Error("worker job: short read");
  return text;
}

SpawnedJob::SpawnedJob(const std::string& text, Scoreboard* scoreboard) {
  const nlohmann::json job = nlohmann::json::parse(text);
  published_ = ParseInputs(job.at("inputs").get<std::string>());
  config_ = ConfigFromJson(job.at("sweep"));
  space_.emplace(config_, job.at("seeds_by_index").get<bool>() ? SeedRule::kPointIndex
                                                               : SeedRule::kParameterValues);
  binding_ = BindKernel(config_, *space_);
  inputs_.emplace(published_);
  layout_ = DecodeRowLayout(job.at("layout").get<std::string>());
  if (job.contains("reuse")) reuse_ = ReusePlan::Decode(job.at("reuse"));
  setup_.reuse = &reuse_;
  setup_.copy_reused = job.value("copy_reused", true);
  setup_.space = &*space_;
  setup_.binding = &binding_;
  setup_.inputs = &inputs_->views();
  setup_.places = &published_;
  setup_.output_path = job.at("output_path").get<std::string>();
  setup_.layout = &layout_;
  setup_.scoreboard = scoreboard;
}

int SpawnedWorkerMain() {
  const char* rank_env = std::getenv("SWEEP_RANK");
  const char* driver_env = std::getenv("SWEEP_DRIVER_PID");
  const char* size_env = std::getenv("SWEEP_SIZE");
  if (!rank_env || !driver_env || !size_env) {
    std::fprintf(stderr, "sweep: __worker is started by `sweep run`, not by hand\n");
    return 2;
  }
  const int rank = std::atoi(rank_env);
  const int socket_fd = kWorkerSocketFd;
  try {
    // The job descriptor: read it whole first (it is a memfd shared by all workers).
    const std::string text = ReadSpawnedJob(kWorkerFirstPassedFd + 1);
    // Memfd inputs are reopened through /proc/<driver>/fd, so only the scoreboard and the job
    // are inherited.
    BecomeWorker(pid_t(std::atoll(driver_env)), kWorkerFirstPassedFd + 2);
    Scoreboard scoreboard(kWorkerFirstPassedFd, std::atoi(size_env));
    const SpawnedJob job(text, &scoreboard);
    return WorkerLoop(job.setup(), rank, socket_fd);
  } catch (const std::exception& e) {
    SendMessage(socket_fd, Message::Fatal(e.what()));
    std::fprintf(stderr, "sweep worker %d: %s\n", rank, e.what());
    return 1;
  }
}

}  // namespace sweep
