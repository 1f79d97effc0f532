// array_sum: reads a whole shared input and writes its sum times `scale`.
//
// The kernel of the shared-input tests and benchmarks: every point reads every byte of `data`,
// so the cost of getting the input to the workers (mapping here; pickling or copying elsewhere)
// is what is measured. Option `passes` reads it that many times per point; `sleep_ms` holds each
// point (so a test can look at the workers' memory while they run). Batched (compute_batch), the
// points of a batch share one sum, read `passes` times: the same bytes, the array read once per
// batch instead of once per point; the batch sleeps sleep_ms per point.
#include <unistd.h>

#include <cstring>
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

const sweep_param_decl kParams[] = {{"scale", "the sum is multiplied by it"}};
const sweep_input_decl kInputs[] = {{"data", SWEEP_FLOAT64, -1, "the array to sum, any shape"}};
const sweep_option_decl kOptions[] = {
    {"passes",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 1, 1, nullptr},
     "reads of the array per point"},
    {"sleep_ms",
     SWEEP_VALUE_NUMBER,
     {SWEEP_VALUE_NUMBER, 0, 0, nullptr},
     "milliseconds to sleep per point"},
};

struct State {
  const double* data;
  uint64_t n;
  int64_t passes;
  double sleep_ms;
};

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  if (options->values[0].integer < 1) return sweep_fail(err, err_size, "passes must be at least 1");
  out[0] = sweep_output_decl{"sum", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 1;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array* inputs, char*, size_t) {
  uint64_t n = 1;
  for (int d = 0; d < inputs[0].rank; ++d) n *= uint64_t(inputs[0].shape[d]);
  *state = new State{static_cast<const double*>(inputs[0].data), n, options->values[0].integer,
                     options->values[1].number};
  return 0;
}

// The sum, in sixteen partial sums combined in a fixed order, so that it has the same bits on every
// machine and with every compiler (no reassociation is left to the compiler): partial sum j adds
// data[i + j] for i = 0, 16, 32, ... in order; then s[j] += s[j + 8] for j < 8, s[j] += s[j + 4]
// for j < 4, s[j] += s[j + 2] for j < 2, and the total is s[0] + s[1] plus the values past the
// last whole sixteen, in order. Computed with vectors of kLanes doubles (GCC vector extensions),
// lane l of vector k being partial sum kLanes * k + l: two lanes need only SSE2; four (AVX) and
// eight (AVX-512) issue fewer instructions per byte, and reach what memory delivers (31 GB/s
// from one core here, 61 from both; two lanes managed 24).
template <int kLanes>
__attribute__((always_inline)) inline double SumInLanes(const double* data, uint64_t n) {
  typedef double Lanes __attribute__((vector_size(8 * kLanes)));
  constexpr int kVectors = 16 / kLanes;
  Lanes acc[kVectors] = {};
  uint64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int k = 0; k < kVectors; ++k) {
      Lanes v;
      std::memcpy(&v, data + i + kLanes * k, sizeof v);  // unaligned load
      acc[k] += v;
    }
  }
  double partial[16];
  std::memcpy(partial, acc, sizeof partial);
  for (int width = 8; width >= 2; width /= 2)
    for (int j = 0; j < width; ++j) partial[j] += partial[j + width];
  double total = partial[0] + partial[1];
  for (; i < n; ++i) total += data[i];
  return total;
}

double SumSse2(const double* data, uint64_t n) { return SumInLanes<2>(data, n); }

#if defined(__x86_64__)
__attribute__((target("avx"))) double SumAvx(const double* data, uint64_t n) {
  return SumInLanes<4>(data, n);
}
__attribute__((target("avx512f"))) double SumAvx512(const double* data, uint64_t n) {
  return SumInLanes<8>(data, n);
}
#endif

// The widest the machine runs, chosen once: all give the same bits.
double Sum(const double* data, uint64_t n) {
  static const auto sum = [] {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SumAvx512;
    if (__builtin_cpu_supports("avx")) return SumAvx;
#endif
    return SumSse2;
  }();
  return sum(data, n);
}

// The sum, read `passes` times, and the sleep of `points` points.
double SumAndSleep(const State& s, int64_t points) {
  double total = 0;
  for (int64_t pass = 0; pass < s.passes; ++pass) total = Sum(s.data, s.n);
  if (s.sleep_ms > 0) usleep(useconds_t(s.sleep_ms * 1000 * double(points)));
  return total;
}

int Compute(void* state, const sweep_value* params, uint64_t, sweep_array* outputs, char* err,
            size_t err_size) {
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const double total = SumAndSleep(*static_cast<const State*>(state), 1);
  *static_cast<double*>(outputs[0].data) = total * params[0].number;
  return 0;
}

int ComputeBatch(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                 char* err, size_t err_size) {
  if (RequireNumberColumns(kParams, *batch, failed, err, err_size)) return 1;
  const double total = SumAndSleep(*static_cast<const State*>(state), batch->count);
  const double* scale = batch->params[0].number;
  double* sum = static_cast<double*>(outputs[0].data);
  for (int64_t i = 0; i < batch->count; ++i) sum[i] = total * scale[i];
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kArraySum = {
    SWEEP_KERNEL_ABI,
    "array_sum",
    "sum of a shared float64 array times `scale` (shared-input tests and benchmarks)",
    kOptions,
    int(std::size(kOptions)),
    kParams,
    int(std::size(kParams)),
    kInputs,
    int(std::size(kInputs)),
    1,
    Outputs,
    Init,
    Compute,
    Finish,
    SWEEP_KERNEL_IGNORES_SEED,
    ComputeBatch};

}  // namespace

const sweep_kernel* array_sum_kernel() { return &kArraySum; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* array_sum_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"scale", "1", "factor of the sum"},
      {"sum", nullptr, "sum of the input times scale"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
