// Downsample: a 2-D field averaged onto out x out equal cells, for kernels whose outputs include
// a small picture of a large field (heat2d's field_small, blur's image_small).
//
// Output cell (i, j) is the area-weighted mean of the input cells it overlaps: the ny x nx field
// and the out x out grid cover the same square, and an input cell split by a cell border counts
// in each part by the fraction of its area there. So the mean of the output equals the field's
// mean, and a field smaller than out x out is repeated. The weights are ratios of integers,
// computed once by the constructor; Apply() is two matrix products, W_y F W_x^T.
#pragma once

#include <cstdint>

#include <Eigen/Dense>

namespace sweep {

class Downsample {
 public:
  using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

  Downsample() = default;
  // REQUIRES: ny, nx, out >= 1.
  Downsample(int64_t ny, int64_t nx, int64_t out)
      : out_(out), average_y_(Weights(ny, out)), average_x_(Weights(nx, out)) {}

  // Writes the out x out cell means of `field` (an ny x nx Eigen array expression) into
  // `out[0..out*out)`, C order.
  template <typename Field>
  void Apply(const Eigen::ArrayBase<Field>& field, double* out) const {
    Eigen::Map<Matrix> small(out, out_, out_);
    small.noalias() = average_y_ * field.matrix() * average_x_.transpose();
  }

 private:
  // W (out x n) such that W * v averages v onto `out` equal cells.
  static Matrix Weights(int64_t n, int64_t out);

  int64_t out_ = 0;
  Matrix average_y_, average_x_;  // out x ny, out x nx
};

}  // namespace sweep
