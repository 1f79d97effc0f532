// Plan: the sweep's points cut into chunks, the unit of scheduling, journaling and recompute.
//
// Chunk k holds points [k * chunk_size, min((k + 1) * chunk_size, points)). A Plan is three
// numbers; chunk(k) is arithmetic, so a plan of any size costs O(1) memory.
//
// `chunk_size: auto` (AutoChunkSize): about 64 chunks per worker, so dynamic scheduling can
// balance uneven points, but never more than kMaxChunks chunks in all (the chunk table lives in
// the output file, 61 bytes a chunk). Because a chunk of cheap points would then be dominated by
// per-chunk overhead, the scheduler additionally hands out runs of consecutive chunks, sized from
// the first measured chunks (driver/scheduler.h); the chunks themselves, and so the bytes of the
// output file, never depend on timing.
#pragma once

#include <cstdint>

namespace sweep {

inline constexpr uint64_t kMaxChunks = uint64_t{1} << 24;
inline constexpr uint64_t kAutoChunksPerWorker = 64;

struct Chunk {
  uint64_t index = 0;
  uint64_t first = 0;  // first point
  uint64_t count = 0;  // points in it, > 0
  uint64_t end() const { return first + count; }
};

// A chunk computed: what its worker reported of it, and which worker and try it was.
struct DoneChunk {
  uint64_t checksum = 0;  // of its rows (driver/checksum.h)
  double seconds = 0;     // the wall time its worker spent on it
  double start_time = 0;  // when its worker began it: Unix seconds, the worker's clock
  uint64_t max_rss = 0;   // bytes: its worker's peak resident memory at its end (driver/worker.h)
  int worker = -1;        // the scheduler's index of the worker (its rank)
  int attempt = 1;        // 1 for the first try
  uint64_t reused = 0;    // its points copied from earlier outputs (--reuse), not computed
};

class Plan {
 public:
  // REQUIRES: chunk_size > 0. The caller checks chunks() <= kMaxChunks (see PlanFor()).
  Plan(uint64_t points, uint64_t chunk_size);

  uint64_t points() const { return points_; }
  uint64_t chunk_size() const { return chunk_size_; }
  uint64_t chunks() const { return chunks_; }
  // REQUIRES: k < chunks().
  Chunk chunk(uint64_t k) const;
  // REQUIRES: point < points().
  uint64_t ChunkOf(uint64_t point) const { return point / chunk_size_; }

 private:
  uint64_t points_;
  uint64_t chunk_size_;
  uint64_t chunks_;
};

// The number of workers to run: `requested` (a -j flag) if positive, else `configured`
// (execution.workers) if positive, else the number of online cores (`workers: auto`).
int WorkerCount(int requested, int configured);

// The auto rule above. REQUIRES: workers > 0.
uint64_t AutoChunkSize(uint64_t points, int workers);

// The plan for a sweep: requested_chunk_size 0 means auto.
// THROWS: Error (exit code 2) when requested_chunk_size gives more than kMaxChunks chunks.
Plan PlanFor(uint64_t points, uint64_t requested_chunk_size, int workers);

}  // namespace sweep
