#include "kernels/builtin/downsample.h"

#include <algorithm>

namespace sweep {

// Cell i covers [i n, (i+1) n) and source cell r covers [r out, (r+1) out) in units of 1/out, so
// overlaps are exact integers.
Downsample::Matrix Downsample::Weights(int64_t n, int64_t out) {
  Matrix w = Matrix::Zero(out, n);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t lo = i * n, hi = (i + 1) * n;
    for (int64_t r = lo / out; r < n && r * out < hi; ++r) {
      const int64_t overlap = std::min(hi, (r + 1) * out) - std::max(lo, r * out);
      if (overlap > 0) w(i, r) = static_cast<double>(overlap) / static_cast<double>(n);
    }
  }
  return w;
}

}  // namespace sweep
