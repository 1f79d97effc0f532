// square: y = x * x.
//
// The smallest kernel: one parameter, one scalar output, no options and no inputs. The quickstart
// and the driver's end-to-end tests use it because its results can be checked by eye, and the
// dispatch benchmark because it costs nothing: batched (compute_batch, one loop over the column),
// what is measured is sweep itself.
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

const sweep_param_decl kParams[] = {{"x", "the number to square"}};

int Outputs(const sweep_options*, sweep_output_decl* out, int* n_out, char*, size_t) {
  out[0] = sweep_output_decl{"y", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
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
  const double x = params[0].number;
  *static_cast<double*>(outputs[0].data) = x * x;
  return 0;
}

int ComputeBatch(void*, const sweep_batch* batch, sweep_array* outputs, int64_t* failed, char* err,
                 size_t err_size) {
  if (RequireNumberColumns(kParams, *batch, failed, err, err_size)) return 1;
  const double* x = batch->params[0].number;
  double* y = static_cast<double*>(outputs[0].data);
  for (int64_t i = 0; i < batch->count; ++i) y[i] = x[i] * x[i];
  return 0;
}

void Finish(void*) {}

const sweep_kernel kSquare = {SWEEP_KERNEL_ABI,
                              "square",
                              "y = x * x (for trying sweep out)",
                              nullptr,
                              0,
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

const sweep_kernel* square_kernel() { return &kSquare; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* square_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"x", nullptr, "the number squared"},
      {"y", nullptr, "x squared"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
