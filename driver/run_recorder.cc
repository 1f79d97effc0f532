#include "driver/run_recorder.h"

#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "driver/point_values.h"
#include "io/clock.h"
#include "io/error.h"
#include "io/output_lock.h"

namespace sweep {
namespace {

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

// Ends the run over an input that changed under it; the chunk being recorded is not.
void ThrowInputChanged(const std::string& change, const std::string& output_path) {
  throw Error(fmt::format(
      "{}; the run stopped, and no chunk that finished after that is recorded done. Once the "
      "input holds the bytes the sweep should use: `sweep resume {}` goes on if they are the "
      "bytes it started with, `sweep resume {} --force` goes on with new ones (the chunks done "
      "so far keep their results)",
      change, output_path, output_path));
}

std::string ReplaceAll(std::string s, const std::string& from, const std::string& to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size())
    s.replace(pos, from.size(), to);
  return s;
}

// How often Tick() looks whether the output is still at its path: at most this often, so every
// scheduler tick (driver/scheduler.h, a quarter of a second) looks, and the end of a chunk, which
// also ticks, costs no stat.
constexpr double kOutputCheckSeconds = 0.05;

}  // namespace

RunRecorder::RunRecorder(const Space& space, ChunkLedger& ledger, Journal& journal,
                         Progress& progress, uint64_t points_total, uint64_t chunks_total,
                         int workers, WorkerHosts hosts, OutputFiller* filler)
    : space_(space),
      ledger_(ledger),
      journal_(journal),
      progress_(progress),
      hosts_(std::move(hosts)),
      filler_(filler) {
  snapshot_.points_total = points_total;
  snapshot_.chunks_total = chunks_total;
  snapshot_.busy_seconds.assign(size_t(workers), 0.0);
  start_ = SteadySeconds();
  last_sync_ = start_;
  chunks_by_rank_.assign(size_t(std::max(workers, 0)), 0);
  points_by_rank_.assign(size_t(std::max(workers, 0)), 0);
}

RunRecorder::~RunRecorder() { StopShowingWorkers(); }

void RunRecorder::ShowWorkersIn(std::string board_path, std::string command) {
  board_path_ = std::move(board_path);
  board_.pid = getpid();
  board_.host = HostName();
  board_.command = std::move(command);
  board_.started = WallSeconds();
}

void RunRecorder::StopShowingWorkers() {
  if (board_path_.empty()) return;
  unlink(board_path_.c_str());
  board_path_.clear();
}

void RunRecorder::Activity(const std::vector<RankActivity>& ranks) {
  const double now = SteadySeconds();
  if (board_path_.empty() || now - board_written_ < kBoardSeconds) return;
  board_written_ = now;
  board_.updated = WallSeconds();
  board_.workers.clear();
  for (size_t r = 0; r < ranks.size(); ++r) {
    const RankActivity& a = ranks[r];
    BoardWorker w;
    w.worker = int(r);
    w.node = a.place.node;
    w.host = a.place.host;
    w.pid = a.place.pid;
    switch (a.state) {
      case RankActivity::State::kStarting:
        w.state = "starting";
        break;
      case RankActivity::State::kIdle:
        w.state = "idle";
        break;
      case RankActivity::State::kBusy:
        w.state = "busy";
        w.chunk = a.chunk;
        w.point = a.point;
        w.since = board_.updated - a.seconds_on_chunk;
        break;
      case RankActivity::State::kStopped:
        w.state = "stopped";
        break;
    }
    if (r < chunks_by_rank_.size()) {
      w.chunks_done = chunks_by_rank_[r];
      w.points_done = points_by_rank_[r];
    }
    board_.workers.push_back(std::move(w));
  }
  try {
    WriteWorkerBoard(board_path_, board_);
  } catch (const Error&) {
    StopShowingWorkers();
  }
}

void RunRecorder::BeforeAssign(uint64_t first, uint64_t count) {
  if (filler_) filler_->BeforeHandout(first, count);
}

void RunRecorder::ChunkDone(const Chunk& chunk, const DoneChunk& done) {
  if (guard_ && !guard_->Changed().empty()) {
    ledger_.DiscardQueuedDone();
    ThrowInputChanged(guard_->Changed(), output_path_);
  }
  if (staged_) staged_->MoveInto(*staged_into_, chunk);
  std::optional<ReusedFrom> from;
  if (done.reused > 0 && reuse_ && !reuse_->empty()) {
    const ChunkReuse reuse = reuse_->Provenance(chunk);
    from = ReusedFrom{reuse_->sources()[reuse.source].path, reuse.first_chunk, reuse.last_chunk};
  }
  ledger_.QueueDone(chunk, done, hosts_.Of(done.worker), from ? &*from : nullptr,
                    hosts_.DeviceOf(done.worker));
  if (held_since_ < 0) held_since_ = SteadySeconds();
  if (guard_ && guard_->watches_files()) done_by_this_run_.push_back(chunk);
  snapshot_.points_done += chunk.count;
  snapshot_.points_reused += done.reused;
  ++snapshot_.chunks_done;
  if (done.worker >= 0 && size_t(done.worker) < snapshot_.busy_seconds.size())
    snapshot_.busy_seconds[size_t(done.worker)] += done.seconds;
  if (done.worker >= 0 && size_t(done.worker) < chunks_by_rank_.size()) {
    ++chunks_by_rank_[size_t(done.worker)];
    points_by_rank_[size_t(done.worker)] += chunk.count;
  }
  // Progress shows at most 10 times a second: a snapshot per chunk end would cost O(workers).
  const double now = SteadySeconds();
  if (now - last_progress_ >= 0.1) {
    last_progress_ = now;
    progress_.Update(Snapshot());
  }
}

double RunRecorder::Flush(bool all) {
  if (guard_ && !guard_->Changed().empty()) {
    ledger_.DiscardQueuedDone();
    ThrowInputChanged(guard_->Changed(), output_path_);
  }
  if (held_since_ < 0) return std::numeric_limits<double>::infinity();
  const double left = held_since_ + kHoldSeconds - SteadySeconds();
  if (!all && left > 0) return left;
  held_since_ = -1;
  ledger_.FlushDone();
  return std::numeric_limits<double>::infinity();
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
  // Done before this attempt (a rerun): the output still holds its earlier rows. The ledger
  // tells once the chunks it holds are recorded.
  ledger_.FlushDone();
  r.kept = ledger_.status(f.chunk.index) == ChunkStatus::kDone;
  if (staged_) staged_->Free(f.chunk);
  std::string params_text;
  if (f.point) DescribePoint(space_, *f.point, &params_text, &r.params_json);
  ledger_.RecordFailed(r, hosts_.Of(f.rank), hosts_.DeviceOf(f.rank));
  if (f.final) {
    ++snapshot_.chunks_failed;
    done_chunks_kept_ += r.kept;
  } else {
    ++snapshot_.retries;
  }
  std::string line = fmt::format("sweep: chunk {}", f.chunk.index);
  if (f.point) line += fmt::format(", point {} ({})", *f.point, params_text);
  line += fmt::format(": {}{}", f.reason,
                      !f.final ? fmt::format(" (attempt {}, will retry)", f.attempt)
                      : r.kept ? "; the chunk was done before, and keeps its earlier results"
                               : "");
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
  Flush(true);
  const double now = SteadySeconds();
  // A stat: on every scheduler tick, not on every chunk's end.
  if (output_ && now - output_checked_ >= kOutputCheckSeconds) {
    output_checked_ = now;
    const std::string gone = OutputGone();
    if (!gone.empty()) throw Error(gone);
  }
  if (now - last_sync_ >= 1.0) {
    journal_.Sync();
    last_sync_ = now;
  }
  progress_.Update(Snapshot());
}

std::string RunRecorder::OutputGone() const {
  if (!output_) return "";
  const std::string fate = output_->FateAtPath();
  if (fate.empty()) return "";
  return fmt::format(
      "{}: the output was {} during the run; the results are not at this path (they were "
      "written into the file that was there{}). The run stopped: run the config again to "
      "compute them",
      output_->path(), fate, fate == "replaced" ? ", and the file there now was left alone" : "");
}

std::string RunRecorder::CheckInputsAtEnd() {
  if (!guard_ || !guard_->watches_files()) return "";
  // A change inotify reported stopped the run before any chunk computed from it was recorded.
  if (!guard_->Changed().empty()) return guard_->Changed();
  const std::string changed = guard_->ChangedContent();
  if (changed.empty()) return "";
  for (const Chunk& chunk : done_by_this_run_) {
    JournalRecord r;
    r.type = "failed";
    r.time = WallSeconds();
    r.chunk = chunk.index;
    r.attempt = 1;
    r.final = true;
    r.kind = "input-changed";
    r.reason = changed + " (found when the run ended); this chunk's result cannot be trusted";
    ledger_.RecordFailed(r, hosts_.host);  // found by the driver, not by a worker
  }
  journal_.Sync();
  return fmt::format(
      "{}, found when the run ended without a write the run could see (a write through a shared "
      "mapping?): the {} chunks this run computed are recorded failed. Once the input holds the "
      "bytes the sweep should use, `sweep resume {}` (with --force for new bytes) computes them "
      "again",
      changed, done_by_this_run_.size(), output_path_);
}

ProgressSnapshot RunRecorder::Snapshot() {
  snapshot_.elapsed_seconds = SteadySeconds() - start_;
  return snapshot_;
}

}  // namespace sweep
