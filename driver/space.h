// Space: the sweep's points, point index i -> the value of every parameter at i.
//
// A Space holds only the axis definitions, never a list of points: Resolve() costs O(number of
// parameters) time and no allocation, so a sweep of 10^12 points plans instantly in constant
// memory.
//
// Dimensions and point order (DESIGN.md "Output file"): points are numbered in C order over the
// dimensions, which are, in order:
//   - a grid: one dimension per swept parameter in the order of `parameters`, except that all
//     members of a zip group share one dimension, placed where the first of its members stands in
//     `parameters` (named by its members joined with "_" as the group lists them);
//   - a sampled sweep (`sampling:`): one dimension `sample` of size sampling.n;
//   - `replicate` last when repeat > 1.
// Constants are parameters but not dimensions.
//
// Sampling: a sampled parameter is {uniform: [low, high]} or {loguniform: [low, high]} (exp of a
// uniform draw in log space); a sampled sweep's other parameters are constants. Every method maps
// (seed, sample index i, sampled parameter j) to a coordinate u in [0, 1), then to the parameter's
// [low, high) (clamped so rounding never reaches high). `uniform` draws each u independently from
// a counter-based hash; `lhs` is a Latin hypercube: u = (perm_j(i) + jitter) / n, where perm_j is
// a seeded bijection of [0, n) (a Feistel network with cycle walking, so no permutation is stored)
// and so each of the n strata of every parameter holds exactly one sample; `sobol` is the Sobol
// sequence in Gray-code order (Joe-Kuo new-joe-kuo-6.21201 direction numbers, 52-bit fixed point,
// at most kSobolDimensions sampled parameters) scrambled by a seeded 52-bit digital shift (an XOR
// per parameter). Sample i is Sobol point i, the origin included: the shift moves the origin to a
// random point, and keeping it keeps the first 2^k samples a (0, k, 1)-net in every parameter
// (each of the 2^k strata holds one sample), which dropping it would break. All three are pure
// functions of (seed, sample index): the seed is the master seed `seed:`.
//
// Seeds (DESIGN.md "Determinism"): a point's seed is a hash of the master seed, the point's
// parameter values and its replicate, never of its index, so the same point has the same seed in
// any sweep that holds it (a grid refined or extended, more samples, `repeat` raised, a constant
// made an axis): what lets `sweep run --reuse` copy it instead of computing it. The rule, kept in
// this one place (SeedRule::kParameterValues):
//   seed = PointSeed(master seed, ValuesKey, replicate)
//   ValuesKey = the sum, modulo 2^64, over every parameter (constants too) of
//               ParameterHash(XXH3-64 of its name's bytes, its value)
//   ParameterHash(name_hash, v) = XXH3-64 seeded with name_hash of the 16 bytes tag, bits (each
//               8 bytes, little-endian): tag 1 and the IEEE-754 bits for a number, tag 2 and the
//               two's complement bits for an integer, tag 3 and XXH3-64 of the bytes for a string.
// A sum does not depend on the order of `parameters` nor on which parameters are swept and which
// constant, and lets Seeds() add one dimension's part at a time. Two points with the same values
// (a `values:` list naming one twice) have the same seed and so the same results: `repeat:` is
// the way to independent replicates. The type is part of a value: the integer 3 and the number
// 3.0 are different points, as kernels see them.
//
// Outputs made before this rule (SeedRule::kPointIndex, which their fingerprint says by having
// no "seeds" entry, driver/fingerprint.h) keep theirs for their resume, rerun and export:
// PointSeed(master seed, point index without its replicate, replicate).
//
// PointSeed is XXH3-64 seeded with the master seed of the 16 bytes word, replicate (each 8
// bytes, little-endian): independent of workers, chunks and order.
//
// Stability: the values below are part of the file format (DESIGN.md "Determinism"). Changing
// linspace arithmetic, the hashes, the Feistel rounds, the direction numbers or the clamping
// changes the points of an existing sweep and so needs a new output format version. logspace and
// loguniform also go through the C library's pow, exp and log (glibc's are correctly rounded or
// within an ulp), as numpy's do.
//
// Growth (what `--reuse` relies on; tests/space_test.cc holds each):
//   - range and values keep their values when extended: value k is the same in any longer axis.
//   - linspace(a, b, 2n-1) holds every value of linspace(a, b, n), bit for bit: numpy's
//     arithmetic below gives it, since step' = (b-a)/(2(n-1)) is exactly step/2 and
//     (2k) * (step/2) rounds to exactly k * step (halving and doubling are exact in binary
//     floating point), so value 2k of the finer axis is value k of the coarser; the endpoints are
//     a and b exactly in both. Likewise linspace(a, b, 2^j(n-1)+1). It holds wherever
//     (b-a)/(2(n-1)) is a normal double (|b-a| above about 2^-1022 * 2(n-1)); a step in the
//     subnormal range loses bits and the property with them. A refinement by another factor
//     (3n-2) or an axis extended to another stop keeps only the values the arithmetic happens to
//     reproduce (k * step rounds alike only if the two steps are the same double).
//   - logspace is 10^linspace: its values follow its exponents' bit for bit, since pow is a
//     function of them, so it refines like linspace; the values of 10^x for other exponents
//     differ from any decimal the user might have listed (10^0.5 is no literal).
//   - uniform and sobol samples are functions of (seed, sample index) only: sample i keeps its
//     values when sampling.n grows (prefix stable). lhs samples depend on n (its strata are
//     n-ths), so a Latin hypercube of another n shares no sample with it, but by chance.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/config.h"
#include "kernels/kernel.h"

namespace sweep {

// Sweeps larger than this are a config error: 2^48 points (about 2.8e14).
inline constexpr uint64_t kMaxPoints = uint64_t{1} << 48;

// The most sampled parameters `sampling: {method: sobol}` takes (the direction numbers embedded).
inline constexpr int kSobolDimensions = 64;

struct Dimension {
  std::string name;  // the parameter's name; for a zip group its members joined by "_" in the
                     // group's order ("sigma_n"); "sample"; "replicate"
  uint64_t size = 0;
  // Indices into Space::parameter_names() that move along it: one parameter; a zip group's
  // members in the group's order; every sampled parameter (for "sample"); none for "replicate".
  std::vector<int> parameters;
};

struct SpaceProblems;

// How a point's seed derives from the point (see "Seeds" above).
enum class SeedRule {
  kPointIndex,       // outputs made before seeds by value: the point's index
  kParameterValues,  // the point's parameter values: every new output
};

class Space {
 public:
  // THROWS: ConfigError (exit code 2) when the point count overflows 64 bits or exceeds
  // kMaxPoints, naming the config location (`parameters.<name>` of the dimension where the count
  // first went over; `sampling.n`; `repeat`). Also for what LoadConfig() already rejects, should
  // such a Config reach it: empty axes, zip groups naming unknown, constant or repeated
  // parameters or of unequal lengths, grid axes in a sampled sweep, sampled parameters without
  // `sampling:`, value lists mixing strings and numbers, repeat < 1, too many sobol parameters.
  // `seeds`: the rule of the output the space is for: kPointIndex for an output that its
  // fingerprint says was made before seeds by value (SeedRuleOf in driver/fingerprint.h).
  explicit Space(const Config& config, SeedRule seeds = SeedRule::kParameterValues);

  uint64_t points() const { return points_; }
  uint64_t repeat() const { return repeat_; }
  uint64_t seed() const { return seed_; }  // the master seed
  SeedRule seed_rule() const { return seed_rule_; }
  const std::vector<Dimension>& dimensions() const { return dimensions_; }
  // Every parameter (swept, zipped, sampled and constant), in the order of `parameters`.
  const std::vector<std::string>& parameter_names() const { return parameter_names_; }
  int FindParameter(const std::string& name) const;  // -1 if absent

  // What /params/<name> holds: kString for string values; kInteger for a range, a list of
  // integers or an integer constant; kNumber otherwise (linspace, logspace, sampled parameters,
  // lists mixing integers and numbers, whose integers then resolve as numbers).
  Value::Type parameter_type(int i) const { return types_[i]; }
  // The dimension parameter i moves along, -1 for a constant.
  int dimension_of(int i) const { return dimension_of_[i]; }
  // How parameter i is given (linspace, values, ...).
  AxisSpec::Kind parameter_kind(int i) const { return parameters_[size_t(i)].kind; }
  // Points per step of dimension d (C order: the last dimension's stride is 1).
  uint64_t stride(size_t d) const { return strides_[d]; }

  // Fills values[0..parameter_names().size()) with the parameters at `point`.
  // REQUIRES: point < points(); values has room for parameter_names().size() entries.
  // NOTE: string values point into this Space and live as long as it does.
  void Resolve(uint64_t point, sweep_value* values) const;

  // Parameter i at index k of its dimension (the sample index for a sampled parameter); k is
  // ignored for a constant. Resolve() is this for every parameter.
  // REQUIRES: k < dimensions()[dimension_of(i)].size for a non-constant.
  sweep_value ParameterValue(int i, uint64_t k) const;

  // The coordinate values of dimension d at index k (for /axes); for a zip group, the value of
  // its first member; for "sample" and "replicate", k itself (an integer).
  sweep_value Coordinate(size_t d, uint64_t k) const;

  // The point's seed (see "Seeds" above): PointSeed(seed, ValuesKey(point), point % repeat), or
  // under kPointIndex PointSeed(seed, point / repeat, point % repeat).
  uint64_t Seed(uint64_t point) const;
  // The sum of ParameterHash over the parameters at `point` (its replicate aside).
  uint64_t ValuesKey(uint64_t point) const;

  // Parameter i at points [first, first + n) as a column: what Resolve() gives at each point, bit
  // for bit, into the arrays the parameter's type uses (each of n elements): `numbers` for
  // kNumber and kInteger (an integer as a double, like sweep_value.number), `integers` for
  // kInteger, `strings` for kString; the others may be nullptr. Walks the points like an
  // odometer, one value per step of the parameter's dimension, by the axis's closed form (range
  // and linspace per element without a call, the other kinds once per step): no division or
  // Resolve() per point. REQUIRES: first + n <= points().
  void ParameterColumn(int i, uint64_t first, uint64_t n, double* numbers, int64_t* integers,
                       const char** strings) const;
  // ParameterValue(i, k) for k in [k0, k0 + n), as a column into the arrays its type uses (as
  // ParameterColumn, but `numbers` may be nullptr for a kInteger parameter): the values along its
  // dimension, for the output's coordinate variables.
  // REQUIRES: k0 + n <= the size of the parameter's dimension (1 for a constant).
  void AxisValues(int i, uint64_t k0, uint64_t n, double* numbers, int64_t* integers,
                  const char** strings) const;
  // out[k] = Seed(first + k) for k < n, walking the points like an odometer: a dimension's
  // part of ValuesKey is hashed again only when its index moves. REQUIRES: first + n <= points().
  void Seeds(uint64_t first, uint64_t n, uint64_t* out) const;

 private:
  // The constructor's steps (space.cc); each adds what is wrong to `problems`.
  void ReadNamesAndTypes(const Config& config, SpaceProblems* problems);
  std::vector<int> ZipGroupOf(const Config& config, SpaceProblems* problems) const;
  void MakeGridDimensions(const Config& config, SpaceProblems* problems);
  void SizeGridDimension(const Config& config, int group, Dimension* dimension,
                         SpaceProblems* problems) const;
  void MakeSampleDimension(const Config& config, SpaceProblems* problems);
  // THROWS: ConfigError when the sweep has more than kMaxPoints points.
  void CountPoints(const Config& config, const SourceLocation& file_only);
  // Dimension d's part of ValuesKey at index k: ParameterHash of each parameter moving along it.
  uint64_t DimensionKey(size_t d, uint64_t k) const;

  // Within O(number of parameters) in size.
  std::vector<AxisSpec> parameters_;  // copied from the config: Space owns its strings
  std::vector<Value::Type> types_;
  std::vector<int> dimension_of_;      // parameter -> its dimension, -1 for constants
  std::vector<int> sampled_index_;     // parameter -> its index among sampled parameters, or -1
  std::vector<uint64_t> sobol_shift_;  // sampled parameter -> its digital shift (sobol only)
  std::vector<Dimension> dimensions_;
  std::vector<std::string> parameter_names_;
  std::vector<uint64_t> strides_;  // points per step of each dimension (C order)
  uint64_t points_ = 0;
  uint64_t repeat_ = 1;
  uint64_t seed_ = 0;
  SeedRule seed_rule_ = SeedRule::kParameterValues;
  std::vector<uint64_t> name_hashes_;  // parameter -> XXH3-64 of its name
  uint64_t constants_key_ = 0;         // the constants' part of ValuesKey
  SamplingSpec::Method sampling_ = SamplingSpec::Method::kNone;
  uint64_t samples_ = 0;       // sampling.n
  int feistel_half_bits_ = 0;  // lhs: half the width of the Feistel network's domain
};

// A stable 64-bit hash of (master seed, word, replicate), where word is a point's ValuesKey
// (or, under SeedRule::kPointIndex, its index); see "Seeds" above. It is XXH3_64bits_withSeed
// over the 16 bytes word, replicate (each little-endian), with the master seed as XXH3's seed.
uint64_t PointSeed(uint64_t master_seed, uint64_t word, uint64_t replicate);

// One parameter's part of a point's ValuesKey (see "Seeds" above).
uint64_t ParameterHash(const std::string& name, const sweep_value& value);

// The building blocks of the axes and of sampling, exposed for tests.
namespace internal {

// numpy.linspace(start, stop, count)[k], bit for bit: k * step + start with
// step = (stop - start) / (count - 1); the last value is stop exactly; count == 1 gives start.
// Inline: Space::ParameterColumn() computes it per point, and must give the same bits.
inline double Linspace(double start, double stop, int64_t count, int64_t k) {
  // numpy.linspace: step = delta / div; y = k * step (or k / div * delta if step underflows to
  // 0) + start; the last value replaced by stop.
  const double delta = stop - start;
  if (count <= 1) return double(k) * delta + start;
  if (k == count - 1) return stop;
  const double div = double(count - 1);
  const double step = delta / div;
  const double y = step == 0 ? (double(k) / div) * delta : double(k) * step;
  return y + start;
}

// XXH3_64bits_withSeed over the little-endian bytes of words[0..n), seeded with seed.
uint64_t Hash(uint64_t seed, const uint64_t* words, size_t n);

// ParameterHash with its name's XXH3-64 given.
uint64_t ParameterHash(uint64_t name_hash, const sweep_value& value);

// A double in [0, 1) from the top 53 bits of h.
double UnitInterval(uint64_t h);

// A seeded bijection of [0, n) (n >= 1): a 4-round Feistel network over 2 * half_bits bits
// (FeistelHalfBits(n)) keyed by (seed, key), cycle-walking until the result falls below n.
int FeistelHalfBits(uint64_t n);
uint64_t Permute(uint64_t seed, uint64_t key, uint64_t n, int half_bits, uint64_t x);

// Coordinate `dim` (0-based, < kSobolDimensions) of the unscrambled Sobol point `index` in
// Gray-code order (index 0 is the origin), as a 52-bit fixed-point fraction: the coordinate is
// SobolBits(...) * 2^-52.
uint64_t SobolBits(uint64_t index, int dim);

}  // namespace internal
}  // namespace sweep
