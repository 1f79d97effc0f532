// Run: `sweep run`, `sweep resume` and `sweep rerun` (DESIGN.md "Data flow"), in three steps
// (driver/run_steps.h):
//
//   prepare  everything checkable before writing, then the lock, the output and the ledger, and
//            the list of chunks to compute. Per mode:
//     run:    config -> Space -> KernelBinding -> Plan; refuse an existing output without
//             --force; publish the inputs (a bad input is exit 2 with nothing written); open and
//             check the outputs of --reuse (driver/reuse.h); take the output's lock; create the
//             output file complete and a new journal; every chunk (the workers copy the points
//             that --reuse outputs hold instead of computing them).
//     run --shard I/N: like run, for the chunks c with c % N == I only, sharing the output with
//             the other shards; the first creates it, the others (and a requeued shard) go on
//             with what is not done of theirs, verified by checksum.
//     resume: the config stored in the output; refuse when the kernel, its options or an input
//             changed since the file was made (naming each change; --force proceeds); verify the
//             checksum of every chunk recorded done (a torn write after a crash is recomputed);
//             the chunks that are pending or failed.
//     rerun:  the config stored in the output; exactly the chunks selected (--failed, --chunks,
//             --points), whatever their state.
//   compute  in this process (--inline) or with worker processes and the scheduler; every end of
//            a chunk is recorded by the ledger (journal first, then /chunks).
//   finish   the journal's stop record, the summary, the exit code: 0 all points done, 3 some
//            chunks failed, 130 interrupted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "driver/chunk_ledger.h"
#include "driver/progress.h"

namespace sweep {

struct RunRequest {
  enum class Mode { kRun, kResume, kRerun };
  Mode mode = Mode::kRun;
  std::string config_path;             // kRun
  std::vector<std::string> overrides;  // kRun: --set key.path=value
  std::vector<std::string> reuse;      // kRun: --reuse OLD.h5, in the order given
  std::string output_path;             // kRun: -o (empty: the config's); else the output
  bool force = false;                  // kRun: replace; kResume/kRerun: ignore changes
  // kResume, kRerun: `--input NAME=PATH`, where an input of the stored config is now (a moved
  // project). Its bytes are still compared with what the output was computed from.
  std::vector<std::string> input_paths;

  // Settings of this invocation (-j, --chunk-size, --shard), never written into the stored
  // config, so shards or a resume may use other values than the run that made the output.
  int workers = 0;  // -j; 0: execution.workers
  // --chunk-size; 0 means auto; nullopt: execution.chunk_size. It shapes a new output only: an
  // existing output keeps the chunk size it was made with.
  std::optional<uint64_t> chunk_size;
  // kRun: `--shard I/N`, this process computes chunks c with c % N == I (a Slurm array task).
  // Each shard has its own journal `OUT.h5.journal.shard-I-of-N`.
  std::optional<std::pair<int, int>> shard;
  // kRun, kResume: `--mpi`, one sweep over every rank of an MPI job (driver/mpi_run.h); -j is
  // the workers of each rank.
  bool mpi = false;
  // --mpi: the job's ranks (set by the MPI backend), so that `chunk_size: auto` plans chunks for
  // every rank's workers, not rank 0's alone.
  int ranks = 1;

  // kRerun: the selection.
  bool failed = false;
  std::vector<IndexRange> chunks;
  std::vector<IndexRange> points;
  bool inline_compute = false;
  ProgressMode progress = ProgressMode::kAuto;
};

// THROWS: Error / ConfigError for everything that stops a run before or outside the chunks.
int ExecuteRun(const RunRequest& request);

// Parses "3,7-9,12" into the ranges 3-3, 7-9 and 12-12, as written (not expanded: the sweep
// they must fit is checked first, by ChunkLedger::Todo). THROWS: Error (exit code 2) naming the
// bad part.
std::vector<IndexRange> ParseIndexList(const std::string& text, const std::string& option);

// Parses a --chunk-size value: a positive number of points, or `auto` (0).
// THROWS: Error (exit code 2) naming the value.
uint64_t ParseChunkSize(const std::string& text);

}  // namespace sweep
