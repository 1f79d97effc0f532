// faulty: a kernel that misbehaves on purpose, at chosen points, for the fault-injection tests.
//
// Parameter `i` (an integer, typically a range) names the point; each option `<fault>_at` is the
// value of `i` at which the fault happens (-1: never). Otherwise it writes y = i + data[0], after
// sleeping `sleep_ms` milliseconds (to make a run last long enough to be killed in the middle).
// With `only_if_exists` set to a path, faults happen only while that file exists: a test removes
// it to play the user who fixed the cause, and `sweep resume` then completes the sweep.
// With `seeded` set to 1 it adds the point's seed to y, as a fraction in [0, 1), so that a run's
// bytes show whether every point got its own seed, as a stochastic kernel's would.
// With `read_input` set to 1 it reads every element of its input before each point, as a kernel
// that uses all of it does, so the input's pages are resident in the worker.
// With `hold_from` and `release_file`, every point with i >= hold_from waits, without using the
// CPU, until `release_file` exists, or `<release_file>.<pid>` for its own process; as it starts
// waiting its process appends "<pid> <i>" to `<release_file>.held`. A test thus keeps a run live
// for as long as it needs, knows which processes are in the middle of a point, can let one go on
// while others wait, and never depends on how fast the machine is.
// For the start methods: init() sleeps `load_ms` milliseconds first (a kernel slow to load, as a
// Python model importing its libraries), fails when `init_error` is 1, and with `trace_file` set
// appends "<pid> init <ns>" to it as it ends, and "<pid> <i> <ns>" as each point starts (ns:
// CLOCK_MONOTONIC, the same clock in every process), one write of one line each: a test sees in
// which processes init() ran, and a benchmark how long a worker took to replace a crashed one.
// Faults: segfault (a write through a null pointer), abort, throw (a C++ exception out of
// compute), error (a kernel error), exit (exit code 3), hang (sleeps forever), oom (allocates and
// touches memory without bound), write_input (writes to the shared input), flood (writes 8 MiB
// to stdout and to stderr), fork (a grandchild that would outlive the worker, then hang).
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

const sweep_param_decl kParams[] = {{"i", "which point this is (compared with the *_at options)"}};
const sweep_input_decl kInputs[] = {
    {"data", SWEEP_FLOAT64, -1, "any float64 array (write_input_at writes to it)"}};

#define FAULT(name) \
  { name, SWEEP_VALUE_INTEGER, {SWEEP_VALUE_INTEGER, -1, -1, nullptr}, nullptr }
enum {
  kSegfault,
  kAbort,
  kThrow,
  kError,
  kExit,
  kHang,
  kOom,
  kWriteInput,
  kFlood,
  kFork,
  kSleep,
  kOnlyIf,
  kHoldFrom,
  kReleaseFile,
  kSeeded,
  kReadInput,
  kLoadMs,
  kInitError,
  kTraceFile,
  kOptions
};
const sweep_option_decl kOptionDecls[] = {
    FAULT("segfault_at"),
    FAULT("abort_at"),
    FAULT("throw_at"),
    FAULT("error_at"),
    FAULT("exit_at"),
    FAULT("hang_at"),
    FAULT("oom_at"),
    FAULT("write_input_at"),
    FAULT("flood_at"),
    FAULT("fork_at"),
    {"sleep_ms",
     SWEEP_VALUE_NUMBER,
     {SWEEP_VALUE_NUMBER, 0, 0, nullptr},
     "milliseconds to sleep per point"},
    {"only_if_exists",
     SWEEP_VALUE_STRING,
     {SWEEP_VALUE_STRING, 0, 0, ""},
     "faults happen only while this file exists (empty: always)"},
    {"hold_from",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, -1, -1, nullptr},
     "points with i >= this wait until release_file exists (-1: none)"},
    {"release_file",
     SWEEP_VALUE_STRING,
     {SWEEP_VALUE_STRING, 0, 0, ""},
     "the file whose creation releases held points"},
    {"seeded",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 0, 0, nullptr},
     "1: add the point's seed to y, as a fraction in [0, 1)"},
    {"read_input",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 0, 0, nullptr},
     "1: read every element of the input before each point"},
    {"load_ms",
     SWEEP_VALUE_NUMBER,
     {SWEEP_VALUE_NUMBER, 0, 0, nullptr},
     "milliseconds init() sleeps, as a kernel slow to load"},
    {"init_error", SWEEP_VALUE_INTEGER, {SWEEP_VALUE_INTEGER, 0, 0, nullptr}, "1: init() fails"},
    {"trace_file",
     SWEEP_VALUE_STRING,
     {SWEEP_VALUE_STRING, 0, 0, ""},
     "init() and each point append `<pid> init|<i> <monotonic ns>` here"},
};
#undef FAULT

struct State {
  int64_t at[kSleep];
  double sleep_ms;
  std::string only_if_exists;
  int64_t hold_from;
  std::string release_file;
  bool seeded;
  bool read_input;
  std::string trace_file;
  double* input;
  int64_t input_size;
};

// Appends "<pid> <what> <CLOCK_MONOTONIC ns>" to `file`, in one write.
void Trace(const std::string& file, const std::string& what) {
  if (file.empty()) return;
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const std::string line = std::to_string(getpid()) + " " + what + " " +
                           std::to_string(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec) + "\n";
  const int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  ssize_t ignored = write(fd, line.data(), line.size());
  (void)ignored;
  close(fd);
}

int Outputs(const sweep_options*, sweep_output_decl* out, int* n_out, char*, size_t) {
  out[0] = sweep_output_decl{"y", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 1;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
         size_t err_size) {
  const double load_ms = options->values[kLoadMs].number;
  if (load_ms > 0) usleep(useconds_t(load_ms * 1000));
  if (options->values[kInitError].integer == 1)
    return Fail(err, err_size, "faulty: init fails, as init_error asks");
  auto* s = new State{};
  for (int i = 0; i < kSleep; ++i) s->at[i] = options->values[i].integer;
  s->sleep_ms = options->values[kSleep].number;
  s->only_if_exists = options->values[kOnlyIf].string ? options->values[kOnlyIf].string : "";
  s->hold_from = options->values[kHoldFrom].integer;
  s->release_file =
      options->values[kReleaseFile].string ? options->values[kReleaseFile].string : "";
  s->seeded = options->values[kSeeded].integer != 0;
  s->read_input = options->values[kReadInput].integer != 0;
  s->input_size = 1;
  for (int d = 0; d < inputs[0].rank; ++d) s->input_size *= inputs[0].shape[d];
  if (s->hold_from >= 0 && s->release_file.empty()) {
    delete s;
    return Fail(err, err_size, "faulty: hold_from needs a release_file");
  }
  s->trace_file = options->values[kTraceFile].string ? options->values[kTraceFile].string : "";
  // Deliberately not const: writing through it must fault.
  s->input = static_cast<double*>(inputs[0].data);
  Trace(s->trace_file, "init");
  *state = s;
  return 0;
}

// Says "<pid> <point>" in `<release_file>.held` (one write of one line, appended, so lines of
// several workers never mix), then waits for `release_file` or `<release_file>.<pid>`.
void Hold(const std::string& release_file, int64_t point) {
  const std::string pid = std::to_string(getpid());
  const std::string line = pid + " " + std::to_string(point) + "\n";
  const int fd =
      open((release_file + ".held").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    ssize_t ignored = write(fd, line.data(), line.size());
    (void)ignored;
    close(fd);
  }
  const std::string mine = release_file + "." + pid;
  while (access(release_file.c_str(), F_OK) != 0 && access(mine.c_str(), F_OK) != 0) usleep(2000);
}

// A real SIGSEGV in every build, from a store into the first page, which is never mapped. Not
// through nullptr: GCC deletes a store it can prove is to null, and UBSan (SWEEP_SANITIZE=ON)
// reports one and exits 1, while the tests of crashed workers expect the signal. The address is
// volatile so that no compiler reasons about it.
volatile uintptr_t unmapped_address = 16;
void Segfault() { *reinterpret_cast<volatile int*>(unmapped_address) = 1; }

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  const State& s = *static_cast<State*>(state);
  if (params[0].type == SWEEP_VALUE_STRING)
    return Fail(err, err_size, "parameter i must be an integer, got \"%s\"", params[0].string);
  const int64_t point =
      params[0].type == SWEEP_VALUE_INTEGER ? params[0].integer : int64_t(params[0].number);
  if (s.read_input) {
    volatile double sink = 0;  // not optimised away: the reads are the point
    for (int64_t k = 0; k < s.input_size; ++k) sink = sink + s.input[k];
  }
  Trace(s.trace_file, std::to_string(point));
  if (s.hold_from >= 0 && point >= s.hold_from) Hold(s.release_file, point);
  if (s.sleep_ms > 0) usleep(useconds_t(s.sleep_ms * 1000));
  const bool armed = s.only_if_exists.empty() || access(s.only_if_exists.c_str(), F_OK) == 0;
  // -2 matches no point: a disarmed kernel behaves.
  const int64_t i = armed ? point : -2;
  if (i == s.at[kSegfault]) Segfault();
  if (i == s.at[kAbort]) std::abort();
  if (i == s.at[kThrow]) throw std::runtime_error("faulty: thrown at i=" + std::to_string(i));
  if (i == s.at[kError])
    return Fail(err, err_size, "faulty: error at i=%lld", static_cast<long long>(i));
  if (i == s.at[kExit]) {
    std::fprintf(stderr, "faulty: exiting with code 3 at i=%lld\n", static_cast<long long>(i));
    std::fflush(stderr);
    _exit(3);
  }
  if (i == s.at[kHang]) {
    for (;;) pause();
  }
  if (i == s.at[kOom]) {
    std::vector<char*> blocks;
    for (;;) {
      char* block = static_cast<char*>(std::malloc(64 << 20));
      if (!block) break;
      std::memset(block, 1, 64 << 20);
      blocks.push_back(block);
    }
    return Fail(err, err_size, "faulty: malloc failed");
  }
  if (i == s.at[kWriteInput]) s.input[0] = 42.0;
  if (i == s.at[kFlood]) {
    std::string line(1023, 'x');
    line += '\n';
    for (int k = 0; k < 8192; ++k) {
      std::fputs(line.c_str(), stdout);
      std::fputs(line.c_str(), stderr);
    }
    std::fflush(nullptr);
  }
  if (i == s.at[kFork]) {
    if (fork() == 0) {
      setsid();  // escape the worker's process group and session, as a daemon would
      for (;;) pause();
    }
    for (;;) pause();
  }
  // The seed's top 53 bits as a fraction: exact in a double.
  const double noise = s.seeded ? double(seed >> 11) * 0x1p-53 : 0.0;
  *static_cast<double*>(outputs[0].data) = double(point) + s.input[0] + noise;
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kFaulty = {SWEEP_KERNEL_ABI,
                              "faulty",
                              "misbehaves on purpose at chosen points (for fault-injection tests)",
                              kOptionDecls,
                              kOptions,
                              kParams,
                              int(std::size(kParams)),
                              kInputs,
                              int(std::size(kInputs)),
                              1,
                              Outputs,
                              Init,
                              Compute,
                              Finish,
                              0,  // reads the seed when `seeded`
                              nullptr};

}  // namespace

const sweep_kernel* faulty_kernel() { return &kFaulty; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* faulty_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"i", "1", "which point this is"},
      {"y", "1", "i, plus the point's seed as a fraction with seeded = 1"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
