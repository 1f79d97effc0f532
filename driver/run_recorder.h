// RunRecorder: what a run does with each finished chunk, in this order:
//   1. the ledger records it (driver/chunk_ledger.h: the journal record, then the chunk's row of
//      /chunks); the workers wrote the rows before reporting, into the output or, once told
//      (TakeRowsFrom), into staged rows that a done chunk's rows are moved from first. A done
//      chunk is recorded at the next Flush(), which the scheduler calls as soon as no other event
//      is waiting: at once on one machine, after the rest of its message for an MPI rank's
//      aggregated chunk ends;
//   2. progress, and for a failure one report on stderr: chunk, point, its parameter values,
//      the reason and the tail of the worker's stderr.
// It also syncs the journal to disk at most once a second, on the scheduler's ticks, has each
// chunk's bytes prepared before the chunk is handed out and, once told where, publishes what each
// worker is doing for `sweep status` (driver/worker_board.h).
//
// With GuardOutput(), the output file is watched the same way: once its path no longer names the
// file the run writes (deleted, or another renamed over it), Tick() ends the run, since nothing
// it computes from then on reaches the path; FinishRun asks again before its summary.
//
// With GuardInputs(), a change to an input the run maps from a file (driver/input_guard.h) ends
// the run before another chunk is recorded done: ChunkDone() asks the guard before recording, and
// Tick() asks it at least every tick, so the run stops within a tick even between chunks.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/chunk_ledger.h"
#include "driver/input_guard.h"
#include "driver/output_filler.h"
#include "driver/plan.h"
#include "driver/progress.h"
#include "driver/reuse.h"
#include "driver/scheduler.h"
#include "driver/space.h"
#include "driver/staged_rows.h"
#include "driver/worker_board.h"
#include "io/journal.h"
#include "io/output_file.h"

namespace sweep {

class RunRecorder : public SchedulerObserver {
 public:
  // `points_total`, `chunks_total`: what this run computes. `hosts`: where each worker runs, as
  // the run's `started` record says. REQUIRES: ledger records into `journal`.
  // `filler`, when given, prepares each chunk before it is handed out (driver/output_filler.h).
  RunRecorder(const Space& space, ChunkLedger& ledger, Journal& journal, Progress& progress,
              uint64_t points_total, uint64_t chunks_total, int workers, WorkerHosts hosts,
              OutputFiller* filler = nullptr);
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;
  // Removes the board, if one is shown.
  ~RunRecorder() override;

  // From now on, on the scheduler's ticks (at most every kBoardSeconds), writes the worker board
  // to `board_path`; `command` is the run's, as its journal names it. A board that cannot be
  // written (a full disk) is given up silently: it only informs, the journal is what counts.
  void ShowWorkersIn(std::string board_path, std::string command);
  // Removes the board; the run is no longer computing.
  void StopShowingWorkers();

  // THROW: Error when the journal or the output cannot be written (a full disk).
  void ChunkDone(const Chunk& chunk, const DoneChunk& done) override;
  void ChunkFailed(const ChunkFailure& failure) override;
  // Records the done chunks held once the oldest has waited kHoldSeconds (or `all`), so that a
  // stream of chunk ends costs one journal write and one write per /chunks column every few
  // milliseconds, not each. THROWS: as ChunkDone; and the chunks held are not recorded when an
  // input changed meanwhile.
  double Flush(bool all) override;
  static constexpr double kHoldSeconds = 0.002;
  void Tick() override;
  void BeforeAssign(uint64_t first, uint64_t count) override;
  void Activity(const std::vector<RankActivity>& ranks) override;

  // Chunks whose Done says points were copied (`--reuse`) are recorded with where from, as
  // `plan` says. REQUIRES: `plan` outlives the recorder.
  void RecordReuseFrom(const ReusePlan* plan) { reuse_ = plan; }

  // REQUIRES: `guard` outlives the recorder. `output_path` is named in what the user is told.
  void GuardInputs(InputGuard* guard, std::string output_path) {
    guard_ = guard;
    output_path_ = std::move(output_path);
  }
  // From now on the workers write rows into `staged`: a done chunk's are moved into `output`
  // before it is recorded, a failed attempt's freed. A final failure of a chunk that is done
  // (a rerun's) is recorded `kept`: the chunk stays done with its earlier rows.
  // REQUIRES: both outlive the recorder.
  void TakeRowsFrom(StagedRows* staged, OutputFile* output) {
    staged_ = staged;
    staged_into_ = output;
  }
  // REQUIRES: `file` (the output, open for the run) outlives the recorder.
  void GuardOutput(const OutputFile* file) { output_ = file; }
  // What the user is told when the guarded output's path no longer names it: the results are not
  // there. "" while it does (or none is guarded).
  std::string OutputGone() const;

  // When the run has ended: hashes the guarded inputs again. If their bytes changed where no
  // inotify event said so (a write through a shared mapping), no chunk this run recorded done can
  // be trusted: each is recorded failed (kind "input-changed"), so a resume computes it again.
  // Returns what changed, or "" when nothing did. THROWS: Error when the journal cannot be written.
  std::string CheckInputsAtEnd();

  ProgressSnapshot Snapshot();
  uint64_t chunks_failed() const { return snapshot_.chunks_failed; }
  // Of those, the chunks that were done before and stay done with their earlier rows.
  uint64_t done_chunks_kept() const { return done_chunks_kept_; }

 private:
  const Space& space_;
  ChunkLedger& ledger_;
  Journal& journal_;
  Progress& progress_;
  WorkerHosts hosts_;
  OutputFiller* filler_;
  InputGuard* guard_ = nullptr;
  const ReusePlan* reuse_ = nullptr;
  std::string output_path_;
  const OutputFile* output_ = nullptr;
  StagedRows* staged_ = nullptr;
  OutputFile* staged_into_ = nullptr;
  uint64_t done_chunks_kept_ = 0;
  double output_checked_ = 0;            // steady seconds of OutputGone()'s last look in Tick()
  std::vector<Chunk> done_by_this_run_;  // kept only while guard_ watches files
  ProgressSnapshot snapshot_;
  double start_ = 0;
  double last_sync_ = 0;
  double last_progress_ = 0;  // when progress was last told of a chunk's end
  double held_since_ = -1;    // when the oldest done chunk not yet recorded ended; -1: none
  // The worker board: its path ("" when not shown), what it says of the run, when it was last
  // written (steady seconds), and each rank's counts in this run.
  std::string board_path_;
  WorkerBoard board_;
  double board_written_ = 0;
  std::vector<uint64_t> chunks_by_rank_, points_by_rank_;
};

}  // namespace sweep
