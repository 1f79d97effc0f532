#include "driver/run_recorder.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "driver/point_values.h"
#include "io/error.h"

namespace sweep {
namespace {

double WallSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

double SteadySeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

const char* FailureKindName(ChunkFailure::Kind kind) {
  switch (kind) {
    case ChunkFailure::Kind::kKernelError:
      return "kernel-error";
    case ChunkFailure::Kind::kCrashed:
      return "crashed";
    case ChunkFailure::Kind::kExited:
      return "exited";
    case ChunkFailure::Kind::kKilled:
      return "killed";
    case ChunkFailure::Kind::kTimeout:
      return "timeout";
    case ChunkFailure::Kind::kOutOfMemory:
      return "out-of-memory";
  }
  return "?";
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// The process's anonymous memory, from /proc/<pid>/smaps_rollup; 0 if it is gone.
uint64_t PrivateBytes(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char text[4096];
  const ssize_t n = read(fd, text, sizeof text - 1);
  close(fd);
  if (n <= 0) return 0;
  text[n] = '\0';
  const char* field = std::strstr(text, "\nAnonymous:");
  return field ? std::strtoull(field + 11, nullptr, 10) * 1024 : 0;
}

}  // namespace

RunRecorder::RunRecorder(const Space& space, ChunkLedger& ledger, Journal& journal,
                         Progress& progress, uint64_t points_total, uint64_t chunks_total,
                         int workers)
    : space_(space), ledger_(ledger), journal_(journal), progress_(progress) {
  snapshot_.points_total = points_total;
  snapshot_.chunks_total = chunks_total;
  snapshot_.busy_seconds.assign(size_t(workers), 0.0);
  start_ = SteadySeconds();
  last_sync_ = start_;
}

void RunRecorder::ChunkDone(const Chunk& chunk, uint64_t checksum, double seconds, int rank,
                            int attempt) {
  ledger_.RecordDone(chunk, checksum, seconds, rank, attempt);
  snapshot_.points_done += chunk.count;
  ++snapshot_.chunks_done;
  if (rank >= 0 && size_t(rank) < snapshot_.busy_seconds.size())
    snapshot_.busy_seconds[size_t(rank)] += seconds;
  Tick();
}

void RunRecorder::ChunkFailed(const ChunkFailure& f) {
  JournalRecord r;
  r.type = "failed";
  r.time = WallSeconds();
  r.chunk = f.chunk.index;
  r.attempt = f.attempt;
  r.final = f.final;
  r.kind = FailureKindName(f.kind);
  r.reason = f.reason;
  r.point = f.point;
  r.worker = f.rank;
  r.stderr_tail = f.log_tail;
  std::string params_text;
  if (f.point) DescribePoint(space_, *f.point, &params_text, &r.params_json);
  ledger_.RecordFailed(r);
  if (f.final) {
    ++snapshot_.chunks_failed;
  } else {
    ++snapshot_.retries;
  }
  std::string line = fmt::format("sweep: chunk {}", f.chunk.index);
  if (f.point) line += fmt::format(", point {} ({})", *f.point, params_text);
  line += fmt::format(": {}{}", f.reason,
                      f.final ? "" : fmt::format(" (attempt {}, will retry)", f.attempt));
  if (f.final && !f.log_tail.empty()) {
    std::string tail = f.log_tail;
    const size_t keep = tail.rfind('\n', tail.size() > 400 ? tail.size() - 400 : 0);
    if (tail.size() > 400 && keep != std::string::npos) tail = tail.substr(keep + 1);
    line += "\n  worker stderr ends:\n    " + ReplaceAll(tail, "\n", "\n    ");
  }
  progress_.Update(Snapshot());
  std::fprintf(stderr, "%s%s\n", isatty(fileno(stderr)) ? "\r\x1b[K" : "", line.c_str());
}

void RunRecorder::Tick() {
  const double now = SteadySeconds();
  if (now - last_sync_ >= 1.0) {
    journal_.Sync();
    last_sync_ = now;
  }
  WatchMemory();
  progress_.Update(Snapshot());
}

void RunRecorder::LimitMemory(ProcessWorkerSet* workers, uint64_t limit_bytes) {
  workers_ = workers;
  memory_limit_ = limit_bytes;
  over_limit_.assign(size_t(workers->size()), false);
}

std::optional<ChunkFailure::Kind> RunRecorder::ClassifyExit(int rank, int) {
  if (memory_limit_ == 0 || !over_limit_[size_t(rank)]) return std::nullopt;
  over_limit_[size_t(rank)] = false;
  return ChunkFailure::Kind::kOutOfMemory;
}

ProgressSnapshot RunRecorder::Snapshot() {
  snapshot_.elapsed_seconds = SteadySeconds() - start_;
  return snapshot_;
}

void RunRecorder::WatchMemory() {
  if (!workers_ || memory_limit_ == 0) return;
  for (int r = 0; r < workers_->size(); ++r) {
    if (!workers_->Running(r) || over_limit_[size_t(r)]) continue;
    if (PrivateBytes(workers_->pid(r)) > memory_limit_) {
      over_limit_[size_t(r)] = true;
      workers_->Kill(r);
    }
  }
}
}  // namespace sweep
