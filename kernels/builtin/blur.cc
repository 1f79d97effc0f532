// blur: separable Gaussian blur of a 2-D image.
//
// The input `image` (float64, ny x nx, C order) is convolved along each axis with the sampled
// Gaussian w_k = exp(-k^2 / (2 sigma^2)), |k| <= R, R = floor(truncate * sigma + 0.5), normalised
// to sum 1 (sigma = 0, or R = 0, leaves the image unchanged). Outside the image, samples are
// mirrored about the edge with the edge repeated (d c b a | a b c d | d c b a), as
// scipy.ndimage.gaussian_filter(mode="reflect") does, so a constant image stays constant.
// The kernel ignores the seed.
//
// Outputs: mean, min, max and std (population) of the blurred image, and `image_small`, the
// blurred image averaged onto out x out equal cells (area-weighted: kernels/downsample.h).
#include <cmath>
#include <vector>

#include <Eigen/Dense>
#include <iterator>

#include "kernels/builtin/checks.h"
#include "kernels/builtin/downsample.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

using Grid = Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

const sweep_option_decl kOptions[] = {
    {"out",
     SWEEP_VALUE_INTEGER,
     {SWEEP_VALUE_INTEGER, 16, 16, nullptr},
     "image_small is out x out cell averages of the blurred image"},
    {"truncate",
     SWEEP_VALUE_NUMBER,
     {SWEEP_VALUE_NUMBER, 4.0, 0, nullptr},
     "the Gaussian is cut at truncate * sigma"},
};
const sweep_param_decl kParams[] = {{"sigma", "standard deviation of the Gaussian, in pixels"}};
const sweep_input_decl kInputs[] = {{"image", SWEEP_FLOAT64, 2, "image, ny x nx"}};

constexpr int64_t kMaxOut = 4096;
// A radius this large would only blur into a constant; it also bounds the work per point.
constexpr int64_t kMaxRadius = 1 << 20;

struct Options {
  int64_t out;
  double truncate;
};

int ReadOptions(const sweep_options* options, Options* out, char* err, size_t err_size) {
  out->out = options->values[0].integer;
  out->truncate = options->values[1].number;
  if (RequireInRange("option out", out->out, 1, kMaxOut, err, err_size)) return 1;
  if (RequirePositive("option truncate", out->truncate, err, err_size)) return 1;
  return 0;
}

// The index of sample i (any integer) of a line of n samples mirrored with the edge repeated.
int64_t Reflect(int64_t i, int64_t n) {
  const int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

// Convolves `count` lines of length n, line j starting at in[j * line_stride] with samples
// `step` apart, with the symmetric weights w[0..R], writing out in the same layout.
void Convolve(const double* in, double* out, int64_t n, int64_t count, int64_t line_stride,
              int64_t step, const std::vector<double>& w, std::vector<double>* padded) {
  const int64_t radius = static_cast<int64_t>(w.size()) - 1;
  padded->resize(static_cast<size_t>(n + 2 * radius));
  for (int64_t j = 0; j < count; ++j) {
    const double* line = in + j * line_stride;
    for (int64_t i = -radius; i < n + radius; ++i)
      (*padded)[static_cast<size_t>(i + radius)] = line[Reflect(i, n) * step];
    const double* centre = padded->data() + radius;
    double* target = out + j * line_stride;
    for (int64_t i = 0; i < n; ++i) {
      double sum = w[0] * centre[i];
      for (int64_t k = 1; k <= radius; ++k) sum += w[k] * (centre[i - k] + centre[i + k]);
      target[i * step] = sum;
    }
  }
}

struct State {
  Options options;
  const double* image;
  int64_t ny, nx;
  Downsample downsample;
  Grid along_x, blurred;
  std::vector<double> padded;
};

int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
            size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  const char* scalars[] = {"mean", "min", "max", "std"};
  for (int i = 0; i < 4; ++i)
    out[i] = sweep_output_decl{scalars[i], SWEEP_FLOAT64, 0, {0, 0, 0, 0}};
  out[4] = sweep_output_decl{"image_small", SWEEP_FLOAT64, 2, {parsed.out, parsed.out, 0, 0}};
  *n_out = 5;
  return 0;
}

int Init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
         size_t err_size) {
  Options parsed;
  if (ReadOptions(options, &parsed, err, err_size) != 0) return 1;
  const sweep_array& image = inputs[0];
  if (RequireGrid("image", image, err, err_size)) return 1;
  auto* s = new State;
  s->options = parsed;
  s->image = static_cast<const double*>(image.data);
  s->ny = image.shape[0];
  s->nx = image.shape[1];
  s->downsample = Downsample(s->ny, s->nx, parsed.out);
  *state = s;
  return 0;
}

int Compute(void* state, const sweep_value* params, uint64_t, sweep_array* outputs, char* err,
            size_t err_size) {
  State& s = *static_cast<State*>(state);
  if (RequireNumbers(kParams, params, err, err_size)) return 1;
  const double sigma = params[0].number;
  if (RequireNonNegative("sigma", sigma, err, err_size)) return 1;
  const double reach = std::floor(s.options.truncate * sigma + 0.5);
  if (reach > static_cast<double>(kMaxRadius))
    return Fail(err, err_size, "sigma=%g with truncate=%g needs a radius over %lld pixels", sigma,
                s.options.truncate, static_cast<long long>(kMaxRadius));
  const auto radius = static_cast<int64_t>(reach);

  std::vector<double> w(static_cast<size_t>(radius + 1));
  double total = 0;
  for (int64_t k = 0; k <= radius; ++k) {
    // k == 0 is spelled out: with sigma = 0 the formula would give 0/0.
    w[k] = k == 0 ? 1.0 : std::exp(-0.5 * static_cast<double>(k * k) / (sigma * sigma));
    total += k == 0 ? w[k] : 2 * w[k];
  }
  for (double& weight : w) weight /= total;

  s.along_x.resize(s.ny, s.nx);
  s.blurred.resize(s.ny, s.nx);
  Convolve(s.image, s.along_x.data(), s.nx, s.ny, s.nx, 1, w, &s.padded);
  Convolve(s.along_x.data(), s.blurred.data(), s.ny, s.nx, 1, s.nx, w, &s.padded);

  const double mean = s.blurred.mean();
  *static_cast<double*>(outputs[0].data) = mean;
  *static_cast<double*>(outputs[1].data) = s.blurred.minCoeff();
  *static_cast<double*>(outputs[2].data) = s.blurred.maxCoeff();
  *static_cast<double*>(outputs[3].data) = std::sqrt((s.blurred - mean).square().mean());
  s.downsample.Apply(s.blurred, static_cast<double*>(outputs[4].data));
  return 0;
}

void Finish(void* state) { delete static_cast<State*>(state); }

const sweep_kernel kBlur = {
    SWEEP_KERNEL_ABI,
    "blur",
    "separable Gaussian blur of an input image (reflect edges): mean/min/max/std and a "
    "downsampled image",
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

const sweep_kernel* blur_kernel() { return &kBlur; }

// Units where the kernel fixes them (a quantity in the user's own units has a long name only).
const sweep_variable_info* blur_variables(int* count) {
  static const sweep_variable_info kVariables[] = {
      {"sigma", "1", "standard deviation of the Gaussian, in pixels"},
      {"mean", nullptr, "mean of the blurred image"},
      {"min", nullptr, "minimum of the blurred image"},
      {"max", nullptr, "maximum of the blurred image"},
      {"std", nullptr, "standard deviation of the blurred image"},
      {"image_small", nullptr, "blurred image, downsampled"},
  };
  *count = int(std::size(kVariables));
  return kVariables;
}

}  // namespace sweep
