// ChunkLedger: the one view of which chunks of an output are done, failed or pending, and the one
// way a run records a chunk's end.
//
// The truth is the union of /chunks/status (written in place as chunks finish) and every journal
// of the output (`OUT.h5.journal` and each shard's, io/journal.h): a journal record is written
// before the status byte, so a chunk a journal calls done may not be marked yet, never the other
// way round. Load() folds both: it streams the journals, merged in time order, and applies each
// record to the chunk table as it is read, so memory is O(chunks), whatever the journals' size.
// VerifyDone() then recomputes each done chunk's checksum from the bytes in the file, so a torn
// write after a crash sends the chunk back to pending.
//
// A damaged journal record is skipped (io/journal.h) and counted. The event it held is lost to
// the fold, so its chunk ends in the state of its last whole record, or of /chunks if it has
// none (the table is written after the record, so it may hold the lost event). At worst that is
// an earlier event of the chunk: a failure it later overcame (it is computed again) or a done
// it later failed (its rows are verified against that done's checksum). So a damaged record
// costs recomputation at most, never a chunk called done whose bytes do not match.
//
// A chunk done before a rerun that fails again stays done: its rows are the earlier ones (a rerun
// computes into staged rows, driver/staged_rows.h) and so is its status. The failure is journaled
// with "kept" and listed by failed_reruns() until the chunk is done again; `rerun --failed` takes
// those chunks too.
//
// Recording keeps that order: RecordDone() and RecordFailed() append the journal record first and
// then write the chunk's row of /chunks, so no chunk is ever marked done that its journal does not
// hold, and a full disk that refuses the record stops the event from counting. The row carries
// the chunk's provenance (io/output_file.h): its worker's host, the worker, when it began, its
// peak memory, and the reason of its latest failure; the journal holds the same (the host once,
// in the run's `started` record). A chunk some of whose points were copied from earlier outputs
// (`--reuse`) gets a `reused` record right after its `done` and the reuse columns of its row;
// the fold counts them (LedgerCounts::points_reused), and a later `done` alone resets them.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "driver/plan.h"
#include "io/journal.h"
#include "io/output_file.h"

namespace sweep {

// Indices first..last, both included: how --chunks and --points ranges are kept, so that
// `--points 0-100000000` costs nothing before it is checked against the sweep.
struct IndexRange {
  uint64_t first = 0, last = 0;
  bool operator==(const IndexRange& o) const { return first == o.first && last == o.last; }
};

// Which chunks a run computes.
struct ChunkSelection {
  enum class Kind {
    kEvery,       // a new output: every chunk
    kUnfinished,  // resume, or a shard going on: every chunk not done (after VerifyDone)
    kChosen,      // rerun: `failed` ones (and done ones whose rerun failed), `chunks`, and the
                  // chunks holding `points`
  };
  Kind kind = Kind::kEvery;
  // `--shard I/N`: only the chunks c with c % N == I, of whatever the kind selects.
  std::optional<std::pair<uint64_t, uint64_t>> shard;
  bool failed = false;
  std::vector<IndexRange> chunks;
  std::vector<IndexRange> points;

  bool Includes(uint64_t chunk) const { return !shard || chunk % shard->second == shard->first; }
};

// Chunk and point counts by state.
struct LedgerCounts {
  uint64_t done = 0, pending = 0, failed = 0;  // chunks
  uint64_t points_done = 0, points_left = 0;
  uint64_t points_reused = 0;  // of points_done: copied from earlier outputs, not computed
};

// Where the reused points of a chunk came from (driver/reuse.h).
struct ReusedFrom {
  std::string file;  // absolute path of the earlier output
  uint64_t first_chunk = 0, last_chunk = 0;
};

class ChunkLedger {
 public:
  // A new output's ledger: every chunk pending, no journal read.
  static ChunkLedger ForNewOutput(OutputFile& file);
  // Reads /chunks and folds every journal of file.path() over it (see above). `observe`, when
  // given, sees every record as it is folded, with the index of its journal in
  // JournalsOf(file.path()) (driver/chunk_history.h folds the provenance so).
  // THROWS: Error when the table or a journal cannot be read, or a journal is of another
  // version. A partial last record is ignored and listed by truncated_journals(); damaged
  // records are skipped and listed by damaged_journals().
  static ChunkLedger Load(
      OutputFile& file,
      const std::function<void(const JournalRecord&, size_t journal)>& observe = nullptr);

  const Plan& plan() const { return plan_; }
  ChunkStatus status(uint64_t chunk) const { return table_.status[chunk]; }
  // A done chunk's checksum, as recorded (driver/checksum.h); 0 for others.
  uint64_t checksum(uint64_t chunk) const { return table_.checksum[chunk]; }
  // Counts over every chunk, or over those `selection` includes (its shard; its kind is ignored).
  LedgerCounts Count() const;
  LedgerCounts Count(const ChunkSelection& selection) const;
  // The counts of each shard I of `shards` (element I), in one pass. REQUIRES: shards > 0.
  std::vector<LedgerCounts> CountByShard(uint64_t shards) const;
  // The last final failure recorded for each chunk that is failed now, by chunk.
  const std::map<uint64_t, JournalRecord>& failures() const { return failures_; }
  // The last final failure of a rerun of each chunk that stayed done through it (a "kept"
  // record), by chunk, until the chunk is done again.
  const std::map<uint64_t, JournalRecord>& failed_reruns() const { return failed_reruns_; }
  // The journals whose partial last record (cut by a kill) was ignored.
  const std::vector<std::string>& truncated_journals() const { return truncated_journals_; }
  // The journals in which damaged records were skipped, with how many in each.
  const std::vector<std::pair<std::string, uint64_t>>& damaged_journals() const {
    return damaged_journals_;
  }
  uint64_t damaged_records() const;
  // When the latest `started` record of any journal was written (Unix seconds; 0 if none), and
  // the points journaled done since then: the live run's throughput.
  double last_start_time() const { return last_start_time_; }
  uint64_t points_done_since_last_start() const { return points_since_last_start_; }
  // The fingerprint (JSON text) of the latest `started` record that holds one: what the last run
  // computed with, so what the chunks done so far depend on. "" when no record holds one (a new
  // output, or journals of an older sweep): the output's own `fingerprint` attribute then holds.
  const std::string& last_fingerprint() const { return last_fingerprint_; }

  // Checks the bytes of every done chunk the selection includes against its checksum; those
  // that do not match become pending. Returns how many did not. Reads runs of consecutive done
  // chunks at once (a few MiB), not chunk by chunk. THROWS: Error on a read error.
  uint64_t VerifyDone(const ChunkSelection& selection);

  // The chunks to compute, ascending. THROWS: Error (exit code 2) for a chosen chunk or point
  // that does not exist.
  std::vector<uint64_t> Todo(const ChunkSelection& selection) const;

  // From now on, Record*() append to `journal` (not owned; it must outlive the recording).
  void RecordInto(Journal* journal) { journal_ = journal; }
  // `host`: where done.worker (failed.worker) ran. `reused`: where done.reused of its points
  // came from, when some did. `device`: the worker's GPU, "" for none.
  // REQUIRES: RecordInto() and an OutputFile opened for writing. THROW: Error when the journal
  // or the table cannot be written; the event is then not recorded.
  void RecordDone(const Chunk& chunk, const DoneChunk& done, const std::string& host,
                  const ReusedFrom* reused = nullptr, const std::string& device = "");
  // As RecordDone, but the chunk waits for FlushDone(), which records every chunk waiting with
  // one journal write and one write per /chunks column for each run of consecutive chunks: an
  // MPI rank's chunk ends arrive together. RecordDone and RecordFailed flush them first, and at
  // most kDoneBatch wait (the next one flushes them). REQUIRES: FlushDone() before the ledger's
  // state is read. THROWS: as FlushDone.
  void QueueDone(const Chunk& chunk, const DoneChunk& done, const std::string& host,
                 const ReusedFrom* reused = nullptr, const std::string& device = "");
  // THROWS: Error when the journal or the table cannot be written: the chunks the journal did
  // not take are not recorded (they stay pending, their records dropped).
  void FlushDone();
  // Drops the waiting chunks unrecorded (a run stopping over an input that changed).
  void DiscardQueuedDone();
  static constexpr size_t kDoneBatch = 4096;
  // `failed`: a record of type "failed" (the caller fills the point, its parameters, the reason
  // and `kept` when the chunk was done before this attempt). Every failure sets the chunk's
  // /chunks/failure; only a final one that is not `kept` changes the rest of its row.
  void RecordFailed(const JournalRecord& failed, const std::string& host,
                    const std::string& device = "");

 private:
  ChunkLedger(OutputFile& file, ChunkTable table);
  void Apply(const JournalRecord& record);
  void CountChunk(uint64_t chunk, LedgerCounts* counts) const;

  OutputFile* file_;
  Plan plan_;
  ChunkTable table_;
  std::map<uint64_t, JournalRecord> failures_;
  std::map<uint64_t, JournalRecord> failed_reruns_;
  std::vector<std::string> truncated_journals_;
  std::vector<std::pair<std::string, uint64_t>> damaged_journals_;
  double last_start_time_ = 0;
  uint64_t points_since_last_start_ = 0;
  std::string last_fingerprint_;
  Journal* journal_ = nullptr;
  // QueueDone's chunks in arrival order: their journal records (a `reused` one after its `done`
  // when points were copied), and each chunk's index and row.
  std::vector<JournalRecord> queued_records_;
  std::vector<uint64_t> queued_chunks_;
  std::vector<ChunkRow> queued_rows_;
};

}  // namespace sweep
