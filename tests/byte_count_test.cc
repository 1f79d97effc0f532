#include "io/byte_count.h"

#include <gtest/gtest.h>

namespace sweep {
namespace {

// The formatter every size message uses: a refusal of a 29.7 MiB output on a filesystem with
// 20 MiB free said "needs 0.0 GiB but ... has 0.0 GiB free", in a unit that hid both numbers.
TEST(ByteCountTest, EverySizeShowsItsNumber) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(1023), "1023 B");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
  EXPECT_EQ(FormatBytes(31142707), "29.7 MiB");
  EXPECT_EQ(FormatBytes(uint64_t{20} << 20), "20.0 MiB");
  EXPECT_EQ(FormatBytes(uint64_t{16052} << 30), "15.7 TiB");
  EXPECT_EQ(FormatBytes(uint64_t{1} << 51), "2.0 PiB");
  EXPECT_EQ(FormatBytes(UINT64_MAX), "16.0 EiB");
}

}  // namespace
}  // namespace sweep
