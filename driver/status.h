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
// For a command kernel, each failure's point is looked up in the work folder the stored config
// gives (the output's `<OUT.h5>.work` by default; kernels/command.h): a directory kept there is
// named next to the failure.
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
  std::map<uint64_t, std::string> kept_workdirs;  // chunk -> its failed point's work directory
  std::vector<WorkerStatus> workers;  // of the live run (not a shard's) when it has a board
};

// THROWS: Error as OutputFile::Open and ChunkLedger::Load do.
StatusReport ReadStatus(const std::string& output_path);

// The work directories kept for `failures`' points (ChunkLedger::failures()) by a command kernel,
// by chunk: each point's directory in the work folder that the config stored in `file` gives
// for an output at `output_path` (absolute), where it exists. Empty for other kernels, and when
// the stored config no longer reads.
std::map<uint64_t, std::string> KeptWorkdirs(const OutputFile& file, const std::string& output_path,
                                             const std::map<uint64_t, JournalRecord>& failures);

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
