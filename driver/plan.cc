#include "driver/plan.h"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "io/error.h"

namespace sweep {
namespace {

uint64_t CeilDiv(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

}  // namespace

Plan::Plan(uint64_t points, uint64_t chunk_size)
    : points_(points), chunk_size_(chunk_size), chunks_(CeilDiv(points, chunk_size)) {}

Chunk Plan::chunk(uint64_t k) const {
  Chunk c;
  c.index = k;
  c.first = k * chunk_size_;
  c.count = std::min(chunk_size_, points_ - c.first);
  return c;
}

int WorkerCount(int requested, int configured) {
  if (requested > 0) return requested;
  if (configured > 0) return configured;
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > 0 ? int(cores) : 1;
}

uint64_t AutoChunkSize(uint64_t points, int workers) {
  const uint64_t balanced = CeilDiv(points, uint64_t(workers) * kAutoChunksPerWorker);
  const uint64_t bounded = CeilDiv(points, kMaxChunks);
  return std::max<uint64_t>({balanced, bounded, 1});
}

Plan PlanFor(uint64_t points, uint64_t requested_chunk_size, int workers) {
  const uint64_t size =
      requested_chunk_size ? requested_chunk_size : AutoChunkSize(points, workers);
  Plan plan(points, size);
  if (plan.chunks() > kMaxChunks) {
    throw Error("execution.chunk_size: " + std::to_string(size) + " gives " +
                    std::to_string(plan.chunks()) + " chunks, over the limit of " +
                    std::to_string(kMaxChunks) + "; use a larger chunk_size or auto",
                ExitCode::kUsage);
  }
  return plan;
}

}  // namespace sweep
