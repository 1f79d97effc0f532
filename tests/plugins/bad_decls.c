/* bad_decls: a plugin whose outputs() declares, by its option `mistake`, one thing sweep must
 * refuse before anything runs, naming the plugin and the output (driver/binding.h):
 *   0 none (one output `y`), 1 an output without a name (NULL), 2 an empty name, 3 `a/b`,
 *   4 a point's bytes beyond 64 bits, 5 `chunks`, 6 `y` twice, 7 `replicate` (a dimension of a
 *   sweep with `repeat`), 8 2^63 bytes a point, beyond 64 bits over the sweep's points. */
#include <string.h>

#include "kernels/kernel.h"

static const sweep_option_decl kOptions[] = {
    {"mistake", SWEEP_VALUE_INTEGER, {SWEEP_VALUE_INTEGER, 0, 0, NULL}, "which mistake (0-8)"}};
static const sweep_param_decl kParams[] = {{"x", "any number"}};

static int outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                   size_t err_size) {
  (void)err, (void)err_size;
  const int64_t mistake = options->values[0].integer;
  memset(out, 0, 2 * sizeof *out);
  out[0].name = "y";
  out[0].dtype = SWEEP_FLOAT64;
  out[1] = out[0];
  out[1].name = "z";
  *n_out = 2;
  switch (mistake) {
    case 1:
      out[1].name = NULL;
      break;
    case 2:
      out[1].name = "";
      break;
    case 3:
      out[1].name = "a/b";
      break;
    case 4:
      out[1].rank = 2;
      out[1].shape[0] = (int64_t)1 << 40;
      out[1].shape[1] = (int64_t)1 << 40;
      break;
    case 5:
      out[1].name = "chunks";
      break;
    case 6:
      out[1].name = "y";
      break;
    case 7:
      out[1].name = "replicate";
      break;
    case 8:
      out[1].rank = 1;
      out[1].shape[0] = (int64_t)1 << 60;
      break;
  }
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
  (void)state, (void)seed, (void)err, (void)err_size;
  *(double*)out[0].data = params[0].number;
  memset(out[1].data, 0, sweep_row_bytes(&out[1]));
  return 0;
}

static const sweep_kernel kKernel = {SWEEP_KERNEL_ABI,
                                     "bad_decls",
                                     "declares what sweep must refuse",
                                     kOptions,
                                     1,
                                     kParams,
                                     1,
                                     NULL,
                                     0,
                                     2,
                                     outputs,
                                     init,
                                     compute,
                                     NULL,
                                     0,
                                     NULL};

const sweep_kernel* sweep_kernel_entry(void) { return &kKernel; }
