// ChunkHistory: every chunk of an output with its provenance (where, when and in how much memory
// it was computed, and why it last failed) and the runs that computed them, as /chunks and every
// journal tell it together: what `sweep export --chunks` and `sweep report` show.
//
// It is ChunkLedger::Load (driver/chunk_ledger.h) folding the provenance too: /chunks' columns
// (io/output_file.h) first, then every journal record over them in time order, the latest event
// of a chunk winning, as the ledger folds its status. So a chunk's state agrees with `sweep
// status`, its row is whole even where a killed driver journaled an event but never wrote it to
// /chunks, and a failure reason is the whole text the journal keeps (/chunks keeps its first 256
// bytes). A done or failed record names its worker; its host (and GPU) is what the latest
// `started` record of the same journal says of that worker (io/journal.h).
//
// Read only, without a lock: a live run's output may be read, and what is recorded at that
// instant is what comes out. O(chunks) memory, O(chunks + journal bytes) time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "driver/chunk_ledger.h"
#include "io/output_file.h"

namespace sweep {

// One run of `sweep run`, `resume` or `rerun` (or one shard's) on the output, as its journal
// records it: from its `started` record to its `stopped` record, or to the last record of its
// journal when it has none (it was killed, or is running).
struct RecordedRun {
  std::string command;  // "run", "resume", "run --shard 1/4", ...
  std::string host;     // where its driver ran
  int workers = 0;
  double start = 0, end = 0;  // Unix seconds
  std::string stop_reason;    // finished | interrupted | error; "" when not recorded
};

class ChunkHistory {
 public:
  // THROWS: Error as ChunkLedger::Load and OutputFile::ReadChunkProvenance do.
  static ChunkHistory Read(OutputFile& file);

  // Status, counts, the final failure of each failed chunk, journal damage.
  const ChunkLedger& ledger() const { return *ledger_; }
  // In the order they started.
  const std::vector<RecordedRun>& runs() const { return runs_; }

  // Chunk c's provenance. REQUIRES: c < the output's chunks.
  uint32_t attempts(uint64_t c) const { return attempts_[c]; }            // 0: never tried
  double seconds(uint64_t c) const { return seconds_[c]; }                // 0 unless done
  double start_time(uint64_t c) const { return start_time_[c]; }          // Unix seconds; 0: none
  uint64_t max_rss(uint64_t c) const { return max_rss_[c]; }              // bytes; 0: none
  int worker(uint64_t c) const { return worker_[c]; }                     // -1: not recorded
  const std::string& host(uint64_t c) const { return texts_[host_[c]]; }  // "": not recorded
  // Its worker's GPU (execution.gpus); "": none, or not recorded.
  const std::string& device(uint64_t c) const { return texts_[device_[c]]; }
  // The reason of its latest failed attempt, kept when a later one is done; "": it never failed.
  const std::string& failure(uint64_t c) const { return texts_[failure_[c]]; }
  // The point that latest failure named, if it named one.
  std::optional<uint64_t> failure_point(uint64_t c) const;
  // Its points copied from an earlier output (`--reuse`) when it was done, 0 if none; that
  // output's path and the first and last of its chunks they came from.
  uint64_t reused(uint64_t c) const { return reused_[c]; }
  const std::string& reused_from(uint64_t c) const { return texts_[reused_from_[c]]; }
  uint64_t reused_first_chunk(uint64_t c) const { return reused_first_[c]; }
  uint64_t reused_last_chunk(uint64_t c) const { return reused_last_[c]; }

 private:
  ChunkHistory() = default;
  void Fold(const JournalRecord& record, size_t journal);
  uint32_t Text(const std::string& text);

  std::optional<ChunkLedger> ledger_;  // set once the fold is done
  std::vector<RecordedRun> runs_;
  std::vector<uint32_t> attempts_;
  std::vector<double> seconds_, start_time_;
  std::vector<uint64_t> max_rss_;
  std::vector<int32_t> worker_;
  std::vector<uint32_t> host_, failure_, device_;  // into texts_
  std::vector<uint64_t> reused_, reused_first_, reused_last_;
  std::vector<uint32_t> reused_from_;    // into texts_
  std::vector<uint64_t> failure_point_;  // kNoPoint: none
  std::vector<std::string> texts_;       // texts_[0] == ""
  std::map<std::string, uint32_t> text_index_;
  // By journal: the hosts its latest `started` record names, and the run it is in (or -1).
  std::vector<std::optional<WorkerHosts>> journal_hosts_;
  std::vector<long> journal_run_;
};

}  // namespace sweep
