// RunRecorder: what a run does with each finished chunk, in this order, so that no chunk is ever
// recorded as done that is not:
//   1. the journal record (the workers wrote the rows before reporting);
//   2. /chunks/attempts, seconds, checksum, then status, written in place in the output;
//   3. progress, and for a failure one report on stderr: chunk, point, its parameter values,
//      the reason and the tail of the worker's stderr.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/plan.h"
#include "driver/progress.h"
#include "driver/scheduler.h"
#include "driver/space.h"
#include "driver/worker_set.h"
#include "io/journal.h"
#include "io/output_file.h"

namespace sweep {

class RunRecorder : public SchedulerObserver {
 public:
  // `points_total`, `chunks_total`: what this run computes. THROWS: Error if the output does
  // not open for writing.
  RunRecorder(const Space& space, const OutputLayout& layout, const std::string& output_path,
              Journal& journal, Progress& progress, uint64_t points_total, uint64_t chunks_total,
              int workers);
  ~RunRecorder() override;
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  // THROW: Error when the journal or the output cannot be written (a full disk).
  void ChunkDone(const Chunk& chunk, uint64_t checksum, double seconds, int rank,
                 int attempt) override;
  void ChunkFailed(const ChunkFailure& failure) override;
  void Tick() override;

  ProgressSnapshot Snapshot();
  uint64_t chunks_failed() const { return snapshot_.chunks_failed; }

 private:
  void WriteChunkState(uint64_t chunk, uint8_t status, uint32_t attempts, double seconds,
                       uint64_t checksum);

  const Space& space_;
  const OutputLayout& layout_;
  Journal& journal_;
  Progress& progress_;
  std::string output_path_;
  int fd_ = -1;  // the output, open for the /chunks writes
  ProgressSnapshot snapshot_;
  double start_ = 0;
  double last_sync_ = 0;
};

}  // namespace sweep
