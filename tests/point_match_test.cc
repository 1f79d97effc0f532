// Tests of PointMatch (driver/point_match.h): for every way a sweep grows, the matches it finds
// by dimension are exactly the points a brute-force comparison of every point's values finds,
// they are found in runs (a refined axis of a million values is one run), and a sweep that
// cannot match says why.
#include "driver/point_match.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "io/config.h"

namespace sweep {
namespace {

Space SpaceOf(const std::string& parameters, const std::string& more = "") {
  return Space(
      ParseConfig("name: t\nseed: 1\nkernel: {name: square}\nparameters:\n" + parameters + more,
                  "/tmp/t.yaml"));
}

// A point's values and replicate, as bytes: equal keys are the same point.
std::string PointKey(const Space& space, uint64_t point) {
  std::vector<sweep_value> values(space.parameter_names().size());
  space.Resolve(point, values.data());
  std::map<std::string, std::string> by_name;
  for (size_t i = 0; i < values.size(); ++i) {
    std::string bytes(1, char(values[i].type));
    if (values[i].type == SWEEP_VALUE_STRING) {
      bytes += values[i].string;
    } else if (values[i].type == SWEEP_VALUE_INTEGER) {
      bytes.append(reinterpret_cast<const char*>(&values[i].integer), 8);
    } else {
      bytes.append(reinterpret_cast<const char*>(&values[i].number), 8);
    }
    by_name[space.parameter_names()[i]] = bytes;
  }
  std::string key = std::to_string(point % space.repeat()) + "|";
  for (const auto& [name, bytes] : by_name) key += name + "=" + bytes + "|";
  return key;
}

// NEW point -> OLD point, by comparing every point's values.
std::map<uint64_t, uint64_t> BruteForce(const Space& now, const Space& old) {
  std::map<std::string, uint64_t> old_points;
  for (uint64_t q = old.points(); q-- > 0;) old_points[PointKey(old, q)] = q;  // the first wins
  std::map<uint64_t, uint64_t> matches;
  for (uint64_t p = 0; p < now.points(); ++p) {
    const auto it = old_points.find(PointKey(now, p));
    if (it != old_points.end()) matches[p] = it->second;
  }
  return matches;
}

// NEW point -> OLD point, as ForEach walks [first, first + n).
std::map<uint64_t, uint64_t> Walked(const PointMatch& match, uint64_t first, uint64_t n) {
  std::map<uint64_t, uint64_t> matches;
  uint64_t last = 0;
  bool any = false;
  match.ForEach(first, n, [&](const MatchRun& run) {
    for (uint64_t j = 0; j < run.count; ++j) {
      const uint64_t p = run.new_first + j * run.new_step;
      EXPECT_GE(p, first);
      EXPECT_LT(p, first + n);
      EXPECT_TRUE(!any || p > last) << "runs in increasing order";
      any = true;
      last = p;
      matches[p] = run.old_first + j * run.old_step;
    }
  });
  return matches;
}

void ExpectExactlyTheBruteForceMatches(const Space& now, const Space& old) {
  const PointMatch match(now, old);
  const std::map<uint64_t, uint64_t> expected = BruteForce(now, old);
  ASSERT_FALSE(expected.empty());
  EXPECT_FALSE(match.none()) << match.why_none();
  const std::map<uint64_t, uint64_t> found = Walked(match, 0, now.points());
  // The same NEW points, each at an OLD point with its values (the first of equal ones, or
  // another equal one).
  ASSERT_EQ(found.size(), expected.size());
  for (const auto& [p, q] : found) {
    ASSERT_EQ(expected.count(p), 1u) << p;
    EXPECT_EQ(PointKey(old, q), PointKey(now, p)) << p;
  }
  EXPECT_EQ(match.matches(), expected.size());
  // Any window gives the same matches, as workers walk blocks.
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 20; ++trial) {
    const uint64_t first = random() % now.points();
    const uint64_t n = 1 + random() % (now.points() - first);
    std::map<uint64_t, uint64_t> part;
    for (const auto& [p, q] : found)
      if (p >= first && p < first + n) part[p] = q;
    EXPECT_EQ(Walked(match, first, n), part) << first << " " << n;
  }
  // And the plan workers decode matches the same.
  const PointMatch decoded = PointMatch::Decode(nlohmann::json::parse(match.Encode().dump()));
  EXPECT_EQ(Walked(decoded, 0, now.points()), found);
}

TEST(PointMatch, AGridRefinedAlongBothAxes) {
  // 101 x 3 to 201 x 5: the quickstart grid made twice as dense.
  ExpectExactlyTheBruteForceMatches(
      SpaceOf("  rho: {linspace: [0, 50, 201]}\n  sigma: {values: [10, 12, 14, 16, 18]}\n"
              "  beta: 2.6666666666666665\n"),
      SpaceOf("  rho: {linspace: [0, 50, 101]}\n  sigma: {values: [10, 14, 18]}\n"
              "  beta: 2.6666666666666665\n"));
}

TEST(PointMatch, AxesExtendedShiftedReversedAndReordered) {
  ExpectExactlyTheBruteForceMatches(SpaceOf("  x: {linspace: [0, 100, 101]}\n"),
                                    SpaceOf("  x: {linspace: [0, 50, 51]}\n"));
  ExpectExactlyTheBruteForceMatches(SpaceOf("  n: {range: [-20, 40, 3]}\n  m: {range: [0, 9]}\n"),
                                    SpaceOf("  n: {range: [-5, 20, 3]}\n  m: {range: [2, 5]}\n"));
  ExpectExactlyTheBruteForceMatches(SpaceOf("  x: {linspace: [50, 0, 11]}\n"),
                                    SpaceOf("  x: {linspace: [0, 50, 11]}\n"));
  ExpectExactlyTheBruteForceMatches(
      SpaceOf("  g: {logspace: [-3, 2, 21]}\n  k: {values: [c, a, b, d]}\n"),
      SpaceOf("  k: {values: [a, b, c]}\n  g: {logspace: [-3, 2, 11]}\n"));
}

TEST(PointMatch, ConstantsBecomeAxesAndAxesBecomeConstants) {
  // NEW sweeps beta where OLD held it at 2.5: the beta = 2.5 slice matches.
  ExpectExactlyTheBruteForceMatches(
      SpaceOf("  x: {linspace: [0, 1, 9]}\n  beta: {values: [1.5, 2.5, 3.5]}\n"),
      SpaceOf("  x: {linspace: [0, 1, 5]}\n  beta: 2.5\n"));
  // NEW holds fixed what OLD swept: its slice.
  ExpectExactlyTheBruteForceMatches(SpaceOf("  x: {linspace: [0, 1, 9]}\n  beta: 2.5\n"),
                                    SpaceOf("  x: {linspace: [0, 1, 5]}\n"
                                            "  beta: {values: [1.5, 2.5, 3.5]}\n"));
}

TEST(PointMatch, ZipGroupsGrowAndReorder) {
  ExpectExactlyTheBruteForceMatches(
      SpaceOf("  a: {values: [1, 2, 3, 4]}\n  b: {values: [x, y, z, w]}\n  c: {range: [0, 3]}\n",
              "zip: [[a, b]]\n"),
      SpaceOf("  a: {values: [3, 1, 2]}\n  b: {values: [z, x, y]}\n  c: {range: [0, 2]}\n",
              "zip: [[a, b]]\n"));
}

TEST(PointMatch, RepeatRaised) {
  ExpectExactlyTheBruteForceMatches(SpaceOf("  x: {range: [0, 10]}\n", "repeat: 4\n"),
                                    SpaceOf("  x: {range: [0, 5]}\n", "repeat: 2\n"));
  ExpectExactlyTheBruteForceMatches(SpaceOf("  x: {range: [0, 10]}\n", "repeat: 3\n"),
                                    SpaceOf("  x: {range: [0, 5]}\n"));
}

TEST(PointMatch, RandomAndSobolSamplesGrowByTheirPrefix) {
  for (const char* method : {"uniform", "sobol"}) {
    const std::string parameters = "  u: {uniform: [-1, 1]}\n  l: {loguniform: [0.001, 10]}\n";
    const Space now =
        SpaceOf(parameters, std::string("sampling: {method: ") + method + ", n: 300}\n");
    const Space old =
        SpaceOf(parameters, std::string("sampling: {method: ") + method + ", n: 100}\n");
    ExpectExactlyTheBruteForceMatches(now, old);
    const PointMatch match(now, old);
    EXPECT_EQ(match.runs(0).size(), 1u);  // one run: samples 0..99
    EXPECT_EQ(match.matches(), 100u);
  }
}

TEST(PointMatch, ALatinHypercubeOfAnotherSizeSharesNoSample) {
  const std::string parameters = "  u: {uniform: [-1, 1]}\n";
  const PointMatch match(SpaceOf(parameters, "sampling: {method: lhs, n: 200}\n"),
                         SpaceOf(parameters, "sampling: {method: lhs, n: 100}\n"));
  EXPECT_TRUE(match.none());
  EXPECT_NE(match.why_none().find("no value of `u`"), std::string::npos) << match.why_none();
  // The same hypercube again matches whole.
  const Space same = SpaceOf(parameters, "sampling: {method: lhs, n: 100}\n");
  EXPECT_EQ(PointMatch(same, same).matches(), 100u);
}

TEST(PointMatch, AMillionValueAxisRefinedIsOneRun) {
  const Space now = SpaceOf("  x: {linspace: [0, 1, 1999999]}\n");
  const Space old = SpaceOf("  x: {linspace: [0, 1, 1000000]}\n");
  const PointMatch match(now, old);
  ASSERT_EQ(match.runs(0).size(), 1u);
  EXPECT_EQ(match.runs(0)[0].step, 2u);
  EXPECT_EQ(match.runs(0)[0].count, 1000000u);
  EXPECT_EQ(match.matches(), 1000000u);
}

TEST(PointMatch, NoMatchSaysWhy) {
  const auto why = [](const std::string& now, const std::string& old,
                      const std::string& now_more = "", const std::string& old_more = "") {
    const PointMatch match(SpaceOf(now, now_more), SpaceOf(old, old_more));
    EXPECT_TRUE(match.none());
    return match.why_none();
  };
  EXPECT_EQ(why("  x: {range: [0, 3]}\n  y: 1\n", "  x: {range: [0, 3]}\n"),
            "parameter `y` is not in it");
  EXPECT_EQ(why("  x: {range: [0, 3]}\n", "  x: {range: [0, 3]}\n  z: 1\n"),
            "its parameter `z` is not in this sweep");
  EXPECT_EQ(why("  x: {range: [0, 3]}\n  dt: 0.001\n", "  x: {range: [0, 3]}\n  dt: 0.002\n"),
            "constant `dt` is 0.002 there, 0.001 here");
  EXPECT_EQ(why("  x: {range: [0, 3]}\n", "  x: {range: [5, 8]}\n"), "no value of `x` is in it");
  EXPECT_EQ(why("  x: {linspace: [0, 1, 3]}\n", "  x: {range: [0, 2]}\n"),
            "no value of `x` is in it");  // the number 0 is not the integer 0
  EXPECT_EQ(why("  a: {range: [0, 3]}\n  b: {range: [0, 3]}\n",
                "  a: {range: [0, 3]}\n  b: {range: [0, 3]}\n", "", "zip: [[a, b]]\n"),
            "`a`, `b` move together there, along different dimensions here");
  EXPECT_EQ(
      why("  x: {range: [0, 3]}\n  beta: 7\n", "  x: {range: [0, 3]}\n  beta: {values: [1, 2]}\n"),
      "it never has `beta` = 7");
}

}  // namespace
}  // namespace sweep
