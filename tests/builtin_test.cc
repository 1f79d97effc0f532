// Tests of kernels/builtin/checks.h: each check passes what it should, and fails with exactly the
// message the built-in kernels have always given (kernels_test.cc and the CLI tests match some
// of them), truncated safely into a small buffer.
#include "kernels/builtin/checks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

namespace sweep {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

TEST(BuiltinTest, FailFormatsAndTruncates) {
  char err[64];
  EXPECT_EQ(Fail(err, sizeof err, "x=%d y=%s", 3, "four"), 1);
  EXPECT_STREQ(err, "x=3 y=four");
  char small[6];
  EXPECT_EQ(Fail(small, sizeof small, "abcdefghij"), 1);
  EXPECT_STREQ(small, "abcde");
  EXPECT_EQ(Fail(nullptr, 0, "nothing is written"), 1);
}

TEST(BuiltinTest, RequireNumbersNamesTheFirstString) {
  const sweep_param_decl decls[] = {{"a", ""}, {"b", ""}, {"c", ""}};
  sweep_value params[3] = {{SWEEP_VALUE_NUMBER, 1, 0, nullptr},
                           {SWEEP_VALUE_INTEGER, 2, 2, nullptr},
                           {SWEEP_VALUE_NUMBER, 3, 0, nullptr}};
  char err[128] = "";
  EXPECT_EQ(RequireNumbers(decls, params, err, sizeof err), 0);
  EXPECT_STREQ(err, "");
  params[1] = {SWEEP_VALUE_STRING, 0, 0, "two"};
  params[2] = {SWEEP_VALUE_STRING, 0, 0, "three"};
  EXPECT_EQ(RequireNumbers(decls, params, err, sizeof err), 1);
  EXPECT_STREQ(err, "parameter b must be a number, got \"two\"");
  // Only the first n are looked at.
  EXPECT_EQ(RequireNumbers(decls, 1, params, err, sizeof err), 0);
}

TEST(BuiltinTest, IntegerRanges) {
  char err[128];
  EXPECT_EQ(RequireInRange("option L", 2, 2, 4096, err, sizeof err), 0);
  EXPECT_EQ(RequireInRange("option L", 4096, 2, 4096, err, sizeof err), 0);
  EXPECT_EQ(RequireInRange("option L", 4097, 2, 4096, err, sizeof err), 1);
  EXPECT_STREQ(err, "option L must be in [2, 4096], got 4097");
  EXPECT_EQ(RequireInRange("option L", -5, 2, 4096, err, sizeof err), 1);
  EXPECT_STREQ(err, "option L must be in [2, 4096], got -5");
  EXPECT_EQ(RequireAtLeast("option steps", 0, 0, err, sizeof err), 0);
  EXPECT_EQ(RequireAtLeast("option steps", 0, 1, err, sizeof err), 1);
  EXPECT_STREQ(err, "option steps must be >= 1, got 0");
  EXPECT_EQ(RequireAtLeast("option n", INT64_MIN, 0, err, sizeof err), 1);
  EXPECT_STREQ(err, "option n must be >= 0, got -9223372036854775808");
}

TEST(BuiltinTest, PositiveAndNonNegativeRejectNaNAndInfinity) {
  char err[128];
  EXPECT_EQ(RequirePositive("T", 0.5, err, sizeof err), 0);
  EXPECT_EQ(RequirePositive("T", 0.0, err, sizeof err), 1);
  EXPECT_STREQ(err, "T must be > 0, got 0");
  EXPECT_EQ(RequirePositive("option dt", kNaN, err, sizeof err), 1);
  EXPECT_STREQ(err, "option dt must be > 0, got nan");
  EXPECT_EQ(RequirePositive("T", INFINITY, err, sizeof err), 1);
  EXPECT_STREQ(err, "T must be > 0, got inf");
  EXPECT_EQ(RequireNonNegative("alpha", 0.0, err, sizeof err), 0);
  EXPECT_EQ(RequireNonNegative("alpha", -1e-300, err, sizeof err), 1);
  EXPECT_STREQ(err, "alpha must be >= 0, got -1e-300");
  EXPECT_EQ(RequireNonNegative("alpha", kNaN, err, sizeof err), 1);
  EXPECT_EQ(RequireNonNegative("alpha", INFINITY, err, sizeof err), 1);
}

TEST(BuiltinTest, InputArrays) {
  double data[6] = {};
  char err[128];
  const sweep_array matrix{data, SWEEP_FLOAT64, 2, {2, 3, 0, 0}};
  EXPECT_EQ(RequireFloat64Array("X", matrix, 2, err, sizeof err), 0);
  EXPECT_EQ(RequireFloat64Array("y", matrix, 1, err, sizeof err), 1);
  EXPECT_STREQ(err, "input y must be a float64 array of rank 1, got rank 2");
  const sweep_array floats{data, SWEEP_FLOAT32, 2, {2, 3, 0, 0}};
  EXPECT_EQ(RequireFloat64Array("X", floats, 2, err, sizeof err), 1);
  EXPECT_STREQ(err, "input X must be a float64 array of rank 2, got rank 2");

  EXPECT_EQ(RequireGrid("field", matrix, err, sizeof err), 0);
  const sweep_array empty{data, SWEEP_FLOAT64, 2, {0, 3, 0, 0}};
  EXPECT_EQ(RequireGrid("field", empty, err, sizeof err), 1);
  EXPECT_STREQ(err, "input field is empty (0 x 3)");
  const sweep_array line{data, SWEEP_FLOAT64, 1, {6, 0, 0, 0}};
  EXPECT_EQ(RequireGrid("image", line, err, sizeof err), 1);
  EXPECT_STREQ(err, "input image must be a float64 array of rank 2, got rank 1");
}

}  // namespace
}  // namespace sweep
