/* batch_probe: a kernel that breaks the rule that both entries give the same bytes, on purpose,
 * so a test can see which entry sweep called and with what. Per point:
 *   via   = 1 through compute_batch(), 0 through compute()
 *   count = the number of points in the call (1 through compute())
 *   seed  = the point's seed, as int64 bits
 *   x     = parameter x, as the call got it
 * Never use it as an example: a real kernel's two entries must agree (kernels/kernel.h). */
#include "kernels/kernel.h"

static const sweep_param_decl kParams[] = {{"x", "any number"}};

static int outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                   size_t err_size) {
  (void)options, (void)err, (void)err_size;
  out[0] = (sweep_output_decl){"via", SWEEP_INT64, 0, {0, 0, 0, 0}};
  out[1] = (sweep_output_decl){"count", SWEEP_INT64, 0, {0, 0, 0, 0}};
  out[2] = (sweep_output_decl){"seed", SWEEP_INT64, 0, {0, 0, 0, 0}};
  out[3] = (sweep_output_decl){"x_seen", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 4;
  return 0;
}

static int init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
                size_t err_size) {
  (void)options, (void)inputs, (void)err, (void)err_size;
  *state = NULL;
  return 0;
}

static int compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* out,
                   char* err, size_t err_size) {
  (void)state, (void)err, (void)err_size;
  *(int64_t*)out[0].data = 0;
  *(int64_t*)out[1].data = 1;
  *(int64_t*)out[2].data = (int64_t)seed;
  *(double*)out[3].data = params[0].number;
  return 0;
}

static int compute_batch(void* state, const sweep_batch* batch, sweep_array* out, int64_t* failed,
                         char* err, size_t err_size) {
  int64_t i;
  (void)state, (void)failed, (void)err, (void)err_size;
  for (i = 0; i < batch->count; ++i) {
    ((int64_t*)out[0].data)[i] = 1;
    ((int64_t*)out[1].data)[i] = batch->count;
    ((int64_t*)out[2].data)[i] = (int64_t)batch->seeds[i];
    ((double*)out[3].data)[i] = batch->params[0].number[i];
  }
  return 0;
}

static void finish(void* state) { (void)state; }

static const sweep_kernel kKernel = {
    SWEEP_KERNEL_ABI,
    "batch_probe",
    "says which entry computed a point (tests only)",
    NULL,
    0,
    kParams,
    1,
    NULL,
    0,
    4,
    outputs,
    init,
    compute,
    finish,
    0,
    compute_batch,
};

const sweep_kernel* sweep_kernel_entry(void) { return &kKernel; }
