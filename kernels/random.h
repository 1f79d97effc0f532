// Random numbers of the built-in kernels and of generated inputs: xoshiro256** (Blackman and
// Vigna) with its state filled by splitmix64 from a 64-bit seed.
//
// The exact algorithms below, and the exact arithmetic of each conversion, are part of the
// determinism contract (DESIGN.md "Determinism"; io/inputs.h for generated arrays): the same seed
// must give the same bytes on every machine and with every C++ standard library, and the stored
// reference results (tests/data/kernels/*.yaml, tests/inputs_test.cc) pin them. Changing a
// constant, the order of draws or the rounding of a conversion changes published results: add a
// new conversion instead of editing one.
#pragma once

#include <cmath>
#include <cstdint>

namespace sweep {

// splitmix64 (Steele, Lea and Flood): advances `state` and returns its next output.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Xoshiro256 {
 public:
  // The four state words are the first four outputs of splitmix64 started at `seed`.
  explicit Xoshiro256(uint64_t seed) {
    for (uint64_t& word : s_) word = SplitMix64(seed);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits: (Next() >> 11) * 2^-53.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in (0, 1] with 53 random bits, ((Next() >> 11) + 1) * 2^-53: never 0, so its
  // logarithm is finite.
  double UniformOpen() { return static_cast<double>((Next() >> 11) + 1) * 0x1.0p-53; }
  // Uniform in [0, 1) with 24 random bits: (Next() >> 40) * 2^-24, exact in a float.
  float UniformFloat() { return static_cast<float>(Next() >> 40) * 0x1.0p-24f; }
  // Uniform in [0, n) for n <= 2^32, from the high 32 bits (bias below n / 2^32).
  uint64_t Below(uint64_t n) { return ((Next() >> 32) * n) >> 32; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Two independent standard normals from u1 in (0, 1] and u2 in [0, 1] by Box-Muller:
// first = sqrt(-2 ln u1) cos(2 pi u2), second = sqrt(-2 ln u1) sin(2 pi u2).
struct NormalPair {
  double first, second;
};
inline NormalPair BoxMuller(double u1, double u2) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = kTwoPi * u2;
  return {radius * std::cos(angle), radius * std::sin(angle)};
}

}  // namespace sweep
