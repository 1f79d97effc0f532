#include "driver/space.h"

#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "io/error.h"
#include "tests/seeds.h"

namespace sweep {
namespace {

// A point's seed as documented in driver/space.h: XXH3-64, seeded with the master seed, of the
// point's index (without its replicate) and its replicate, 8 little-endian bytes each.
uint64_t Xxh3OfPointAndReplicate(uint64_t master, uint64_t point, uint64_t replicate) {
  unsigned char bytes[16];
  for (int b = 0; b < 8; ++b) {
    bytes[b] = static_cast<unsigned char>(point >> (8 * b));
    bytes[8 + b] = static_cast<unsigned char>(replicate >> (8 * b));
  }
  return XXH3_64bits_withSeed(bytes, sizeof bytes, master);
}

// Configs are built directly here, not parsed: Space depends only on the Config structs.

Value Num(double x) {
  Value v;
  v.type = Value::Type::kNumber;
  v.number = x;
  return v;
}

Value Int(int64_t x) {
  Value v;
  v.type = Value::Type::kInteger;
  v.integer = x;
  v.number = double(x);
  return v;
}

Value Str(std::string s) {
  Value v;
  v.type = Value::Type::kString;
  v.string = std::move(s);
  return v;
}

// Each parameter gets its own line in an imaginary sweep.yaml, so diagnostics can be checked.
int next_line = 10;

AxisSpec Axis(std::string name, AxisSpec::Kind kind) {
  AxisSpec a;
  a.name = std::move(name);
  a.kind = kind;
  a.where = SourceLocation{"sweep.yaml", next_line++, 3};
  return a;
}

AxisSpec Linspace(std::string name, double start, double stop, int64_t count) {
  AxisSpec a = Axis(std::move(name), AxisSpec::Kind::kLinspace);
  a.start = start;
  a.stop = stop;
  a.count = count;
  return a;
}

AxisSpec Logspace(std::string name, double start, double stop, int64_t count) {
  AxisSpec a = Linspace(std::move(name), start, stop, count);
  a.kind = AxisSpec::Kind::kLogspace;
  return a;
}

AxisSpec Values(std::string name, std::vector<Value> values) {
  AxisSpec a = Axis(std::move(name), AxisSpec::Kind::kValues);
  a.values = std::move(values);
  return a;
}

AxisSpec Range(std::string name, int64_t start, int64_t stop, int64_t step = 1) {
  AxisSpec a = Axis(std::move(name), AxisSpec::Kind::kRange);
  a.range_start = start;
  a.range_stop = stop;
  a.range_step = step;
  return a;
}

AxisSpec Constant(std::string name, Value value) {
  AxisSpec a = Axis(std::move(name), AxisSpec::Kind::kConstant);
  a.values = {std::move(value)};
  return a;
}

AxisSpec Uniform(std::string name, double low, double high) {
  AxisSpec a = Axis(std::move(name), AxisSpec::Kind::kUniform);
  a.start = low;
  a.stop = high;
  return a;
}

AxisSpec LogUniform(std::string name, double low, double high) {
  AxisSpec a = Uniform(std::move(name), low, high);
  a.kind = AxisSpec::Kind::kLogUniform;
  return a;
}

Config Grid(std::vector<AxisSpec> parameters, uint64_t seed = 42) {
  Config c;
  c.file = "sweep.yaml";
  c.name = "test";
  c.seed = seed;
  c.parameters = std::move(parameters);
  return c;
}

Config Sampled(SamplingSpec::Method method, int64_t n, std::vector<AxisSpec> parameters,
               uint64_t seed = 42) {
  Config c = Grid(std::move(parameters), seed);
  c.sampling.method = method;
  c.sampling.n = n;
  c.sampling.where = SourceLocation{"sweep.yaml", 5, 11};
  return c;
}

std::vector<sweep_value> Resolve(const Space& space, uint64_t point) {
  std::vector<sweep_value> values(space.parameter_names().size());
  space.Resolve(point, values.data());
  return values;
}

double NumberAt(const Space& space, uint64_t point, int parameter) {
  return Resolve(space, point)[parameter].number;
}

// The ConfigError Space(config) throws; fails the test if it throws nothing.
ConfigError ErrorOf(const Config& config) {
  try {
    Space space(config);
  } catch (const ConfigError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a ConfigError";
  return ConfigError({});
}

// ---------------------------------------------------------------------------------------------
// Axes

TEST(SpaceAxes, LinspaceMatchesNumpyWithExactEndpoints) {
  Space space(Grid({Linspace("rho", 0, 50, 201)}));
  ASSERT_EQ(space.points(), 201u);
  ASSERT_EQ(space.dimensions().size(), 1u);
  EXPECT_EQ(space.dimensions()[0].name, "rho");
  EXPECT_EQ(space.parameter_type(0), Value::Type::kNumber);
  EXPECT_EQ(NumberAt(space, 0, 0), 0.0);
  EXPECT_EQ(NumberAt(space, 1, 0), 0.25);
  EXPECT_EQ(NumberAt(space, 77, 0), 19.25);
  EXPECT_EQ(NumberAt(space, 199, 0), 49.75);
  EXPECT_EQ(NumberAt(space, 200, 0), 50.0);
  EXPECT_EQ(Resolve(space, 3)[0].type, SWEEP_VALUE_NUMBER);

  // numpy 1.24: [x.hex() for x in numpy.linspace(0.1, 0.7, 7)] and linspace(-3.3, 1e-3, 13).
  const double tenths[] = {0x1.999999999999ap-4, 0x1.999999999999ap-3, 0x1.3333333333333p-2,
                           0x1.999999999999ap-2, 0x1.0000000000000p-1, 0x1.3333333333333p-1,
                           0x1.6666666666666p-1};
  for (int k = 0; k < 7; ++k) EXPECT_EQ(internal::Linspace(0.1, 0.7, 7, k), tenths[k]) << k;
  const double odd[] = {-0x1.a666666666666p+1, -0x1.833078263ab59p+1, -0x1.5ffa89e60f04cp+1,
                        -0x1.3cc49ba5e3540p+1, -0x1.198ead65b7a32p+1, -0x1.ecb17e4b17e4bp+0,
                        -0x1.a645a1cac0832p+0, -0x1.5fd9c54a69218p+0, -0x1.196de8ca11bfep+0,
                        -0x1.a604189374bc8p-1, -0x1.192c5f92c5f94p-1, -0x1.18a94d242e6c0p-2,
                        0x1.0624dd2f1a9fcp-10};
  for (int k = 0; k < 13; ++k) EXPECT_EQ(internal::Linspace(-3.3, 1e-3, 13, k), odd[k]) << k;

  EXPECT_EQ(internal::Linspace(7.0, 9.0, 1, 0), 7.0);  // one value: the start
  for (int k = 0; k < 4; ++k) EXPECT_EQ(internal::Linspace(2.5, 2.5, 4, k), 2.5);
}

TEST(SpaceAxes, LogspaceIsTenToTheLinspace) {
  Space space(Grid({Logspace("beta", -1, 1, 5)}));
  ASSERT_EQ(space.points(), 5u);
  // Correctly rounded 10^x (glibc pow; Python's 10.0 ** x). numpy.logspace agrees except where
  // its AVX-512 power is an ulp off (it gives 0.09999999999999999 for 10^-1).
  const double expected[] = {0.1, 0.31622776601683794, 1, 3.1622776601683795, 10};
  for (uint64_t k = 0; k < 5; ++k) EXPECT_EQ(NumberAt(space, k, 0), expected[k]) << k;

  Space wide(Grid({Logspace("k", -3, 2.5, 12)}));
  const double decades[] = {0x1.0624dd2f1a9fcp-10, 0x1.9e7c6e43390b7p-9, 0x1.47ae147ae147bp-7,
                            0x1.030dc4ea03a72p-5,  0x1.999999999999ap-4, 0x1.43d136248490fp-2,
                            0x1.0000000000000p+0,  0x1.94c583ada5b53p+1, 0x1.4000000000000p+3,
                            0x1.f9f6e4990f227p+4,  0x1.9000000000000p+6, 0x1.3c3a4edfa9759p+8};
  for (uint64_t k = 0; k < 12; ++k) EXPECT_EQ(NumberAt(wide, k, 0), decades[k]) << k;
}

TEST(SpaceAxes, StringValuesPointIntoTheSpace) {
  std::vector<sweep_value> values(1);
  const char* first = nullptr;
  {
    Config config = Grid({Values("method", {Str("euler"), Str("rk4"), Str("dopri5")})});
    Space space(config);
    config = Config();  // the Space owns its strings, not the config
    ASSERT_EQ(space.points(), 3u);
    EXPECT_EQ(space.parameter_type(0), Value::Type::kString);
    const char* expected[] = {"euler", "rk4", "dopri5"};
    for (uint64_t k = 0; k < 3; ++k) {
      space.Resolve(k, values.data());
      EXPECT_EQ(values[0].type, SWEEP_VALUE_STRING);
      EXPECT_STREQ(values[0].string, expected[k]);
    }
    space.Resolve(0, values.data());
    first = values[0].string;
    space.Resolve(0, values.data());
    EXPECT_EQ(values[0].string, first);  // the same storage every time, nothing allocated
    EXPECT_STREQ(space.Coordinate(0, 2).string, "dopri5");
  }
}

TEST(SpaceAxes, IntegerListsStayIntegersAndMixedListsBecomeNumbers) {
  Space space(Grid(
      {Values("n", {Int(3), Int(-7), Int(int64_t{1} << 60)}), Values("x", {Int(1), Num(2.5)})}));
  EXPECT_EQ(space.parameter_type(0), Value::Type::kInteger);
  EXPECT_EQ(space.parameter_type(1), Value::Type::kNumber);
  std::vector<sweep_value> v = Resolve(space, 2);  // n index 1, x index 0
  EXPECT_EQ(v[0].type, SWEEP_VALUE_INTEGER);
  EXPECT_EQ(v[0].integer, -7);
  EXPECT_EQ(v[0].number, -7.0);
  EXPECT_EQ(v[1].type, SWEEP_VALUE_NUMBER);  // the integer 1 in a list with 2.5
  EXPECT_EQ(v[1].number, 1.0);
  v = Resolve(space, 5);
  EXPECT_EQ(v[0].integer, int64_t{1} << 60);
  EXPECT_EQ(v[1].number, 2.5);
}

TEST(SpaceAxes, RangeExcludesStopAndTakesNegativeSteps) {
  Space space(Grid({Range("n", 0, 100, 5)}));
  EXPECT_EQ(space.points(), 20u);
  EXPECT_EQ(space.parameter_type(0), Value::Type::kInteger);
  EXPECT_EQ(Resolve(space, 19)[0].integer, 95);
  EXPECT_EQ(Resolve(space, 19)[0].type, SWEEP_VALUE_INTEGER);

  Space ceil(Grid({Range("n", 0, 10, 3)}));  // 0 3 6 9: ceil(10 / 3) values
  ASSERT_EQ(ceil.points(), 4u);
  EXPECT_EQ(Resolve(ceil, 3)[0].integer, 9);

  Space down(Grid({Range("n", 10, -3, -4)}));  // 10 6 2 -2
  ASSERT_EQ(down.points(), 4u);
  const int64_t expected[] = {10, 6, 2, -2};
  for (uint64_t k = 0; k < 4; ++k) {
    EXPECT_EQ(Resolve(down, k)[0].integer, expected[k]);
    EXPECT_EQ(Resolve(down, k)[0].number, double(expected[k]));
    EXPECT_EQ(down.Coordinate(0, k).integer, expected[k]);
  }

  // The widest range there is: counted and stepped without overflow.
  const int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
  Space wide(Grid({Range("n", lo, hi, int64_t{1} << 62)}));
  ASSERT_EQ(wide.points(), 4u);
  EXPECT_EQ(Resolve(wide, 0)[0].integer, lo);
  EXPECT_EQ(Resolve(wide, 2)[0].integer, 0);
  EXPECT_EQ(Resolve(wide, 3)[0].integer, int64_t{1} << 62);
  Space wide_down(Grid({Range("n", hi, lo, lo)}));  // step -2^63: hi, -1
  ASSERT_EQ(wide_down.points(), 2u);
  EXPECT_EQ(Resolve(wide_down, 1)[0].integer, -1);
}

TEST(SpaceAxes, ConstantsAreParametersButNotDimensions) {
  Space space(Grid({Constant("dt", Num(0.001)), Range("n", 0, 3), Constant("steps", Int(20000)),
                    Constant("scheme", Str("rk4"))}));
  ASSERT_EQ(space.dimensions().size(), 1u);
  EXPECT_EQ(space.dimensions()[0].name, "n");
  EXPECT_EQ(space.points(), 3u);
  EXPECT_EQ(space.parameter_names(), (std::vector<std::string>{"dt", "n", "steps", "scheme"}));
  EXPECT_EQ(space.dimension_of(0), -1);
  EXPECT_EQ(space.dimension_of(1), 0);
  EXPECT_EQ(space.parameter_type(0), Value::Type::kNumber);
  EXPECT_EQ(space.parameter_type(2), Value::Type::kInteger);
  EXPECT_EQ(space.parameter_type(3), Value::Type::kString);
  for (uint64_t p = 0; p < 3; ++p) {
    std::vector<sweep_value> v = Resolve(space, p);
    EXPECT_EQ(v[0].number, 0.001);
    EXPECT_EQ(v[1].integer, int64_t(p));
    EXPECT_EQ(v[2].type, SWEEP_VALUE_INTEGER);
    EXPECT_EQ(v[2].integer, 20000);
    EXPECT_STREQ(v[3].string, "rk4");
  }

  Space only_constants(Grid({Constant("dt", Num(0.5))}));  // one point, no dimension
  EXPECT_EQ(only_constants.points(), 1u);
  EXPECT_TRUE(only_constants.dimensions().empty());
  EXPECT_EQ(NumberAt(only_constants, 0, 0), 0.5);
  EXPECT_EQ(space.FindParameter("steps"), 2);
  EXPECT_EQ(space.FindParameter("nope"), -1);
}

// ---------------------------------------------------------------------------------------------
// Dimensions, order, zip, repeat

TEST(SpaceOrder, PointsAreInCOrderOverThreeDimensions) {
  Space space(Grid(
      {Range("a", 0, 2), Values("b", {Str("x"), Str("y"), Str("z")}), Linspace("c", 0, 3, 4)}));
  ASSERT_EQ(space.points(), 24u);
  const char* b_values[] = {"x", "y", "z"};
  for (uint64_t a = 0; a < 2; ++a) {
    for (uint64_t b = 0; b < 3; ++b) {
      for (uint64_t c = 0; c < 4; ++c) {
        const uint64_t point = a * 12 + b * 4 + c;
        std::vector<sweep_value> v = Resolve(space, point);
        EXPECT_EQ(v[0].integer, int64_t(a)) << point;
        EXPECT_STREQ(v[1].string, b_values[b]) << point;
        EXPECT_EQ(v[2].number, double(c)) << point;
      }
    }
  }
  std::vector<std::string> names;
  for (const Dimension& d : space.dimensions()) names.push_back(d.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(SpaceOrder, ZipGroupSharesOneDimensionWhereItsFirstMemberStands) {
  // parameters: a, n, rho, dt (constant), sigma; zip: [[sigma, n]] (listed in another order).
  Config config =
      Grid({Values("a", {Int(1), Int(2)}), Range("n", 0, 30, 10), Linspace("rho", 0, 1, 2),
            Constant("dt", Num(0.1)), Values("sigma", {Str("lo"), Str("mid"), Str("hi")})});
  config.zip = {{"sigma", "n"}};
  config.zip_where = {SourceLocation{"sweep.yaml", 3, 6}};
  Space space(config);
  ASSERT_EQ(space.dimensions().size(), 3u);
  EXPECT_EQ(space.dimensions()[0].name, "a");
  EXPECT_EQ(space.dimensions()[1].name, "sigma_n");  // at n's position, named in group order
  EXPECT_EQ(space.dimensions()[1].size, 3u);
  EXPECT_EQ(space.dimensions()[1].parameters, (std::vector<int>{4, 1}));
  EXPECT_EQ(space.dimensions()[2].name, "rho");
  EXPECT_EQ(space.dimension_of(1), 1);
  EXPECT_EQ(space.dimension_of(4), 1);
  EXPECT_EQ(space.points(), 12u);

  const char* sigmas[] = {"lo", "mid", "hi"};
  for (uint64_t point = 0; point < 12; ++point) {
    const uint64_t a = point / 6, zipped = point / 2 % 3, rho = point % 2;
    std::vector<sweep_value> v = Resolve(space, point);
    EXPECT_EQ(v[0].integer, int64_t(a + 1));
    EXPECT_EQ(v[1].integer, int64_t(10 * zipped));  // n and sigma move together
    EXPECT_STREQ(v[4].string, sigmas[zipped]);
    EXPECT_EQ(v[2].number, double(rho));
    EXPECT_EQ(v[3].number, 0.1);
  }
  // The zip dimension's coordinates are its first member's values.
  EXPECT_EQ(space.Coordinate(1, 2).type, SWEEP_VALUE_STRING);
  EXPECT_STREQ(space.Coordinate(1, 2).string, "hi");
  EXPECT_EQ(space.ParameterValue(1, 2).integer, 20);
}

TEST(SpaceOrder, RepeatAddsATrailingReplicateDimensionWithItsOwnSeeds) {
  Config config = Grid({Range("a", 0, 2)}, 7);
  config.repeat = 3;
  Space space(config);
  ASSERT_EQ(space.points(), 6u);
  EXPECT_EQ(space.repeat(), 3u);
  ASSERT_EQ(space.dimensions().size(), 2u);
  EXPECT_EQ(space.dimensions()[1].name, "replicate");
  EXPECT_EQ(space.dimensions()[1].size, 3u);
  EXPECT_TRUE(space.dimensions()[1].parameters.empty());
  EXPECT_EQ(Resolve(space, 4)[0].integer, 1);  // point 4 = a index 1, replicate 1
  EXPECT_EQ(space.Coordinate(1, 2).type, SWEEP_VALUE_INTEGER);
  EXPECT_EQ(space.Coordinate(1, 2).integer, 2);

  std::set<uint64_t> seeds;
  for (uint64_t p = 0; p < 6; ++p) {
    EXPECT_EQ(space.Seed(p),
              testing::DocumentedSeed(7, {testing::IntegerParam("a", int64_t(p / 3))}, p % 3));
    seeds.insert(space.Seed(p));
  }
  EXPECT_EQ(seeds.size(), 6u);  // every replicate of every point has its own seed
  // The rule of outputs made before seeds by value.
  Space by_index(config, SeedRule::kPointIndex);
  for (uint64_t p = 0; p < 6; ++p)
    EXPECT_EQ(by_index.Seed(p), Xxh3OfPointAndReplicate(7, p / 3, p % 3));
}

// The documented rule, computed with the xxHash library itself rather than with sweep's code.
TEST(SpaceSeed, PointSeedIsXxh3OfTheLittleEndianPointAndReplicate) {
  for (uint64_t master : {uint64_t{0}, uint64_t{42}, ~uint64_t{0}}) {
    for (uint64_t point : {uint64_t{0}, uint64_t{1}, uint64_t{12345}, uint64_t{1} << 40}) {
      for (uint64_t replicate : {0, 1, 7}) {
        EXPECT_EQ(PointSeed(master, point, replicate),
                  Xxh3OfPointAndReplicate(master, point, replicate));
      }
    }
  }
}

TEST(SpaceSeed, RegressionPinPointSeedValues) {
  // Regression pins, not an independent check (the test above is one): part of the file format,
  // these values, computed once by this code, must never change.
  EXPECT_EQ(PointSeed(0, 0, 0), 0xd0a66a65c7528968u);
  EXPECT_EQ(PointSeed(42, 1, 0), 0x12e4f4ef3768dc1u);
  EXPECT_EQ(PointSeed(42, 0, 1), 0x156a18c8be01d038u);
  EXPECT_EQ(PointSeed(~uint64_t{0}, 12345, 7), 0xb4ae352b7a1467eau);
}

TEST(SpaceSeed, SeedsDifferAcrossPointsAndAreStableAcrossCopies) {
  Config config = Grid({Range("a", 0, 50), Range("b", 0, 20)}, 123);
  config.repeat = 4;
  Space space(config);
  std::set<uint64_t> seeds;
  for (uint64_t p = 0; p < space.points(); ++p) seeds.insert(space.Seed(p));
  EXPECT_EQ(seeds.size(), space.points());

  Space copy = space;
  Space rebuilt(config);
  for (uint64_t p : {uint64_t{0}, uint64_t{1}, uint64_t{3999}}) {
    EXPECT_EQ(copy.Seed(p), space.Seed(p));
    EXPECT_EQ(rebuilt.Seed(p), space.Seed(p));
    EXPECT_EQ(Resolve(copy, p)[1].integer, Resolve(space, p)[1].integer);
  }
  config.seed = 124;
  EXPECT_NE(Space(config).Seed(0), space.Seed(0));
}

// Seeds by parameter values, as driver/space.h documents them, computed with the xxHash library:
// numbers, integers, strings and constants all count, whatever dimension they are on.
TEST(SpaceSeed, SeedIsTheDocumentedHashOfEveryParameterValue) {
  Config config = Grid({Linspace("x", 0, 1, 5), Constant("c", Num(2.5)),
                        Values("s", {Str("alpha"), Str("beta")}), Range("n", 3, 6)},
                       99);
  config.repeat = 2;
  const Space space(config);
  ASSERT_EQ(space.points(), 60u);
  for (uint64_t p = 0; p < space.points(); ++p) {
    const std::vector<sweep_value> v = Resolve(space, p);
    const uint64_t expected = testing::DocumentedSeed(
        99,
        {testing::NumberParam("x", v[0].number), testing::NumberParam("c", 2.5),
         testing::StringParam("s", v[2].string), testing::IntegerParam("n", v[3].integer)},
        p % 2);
    ASSERT_EQ(space.Seed(p), expected) << p;
  }
  // The sum over parameters: the documented key itself.
  uint64_t key = 0;
  const std::vector<sweep_value> v = Resolve(space, 7);
  for (size_t i = 0; i < v.size(); ++i) key += ParameterHash(space.parameter_names()[i], v[i]);
  EXPECT_EQ(space.ValuesKey(7), key);
  EXPECT_EQ(space.Seed(7), PointSeed(99, key, 1));
}

TEST(SpaceSeed, APointHasTheSameSeedInAnySweepThatHoldsIt) {
  // 101 x 3 refined to 201 x 5, an axis made of a constant, the parameters reordered, and
  // repeat raised: every point of the small sweep keeps its seed in the large one.
  Config small = Grid({Linspace("rho", 0, 50, 101), Values("sigma", {Int(10), Int(14), Int(18)}),
                       Constant("beta", Num(2.5))},
                      3);
  Config large = Grid({Values("beta", {Num(1.5), Num(2.5)}), Linspace("rho", 0, 50, 201),
                       Values("sigma", {Int(10), Int(12), Int(14), Int(16), Int(18)})},
                      3);
  large.repeat = 2;
  const Space a(small), b(large);
  std::map<std::vector<std::string>, uint64_t> seeds_of;  // by the values' texts
  const auto texts = [](const Space& space, uint64_t p) {
    std::vector<std::string> t;
    const std::vector<sweep_value> v = Resolve(space, p);
    for (size_t i = 0; i < v.size(); ++i) {
      uint64_t bits = 0;
      std::memcpy(&bits, &v[i].number, 8);
      t.push_back(space.parameter_names()[i] + "=" + std::to_string(v[i].type) + ":" +
                  std::to_string(v[i].type == SWEEP_VALUE_INTEGER ? uint64_t(v[i].integer) : bits));
    }
    std::sort(t.begin(), t.end());
    return t;
  };
  for (uint64_t p = 0; p < b.points(); ++p)
    if (p % 2 == 0) seeds_of[texts(b, p)] = b.Seed(p);  // replicate 0
  for (uint64_t p = 0; p < a.points(); ++p) {
    const auto it = seeds_of.find(texts(a, p));
    ASSERT_NE(it, seeds_of.end()) << p;
    EXPECT_EQ(it->second, a.Seed(p)) << p;
  }
  EXPECT_EQ(seeds_of.size(), b.points() / 2);  // and the large sweep's seeds are distinct ones
  std::set<uint64_t> distinct;
  for (const auto& [values, seed] : seeds_of) distinct.insert(seed);
  EXPECT_EQ(distinct.size(), seeds_of.size());
}

TEST(SpaceSeed, TheIntegerThreeAndTheNumberThreeAreDifferentPoints) {
  const Space integers(Grid({Values("x", {Int(3)})})), numbers(Grid({Values("x", {Num(3)})}));
  EXPECT_NE(integers.Seed(0), numbers.Seed(0));
  // The same values, listed twice, are the same point: `repeat` gives independent replicates.
  const Space twice(Grid({Values("x", {Num(3), Num(3)})}));
  EXPECT_EQ(twice.Seed(0), twice.Seed(1));
  EXPECT_EQ(twice.Seed(0), numbers.Seed(0));
}

TEST(SpaceSeed, CopiesResolveStringsIntoTheirOwnStorage) {
  auto original = std::make_unique<Space>(Grid({Values("s", {Str("alpha"), Str("beta")})}));
  Space copy = *original;
  original.reset();
  EXPECT_STREQ(Resolve(copy, 1)[0].string, "beta");
}

// ---------------------------------------------------------------------------------------------
// Growth: what `--reuse` relies on (driver/space.h, "Growth")

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, 8);
  return bits;
}

// A double of either sign: a decimal a user would write (0.1, 50, 2.6666666666666665, -3e-5),
// or any mantissa with an exponent from 2^-1000 to 2^1000.
double AnyEndpoint(std::mt19937_64& random) {
  static const double decimals[] = {0,  0.1, 0.3, 0.5,  1,    2.6666666666666665, 3,      10,   14,
                                    28, 50,  100, 1e-5, 3e-5, 6.02214076e23,      1e-300, 1e300};
  const double sign = random() % 2 ? -1 : 1;
  if (random() % 3 == 0) return sign * decimals[random() % (sizeof decimals / sizeof *decimals)];
  const double mantissa = 1 + double(random() >> 11) * 0x1.0p-53;
  return sign * std::ldexp(mantissa, int(random() % 2001) - 1000);
}

TEST(SpaceGrowth, LinspaceRefinedToTwiceNMinusOneHoldsEveryValueBitForBit) {
  // linspace(a, b, 2n-1)[2k] == linspace(a, b, n)[k] and linspace(a, b, 4n-3)[4k] too, over
  // 100,000 random (a, b, n), wherever (b - a) / (2(n - 1)) is a normal double (driver/space.h).
  std::mt19937_64 random(20261201);
  uint64_t checked = 0;
  for (int trial = 0; trial < 100000; ++trial) {
    const double a = AnyEndpoint(random), b = AnyEndpoint(random);
    const int64_t n = 2 + int64_t(random() % (trial % 10 == 0 ? 1000000 : 200));
    const double finest = (b - a) / double(4 * (n - 1));
    if (!std::isfinite(b - a) || (finest != 0 && std::fabs(finest) < DBL_MIN)) continue;
    const int64_t some = int64_t(random() % uint64_t(n));
    for (const int64_t k : {int64_t{0}, int64_t{1}, n / 2, n - 2, n - 1, some}) {
      const double coarse = internal::Linspace(a, b, n, k);
      ASSERT_EQ(Bits(internal::Linspace(a, b, 2 * n - 1, 2 * k)), Bits(coarse))
          << a << " " << b << " " << n << " " << k;
      ASSERT_EQ(Bits(internal::Linspace(a, b, 4 * n - 3, 4 * k)), Bits(coarse))
          << a << " " << b << " " << n << " " << k;
      ++checked;
    }
  }
  EXPECT_GT(checked, 500000u);
}

TEST(SpaceGrowth, EveryValueOfARefinedGridAxisIsFoundInTheFinerOne) {
  // Whole axes, through Space: linspace and logspace (whose values follow their exponents'),
  // and range and values extended at their end.
  for (const auto& [a, b] : std::vector<std::pair<double, double>>{
           {0, 50}, {-1, 1}, {0.1, 0.7}, {50, 0}, {1e-3, 2.5}, {-3, 2}}) {
    for (const int64_t n : {2, 3, 11, 101, 1000}) {
      for (const bool log : {false, true}) {
        const Space coarse(Grid({log ? Logspace("x", a, b, n) : Linspace("x", a, b, n)}));
        const Space fine(
            Grid({log ? Logspace("x", a, b, 2 * n - 1) : Linspace("x", a, b, 2 * n - 1)}));
        for (int64_t k = 0; k < n; ++k) {
          ASSERT_EQ(Bits(coarse.ParameterValue(0, uint64_t(k)).number),
                    Bits(fine.ParameterValue(0, uint64_t(2 * k)).number))
              << (log ? "logspace " : "linspace ") << a << " " << b << " " << n << " " << k;
          ASSERT_EQ(coarse.Seed(uint64_t(k)), fine.Seed(uint64_t(2 * k)));
        }
      }
    }
  }
  const Space range(Grid({Range("n", 0, 50, 5)})), longer(Grid({Range("n", 0, 100, 5)}));
  for (uint64_t k = 0; k < range.points(); ++k) EXPECT_EQ(range.Seed(k), longer.Seed(k));
  const Space values(Grid({Values("s", {Str("a"), Str("b")})})),
      more(Grid({Values("s", {Str("a"), Str("b"), Str("c")})}));
  for (uint64_t k = 0; k < values.points(); ++k) EXPECT_EQ(values.Seed(k), more.Seed(k));
}

TEST(SpaceGrowth, UniformAndSobolSamplesKeepTheirValuesWhenNGrows) {
  for (const SamplingSpec::Method method :
       {SamplingSpec::Method::kUniform, SamplingSpec::Method::kSobol}) {
    const std::vector<AxisSpec> parameters = {Uniform("u", -1, 1), Constant("c", Int(3)),
                                              LogUniform("l", 1e-3, 10)};
    const Space small(Sampled(method, 100, parameters)), large(Sampled(method, 4096, parameters));
    for (uint64_t i = 0; i < 100; ++i) {
      const std::vector<sweep_value> a = Resolve(small, i), b = Resolve(large, i);
      for (size_t p = 0; p < a.size(); ++p) ASSERT_EQ(Bits(a[p].number), Bits(b[p].number)) << i;
      ASSERT_EQ(small.Seed(i), large.Seed(i)) << i;
    }
  }
  // A Latin hypercube's strata are n-ths: another n shares no sample with it, but by chance.
  const std::vector<AxisSpec> parameters = {Uniform("u", -1, 1)};
  const Space small(Sampled(SamplingSpec::Method::kLhs, 100, parameters)),
      large(Sampled(SamplingSpec::Method::kLhs, 200, parameters));
  std::set<uint64_t> large_values;
  for (uint64_t i = 0; i < 200; ++i) large_values.insert(Bits(large.ParameterValue(0, i).number));
  int shared = 0;
  for (uint64_t i = 0; i < 100; ++i)
    shared += large_values.count(Bits(small.ParameterValue(0, i).number));
  EXPECT_EQ(shared, 0);
}

// ---------------------------------------------------------------------------------------------
// Sampling

TEST(SpaceSampling, UniformIsInRangeWithItsMeanAndRegressionPins) {
  Space space(Sampled(SamplingSpec::Method::kUniform, 4,
                      {Uniform("x", 0, 1), Constant("c", Int(5)), LogUniform("k", 1e-3, 1e3)}));
  ASSERT_EQ(space.dimensions().size(), 1u);
  EXPECT_EQ(space.dimensions()[0].name, "sample");
  EXPECT_EQ(space.dimensions()[0].parameters, (std::vector<int>{0, 2}));
  EXPECT_EQ(space.points(), 4u);
  EXPECT_EQ(space.parameter_type(0), Value::Type::kNumber);
  EXPECT_EQ(space.parameter_type(2), Value::Type::kNumber);
  // Regression values, computed once with seed 42 (the loguniform ones go through exp/log).
  const double x[] = {0x1.0353df46ab224p-2, 0x1.e049a51caff1ap-2, 0x1.59952b34bc556p-2,
                      0x1.aa8235acb5c14p-2};
  const double k[] = {0x1.3316b6f6fc38bp+7, 0x1.8f21dc32e0e0dp+6, 0x1.d0df2b2a85a32p-1,
                      0x1.2612891bafc0cp-3};
  for (uint64_t i = 0; i < 4; ++i) {
    std::vector<sweep_value> v = Resolve(space, i);
    EXPECT_EQ(v[0].number, x[i]) << i;
    EXPECT_EQ(v[1].integer, 5);
    EXPECT_DOUBLE_EQ(v[2].number, k[i]) << i;
    EXPECT_EQ(space.Coordinate(0, i).integer, int64_t(i));  // "sample" coordinates are indices
  }

  Space many(Sampled(SamplingSpec::Method::kUniform, 2000,
                     {Uniform("x", -2, 3), LogUniform("k", 1e-3, 1e3)}));
  double sum = 0;
  int below_one = 0;
  for (uint64_t i = 0; i < many.points(); ++i) {
    std::vector<sweep_value> v = Resolve(many, i);
    EXPECT_GE(v[0].number, -2);
    EXPECT_LT(v[0].number, 3);
    EXPECT_GE(v[1].number, 1e-3);
    EXPECT_LT(v[1].number, 1e3);
    sum += v[0].number;
    below_one += v[1].number < 1;
  }
  EXPECT_NEAR(sum / 2000, 0.5, 0.15);  // mean of U[-2, 3); sd of the mean 0.032
  EXPECT_NEAR(below_one, 1000, 150);   // loguniform: half the mass below 1
}

TEST(SpaceSampling, FeistelPermutationIsABijection) {
  for (uint64_t n : {1u, 2u, 3u, 4u, 5u, 16u, 17u, 1000u, 1025u, 4096u}) {
    const int half = internal::FeistelHalfBits(n);
    std::vector<bool> hit(n, false);
    for (uint64_t x = 0; x < n; ++x) {
      const uint64_t y = internal::Permute(99, 3, n, half, x);
      ASSERT_LT(y, n);
      EXPECT_FALSE(hit[y]) << "n=" << n << " x=" << x;
      hit[y] = true;
    }
  }
  // Pinned: the permutation of [0, 10) for seed 3, key 1.
  std::vector<uint64_t> perm;
  for (uint64_t x = 0; x < 10; ++x) perm.push_back(internal::Permute(3, 1, 10, 2, x));
  EXPECT_EQ(perm, (std::vector<uint64_t>{8, 9, 2, 3, 0, 1, 5, 4, 7, 6}));
  EXPECT_EQ(internal::FeistelHalfBits(10), 2);
}

TEST(SpaceSampling, LatinHypercubeHitsEveryStratumOncePerParameter) {
  for (int64_t n : {1, 7, 100, 1000}) {
    Space space(Sampled(SamplingSpec::Method::kLhs, n,
                        {Uniform("a", 0, 1), Uniform("b", 0, 1), Uniform("c", 0, 1)}));
    for (int j = 0; j < 3; ++j) {
      std::vector<int> hits(n, 0);
      for (uint64_t i = 0; i < uint64_t(n); ++i) {
        const double u = NumberAt(space, i, j);
        ASSERT_GE(u, 0);
        ASSERT_LT(u, 1);
        ++hits[int64_t(u * double(n))];
      }
      EXPECT_EQ(std::count(hits.begin(), hits.end(), 1), n) << "n=" << n << " parameter " << j;
    }
  }
  // The strata are permuted independently per parameter, not all along the diagonal.
  Space space(Sampled(SamplingSpec::Method::kLhs, 100, {Uniform("a", 0, 1), Uniform("b", 0, 1)}));
  int same = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    same += int64_t(NumberAt(space, i, 0) * 100) == int64_t(NumberAt(space, i, 1) * 100);
  }
  EXPECT_LT(same, 10);
}

TEST(SpaceSampling, RegressionPinLatinHypercube) {
  Space space(
      Sampled(SamplingSpec::Method::kLhs, 5, {Uniform("x", 0, 1), LogUniform("k", 1e-3, 1e3)}, 7));
  const double x[] = {0x1.26e7e97587416p-1, 0x1.7a305f6949353p-1, 0x1.980df37238103p-4,
                      0x1.d77d37eaf4463p-1, 0x1.eca54cc9328b3p-3};
  const double k[] = {0x1.085a307ec6d94p-1, 0x1.ffe998eceeea2p+4, 0x1.6f428ecbb1aa5p+6,
                      0x1.629919fbe0948p-4, 0x1.3d6127ea5f058p-10};
  for (uint64_t i = 0; i < 5; ++i) {
    EXPECT_EQ(NumberAt(space, i, 0), x[i]) << i;
    EXPECT_DOUBLE_EQ(NumberAt(space, i, 1), k[i]) << i;
    // loguniform strata are equal in log space: decades -3..3 cut into 5.
    EXPECT_EQ(int((std::log10(k[i]) + 3) / 1.2), int(std::vector<int>{2, 3, 4, 1, 0}[i]));
  }
}

TEST(SpaceSampling, SobolUnscrambledPointsAreTheKnownSequence) {
  // Gray-code order, as Joe and Kuo's sobol.cc and scipy.stats.qmc.Sobol(scramble=False).
  const double expected[8][3] = {{0, 0, 0},
                                 {0.5, 0.5, 0.5},
                                 {0.75, 0.25, 0.25},
                                 {0.25, 0.75, 0.75},
                                 {0.375, 0.375, 0.625},
                                 {0.875, 0.875, 0.125},
                                 {0.625, 0.125, 0.875},
                                 {0.125, 0.625, 0.375}};
  for (uint64_t i = 0; i < 8; ++i) {
    for (int d = 0; d < 3; ++d) {
      EXPECT_EQ(double(internal::SobolBits(i, d)) * 0x1.0p-52, expected[i][d]) << i << "," << d;
    }
  }
  // Deeper entries, from an independent Python transcription of Joe and Kuo's algorithm.
  EXPECT_EQ(internal::SobolBits(1000, 10), 0x15c0000000000u);
  EXPECT_EQ(internal::SobolBits(12345, 37), 0x5284000000000u);
  EXPECT_EQ(internal::SobolBits((uint64_t{1} << 40) + 77, 63), 0xf572075801800u);
  EXPECT_EQ(internal::SobolBits(999999, 1), 0xe5d9f00000000u);
}

TEST(SpaceSampling, SobolFirstTwoDimensionsFormANet) {
  // The first 2^m points of dimensions 0 and 1 are a (0, m, 2)-net: every box
  // [a / 2^i, (a + 1) / 2^i) x [b / 2^(m-i), (b + 1) / 2^(m-i)) holds exactly one point.
  const int m = 8;
  for (int i = 0; i <= m; ++i) {
    std::set<std::pair<uint64_t, uint64_t>> boxes;
    for (uint64_t p = 0; p < (uint64_t{1} << m); ++p) {
      boxes.emplace(internal::SobolBits(p, 0) >> (52 - i),
                    internal::SobolBits(p, 1) >> (52 - (m - i)));
    }
    EXPECT_EQ(boxes.size(), uint64_t{1} << m) << i;
  }
  // And every one of the 64 dimensions is stratified in 1-D over the first 2^10 points.
  for (int d = 0; d < kSobolDimensions; ++d) {
    std::set<uint64_t> strata;
    for (uint64_t p = 0; p < 1024; ++p) strata.insert(internal::SobolBits(p, d) >> 42);
    EXPECT_EQ(strata.size(), 1024u) << d;
  }
}

TEST(SpaceSampling, ScrambledSobolKeepsOneSamplePerStratum) {
  const int n = 256;
  std::vector<AxisSpec> parameters;
  for (int j = 0; j < 6; ++j) parameters.push_back(Uniform("p" + std::to_string(j), 0, 1));
  Space space(Sampled(SamplingSpec::Method::kSobol, n, parameters, 2024));
  for (int j = 0; j < 6; ++j) {
    std::set<int64_t> strata;
    for (uint64_t i = 0; i < uint64_t(n); ++i) strata.insert(int64_t(NumberAt(space, i, j) * n));
    EXPECT_EQ(strata.size(), uint64_t(n)) << j;
  }
  // The shift is seeded: another seed moves the points.
  Space other(Sampled(SamplingSpec::Method::kSobol, n, parameters, 2025));
  EXPECT_NE(NumberAt(space, 0, 0), NumberAt(other, 0, 0));
}

TEST(SpaceSampling, RegressionPinScrambledSobol) {
  Space space(
      Sampled(SamplingSpec::Method::kSobol, 4, {Uniform("x", 0, 1), LogUniform("k", 1e-3, 1e3)}));
  const double x[] = {0x1.d7c5714d0987cp-2, 0x1.ebe2b8a684c3ep-1, 0x1.6be2b8a684c3ep-1,
                      0x1.af8ae29a130f8p-3};
  const double k[] = {0x1.21fe9c0bb5eabp+7, 0x1.28f4561016717p-3, 0x1.257430ddcbfbap+2,
                      0x1.2c7f2be52afdbp-8};
  for (uint64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(NumberAt(space, i, 0), x[i]) << i;
    EXPECT_DOUBLE_EQ(NumberAt(space, i, 1), k[i]) << i;
  }
  // A digital shift XORs: the samples of x are the shift XOR 0, 1/2, 3/4, 1/4.
  EXPECT_EQ(x[1], x[0] + 0.5);
}

TEST(SpaceSampling, SobolTakesAtMostItsEmbeddedDimensions) {
  std::vector<AxisSpec> parameters;
  for (int j = 0; j <= kSobolDimensions; ++j) {
    parameters.push_back(Uniform("p" + std::to_string(j), 0, 1));
  }
  ConfigError e = ErrorOf(Sampled(SamplingSpec::Method::kSobol, 8, parameters));
  ASSERT_EQ(e.diagnostics().size(), 1u);
  EXPECT_EQ(e.diagnostics()[0].key_path, "parameters.p64");
  EXPECT_NE(e.diagnostics()[0].message.find("at most 64"), std::string::npos);
  parameters.pop_back();
  EXPECT_EQ(Space(Sampled(SamplingSpec::Method::kSobol, 8, parameters)).points(), 8u);
  // uniform and lhs have no such limit.
  parameters.push_back(Uniform("p64", 0, 1));
  EXPECT_EQ(Space(Sampled(SamplingSpec::Method::kLhs, 8, parameters)).points(), 8u);
}

TEST(SpaceSampling, RepeatComesAfterTheSampleDimension) {
  Config config = Sampled(SamplingSpec::Method::kLhs, 10, {Uniform("x", 0, 1)});
  config.repeat = 2;
  Space space(config);
  ASSERT_EQ(space.points(), 20u);
  EXPECT_EQ(space.dimensions()[1].name, "replicate");
  EXPECT_EQ(NumberAt(space, 6, 0), NumberAt(space, 7, 0));  // sample 3, replicates 0 and 1
  EXPECT_NE(space.Seed(6), space.Seed(7));
  EXPECT_EQ(space.Coordinate(0, 3).integer, 3);
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST(SpaceLimits, OverflowingPointCountNamesTheParameter) {
  std::vector<AxisSpec> axes;
  for (const char* name : {"a", "b", "c", "d", "e"}) axes.push_back(Range(name, 0, 8192));
  const int line_of_e = axes[4].where.line;
  ConfigError e = ErrorOf(Grid(axes));  // 2^65 points
  EXPECT_EQ(e.code(), ExitCode::kUsage);
  ASSERT_EQ(e.diagnostics().size(), 1u);
  EXPECT_EQ(e.diagnostics()[0].key_path, "parameters.e");
  EXPECT_EQ(e.diagnostics()[0].where.line, line_of_e);
  EXPECT_NE(e.diagnostics()[0].message.find("more than 2^64 points"), std::string::npos);
  EXPECT_NE(std::string(e.what()).find("sweep.yaml:" + std::to_string(line_of_e) + ":3"),
            std::string::npos);
}

TEST(SpaceLimits, OverTheLimitNamesWhereTheCountWentOver) {
  Config config = Grid({Range("a", 0, 1 << 24), Range("b", 0, 1 << 24), Range("c", 0, 2)});
  ConfigError e = ErrorOf(config);
  ASSERT_EQ(e.diagnostics().size(), 1u);
  EXPECT_EQ(e.diagnostics()[0].key_path, "parameters.c");
  EXPECT_EQ(e.diagnostics()[0].message,
            "the sweep has 562949953421312 points, over the limit of 2^48 (281474976710656)");

  // Exactly the limit is fine.
  Space at_limit(Grid({Range("a", 0, 1 << 16), Range("b", 0, 1 << 16), Range("c", 0, 1 << 16)}));
  EXPECT_EQ(at_limit.points(), kMaxPoints);

  // Replicates and samples are blamed on `repeat` and `sampling.n`.
  Config repeated = Grid({Range("a", 0, 1 << 24), Range("b", 0, 1 << 24)});
  repeated.repeat = 17;
  EXPECT_EQ(ErrorOf(repeated).diagnostics()[0].key_path, "repeat");
  Config sampled = Sampled(SamplingSpec::Method::kUniform, int64_t{1} << 49, {Uniform("x", 0, 1)});
  ConfigError s = ErrorOf(sampled);
  EXPECT_EQ(s.diagnostics()[0].key_path, "sampling.n");
  EXPECT_EQ(s.diagnostics()[0].where.line, 5);
}

TEST(SpaceLimits, TrillionPointSweepResolvesInstantlyInTinyMemory) {
  Space space(Grid({Range("a", 0, 1000), Linspace("b", 0, 999, 1000), Range("c", 999, -1, -1),
                    Logspace("d", 0, 3, 1000), Constant("e", Str("fixed"))}));
  ASSERT_EQ(space.points(), 1'000'000'000'000u);
  std::vector<sweep_value> last = Resolve(space, space.points() - 1);
  EXPECT_EQ(last[0].integer, 999);
  EXPECT_EQ(last[1].number, 999.0);
  EXPECT_EQ(last[2].integer, 0);
  EXPECT_EQ(last[3].number, 1000.0);
  EXPECT_STREQ(last[4].string, "fixed");
  // Point 123456789012 = indices (123, 456, 789, 12).
  std::vector<sweep_value> mid = Resolve(space, 123'456'789'012u);
  EXPECT_EQ(mid[0].integer, 123);
  EXPECT_EQ(mid[1].number, 456.0);
  EXPECT_EQ(mid[2].integer, 999 - 789);
  // 10^(3 * 12 / 999), from long double arithmetic: within an ulp of the double.
  const double reference = double(std::pow(10.0L, 3.0L * 12 / 999));
  EXPECT_LE(std::fabs(mid[3].number - reference), std::nextafter(reference, 1e9) - reference);
  EXPECT_LT(sizeof(Space), 512u);  // and its vectors hold a few entries per parameter
  EXPECT_EQ(space.dimensions()[3].size, 1000u);
}

// ---------------------------------------------------------------------------------------------
// Configs LoadConfig() should already have rejected

TEST(SpaceConfigErrors, ReportsEveryProblemAtItsKey) {
  Config config = Grid({Values("a", {Int(1), Int(2)}), Range("b", 0, 3), Range("empty", 5, 5),
                        Uniform("u", 0, 1), Values("mixed", {Int(1), Str("x")})});
  config.zip = {{"a", "b", "ghost"}};
  config.zip_where = {SourceLocation{"sweep.yaml", 3, 6}};
  ConfigError e = ErrorOf(config);
  std::vector<std::string> keys;
  for (const Diagnostic& d : e.diagnostics()) keys.push_back(d.key_path);
  EXPECT_EQ(keys, (std::vector<std::string>{"parameters.mixed", "zip[0]", "zip[0]",
                                            "parameters.empty", "parameters.u"}));
  EXPECT_NE(e.diagnostics()[1].message.find("ghost"), std::string::npos);
  EXPECT_NE(e.diagnostics()[2].message.find("a has 2 values, b has 3"), std::string::npos);

  Config grid_in_sample = Sampled(SamplingSpec::Method::kLhs, 4, {Range("n", 0, 3)});
  EXPECT_EQ(ErrorOf(grid_in_sample).diagnostics()[0].key_path, "parameters.n");

  Config taken = Grid({Range("replicate", 0, 3)});
  taken.repeat = 2;
  EXPECT_NE(ErrorOf(taken).diagnostics()[0].message.find("name of a sweep dimension"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Columns (the batched path of the worker): ParameterColumn and Seeds against Resolve and Seed

// Every window [first, first + n) of the space (all of them up to 64 points, else a spread of
// starts and lengths, each crossing steps of every dimension) gives, for every parameter, what
// Resolve gives point by point, bit for bit, and Seeds what Seed gives.
void ExpectColumnsMatchResolve(const Space& space) {
  const uint64_t points = space.points();
  std::vector<std::pair<uint64_t, uint64_t>> windows;
  if (points <= 64) {
    for (uint64_t first = 0; first < points; ++first)
      for (uint64_t n = 1; first + n <= points; ++n) windows.push_back({first, n});
  } else {
    for (uint64_t first : {uint64_t{0}, uint64_t{1}, points / 3, points / 2 + 1, points - 7})
      for (uint64_t n : {uint64_t{1}, uint64_t{5}, uint64_t{64}, points / 4})
        if (first + n <= points) windows.push_back({first, n});
  }
  const size_t params = space.parameter_names().size();
  for (const auto& [first, n] : windows) {
    for (size_t p = 0; p < params; ++p) {
      // Sentinels: a column must not write the arrays its type does not use, nor past n.
      std::vector<double> numbers(n + 1, -7.5);
      std::vector<int64_t> integers(n + 1, -75);
      std::vector<const char*> strings(n + 1, nullptr);
      space.ParameterColumn(int(p), first, n, numbers.data(), integers.data(), strings.data());
      for (uint64_t i = 0; i < n; ++i) {
        const sweep_value v = Resolve(space, first + i)[p];
        SCOPED_TRACE(space.parameter_names()[p] + " at point " + std::to_string(first + i) +
                     " of window [" + std::to_string(first) + ", +" + std::to_string(n) + ")");
        switch (space.parameter_type(int(p))) {
          case Value::Type::kString:
            ASSERT_EQ(v.type, SWEEP_VALUE_STRING);
            ASSERT_EQ(strings[i], v.string);  // the same pointer into the Space
            ASSERT_EQ(numbers[i], -7.5);
            break;
          case Value::Type::kInteger:
            ASSERT_EQ(v.type, SWEEP_VALUE_INTEGER);
            ASSERT_EQ(integers[i], v.integer);
            ASSERT_EQ(std::memcmp(&numbers[i], &v.number, 8), 0);
            ASSERT_EQ(strings[i], nullptr);
            break;
          default:
            ASSERT_EQ(v.type, SWEEP_VALUE_NUMBER);
            ASSERT_EQ(std::memcmp(&numbers[i], &v.number, 8), 0) << numbers[i] << " " << v.number;
            ASSERT_EQ(integers[i], -75);
            ASSERT_EQ(strings[i], nullptr);
        }
      }
      ASSERT_EQ(numbers[n], -7.5);
      ASSERT_EQ(integers[n], -75);
      ASSERT_EQ(strings[n], nullptr);
    }
    std::vector<uint64_t> seeds(n + 1, 3);
    space.Seeds(first, n, seeds.data());
    for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(seeds[i], space.Seed(first + i)) << first + i;
    ASSERT_EQ(seeds[n], 3u);
  }
}

TEST(SpaceColumns, GridOfEveryAxisKindMatchesResolve) {
  // range with a negative step innermost, then linspace, logspace, numbers mixing integers,
  // strings and integers, and constants of each type, over 4 * 3 * 2 * 2 = 48 points.
  Config config =
      Grid({Constant("c", Num(2.5)), Values("s", {Str("a"), Str("bc")}), Linspace("x", -1, 1, 3),
            Constant("k", Int(7)), Logspace("g", -2, 1, 2), Values("m", {Int(1), Num(2.5)}),
            Constant("t", Str("const")), Range("r", 10, -10, -5)});
  config.zip = {{"s", "m"}};
  Space space(config);
  ASSERT_EQ(space.points(), 48u);
  ExpectColumnsMatchResolve(space);
}

TEST(SpaceColumns, InnermostLinspaceAndRangeMatchResolve) {
  // The closed forms per element: linspace whose step underflows, the widest int64 range, and
  // ordinary ones innermost, with a replicate dimension after them for the seeds.
  ExpectColumnsMatchResolve(Space(Grid({Linspace("tiny", 0, 1e-320, 9)})));
  ExpectColumnsMatchResolve(Space(Grid({Linspace("x", 0.1, 0.7, 50)})));
  ExpectColumnsMatchResolve(Space(
      Grid({Range("n", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                  std::numeric_limits<int64_t>::max() / 5)})));
  Config repeated = Grid({Range("a", 0, 3), Linspace("b", 0, 1, 11)}, 7);
  repeated.repeat = 3;
  ExpectColumnsMatchResolve(Space(repeated));
  ExpectColumnsMatchResolve(Space(Grid({Range("a", 0, 1000), Linspace("b", 2, 3, 1000)})));
}

TEST(SpaceColumns, SampledSweepsMatchResolve) {
  for (const SamplingSpec::Method method :
       {SamplingSpec::Method::kUniform, SamplingSpec::Method::kLhs, SamplingSpec::Method::kSobol}) {
    Config config = Sampled(
        method, 37, {Uniform("u", -1, 1), Constant("k", Int(3)), LogUniform("l", 1e-3, 10)});
    config.repeat = 2;
    ExpectColumnsMatchResolve(Space(config));
  }
}

}  // namespace
}  // namespace sweep
