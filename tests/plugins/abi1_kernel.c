/* abi1_kernel: a plugin as it was written for kernel ABI 1, built twice by the tests: against
 * tests/plugins/abi1/kernels/kernel.h (a copy of the header of ABI 1, whose sweep_kernel ends at
 * finish) and against today's kernels/kernel.h. sweep must load the first and give the same
 * bytes with both.
 *
 * It reads a parameter of every type and its seed, and writes an output of two dtypes and a row:
 *   value = x * n + strlen(label) + u,   u = (seed >> 11) * 2^-53 in [0, 1)
 *   code  = 10 * n + strlen(label)        (int64)
 *   trace = [x, n, u]
 * Its table is laid out with two words after it that are not function pointers: a loader that
 * read ABI 2's fields (flags, compute_batch) from an ABI 1 table would find them and crash. */
#include <string.h>

#include "kernels/kernel.h"

static const sweep_param_decl kParams[] = {
    {"x", "a number"}, {"n", "an integer"}, {"label", "a string"}};

static int outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                   size_t err_size) {
  (void)options, (void)err, (void)err_size;
  out[0] = (sweep_output_decl){"value", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[1] = (sweep_output_decl){"code", SWEEP_INT64, 0, {0, 0, 0, 0}};
  out[2] = (sweep_output_decl){"trace", SWEEP_FLOAT64, 1, {3, 0, 0, 0}};
  *n_out = 3;
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
  const double u = (double)(seed >> 11) * 0x1.0p-53;
  double* trace = out[2].data;
  (void)state;
  if (params[0].type != SWEEP_VALUE_NUMBER || params[1].type != SWEEP_VALUE_INTEGER ||
      params[2].type != SWEEP_VALUE_STRING || params[1].number != (double)params[1].integer)
    return sweep_fail(err, err_size, "x, n and label must be a number, an integer and a string");
  *(double*)out[0].data =
      params[0].number * (double)params[1].integer + (double)strlen(params[2].string) + u;
  *(int64_t*)out[1].data = 10 * params[1].integer + (int64_t)strlen(params[2].string);
  trace[0] = params[0].number;
  trace[1] = params[1].number;
  trace[2] = u;
  return 0;
}

static void finish(void* state) { (void)state; }

static const struct {
  sweep_kernel table;
  const char* after[2];
} kLaidOut = {
    {SWEEP_KERNEL_ABI, "abi1_kernel", "a kernel written for ABI 1", NULL, 0, kParams, 3, NULL, 0, 3,
     outputs, init, compute, finish},
    {"not flags", "not a function"},
};

const sweep_kernel* sweep_kernel_entry(void) { return &kLaidOut.table; }
