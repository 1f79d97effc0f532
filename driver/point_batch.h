// PointBatch: a run of consecutive points as the kernel ABI's sweep_batch, the kernel's parameter
// values as columns and, when the kernel reads them, the points' seeds.
//
// The columns come from Space::ParameterColumn() (a closed form per axis, walked like an
// odometer) and the seeds from Space::Seeds(), in bulk, once per run; the per-point path reads
// the same arrays back one point at a time (Value(), Seed()), so both paths see the same values.
// Seeds are derived only when the kernel reads them: a kernel declaring SWEEP_KERNEL_IGNORES_SEED
// gets seeds == NULL in the batch and 0 from Seed().
//
// Owns the column storage (sized once, for `capacity` points); the sweep_batch and the columns
// it points to are valid until the next Fill().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/space.h"
#include "kernels/kernel.h"

namespace sweep {

class PointBatch {
 public:
  // `space` and `binding` must outlive the batch. REQUIRES: capacity >= 1.
  PointBatch(const Space& space, const KernelBinding& binding, uint64_t capacity);
  PointBatch(const PointBatch&) = delete;
  PointBatch& operator=(const PointBatch&) = delete;

  // The bytes a batch holds per point of its capacity: 8 for each number or string column, 16 for
  // an integer one (its doubles too), 8 for the seed when the kernel reads it.
  static uint64_t BytesPerPoint(const Space& space, const KernelBinding& binding);

  // Points [first, first + n). REQUIRES: 1 <= n <= capacity, first + n <= space.points().
  const sweep_batch& Fill(uint64_t first, uint64_t n);

  // Kernel parameter j at point i of the last Fill(), as compute() takes it: the sweep_value
  // Space::Resolve() gives.
  sweep_value Value(size_t j, uint64_t i) const;
  // Point i's seed, or 0 when the kernel ignores seeds.
  uint64_t Seed(uint64_t i) const { return seeds_.empty() ? 0 : seeds_[i]; }
  bool seeds() const { return !seeds_.empty(); }
  // Derives no more seeds: for a kernel whose init() declared SWEEP_KERNEL_IGNORES_SEED.
  void DropSeeds();

 private:
  struct Column {
    int parameter;  // its Space parameter
    int type;       // sweep_value_type
    std::vector<double> numbers;
    std::vector<int64_t> integers;
    std::vector<const char*> strings;
  };

  const Space& space_;
  std::vector<Column> columns_;  // in the kernel's parameter order
  std::vector<sweep_column> views_;
  std::vector<uint64_t> seeds_;  // empty when the kernel ignores seeds
  sweep_batch batch_{};
};

}  // namespace sweep
