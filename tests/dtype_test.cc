// Tests of kernels/dtype.h: every sweep_dtype's size and name, the round trip, and the sentinels
// for what is not a dtype.
#include "kernels/dtype.h"

#include <gtest/gtest.h>

namespace sweep {
namespace {

TEST(DtypeTest, SizesAndNames) {
  EXPECT_EQ(DtypeSize(SWEEP_FLOAT64), 8u);
  EXPECT_EQ(DtypeSize(SWEEP_FLOAT32), 4u);
  EXPECT_EQ(DtypeSize(SWEEP_INT64), 8u);
  EXPECT_EQ(DtypeSize(SWEEP_INT32), 4u);
  EXPECT_EQ(DtypeSize(SWEEP_UINT8), 1u);
  EXPECT_STREQ(DtypeName(SWEEP_FLOAT64), "float64");
  EXPECT_STREQ(DtypeName(SWEEP_FLOAT32), "float32");
  EXPECT_STREQ(DtypeName(SWEEP_INT64), "int64");
  EXPECT_STREQ(DtypeName(SWEEP_INT32), "int32");
  EXPECT_STREQ(DtypeName(SWEEP_UINT8), "uint8");
}

TEST(DtypeTest, NamesRoundTrip) {
  for (int d : {SWEEP_FLOAT64, SWEEP_FLOAT32, SWEEP_INT64, SWEEP_INT32, SWEEP_UINT8}) {
    EXPECT_EQ(DtypeFromName(DtypeName(d)), d);
  }
}

TEST(DtypeTest, UnknownValuesAndNames) {
  EXPECT_EQ(DtypeSize(0), 0u);
  EXPECT_EQ(DtypeSize(6), 0u);
  EXPECT_STREQ(DtypeName(0), "?");
  EXPECT_EQ(DtypeFromName("float16"), 0);
  EXPECT_EQ(DtypeFromName("Float64"), 0);
  EXPECT_EQ(DtypeFromName("?"), 0);
  EXPECT_EQ(DtypeFromName(""), 0);
}

}  // namespace
}  // namespace sweep
