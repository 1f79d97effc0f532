// option_mc: Monte Carlo price of a European call under geometric Brownian motion.
//
// Each path draws Z ~ N(0, 1) and the terminal price S_T = S0 exp((r - vol^2/2) T + vol sqrt(T) Z);
// the price is exp(-r T) times the mean payoff max(S_T - K, 0), and stderr its standard error.
// With antithetic = 1 the paths come in pairs (Z, -Z) and stderr is computed from the pair
// means, which are independent; `paths` then counts both members and must be even.
// Normals come from Box-Muller on xoshiro256** seeded by splitmix64 from the point's seed
// (kernels/random.h), so a point's result does not depend on the C++ standard library.
// Batched (compute_batch), each point runs the per-point code with its own seed: its paths
// dominate, so a batch saves only the calls.
#include <cmath>
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"
#include "kernels/random.h"

namespace sweep {
namespace {

const sweep_option_decl kOptions[] = {
    {"paths",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 100000, 100000, nullptr},
     "simulated paths (even when antithetic)"},
    {"antithetic",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 1, 1, nullptr},
     "1: pair every path with its mirror image (variance reduction); 0: independent paths"},
};
const sweep_param_decl kParams[] = {
    {"S0", "spot price (> 0)"},
    {"K", "strike (> 0)"},
    {"r", "continuously compounded risk-free rate"},
    {"vol", "volatility (>= 0)"},
    {"T", "time to expiry (>= 0)"},
};

constexpr int64_t kMaxPaths = int64_t{1} << 40;

// Standard normals by Box-Muller on pairs of UniformOpen() draws; the second of each pair is kept
// for the next call.
class Normals {
 public:
  explicit Normals(uint64_t seed) : random_(seed) {}
  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = random_.UniformOpen();
    const double u2 = random_.UniformOpen();
    const NormalPair pair = BoxMuller(u1, u2);
    spare_ = pair.second;
    has_spare_ = true;
    return pair.first;
  }

 private:
  Xoshiro256 random_;
  double spare_ = 0;
  bool has_spare_ = false;
};

struct Options {
  int64_t paths;
  bool antithetic;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->paths = options->values[0].integer;
  const int64_t antithetic = options->values[1].integer;
  if (antithetic != 0 && antithetic != 1)
    return Fail(err, err_size, "option antithetic must be 0 or 1, got %lld",
                static_cast<long long>(antithetic));
  out->antithetic = antithetic == 1;
  if (out->paths < 2 || out->paths > kMaxPaths)
    return Fail(err, err_size, "option paths must be in [2, 2^40], got %lld",
                static_cast<long long>(out->paths));
  if (out->antithetic && out->paths % 2 != 0)
    return Fail(err, err_size, "option paths must be even with antithetic = 1, got %lld",
                static_cast<long long>(out->paths));
  return 0;
}

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  out[0] = sweep_output_decl{"price", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[1] = sweep_output_decl{"stderr", SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 2;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array*, char* err,
         size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  *state = new Options(parsed);
  return 0;
}

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  const Options& options = *static_cast<const Options*>(state);
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const double s0 = params[0].number, strike = params[1].number, rate = params[2].number,
               vol = params[3].number, expiry = params[4].number;
  if (!(s0 > 0) || !(strike > 0) || !(vol >= 0) || !(expiry >= 0) || !std::isfinite(rate) ||
      !std::isfinite(s0 + strike + vol + expiry))
    return Fail(err, err_size,
                "need S0 > 0, K > 0, vol >= 0, T >= 0, all finite; got S0=%g K=%g r=%g vol=%g "
                "T=%g",
                s0, strike, rate, vol, expiry);

  const double drift = (rate - 0.5 * vol * vol) * expiry;
  const double spread = vol * std::sqrt(expiry);
  auto payoff = [&](double z) {
    return std::fmax(s0 * std::exp(drift + spread * z) - strike, 0.0);
  };
  Normals normals(seed);
  // A sample is one path, or one antithetic pair's mean. Offsets from the first sample keep the
  // variance accurate when it is tiny next to the mean.
  const int64_t samples = options.antithetic ? options.paths / 2 : options.paths;
  double first = 0, sum = 0, sum_sq = 0;
  for (int64_t i = 0; i < samples; ++i) {
    const double z = normals.Next();
    const double sample = options.antithetic ? 0.5 * (payoff(z) + payoff(-z)) : payoff(z);
    if (i == 0) first = sample;
    sum += sample - first;
    sum_sq += (sample - first) * (sample - first);
  }
  const double n = static_cast<double>(samples);
  const double mean_offset = sum / n;
  const double variance =
      n > 1 ? std::fmax(0.0, (sum_sq - n * mean_offset * mean_offset) / (n - 1)) : 0.0;
  const double discount = std::exp(-rate * expiry);
  *static_cast<double*>(outputs[0].data) = discount * (first + mean_offset);
  *static_cast<double*>(outputs[1].data) = discount * std::sqrt(variance / n);
  return 0;
}

int ComputeBatch(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                 char* err, size_t err_size) {
  sweep_value params[std::size(kParams)];
  sweep_array rows[2];
  for (int64_t i = 0; i < batch->count; ++i) {
    PointOfBatch(*batch, int(std::size(kParams)), i, outputs, 2, params, rows);
    if (Compute(state, params, batch->seeds[i], rows, err, err_size) != 0) {
      *failed = i;
      return 1;
    }
  }
  return 0;
}

void Finish(void* state) { delete static_cast<Options*>(state); }

const sweep_kernel kOptionMc = {
    SWEEP_KERNEL_ABI,
    "option_mc",
    "Monte Carlo price of a European call under geometric Brownian motion, with its standard "
    "error",
    kOptions,
    int(std::size(kOptions)),
    kParams,
    int(std::size(kParams)),
    nullptr,
    0,
    2,
    Outputs,
    Init,
    Compute,
    Finish,
    0,
    ComputeBatch};

}  // namespace

const sweep_kernel* option_mc_kernel() { return &kOptionMc; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* option_mc_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"S0", nullptr, "spot price"},
      {"K", nullptr, "strike price"},
      {"r", nullptr, "continuously compounded risk-free rate (per unit of T)"},
      {"vol", nullptr, "volatility (per square root of a unit of T)"},
      {"T", nullptr, "time to expiry"},
      {"price", nullptr, "Monte Carlo price of the European call (units of S0)"},
      {"stderr", nullptr, "standard error of the price"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
