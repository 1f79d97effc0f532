/* damped_oscillator: the steady-state response of a driven, damped harmonic oscillator.
 *
 * The tutorial plugin of kernels/examples/README.md: plain C against kernels/kernel.h only,
 * built as a shared library exporting sweep_kernel_entry(). For each point it integrates
 *     x'' + 2 zeta omega0 x' + omega0^2 x = cos(omega t),   x(0) = x'(0) = 0
 * with classical RK4 (`steps` steps per drive period) over `periods` drive periods, lets the
 * first half settle, and projects x onto cos and sin of the drive over the second half (whole
 * periods, so the trapezoid sums are exact for the harmonic). That measures the amplitude and
 * the phase lag of the response, which theory gives as
 *     amplitude = 1 / sqrt((omega0^2 - omega^2)^2 + (2 zeta omega0 omega)^2),
 *     phase     = atan2(2 zeta omega0 omega, omega0^2 - omega^2)   (in [0, pi]).
 * It also returns x at `samples` equally spaced times over the last period: an output whose
 * shape depends on an option, which outputs() checks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/kernel.h"

static const double kPi = 3.14159265358979323846;

enum { OPT_OMEGA0, OPT_STEPS, OPT_PERIODS, OPT_SAMPLES, N_OPTIONS };

static const sweep_option_decl kOptions[N_OPTIONS] = {
    {"omega0", SWEEP_VALUE_NUMBER, {SWEEP_VALUE_NUMBER, 1.0, 0, NULL}, "natural frequency"},
    {"steps",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 200.0, 200, NULL},
     "RK4 steps per drive period"},
    {"periods",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 60.0, 60, NULL},
     "drive periods integrated (the first half settles, the second is measured)"},
    {"samples",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 20.0, 20, NULL},
     "points of x(t) returned over the last period (must divide steps)"},
};

static const sweep_param_decl kParams[] = {
    {"omega", "drive frequency (> 0)"},
    {"zeta", "damping ratio (>= 0)"},
};

typedef struct {
  double omega0;
  long steps, periods, samples;
} oscillator;

static int outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                   size_t err_size) {
  const int64_t steps = options->values[OPT_STEPS].integer;
  const int64_t periods = options->values[OPT_PERIODS].integer;
  const int64_t samples = options->values[OPT_SAMPLES].integer;
  char message[200];
  if (!(options->values[OPT_OMEGA0].number > 0))
    return sweep_fail(err, err_size, "omega0 must be positive");
  if (steps < 8 || periods < 2 || periods % 2 != 0) {
    return sweep_fail(err, err_size, "steps must be at least 8 and periods an even number >= 2");
  }
  if (samples < 1 || steps % samples != 0) {
    snprintf(message, sizeof message, "samples (%lld) must divide steps (%lld)", (long long)samples,
             (long long)steps);
    return sweep_fail(err, err_size, message);
  }
  out[0] = (sweep_output_decl){"amplitude", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[1] = (sweep_output_decl){"phase", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[2] = (sweep_output_decl){"x_last_period", SWEEP_FLOAT64, 1, {samples, 0, 0, 0}};
  *n_out = 3;
  return 0;
}

static int init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
                size_t err_size) {
  oscillator* o = malloc(sizeof *o);
  (void)inputs;
  if (!o) return sweep_fail(err, err_size, "out of memory");
  o->omega0 = options->values[OPT_OMEGA0].number;
  o->steps = (long)options->values[OPT_STEPS].integer;
  o->periods = (long)options->values[OPT_PERIODS].integer;
  o->samples = (long)options->values[OPT_SAMPLES].integer;
  *state = o;
  return 0;
}

/* (x, v)' at time t. */
static void derivative(const oscillator* o, double omega, double zeta, double t, double x, double v,
                       double* dx, double* dv) {
  *dx = v;
  *dv = cos(omega * t) - 2.0 * zeta * o->omega0 * v - o->omega0 * o->omega0 * x;
}

static int compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* out,
                   char* err, size_t err_size) {
  const oscillator* o = state;
  const double omega = params[0].number, zeta = params[1].number;
  const double period = 2.0 * kPi / omega, h = period / (double)o->steps;
  const long total = o->steps * o->periods, measure_from = total / 2;
  double* trace = out[2].data;
  double x = 0, v = 0, a = 0, b = 0;
  long n;
  (void)seed; /* deterministic: no random numbers */
  if (params[0].type == SWEEP_VALUE_STRING || params[1].type == SWEEP_VALUE_STRING)
    return sweep_fail(err, err_size, "omega and zeta must be numbers");
  if (!(omega > 0) || !(zeta >= 0))
    return sweep_fail(err, err_size, "needs omega > 0 and zeta >= 0");
  for (n = 0; n < total; ++n) {
    const double t = (double)n * h;
    double k1x, k1v, k2x, k2v, k3x, k3v, k4x, k4v;
    if (n >= measure_from) { /* sample x(t) before stepping past it */
      a += x * cos(omega * t);
      b += x * sin(omega * t);
      if (n >= total - o->steps && (n - (total - o->steps)) % (o->steps / o->samples) == 0)
        trace[(n - (total - o->steps)) / (o->steps / o->samples)] = x;
    }
    derivative(o, omega, zeta, t, x, v, &k1x, &k1v);
    derivative(o, omega, zeta, t + h / 2, x + h / 2 * k1x, v + h / 2 * k1v, &k2x, &k2v);
    derivative(o, omega, zeta, t + h / 2, x + h / 2 * k2x, v + h / 2 * k2v, &k3x, &k3v);
    derivative(o, omega, zeta, t + h, x + h * k3x, v + h * k3v, &k4x, &k4v);
    x += h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x);
    v += h / 6 * (k1v + 2 * k2v + 2 * k3v + k4v);
  }
  /* x ~ a' cos(wt) + b' sin(wt) = A cos(wt - phase), with a' = 2a/N and b' = 2b/N. */
  a *= 2.0 / (double)(total - measure_from);
  b *= 2.0 / (double)(total - measure_from);
  *(double*)out[0].data = sqrt(a * a + b * b);
  *(double*)out[1].data = atan2(b, a);
  return 0;
}

static void finish(void* state) { free(state); }

static const sweep_kernel kKernel = {
    SWEEP_KERNEL_ABI,
    "damped_oscillator",
    "steady-state amplitude and phase lag of a driven damped oscillator (RK4), and x(t) over the "
    "last period",
    kOptions,
    N_OPTIONS,
    kParams,
    2,
    NULL,
    0,
    3,
    outputs,
    init,
    compute,
    finish,
    SWEEP_KERNEL_IGNORES_SEED, /* flags: it draws no random numbers */
    NULL, /* compute_batch: a point is thousands of RK4 steps; one call per point costs nothing */
};

const sweep_kernel* sweep_kernel_entry(void) { return &kKernel; }

/* Optional: units and long names of the outputs and parameters, for xarray, NCO, CDO and the
 * report's axes. Time is in units of 1/omega0, so every quantity is a pure number ("1"). */
static const sweep_variable_info kVariables[] = {
    {"omega", "1", "drive frequency (in units of omega0)"},
    {"zeta", "1", "damping ratio"},
    {"amplitude", "1", "steady-state amplitude of x"},
    {"phase", "rad", "phase lag of x behind the drive"},
    {"x_last_period", "1", "x over the last drive period"},
};

const sweep_variable_info* sweep_kernel_variables(int* count) {
  *count = (int)(sizeof kVariables / sizeof kVariables[0]);
  return kVariables;
}
