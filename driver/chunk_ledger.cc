#include "driver/chunk_ledger.h"

#include <algorithm>

#include "driver/checksum.h"
#include "io/clock.h"
#include "io/error.h"

namespace sweep {
ChunkLedger::ChunkLedger(OutputFile& file, ChunkTable table)
    : file_(&file),
      plan_(file.layout().points, file.layout().chunk_size),
      table_(std::move(table)) {}

ChunkLedger ChunkLedger::ForNewOutput(OutputFile& file) {
  ChunkTable table;
  const uint64_t n = file.layout().chunks;
  table.status.assign(n, ChunkStatus::kPending);
  table.attempts.assign(n, 0);
  table.seconds.assign(n, 0);
  table.checksum.assign(n, 0);
  return ChunkLedger(file, std::move(table));
}

ChunkLedger ChunkLedger::Load(OutputFile& file) {
  ChunkLedger ledger(file, file.ReadChunkTable());
  // Shards append to their own journals at once: merged in time order, the latest event of a
  // chunk wins.
  MergedJournals journals(JournalsOf(file.path()));
  JournalRecord record;
  while (journals.Next(&record)) ledger.Apply(record);
  for (const JournalReader& journal : journals.readers()) {
    if (journal.truncated()) ledger.truncated_journals_.push_back(journal.path());
    if (journal.damaged_records() > 0)
      ledger.damaged_journals_.emplace_back(journal.path(), journal.damaged_records());
  }
  return ledger;
}

void ChunkLedger::Apply(const JournalRecord& r) {
  if (r.type == "started") {
    last_start_time_ = r.time;
    points_since_last_start_ = 0;
  }
  if (r.chunk >= plan_.chunks()) return;
  if (r.type == "done") {
    table_.status[r.chunk] = ChunkStatus::kDone;
    table_.checksum[r.chunk] = r.checksum;
    table_.attempts[r.chunk] = uint32_t(r.attempt);
    table_.seconds[r.chunk] = r.seconds;
    failures_.erase(r.chunk);
    points_since_last_start_ += plan_.chunk(r.chunk).count;
  } else if (r.type == "failed" && r.final) {
    table_.status[r.chunk] = ChunkStatus::kFailed;
    failures_[r.chunk] = r;
  }
}

uint64_t ChunkLedger::damaged_records() const {
  uint64_t n = 0;
  for (const auto& journal : damaged_journals_) n += journal.second;
  return n;
}

LedgerCounts ChunkLedger::Count() const { return Count(ChunkSelection{}); }

LedgerCounts ChunkLedger::Count(const ChunkSelection& selection) const {
  LedgerCounts counts;
  for (uint64_t c = 0; c < plan_.chunks(); ++c) {
    if (!selection.Includes(c)) continue;
    const uint64_t points = plan_.chunk(c).count;
    switch (table_.status[c]) {
      case ChunkStatus::kDone:
        ++counts.done;
        counts.points_done += points;
        continue;
      case ChunkStatus::kFailed:
        ++counts.failed;
        break;
      default:
        ++counts.pending;
        break;
    }
    counts.points_left += points;
  }
  return counts;
}

uint64_t ChunkLedger::VerifyDone(const ChunkSelection& selection) {
  const std::vector<OutputDatasetInfo>& results = file_->layout().results;
  ChunkChecksum checksum(results.size());
  std::vector<char> buffer;
  uint64_t torn = 0;
  for (uint64_t c = 0; c < plan_.chunks(); ++c) {
    if (table_.status[c] != ChunkStatus::kDone || !selection.Includes(c)) continue;
    const Chunk chunk = plan_.chunk(c);
    checksum.Reset();
    for (size_t o = 0; o < results.size(); ++o) {
      buffer.resize(file_->Rows(o, chunk.first, chunk.count).bytes);
      file_->ReadRows(o, chunk.first, chunk.count, buffer.data());
      checksum.Add(o, buffer.data(), buffer.size());
    }
    if (checksum.Finish() != table_.checksum[c]) {
      table_.status[c] = ChunkStatus::kPending;
      ++torn;
    }
  }
  return torn;
}

std::vector<uint64_t> ChunkLedger::Todo(const ChunkSelection& selection) const {
  std::vector<uint64_t> todo;
  if (selection.kind != ChunkSelection::Kind::kChosen) {
    for (uint64_t c = 0; c < plan_.chunks(); ++c) {
      if (!selection.Includes(c)) continue;
      if (selection.kind == ChunkSelection::Kind::kEvery || table_.status[c] != ChunkStatus::kDone)
        todo.push_back(c);
    }
    return todo;
  }
  if (selection.failed) {
    for (uint64_t c = 0; c < plan_.chunks(); ++c)
      if (table_.status[c] == ChunkStatus::kFailed) todo.push_back(c);
  }
  auto missing = [](const char* option, const char* what, uint64_t index, uint64_t size) {
    return Error(std::string(option) + ": " + what + " " + std::to_string(index) +
                     " does not exist (the sweep has " + std::to_string(size) + ")",
                 ExitCode::kUsage);
  };
  for (uint64_t c : selection.chunks) {
    if (c >= plan_.chunks()) throw missing("--chunks", "chunk", c, plan_.chunks());
    todo.push_back(c);
  }
  for (uint64_t p : selection.points) {
    if (p >= plan_.points()) throw missing("--points", "point", p, plan_.points());
    todo.push_back(plan_.ChunkOf(p));
  }
  std::sort(todo.begin(), todo.end());
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  return todo;
}

void ChunkLedger::RecordDone(const Chunk& chunk, uint64_t checksum, double seconds, int worker,
                             int attempt) {
  JournalRecord r;
  r.type = "done";
  r.time = WallSeconds();
  r.chunk = chunk.index;
  r.checksum = checksum;
  r.seconds = seconds;
  r.worker = worker;
  r.attempt = attempt;
  journal_->Append(r);
  const ChunkRow row{ChunkStatus::kDone, uint32_t(attempt), seconds, checksum};
  file_->WriteChunkRow(chunk.index, row);
  table_.status[chunk.index] = row.status;
  table_.attempts[chunk.index] = row.attempts;
  table_.seconds[chunk.index] = row.seconds;
  table_.checksum[chunk.index] = row.checksum;
  failures_.erase(chunk.index);
}

void ChunkLedger::RecordFailed(const JournalRecord& failed) {
  journal_->Append(failed);
  if (!failed.final) return;
  const ChunkRow row{ChunkStatus::kFailed, uint32_t(failed.attempt), 0, 0};
  file_->WriteChunkRow(failed.chunk, row);
  table_.status[failed.chunk] = row.status;
  table_.attempts[failed.chunk] = row.attempts;
  table_.seconds[failed.chunk] = 0;
  table_.checksum[failed.chunk] = 0;
  failures_[failed.chunk] = failed;
}

}  // namespace sweep
