/* wrong_abi: a plugin that claims the kernel ABI after this one, as a plugin built against a
 * newer kernels/kernel.h would. The loader must refuse it before calling anything else in it. */
#include "kernels/kernel.h"

static int outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                   size_t err_size) {
  (void)options, (void)out, (void)n_out;
  return sweep_fail(err, err_size, "wrong_abi: outputs() must never be called");
}

static const sweep_kernel kKernel = {
    SWEEP_KERNEL_ABI + 1,
    "wrong_abi",
    "a kernel from another ABI",
    NULL,
    0,
    NULL,
    0,
    NULL,
    0,
    1,
    outputs,
    NULL,
    NULL,
    NULL,
};

const sweep_kernel* sweep_kernel_entry(void) { return &kKernel; }
