#include "driver/status.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "driver/command_binding.h"
#include "driver/point_values.h"
#include "driver/progress.h"
#include "io/clock.h"
#include "io/journal.h"
#include "io/output_file.h"
#include "io/output_lock.h"
#include "io/workdirs.h"

namespace sweep {
namespace {

// A wall time (Unix seconds) as this machine's local time, to the second.
std::string TimeText(double unix_seconds) {
  const time_t t = time_t(unix_seconds);
  struct tm local {};
  localtime_r(&t, &local);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %z", &local);
  return text;
}

// What a board says: each worker's time on its chunk, its rate and the rest of its chunk, as of
// the board's writing (at most kBoardSeconds ago while the run computes; measured on the run's
// host, whose clock may differ from this one's).
std::vector<WorkerStatus> WorkersOf(const WorkerBoard& board, const Plan& plan) {
  const double elapsed = board.updated - board.started;
  std::vector<WorkerStatus> workers;
  for (const BoardWorker& w : board.workers) {
    WorkerStatus s;
    s.board = w;
    if (w.since) s.seconds_on_chunk = std::max(0.0, board.updated - *w.since);
    std::optional<Chunk> chunk;
    if (w.chunk && *w.chunk < plan.chunks()) chunk = plan.chunk(*w.chunk);
    const bool on_chunk =
        chunk && w.point && *w.point >= chunk->first && *w.point < chunk->first + chunk->count;
    const uint64_t begun = on_chunk ? *w.point - chunk->first : 0;
    if (elapsed > 0) s.points_per_second = double(w.points_done + begun) / elapsed;
    if (on_chunk && s.points_per_second > 0) {
      s.chunk_eta_seconds = double(chunk->first + chunk->count - *w.point) / s.points_per_second;
    }
    workers.push_back(std::move(s));
  }
  return workers;
}

// The workers of the run that holds the lock of `lock_pid`, from the board at `board_path`;
// none when there is no board or another process wrote it.
std::vector<WorkerStatus> LiveWorkers(const std::string& board_path, long lock_pid,
                                      const Plan& plan) {
  const std::optional<WorkerBoard> board = ReadWorkerBoard(board_path);
  if (!board || lock_pid <= 0 || board->pid != lock_pid) return {};
  return WorkersOf(*board, plan);
}

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
      shard.workers =
          LiveWorkers(WorkerBoardPath(output_path, std::make_pair(shard.index, shard.count)),
                      shard.pid, ledger.plan());
      for (const WorkerStatus& w : shard.workers) shard.points_per_second += w.points_per_second;
      if (shard.points_per_second > 0)
        shard.eta_seconds = double(shard.counts.points_left) / shard.points_per_second;
    }
    shards.push_back(std::move(shard));
  }
  std::sort(shards.begin(), shards.end(), [](const ShardStatus& a, const ShardStatus& b) {
    return std::make_pair(a.count, a.index) < std::make_pair(b.count, b.index);
  });
  return shards;
}

template <typename T>
nlohmann::json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

nlohmann::json WorkersJson(const std::vector<WorkerStatus>& workers) {
  nlohmann::json j = nlohmann::json::array();
  for (const WorkerStatus& w : workers) {
    const BoardWorker& b = w.board;
    j.push_back({{"worker", b.worker},
                 {"rank", b.node},
                 {"host", b.host},
                 {"pid", b.pid},
                 {"state", b.state},
                 {"chunk", OrNull(b.chunk)},
                 {"point", OrNull(b.point)},
                 {"seconds_on_chunk", b.since ? nlohmann::json(w.seconds_on_chunk) : nullptr},
                 {"chunks_done", b.chunks_done},
                 {"points_done", b.points_done},
                 {"points_per_second", w.points_per_second},
                 {"chunk_eta_seconds", OrNull(w.chunk_eta_seconds)}});
  }
  return j;
}

template <typename T>
std::string OrDash(const std::optional<T>& value) {
  return value ? fmt::format("{}", *value) : "-";
}

// One row a worker under a header, each line starting with `indent`; the MPI rank and host
// columns only when some worker lives on another rank.
std::string WorkersText(const std::vector<WorkerStatus>& workers, const std::string& indent) {
  if (workers.empty()) return "";
  bool ranks = false;
  for (const WorkerStatus& w : workers) ranks = ranks || w.board.node != 0;
  const auto row = [&](const std::string& worker, const std::string& rank, const std::string& host,
                       const std::string& pid, const std::string& state, const std::string& chunk,
                       const std::string& point, const std::string& on_chunk,
                       const std::string& rate, const std::string& eta) {
    return fmt::format("{}{:>6}{} {:>8}  {:<8} {:>7} {:>10} {:>9} {:>9} {:>9}\n", indent, worker,
                       ranks ? fmt::format(" {:>4}  {:<12}", rank, host) : "", pid, state, chunk,
                       point, on_chunk, rate, eta);
  };
  std::string text = row("worker", "rank", "host", "pid", "state", "chunk", "point", "on chunk",
                         "points/s", "chunk ETA");
  for (const WorkerStatus& w : workers) {
    const BoardWorker& b = w.board;
    text += row(std::to_string(b.worker), std::to_string(b.node), b.host.empty() ? "?" : b.host,
                b.pid > 0 ? std::to_string(b.pid) : "-", b.state, OrDash(b.chunk), OrDash(b.point),
                b.since ? FormatDuration(w.seconds_on_chunk) : "-",
                fmt::format("{:.4g}", w.points_per_second),
                w.chunk_eta_seconds ? FormatDuration(*w.chunk_eta_seconds) : "-");
  }
  return text;
}

std::string LiveText(long pid, const std::string& host) {
  std::string text = "pid " + (pid > 0 ? std::to_string(pid) : std::string("?"));
  if (!host.empty()) text += " on " + host;
  return text;
}

}  // namespace

namespace {

std::optional<Config> StoredConfig(const OutputFile& file) {
  try {
    Config config = ParseConfig(file.layout().config_text, file.layout().config_file);
    ExpandPaths(&config, kWorkdirPath);  // where this status runs: a node-local root may differ
    return config;
  } catch (const Error&) {
    return std::nullopt;  // a config this sweep no longer reads: status goes on without it
  }
}

}  // namespace

std::map<uint64_t, KeptWorkdir> KeptWorkdirs(const OutputFile& file, const std::string& output_path,
                                             const std::map<uint64_t, JournalRecord>& failures) {
  std::map<uint64_t, KeptWorkdir> kept;
  if (failures.empty()) return kept;
  std::optional<Config> config = StoredConfig(file);
  if (!config || config->kernel.command.empty()) return kept;
  config->output.path = output_path;
  const Workdirs workdirs(CommandWorkdirRoot(*config), true);
  for (const auto& [chunk, f] : failures) {
    if (!f.point) continue;
    struct stat st {};
    const std::string path = workdirs.PathOf(*f.point);
    if (lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    KeptWorkdir& k = kept[chunk];
    k.path = path;
    for (const char* stream : {kStdoutFile, kStderrFile}) {
      const std::string file_path = path + "/" + stream;
      if (lstat(file_path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) k.streams.push_back(file_path);
    }
  }
  return kept;
}

std::vector<std::string> StoredParameterNames(const OutputFile& file) {
  std::vector<std::string> names;
  if (const std::optional<Config> config = StoredConfig(file))
    for (const AxisSpec& axis : config->parameters) names.push_back(axis.name);
  return names;
}

std::string FinishHint(const std::string& output, uint64_t pending_chunks, uint64_t failed_chunks) {
  if (pending_chunks > 0) return "`sweep resume " + output + "` finishes it";
  if (failed_chunks > 0) return "fix their cause, then `sweep rerun " + output + " --failed`";
  return "";
}

StatusReport ReadStatus(const std::string& output_path) {
  OutputFile file = OutputFile::Open(output_path, OutputFile::Access::kRead);
  StatusReport report;
  // The journals are folded in time order: the latest start or stop wins. A run killed without a
  // stop record (MPICH's mpiexec on a rank's death: driver/mpi_run.h) lost the ranks rank 0 had
  // stopped hearing from, and stopped after its last record.
  std::map<int, LostRank> unheard;
  bool stop_recorded = false;
  double last_record_time = 0;
  const ChunkLedger ledger = ChunkLedger::Load(file, [&](const JournalRecord& r, size_t) {
    if (r.type == "started") {
      report.lost_ranks.clear();
      report.lost_stop_time = 0;
      unheard.clear();
      stop_recorded = false;
    } else if (r.type == "stopped") {
      stop_recorded = true;
      if (!r.lost_ranks.empty()) {
        report.lost_ranks = r.lost_ranks;
        report.lost_stop_time = r.time;
      }
    } else if (r.type == "unheard") {
      for (const LostRank& l : r.lost_ranks) unheard[l.rank] = l;
    } else if (r.type == "heard") {
      for (const LostRank& l : r.lost_ranks) unheard.erase(l.rank);
    }
    last_record_time = std::max(last_record_time, r.time);
  });
  report.output = output_path;
  report.kernel = file.layout().kernel_name;
  report.points = file.layout().points;
  report.chunks = file.layout().chunks;
  report.counts = ledger.Count();
  report.failures = ledger.failures();
  report.failed_reruns = ledger.failed_reruns();
  report.kept_workdirs = KeptWorkdirs(
      file, std::filesystem::absolute(output_path).lexically_normal().string(), report.failures);
  report.parameter_names = StoredParameterNames(file);
  report.journal_truncated = !ledger.truncated_journals().empty();
  report.journal_damaged = ledger.damaged_records();
  report.shards = ReadShards(output_path, ledger);
  if (const std::optional<LockHolder> holder = ProbeLock(output_path)) {
    report.live = true;
    report.pid = holder->pid;
    report.host = holder->host;
    report.workers =
        LiveWorkers(WorkerBoardPath(output_path, std::nullopt), report.pid, ledger.plan());
  }
  if (!report.live && !stop_recorded && !unheard.empty()) {
    for (const auto& [rank, lost] : unheard) report.lost_ranks.push_back(lost);
    report.lost_stop_time = last_record_time;
    report.lost_stop_recorded = false;
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
                      {"points_computed", r.counts.points_done - r.counts.points_reused},
                      {"points_reused", r.counts.points_reused},
                      {"live", r.live},
                      {"pid", r.pid},
                      {"host", r.host},
                      {"points_per_second", r.points_per_second},
                      {"eta_seconds", r.eta_seconds ? nlohmann::json(*r.eta_seconds) : nullptr},
                      {"journal_truncated", r.journal_truncated},
                      {"journal_damaged_records", r.journal_damaged},
                      {"workers", WorkersJson(r.workers)}};
  j["lost_ranks"] = nlohmann::json::array();
  for (const LostRank& l : r.lost_ranks) {
    j["lost_ranks"].push_back({{"rank", l.rank},
                               {"host", l.host},
                               {"last_heard", l.last_heard},
                               {"stopped", r.lost_stop_time}});
  }
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
                           {"host", s.host},
                           {"points_per_second", s.points_per_second},
                           {"eta_seconds", OrNull(s.eta_seconds)},
                           {"workers", WorkersJson(s.workers)}});
  }
  const auto failure = [](uint64_t chunk, const JournalRecord& f) {
    return nlohmann::json{
        {"chunk", chunk},
        {"point", f.point ? nlohmann::json(*f.point) : nlohmann::json(nullptr)},
        {"params", nlohmann::json::parse(f.params_json.empty() ? "{}" : f.params_json)},
        {"kind", f.kind},
        {"reason", f.reason},
        {"attempt", f.attempt},
        {"stderr", f.stderr_tail}};
  };
  j["failures"] = nlohmann::json::array();
  for (const auto& [chunk, f] : r.failures) {
    j["failures"].push_back(failure(chunk, f));
    const auto kept = r.kept_workdirs.find(chunk);
    nlohmann::json& entry = j["failures"].back();
    entry["workdir"] = nullptr;
    entry["streams"] = nlohmann::json::array();
    if (kept != r.kept_workdirs.end()) {
      entry["workdir"] = kept->second.path;
      entry["streams"] = kept->second.streams;
    }
  }
  // Chunks still done, with their earlier results, whose latest rerun failed.
  j["failed_reruns"] = nlohmann::json::array();
  for (const auto& [chunk, f] : r.failed_reruns) j["failed_reruns"].push_back(failure(chunk, f));
  return j;
}

std::string StatusText(const StatusReport& r) {
  const LedgerCounts& c = r.counts;
  std::string text = fmt::format("{}: kernel {}, {} points in {} chunks\n", r.output, r.kernel,
                                 r.points, r.chunks);
  text += fmt::format("  done {}, pending {}, failed {} chunks; {} of {} points done ({:.1f}%)\n",
                      c.done, c.pending, c.failed, c.points_done, r.points,
                      r.points ? 100.0 * double(c.points_done) / double(r.points) : 100.0);
  if (c.points_reused > 0) {
    text += fmt::format("  of them {} computed, {} reused from earlier outputs (--reuse)\n",
                        c.points_done - c.points_reused, c.points_reused);
  }
  const std::string eta = r.eta_seconds ? FormatDuration(*r.eta_seconds) : "-";
  if (r.live && r.shards.empty()) {
    text += fmt::format("  running now ({}): {:.4g} points/s, ETA {}\n", LiveText(r.pid, r.host),
                        r.points_per_second, eta);
    text += WorkersText(r.workers, "    ");
  } else if (r.live) {
    text +=
        fmt::format("  shards running now: {:.4g} points/s, ETA {}\n", r.points_per_second, eta);
  } else if (c.pending + c.failed > 0) {
    text += "  not running; " + FinishHint(r.output, c.pending, c.failed) + "\n";
  }
  for (const ShardStatus& s : r.shards) {
    std::string state = "not running";
    if (s.live) state = "running (" + LiveText(s.pid, s.host) + ")";
    if (!s.workers.empty()) {
      state += fmt::format(": {:.4g} points/s, ETA {}", s.points_per_second,
                           s.eta_seconds ? FormatDuration(*s.eta_seconds) : "-");
    }
    text += fmt::format("  shard {}/{}: done {}, pending {}, failed {} chunks; {}\n", s.index,
                        s.count, s.counts.done, s.counts.pending, s.counts.failed, state);
    text += WorkersText(s.workers, "    ");
  }
  for (const LostRank& l : r.lost_ranks) {
    text += fmt::format(
        "  lost: MPI rank {} on {}, last heard from {}; the job {} {} (exclude that node "
        "before `sweep resume`)\n",
        l.rank, l.host.empty() ? "?" : l.host, TimeText(l.last_heard),
        r.lost_stop_recorded ? "stopped" : "was killed after", TimeText(r.lost_stop_time));
  }
  if (r.journal_truncated)
    text +=
        "  note: the journal's last record is incomplete (a kill or a full disk stopped its "
        "write) and is ignored\n";
  if (r.journal_damaged > 0) {
    text += fmt::format(
        "  note: {} damaged journal record{} skipped; `sweep resume` verifies every done chunk "
        "against its checksum\n",
        r.journal_damaged, r.journal_damaged == 1 ? "" : "s");
  }
  for (const auto& [chunk, f] : r.failures) {
    text += fmt::format("  failed chunk {}", chunk);
    if (f.point)
      text +=
          fmt::format(", point {} ({})", *f.point, ParamsText(r.parameter_names, f.params_json));
    text += fmt::format(": {} [{}, attempt {}]\n", f.reason, f.kind, f.attempt);
    const auto kept = r.kept_workdirs.find(chunk);
    if (kept != r.kept_workdirs.end()) {
      text += "    work directory kept: " + kept->second.path + "\n";
      if (!kept->second.streams.empty())
        text += fmt::format("    its output in full: {}\n", fmt::join(kept->second.streams, ", "));
    }
  }
  for (const auto& [chunk, f] : r.failed_reruns) {
    text += fmt::format("  rerun of done chunk {} failed", chunk);
    if (f.point)
      text +=
          fmt::format(", point {} ({})", *f.point, ParamsText(r.parameter_names, f.params_json));
    text += fmt::format(": {} [{}, attempt {}]; its earlier results are kept\n", f.reason, f.kind,
                        f.attempt);
  }
  return text;
}

namespace {

// The terminal's rows and columns, or nullopt when `out` is not a terminal.
std::optional<std::pair<int, int>> TerminalSize(FILE* out) {
  if (!isatty(fileno(out))) return std::nullopt;
  winsize size{};
  if (ioctl(fileno(out), TIOCGWINSZ, &size) != 0 || size.ws_row == 0 || size.ws_col == 0)
    return std::make_pair(24, 80);
  return std::make_pair(int(size.ws_row), int(size.ws_col));
}

// `text` cut to `rows` lines of at most `columns` characters: a longer line would wrap and
// a taller block scroll, and the next redraw's cursor-up would then miss its start. The last
// line says how many were left out.
std::string FitToTerminal(const std::string& text, int rows, int columns) {
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    const size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  const size_t fit = size_t(std::max(rows - 1, 1));
  if (lines.size() > fit) {
    const size_t hidden = lines.size() - (fit - 1);
    lines.resize(fit - 1);
    lines.push_back(fmt::format("  ... {} more lines (a taller terminal shows them)", hidden));
  }
  std::string fitted;
  for (std::string& line : lines) {
    if (line.size() >= size_t(columns)) line.resize(size_t(std::max(columns - 1, 1)));
    fitted += line + "\n";
  }
  return fitted;
}

std::string ClockText(double wall) {
  const time_t seconds = time_t(wall);
  tm local{};
  localtime_r(&seconds, &local);
  return fmt::format("{:02}:{:02}:{:02}", local.tm_hour, local.tm_min, local.tm_sec);
}

}  // namespace

int WatchStatus(const std::string& output_path, bool json, double interval_seconds, FILE* out) {
  int drawn = 0;  // lines of the previous refresh on the terminal
  for (;;) {
    const StatusReport report = ReadStatus(output_path);
    const bool running = report.live || std::any_of(report.shards.begin(), report.shards.end(),
                                                    [](const ShardStatus& s) { return s.live; });
    const std::optional<std::pair<int, int>> terminal = json ? std::nullopt : TerminalSize(out);
    if (json) {
      std::fprintf(out, "%s\n", StatusJson(report).dump().c_str());
    } else if (terminal) {
      const std::string block =
          FitToTerminal(fmt::format("sweep status --watch, every {}s until the run ends ({})\n",
                                    interval_seconds, ClockText(WallSeconds())) +
                            StatusText(report),
                        terminal->first, terminal->second);
      // Back to the first line of the previous refresh, erase it and all below, draw anew.
      if (drawn > 0) std::fprintf(out, "\x1b[%dF\x1b[J", drawn);
      std::fputs(block.c_str(), out);
      drawn = int(std::count(block.begin(), block.end(), '\n'));
    } else {
      std::fprintf(out, "--- %s\n%s\n", ClockText(WallSeconds()).c_str(),
                   StatusText(report).c_str());
    }
    std::fflush(out);
    if (!running) return 0;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval_seconds));
  }
}

}  // namespace sweep
