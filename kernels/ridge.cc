// ridge: ridge regression of y on the columns of X, one regularisation strength per point.
//
// Inputs X (float64, n x p) and y (float64, n). The first n - floor(n * validation_fraction) rows
// train, the remaining rows validate. Each point solves (X_t^T X_t + lambda I) coef = X_t^T y_t
// by Cholesky (Eigen LLT); there is no intercept, so centre the data or give X a column of ones.
// Outputs coef [p], train_mse and val_mse (mean squared residual over the rows; NaN when no row
// validates). init() forms X_t^T X_t and X_t^T y_t once per worker, so a point costs one p x p
// factorisation and one pass over X for the errors.
//
// The output shape cannot depend on the input (outputs() sees only the options), so the option
// `features` declares p and init() checks that X has that many columns. X and y are read in
// place: the views init() receives must stay mapped until finish().
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>

#include <Eigen/Dense>

#include "kernels/kernel.h"

namespace sweep {
namespace {

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

const sweep_option_decl kOptions[] = {
    {"features",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 8, 8, nullptr},
     "columns of X (the length of coef); must match the input"},
    {"validation_fraction",
     SWEEP_VALUE_NUMBER,
     {SWEEP_VALUE_NUMBER, 0.2, 0, nullptr},
     "fraction of the rows, taken from the end, held out for val_mse"},
};
const sweep_param_decl kParams[] = {{"lambda", "L2 regularisation strength (>= 0)"}};
const sweep_input_decl kInputs[] = {
    {"X", SWEEP_FLOAT64, 2, "design matrix, n x p"},
    {"y", SWEEP_FLOAT64, 1, "targets, n"},
};

constexpr int64_t kMaxFeatures = 100000;

__attribute__((format(printf, 3, 4))) int Fail(char* err, size_t err_size, const char* format,
                                               ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(err, err_size, format, args);
  va_end(args);
  return 1;
}

struct Options {
  int64_t features;
  double validation_fraction;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->features = options->values[0].integer;
  out->validation_fraction = options->values[1].number;
  if (out->features < 1 || out->features > kMaxFeatures)
    return Fail(err, err_size, "option features must be in [1, %lld], got %lld",
                static_cast<long long>(kMaxFeatures), static_cast<long long>(out->features));
  if (!(out->validation_fraction >= 0 && out->validation_fraction < 1))
    return Fail(err, err_size, "option validation_fraction must be in [0, 1), got %g",
                out->validation_fraction);
  return 0;
}

struct State {
  Eigen::Map<const Matrix> X;
  Eigen::Map<const Eigen::VectorXd> y;
  Eigen::Index n_train;
  Matrix gram;             // X_t^T X_t
  Eigen::VectorXd moment;  // X_t^T y_t
};

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  out[0] = sweep_output_decl{"coef", SWEEP_FLOAT64, 1, {parsed.features, 0, 0, 0}};
  out[1] = sweep_output_decl{"train_mse", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[2] = sweep_output_decl{"val_mse", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 3;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
         size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  const sweep_array& x = inputs[0];
  const sweep_array& y = inputs[1];
  if (x.dtype != SWEEP_FLOAT64 || x.rank != 2)
    return Fail(err, err_size, "input X must be a float64 array of rank 2, got rank %d", x.rank);
  if (y.dtype != SWEEP_FLOAT64 || y.rank != 1)
    return Fail(err, err_size, "input y must be a float64 array of rank 1, got rank %d", y.rank);
  const int64_t n = x.shape[0], p = x.shape[1];
  if (p != parsed.features)
    return Fail(err, err_size, "input X has %lld columns but option features is %lld",
                static_cast<long long>(p), static_cast<long long>(parsed.features));
  if (y.shape[0] != n)
    return Fail(err, err_size, "input X has %lld rows but y has %lld", static_cast<long long>(n),
                static_cast<long long>(y.shape[0]));
  const auto n_val =
      static_cast<int64_t>(std::floor(static_cast<double>(n) * parsed.validation_fraction));
  if (n - n_val < 1)
    return Fail(err, err_size, "no training rows: X has %lld rows and validation_fraction is %g",
                static_cast<long long>(n), parsed.validation_fraction);
  auto* s = new State{Eigen::Map<const Matrix>(static_cast<const double*>(x.data), n, p),
                      Eigen::Map<const Eigen::VectorXd>(static_cast<const double*>(y.data), n),
                      n - n_val,
                      {},
                      {}};
  const auto train = s->X.topRows(s->n_train);
  s->gram = train.transpose() * train;
  s->moment = train.transpose() * s->y.head(s->n_train);
  *state = s;
  return 0;
}

int Compute(void* state, const sweep_value* params, uint64_t, sweep_array* outputs, char* err,
            size_t err_size) {
  const State& s = *static_cast<const State*>(state);
  if (params[0].type == SWEEP_VALUE_STRING)
    return Fail(err, err_size, "parameter lambda must be a number, got \"%s\"", params[0].string);
  const double lambda = params[0].number;
  if (!(lambda >= 0) || !std::isfinite(lambda))
    return Fail(err, err_size, "lambda must be >= 0, got %g", lambda);

  Matrix system = s.gram;
  system.diagonal().array() += lambda;
  Eigen::LLT<Matrix> cholesky(system);
  if (cholesky.info() != Eigen::Success)
    return Fail(err, err_size,
                "X^T X + lambda I is not positive definite at lambda=%g (the training columns "
                "of X are linearly dependent; use lambda > 0)",
                lambda);
  Eigen::Map<Eigen::VectorXd> coef(static_cast<double*>(outputs[0].data), s.X.cols());
  coef = cholesky.solve(s.moment);

  const Eigen::Index n = s.X.rows(), n_val = n - s.n_train;
  const Eigen::VectorXd residual = s.y - s.X * coef;
  *static_cast<double*>(outputs[1].data) =
      residual.head(s.n_train).squaredNorm() / static_cast<double>(s.n_train);
  *static_cast<double*>(outputs[2].data) =
      n_val > 0 ? residual.tail(n_val).squaredNorm() / static_cast<double>(n_val)
                : std::numeric_limits<double>::quiet_NaN();
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kRidge = {
    SWEEP_KERNEL_ABI,
    "ridge",
    "ridge regression by Cholesky: coefficients and train/validation mean squared error",
    kOptions,
    2,
    kParams,
    1,
    kInputs,
    2,
    3,
    Outputs,
    Init,
    Compute,
    Finish};

}  // namespace

const sweep_kernel* ridge_kernel() { return &kRidge; }

}  // namespace sweep
