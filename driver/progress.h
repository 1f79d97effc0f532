// Progress: how a run tells people (and programs) how far it is.
//
// One interface, three reporters (STYLE.md practice 3):
//   - TerminalProgress: one status line redrawn in place (carriage return), at most 10 times a
//     second: points done / total, chunks, failures, points/s, elapsed, ETA.
//   - LogProgress: for batch logs (stdout is not a terminal): a timestamped plain line every
//     `interval` seconds, and one at the end.
//   - JsonProgress: one JSON object a line (`{"event":"progress",...}`), for machines.
// Each ends with a summary: points (and of them those copied from earlier outputs, `--reuse`),
// wall time, points/s, and each worker's busy fraction.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace sweep {

struct ProgressSnapshot {
  uint64_t points_total = 0;  // points this run computes (not those done before it)
  uint64_t points_done = 0;
  uint64_t points_reused = 0;  // of points_done: copied from earlier outputs (--reuse)
  uint64_t chunks_total = 0;
  uint64_t chunks_done = 0;
  uint64_t chunks_failed = 0;
  uint64_t retries = 0;
  double elapsed_seconds = 0;
  std::vector<double> busy_seconds;  // per worker rank
};

class Progress {
 public:
  virtual ~Progress() = default;
  // Called often (several times a second); the reporter decides when to print.
  virtual void Update(const ProgressSnapshot& snapshot) = 0;
  // Called once at the end.
  virtual void Finish(const ProgressSnapshot& snapshot, bool interrupted) = 0;
};

enum class ProgressMode { kAuto, kTerminal, kLog, kJson, kQuiet };

// kAuto picks kTerminal when `out` is a terminal, else kLog.
std::unique_ptr<Progress> MakeProgress(ProgressMode mode, FILE* out, double log_interval = 5.0);

// "1h02m", "3m05s", "12.3s".
std::string FormatDuration(double seconds);

}  // namespace sweep
