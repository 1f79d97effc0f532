#include "driver/output_filler.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>

#include "io/error.h"

namespace sweep {

namespace {
std::atomic<OutputFiller*> g_active_filler{nullptr};
std::once_flag g_fork_handlers;
}  // namespace

void PauseFillerForFork() {
  OutputFiller* f = g_active_filler.load();
  if (!f) return;
  std::unique_lock<std::mutex> lock(f->park_mutex_);
  f->pause_requested_ = true;
  f->park_changed_.wait(lock, [f] { return f->parked_; });
}  // park_mutex_ is released before the fork: the child must not inherit it held

void ResumeFillerAfterFork() {
  OutputFiller* f = g_active_filler.load();
  if (!f) return;
  {
    std::lock_guard<std::mutex> lock(f->park_mutex_);
    f->pause_requested_ = false;
  }
  f->park_changed_.notify_all();
}

// The child has no background thread: its copy of the filler is left alone (a fork in it, as a
// forked worker's command kernel does, must not wait for a thread that is not there).
void ForgetFillerInChild() { g_active_filler.store(nullptr); }

OutputFiller::OutputFiller(OutputFile& file, const Space& space, const Plan& plan,
                           const std::vector<uint64_t>& chunks)
    : file_(file), space_(space), plan_(plan), order_(chunks) {
  state_.reset(new std::atomic<uint8_t>[plan.chunks()]);
  for (uint64_t c = 0; c < plan.chunks(); ++c) state_[c].store(kNotOurs);
  for (uint64_t c : order_) state_[c].store(kUnprepared);

  // Points per step of each dimension, C order.
  const std::vector<Dimension>& dims = space.dimensions();
  std::vector<uint64_t> stride(dims.size(), 1);
  for (size_t d = dims.size(); d-- > 1;) stride[d - 1] = stride[d] * dims[d].size;
  const std::vector<OutputVariableInfo>& variables = file.layout().variables;
  for (size_t v = 0; v < variables.size(); ++v) {
    const int parameter = space.FindParameter(variables[v].name);
    int dimension = parameter >= 0 ? space.dimension_of(parameter) : -1;
    for (size_t d = 0; parameter < 0 && d < dims.size(); ++d) {
      if (dims[d].name == variables[v].name) dimension = int(d);
    }
    if (dimension < 0) throw Error(file.path() + ": no sweep dimension for /" + variables[v].name);
    variables_.push_back({v, stride[size_t(dimension)], variables[v].size, parameter,
                          variables[v].dtype == SWEEP_INT64,
                          variables[v].size > kValuesWrittenAtCreation});
  }
}

OutputFiller::~OutputFiller() { Stop(); }

void OutputFiller::StartBackground() {
  if (background_.joinable()) return;
  std::call_once(g_fork_handlers, [] {
    pthread_atfork(PauseFillerForFork, ResumeFillerAfterFork, ForgetFillerInChild);
  });
  g_active_filler.store(this);
  // The thread lives as long as the run: it must never be where the kernel delivers the run's
  // SIGTERM or SIGINT (the default action would kill the driver without its journal record), so
  // it starts with every signal blocked; the scheduler's thread takes them.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &before);
  background_ = std::thread([this] { Background(); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

void OutputFiller::Stop() {
  {
    std::lock_guard<std::mutex> lock(park_mutex_);
    stop_requested_ = true;
  }
  park_changed_.notify_all();
  if (background_.joinable()) background_.join();
  OutputFiller* self = this;
  g_active_filler.compare_exchange_strong(self, nullptr);
}

bool OutputFiller::PrepareIfUnclaimed(uint64_t chunk) {
  uint8_t expected = kUnprepared;
  if (!state_[chunk].compare_exchange_strong(expected, kPreparing)) return false;
  try {
    Prepare(chunk);
  } catch (...) {
    state_[chunk].store(kUnprepared);  // left for the hand-out path, which reports the error
    throw;
  }
  state_[chunk].store(kPrepared);
  return true;
}

void OutputFiller::BeforeHandout(uint64_t first, uint64_t count) {
  for (uint64_t c = first; c < first + count; ++c) {
    if (PrepareIfUnclaimed(c)) continue;
    // The background is writing it: one chunk's rows, a short wait.
    while (state_[c].load() == kPreparing) std::this_thread::yield();
  }
}

bool OutputFiller::ParkWhilePaused() {
  std::unique_lock<std::mutex> lock(park_mutex_);
  if (pause_requested_ && !stop_requested_) {
    parked_ = true;
    park_changed_.notify_all();
    park_changed_.wait(lock, [this] { return !pause_requested_ || stop_requested_; });
    parked_ = false;
  }
  return !stop_requested_;
}

void OutputFiller::Background() {
  // Behind the workers, not beside them: on a machine whose cores all compute, the fill takes a
  // tenth of a core instead of slowing the first chunks (Linux: a thread has its own nice value).
  setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), 10);
  try {
    for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
      if (!ParkWhilePaused()) return;
      PrepareIfUnclaimed(*it);
    }
  } catch (const std::exception&) {
    // A full disk, say: the hand-out path prepares what is left and reports the error there.
  }
  // Parked for good until Stop(), so the thread does not end (taking the allocator's locks) while
  // the scheduler forks a worker.
  std::unique_lock<std::mutex> lock(park_mutex_);
  parked_ = true;
  park_changed_.notify_all();
  park_changed_.wait(lock, [this] { return stop_requested_; });
}

void OutputFiller::Prepare(uint64_t chunk) {
  const Chunk c = plan_.chunk(chunk);
  for (size_t o = 0; o < file_.layout().results.size(); ++o) file_.FillRows(o, c.first, c.count);
  for (const Variable& d : variables_)
    if (d.deferred) WriteDeferred(d, c.first, c.end());
  prepared_.fetch_add(1);
}

// Value k of a variable on a dimension of stride s is written with the chunk holding point
// k * s: the point where index k first appears, with every outer index 0. So each value is
// written exactly once over the whole sweep, by the chunk that covers it.
void OutputFiller::WriteDeferred(const Variable& d, uint64_t first_point, uint64_t end_point) {
  const uint64_t k_begin = (first_point + d.stride - 1) / d.stride;
  const uint64_t k_end = std::min(d.size, (end_point + d.stride - 1) / d.stride);
  constexpr uint64_t kBlock = 1 << 14;
  uint64_t buffer[kBlock];
  for (uint64_t k0 = k_begin; k0 < k_end; k0 += kBlock) {
    const uint64_t n = std::min(kBlock, k_end - k0);
    ValuesInto(d, k0, n, buffer);
    file_.WriteVariable(d.variable, k0, n, buffer);
  }
}

void OutputFiller::ValuesInto(const Variable& d, uint64_t k0, uint64_t n, uint64_t* out) const {
  if (d.parameter < 0) {  // `sample` or `replicate`: the index itself
    for (uint64_t i = 0; i < n; ++i) {
      const double x = double(k0 + i);
      if (d.integer) {
        out[i] = k0 + i;
      } else {
        std::memcpy(&out[i], &x, 8);
      }
    }
    return;
  }
  // By the axis's closed form in bulk (Space::AxisValues), not ParameterValue per value: a
  // coordinate of 10^8 values costs the run that much less of the driver's time. An integer
  // parameter's values go straight into an int64 variable; the others through a column of
  // doubles, scratch space of the calling thread (the hand-out's or the background's).
  const Value::Type type = space_.parameter_type(d.parameter);
  if (type == Value::Type::kString) {  // a string parameter's values write as 0
    std::fill(out, out + n, 0);
    return;
  }
  int64_t* integers = reinterpret_cast<int64_t*>(out);  // int64 may alias uint64
  if (d.integer && type == Value::Type::kInteger) {
    space_.AxisValues(d.parameter, k0, n, nullptr, integers, nullptr);
    return;
  }
  thread_local std::vector<double> numbers;
  numbers.resize(n);
  space_.AxisValues(d.parameter, k0, n, numbers.data(), integers, nullptr);
  if (d.integer) {
    for (uint64_t i = 0; i < n; ++i) integers[i] = std::llround(numbers[i]);
  } else {
    std::memcpy(out, numbers.data(), n * 8);
  }
}

std::vector<OutputFiller::Repair> OutputFiller::RepairVariables(
    const std::function<bool(uint64_t chunk)>& written) {
  std::vector<Repair> repairs;
  constexpr uint64_t kBlock = 1 << 14;
  std::vector<uint64_t> expected(kBlock), held(kBlock);
  for (const Variable& d : variables_) {
    Repair repair{file_.layout().variables[d.variable].name, 0};
    for (uint64_t k0 = 0; k0 < d.size; k0 += kBlock) {
      const uint64_t n = std::min(kBlock, d.size - k0);
      ValuesInto(d, k0, n, expected.data());
      file_.ReadVariable(d.variable, k0, n, held.data());
      bool rewrite = false;
      for (uint64_t i = 0; i < n; ++i) {
        // A deferred value not written yet is the filler's to write, not a fault.
        if (d.deferred && !written(plan_.ChunkOf((k0 + i) * d.stride))) continue;
        if (expected[i] == held[i]) continue;
        ++repair.values;
        rewrite = true;
      }
      if (!rewrite) continue;
      for (uint64_t i = 0; i < n; ++i) {
        if (!d.deferred || written(plan_.ChunkOf((k0 + i) * d.stride)))
          file_.WriteVariable(d.variable, k0 + i, 1, &expected[i]);
      }
    }
    if (repair.values > 0) repairs.push_back(std::move(repair));
  }
  return repairs;
}

}  // namespace sweep
