// Tests of kernels/dtype.h: every sweep_dtype's size and name, the round trip, the sentinels for
// what is not a dtype, and the missing values FillMissing writes.
#include "kernels/dtype.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

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

// Every element of every count holds the dtype's missing value, and nothing past the last.
TEST(DtypeTest, FillMissingWritesTheMissingValueIntoEveryElementAndNoFurther) {
  for (int dtype : {SWEEP_FLOAT64, SWEEP_FLOAT32, SWEEP_INT64, SWEEP_INT32, SWEEP_UINT8}) {
    const size_t size = DtypeSize(dtype);
    unsigned char missing[8];
    MissingValue(dtype, missing);
    for (uint64_t elements : {0, 1, 2, 3, 7, 8, 1000, (1 << 17) + 3}) {
      std::vector<unsigned char> data(elements * size + 16, 0x5a);
      FillMissing(data.data(), dtype, elements);
      uint64_t wrong = 0;
      for (uint64_t i = 0; i < elements; ++i)
        wrong += std::memcmp(&data[i * size], missing, size) != 0;
      EXPECT_EQ(wrong, 0u) << DtypeName(dtype) << " x " << elements;
      for (size_t b = elements * size; b < data.size(); ++b)
        ASSERT_EQ(data[b], 0x5a) << DtypeName(dtype) << " x " << elements << ": byte " << b;
    }
  }
}

}  // namespace
}  // namespace sweep
