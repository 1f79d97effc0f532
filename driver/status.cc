#include "driver/status.h"

#include <sys/stat.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "driver/command_binding.h"
#include "driver/progress.h"
#include "io/clock.h"
#include "io/journal.h"
#include "io/output_file.h"
#include "io/output_lock.h"
#include "io/workdirs.h"

namespace sweep {
namespace {

// The shards that have journals, each with its counts and whether its process is live.
std::vector<ShardStatus> ReadShards(const std::string& output_path, const ChunkLedger& ledger) {
  std::vector<ShardStatus> shards;
  std::map<uint64_t, std::vector<LedgerCounts>> by_count;  // one pass over the chunks for each N
  const std::string prefix = output_path + ".journal.shard-";
  for (const std::string& journal : JournalsOf(output_path)) {
    if (journal.rfind(prefix, 0) != 0) continue;
    unsigned long long index = 0, count = 0;
    char rest = 0;
    if (std::sscanf(journal.c_str() + prefix.size(), "%llu-of-%llu%c", &index, &count, &rest) !=
            2 ||
        count == 0 || index >= count)
      continue;
    ShardStatus shard;
    shard.index = index;
    shard.count = count;
    if (count <= ledger.plan().chunks()) {
      std::vector<LedgerCounts>& counts = by_count[count];
      if (counts.empty()) counts = ledger.CountByShard(count);
      shard.counts = counts[index];
    } else {  // more shards than chunks: no table of N counts
      ChunkSelection mine;
      mine.shard = std::make_pair(shard.index, shard.count);
      shard.counts = ledger.Count(mine);
    }
    if (const std::optional<LockHolder> holder =
            ProbeLock(fmt::format("{}.shard-{}-of-{}", output_path, index, count))) {
      shard.live = true;
      shard.pid = holder->pid;
      shard.host = holder->host;
    }
    shards.push_back(std::move(shard));
  }
  std::sort(shards.begin(), shards.end(), [](const ShardStatus& a, const ShardStatus& b) {
    return std::make_pair(a.count, a.index) < std::make_pair(b.count, b.index);
  });
  return shards;
}

std::string ParamsText(const JournalRecord& r) {
  std::string params;
  if (r.params_json.empty()) return params;
  const nlohmann::json values = nlohmann::json::parse(r.params_json);
  for (const auto& [k, v] : values.items())
    params +=
        (params.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  return params;
}

std::string LiveText(long pid, const std::string& host) {
  std::string text = "pid " + (pid > 0 ? std::to_string(pid) : std::string("?"));
  if (!host.empty()) text += " on " + host;
  return text;
}

}  // namespace

std::map<uint64_t, std::string> KeptWorkdirs(const OutputFile& file, const std::string& output_path,
                                             const std::map<uint64_t, JournalRecord>& failures) {
  std::map<uint64_t, std::string> kept;
  if (failures.empty()) return kept;
  Config config;
  try {
    config = ParseConfig(file.layout().config_text, file.layout().config_file);
  } catch (const Error&) {
    return kept;  // a config this sweep no longer reads: status goes on without it
  }
  if (config.kernel.command.empty()) return kept;
  config.output.path = output_path;
  const Workdirs workdirs(CommandWorkdirRoot(config), true);
  for (const auto& [chunk, f] : failures) {
    if (!f.point) continue;
    struct stat st {};
    const std::string path = workdirs.PathOf(*f.point);
    if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) kept[chunk] = path;
  }
  return kept;
}

StatusReport ReadStatus(const std::string& output_path) {
  OutputFile file = OutputFile::Open(output_path, OutputFile::Access::kRead);
  const ChunkLedger ledger = ChunkLedger::Load(file);
  StatusReport report;
  report.output = output_path;
  report.kernel = file.layout().kernel_name;
  report.points = file.layout().points;
  report.chunks = file.layout().chunks;
  report.counts = ledger.Count();
  report.failures = ledger.failures();
  report.kept_workdirs = KeptWorkdirs(
      file, std::filesystem::absolute(output_path).lexically_normal().string(), report.failures);
  report.journal_truncated = !ledger.truncated_journals().empty();
  report.journal_damaged = ledger.damaged_records();
  report.shards = ReadShards(output_path, ledger);
  if (const std::optional<LockHolder> holder = ProbeLock(output_path)) {
    report.live = true;
    report.pid = holder->pid;
    report.host = holder->host;
  }
  const double now = WallSeconds(), start = ledger.last_start_time();
  if (report.live && start > 0 && now > start) {
    report.points_per_second = double(ledger.points_done_since_last_start()) / (now - start);
  }
  if (report.points_per_second > 0) {
    report.eta_seconds = double(report.counts.points_left) / report.points_per_second;
  }
  return report;
}

nlohmann::json StatusJson(const StatusReport& r) {
  nlohmann::json j = {{"output", r.output},
                      {"kernel", r.kernel},
                      {"points", r.points},
                      {"chunks", r.chunks},
                      {"done", r.counts.done},
                      {"pending", r.counts.pending},
                      {"failed", r.counts.failed},
                      {"points_done", r.counts.points_done},
                      {"live", r.live},
                      {"pid", r.pid},
                      {"host", r.host},
                      {"points_per_second", r.points_per_second},
                      {"eta_seconds", r.eta_seconds ? nlohmann::json(*r.eta_seconds) : nullptr},
                      {"journal_truncated", r.journal_truncated},
                      {"journal_damaged_records", r.journal_damaged}};
  j["shards"] = nlohmann::json::array();
  for (const ShardStatus& s : r.shards) {
    j["shards"].push_back({{"shard", fmt::format("{}/{}", s.index, s.count)},
                           {"index", s.index},
                           {"count", s.count},
                           {"done", s.counts.done},
                           {"pending", s.counts.pending},
                           {"failed", s.counts.failed},
                           {"live", s.live},
                           {"pid", s.pid},
                           {"host", s.host}});
  }
  j["failures"] = nlohmann::json::array();
  for (const auto& [chunk, f] : r.failures) {
    j["failures"].push_back(
        {{"chunk", chunk},
         {"point", f.point ? nlohmann::json(*f.point) : nlohmann::json(nullptr)},
         {"params", nlohmann::json::parse(f.params_json.empty() ? "{}" : f.params_json)},
         {"kind", f.kind},
         {"reason", f.reason},
         {"attempt", f.attempt},
         {"stderr", f.stderr_tail}});
    const auto kept = r.kept_workdirs.find(chunk);
    j["failures"].back()["workdir"] =
        kept == r.kept_workdirs.end() ? nlohmann::json(nullptr) : nlohmann::json(kept->second);
  }
  return j;
}

std::string StatusText(const StatusReport& r) {
  const LedgerCounts& c = r.counts;
  std::string text = fmt::format("{}: kernel {}, {} points in {} chunks\n", r.output, r.kernel,
                                 r.points, r.chunks);
  text += fmt::format("  done {}, pending {}, failed {} chunks; {} of {} points done ({:.1f}%)\n",
                      c.done, c.pending, c.failed, c.points_done, r.points,
                      r.points ? 100.0 * double(c.points_done) / double(r.points) : 100.0);
  const std::string eta = r.eta_seconds ? FormatDuration(*r.eta_seconds) : "-";
  if (r.live && r.shards.empty()) {
    text += fmt::format("  running now ({}): {:.4g} points/s, ETA {}\n", LiveText(r.pid, r.host),
                        r.points_per_second, eta);
  } else if (r.live) {
    text +=
        fmt::format("  shards running now: {:.4g} points/s, ETA {}\n", r.points_per_second, eta);
  } else if (c.pending + c.failed > 0) {
    text += fmt::format("  not running; `sweep resume {}` finishes it\n", r.output);
  }
  for (const ShardStatus& s : r.shards) {
    text += fmt::format("  shard {}/{}: done {}, pending {}, failed {} chunks; {}\n", s.index,
                        s.count, s.counts.done, s.counts.pending, s.counts.failed,
                        s.live ? "running (" + LiveText(s.pid, s.host) + ")" : "not running");
  }
  if (r.journal_truncated)
    text += "  note: the journal's last record was cut by a kill and is ignored\n";
  if (r.journal_damaged > 0) {
    text += fmt::format(
        "  note: {} damaged journal record{} skipped; `sweep resume` verifies every done chunk "
        "against its checksum\n",
        r.journal_damaged, r.journal_damaged == 1 ? "" : "s");
  }
  for (const auto& [chunk, f] : r.failures) {
    text += fmt::format("  failed chunk {}", chunk);
    if (f.point) text += fmt::format(", point {} ({})", *f.point, ParamsText(f));
    text += fmt::format(": {} [{}, attempt {}]\n", f.reason, f.kind, f.attempt);
    const auto kept = r.kept_workdirs.find(chunk);
    if (kept != r.kept_workdirs.end()) text += "    work directory kept: " + kept->second + "\n";
  }
  return text;
}

}  // namespace sweep
