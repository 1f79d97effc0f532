// Shared test doubles and scoped temporary folders (STYLE.md practice 9).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "driver/worker_set.h"
#include "tests/temp_dir.h"

namespace sweep::testing {

// The scoped temporary folder of tests/temp_dir.h.
using sweep::TempDir;

// What a fake worker does with one chunk.
struct FakeChunkResult {
  enum class Kind { kDone, kKernelError, kCrash, kHang, kExternalKill };
  Kind kind = Kind::kDone;
  double seconds = 0.01;
  uint64_t point = 0;  // the failing point (kKernelError, kCrash, kExternalKill)
  int signal = SIGSEGV;
  std::string message = "kernel error";

  static FakeChunkResult Done(double seconds = 0.01) { return {Kind::kDone, seconds}; }
};

// A WorkerSet on a virtual clock: workers answer instantly (Ready at start), compute chunks in
// `seconds` of virtual time as `behaviour(chunk, attempt)` says, and time passes only in Next().
// The ranks in `remote` QueuesAhead, as an MPI rank's workers: an assignment sent while one is
// being computed is held and begun when it ends, and Reclaim() gives it back (kReturned) if it
// has not begun by then.
class FakeWorkerSet : public WorkerSet {
 public:
  using Behaviour = std::function<FakeChunkResult(uint64_t chunk, int attempt)>;

  FakeWorkerSet(int size, Behaviour behaviour) : workers_(size), behaviour_(std::move(behaviour)) {}

  double now = 0;
  std::vector<std::pair<int, Message>> sent;  // every message sent, with its rank
  int starts = 0;
  int kills = 0;
  bool fail_every_start = false;  // workers die before Ready
  std::optional<double> interrupt_at;
  // (when, seconds): from `when` on, the driver's next look comes `seconds` late, as after a
  // SIGSTOP and SIGCONT; workers went on meanwhile.
  std::optional<std::pair<double, double>> stall;
  std::set<int> remote;
  int reclaims = 0;

  std::function<double()> clock() {
    return [this] { return now; };
  }

  int size() const override { return int(workers_.size()); }
  void Start(int rank) override {
    Worker& w = workers_.at(rank);
    if (w.running) throw std::logic_error("Start of a running rank");
    w = Worker{};
    w.running = true;
    w.generation = ++generation_;
    ++starts;
    if (fail_every_start) {
      Exit(rank, now, W_EXITCODE(1, 0));
    } else {
      Push(rank, now, sweep::Message::Ready(1000 + rank));
    }
  }
  bool Running(int rank) const override { return workers_.at(rank).running; }
  bool Send(int rank, const Message& m) override {
    Worker& w = workers_.at(rank);
    if (!w.running || w.dying) return false;
    sent.push_back({rank, m});
    if (m.type == MessageType::kShutdown) {
      Exit(rank, now, 0);
      return true;
    }
    if (w.doomed) return true;  // held behind a run it dies in: dropped with it
    double t = std::max(now, w.busy_until);
    w.runs.push_back({m.chunk, m.count, t});
    for (uint64_t c = m.chunk; c < m.chunk + m.count; ++c) {
      const int attempt = ++attempts_[c];
      const FakeChunkResult r = behaviour_(c, attempt);
      t += r.seconds;
      Event e;
      e.time = t;
      e.rank = rank;
      e.generation = w.generation;
      e.point = r.point;
      switch (r.kind) {
        case FakeChunkResult::Kind::kDone:
          e.event.message = Message::Done(c, 1000 + c, r.seconds);
          break;
        case FakeChunkResult::Kind::kKernelError:
          e.event.message = Message::Failed(c, r.point, r.message);
          break;
        case FakeChunkResult::Kind::kCrash:
        case FakeChunkResult::Kind::kExternalKill: {
          const int sig = r.kind == FakeChunkResult::Kind::kCrash ? r.signal : SIGKILL;
          e.event.kind = WorkerEvent::Kind::kExited;
          e.event.wait_status = W_EXITCODE(0, sig);
          e.publishes_point = true;
          events_.push_back(e);
          w.busy_until = t;
          w.doomed = true;
          return true;  // nothing after a death
        }
        case FakeChunkResult::Kind::kHang:
          e.event.kind = WorkerEvent::Kind::kExited;  // never happens unless killed
          w.hung_point = r.point;
          w.busy_until = 1e300;
          return true;
      }
      e.event.kind = WorkerEvent::Kind::kMessage;
      e.event.rank = rank;
      events_.push_back(e);
    }
    w.busy_until = t;
    return true;
  }
  std::optional<WorkerEvent> Next(double timeout) override {
    if (stall && now >= stall->first) {
      // The driver was stopped (SIGSTOP) this long: it looks again with time gone by.
      now += stall->second;
      stall.reset();
    }
    if (interrupt_at && *interrupt_at <= now + std::max(timeout, 0.0)) {
      now = std::max(now, *interrupt_at);
      interrupt_at.reset();
      WorkerEvent e;
      e.kind = WorkerEvent::Kind::kInterrupt;
      e.signal = SIGINT;
      return e;
    }
    size_t best = events_.size();
    for (size_t i = 0; i < events_.size(); ++i) {
      if (workers_[events_[i].rank].generation != events_[i].generation) continue;
      if (best == events_.size() || events_[i].time < events_[best].time) best = i;
    }
    if (best == events_.size() || (timeout >= 0 && events_[best].time > now + timeout)) {
      if (timeout < 0) throw std::logic_error("FakeWorkerSet: Next() would wait forever");
      // A real driver asking again and again without waiting spins a CPU, and this fake's clock
      // would never move on: fail rather than hang.
      if (timeout <= 0 && ++empty_looks_ > 1000)
        throw std::logic_error("FakeWorkerSet: Next(0) again and again: the driver spins");
      if (timeout > 0) empty_looks_ = 0;
      now += timeout;
      return std::nullopt;
    }
    empty_looks_ = 0;
    Event e = events_[best];
    events_.erase(events_.begin() + long(best));
    now = std::max(now, e.time);
    Worker& w = workers_[e.rank];
    e.event.rank = e.rank;
    if (e.event.kind == WorkerEvent::Kind::kExited) {
      if (e.publishes_point) w.current_point = e.point;
      w.running = false;
      w.dying = false;
    }
    return e.event;
  }
  void Kill(int rank) override {
    Worker& w = workers_.at(rank);
    if (!w.running || w.dying) return;
    ++kills;
    if (w.hung_point) w.current_point = w.hung_point;
    w.dying = true;
    // Everything it would still have said is lost; what it said already (by now) is in its
    // socket and still arrives.
    const int generation = w.generation;
    events_.erase(
        std::remove_if(events_.begin(), events_.end(),
                       [&](const Event& e) { return e.generation == generation && e.time > now; }),
        events_.end());
    Exit(rank, now, W_EXITCODE(0, SIGKILL));
  }
  std::optional<uint64_t> CurrentPoint(int rank) const override {
    return workers_.at(rank).current_point;
  }
  std::string LogTail(int rank, size_t) const override {
    return "log of rank " + std::to_string(rank);
  }
  WorkerPlace Place(int rank) const override {
    return {"fakehost", workers_.at(rank).running ? 100 + rank : 0, 0};
  }
  bool QueuesAhead(int rank) const override { return remote.count(rank) > 0; }
  void Reclaim(int rank) override {
    ++reclaims;
    Worker& w = workers_.at(rank);
    if (!w.running || w.dying || w.runs.empty() || w.runs.back().start <= now) return;
    const Run run = w.runs.back();
    w.runs.pop_back();
    events_.erase(std::remove_if(events_.begin(), events_.end(),
                                 [&](const Event& e) {
                                   return e.generation == w.generation &&
                                          e.event.kind == WorkerEvent::Kind::kMessage &&
                                          e.event.message.chunk >= run.first &&
                                          e.event.message.chunk < run.first + run.count;
                                 }),
                  events_.end());
    for (uint64_t c = run.first; c < run.first + run.count; ++c) --attempts_[c];
    w.busy_until = run.start;
    Push(rank, now, sweep::Message::Returned(run.first, run.count));
  }

  int attempts(uint64_t chunk) const {
    auto it = attempts_.find(chunk);
    return it == attempts_.end() ? 0 : it->second;
  }

 private:
  struct Run {
    uint64_t first = 0, count = 0;
    double start = 0;  // when its first chunk begins
  };
  struct Worker {
    std::vector<Run> runs;  // every assignment sent to it, in order
    bool doomed = false;    // a death is scheduled
    bool running = false;
    bool dying = false;
    int generation = 0;
    double busy_until = 0;
    std::optional<uint64_t> current_point;
    std::optional<uint64_t> hung_point;
  };
  struct Event {
    double time = 0;
    int rank = 0;
    int generation = 0;
    uint64_t point = 0;
    bool publishes_point = false;
    WorkerEvent event;
  };
  void Push(int rank, double t, const sweep::Message& m) {
    Event e;
    e.time = t;
    e.rank = rank;
    e.generation = workers_[rank].generation;
    e.event.kind = WorkerEvent::Kind::kMessage;
    e.event.message = m;
    events_.push_back(e);
  }
  void Exit(int rank, double t, int status) {
    Event e;
    e.time = t;
    e.rank = rank;
    e.generation = workers_[rank].generation;
    e.event.kind = WorkerEvent::Kind::kExited;
    e.event.wait_status = status;
    events_.push_back(e);
  }

  std::vector<Worker> workers_;
  int empty_looks_ = 0;  // Next(0) calls in a row that found nothing
  Behaviour behaviour_;
  std::vector<Event> events_;
  std::map<uint64_t, int> attempts_;
  int generation_ = 0;
};

}  // namespace sweep::testing
