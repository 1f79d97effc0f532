// Journal: the append-only record of a run, `OUT.h5.journal` (DESIGN.md "Output file").
//
// Format, version 1: UTF-8 text, one JSON object a line, each line ended by '\n'.
//   line 1 (header):  {"journal":"sweep","version":1}
//   then records, each with "type" and "time" (Unix seconds, UTC):
//     {"type":"started","time":..,"pid":..,"command":"run|run --shard I/N|resume|rerun",
//      "workers":..}
//     {"type":"done","time":..,"chunk":..,"checksum":"<16 hex digits>","seconds":..,"worker":..,
//      "attempt":..}
//     {"type":"failed","time":..,"chunk":..,"attempt":..,"final":true|false,"kind":"crashed|...",
//      "reason":"..","point":..|null,"params":{"rho":2.5,..},"stderr":"..","worker":..}
//     {"type":"stopped","time":..,"reason":"finished|interrupted|error","message":".."}
// Unknown fields are ignored on read (later versions may add some); a different header version is
// refused with an error that names both versions.
//
// Durability: every record is one write(2) of a whole line to a descriptor opened with O_APPEND,
// so a process killed at any instant leaves whole lines plus at most one partial last line. The
// page cache survives the process; fdatasync (for a machine crash) is batched: the run calls
// Sync() at most once a second and at the end (driver/run_recorder.h), so tiny chunks are not
// throttled by the disk. On read, a last line without its '\n' or that does not parse is ignored
// and reported as `truncated`; a bad line before the last is corruption and an error.
//
// Each shard of a sweep appends to its own journal (`OUT.h5.journal.shard-I-of-N`);
// driver/chunk_ledger.h folds them all, in time order, over /chunks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sweep {

inline constexpr int kJournalVersion = 1;

struct JournalRecord {
  std::string type;  // started | done | failed | stopped | (unknown types are kept)
  double time = 0;
  uint64_t chunk = 0;
  uint64_t checksum = 0;
  double seconds = 0;
  int worker = -1;
  int attempt = 0;
  bool final = true;
  std::string kind;
  std::string reason;
  std::optional<uint64_t> point;
  std::string params_json;  // the "params" object as JSON text
  std::string stderr_tail;
  std::string command;  // started
  int64_t pid = 0;      // started
  int workers = 0;      // started
  std::string message;  // stopped
};

struct JournalContents {
  std::vector<JournalRecord> records;
  bool truncated = false;    // a partial last line was ignored
  uint64_t valid_bytes = 0;  // the length of the whole lines read
};

class Journal {
 public:
  // Creates (or replaces) the journal with only its header.
  // THROWS: Error on any I/O failure.
  static Journal Create(const std::string& path);
  // Opens an existing journal to append to; a partial last line is cut off first (so the next
  // record starts on a line of its own).
  // THROWS: Error if missing, of another version, or corrupt.
  static Journal OpenForAppend(const std::string& path);
  // THROWS: Error (exit code 2) if missing or of another version; Error if corrupt.
  static JournalContents Read(const std::string& path);

  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&&) = delete;
  Journal(const Journal&) = delete;
  ~Journal();

  // Each appends one record. THROWS: Error when the write fails (a full disk, say): the record
  // is then not in the journal, and the caller must not treat the event as recorded.
  void Append(const JournalRecord& record);
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

// The JSON line of a record (no newline) and back; exposed for tests.
std::string EncodeJournalRecord(const JournalRecord& record);
std::optional<JournalRecord> DecodeJournalRecord(const std::string& line);

}  // namespace sweep
