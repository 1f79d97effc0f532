#include "driver/chunk_history.h"

#include <algorithm>
#include <limits>

namespace sweep {
namespace {

constexpr uint64_t kNoPoint = std::numeric_limits<uint64_t>::max();

}  // namespace

ChunkHistory ChunkHistory::Read(OutputFile& file) {
  const uint64_t n = file.layout().chunks;
  ChunkHistory h;
  h.texts_ = {""};
  h.text_index_[""] = 0;
  const ChunkTable table = file.ReadChunkTable();
  const ChunkProvenance stored = file.ReadChunkProvenance();
  h.attempts_ = table.attempts;
  h.seconds_ = table.seconds;
  h.start_time_ = stored.start_time;
  h.max_rss_ = stored.max_rss;
  h.worker_.resize(n);
  h.host_.resize(n);
  h.failure_.resize(n);
  h.device_.resize(n);
  h.failure_point_.assign(n, kNoPoint);
  std::vector<uint32_t> host_texts, reason_texts, device_texts;  // table row -> texts_ index
  for (const std::string& name : stored.host_names) host_texts.push_back(h.Text(name));
  for (const std::string& name : stored.device_names) device_texts.push_back(h.Text(name));
  for (const std::string& reason : stored.failure_reasons) reason_texts.push_back(h.Text(reason));
  std::vector<uint32_t> file_texts;
  for (const std::string& file_name : stored.reused_files) file_texts.push_back(h.Text(file_name));
  h.reused_ = stored.reused;
  h.reused_first_ = stored.reused_first_chunk;
  h.reused_last_ = stored.reused_last_chunk;
  h.reused_from_.resize(n);
  for (uint64_t c = 0; c < n; ++c) {
    h.reused_from_[c] =
        stored.reused_from[c] < file_texts.size() ? file_texts[stored.reused_from[c]] : 0;
    h.host_[c] = stored.host[c] < host_texts.size() ? host_texts[stored.host[c]] : 0;
    h.worker_[c] = stored.host[c] > 0 ? stored.worker[c] : -1;
    h.failure_[c] = stored.failure[c] < reason_texts.size() ? reason_texts[stored.failure[c]] : 0;
    h.device_[c] = stored.device[c] < device_texts.size() ? device_texts[stored.device[c]] : 0;
  }
  h.ledger_.emplace(ChunkLedger::Load(
      file, [&h](const JournalRecord& record, size_t journal) { h.Fold(record, journal); }));
  return h;
}

uint32_t ChunkHistory::Text(const std::string& text) {
  const auto [it, added] = text_index_.emplace(text, uint32_t(texts_.size()));
  if (added) texts_.push_back(text);
  return it->second;
}

void ChunkHistory::Fold(const JournalRecord& r, size_t journal) {
  if (journal >= journal_hosts_.size()) {  // the journals' list is the ledger's
    journal_hosts_.resize(journal + 1);
    journal_run_.resize(journal + 1, -1);
  }
  long& run = journal_run_[journal];
  if (r.type == "started") {
    journal_hosts_[journal] = r.hosts;
    run = long(runs_.size());
    runs_.push_back({r.command, r.hosts.host, r.workers, r.time, r.time, ""});
  } else if (run >= 0) {
    runs_[size_t(run)].end = std::max(runs_[size_t(run)].end, r.time);
    if (r.type == "stopped") {
      runs_[size_t(run)].stop_reason = r.reason;
      run = -1;
    }
  }
  if (r.chunk >= attempts_.size()) return;
  const uint64_t c = r.chunk;
  if (r.type == "reused") {  // right after its chunk's done record
    reused_[c] = r.points;
    reused_from_[c] = Text(r.from);
    reused_first_[c] = r.first_chunk;
    reused_last_[c] = r.last_chunk;
    return;
  }
  if (r.type != "done" && r.type != "failed") return;
  reused_[c] = 0;  // a done chunk was computed whole unless a `reused` record follows
  reused_from_[c] = 0;
  const bool final_failure = r.type == "failed" && r.final;
  if (r.type == "failed") {
    failure_[c] = Text(r.reason.empty() ? "?" : r.reason);
    failure_point_[c] = r.point ? *r.point : kNoPoint;
    if (!r.final) return;  // a retry follows: the chunk's row is its next outcome's
  }
  attempts_[c] = uint32_t(r.attempt);
  seconds_[c] = final_failure ? 0 : r.seconds;
  start_time_[c] = final_failure ? 0 : r.start_time;
  max_rss_[c] = final_failure ? 0 : r.max_rss;
  worker_[c] = r.worker;
  if (journal_hosts_[journal]) {
    host_[c] = Text(journal_hosts_[journal]->Of(r.worker));
    device_[c] = Text(journal_hosts_[journal]->DeviceOf(r.worker));
  }
}

std::optional<uint64_t> ChunkHistory::failure_point(uint64_t c) const {
  if (failure_point_[c] == kNoPoint) return std::nullopt;
  return failure_point_[c];
}

}  // namespace sweep
