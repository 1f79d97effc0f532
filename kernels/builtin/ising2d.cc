// ising2d: the 2-D Ising model (J = 1, k_B = 1, no field) by single-spin Metropolis Monte Carlo.
//
// An L x L periodic lattice starts cold (every spin +1). A sweep is L*L attempted flips, each at
// a site drawn uniformly at random, accepted with probability min(1, exp(-dE / T)). The first
// `burn_in` sweeps are discarded; after each of the next `sweeps` sweeps the energy per spin e and
// the absolute magnetisation per spin |m| are sampled. Outputs, with N = L*L:
//   energy          <e>
//   magnetisation   <|m|>
//   susceptibility  N (<m^2> - <|m|>^2) / T     (per spin; |m| because a finite lattice flips)
//   heat_capacity   N (<e^2> - <e>^2) / T^2     (per spin)
// The energy counts each site's right and lower bond, E = -sum_i s_i (s_right + s_down); for
// L = 2 a pair of sites is then joined by two bonds, as a torus of two sites has.
// Random numbers come from xoshiro256** seeded by splitmix64 from the point's seed
// (kernels/random.h), so results do not depend on the C++ standard library.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

#include "kernels/builtin/checks.h"
#include "kernels/kernel.h"
#include "kernels/random.h"

namespace sweep {
namespace {

const sweep_option_decl kOptions[] = {
    {"L", SWEEP_VALUE_INTEGER, {SWEEP_VALUE_INTEGER, 32, 32, nullptr}, "lattice side"},
    {"sweeps",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 2000, 2000, nullptr},
     "measured sweeps (L*L attempted flips each)"},
    {"burn_in",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 500, 500, nullptr},
     "sweeps discarded before measuring"},
};
const sweep_param_decl kParams[] = {{"T", "temperature (J / k_B); T_c = 2.269"}};

constexpr int64_t kMaxL = 4096;

struct Options {
  int64_t L, sweeps, burn_in;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->L = options->values[0].integer;
  out->sweeps = options->values[1].integer;
  out->burn_in = options->values[2].integer;
  if (RequireInRange("option L", out->L, 2, kMaxL, err, err_size)) return 1;
  if (RequireAtLeast("option sweeps", out->sweeps, 1, err, err_size)) return 1;
  if (RequireAtLeast("option burn_in", out->burn_in, 0, err, err_size)) return 1;
  return 0;
}

struct State {
  Options options;
  std::vector<int8_t> spins;
};

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  const char* names[] = {"energy", "magnetisation", "susceptibility", "heat_capacity"};
  for (int i = 0; i < 4; ++i) out[i] = sweep_output_decl{names[i], SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  *n_out = 4;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array*, char* err,
         size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  *state = new State{parsed, {}};
  return 0;
}

int Compute(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs, char* err,
            size_t err_size) {
  State& s = *static_cast<State*>(state);
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const double T = params[0].number;
  if (RequirePositive("T", T, err, err_size)) return 1;

  const int64_t L = s.options.L, N = L * L;
  s.spins.assign(static_cast<size_t>(N), 1);
  int8_t* spin = s.spins.data();
  int64_t energy = -2 * N, magnetisation = N;
  // A flip changes the energy by dE = 2 s h, h the sum of the four neighbours: 4 or 8 when
  // positive.
  const double accept4 = std::exp(-4.0 / T), accept8 = std::exp(-8.0 / T);
  Xoshiro256 random(seed);

  // Sums of the samples' offsets from the first sample keep the variances accurate when they are
  // tiny next to the means (a cold lattice, large L).
  double first_e = 0, first_m = 0, sum_e = 0, sum_e2 = 0, sum_m = 0, sum_m2 = 0;
  const int64_t total = s.options.burn_in + s.options.sweeps;
  for (int64_t sweep = 0; sweep < total; ++sweep) {
    for (int64_t attempt = 0; attempt < N; ++attempt) {
      const int64_t site = static_cast<int64_t>(random.Below(static_cast<uint64_t>(N)));
      const int64_t y = site / L, x = site % L;
      const int64_t right = y * L + (x + 1 == L ? 0 : x + 1);
      const int64_t left = y * L + (x == 0 ? L - 1 : x - 1);
      const int64_t down = (y + 1 == L ? 0 : y + 1) * L + x;
      const int64_t up = (y == 0 ? L - 1 : y - 1) * L + x;
      const int de = 2 * spin[site] * (spin[right] + spin[left] + spin[down] + spin[up]);
      if (de <= 0 || random.Uniform() < (de == 4 ? accept4 : accept8)) {
        spin[site] = static_cast<int8_t>(-spin[site]);
        energy += de;
        magnetisation += 2 * spin[site];
      }
    }
    if (sweep < s.options.burn_in) continue;
    const double e = static_cast<double>(energy) / static_cast<double>(N);
    const double m = std::abs(static_cast<double>(magnetisation)) / static_cast<double>(N);
    if (sweep == s.options.burn_in) {
      first_e = e;
      first_m = m;
    }
    sum_e += e - first_e;
    sum_e2 += (e - first_e) * (e - first_e);
    sum_m += m - first_m;
    sum_m2 += (m - first_m) * (m - first_m);
  }
  const double samples = static_cast<double>(s.options.sweeps);
  const double de_mean = sum_e / samples, dm_mean = sum_m / samples;
  const double e = first_e + de_mean, m = first_m + dm_mean;
  // Variances can come out a rounding error below zero when every sample is equal.
  const double var_e = std::max(0.0, sum_e2 / samples - de_mean * de_mean);
  const double var_m = std::max(0.0, sum_m2 / samples - dm_mean * dm_mean);
  *static_cast<double*>(outputs[0].data) = e;
  *static_cast<double*>(outputs[1].data) = m;
  *static_cast<double*>(outputs[2].data) = static_cast<double>(N) * var_m / T;
  *static_cast<double*>(outputs[3].data) = static_cast<double>(N) * var_e / (T * T);
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kIsing2d = {
    SWEEP_KERNEL_ABI,
    "ising2d",
    "2-D Ising model on an L x L torus by Metropolis Monte Carlo: energy, |magnetisation|, "
    "susceptibility and heat capacity per spin",
    kOptions,
    int(std::size(kOptions)),
    kParams,
    int(std::size(kParams)),
    nullptr,
    0,
    4,
    Outputs,
    Init,
    Compute,
    Finish,
    0,
    nullptr};

}  // namespace

const sweep_kernel* ising2d_kernel() { return &kIsing2d; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* ising2d_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"T", "1", "temperature (J / k_B)"},
      {"energy", "1", "mean energy per spin (J)"},
      {"magnetisation", "1", "mean absolute magnetisation per spin"},
      {"susceptibility", "1", "magnetic susceptibility per spin"},
      {"heat_capacity", "1", "heat capacity per spin (k_B)"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
