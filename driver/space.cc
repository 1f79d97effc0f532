#include "driver/space.h"

#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>

#include "io/error.h"

namespace sweep {
namespace {

// Domain tags: the first word of every sampling hash, so that no two uses of the master seed
// (point seeds, uniform draws, LHS jitter and permutations, Sobol shifts) ever hash the same
// words.
constexpr uint64_t kUniformTag = 1;
constexpr uint64_t kLhsJitterTag = 2;
constexpr uint64_t kLhsPermutationTag = 3;
constexpr uint64_t kSobolShiftTag = 4;

constexpr int kSobolBits = 52;

// Joe and Kuo's new-joe-kuo-6.21201 direction numbers for dimensions 2..64 (dimension 1, van der
// Corput, needs none): degree s of the primitive polynomial, its coefficients a, and m_1..m_s.
// Source: https://web.maths.unsw.edu.au/~fkuo/sobol/ (Copyright (c) 2008, Frances Y. Kuo and
// Stephen Joe, BSD-style licence). S. Joe and F. Y. Kuo, "Constructing Sobol sequences with
// better two-dimensional projections", SIAM J. Sci. Comput. 30, 2635-2654 (2008).
struct JoeKuoRow {
  int s;
  uint32_t a;
  uint32_t m[9];
};
constexpr JoeKuoRow kJoeKuo[kSobolDimensions - 1] = {
    {1, 0, {1}},                                   // 2
    {2, 1, {1, 3}},                                // 3
    {3, 1, {1, 3, 1}},                             // 4
    {3, 2, {1, 1, 1}},                             // 5
    {4, 1, {1, 1, 3, 3}},                          // 6
    {4, 4, {1, 3, 5, 13}},                         // 7
    {5, 2, {1, 1, 5, 5, 17}},                      // 8
    {5, 4, {1, 1, 5, 5, 5}},                       // 9
    {5, 7, {1, 1, 7, 11, 19}},                     // 10
    {5, 11, {1, 1, 5, 1, 1}},                      // 11
    {5, 13, {1, 1, 1, 3, 11}},                     // 12
    {5, 14, {1, 3, 5, 5, 31}},                     // 13
    {6, 1, {1, 3, 3, 9, 7, 49}},                   // 14
    {6, 13, {1, 1, 1, 15, 21, 21}},                // 15
    {6, 16, {1, 3, 1, 13, 27, 49}},                // 16
    {6, 19, {1, 1, 1, 15, 7, 5}},                  // 17
    {6, 22, {1, 3, 1, 15, 13, 25}},                // 18
    {6, 25, {1, 1, 5, 5, 19, 61}},                 // 19
    {7, 1, {1, 3, 7, 11, 23, 15, 103}},            // 20
    {7, 4, {1, 3, 7, 13, 13, 15, 69}},             // 21
    {7, 7, {1, 1, 3, 13, 7, 35, 63}},              // 22
    {7, 8, {1, 3, 5, 9, 1, 25, 53}},               // 23
    {7, 14, {1, 3, 1, 13, 9, 35, 107}},            // 24
    {7, 19, {1, 3, 1, 5, 27, 61, 31}},             // 25
    {7, 21, {1, 1, 5, 11, 19, 41, 61}},            // 26
    {7, 28, {1, 3, 5, 3, 3, 13, 69}},              // 27
    {7, 31, {1, 1, 7, 13, 1, 19, 1}},              // 28
    {7, 32, {1, 3, 7, 5, 13, 19, 59}},             // 29
    {7, 37, {1, 1, 3, 9, 25, 29, 41}},             // 30
    {7, 41, {1, 3, 5, 13, 23, 1, 55}},             // 31
    {7, 42, {1, 3, 7, 3, 13, 59, 17}},             // 32
    {7, 50, {1, 3, 1, 3, 5, 53, 69}},              // 33
    {7, 55, {1, 1, 5, 5, 23, 33, 13}},             // 34
    {7, 56, {1, 1, 7, 7, 1, 61, 123}},             // 35
    {7, 59, {1, 1, 7, 9, 13, 61, 49}},             // 36
    {7, 62, {1, 3, 3, 5, 3, 55, 33}},              // 37
    {8, 14, {1, 3, 1, 15, 31, 13, 49, 245}},       // 38
    {8, 21, {1, 3, 5, 15, 31, 59, 63, 97}},        // 39
    {8, 22, {1, 3, 1, 11, 11, 11, 77, 249}},       // 40
    {8, 38, {1, 3, 1, 11, 27, 43, 71, 9}},         // 41
    {8, 47, {1, 1, 7, 15, 21, 11, 81, 45}},        // 42
    {8, 49, {1, 3, 7, 3, 25, 31, 65, 79}},         // 43
    {8, 50, {1, 3, 1, 1, 19, 11, 3, 205}},         // 44
    {8, 52, {1, 1, 5, 9, 19, 21, 29, 157}},        // 45
    {8, 56, {1, 3, 7, 11, 1, 33, 89, 185}},        // 46
    {8, 67, {1, 3, 3, 3, 15, 9, 79, 71}},          // 47
    {8, 70, {1, 3, 7, 11, 15, 39, 119, 27}},       // 48
    {8, 84, {1, 1, 3, 1, 11, 31, 97, 225}},        // 49
    {8, 97, {1, 1, 1, 3, 23, 43, 57, 177}},        // 50
    {8, 103, {1, 3, 7, 7, 17, 17, 37, 71}},        // 51
    {8, 115, {1, 3, 1, 5, 27, 63, 123, 213}},      // 52
    {8, 122, {1, 1, 3, 5, 11, 43, 53, 133}},       // 53
    {9, 8, {1, 3, 5, 5, 29, 17, 47, 173, 479}},    // 54
    {9, 13, {1, 3, 3, 11, 3, 1, 109, 9, 69}},      // 55
    {9, 16, {1, 1, 1, 5, 17, 39, 23, 5, 343}},     // 56
    {9, 22, {1, 3, 1, 5, 25, 15, 31, 103, 499}},   // 57
    {9, 25, {1, 1, 1, 11, 11, 17, 63, 105, 183}},  // 58
    {9, 44, {1, 1, 5, 11, 9, 29, 97, 231, 363}},   // 59
    {9, 47, {1, 1, 5, 15, 19, 45, 41, 7, 383}},    // 60
    {9, 52, {1, 3, 7, 7, 31, 19, 83, 137, 221}},   // 61
    {9, 55, {1, 1, 1, 3, 23, 15, 111, 223, 83}},   // 62
    {9, 59, {1, 1, 5, 13, 31, 15, 55, 25, 161}},   // 63
    {9, 62, {1, 1, 3, 13, 25, 47, 39, 87, 257}},   // 64
};

// V[dim][k]: the direction number of bit k (0-based) of the Gray-code index, as a 52-bit fraction.
using SobolDirections = std::array<std::array<uint64_t, kSobolBits>, kSobolDimensions>;

SobolDirections MakeSobolDirections() {
  SobolDirections v{};
  for (int dim = 0; dim < kSobolDimensions; ++dim) {
    uint64_t m[kSobolBits + 1] = {};  // m[1..kSobolBits], 1-based as in Joe and Kuo's paper
    if (dim == 0) {
      for (int k = 1; k <= kSobolBits; ++k) m[k] = 1;
    } else {
      const JoeKuoRow& row = kJoeKuo[dim - 1];
      const int s = row.s;
      for (int k = 1; k <= s; ++k) m[k] = row.m[k - 1];
      for (int k = s + 1; k <= kSobolBits; ++k) {
        m[k] = m[k - s] ^ (m[k - s] << s);
        for (int i = 1; i < s; ++i) {
          if ((row.a >> (s - 1 - i)) & 1) m[k] ^= m[k - i] << i;
        }
      }
    }
    for (int k = 1; k <= kSobolBits; ++k) v[dim][k - 1] = m[k] << (kSobolBits - k);
  }
  return v;
}

const SobolDirections& Directions() {
  static const SobolDirections directions = MakeSobolDirections();
  return directions;
}

bool IsSampled(const AxisSpec& axis) {
  return axis.kind == AxisSpec::Kind::kUniform || axis.kind == AxisSpec::Kind::kLogUniform;
}

std::string KeyOf(const AxisSpec& axis) { return "parameters." + axis.name; }

sweep_value NumberValue(double x) {
  sweep_value v{};
  v.type = SWEEP_VALUE_NUMBER;
  v.number = x;
  return v;
}

sweep_value IntegerValue(int64_t x) {
  sweep_value v{};
  v.type = SWEEP_VALUE_INTEGER;
  v.integer = x;
  v.number = double(x);
  return v;
}

// A config value as a parameter of the given type (an integer in a list with numbers resolves
// as a number, so a parameter has one type at every point).
sweep_value FromValue(const Value& value, Value::Type type) {
  if (type == Value::Type::kString) {
    sweep_value v{};
    v.type = SWEEP_VALUE_STRING;
    v.string = value.string.c_str();
    return v;
  }
  if (type == Value::Type::kInteger) return IntegerValue(value.integer);
  return NumberValue(value.type == Value::Type::kInteger ? double(value.integer) : value.number);
}

// Maps u in [0, 1) into [low, high), keeping rounding (in the affine map or in exp/log) from
// reaching high or falling below low.
double IntoRange(double x, double low, double high) {
  if (!(high > low)) return low;
  if (x >= high) return std::nextafter(high, low);
  if (x < low) return low;
  return x;
}

}  // namespace

namespace internal {

uint64_t Hash(uint64_t seed, const uint64_t* words, size_t n) {
  // Explicit little-endian bytes, so the hash is the same on every host.
  unsigned char bytes[8 * 8];
  if (n > 8) throw Error("internal: Hash takes at most 8 words");
  for (size_t i = 0; i < n; ++i) {
    for (int b = 0; b < 8; ++b) bytes[8 * i + b] = static_cast<unsigned char>(words[i] >> (8 * b));
  }
  return XXH3_64bits_withSeed(bytes, 8 * n, seed);
}

double UnitInterval(uint64_t h) { return double(h >> 11) * 0x1.0p-53; }

int FeistelHalfBits(uint64_t n) {
  const int bits = n <= 1 ? 0 : 64 - __builtin_clzll(n - 1);
  return bits < 2 ? 1 : (bits + 1) / 2;
}

uint64_t Permute(uint64_t seed, uint64_t key, uint64_t n, int half_bits, uint64_t x) {
  // A Feistel network is a bijection of [0, 4^half_bits) whatever its round function; walking
  // the cycle from x until it lands below n again restricts it to a bijection of [0, n). The
  // domain is under 4n, so the walk takes fewer than 4 steps on average.
  const uint64_t mask = (uint64_t{1} << half_bits) - 1;
  do {
    uint64_t left = x >> half_bits, right = x & mask;
    for (uint64_t round = 0; round < 4; ++round) {
      const uint64_t words[4] = {kLhsPermutationTag, key, round, right};
      const uint64_t next = left ^ (Hash(seed, words, 4) & mask);
      left = right;
      right = next;
    }
    x = (left << half_bits) | right;
  } while (x >= n);
  return x;
}

uint64_t SobolBits(uint64_t index, int dim) {
  const std::array<uint64_t, kSobolBits>& v = Directions()[dim];
  uint64_t gray = index ^ (index >> 1);
  uint64_t x = 0;
  for (int k = 0; gray != 0 && k < kSobolBits; ++k, gray >>= 1) {
    if (gray & 1) x ^= v[k];
  }
  return x;
}

}  // namespace internal

uint64_t PointSeed(uint64_t master_seed, uint64_t word, uint64_t replicate) {
  const uint64_t words[2] = {word, replicate};
  return internal::Hash(master_seed, words, 2);
}

namespace {

uint64_t NameHash(const std::string& name) { return XXH3_64bits(name.data(), name.size()); }

}  // namespace

uint64_t internal::ParameterHash(uint64_t name_hash, const sweep_value& value) {
  uint64_t words[2] = {0, 0};
  switch (value.type) {
    case SWEEP_VALUE_INTEGER:
      words[0] = 2;
      words[1] = uint64_t(value.integer);
      break;
    case SWEEP_VALUE_STRING: {
      const char* text = value.string ? value.string : "";
      words[0] = 3;
      words[1] = XXH3_64bits(text, std::strlen(text));
      break;
    }
    default:
      words[0] = 1;
      std::memcpy(&words[1], &value.number, 8);
      break;
  }
  return Hash(name_hash, words, 2);
}

uint64_t ParameterHash(const std::string& name, const sweep_value& value) {
  return internal::ParameterHash(NameHash(name), value);
}

// Every problem a config's parameters have, gathered so that one run of `validate` names them all.
struct SpaceProblems {
  std::vector<Diagnostic> found;
  SourceLocation file_only;  // for keys with no line of their own (`repeat`)
  void Add(const SourceLocation& where, std::string key, std::string message) {
    found.push_back(Diagnostic{where, std::move(key), std::move(message)});
  }
  const SourceLocation& ZipWhere(const Config& config, size_t g) const {
    return g < config.zip_where.size() ? config.zip_where[g] : file_only;
  }
};

Space::Space(const Config& config, SeedRule seeds)
    : parameters_(config.parameters),
      repeat_(config.repeat > 0 ? uint64_t(config.repeat) : 1),
      seed_(config.seed),
      seed_rule_(seeds),
      sampling_(config.sampling.method) {
  SpaceProblems problems;
  problems.file_only = SourceLocation{config.file, 0, 0};
  ReadNamesAndTypes(config, &problems);
  dimension_of_.assign(parameters_.size(), -1);
  sampled_index_.assign(parameters_.size(), -1);
  if (sampling_ == SamplingSpec::Method::kNone) {
    MakeGridDimensions(config, &problems);
  } else {
    MakeSampleDimension(config, &problems);
  }
  if (repeat_ > 1) dimensions_.push_back(Dimension{"replicate", repeat_, {}});
  if (!problems.found.empty()) throw ConfigError(std::move(problems.found));
  CountPoints(config, problems.file_only);
  strides_.assign(dimensions_.size(), 1);
  for (size_t d = dimensions_.size(); d-- > 1;) {
    strides_[d - 1] = strides_[d] * dimensions_[d].size;
  }
  for (size_t p = 0; p < parameters_.size(); ++p) {
    name_hashes_.push_back(NameHash(parameters_[p].name));
    if (dimension_of_[p] < 0)
      constants_key_ += internal::ParameterHash(name_hashes_[p], ParameterValue(int(p), 0));
  }
}

void Space::ReadNamesAndTypes(const Config& config, SpaceProblems* problems) {
  for (const AxisSpec& axis : parameters_) {
    parameter_names_.push_back(axis.name);
    Value::Type type = Value::Type::kNumber;
    if (axis.kind == AxisSpec::Kind::kRange) {
      type = Value::Type::kInteger;
    } else if (axis.kind == AxisSpec::Kind::kValues || axis.kind == AxisSpec::Kind::kConstant) {
      size_t strings = 0, integers = 0;
      for (const Value& value : axis.values) {
        strings += value.type == Value::Type::kString;
        integers += value.type == Value::Type::kInteger;
      }
      if (axis.values.empty()) {
        if (axis.kind == AxisSpec::Kind::kConstant)
          problems->Add(axis.where, KeyOf(axis), "no value");
      } else if (strings == axis.values.size()) {
        type = Value::Type::kString;
      } else if (strings > 0) {
        problems->Add(axis.where, KeyOf(axis), "the values mix strings and numbers");
      } else if (integers == axis.values.size()) {
        type = Value::Type::kInteger;
      }
    }
    types_.push_back(type);
  }
  if (config.repeat < 1) problems->Add(problems->file_only, "repeat", "must be at least 1");
  // /axes/<dimension> names must be unique.
  for (const AxisSpec& axis : parameters_) {
    if ((axis.name == "replicate" && repeat_ > 1) ||
        (axis.name == "sample" && sampling_ != SamplingSpec::Method::kNone)) {
      problems->Add(axis.where, KeyOf(axis),
                    "`" + axis.name + "` is the name of a sweep dimension; rename the parameter");
    }
  }
}

std::vector<int> Space::ZipGroupOf(const Config& config, SpaceProblems* problems) const {
  std::vector<int> group_of(parameters_.size(), -1);
  for (size_t g = 0; g < config.zip.size(); ++g) {
    const SourceLocation& where = problems->ZipWhere(config, g);
    const std::string key = "zip[" + std::to_string(g) + "]";
    for (const std::string& name : config.zip[g]) {
      const int p = FindParameter(name);
      if (p < 0) {
        problems->Add(where, key, "`" + name + "` is not a parameter");
      } else if (parameters_[p].kind == AxisSpec::Kind::kConstant) {
        problems->Add(where, key, "`" + name + "` is a constant, which cannot be zipped");
      } else if (group_of[p] >= 0) {
        problems->Add(where, key, "`" + name + "` is zipped twice");
      } else {
        group_of[p] = int(g);
      }
    }
  }
  return group_of;
}

// One dimension per grid axis, in the order of `parameters`, except that a zip group is one
// dimension, where its first member stands.
void Space::MakeGridDimensions(const Config& config, SpaceProblems* problems) {
  const std::vector<int> group_of = ZipGroupOf(config, problems);
  std::vector<int> dimension_of_group(config.zip.size(), -1);
  for (int p = 0; p < int(parameters_.size()); ++p) {
    const AxisSpec& axis = parameters_[p];
    if (axis.kind == AxisSpec::Kind::kConstant) continue;
    if (IsSampled(axis)) {
      problems->Add(axis.where, KeyOf(axis), "a uniform or loguniform parameter needs `sampling:`");
      continue;
    }
    const int g = group_of[p];
    if (g >= 0 && dimension_of_group[g] >= 0) {
      dimension_of_[p] = dimension_of_group[g];
      continue;
    }
    Dimension dimension;
    if (g < 0) {
      dimension.name = axis.name;
      dimension.parameters = {p};
    } else {
      for (const std::string& name : config.zip[g]) {
        const int member = FindParameter(name);
        if (member < 0 || group_of[member] != g) continue;
        if (!dimension.name.empty()) dimension.name += '_';
        dimension.name += name;
        dimension.parameters.push_back(member);
      }
      dimension_of_group[g] = int(dimensions_.size());
    }
    SizeGridDimension(config, g, &dimension, problems);
    dimension_of_[p] = int(dimensions_.size());
    for (int member : dimension.parameters) dimension_of_[member] = int(dimensions_.size());
    dimensions_.push_back(std::move(dimension));
  }
}

// The dimension's size is its first parameter's length; every member must be as long.
void Space::SizeGridDimension(const Config& config, int group, Dimension* dimension,
                              SpaceProblems* problems) const {
  const AxisSpec& first = parameters_[dimension->parameters[0]];
  dimension->size = AxisLength(first);
  for (int member : dimension->parameters) {
    const AxisSpec& other = parameters_[member];
    if (AxisLength(other) == 0) {
      problems->Add(other.where, KeyOf(other), "the axis is empty");
    } else if (AxisLength(other) != dimension->size && dimension->size != 0) {
      problems->Add(problems->ZipWhere(config, size_t(group)), "zip[" + std::to_string(group) + "]",
                    "zipped parameters differ in length: " + first.name + " has " +
                        std::to_string(dimension->size) + " values, " + other.name + " has " +
                        std::to_string(AxisLength(other)));
    }
  }
}

// One dimension, `sample`, shared by every sampled parameter.
void Space::MakeSampleDimension(const Config& config, SpaceProblems* problems) {
  for (size_t g = 0; g < config.zip.size(); ++g) {
    problems->Add(problems->ZipWhere(config, g), "zip[" + std::to_string(g) + "]",
                  "a sampled sweep has no zip groups");
  }
  if (config.sampling.n < 1) {
    problems->Add(config.sampling.where, "sampling.n", "must be at least 1");
  }
  samples_ = config.sampling.n > 0 ? uint64_t(config.sampling.n) : 0;
  Dimension sample{"sample", samples_, {}};
  for (int p = 0; p < int(parameters_.size()); ++p) {
    const AxisSpec& axis = parameters_[p];
    if (axis.kind == AxisSpec::Kind::kConstant) continue;
    if (!IsSampled(axis)) {
      problems->Add(axis.where, KeyOf(axis),
                    "a sampled sweep takes only uniform, loguniform and constant parameters");
      continue;
    }
    if (axis.kind == AxisSpec::Kind::kLogUniform && !(axis.start > 0)) {
      problems->Add(axis.where, KeyOf(axis), "loguniform needs 0 < low");
    }
    const int j = int(sample.parameters.size());
    if (sampling_ == SamplingSpec::Method::kSobol && j == kSobolDimensions) {
      problems->Add(axis.where, KeyOf(axis),
                    "sobol sampling takes at most " + std::to_string(kSobolDimensions) +
                        " sampled parameters");
    }
    sampled_index_[p] = j;
    dimension_of_[p] = 0;
    sample.parameters.push_back(p);
    if (sampling_ == SamplingSpec::Method::kSobol) {
      const uint64_t words[3] = {kSobolShiftTag, uint64_t(j), 0};
      sobol_shift_.push_back(internal::Hash(seed_, words, 3) >> (64 - kSobolBits));
    }
  }
  dimensions_.push_back(std::move(sample));
  feistel_half_bits_ = internal::FeistelHalfBits(samples_);
}

// The point count, blaming the dimension where it first goes over the limit.
void Space::CountPoints(const Config& config, const SourceLocation& file_only) {
  const auto blame = [&](size_t d) -> std::pair<SourceLocation, std::string> {
    const Dimension& dimension = dimensions_[d];
    if (dimension.name == "replicate" && dimension.parameters.empty()) {
      return {file_only, "repeat"};
    }
    if (sampling_ != SamplingSpec::Method::kNone) return {config.sampling.where, "sampling.n"};
    const AxisSpec& axis = parameters_[dimension.parameters[0]];
    return {axis.where, KeyOf(axis)};
  };
  uint64_t points = 1;
  int over_limit_at = -1;
  for (size_t d = 0; d < dimensions_.size(); ++d) {
    if (__builtin_mul_overflow(points, dimensions_[d].size, &points)) {
      auto [where, key] = blame(d);
      throw ConfigError(
          {Diagnostic{where, key,
                      "the sweep has more than 2^64 points, over the limit of 2^48 (" +
                          std::to_string(kMaxPoints) + ")"}});
    }
    if (points > kMaxPoints && over_limit_at < 0) over_limit_at = int(d);
  }
  if (over_limit_at >= 0) {
    auto [where, key] = blame(over_limit_at);
    throw ConfigError(
        {Diagnostic{where, key,
                    "the sweep has " + std::to_string(points) +
                        " points, over the limit of 2^48 (" + std::to_string(kMaxPoints) + ")"}});
  }
  points_ = points;
}

int Space::FindParameter(const std::string& name) const {
  for (size_t i = 0; i < parameter_names_.size(); ++i) {
    if (parameter_names_[i] == name) return int(i);
  }
  return -1;
}

sweep_value Space::ParameterValue(int i, uint64_t k) const {
  const AxisSpec& axis = parameters_[i];
  switch (axis.kind) {
    case AxisSpec::Kind::kConstant:
      return FromValue(axis.values[0], types_[i]);
    case AxisSpec::Kind::kValues:
      return FromValue(axis.values[k], types_[i]);
    case AxisSpec::Kind::kLinspace:
      return NumberValue(internal::Linspace(axis.start, axis.stop, axis.count, int64_t(k)));
    case AxisSpec::Kind::kLogspace:
      return NumberValue(
          std::pow(10.0, internal::Linspace(axis.start, axis.stop, axis.count, int64_t(k))));
    case AxisSpec::Kind::kRange:
      return IntegerValue(int64_t(uint64_t(axis.range_start) + k * uint64_t(axis.range_step)));
    case AxisSpec::Kind::kUniform:
    case AxisSpec::Kind::kLogUniform:
      break;
  }

  const uint64_t j = uint64_t(sampled_index_[i]);
  double u = 0;
  switch (sampling_) {
    case SamplingSpec::Method::kUniform: {
      const uint64_t words[3] = {kUniformTag, k, j};
      u = internal::UnitInterval(internal::Hash(seed_, words, 3));
      break;
    }
    case SamplingSpec::Method::kLhs: {
      const uint64_t stratum = internal::Permute(seed_, j, samples_, feistel_half_bits_, k);
      const uint64_t words[3] = {kLhsJitterTag, k, j};
      const double jitter = internal::UnitInterval(internal::Hash(seed_, words, 3));
      u = std::min((double(stratum) + jitter) / double(samples_), std::nextafter(1.0, 0.0));
      break;
    }
    case SamplingSpec::Method::kSobol:
      u = double(internal::SobolBits(k, int(j)) ^ sobol_shift_[j]) * 0x1.0p-52;
      break;
    case SamplingSpec::Method::kNone:
      break;
  }
  if (axis.kind == AxisSpec::Kind::kUniform) {
    return NumberValue(IntoRange(axis.start + (axis.stop - axis.start) * u, axis.start, axis.stop));
  }
  const double log_low = std::log(axis.start), log_high = std::log(axis.stop);
  return NumberValue(
      IntoRange(std::exp(log_low + (log_high - log_low) * u), axis.start, axis.stop));
}

void Space::Resolve(uint64_t point, sweep_value* values) const {
  for (size_t p = 0; p < parameters_.size(); ++p) {
    const int d = dimension_of_[p];
    const uint64_t k = d < 0 ? 0 : (point / strides_[d]) % dimensions_[d].size;
    values[p] = ParameterValue(int(p), k);
  }
}

sweep_value Space::Coordinate(size_t d, uint64_t k) const {
  const Dimension& dimension = dimensions_[d];
  if (dimension.parameters.empty() || sampling_ != SamplingSpec::Method::kNone) {
    return IntegerValue(int64_t(k));  // "sample" or "replicate"
  }
  return ParameterValue(dimension.parameters[0], k);
}

uint64_t Space::DimensionKey(size_t d, uint64_t k) const {
  uint64_t key = 0;
  for (int p : dimensions_[d].parameters)
    key += internal::ParameterHash(name_hashes_[size_t(p)], ParameterValue(p, k));
  return key;
}

uint64_t Space::ValuesKey(uint64_t point) const {
  uint64_t key = constants_key_;
  for (size_t d = 0; d < dimensions_.size(); ++d)
    key += DimensionKey(d, (point / strides_[d]) % dimensions_[d].size);
  return key;
}

uint64_t Space::Seed(uint64_t point) const {
  if (seed_rule_ == SeedRule::kPointIndex)
    return PointSeed(seed_, point / repeat_, point % repeat_);
  return PointSeed(seed_, ValuesKey(point), point % repeat_);
}

namespace {

// Writes v into elements [at, at + n) of the arrays its type uses.
void FillColumn(const sweep_value& v, uint64_t at, uint64_t n, double* numbers, int64_t* integers,
                const char** strings) {
  if (v.type == SWEEP_VALUE_STRING) {
    std::fill(strings + at, strings + at + n, v.string);
    return;
  }
  if (numbers) std::fill(numbers + at, numbers + at + n, v.number);
  if (v.type == SWEEP_VALUE_INTEGER) std::fill(integers + at, integers + at + n, v.integer);
}

}  // namespace

void Space::AxisValues(int i, uint64_t k0, uint64_t n, double* numbers, int64_t* integers,
                       const char** strings) const {
  const AxisSpec& axis = parameters_[size_t(i)];
  // range and linspace by their closed form per element, as ParameterValue computes them; the
  // other kinds through ParameterValue.
  if (axis.kind == AxisSpec::Kind::kRange) {
    // start + k * step in wrapping uint64 arithmetic, as ParameterValue, by adding step: the
    // same bits, and a loop the compiler vectorises.
    const uint64_t step = uint64_t(axis.range_step);
    uint64_t x = uint64_t(axis.range_start) + k0 * step;
    for (uint64_t at = 0; at < n; ++at, x += step) integers[at] = int64_t(x);
    if (numbers)
      for (uint64_t at = 0; at < n; ++at) numbers[at] = double(integers[at]);
  } else if (axis.kind == AxisSpec::Kind::kLinspace) {
    for (uint64_t at = 0; at < n; ++at)
      numbers[at] = internal::Linspace(axis.start, axis.stop, axis.count, int64_t(k0 + at));
  } else {
    for (uint64_t at = 0; at < n; ++at)
      FillColumn(ParameterValue(i, k0 + at), at, 1, numbers, integers, strings);
  }
}

namespace {

// p + at, or nullptr for an array a parameter's type does not use.
template <typename T>
T* Offset(T* p, uint64_t at) {
  return p ? p + at : nullptr;
}

}  // namespace

void Space::ParameterColumn(int i, uint64_t first, uint64_t n, double* numbers, int64_t* integers,
                            const char** strings) const {
  const int d = dimension_of_[size_t(i)];
  if (d < 0) {  // a constant
    FillColumn(ParameterValue(i, 0), 0, n, numbers, integers, strings);
    return;
  }
  const uint64_t stride = strides_[size_t(d)], size = dimensions_[size_t(d)].size;
  uint64_t k = (first / stride) % size;  // the odometer's digit for this parameter
  if (stride == 1) {
    // The innermost dimension moves every point: runs of consecutive values up to its end.
    for (uint64_t at = 0; at < n; k = 0) {
      const uint64_t run = std::min(n - at, size - k);
      AxisValues(i, k, run, Offset(numbers, at), Offset(integers, at), Offset(strings, at));
      at += run;
    }
    return;
  }
  // One value per step of the dimension: `stride` points each, the first step cut short when
  // `first` is inside it.
  uint64_t left = stride - first % stride;
  for (uint64_t at = 0; at < n;) {
    const uint64_t run = std::min(left, n - at);
    FillColumn(ParameterValue(i, k), at, run, numbers, integers, strings);
    at += run;
    left = stride;
    if (++k == size) k = 0;
  }
}

void Space::Seeds(uint64_t first, uint64_t n, uint64_t* out) const {
  uint64_t replicate = first % repeat_;
  if (seed_rule_ == SeedRule::kPointIndex) {
    uint64_t point = first / repeat_;
    for (uint64_t at = 0; at < n; ++at) {
      out[at] = PointSeed(seed_, point, replicate);
      if (++replicate == repeat_) replicate = 0, ++point;
    }
    return;
  }
  // An odometer over the dimensions, each holding its part of the key; the replicate dimension,
  // when there is one, is the last and has no part (its index is the replicate).
  const size_t dims = dimensions_.size();
  std::vector<uint64_t> index(dims), part(dims);
  uint64_t key = constants_key_;
  for (size_t d = 0; d < dims; ++d) {
    index[d] = (first / strides_[d]) % dimensions_[d].size;
    part[d] = DimensionKey(d, index[d]);
    key += part[d];
  }
  for (uint64_t at = 0; at < n; ++at) {
    out[at] = PointSeed(seed_, key, replicate);
    if (++replicate == repeat_) replicate = 0;
    if (at + 1 == n) break;
    for (size_t d = dims; d-- > 0;) {
      const bool carry = ++index[d] == dimensions_[d].size;
      if (carry) index[d] = 0;
      const uint64_t moved = DimensionKey(d, index[d]);
      key += moved - part[d];
      part[d] = moved;
      if (!carry) break;
    }
  }
}

}  // namespace sweep
