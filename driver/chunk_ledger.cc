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
  table.reused.assign(n, 0);
  return ChunkLedger(file, std::move(table));
}

ChunkLedger ChunkLedger::Load(
    OutputFile& file, const std::function<void(const JournalRecord&, size_t journal)>& observe) {
  ChunkLedger ledger(file, file.ReadChunkTable());
  // Shards append to their own journals at once: merged in time order, the latest event of a
  // chunk wins.
  MergedJournals journals(JournalsOf(file.path()));
  JournalRecord record;
  size_t source = 0;
  while (journals.Next(&record, &source)) {
    ledger.Apply(record);
    if (observe) observe(record, source);
  }
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
    if (!r.fingerprint_json.empty()) last_fingerprint_ = r.fingerprint_json;
  }
  if (r.chunk >= plan_.chunks()) return;
  if (r.type == "done") {
    table_.status[r.chunk] = ChunkStatus::kDone;
    table_.checksum[r.chunk] = r.checksum;
    table_.attempts[r.chunk] = uint32_t(r.attempt);
    table_.seconds[r.chunk] = r.seconds;
    table_.reused[r.chunk] = 0;  // a `reused` record follows when some were copied
    failures_.erase(r.chunk);
    failed_reruns_.erase(r.chunk);
    points_since_last_start_ += plan_.chunk(r.chunk).count;
  } else if (r.type == "reused" && table_.status[r.chunk] == ChunkStatus::kDone) {
    table_.reused[r.chunk] = std::min(r.points, plan_.chunk(r.chunk).count);
  } else if (r.type == "failed" && r.final && r.kept) {
    failed_reruns_[r.chunk] = r;
  } else if (r.type == "failed" && r.final) {
    table_.status[r.chunk] = ChunkStatus::kFailed;
    failures_[r.chunk] = r;
    failed_reruns_.erase(r.chunk);
  }
}

uint64_t ChunkLedger::damaged_records() const {
  uint64_t n = 0;
  for (const auto& journal : damaged_journals_) n += journal.second;
  return n;
}

LedgerCounts ChunkLedger::Count() const { return Count(ChunkSelection{}); }

void ChunkLedger::CountChunk(uint64_t c, LedgerCounts* counts) const {
  const uint64_t points = plan_.chunk(c).count;
  switch (table_.status[c]) {
    case ChunkStatus::kDone:
      ++counts->done;
      counts->points_done += points;
      counts->points_reused += table_.reused[c];
      return;
    case ChunkStatus::kFailed:
      ++counts->failed;
      break;
    default:
      ++counts->pending;
      break;
  }
  counts->points_left += points;
}

LedgerCounts ChunkLedger::Count(const ChunkSelection& selection) const {
  LedgerCounts counts;
  for (uint64_t c = 0; c < plan_.chunks(); ++c)
    if (selection.Includes(c)) CountChunk(c, &counts);
  return counts;
}

std::vector<LedgerCounts> ChunkLedger::CountByShard(uint64_t shards) const {
  std::vector<LedgerCounts> counts(shards);
  for (uint64_t c = 0; c < plan_.chunks(); ++c) CountChunk(c, &counts[c % shards]);
  return counts;
}

namespace {

// VerifyDone reads runs of chunks of up to this many bytes of rows at once, and reads through
// gaps (chunks not to verify) of up to kVerifyGapBytes rather than start another run.
constexpr uint64_t kVerifyRunBytes = 4 << 20;
constexpr uint64_t kVerifyGapBytes = 64 << 10;

// Verifies the done chunks `selection` includes among chunks [first, end), reading their rows
// at once; those whose rows do not match their checksum become pending. Returns how many.
uint64_t VerifyRun(const OutputFile& file, const Plan& plan, const ChunkSelection& selection,
                   uint64_t first, uint64_t end, ChunkTable* table, ChunkChecksum* checksum,
                   std::vector<std::vector<char>>* buffers) {
  const uint64_t begin_point = plan.chunk(first).first;
  const uint64_t points = plan.chunk(end - 1).end() - begin_point;
  for (size_t o = 0; o < buffers->size(); ++o) {
    (*buffers)[o].resize(file.Rows(o, begin_point, points).bytes);
    file.ReadRows(o, begin_point, points, (*buffers)[o].data());
  }
  uint64_t torn = 0;
  for (uint64_t c = first; c < end; ++c) {
    if (table->status[c] != ChunkStatus::kDone || !selection.Includes(c)) continue;
    const Chunk chunk = plan.chunk(c);
    checksum->Reset();
    for (size_t o = 0; o < buffers->size(); ++o) {
      // The rows before the chunk's in the buffer, and the chunk's own.
      const uint64_t at = file.Rows(o, begin_point, chunk.first - begin_point).bytes;
      checksum->Add(o, (*buffers)[o].data() + at, file.Rows(o, chunk.first, chunk.count).bytes);
    }
    if (checksum->Finish() != table->checksum[c]) {
      table->status[c] = ChunkStatus::kPending;
      ++torn;
    }
  }
  return torn;
}

}  // namespace

uint64_t ChunkLedger::VerifyDone(const ChunkSelection& selection) {
  const size_t outputs = file_->layout().results.size();
  if (plan_.chunks() == 0) return 0;
  uint64_t point_bytes = 0;
  for (size_t o = 0; o < outputs; ++o) point_bytes += file_->Rows(o, 0, 1).bytes;
  ChunkChecksum checksum(outputs);
  std::vector<std::vector<char>> buffers(outputs);
  uint64_t torn = 0, first = 0, end = 0;  // the run [first, end) to read at once; empty if equal
  for (uint64_t c = 0; c < plan_.chunks(); ++c) {
    if (table_.status[c] != ChunkStatus::kDone || !selection.Includes(c)) continue;
    if (end > first) {
      const uint64_t run_bytes = (plan_.chunk(c).end() - plan_.chunk(first).first) * point_bytes;
      const uint64_t gap_bytes = (plan_.chunk(c).first - plan_.chunk(end - 1).end()) * point_bytes;
      if (run_bytes <= kVerifyRunBytes && gap_bytes <= kVerifyGapBytes) {
        end = c + 1;
        continue;
      }
      torn += VerifyRun(*file_, plan_, selection, first, end, &table_, &checksum, &buffers);
    }
    first = c;
    end = c + 1;
  }
  if (end > first)
    torn += VerifyRun(*file_, plan_, selection, first, end, &table_, &checksum, &buffers);
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
    for (const auto& failed_rerun : failed_reruns_) todo.push_back(failed_rerun.first);
  }
  auto missing = [](const char* option, const char* what, uint64_t index, uint64_t size) {
    return Error(std::string(option) + ": " + what + " " + std::to_string(index) +
                     " does not exist (the sweep has " + std::to_string(size) + ")",
                 ExitCode::kUsage);
  };
  // Every range is checked before any is expanded; expanded, each costs at most the sweep's chunks.
  for (const IndexRange& r : selection.chunks)
    if (r.last >= plan_.chunks())
      throw missing("--chunks", "chunk", std::max(r.first, plan_.chunks()), plan_.chunks());
  for (const IndexRange& r : selection.points)
    if (r.last >= plan_.points())
      throw missing("--points", "point", std::max(r.first, plan_.points()), plan_.points());
  for (const IndexRange& r : selection.chunks)
    for (uint64_t c = r.first; c <= r.last; ++c) todo.push_back(c);
  for (const IndexRange& r : selection.points)
    for (uint64_t c = plan_.ChunkOf(r.first); c <= plan_.ChunkOf(r.last); ++c) todo.push_back(c);
  std::sort(todo.begin(), todo.end());
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  return todo;
}

void ChunkLedger::RecordDone(const Chunk& chunk, const DoneChunk& done, const std::string& host,
                             const ReusedFrom* reused, const std::string& device) {
  QueueDone(chunk, done, host, reused, device);
  FlushDone();
}

void ChunkLedger::QueueDone(const Chunk& chunk, const DoneChunk& done, const std::string& host,
                            const ReusedFrom* reused, const std::string& device) {
  if (queued_chunks_.size() >= kDoneBatch) FlushDone();
  const uint16_t host_row = file_->HostRow(host);
  const bool copied = reused && done.reused > 0;
  const uint16_t file_row = copied ? file_->ReusedFileRow(reused->file) : 0;
  JournalRecord r;
  r.type = "done";
  r.time = WallSeconds();
  r.chunk = chunk.index;
  r.checksum = done.checksum;
  r.seconds = done.seconds;
  r.start_time = done.start_time;
  r.max_rss = done.max_rss;
  r.worker = done.worker;
  r.attempt = done.attempt;
  ChunkRow row{ChunkStatus::kDone, uint32_t(done.attempt), done.seconds, done.checksum, host_row,
               done.worker,        done.start_time,        done.max_rss};
  row.device = file_->DeviceRow(device);
  queued_records_.push_back(r);
  if (copied) {
    JournalRecord from;
    from.type = "reused";
    from.time = r.time;
    from.chunk = chunk.index;
    from.points = done.reused;
    from.from = reused->file;
    from.first_chunk = reused->first_chunk;
    from.last_chunk = reused->last_chunk;
    queued_records_.push_back(std::move(from));
    row.reused = done.reused;
    row.reused_from = file_row;
    row.reused_first_chunk = reused->first_chunk;
    row.reused_last_chunk = reused->last_chunk;
  }
  queued_chunks_.push_back(chunk.index);
  queued_rows_.push_back(row);
}

void ChunkLedger::FlushDone() {
  if (queued_chunks_.empty()) return;
  const std::vector<JournalRecord> records = std::move(queued_records_);
  const std::vector<uint64_t> chunks = std::move(queued_chunks_);
  const std::vector<ChunkRow> rows = std::move(queued_rows_);
  DiscardQueuedDone();
  journal_->Append(records);
  // Runs of consecutive chunks, each written column by column.
  for (size_t first = 0; first < chunks.size();) {
    size_t end = first + 1;
    while (end < chunks.size() && chunks[end] == chunks[end - 1] + 1) ++end;
    file_->WriteChunkRows(chunks[first], end - first, &rows[first]);
    first = end;
  }
  for (size_t i = 0; i < chunks.size(); ++i) {
    const uint64_t c = chunks[i];
    table_.status[c] = rows[i].status;
    table_.attempts[c] = rows[i].attempts;
    table_.seconds[c] = rows[i].seconds;
    table_.checksum[c] = rows[i].checksum;
    table_.reused[c] = rows[i].reused;
    failures_.erase(c);
    failed_reruns_.erase(c);
  }
}

void ChunkLedger::DiscardQueuedDone() {
  queued_records_.clear();
  queued_chunks_.clear();
  queued_rows_.clear();
}

void ChunkLedger::RecordFailed(const JournalRecord& failed, const std::string& host,
                               const std::string& device) {
  FlushDone();
  const uint16_t reason_row = file_->FailureReasonRow(failed.reason);
  const uint16_t host_row = failed.final ? file_->HostRow(host) : 0;
  journal_->Append(failed);
  file_->WriteChunkFailure(failed.chunk, reason_row);
  if (failed.final && failed.kept) failed_reruns_[failed.chunk] = failed;
  if (!failed.final || failed.kept) return;
  ChunkRow row{ChunkStatus::kFailed, uint32_t(failed.attempt), 0, 0};
  row.host = host_row;
  row.worker = failed.worker;
  row.device = file_->DeviceRow(device);
  file_->WriteChunkRow(failed.chunk, row);
  table_.status[failed.chunk] = row.status;
  table_.attempts[failed.chunk] = row.attempts;
  table_.seconds[failed.chunk] = 0;
  table_.checksum[failed.chunk] = 0;
  table_.reused[failed.chunk] = 0;
  failures_[failed.chunk] = failed;
  failed_reruns_.erase(failed.chunk);
}

}  // namespace sweep
