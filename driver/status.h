// Status: what `sweep status OUT.h5` reports, read once (ReadStatus) and printed by one of two
// reporters: text for people, JSON for programs (`--json`); WatchStatus() reads and prints it
// again and again while the run is live (`--watch`).
//
// Read without taking any lock and without writing: /chunks and every journal (through
// driver/chunk_ledger.h), the locks probed (io/output_lock.h) to tell which run or shards are
// live and on which host, and the worker board of each live one (driver/worker_board.h) to tell
// what each of its workers computes. A board is believed only when the process that wrote it
// holds the lock now (a killed run leaves its last one). Costs O(chunks + journal bytes) time and
// O(chunks) memory.
//
// The latest `stopped` record of the journals also says which MPI ranks were lost when a job was
// aborted (io/journal.h), with their hosts: what to exclude before resubmitting.
//
// For a command kernel, each failure's point is looked up in the work folder the stored config
// gives (the output's `<OUT.h5>.work` by default; kernels/command.h): a directory kept there is
// named next to the failure, with the files in it that hold the program's whole stdout and
// stderr. A failure's parameters are printed in the config's order, as the run printed them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "driver/chunk_ledger.h"
#include "driver/worker_board.h"

namespace sweep {

// One worker of a live run, as its board says, with what follows from it.
struct WorkerStatus {
  BoardWorker board;
  double seconds_on_chunk = 0;   // busy: since its chunk was begun, when the board was written
  double points_per_second = 0;  // its points in this run (the chunk's begun ones too) / run time
  std::optional<double> chunk_eta_seconds;  // busy, with a point and a rate: the chunk's rest
};

// One shard that ever ran on the output (it has a journal `OUT.h5.journal.shard-I-of-N`).
struct ShardStatus {
  uint64_t index = 0, count = 1;      // I and N
  LedgerCounts counts;                // over the chunks c with c % N == I
  bool live = false;                  // its process holds its shard lock now
  long pid = 0;                       // when live
  std::string host;                   // when live
  double points_per_second = 0;       // when live with a board: its workers' together
  std::optional<double> eta_seconds;  // its points left at that rate
  std::vector<WorkerStatus> workers;  // when live with a board
};

// A failed point's work directory, kept (kernels/command.h).
struct KeptWorkdir {
  std::string path;                  // absolute
  std::vector<std::string> streams;  // the files in it holding the program's stdout and stderr
};

struct StatusReport {
  std::string output, kernel;
  uint64_t points = 0, chunks = 0;
  LedgerCounts counts;
  bool live = false;                  // a run, resume, rerun or some shard is running now
  long pid = 0;                       // the live run's pid (0 for shards, which are listed below)
  std::string host;                   // the live run's host
  double points_per_second = 0;       // of the live run(s) since the latest start; 0 if none
  std::optional<double> eta_seconds;  // when live and measurable
  bool journal_truncated = false;     // some journal's last record is incomplete (a kill, or
                                      // a full disk, stopped its write)
  uint64_t journal_damaged = 0;       // damaged journal records skipped
  std::vector<ShardStatus> shards;    // by N, then I
  std::map<uint64_t, JournalRecord> failures;  // final failures of the chunks failed now
  // Final failures of reruns of chunks that stay done with their earlier results.
  std::map<uint64_t, JournalRecord> failed_reruns;
  std::map<uint64_t, KeptWorkdir> kept_workdirs;  // chunk -> its failed point's work directory
  std::vector<std::string> parameter_names;       // in the stored config's order
  std::vector<WorkerStatus> workers;  // of the live run (not a shard's) when it has a board
  // An MPI job's ranks that were gone when it last stopped (its `stopped` record: mpirun
  // aborting the job on a rank's death), and when it stopped; empty once a later run started.
  // A job killed without a stop record (MPICH's mpiexec) lost the ranks its journal still says
  // unheard, and stopped after its last record (lost_stop_time: that record's time).
  std::vector<LostRank> lost_ranks;
  double lost_stop_time = 0;
  bool lost_stop_recorded = true;  // false: killed without a stop record, after lost_stop_time
};

// THROWS: Error as OutputFile::Open and ChunkLedger::Load do.
StatusReport ReadStatus(const std::string& output_path);

// The work directories kept for `failures`' points (ChunkLedger::failures()) by a command kernel,
// by chunk: each point's directory in the work folder that the config stored in `file` gives
// for an output at `output_path` (absolute), where it exists. Empty for other kernels, and when
// the stored config no longer reads.
std::map<uint64_t, KeptWorkdir> KeptWorkdirs(const OutputFile& file, const std::string& output_path,
                                             const std::map<uint64_t, JournalRecord>& failures);

// The parameters' names in the order of the config `file` stores; empty when it no longer reads.
std::vector<std::string> StoredParameterNames(const OutputFile& file);

// What finishes an output with chunks left, one wording for the run's last message, `status` and
// `report`: "`sweep resume OUT` finishes it" when chunks are pending (a resume computes the
// failed ones too), "fix their cause, then `sweep rerun OUT --failed`" when only failed chunks
// are left; "" when none is.
std::string FinishHint(const std::string& output, uint64_t pending_chunks, uint64_t failed_chunks);

std::string StatusText(const StatusReport& report);
nlohmann::json StatusJson(const StatusReport& report);

// `sweep status --watch`: prints the status every `interval_seconds` until no run or shard holds
// the output, then once more (the final state), and returns status's exit code, 0. On a terminal
// (`out` is a tty) each refresh redraws the previous one in place (ANSI: cursor up, erase down),
// cut to the terminal's height and width so that the cursor movement stays exact; otherwise each
// refresh is a block of plain lines after a `--- HH:MM:SS` line (with `json`, one JSON object a
// line). THROWS: as ReadStatus, at any refresh.
int WatchStatus(const std::string& output_path, bool json, double interval_seconds, FILE* out);

}  // namespace sweep
