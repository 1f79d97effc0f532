/* rosenbrock: the Rosenbrock function and its gradient, a batched kernel (kernel ABI 2).
 *
 * The batched example of kernels/examples/README.md: a point costs a few multiplications, so
 * calling a function per point would cost more than the point. Its compute_batch() gets a run of
 * consecutive points as columns (x[i], y[i]) and their block of output rows, and computes them in
 * one loop, which the compiler vectorises. compute() computes one point with the same code,
 * so both entries give the same bytes (sweep uses compute_batch(); tests compare the two).
 *     f(x, y) = (a - x)^2 + b (y - x^2)^2
 *     grad    = [-2 (a - x) - 4 b x (y - x^2),  2 b (y - x^2)]
 * It draws no random numbers, and says so (SWEEP_KERNEL_IGNORES_SEED): sweep then derives no
 * seeds for it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernel.h"

static const sweep_option_decl kOptions[] = {
    {"a", SWEEP_VALUE_NUMBER, {SWEEP_VALUE_NUMBER, 1.0, 0, NULL}, "the minimum's x (and y = a^2)"},
    {"b", SWEEP_VALUE_NUMBER, {SWEEP_VALUE_NUMBER, 100.0, 0, NULL}, "the valley's steepness"},
};
static const sweep_param_decl kParams[] = {{"x", "first coordinate"}, {"y", "second coordinate"}};

typedef struct {
  double a, b;
} coefficients;

static int outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                   size_t err_size) {
  (void)options, (void)err, (void)err_size;
  out[0] = (sweep_output_decl){"f", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[1] = (sweep_output_decl){"grad", SWEEP_FLOAT64, 1, {2, 0, 0, 0}};
  *n_out = 2;
  return 0;
}

static int init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
                size_t err_size) {
  coefficients* c = malloc(sizeof *c);
  (void)inputs;
  if (!c) return sweep_fail(err, err_size, "out of memory");
  c->a = options->values[0].number;
  c->b = options->values[1].number;
  *state = c;
  return 0;
}

/* One point: the code both entries share, so they cannot disagree. */
static inline void point(const coefficients* c, double x, double y, double* f, double* grad) {
  const double dx = c->a - x, valley = y - x * x;
  *f = dx * dx + c->b * valley * valley;
  grad[0] = -2.0 * dx - 4.0 * c->b * x * valley;
  grad[1] = 2.0 * c->b * valley;
}

static int fail_at(double x, double y, char* err, size_t err_size) {
  char message[128];
  snprintf(message, sizeof message, "x and y must be finite, got x=%g y=%g", x, y);
  return sweep_fail(err, err_size, message);
}

static int compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* out,
                   char* err, size_t err_size) {
  const double x = params[0].number, y = params[1].number;
  (void)seed;
  if (params[0].type == SWEEP_VALUE_STRING || params[1].type == SWEEP_VALUE_STRING)
    return sweep_fail(err, err_size, "x and y must be numbers");
  if (!isfinite(x) || !isfinite(y)) return fail_at(x, y, err, err_size);
  point(state, x, y, (double*)out[0].data, (double*)out[1].data);
  return 0;
}

/* A run of batch->count points: params[j] is a column (x[i], y[i]); out[0] points at the first
 * point's f and out[1] at its grad row, the rows of the next points following (f[i], grad[2i],
 * grad[2i + 1]). A point that fails names itself through *failed. */
static int compute_batch(void* state, const sweep_batch* batch, sweep_array* out, int64_t* failed,
                         char* err, size_t err_size) {
  const double* x = batch->params[0].number;
  const double* y = batch->params[1].number;
  double* f = out[0].data;
  double* grad = out[1].data;
  int64_t i;
  /* A column has one type for all its points: checking the first point checks them all. */
  if (batch->params[0].type == SWEEP_VALUE_STRING || batch->params[1].type == SWEEP_VALUE_STRING) {
    *failed = 0;
    return sweep_fail(err, err_size, "x and y must be numbers");
  }
  for (i = 0; i < batch->count; ++i) {
    if (!isfinite(x[i]) || !isfinite(y[i])) {
      *failed = i;
      return fail_at(x[i], y[i], err, err_size);
    }
  }
  for (i = 0; i < batch->count; ++i) point(state, x[i], y[i], &f[i], &grad[2 * i]);
  return 0;
}

static void finish(void* state) { free(state); }

static const sweep_kernel kKernel = {
    SWEEP_KERNEL_ABI,
    "rosenbrock",
    "the Rosenbrock function and its gradient (a batched kernel)",
    kOptions,
    2,
    kParams,
    2,
    NULL,
    0,
    2,
    outputs,
    init,
    compute,
    finish,
    SWEEP_KERNEL_IGNORES_SEED,
    compute_batch,
};

const sweep_kernel* sweep_kernel_entry(void) { return &kKernel; }
