// Scheduler: hands chunks to workers, notices their ends, retries and records failures.
//
// It knows workers only through WorkerSet (driver/worker_set.h) and reports through
// SchedulerObserver, so every rule below is unit-tested with a fake WorkerSet and a fake clock.
//
// Rules:
//   - dynamic: the first idle worker gets the next pending chunks. With `batch` (chunk_size:
//     auto), and always for a worker that QueuesAhead (WorkerSet: an MPI rank's), an assignment
//     is a run of consecutive chunks sized so it takes about `target_assignment_seconds` by the
//     mean chunk time measured so far (1 until a chunk is measured), and never more than
//     remaining / (2 * workers), so the end stays balanced.
//   - queued runs: a busy worker that QueuesAhead is also sent its next run while it computes
//     the current one (its node starts it the moment the current one ends, so it never waits on
//     this scheduler). A worker that goes idle when nothing is pending takes back such a queued
//     run that was not begun yet (WorkerSet::Reclaim), so a slow or stuck worker holds up no
//     more than its current run. A static schedule queues its next chunk ahead the same way but
//     never takes one back.
//   - static: chunk i of the to-do list goes to rank i % workers, one chunk an assignment, in
//     order, whatever the timing; a replaced worker takes over its rank's list.
//   - timeout (per chunk, 0 = none): a worker busy on one chunk longer is killed with its group;
//     the chunk fails with reason "timeout". If the worker had said the chunk's end before the
//     kill (the driver looked late: it was stopped, or busy), the chunk is done and the dying
//     worker gets nothing more; its death fails no chunk.
//   - a failure is "transient" when the worker was killed from outside (SIGKILL, most often the
//     OOM killer), ran out of memory_limit, or timed out; "deterministic" when the kernel reported
//     an error or the worker crashed by itself (SIGSEGV, SIGABRT, a non-zero exit...). Transient
//     failures are retried up to `retries` times, the n-th retry no sooner than
//     min(retry_backoff_seconds * 2^(n-1), retry_backoff_max_seconds) after the failure (so 12
//     retries wait minutes, not the 34 minutes of an uncapped doubling); deterministic ones are
//     recorded at once unless retry_deterministic. A chunk's attempts count every try. A retry
//     due while no worker is idle waits, the driver asleep, for the first worker to be free.
//   - a worker that dies is replaced while work remains. Workers that die before saying Ready
//     `max_start_failures` times in a row (a plugin that does not load, an input that does not
//     map) end the run with an Error carrying the last worker's reason and log tail.
//   - max_failures (0 = none): once that many chunks failed for good (after their retries), no
//     chunk is handed out any more, retries waiting for their backoff included; the chunks handed
//     out already finish (so up to one more failure per worker, or per chunk of the assignments
//     in flight), the rest stay pending, and Run() returns kStoppedAtMaxFailures.
//   - an interrupt kills every worker; chunks in flight stay pending; Run() returns kInterrupted.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "driver/plan.h"
#include "driver/worker_set.h"

namespace sweep {

struct SchedulerOptions {
  bool dynamic = true;
  bool batch = false;
  double target_assignment_seconds = 0.25;
  double timeout_seconds = 0;  // 0: none
  int retries = 2;
  bool retry_deterministic = false;
  double retry_backoff_seconds = 0.5;
  double retry_backoff_max_seconds = 30;
  int max_start_failures = 3;
  uint64_t max_failures = 0;   // 0: none
  double tick_seconds = 0.25;  // how often the observer's Tick() runs at least
  // Seconds on a monotonic clock; tests pass a fake.
  std::function<double()> clock;
};

struct ChunkFailure {
  enum class Kind { kKernelError, kCrashed, kExited, kKilled, kTimeout, kOutOfMemory };
  Chunk chunk;
  std::optional<uint64_t> point;  // the failing point, when known
  Kind kind = Kind::kCrashed;
  std::string reason;    // "SIGSEGV (Segmentation fault)", "timeout after 60s", the kernel's text
  std::string log_tail;  // the worker's stderr tail, for crashes
  int rank = -1;
  int attempt = 1;
  bool final = true;  // false when it will be retried
  bool transient() const {
    return kind == Kind::kKilled || kind == Kind::kTimeout || kind == Kind::kOutOfMemory;
  }
};

// What one rank is doing at an instant (Scheduler::Activity), for `sweep status`.
struct RankActivity {
  enum class State { kStopped, kStarting, kIdle, kBusy };
  State state = State::kStopped;
  std::optional<uint64_t> chunk;  // kBusy: the chunk it computes
  std::optional<uint64_t> point;  // kBusy: the point it is on, as its worker published it, when
                                  // that is a point of `chunk`
  double seconds_on_chunk = 0;    // kBusy: since the chunk was begun
  WorkerPlace place;
};

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  virtual void ChunkDone(const Chunk& chunk, const DoneChunk& done) = 0;
  virtual void ChunkFailed(const ChunkFailure& failure) = 0;  // final or to be retried
  // Chunks [first, first + count) are about to be handed to a worker (each hand-out, retries
  // included). THROWS: Error, which ends the run.
  virtual void BeforeAssign(uint64_t /*first*/, uint64_t /*count*/) {}
  // Right before each Tick(): what every rank is doing, by rank.
  virtual void Activity(const std::vector<RankActivity>& /*ranks*/) {}
  virtual void Tick() {}
  // The events taken so far are all that is ready now (WorkerSet::EventsWaiting() is false):
  // record what ChunkDone() deferred, in one batch, or hold it a little longer for more. Returns
  // the seconds until what is still held must be recorded (the scheduler waits no longer before
  // it asks again; infinity: nothing held). `all`: record everything now (Run() is ending).
  // THROWS: Error, which ends the run.
  virtual double Flush(bool /*all*/) { return std::numeric_limits<double>::infinity(); }
};

class Scheduler {
 public:
  enum class Outcome { kFinished, kInterrupted, kStoppedAtMaxFailures };

  // `todo`: the chunks to compute, in the order to hand them out.
  Scheduler(WorkerSet& workers, const Plan& plan, std::vector<uint64_t> todo,
            SchedulerOptions options, SchedulerObserver& observer);

  // Runs until every chunk is done or finally failed, max_failures, or an interrupt. Shuts
  // workers down.
  // THROWS: Error when workers keep failing to start.
  Outcome Run();

  uint64_t pending() const;  // chunks not yet done nor finally failed
  std::vector<RankActivity> Activity() const;

 private:
  struct Rank {
    enum class State { kStopped, kStarting, kIdle, kBusy, kStopping };
    State state = State::kStopped;
    uint64_t first = 0;  // current assignment: chunks [first, first + count)
    uint64_t count = 0;
    uint64_t next = 0;  // the chunk being computed
    // The run queued behind the current one (QueuesAhead): [queued_first, + queued_count);
    // queued_count 0: none. `reclaiming`: its node was asked to give it back.
    uint64_t queued_first = 0;
    uint64_t queued_count = 0;
    bool reclaiming = false;
    double began = 0;          // when `next` was begun (the clock's seconds)
    double deadline = 0;       // when `next` times out; 0: none
    bool timed_out = false;    // killed by us for a timeout
    std::deque<uint64_t> own;  // static schedule: this rank's chunks
    std::string fatal;         // the reason from a kFatal message
  };

  double Now() const { return options_.clock(); }
  void Handle(const WorkerEvent& event);
  void HandleExit(const WorkerEvent& exit);
  void HandleReturned(int rank, const Message& returned);
  void FailChunk(int rank, uint64_t chunk, ChunkFailure::Kind kind, std::string reason,
                 std::optional<uint64_t> point, std::string log_tail);
  void FinishAssignmentChunk(int rank);
  void AssignIdle();
  bool TakeWork(int rank, uint64_t* first, uint64_t* count);
  bool DynamicWorkNow() const;  // chunks queued, or a retry whose backoff has passed
  bool WorkRemains(int rank) const;
  bool StoppedAtMaxFailures() const;
  void StartRank(int rank);
  void RestartStopped();
  void Begin(int rank, uint64_t first, uint64_t count);
  void QueueBehind(int rank, uint64_t first, uint64_t count);
  void SetDeadline(int rank);
  void CheckDeadlines();
  double NextDeadline();
  // Moves a rank to `state`, keeping the index sets below in step; Refile() after any change of
  // its queued run.
  void SetState(int rank, Rank::State state);
  void Refile(int rank);
  void Shutdown();

  WorkerSet& workers_;
  const Plan& plan_;
  SchedulerOptions options_;
  SchedulerObserver& observer_;
  std::deque<uint64_t> queue_;                         // dynamic: pending chunks
  std::vector<std::pair<double, uint64_t>> retry_at_;  // (not before, chunk)
  std::unordered_map<uint64_t, int> attempts_;         // chunk -> attempts made so far (>= 1)
  std::vector<Rank> ranks_;
  std::vector<bool> queues_ahead_;  // by rank: WorkerSet::QueuesAhead
  // Indexes over ranks_, so each event costs O(log workers), not O(workers): thousands of
  // ranks' workers are one scheduler's under MPI.
  std::set<int> idle_;       // kIdle
  std::set<int> stopped_;    // kStopped
  std::set<int> ahead_;      // kBusy, QueuesAhead, nothing queued: may be sent its next run
  std::set<int> queued_;     // kBusy with a queued run not being reclaimed
  uint64_t busy_ = 0;        // ranks kBusy
  uint64_t live_ = 0;        // ranks not kStopped
  uint64_t reclaiming_ = 0;  // queued runs asked back, not yet returned or begun
  // (deadline, rank) of busy ranks; entries whose rank moved on since are skipped.
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, std::greater<>>
      deadlines_;
  uint64_t total_ = 0;
  uint64_t chunks_done_ = 0;
  uint64_t chunks_failed_ = 0;  // finally
  double mean_chunk_seconds_ = 0;
  uint64_t measured_chunks_ = 0;
  int start_failures_in_a_row_ = 0;
  bool interrupted_ = false;
};

}  // namespace sweep
