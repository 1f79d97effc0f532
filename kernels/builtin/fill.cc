// fill: writes `bytes` of output per point, every float64 equal to x.
//
// The kernel of the gather benchmark and tests: it costs nothing to compute, so what is measured
// is how fast rows reach the output file.
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

const sweep_param_decl kParams[] = {{"x", "the value every element of the row gets"}};
const sweep_option_decl kOptions[] = {
    {"bytes",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 1024, 1024, nullptr},
     "bytes of output per point (a multiple of 8)"},
};

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  const int64_t bytes = options->values[0].integer;
  if (bytes < 8 || bytes % 8 != 0 || bytes > (int64_t{1} << 30)) {
    return sweep_fail(err, err_size, "bytes must be a positive multiple of 8, at most 1 GiB");
  }
  out[0] = sweep_output_decl{"row", SWEEP_FLOAT64, 1, {bytes / 8, 0, 0, 0}};
  *n_out = 1;
  return 0;
}

int Init(void** state, const sweep_options*, const sweep_array*, char*, size_t) {
  *state = nullptr;
  return 0;
}

int Compute(void*, const sweep_value* params, uint64_t, sweep_array* outputs, char* err,
            size_t err_size) {
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  double* row = static_cast<double*>(outputs[0].data);
  for (int64_t i = 0; i < outputs[0].shape[0]; ++i) row[i] = params[0].number;
  return 0;
}

int ComputeBatch(void*, const sweep_batch* batch, sweep_array* outputs, int64_t* failed, char* err,
                 size_t err_size) {
  if (RequireNumberColumns(kParams, *batch, failed, err, err_size)) return 1;
  const double* x = batch->params[0].number;
  const int64_t width = outputs[0].shape[0];
  double* row = static_cast<double*>(outputs[0].data);
  for (int64_t i = 0; i < batch->count; ++i, row += width)
    for (int64_t k = 0; k < width; ++k) row[k] = x[i];
  return 0;
}

void Finish(void*) {}

const sweep_kernel kFill = {SWEEP_KERNEL_ABI,
                            "fill",
                            "writes `bytes` of output per point, all equal to x (gather benchmark)",
                            kOptions,
                            int(std::size(kOptions)),
                            kParams,
                            int(std::size(kParams)),
                            nullptr,
                            0,
                            1,
                            Outputs,
                            Init,
                            Compute,
                            Finish,
                            SWEEP_KERNEL_IGNORES_SEED,
                            ComputeBatch};

}  // namespace

const sweep_kernel* fill_kernel() { return &kFill; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* fill_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"x", nullptr, "the value every element of the row gets"},
      {"row", nullptr, "a row of x"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
