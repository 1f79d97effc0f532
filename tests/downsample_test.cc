// Tests of kernels/downsample.h: area-weighted cell means checked by hand on grids that align,
// grids that split cells, fields smaller than the output, and the preserved mean.
#include "kernels/builtin/downsample.h"

#include <gtest/gtest.h>

#include <vector>

namespace sweep {
namespace {

using Grid = Eigen::Array<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> Apply(const Grid& field, int64_t out) {
  std::vector<double> small(static_cast<size_t>(out * out), -1.0);
  Downsample(field.rows(), field.cols(), out).Apply(field, small.data());
  return small;
}

TEST(DownsampleTest, AlignedCellsAreBlockMeans) {
  Grid field(4, 4);
  field << 1, 2, 3, 4,  //
      5, 6, 7, 8,       //
      9, 10, 11, 12,    //
      13, 14, 15, 16;
  EXPECT_EQ(Apply(field, 2), (std::vector<double>{3.5, 5.5, 11.5, 13.5}));
  EXPECT_EQ(Apply(field, 1), (std::vector<double>{8.5}));
}

TEST(DownsampleTest, SplitCellsCountByTheirArea) {
  // Three columns onto two cells: cell 0 is 2/3 of column 0 and 1/3 of column 1.
  Grid field(1, 3);
  field << 3, 6, 9;
  const std::vector<double> small = Apply(field, 2);
  EXPECT_DOUBLE_EQ(small[0], 2.0 / 3 * 3 + 1.0 / 3 * 6);
  EXPECT_DOUBLE_EQ(small[1], 1.0 / 3 * 6 + 2.0 / 3 * 9);
  EXPECT_DOUBLE_EQ(small[2], small[0]);  // one row repeated
  EXPECT_DOUBLE_EQ(small[3], small[1]);
}

TEST(DownsampleTest, SmallFieldIsRepeatedAndMeanIsKept) {
  Grid one(1, 1);
  one << 2.5;
  EXPECT_EQ(Apply(one, 3), std::vector<double>(9, 2.5));

  Grid field(7, 5);
  for (Eigen::Index i = 0; i < field.size(); ++i) field.data()[i] = double(i * i % 11) - 3.0;
  const std::vector<double> small = Apply(field, 3);
  double mean = 0;
  for (double v : small) mean += v / 9;
  EXPECT_NEAR(mean, field.mean(), 1e-14);
}

TEST(DownsampleTest, ABlockOfALargerArrayIsItsOwnField) {
  // heat2d downsamples the interior of a framed grid.
  Grid framed = Grid::Constant(4, 4, 100.0);
  framed.block(1, 1, 2, 2) << 1, 2, 3, 4;
  std::vector<double> small(9);
  Downsample(2, 2, 3).Apply(framed.block(1, 1, 2, 2), small.data());
  EXPECT_EQ(small, (std::vector<double>{1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4}));
}

}  // namespace
}  // namespace sweep
