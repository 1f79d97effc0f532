// The seed of a point as driver/space.h documents it, computed with the xxHash library itself
// rather than with sweep's code, for tests that check the seeds a run gave or exported.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace sweep::testing {

// One parameter's value at a point, as the kernel sees it.
struct ParamValue {
  enum class Type { kNumber = 1, kInteger = 2, kString = 3 };
  std::string name;
  Type type = Type::kNumber;
  double number = 0;
  int64_t integer = 0;
  std::string text;
};

inline ParamValue NumberParam(std::string name, double x) {
  return {std::move(name), ParamValue::Type::kNumber, x, 0, ""};
}
inline ParamValue IntegerParam(std::string name, int64_t i) {
  return {std::move(name), ParamValue::Type::kInteger, double(i), i, ""};
}
inline ParamValue StringParam(std::string name, std::string text) {
  return {std::move(name), ParamValue::Type::kString, 0, 0, std::move(text)};
}

// XXH3-64 seeded with `seed` of two words, 8 little-endian bytes each.
inline uint64_t Xxh3OfTwoWords(uint64_t seed, uint64_t a, uint64_t b) {
  unsigned char bytes[16];
  for (int i = 0; i < 8; ++i) {
    bytes[i] = static_cast<unsigned char>(a >> (8 * i));
    bytes[8 + i] = static_cast<unsigned char>(b >> (8 * i));
  }
  return XXH3_64bits_withSeed(bytes, sizeof bytes, seed);
}

// Seeds by parameter values: PointSeed(master, the sum of each parameter's hash, replicate).
inline uint64_t DocumentedSeed(uint64_t master, const std::vector<ParamValue>& values,
                               uint64_t replicate) {
  uint64_t key = 0;
  for (const ParamValue& v : values) {
    uint64_t bits = 0;
    switch (v.type) {
      case ParamValue::Type::kNumber:
        std::memcpy(&bits, &v.number, 8);
        break;
      case ParamValue::Type::kInteger:
        bits = uint64_t(v.integer);
        break;
      case ParamValue::Type::kString:
        bits = XXH3_64bits(v.text.data(), v.text.size());
        break;
    }
    key += Xxh3OfTwoWords(XXH3_64bits(v.name.data(), v.name.size()), uint64_t(v.type), bits);
  }
  return Xxh3OfTwoWords(master, key, replicate);
}

// Seeds by point index, the rule of outputs made before seeds by value.
inline uint64_t IndexSeed(uint64_t master, uint64_t point, uint64_t replicate) {
  return Xxh3OfTwoWords(master, point, replicate);
}

}  // namespace sweep::testing
