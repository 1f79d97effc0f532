// Space: the sweep's points, point index i -> the value of every parameter at i.
//
// A Space holds only the axis definitions, never a list of points: Resolve() costs O(number of
// parameters) time and no allocation, so a sweep of 10^12 points plans instantly in constant
// memory.
//
// Dimensions and point order (DESIGN.md "Output file"): points are numbered in C order over the
// dimensions, which are, in order:
//   - a grid: one dimension per swept parameter in the order of `parameters`, except that all
//     members of a zip group share one dimension, placed where the group's first member stands;
//   - a sampled sweep (`sampling:`): one dimension `sample` of size sampling.n;
//   - `replicate` last when repeat > 1.
// Constants are parameters but not dimensions.
//
// Sampling: `uniform` draws each coordinate independently; `lhs` is a Latin hypercube (each
// parameter's [0,1) cut into n strata, one sample per stratum, strata permuted per parameter by a
// seeded bijection of [0, n) so no permutation is stored); `sobol` is the Sobol sequence (Joe-Kuo
// direction numbers, skipping the origin point) scrambled by a seeded digital shift. All are pure
// functions of (seed, sample index).
//
// Seeds: a point's seed is PointSeed(master seed, point index without its replicate, replicate):
// a stable 64-bit mix, independent of workers, chunks and order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/config.h"
#include "kernels/kernel.h"

namespace sweep {

// Sweeps larger than this are a config error: 2^48 points (about 2.8e14).
inline constexpr uint64_t kMaxPoints = uint64_t{1} << 48;

struct Dimension {
  std::string name;  // the parameter's name; for a zip group its members joined by "+"
                     // ("sigma+n"); "sample"; "replicate"
  uint64_t size = 0;
  std::vector<int> parameters;  // indices into Space::parameter_names() that move along it
};

class Space {
 public:
  // THROWS: ConfigError (exit code 2) when the point count overflows 64 bits or exceeds
  // kMaxPoints, naming the config location.
  explicit Space(const Config& config);

  uint64_t points() const { return points_; }
  uint64_t repeat() const { return repeat_; }
  const std::vector<Dimension>& dimensions() const { return dimensions_; }
  // Every parameter (swept, zipped, sampled and constant), in the order of `parameters`.
  const std::vector<std::string>& parameter_names() const { return parameter_names_; }
  int FindParameter(const std::string& name) const;  // -1 if absent

  // Fills values[0..parameter_names().size()) with the parameters at `point`.
  // REQUIRES: point < points(); values has room for parameter_names().size() entries.
  // NOTE: string values point into this Space and live as long as it does.
  void Resolve(uint64_t point, sweep_value* values) const;

  // The coordinate values of dimension d at index k (for /axes); for a zip group, the value of
  // its first member; for "sample" and "replicate", k itself.
  sweep_value Coordinate(size_t d, uint64_t k) const;

  // The point's seed: PointSeed(seed, point / repeat, point % repeat).
  uint64_t Seed(uint64_t point) const;

 private:
  // Private members are the implementation's choice, within O(number of parameters) in size.
  std::vector<AxisSpec> parameters_;  // copied from the config: Space owns its strings
  std::vector<int> dimension_of_;     // parameter -> its dimension, -1 for constants
  std::vector<Dimension> dimensions_;
  std::vector<std::string> parameter_names_;
  std::vector<uint64_t> strides_;  // points per step of each dimension (C order)
  uint64_t points_ = 0;
  uint64_t repeat_ = 1;
  uint64_t seed_ = 0;
  SamplingSpec::Method sampling_ = SamplingSpec::Method::kNone;
};

// A stable 64-bit hash of (master seed, point index, replicate); see DESIGN.md "Determinism".
uint64_t PointSeed(uint64_t master_seed, uint64_t point, uint64_t replicate);

}  // namespace sweep
