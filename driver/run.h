// Run: the orchestration of `sweep run`, `sweep resume` and `sweep rerun` (DESIGN.md "Data flow").
//
//   run:    config -> Space -> KernelBinding -> Plan; refuse an existing output without --force;
//           publish the inputs (checked: a bad input is exit 2 with nothing written); take the
//           output's lock; create the output file complete and a new journal; start the workers;
//           compute every chunk.
//   resume: the config stored in the output; refuse when the kernel, its options or an input
//           changed since the file was made (naming each change; --force proceeds); verify the
//           checksum of every chunk recorded done (a torn write after a crash is recomputed);
//           compute the chunks that are pending or failed.
//   run --shard I/N: like run, for the chunks c with c % N == I only, sharing the output with the
//           other shards (see RunRequest::shard); running a shard again finishes its chunks.
//   rerun:  the config stored in the output; compute exactly the chunks selected (--failed,
//           --chunks, --points), whatever their state; --inline computes them in this process.
//
// Every finished chunk is appended to the journal first and then marked in /chunks/* in place,
// so a chunk is never recorded as done when its record could not be written. Returns the exit
// code: 0 all points done, 3 some chunks failed, 130 interrupted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "driver/progress.h"

namespace sweep {

struct RunRequest {
  enum class Mode { kRun, kResume, kRerun };
  Mode mode = Mode::kRun;
  std::string config_path;             // kRun
  std::vector<std::string> overrides;  // kRun: --set, -j, --chunk-size as key.path=value
  std::string output_path;             // kRun: -o (empty: the config's); else the output
  bool force = false;                  // kRun: replace; kResume/kRerun: ignore changes
  // kRun: `--shard I/N`, this process computes chunks c with c % N == I (a Slurm array task).
  // Shards share one output: the first creates it, the others (and a requeued shard) go on
  // with what is not done; each has its own journal `OUT.h5.journal.shard-I-of-N`.
  std::optional<std::pair<int, int>> shard;
  int workers = 0;  // kResume/kRerun: -j (0: as configured)
  // kRerun: the selection.
  bool failed = false;
  std::vector<uint64_t> chunks;
  std::vector<uint64_t> points;
  bool inline_compute = false;
  ProgressMode progress = ProgressMode::kAuto;
};

// THROWS: Error / ConfigError for everything that stops a run before or outside the chunks.
int ExecuteRun(const RunRequest& request);

// Parses "3,7-9,12" into {3, 7, 8, 9, 12}. THROWS: Error (exit code 2) naming the bad part.
std::vector<uint64_t> ParseIndexList(const std::string& text, const std::string& option);

}  // namespace sweep
