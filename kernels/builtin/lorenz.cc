// lorenz: the Lorenz-63 system, its time-averaged z and its largest Lyapunov exponent.
//
//   dx/dt = sigma (y - x),  dy/dt = x (rho - z) - y,  dz/dt = x y - beta z
//
// Every point starts from (1, 1, 1) and integrates with classical fourth-order Runge-Kutta at a
// fixed step `dt`: first `transient` time units that are discarded, then `steps` steps over which
// z is averaged (one sample after each step) and the Lyapunov exponent is measured. The kernel is
// deterministic and ignores the point's seed.
//
// The Lyapunov exponent follows Benettin et al. (1980) with the tangent (variational) equation
// dv/dt = J(x) v integrated alongside the trajectory by the same RK4 stages, starting from
// v = (1, 1, 1)/sqrt(3) and renormalised after every step; the exponent is the sum of the
// logarithms of the growth factors over the measured time. At sigma=10, rho=28, beta=8/3 it
// converges to about 0.906 as steps * dt grows (the estimate over a few tens of time units
// scatters by about 0.1).
#include <cmath>
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

const sweep_option_decl kOptions[] = {
    {"steps",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 20000, 20000, nullptr},
     "RK4 steps over which z_mean and lyapunov are measured"},
    {"dt", SWEEP_VALUE_NUMBER, {SWEEP_VALUE_NUMBER, 0.001, 0, nullptr}, "RK4 time step"},
    {"transient",
     SWEEP_VALUE_NUMBER,
     {SWEEP_VALUE_NUMBER, 5.0, 0, nullptr},
     "time integrated and discarded before measuring (same units as dt)"},
};
const sweep_param_decl kParams[] = {
    {"sigma", "Prandtl number"},
    {"rho", "Rayleigh number (relative)"},
    {"beta", "geometric factor"},
};

struct Options {
  int64_t steps;
  double dt;
  int64_t transient_steps;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->steps = options->values[0].integer;
  out->dt = options->values[1].number;
  const double transient = options->values[2].number;
  if (RequireAtLeast("option steps", out->steps, 1, err, err_size)) return 1;
  if (RequirePositive("option dt", out->dt, err, err_size)) return 1;
  if (RequireNonNegative("option transient", transient, err, err_size)) return 1;
  out->transient_steps = static_cast<int64_t>(std::llround(transient / out->dt));
  return 0;
}

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  out[0] = sweep_output_decl{"state", SWEEP_FLOAT64, 1, {3, 0, 0, 0}};
  out[1] = sweep_output_decl{"z_mean", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[2] = sweep_output_decl{"lyapunov", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 3;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array*, char* err,
         size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  *state = new Options(parsed);
  return 0;
}

// The trajectory u[0..3) and a tangent vector u[3..6) advance together.
struct Lorenz {
  double sigma, rho, beta;

  void Derivative(const double* u, double* du) const {
    const double x = u[0], y = u[1], z = u[2];
    du[0] = sigma * (y - x);
    du[1] = x * (rho - z) - y;
    du[2] = x * y - beta * z;
    const double vx = u[3], vy = u[4], vz = u[5];
    du[3] = sigma * (vy - vx);
    du[4] = (rho - z) * vx - vy - x * vz;
    du[5] = y * vx + x * vy - beta * vz;
  }

  void Step(double* u, double dt) const {
    double k1[6], k2[6], k3[6], k4[6], t[6];
    Derivative(u, k1);
    for (int i = 0; i < 6; ++i) t[i] = u[i] + 0.5 * dt * k1[i];
    Derivative(t, k2);
    for (int i = 0; i < 6; ++i) t[i] = u[i] + 0.5 * dt * k2[i];
    Derivative(t, k3);
    for (int i = 0; i < 6; ++i) t[i] = u[i] + dt * k3[i];
    Derivative(t, k4);
    for (int i = 0; i < 6; ++i) u[i] += dt / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
  }
};

// Rescales the tangent vector to unit length and returns the log of the factor it had grown by.
double Renormalise(double* u) {
  const double norm = std::sqrt(u[3] * u[3] + u[4] * u[4] + u[5] * u[5]);
  for (int i = 3; i < 6; ++i) u[i] /= norm;
  return std::log(norm);
}

int Compute(void* state, const sweep_value* params, uint64_t, sweep_array* outputs, char* err,
            size_t err_size) {
  const Options& options = *static_cast<const Options*>(state);
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const Lorenz system{params[0].number, params[1].number, params[2].number};
  const double v0 = 1.0 / std::sqrt(3.0);
  double u[6] = {1.0, 1.0, 1.0, v0, v0, v0};
  for (int64_t n = 0; n < options.transient_steps; ++n) {
    system.Step(u, options.dt);
    Renormalise(u);
  }
  double z_sum = 0.0, log_growth = 0.0;
  for (int64_t n = 0; n < options.steps; ++n) {
    system.Step(u, options.dt);
    log_growth += Renormalise(u);
    z_sum += u[2];
  }
  if (!std::isfinite(u[0] + u[1] + u[2]))
    return Fail(err, err_size,
                "the trajectory diverged (sigma=%g, rho=%g, beta=%g, dt=%g); try a smaller dt",
                system.sigma, system.rho, system.beta, options.dt);
  double* final_state = static_cast<double*>(outputs[0].data);
  for (int i = 0; i < 3; ++i) final_state[i] = u[i];
  *static_cast<double*>(outputs[1].data) = z_sum / static_cast<double>(options.steps);
  *static_cast<double*>(outputs[2].data) =
      log_growth / (static_cast<double>(options.steps) * options.dt);
  return 0;
}

void Finish(void* state) { delete static_cast<Options*>(state); }

const sweep_kernel kLorenz = {
    SWEEP_KERNEL_ABI,
    "lorenz",
    "Lorenz-63 attractor by RK4 from (1,1,1): final state, time-averaged z, largest Lyapunov "
    "exponent",
    kOptions,
    int(std::size(kOptions)),
    kParams,
    int(std::size(kParams)),
    nullptr,
    0,
    3,
    Outputs,
    Init,
    Compute,
    Finish,
    SWEEP_KERNEL_IGNORES_SEED,
    nullptr};

}  // namespace

const sweep_kernel* lorenz_kernel() { return &kLorenz; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* lorenz_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"sigma", "1", "Prandtl number"},
      {"rho", "1", "Rayleigh number (relative)"},
      {"beta", "1", "geometric factor"},
      {"state", "1", "state (x, y, z) at the end of the run"},
      {"z_mean", "1", "time mean of z"},
      // The model's time has no unit: the exponent is a rate per unit of it.
      {"lyapunov", "1", "largest Lyapunov exponent"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
