// heat2d: explicit diffusion of a 2-D field, du/dt = alpha (d2u/dx2 + d2u/dy2).
//
// The input `field` (float64, ny x nx, C order, row = y) is the initial condition. Each point
// advances it `steps` steps of the forward-time centred-space (FTCS) 5-point scheme
//   u' = u + r (u_east + u_west + u_north + u_south - 4 u),   r = alpha dt / dx^2,
// on a grid of spacing dx in both directions, with `boundary`:
//   periodic  the field wraps around in both directions (the sum of the field is conserved);
//   fixed     the outermost rows and columns keep their initial values (Dirichlet).
// FTCS is stable only for r <= 1/4; since alpha is a swept parameter, compute() rejects an
// unstable alpha per point and names the largest stable one. The kernel ignores the seed.
//
// Outputs: mean, min, max and variance (population, divided by nx*ny) of the final field, and
// `field_small`, the final field averaged onto out x out equal cells: output cell (i, j) is the
// area-weighted mean of the input cells it overlaps (kernels/downsample.h), so its mean equals
// the field's mean and a field smaller than out x out is repeated.
#include <cmath>
#include <cstring>

#include <Eigen/Dense>
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/builtin/downsample.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

using Grid = Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

const sweep_option_decl kOptions[] = {
    {"steps", SWEEP_VALUE_INTEGER, {SWEEP_VALUE_INTEGER, 100, 100, nullptr}, "FTCS time steps"},
    {"dx", SWEEP_VALUE_NUMBER, {SWEEP_VALUE_NUMBER, 1.0, 0, nullptr}, "grid spacing"},
    {"dt", SWEEP_VALUE_NUMBER, {SWEEP_VALUE_NUMBER, 0.1, 0, nullptr}, "time step"},
    {"boundary",
     SWEEP_VALUE_STRING,
     {SWEEP_VALUE_STRING, 0, 0, "periodic"},
     "periodic | fixed (edges held at their initial values)"},
    {"out",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 16, 16, nullptr},
     "field_small is out x out cell averages of the final field"},
};
const sweep_param_decl kParams[] = {{"alpha", "diffusivity; needs alpha dt / dx^2 <= 1/4"}};
const sweep_input_decl kInputs[] = {
    {"field", SWEEP_FLOAT64, 2, "initial field, ny x nx (row = y)"}};

constexpr int64_t kMaxOut = 4096;

struct Options {
  int64_t steps;
  double dx, dt;
  bool periodic;
  int64_t out;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->steps = options->values[0].integer;
  out->dx = options->values[1].number;
  out->dt = options->values[2].number;
  const char* boundary = options->values[3].string;
  out->out = options->values[4].integer;
  if (RequireAtLeast("option steps", out->steps, 0, err, err_size)) return 1;
  if (RequirePositive("option dx", out->dx, err, err_size)) return 1;
  if (RequirePositive("option dt", out->dt, err, err_size)) return 1;
  if (std::strcmp(boundary, "periodic") == 0) {
    out->periodic = true;
  } else if (std::strcmp(boundary, "fixed") == 0) {
    out->periodic = false;
  } else {
    return Fail(err, err_size, "option boundary must be periodic or fixed, got \"%s\"", boundary);
  }
  if (RequireInRange("option out", out->out, 1, kMaxOut, err, err_size)) return 1;
  return 0;
}

struct State {
  Options options;
  const double* field;
  int64_t ny, nx;
  Downsample downsample;
  Grid u, next;  // the field with a one-cell frame (periodic) or its edges (fixed)
};

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  const char* scalars[] = {"mean", "min", "max", "variance"};
  for (int i = 0; i < 4; ++i)
    out[i] = sweep_output_decl{scalars[i], SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[4] = sweep_output_decl{"field_small", SWEEP_FLOAT64, 2, {parsed.out, parsed.out, 0, 0}};
  *n_out = 5;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
         size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  const sweep_array& field = inputs[0];
  if (RequireGrid("field", field, err, err_size)) return 1;
  auto* s = new State;
  s->options = parsed;
  s->field = static_cast<const double*>(field.data);
  s->ny = field.shape[0];
  s->nx = field.shape[1];
  s->downsample = Downsample(s->ny, s->nx, parsed.out);
  *state = s;
  return 0;
}

// One FTCS step of the cells inside the frame of `u` into `next`; the frame itself is untouched.
void Step(const Grid& u, double r, Grid* next) {
  const Eigen::Index ny = u.rows() - 2, nx = u.cols() - 2;
  if (ny <= 0 || nx <= 0) return;
  next->block(1, 1, ny, nx) =
      u.block(1, 1, ny, nx) +
      r * (u.block(0, 1, ny, nx) + u.block(2, 1, ny, nx) + u.block(1, 0, ny, nx) +
           u.block(1, 2, ny, nx) - 4.0 * u.block(1, 1, ny, nx));
}

// Copies the opposite edges of the interior into the frame, so the stencil sees a torus.
void WrapFrame(Grid* u) {
  const Eigen::Index ny = u->rows() - 2, nx = u->cols() - 2;
  u->block(0, 1, 1, nx) = u->block(ny, 1, 1, nx);
  u->block(ny + 1, 1, 1, nx) = u->block(1, 1, 1, nx);
  u->block(1, 0, ny, 1) = u->block(1, nx, ny, 1);
  u->block(1, nx + 1, ny, 1) = u->block(1, 1, ny, 1);
}

int Compute(void* state, const sweep_value* params, uint64_t, sweep_array* outputs, char* err,
            size_t err_size) {
  State& s = *static_cast<State*>(state);
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const double alpha = params[0].number;
  if (RequireNonNegative("alpha", alpha, err, err_size)) return 1;
  const double h2 = s.options.dx * s.options.dx;
  const double r = alpha * s.options.dt / h2;
  if (r > 0.25)
    return Fail(err, err_size,
                "alpha=%g is unstable: alpha*dt/dx^2 = %g > 0.25 (dt=%g, dx=%g); the largest "
                "stable alpha is dx^2/(4 dt) = %g",
                alpha, r, s.options.dt, s.options.dx, h2 / (4.0 * s.options.dt));

  Eigen::Map<const Grid> initial(s.field, s.ny, s.nx);
  const Eigen::Index frame = s.options.periodic ? 1 : 0;
  s.u.resize(s.ny + 2 * frame, s.nx + 2 * frame);
  s.u.block(frame, frame, s.ny, s.nx) = initial;
  s.next = s.u;
  for (int64_t n = 0; n < s.options.steps; ++n) {
    if (s.options.periodic) WrapFrame(&s.u);
    Step(s.u, r, &s.next);
    s.u.swap(s.next);
  }
  const auto final_field = s.u.block(frame, frame, s.ny, s.nx);

  const double mean = final_field.mean();
  *static_cast<double*>(outputs[0].data) = mean;
  *static_cast<double*>(outputs[1].data) = final_field.minCoeff();
  *static_cast<double*>(outputs[2].data) = final_field.maxCoeff();
  *static_cast<double*>(outputs[3].data) = (final_field - mean).square().mean();
  s.downsample.Apply(final_field, static_cast<double*>(outputs[4].data));
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kHeat2d = {
    SWEEP_KERNEL_ABI,
    "heat2d",
    "2-D diffusion of an input field by explicit FTCS steps: final mean/min/max/variance and a "
    "downsampled field",
    kOptions,
    int(std::size(kOptions)),
    kParams,
    int(std::size(kParams)),
    kInputs,
    int(std::size(kInputs)),
    5,
    Outputs,
    Init,
    Compute,
    Finish,
    SWEEP_KERNEL_IGNORES_SEED,
    nullptr};

}  // namespace

const sweep_kernel* heat2d_kernel() { return &kHeat2d; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* heat2d_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"alpha", nullptr, "diffusivity (grid units squared per unit of dt)"},
      {"mean", nullptr, "mean of the final field"},
      {"min", nullptr, "minimum of the final field"},
      {"max", nullptr, "maximum of the final field"},
      {"variance", nullptr, "variance of the final field"},
      {"field_small", nullptr, "final field, downsampled"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
