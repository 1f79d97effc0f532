#include "driver/scheduler.h"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "io/clock.h"
#include "io/error.h"
#include "kernels/kernel.h"

namespace sweep {
namespace {

// A timeout as a config would write it, with the digits that show it: "100ms", "3s", "1.5s".
std::string TimeoutText(double seconds) {
  return seconds < 1 ? fmt::format("{:.4g}ms", seconds * 1000) : fmt::format("{:.4g}s", seconds);
}

}  // namespace

Scheduler::Scheduler(WorkerSet& workers, const Plan& plan, std::vector<uint64_t> todo,
                     SchedulerOptions options, SchedulerObserver& observer)
    : workers_(workers),
      plan_(plan),
      options_(std::move(options)),
      observer_(observer),
      ranks_(workers.size()) {
  if (!options_.clock) options_.clock = SteadySeconds;
  total_ = todo.size();
  if (options_.dynamic) {
    queue_.assign(todo.begin(), todo.end());
  } else {
    for (size_t i = 0; i < todo.size(); ++i) ranks_[i % ranks_.size()].own.push_back(todo[i]);
  }
  for (int r = 0; r < workers.size(); ++r) {
    queues_ahead_.push_back(workers.QueuesAhead(r));
    stopped_.insert(r);
  }
}

uint64_t Scheduler::pending() const { return total_ - chunks_done_ - chunks_failed_; }

std::vector<RankActivity> Scheduler::Activity() const {
  std::vector<RankActivity> activity(ranks_.size());
  for (size_t r = 0; r < ranks_.size(); ++r) {
    const Rank& rank = ranks_[r];
    RankActivity& a = activity[r];
    switch (rank.state) {
      case Rank::State::kStarting:
        a.state = RankActivity::State::kStarting;
        break;
      case Rank::State::kIdle:
        a.state = RankActivity::State::kIdle;
        break;
      case Rank::State::kBusy:
        a.state = RankActivity::State::kBusy;
        a.chunk = rank.next;
        a.point = workers_.CurrentPoint(int(r));
        // A point read before the worker moved on to this chunk (another rank's, relayed late).
        if (a.point && (*a.point < plan_.chunk(rank.next).first ||
                        *a.point >= plan_.chunk(rank.next).first + plan_.chunk(rank.next).count))
          a.point.reset();
        a.seconds_on_chunk = std::max(0.0, Now() - rank.began);
        break;
      case Rank::State::kStopped:
      case Rank::State::kStopping:
        break;
    }
    a.place = workers_.Place(int(r));
  }
  return activity;
}

void Scheduler::SetState(int r, Rank::State state) {
  Rank& rank = ranks_[r];
  const Rank::State was = rank.state;
  rank.state = state;
  if (was == Rank::State::kIdle) idle_.erase(r);
  if (state == Rank::State::kIdle) idle_.insert(r);
  if (was == Rank::State::kStopped) stopped_.erase(r);
  if (state == Rank::State::kStopped) stopped_.insert(r);
  busy_ += (state == Rank::State::kBusy) - (was == Rank::State::kBusy);
  live_ += (was == Rank::State::kStopped) - (state == Rank::State::kStopped);
  Refile(r);
}

void Scheduler::Refile(int r) {
  const Rank& rank = ranks_[r];
  const bool busy = rank.state == Rank::State::kBusy;
  if (busy && queues_ahead_[r] && rank.queued_count == 0) {
    ahead_.insert(r);
  } else {
    ahead_.erase(r);
  }
  if (busy && rank.queued_count > 0 && !rank.reclaiming) {
    queued_.insert(r);
  } else {
    queued_.erase(r);
  }
}

bool Scheduler::StoppedAtMaxFailures() const {
  return options_.max_failures > 0 && chunks_failed_ >= options_.max_failures;
}

bool Scheduler::DynamicWorkNow() const {
  if (!queue_.empty()) return true;
  const double now = Now();
  for (const auto& [when, chunk] : retry_at_)
    if (when <= now) return true;
  return false;
}

bool Scheduler::WorkRemains(int rank) const {
  if (StoppedAtMaxFailures()) return false;
  if (options_.dynamic) return !queue_.empty() || !retry_at_.empty();
  return !ranks_[rank].own.empty();
}

void Scheduler::StartRank(int rank) {
  Rank fresh;
  fresh.own = std::move(ranks_[rank].own);  // static: a replaced worker takes over its list
  fresh.state = ranks_[rank].state;
  ranks_[rank] = std::move(fresh);
  SetState(rank, Rank::State::kStarting);
  workers_.Start(rank);
}

// A stopped rank with work left (its worker died, or never had to start) is started again:
// dynamic, as long as fewer ranks live than chunks are pending; static, whenever its own list
// holds chunks, which no other rank takes.
void Scheduler::RestartStopped() {
  if (interrupted_ || stopped_.empty()) return;
  if (options_.dynamic && !WorkRemains(0)) return;
  const std::vector<int> stopped(stopped_.begin(), stopped_.end());
  for (int r : stopped) {
    if (options_.dynamic && live_ >= pending()) return;
    if (WorkRemains(r) && !workers_.Running(r)) StartRank(r);
  }
}

double Scheduler::NextDeadline() {
  while (!deadlines_.empty()) {
    const auto [when, r] = deadlines_.top();
    const Rank& rank = ranks_[r];
    if (rank.state == Rank::State::kBusy && rank.deadline == when && !rank.timed_out) return when;
    deadlines_.pop();  // the rank moved on since
  }
  return std::numeric_limits<double>::infinity();
}

Scheduler::Outcome Scheduler::Run() {
  for (int r = 0; r < workers_.size(); ++r) {
    if (WorkRemains(r) && uint64_t(r) < std::max<uint64_t>(total_, 1)) StartRank(r);
  }
  double next_tick = Now() + options_.tick_seconds;
  double flush_in = std::numeric_limits<double>::infinity();  // what the observer holds, by then
  while (!interrupted_ && ((pending() > 0 && !StoppedAtMaxFailures()) || busy_ > 0)) {
    double wait = std::min(next_tick, NextDeadline()) - Now();
    // A retry wakes the loop when its backoff ends only if a worker is idle to take it: one due
    // while every worker is busy would have Next() return at once, again and again, spinning
    // the driver's CPU until a worker is free (whose event wakes the loop anyway).
    if (!idle_.empty() && !StoppedAtMaxFailures()) {
      for (const auto& [when, chunk] : retry_at_) wait = std::min(wait, when - Now());
    }
    std::optional<WorkerEvent> event = workers_.Next(std::max(0.0, std::min(wait, flush_in)));
    if (event) Handle(*event);
    if (!workers_.EventsWaiting()) flush_in = observer_.Flush(false);
    CheckDeadlines();
    AssignIdle();
    if (Now() >= next_tick) {
      observer_.Activity(Activity());
      observer_.Tick();
      next_tick = Now() + options_.tick_seconds;
    }
    RestartStopped();
  }
  observer_.Flush(true);
  Shutdown();
  observer_.Tick();
  if (interrupted_) return Outcome::kInterrupted;
  return pending() > 0 ? Outcome::kStoppedAtMaxFailures : Outcome::kFinished;
}

namespace {

// A kernel error is deterministic unless its reason carries one of the two transient markers:
// out of memory (the protocol's) or out of time (the kernel ABI's, kernels/kernel.h).
ChunkFailure::Kind KindOfKernelError(const std::string& reason) {
  if (reason.rfind(kOutOfMemoryReason, 0) == 0) return ChunkFailure::Kind::kOutOfMemory;
  if (reason.rfind(SWEEP_TIMEOUT_PREFIX, 0) == 0) return ChunkFailure::Kind::kTimeout;
  return ChunkFailure::Kind::kKernelError;
}

}  // namespace

void Scheduler::Handle(const WorkerEvent& event) {
  switch (event.kind) {
    case WorkerEvent::Kind::kInterrupt:
      interrupted_ = true;
      for (int r = 0; r < workers_.size(); ++r) workers_.Kill(r);
      return;
    case WorkerEvent::Kind::kExited:
      HandleExit(event);
      return;
    case WorkerEvent::Kind::kMessage:
      break;
  }
  Rank& rank = ranks_[event.rank];
  const Message& m = event.message;
  if (rank.state == Rank::State::kStopping && rank.timed_out &&
      (m.type == MessageType::kDone || m.type == MessageType::kFailed ||
       m.type == MessageType::kReturned)) {
    // Dying after its deadline, with what it held given back (FinishAssignmentChunk): what it
    // said of those chunks meanwhile is moot; they are computed again.
    return;
  }
  switch (m.type) {
    case MessageType::kReady:
      start_failures_in_a_row_ = 0;
      if (rank.state == Rank::State::kStarting) SetState(event.rank, Rank::State::kIdle);
      return;
    case MessageType::kReturned:
      HandleReturned(event.rank, m);
      return;
    case MessageType::kFatal:
      rank.fatal = m.text;
      return;
    case MessageType::kDone: {
      if (rank.state != Rank::State::kBusy || m.chunk != rank.next) {
        throw Error("protocol: worker " + std::to_string(event.rank) + " reported chunk " +
                    std::to_string(m.chunk) + " while computing chunk " +
                    std::to_string(rank.next));
      }
      const Chunk chunk = plan_.chunk(m.chunk);
      const auto tries = attempts_.find(m.chunk);
      const int attempt = tries == attempts_.end() ? 1 : tries->second;
      attempts_.erase(m.chunk);
      ++chunks_done_;
      ++measured_chunks_;
      mean_chunk_seconds_ += (m.seconds - mean_chunk_seconds_) / double(measured_chunks_);
      observer_.ChunkDone(chunk, DoneChunk{m.checksum, m.seconds, m.start_time, m.max_rss,
                                           event.rank, attempt, m.reused});
      FinishAssignmentChunk(event.rank);
      return;
    }
    case MessageType::kFailed:
      if (rank.state != Rank::State::kBusy || m.chunk != rank.next) {
        throw Error("protocol: worker " + std::to_string(event.rank) + " failed chunk " +
                    std::to_string(m.chunk) + " while computing chunk " +
                    std::to_string(rank.next));
      }
      {
        FailureText text = SplitFailureText(m.text);
        const ChunkFailure::Kind kind = KindOfKernelError(text.reason);
        FailChunk(event.rank, m.chunk, kind, std::move(text.reason), m.point,
                  std::move(text.details));
      }
      FinishAssignmentChunk(event.rank);
      return;
    default:
      throw Error("protocol: unexpected message from worker " + std::to_string(event.rank));
  }
}

void Scheduler::FinishAssignmentChunk(int r) {
  Rank& rank = ranks_[r];
  ++rank.next;
  if (rank.timed_out) {
    // Its end was said before the kill that its deadline sent (the driver looked late: stopped,
    // or busy with another worker's event), and it is dying: it gets no more work, the rest of
    // its assignment and the run queued behind it go back, in order, and its exit is no failure
    // of a chunk it never began.
    std::vector<uint64_t> back;
    for (uint64_t c = rank.next; c < rank.first + rank.count; ++c) back.push_back(c);
    for (uint64_t c = rank.queued_first; c < rank.queued_first + rank.queued_count; ++c)
      back.push_back(c);
    if (rank.reclaiming) --reclaiming_;
    rank.reclaiming = false;
    rank.queued_count = 0;
    for (auto c = back.rbegin(); c != back.rend(); ++c) {
      if (options_.dynamic) {
        queue_.push_front(*c);
      } else {
        rank.own.push_front(*c);
      }
    }
    rank.deadline = 0;
    SetState(r, Rank::State::kStopping);
    return;
  }
  if (rank.next == rank.first + rank.count && rank.queued_count > 0) {
    // Its node started the queued run at once: a reclaim asked meanwhile came too late.
    if (rank.reclaiming) --reclaiming_;
    rank.reclaiming = false;
    rank.first = rank.next = rank.queued_first;
    rank.count = rank.queued_count;
    rank.queued_count = 0;
    Refile(r);
  }
  if (rank.next == rank.first + rank.count) {
    rank.deadline = 0;
    SetState(r, Rank::State::kIdle);
  } else {
    rank.began = Now();
    SetDeadline(r);
  }
}

void Scheduler::HandleReturned(int r, const Message& m) {
  Rank& rank = ranks_[r];
  if (rank.state != Rank::State::kBusy || !rank.reclaiming || m.chunk != rank.queued_first ||
      m.count != rank.queued_count) {
    throw Error("protocol: the node of worker " + std::to_string(r) + " gave back chunks " +
                std::to_string(m.chunk) + " +" + std::to_string(m.count) +
                ", which it did not hold");
  }
  --reclaiming_;
  rank.reclaiming = false;
  rank.queued_count = 0;
  Refile(r);
  for (uint64_t c = m.chunk + m.count; c-- > m.chunk;) {
    if (options_.dynamic) {
      queue_.push_front(c);
    } else {
      rank.own.push_front(c);
    }
  }
}

void Scheduler::SetDeadline(int r) {
  Rank& rank = ranks_[r];
  rank.deadline = options_.timeout_seconds > 0 ? Now() + options_.timeout_seconds : 0;
  if (rank.deadline > 0) deadlines_.push({rank.deadline, r});
}

void Scheduler::FailChunk(int r, uint64_t chunk_index, ChunkFailure::Kind kind, std::string reason,
                          std::optional<uint64_t> point, std::string log_tail) {
  ChunkFailure failure;
  failure.chunk = plan_.chunk(chunk_index);
  failure.point = point;
  failure.kind = kind;
  failure.reason = std::move(reason);
  failure.log_tail = std::move(log_tail);
  failure.rank = r;
  int& attempts = attempts_[chunk_index];
  if (attempts == 0) attempts = 1;
  failure.attempt = attempts;
  const bool retry = (failure.transient() || options_.retry_deterministic) &&
                     attempts <= options_.retries && !interrupted_;
  failure.final = !retry;
  if (retry) {
    const double backoff = std::min(options_.retry_backoff_max_seconds,
                                    options_.retry_backoff_seconds * std::pow(2.0, attempts - 1));
    ++attempts;
    if (options_.dynamic) {
      retry_at_.push_back({Now() + backoff, chunk_index});
    } else {
      ranks_[r].own.push_front(chunk_index);  // static: the rank retries it next
    }
  } else {
    attempts_.erase(chunk_index);
    ++chunks_failed_;
  }
  observer_.ChunkFailed(failure);
}

void Scheduler::HandleExit(const WorkerEvent& exit) {
  const int r = exit.rank;
  const int wait_status = exit.wait_status;
  Rank& rank = ranks_[r];
  const Rank::State was = rank.state;
  // Read the point before anything restarts this rank and clears its scoreboard slot.
  const std::optional<uint64_t> point = workers_.CurrentPoint(r);
  // Its node dropped the run it held queued (no kReturned follows an exit).
  const uint64_t queued_first = rank.queued_first, queued_count = rank.queued_count;
  if (rank.reclaiming) --reclaiming_;
  rank.reclaiming = false;
  rank.queued_count = 0;
  SetState(r, Rank::State::kStopped);
  if (was == Rank::State::kStarting) {
    if (interrupted_) return;
    if (++start_failures_in_a_row_ >= options_.max_start_failures) {
      std::string why = rank.fatal.empty() ? DescribeWaitStatus(wait_status) : rank.fatal;
      const std::string tail = workers_.LogTail(r, 1024);
      throw Error("worker " + std::to_string(r) + " failed to start " +
                  std::to_string(start_failures_in_a_row_) + " times in a row: " + why +
                  (tail.empty() || !rank.fatal.empty() ? "" : "; its log ends: " + tail));
    }
    return;  // Run() restarts it
  }
  if (was != Rank::State::kBusy || interrupted_) return;

  ChunkFailure::Kind kind;
  std::string reason = DescribeWaitStatus(wait_status);
  if (rank.timed_out) {
    kind = ChunkFailure::Kind::kTimeout;
    reason = "timeout after " + TimeoutText(options_.timeout_seconds);
  } else if (exit.exit_kind == WorkerEvent::ExitKind::kOutOfMemory) {
    kind = ChunkFailure::Kind::kOutOfMemory;
    reason = std::string(kOutOfMemoryReason) + ": over execution.memory_limit, killed";
  } else if (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL) {
    kind = ChunkFailure::Kind::kKilled;
    reason += ", killed from outside (the OOM killer?)";
  } else if (WIFSIGNALED(wait_status)) {
    kind = ChunkFailure::Kind::kCrashed;
  } else {
    kind = ChunkFailure::Kind::kExited;
  }
  if (!rank.fatal.empty()) reason += ": " + rank.fatal;
  const uint64_t failed = rank.next;
  FailChunk(r, failed, kind, reason, point, workers_.LogTail(r, 2048));
  // The rest of the assignment, and the run queued behind it, were never started: they go back
  // to be handed out again, in order.
  std::vector<uint64_t> back;
  for (uint64_t c = failed + 1; c < rank.first + rank.count; ++c) back.push_back(c);
  for (uint64_t c = queued_first; c < queued_first + queued_count; ++c) back.push_back(c);
  for (auto c = back.rbegin(); c != back.rend(); ++c) {
    if (options_.dynamic) {
      queue_.push_front(*c);
    } else {
      rank.own.push_front(*c);
    }
  }
}

void Scheduler::CheckDeadlines() {
  const double now = Now();
  while (NextDeadline() <= now) {
    const int r = deadlines_.top().second;
    deadlines_.pop();
    ranks_[r].timed_out = true;
    workers_.Kill(r);
  }
}

bool Scheduler::TakeWork(int r, uint64_t* first, uint64_t* count) {
  if (StoppedAtMaxFailures()) return false;
  if (!options_.dynamic) {
    std::deque<uint64_t>& own = ranks_[r].own;
    if (own.empty()) return false;
    *first = own.front();
    *count = 1;
    own.pop_front();
    return true;
  }
  const double now = Now();
  // Retries whose backoff has passed go first.
  for (auto it = retry_at_.begin(); it != retry_at_.end(); ++it) {
    if (it->first <= now) {
      *first = it->second;
      *count = 1;
      retry_at_.erase(it);
      return true;
    }
  }
  if (queue_.empty()) return false;
  uint64_t want = 1;
  if ((options_.batch || queues_ahead_[r]) && measured_chunks_ > 0 && mean_chunk_seconds_ > 0) {
    const double by_time = options_.target_assignment_seconds / mean_chunk_seconds_;
    const uint64_t balance = std::max<uint64_t>(1, queue_.size() / (2 * ranks_.size()));
    want = std::clamp<uint64_t>(uint64_t(by_time), 1, balance);
  }
  *first = queue_.front();
  *count = 1;
  queue_.pop_front();
  // Only consecutive chunks form one assignment.
  while (*count < want && !queue_.empty() && queue_.front() == *first + *count) {
    queue_.pop_front();
    ++*count;
  }
  return true;
}

void Scheduler::Begin(int r, uint64_t first, uint64_t count) {
  observer_.BeforeAssign(first, count);
  Rank& rank = ranks_[r];
  rank.first = first;
  rank.count = count;
  rank.next = first;
  rank.began = Now();
  rank.timed_out = false;
  SetDeadline(r);
  SetState(r, Rank::State::kBusy);
  // False when it is dying: its exit event re-queues the assignment.
  workers_.Send(r, Message::Assign(first, count));
}

void Scheduler::QueueBehind(int r, uint64_t first, uint64_t count) {
  observer_.BeforeAssign(first, count);
  Rank& rank = ranks_[r];
  rank.queued_first = first;
  rank.queued_count = count;
  Refile(r);
  workers_.Send(r, Message::Assign(first, count));
}

void Scheduler::AssignIdle() {
  if (interrupted_) return;
  if (StoppedAtMaxFailures()) {
    // Nothing more is handed out: the runs held on nodes and not begun yet come back.
    while (!queued_.empty()) {
      const int r = *queued_.begin();
      ranks_[r].reclaiming = true;
      ++reclaiming_;
      Refile(r);
      workers_.Reclaim(r);
    }
    return;
  }
  uint64_t first, count;
  if (!options_.dynamic) {
    for (const std::set<int>* ranks : {&idle_, &ahead_}) {
      const std::vector<int> listed(ranks->begin(), ranks->end());
      for (int r : listed) {
        if (!TakeWork(r, &first, &count)) continue;
        if (ranks == &idle_) {
          Begin(r, first, count);
        } else {
          QueueBehind(r, first, count);
        }
      }
    }
    return;
  }
  // Idle workers first, in rank order.
  while (!idle_.empty() && TakeWork(*idle_.begin(), &first, &count))
    Begin(*idle_.begin(), first, count);
  // Idle workers left with nothing pending take back runs queued behind busy workers.
  while (reclaiming_ < idle_.size() && !queued_.empty() && !DynamicWorkNow()) {
    const int r = *queued_.begin();
    ranks_[r].reclaiming = true;
    ++reclaiming_;
    Refile(r);
    workers_.Reclaim(r);
  }
  while (!ahead_.empty() && TakeWork(*ahead_.begin(), &first, &count))
    QueueBehind(*ahead_.begin(), first, count);
}

void Scheduler::Shutdown() {
  for (int r = 0; r < workers_.size(); ++r) {
    if (!workers_.Running(r)) continue;
    if (interrupted_ || !workers_.Send(r, Message::Shutdown())) workers_.Kill(r);
    SetState(r, Rank::State::kStopping);
  }
  // Wait for every exit; a worker that ignores Shutdown for 5 s is killed.
  const double give_up = Now() + 5.0;
  bool killed = false;
  auto any_running = [&] {
    for (int r = 0; r < workers_.size(); ++r)
      if (workers_.Running(r)) return true;
    return false;
  };
  while (any_running()) {
    std::optional<WorkerEvent> event = workers_.Next(killed ? 1.0 : std::max(0.0, give_up - Now()));
    if (event && event->kind == WorkerEvent::Kind::kInterrupt) {
      interrupted_ = true;
      killed = false;
    }
    if ((!event || interrupted_) && !killed) {
      for (int r = 0; r < workers_.size(); ++r) workers_.Kill(r);
      killed = true;
    }
  }
}

}  // namespace sweep
