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
//
// Batched (compute_batch), each point is still its own factorisation, computed by the per-point
// code: a batch of lambdas shares the precomputed X^T X, but any other arrangement of the
// arithmetic (one eigendecomposition for all lambdas, one matrix product for all residuals)
// would change the last bits, and both entries must give the same bytes.
#include <cmath>
#include <limits>

#include <Eigen/Dense>
#include <iterator>

#include "kernels/builtin/checks.h"
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

struct Options {
  int64_t features;
  double validation_fraction;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->features = options->values[0].integer;
  out->validation_fraction = options->values[1].number;
  if (RequireInRange("option features", out->features, 1, kMaxFeatures, err, err_size)) return 1;
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
  if (RequireFloat64Array("X", x, 2, err, err_size)) return 1;
  if (RequireFloat64Array("y", y, 1, err, err_size)) return 1;
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
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const double lambda = params[0].number;
  if (RequireNonNegative("lambda", lambda, err, err_size)) return 1;

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

int ComputeBatch(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                 char* err, size_t err_size) {
  sweep_value params[std::size(kParams)];
  sweep_array rows[3];
  for (int64_t i = 0; i < batch->count; ++i) {
    PointOfBatch(*batch, int(std::size(kParams)), i, outputs, 3, params, rows);
    if (Compute(state, params, 0, rows, err, err_size) != 0) {
      *failed = i;
      return 1;
    }
  }
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kRidge = {
    SWEEP_KERNEL_ABI,
    "ridge",
    "ridge regression by Cholesky: coefficients and train/validation mean squared error",
    kOptions,
    int(std::size(kOptions)),
    kParams,
    int(std::size(kParams)),
    kInputs,
    int(std::size(kInputs)),
    3,
    Outputs,
    Init,
    Compute,
    Finish,
    SWEEP_KERNEL_IGNORES_SEED,
    ComputeBatch};

}  // namespace

const sweep_kernel* ridge_kernel() { return &kRidge; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* ridge_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"lambda", nullptr, "L2 regularisation strength"},
      {"coef", nullptr, "fitted coefficients"},
      {"train_mse", nullptr, "mean squared residual over the training rows"},
      {"val_mse", nullptr, "mean squared residual over the validation rows"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
