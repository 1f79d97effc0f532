// PointMatch: which points of one sweep (NEW) are points of another (OLD), by their parameter
// values: what `sweep run --reuse` copies instead of computing (driver/reuse.h).
//
// Two points are the same point when both sweeps have the same parameters (by name), every
// parameter has the same value at both, bit for bit and of the same type (the integer 3 is not
// the number 3.0), and they are the same replicate. Then they have the same seed
// (driver/space.h, seeds by parameter values) and a kernel computes the same bytes for them.
// Matching is exact: a match that is not found costs a computation, never a wrong result.
//
// Matching goes dimension by dimension, never point by point. A NEW point is a tuple of indices,
// one per NEW dimension; its OLD point is found dimension by dimension, which works when each OLD
// dimension corresponds to at most one NEW dimension:
//   - a NEW dimension whose parameters move along one OLD dimension (a grid axis refined or
//     extended, a zip group grown or reordered, more samples, more replicates) maps each of its
//     indices to the OLD index with the same values, or to none;
//   - a NEW dimension whose parameters are all OLD constants (NEW sweeps what OLD held fixed)
//     matches at the indices where its values are those constants;
//   - an OLD dimension whose parameters are all NEW constants (NEW holds fixed what OLD swept) is
//     held at the first index where its values are those constants.
// The replicate is a dimension of its own: replicate r is OLD's replicate r (a sweep without
// `repeat` has replicate 0 only). Parameters that move along one dimension in one sweep and along
// several in the other (zip groups regrouped, a grid turned into samples) match nothing, and
// why_none() says so, as it says which parameter or constant differs.
//
// Cost: O(length) time per dimension. Axes whose values are monotone in both sweeps (linspace,
// logspace, range) are merged like sorted lists in O(1) memory; other dimensions (values lists,
// zip groups, samples) are first compared index by index (a list extended at its end, a sampler
// that keeps its prefix), and only when that fails through a hash table of OLD's values (up to
// kMaxHashedValues entries; a longer dimension keeps what the index by index comparison found).
// The result is, per NEW dimension, a list of arithmetic runs of indices: a refined axis of 10^8
// values is one run, and ForEach() walks a range of NEW points in O(runs it meets), not O(points).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/space.h"

namespace sweep {

// The most OLD values a dimension is hashed with when index by index comparison fails.
inline constexpr uint64_t kMaxHashedValues = uint64_t{1} << 26;

// NEW points new_first + j * new_step are OLD points old_first + j * old_step, for j < count.
// old_step is modulo 2^64: an axis reversed in NEW walks OLD backwards.
struct MatchRun {
  uint64_t new_first = 0, new_step = 1;
  uint64_t old_first = 0, old_step = 1;
  uint64_t count = 0;
};

// Indices first + j * step of a NEW dimension are at OLD offset old_first + j * old_step (an OLD
// point's offset is the sum over OLD dimensions of index * stride), for j < count.
struct IndexRun {
  uint64_t first = 0, step = 1, count = 0;
  uint64_t old_first = 0, old_step = 0;
};

class PointMatch {
 public:
  // Matches every NEW point of `now` against `old`. The spaces need not outlive the match.
  PointMatch(const Space& now, const Space& old);
  // For a match decoded from Encode().
  PointMatch() = default;

  // True when no point of NEW is a point of OLD; why_none() says why, a phrase about OLD ("its
  // parameter `x` is not in this sweep", "constant `dt` is 0.002 there, 0.001 here"); "" when
  // some point matches.
  bool none() const { return none_; }
  const std::string& why_none() const { return why_none_; }
  // How many NEW points are OLD points (done there or not).
  uint64_t matches() const;

  // Calls `visit` for runs covering every match among NEW points [first, first + n), in
  // increasing NEW order. REQUIRES: first + n <= NEW's points.
  void ForEach(uint64_t first, uint64_t n, const std::function<void(const MatchRun&)>& visit) const;

  // For workers (driver/reuse.h): the runs, as JSON, and back.
  // THROWS (Decode): nlohmann::json errors on malformed JSON.
  nlohmann::json Encode() const;
  static PointMatch Decode(const nlohmann::json& j);

  // The runs of NEW dimension d (for tests).
  const std::vector<IndexRun>& runs(size_t d) const { return dims_[d]; }

 private:
  // Fills the runs; returns why no point matches, or "".
  std::string Build(const Space& now, const Space& old);
  // The OLD offset of NEW dimension d's index k, or false when k matches no OLD index.
  bool Lookup(size_t d, uint64_t k, uint64_t* offset) const;

  bool none_ = false;
  std::string why_none_;
  std::vector<uint64_t> sizes_, strides_;    // NEW dimensions
  std::vector<std::vector<IndexRun>> dims_;  // by NEW dimension, ascending by first
  uint64_t fixed_ = 0;  // the OLD offset of the OLD dimensions NEW's constants hold fixed
};

}  // namespace sweep
