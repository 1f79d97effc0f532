// Journal: the append-only record of a run, `OUT.h5.journal`.
//
// Format, version 3 (the one written): a header line, then framed records back to back.
//   header: the 32 bytes {"journal":"sweep","version":3} followed by '\n'.
//   record: offset  size  field
//           0       1     magic 0xC1 (a byte that never occurs in UTF-8 text)
//           1       1     kind: 'D' (a `done` record, binary payload) or 'J' (any other, JSON)
//           2       2     payload length L, uint16 little-endian ('D': always 52)
//           4       L     payload
//           4+L     4     check: XXH32 (seed 0) of bytes 0 .. 4+L-1, uint32 little-endian
//   'D' payload, little-endian, so a done record is 60 bytes:
//           0 time f64 | 8 chunk u64 | 16 checksum u64 | 24 seconds f64 | 32 worker i32 |
//           36 attempt u32 | 40 start_time f64 | 48 max_rss u32 (KiB, saturated)
//     time: when the driver recorded it; start_time: when the worker began the chunk (the
//     worker's clock, Unix seconds); max_rss: the worker's peak resident memory at the chunk's
//     end (driver/worker.h says what it counts). 0 for either: not recorded.
//   'J' payload: one JSON object (UTF-8, no newline) with "type" and "time" (Unix seconds, UTC):
//     {"type":"started","time":..,"pid":..,"command":"run|run --shard I/N|resume|rerun",
//      "workers":..,"fingerprint":{..},"host":"..","worker_hosts":[[first worker,"host"],..],
//      "reuse":[{"file":"/abs/OLD.h5","points":..},..],"paths":{..},"worker_devices":[..]}
//        fingerprint: what the run computes with (driver/fingerprint.h; absent in journals of
//        older sweeps). host: where the run's driver is, and so its workers; worker_hosts (an
//        MPI run's, left out otherwise): workers from each first on are on that host. The done
//        and failed records that follow in the same journal name their worker by its index:
//        this is where to find its host. reuse (a `run --reuse`'s, left out otherwise): each
//        earlier output it copies points from, and how many of the points it computes it planned
//        to copy from it. worker_devices (when some worker has a GPU): each worker's device, by
//        index, "" for none. paths (only when the config's paths name environment variables):
//        {"<MPI rank>": {"<key path>": "<the path as that rank expanded it>"}}.
//     {"type":"failed","time":..,"chunk":..,"attempt":..,"final":true|false,"kind":"crashed|...",
//      "reason":"..","point":..|null,"params":{"rho":2.5,..},"stderr":"..","worker":..}
//        "kept":true (left out otherwise): the chunk was done before this attempt (a rerun), and
//        a final failure leaves it done, with its earlier rows (driver/chunk_ledger.h).
//     {"type":"reused","time":..,"chunk":..,"points":..,"from":"/abs/OLD.h5","first_chunk":..,
//      "last_chunk":..}
//        right after the `done` record of a chunk some of whose points were copied from earlier
//        outputs (`--reuse`), not computed: how many, and from which output and which of its
//        chunks (the first output that gave some, when several did). A `done` record without
//        one computed every point of its chunk.
//     {"type":"stopped","time":..,"reason":"finished|interrupted|error","message":"..",
//      "cpu_seconds":[..],"lost_ranks":[{"rank":..,"host":"..","last_heard":..},..]}
//        cpu_seconds: the user and system CPU time of the run's driver process by MPI rank (a
//        plain run's one entry; null for a rank that did not say), its threads included, its
//        workers not: what coordinating the run cost. lost_ranks (an MPI run's, when some
//        rank did not answer as the run stopped: mpirun aborting the job on a rank's death):
//        each such rank, its host and when it was last heard from (Unix seconds).
//     {"type":"unheard","time":..,"lost_ranks":[{"rank":..,"host":"..","last_heard":..}]}
//     {"type":"heard","time":..,"lost_ranks":[{"rank":..,"host":"..","last_heard":..}]}
//        an MPI run under MPICH's mpiexec, which kills the whole job without a word when a rank
//        dies (driver/mpi_run.h): rank 0 has heard nothing from that rank for a while (unheard),
//        or hears from it again (heard, last_heard: now). A run that ends without a stop record
//        lost the ranks still unheard at its end.
//     A record that would not fit in 65535 bytes has its longest texts shortened (the stderr
//     tail keeps its end), then loses its worker_hosts, then its params, then all but rank 0's
//     cpu_seconds and all but the first 16 lost_ranks. On read, unknown fields
//     are ignored and unknown types kept (later versions may add some); a header of another
//     version is refused naming both versions.
//
// Version 2 (read, never written): as version 3, but a 'D' payload is 40 bytes (a done record
// 48), without start_time and max_rss.
// Version 1 (read, never written): UTF-8 text, one JSON object a line, each ended by '\n'; the
// header line {"journal":"sweep","version":1}, then the objects above, `done` as
//     {"type":"done","time":..,"chunk":..,"checksum":"<16 hex digits>","seconds":..,"worker":..,
//      "attempt":..}
// Appending to a journal of an earlier version first rewrites it in the current one
// (OpenForAppend), so no file mixes two.
//
// Durability: every record, or batch of records (Journal::Append of many: an MPI run's chunk
// ends as they arrive together), is one write(2) to a descriptor opened with O_APPEND, so a
// process killed at any instant leaves whole records plus at most one partial last record. The page
// cache survives the process; fdatasync (for a machine crash) is batched: the run calls Sync()
// at most once a second and at the end (driver/run_recorder.h), so tiny chunks are not throttled
// by the disk.
//
// Damage: a record whose magic, kind, length or check is wrong, or whose JSON does not parse
// (version 1: a line that does not parse), is damaged. The reader skips it and resynchronises on
// the next offset where a whole record with a right check starts; each stretch of skipped bytes
// between two whole records counts as one damaged record (it held at least one). Bytes after the
// last whole record that hold none are the partial last record a kill leaves: ignored and reported
// as `truncated`, and cut off by OpenForAppend. A damaged record never stops a reader; what it
// recorded is lost, so the chunks it may concern are trusted only after their checksums are
// verified (driver/chunk_ledger.h).
//
// Each shard of a sweep appends to its own journal (`OUT.h5.journal.shard-I-of-N`);
// driver/chunk_ledger.h folds them all, in time order (MergedJournals), over /chunks.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

namespace sweep {

inline constexpr int kJournalVersion = 3;
// The oldest version still read.
inline constexpr int kOldestJournalVersion = 1;

// Which host each worker of a run is on: `host`, but for the workers from ranges[i].first on (up
// to the next range's first), which are on ranges[i].second. Only an MPI run has ranges. And
// which GPU each worker has (execution.gpus): devices[worker], "" for none; empty when no worker
// has one.
struct WorkerHosts {
  std::string host;
  std::vector<std::pair<int, std::string>> ranges;  // ascending by first worker
  std::vector<std::string> devices;

  const std::string& Of(int worker) const;
  const std::string& DeviceOf(int worker) const;
};

// A rank of an MPI job that was gone when the job stopped (a `stopped` record's), or that rank 0
// has not heard from for a while (`unheard`) or hears from again (`heard`).
struct LostRank {
  int rank = 0;
  std::string host;
  double last_heard = 0;  // Unix seconds
};

struct JournalRecord {
  std::string type;  // started | done | failed | reused | stopped | unheard | heard | (others kept)
  double time = 0;
  uint64_t chunk = 0;
  uint64_t checksum = 0;
  double seconds = 0;
  double start_time = 0;  // done: when the worker began the chunk; 0: not recorded
  uint64_t max_rss = 0;   // done: bytes, a multiple of 1024; 0: not recorded
  int worker = -1;
  int attempt = 0;
  bool final = true;
  bool kept = false;  // failed: the chunk stays done with its earlier rows (a rerun's attempt)
  std::string kind;
  std::string reason;
  std::optional<uint64_t> point;
  std::string params_json;  // the "params" object as JSON text
  std::string stderr_tail;
  std::string command;           // started
  int64_t pid = 0;               // started
  int workers = 0;               // started
  std::string fingerprint_json;  // started: the run's fingerprint as JSON text; "" if absent
  WorkerHosts hosts;             // started
  std::string reuse_json;        // started: the "reuse" list as JSON text; "" if absent
  // started: by MPI rank (0 without MPI), the config's paths that named variables, expanded.
  std::map<int, std::map<std::string, std::string>> paths;
  std::string message;                       // stopped
  std::vector<double> cpu_seconds;           // stopped: by rank; NaN: not said
  std::vector<LostRank> lost_ranks;          // stopped, unheard, heard
  uint64_t points = 0;                       // reused: the chunk's points copied
  std::string from;                          // reused: the output they were copied from
  uint64_t first_chunk = 0, last_chunk = 0;  // reused: the chunks of `from` they came from
};

// Reads one journal front to back, one record at a time: memory is a buffer, not the journal.
// Reads by path, opening the file for each refill, so that any number of readers hold no
// descriptor between calls; a file replaced meanwhile is an error.
class JournalReader {
 public:
  // `buffer_bytes`: how much is read at a time. THROWS: Error (exit code 2) if missing, not a
  // sweep journal, or of a version this sweep does not read (naming both); Error on I/O errors.
  explicit JournalReader(std::string path, size_t buffer_bytes = 1 << 16);

  // The next whole, undamaged record; false at the end. THROWS: Error on I/O errors.
  bool Next(JournalRecord* record);

  const std::string& path() const { return path_; }
  // 1, 2 or 3; 0 while the file holds no whole header line (a kill cut it).
  int version() const { return version_; }
  // After Next() returned false: whether a partial last record (or header) was ignored.
  bool truncated() const { return truncated_; }
  // Damaged records skipped so far (versions 2, 3: stretches of damaged bytes; version 1: lines).
  uint64_t damaged_records() const { return damaged_records_; }
  // The end of the last whole record (or of the header) read so far.
  uint64_t valid_bytes() const { return valid_bytes_; }

 private:
  int OpenSameFile();
  size_t Ensure(size_t n);
  uint64_t Offset() const { return base_ + cursor_; }
  void ReadHeader();
  bool NextVersion1(JournalRecord* record);
  bool NextFramed(JournalRecord* record);  // versions 2 and 3
  size_t LineLength();
  bool DecodeFrame(JournalRecord* record, size_t* size);
  void SkipToNextMagic();

  std::string path_;
  size_t buffer_bytes_;
  std::string buffer_;  // the file's bytes [base_, base_ + buffer_.size())
  uint64_t base_ = 0;
  size_t cursor_ = 0;  // the next unread byte, in buffer_
  bool eof_ = false;
  std::optional<std::pair<uint64_t, uint64_t>> file_id_;  // st_dev, st_ino
  int version_ = 0;
  bool truncated_ = false;
  bool skipping_ = false;       // versions 2, 3: inside a damaged stretch
  uint64_t skipped_lines_ = 0;  // version 1: lines that did not parse, not yet counted
  uint64_t damaged_records_ = 0;
  uint64_t valid_bytes_ = 0;
};

// Several journals read as one stream in time order: a k-way merge of their readers, so memory
// is one buffer and one record per journal. A journal's own records keep their order (one
// process wrote them, in that order, even if its clock stepped back); among journals the record
// with the earliest time goes first, ties to the journal listed first.
class MergedJournals {
 public:
  // THROWS: as JournalReader.
  explicit MergedJournals(const std::vector<std::string>& paths);
  // The next record; *journal (when given) is set to its journal's index in `paths`.
  // THROWS: Error on I/O errors.
  bool Next(JournalRecord* record, size_t* journal = nullptr);
  // Every reader, in the order of `paths`; their counts are final once Next() returned false.
  const std::vector<JournalReader>& readers() const { return readers_; }

 private:
  void Advance(size_t i);

  std::vector<JournalReader> readers_;
  std::vector<JournalRecord> heads_;
  using Key = std::pair<double, size_t>;  // (head's time, reader)
  std::priority_queue<Key, std::vector<Key>, std::greater<Key>> queue_;
};

struct JournalContents {
  std::vector<JournalRecord> records;
  bool truncated = false;        // a partial last record was ignored
  uint64_t damaged_records = 0;  // damaged stretches skipped
  uint64_t valid_bytes = 0;      // the end of the last whole record
  int version = 0;
};

class Journal {
 public:
  // Creates (or replaces) the journal with only its (current version) header.
  // THROWS: Error on any I/O failure.
  static Journal Create(const std::string& path);
  // Opens an existing journal to append to: a partial last record is cut off first (so the next
  // record starts whole), and a journal of an earlier version is rewritten in the current one,
  // its whole records kept (written to a temporary file, synced, renamed over it: a kill at any
  // instant leaves the old journal or the new one).
  // THROWS: Error if missing, of another version, or on an I/O failure.
  static Journal OpenForAppend(const std::string& path);
  // Every record in memory: for tests and small journals (ChunkLedger streams instead).
  // THROWS: as JournalReader.
  static JournalContents Read(const std::string& path);

  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&&) = delete;
  Journal(const Journal&) = delete;
  ~Journal();

  // Each appends one record. THROWS: Error when the write fails (a full disk, say): the record
  // is then not in the journal, and the caller must not treat the event as recorded.
  void Append(const JournalRecord& record);
  // Appends `records` in order with one write. THROWS: as Append; none of them is then to be
  // treated as recorded.
  void Append(const std::vector<JournalRecord>& records);
  // fdatasync if anything was written since the last Sync.
  void Sync();
  const std::string& path() const { return path_; }

 private:
  Journal(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
  bool dirty_ = false;
};

// Every journal of an output: `OUT.h5.journal` and the shards' `OUT.h5.journal.shard-I-of-N`,
// those that exist, sorted by name.
std::vector<std::string> JournalsOf(const std::string& output_path);

// A record as one JSON object (no newline; version 1's line, a 'J' payload) and back.
std::string EncodeJournalRecord(const JournalRecord& record);
std::optional<JournalRecord> DecodeJournalRecord(const std::string& line);
// A record's version-2 bytes (magic to check); exposed for tests.
std::string EncodeJournalFrame(const JournalRecord& record);

}  // namespace sweep
