#include "driver/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "io/error.h"
#include "tests/fakes.h"

namespace sweep {
namespace {

using testing::FakeChunkResult;
using testing::FakeWorkerSet;

// Records what the scheduler reports.
struct Recorder : SchedulerObserver {
  std::vector<std::pair<uint64_t, int>> done;  // (chunk, attempt)
  std::vector<ChunkFailure> failures;
  std::vector<double> failure_times;
  uint64_t points_done = 0;
  FakeWorkerSet* workers = nullptr;
  void ChunkDone(const Chunk& chunk, const DoneChunk& d) override {
    EXPECT_EQ(d.checksum, 1000 + chunk.index);
    done.push_back({chunk.index, d.attempt});
    points_done += chunk.count;
  }
  void ChunkFailed(const ChunkFailure& failure) override {
    failures.push_back(failure);
    failure_times.push_back(workers ? workers->now : 0);
  }
  uint64_t FinalFailures() const {
    uint64_t n = 0;
    for (const ChunkFailure& f : failures) n += f.final;
    return n;
  }
  std::set<uint64_t> DoneSet() const {
    std::set<uint64_t> s;
    for (auto& [c, a] : done) s.insert(c);
    return s;
  }
};

std::vector<uint64_t> Iota(uint64_t n) {
  std::vector<uint64_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

SchedulerOptions Options(FakeWorkerSet& fake) {
  SchedulerOptions o;
  o.clock = fake.clock();
  o.retry_backoff_seconds = 1.0;
  return o;
}

TEST(SchedulerTest, DynamicComputesEveryChunkExactlyOnce) {
  FakeWorkerSet fake(3, [](uint64_t c, int) { return FakeChunkResult::Done(0.01 * (c % 7 + 1)); });
  Plan plan(1000, 10);
  Recorder rec;
  Scheduler s(fake, plan, Iota(100), Options(fake), rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  EXPECT_EQ(rec.done.size(), 100u);
  EXPECT_EQ(rec.DoneSet().size(), 100u);
  EXPECT_TRUE(rec.failures.empty());
  EXPECT_EQ(rec.points_done, 1000u);
  EXPECT_EQ(s.pending(), 0u);
  for (uint64_t c = 0; c < 100; ++c) EXPECT_EQ(fake.attempts(c), 1);
  // Every worker was told to shut down and none was killed.
  EXPECT_EQ(fake.kills, 0);
  EXPECT_EQ(fake.starts, 3);
}

TEST(SchedulerTest, DynamicGivesTheNextChunkToTheFirstIdleWorker) {
  // Chunk 0 is slow: while rank 0 is on it, rank 1 must take all the others.
  FakeWorkerSet fake(2, [](uint64_t c, int) { return FakeChunkResult::Done(c == 0 ? 10.0 : 0.1); });
  Plan plan(10, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(10), Options(fake), rec);
  s.Run();
  int rank0_assignments = 0;
  for (auto& [rank, m] : fake.sent)
    if (rank == 0 && m.type == MessageType::kAssign) ++rank0_assignments;
  EXPECT_EQ(rank0_assignments, 1);
  EXPECT_NEAR(fake.now, 10.0, 1e-9);
}

// On every tick the observer learns what each rank does: its chunk, for how long, and where.
TEST(SchedulerTest, ActivityTellsEachRanksChunkAndItsTimeOnIt) {
  struct Watcher : Recorder {
    std::vector<std::pair<double, std::vector<RankActivity>>> seen;  // (time, activity)
    void Activity(const std::vector<RankActivity>& ranks) override {
      seen.push_back({workers->now, ranks});
    }
  };
  // Chunk 0 takes 10 s; rank 1 does the 9 others in 0.9 s, then idles.
  FakeWorkerSet fake(2, [](uint64_t c, int) { return FakeChunkResult::Done(c == 0 ? 10.0 : 0.1); });
  Plan plan(100, 10);
  Watcher watcher;
  watcher.workers = &fake;
  Scheduler s(fake, plan, Iota(10), Options(fake), watcher);
  s.Run();
  int checked = 0;
  for (const auto& [now, ranks] : watcher.seen) {
    ASSERT_EQ(ranks.size(), 2u);
    if (now < 0.1 || now >= 9.9) continue;
    EXPECT_EQ(ranks[0].state, RankActivity::State::kBusy) << now;
    EXPECT_EQ(ranks[0].chunk, std::optional<uint64_t>(0)) << now;
    EXPECT_NEAR(ranks[0].seconds_on_chunk, now, 1e-9);
    EXPECT_EQ(ranks[0].place.host, "fakehost");
    EXPECT_EQ(ranks[0].place.pid, 100);
    if (now < 0.85) {
      EXPECT_EQ(ranks[1].state, RankActivity::State::kBusy) << now;
      ASSERT_TRUE(ranks[1].chunk.has_value());
      // Chunk c of rank 1 was begun at 0.1 (c - 1).
      EXPECT_NEAR(ranks[1].seconds_on_chunk, now - 0.1 * double(*ranks[1].chunk - 1), 1e-9);
    } else if (now > 1.0) {
      EXPECT_EQ(ranks[1].state, RankActivity::State::kIdle) << now;
      EXPECT_FALSE(ranks[1].chunk.has_value());
    }
    ++checked;
  }
  EXPECT_GE(checked, 30);  // a tick every 0.25 s of the 10
}

TEST(SchedulerTest, StaticDealsChunksRoundRobin) {
  FakeWorkerSet fake(3, [](uint64_t c, int) { return FakeChunkResult::Done(c == 0 ? 10.0 : 0.1); });
  Plan plan(10, 1);
  Recorder rec;
  SchedulerOptions o = Options(fake);
  o.dynamic = false;
  Scheduler s(fake, plan, Iota(10), o, rec);
  s.Run();
  for (auto& [rank, m] : fake.sent) {
    if (m.type != MessageType::kAssign) continue;
    EXPECT_EQ(m.count, 1u);
    EXPECT_EQ(int(m.chunk % 3), rank) << "chunk " << m.chunk;
  }
  EXPECT_EQ(rec.DoneSet().size(), 10u);
}

// Static: a worker that dies after the others finished their lists is started again for what is
// left of its own, however few chunks that is (it waited for ever when no more were pending than
// workers were live: 2 chunks, 2 idle workers that may not take them).
TEST(SchedulerTest, StaticRestartsAWorkerThatDiedLastForItsOwnChunks) {
  FakeWorkerSet fake(3, [](uint64_t c, int attempt) {
    if (c == 6 && attempt == 1) {
      FakeChunkResult killed{FakeChunkResult::Kind::kExternalKill, 10.0};
      killed.point = 6;
      return killed;
    }
    return FakeChunkResult::Done(0.1);
  });
  fake.interrupt_at = 1000;  // a scheduler that never restarts it stops here, not never
  Plan plan(12, 1);
  Recorder rec;
  SchedulerOptions o = Options(fake);
  o.dynamic = false;
  Scheduler s(fake, plan, Iota(12), o, rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  EXPECT_EQ(rec.DoneSet().size(), 12u);
  EXPECT_EQ(fake.starts, 4);  // three, and worker 0 again
  for (auto& [rank, m] : fake.sent) {
    if (m.type == MessageType::kAssign) {
      EXPECT_EQ(int(m.chunk % 3), rank) << "chunk " << m.chunk;
    }
  }
}

TEST(SchedulerTest, BatchesCheapChunksOnceMeasuredButKeepsTheEndBalanced) {
  FakeWorkerSet fake(2, [](uint64_t, int) { return FakeChunkResult::Done(0.001); });
  Plan plan(1000, 1);
  Recorder rec;
  SchedulerOptions o = Options(fake);
  o.batch = true;
  o.target_assignment_seconds = 0.05;  // 50 chunks at 1 ms
  Scheduler s(fake, plan, Iota(1000), o, rec);
  s.Run();
  uint64_t largest = 0, last = 0;
  for (auto& [rank, m] : fake.sent) {
    if (m.type != MessageType::kAssign) continue;
    largest = std::max(largest, m.count);
    last = m.count;
  }
  EXPECT_EQ(largest, 50u);
  EXPECT_EQ(last, 1u);
  EXPECT_EQ(rec.DoneSet().size(), 1000u);
}

// Workers that QueuesAhead (an MPI rank's) get runs sized by time whatever the chunk size, and
// their next run while they compute the current one, so none waits on the scheduler between runs.
TEST(SchedulerTest, RemoteWorkersGetTheirNextRunWhileComputing) {
  FakeWorkerSet fake(2, [](uint64_t, int) { return FakeChunkResult::Done(0.001); });
  fake.remote = {0, 1};
  Plan plan(1000, 1);
  Recorder rec;
  SchedulerOptions o = Options(fake);
  o.target_assignment_seconds = 0.05;  // 50 chunks at 1 ms
  Scheduler s(fake, plan, Iota(1000), o, rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  uint64_t largest = 0, assignments = 0;
  for (auto& [rank, m] : fake.sent) {
    if (m.type != MessageType::kAssign) continue;
    largest = std::max(largest, m.count);
    ++assignments;
  }
  EXPECT_EQ(largest, 50u);
  EXPECT_EQ(rec.DoneSet().size(), 1000u);
  for (uint64_t c = 0; c < 1000; ++c) EXPECT_EQ(fake.attempts(c), 1) << c;
  // Never idle between runs: both computed from start to end, 1000 ms of work on 2 workers.
  EXPECT_NEAR(fake.now, 0.5, 0.002);
  EXPECT_EQ(fake.reclaims, 0);
  EXPECT_LT(assignments, 100u);
}

// A run queued behind a worker that is stuck on its chunk is taken back by a worker with nothing
// left to do: the stuck worker holds up only its own chunk.
TEST(SchedulerTest, AnIdleWorkerTakesBackARunQueuedBehindAStuckOne) {
  FakeWorkerSet fake(2,
                     [](uint64_t c, int) { return FakeChunkResult::Done(c == 0 ? 100.0 : 0.01); });
  fake.remote = {0, 1};
  Plan plan(20, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(20), Options(fake), rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  EXPECT_EQ(rec.DoneSet().size(), 20u);
  EXPECT_GE(fake.reclaims, 1);
  EXPECT_NEAR(fake.now, 100.0, 1e-9);
  for (uint64_t c = 0; c < 20; ++c) EXPECT_EQ(fake.attempts(c), 1) << c;
  std::set<uint64_t> by_rank0;
  for (auto& [rank, m] : fake.sent)
    if (rank == 0 && m.type == MessageType::kAssign) by_rank0.insert(m.chunk);
  // Rank 0 was sent chunk 0 and a run behind it, which it gave back unstarted.
  EXPECT_GE(by_rank0.size(), 2u);
  int done_by_rank0 = 0;
  for (auto& [chunk, attempt] : rec.done) done_by_rank0 += chunk == 0;
  EXPECT_EQ(done_by_rank0, 1);
}

// A remote worker that dies gives back its current run's rest and the run queued behind it.
TEST(SchedulerTest, ARemoteWorkersDeathReturnsItsQueuedRun) {
  FakeWorkerSet fake(2, [](uint64_t c, int attempt) {
    if (c == 1 && attempt == 1) {
      FakeChunkResult r;
      r.kind = FakeChunkResult::Kind::kExternalKill;
      r.point = 1;
      r.seconds = 1.0;
      return r;
    }
    return FakeChunkResult::Done(0.01);
  });
  fake.remote = {0, 1};
  Plan plan(30, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(30), Options(fake), rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  EXPECT_EQ(rec.DoneSet().size(), 30u);
  ASSERT_EQ(rec.failures.size(), 1u);
  EXPECT_FALSE(rec.failures[0].final);
}

TEST(SchedulerTest, KernelErrorIsRecordedOnceAndTheWorkerGoesOn) {
  FakeWorkerSet fake(1, [](uint64_t c, int) {
    if (c == 3) {
      FakeChunkResult r;
      r.kind = FakeChunkResult::Kind::kKernelError;
      r.point = 37;
      r.message = "negative rho";
      return r;
    }
    return FakeChunkResult::Done();
  });
  Plan plan(100, 10);
  Recorder rec;
  Scheduler s(fake, plan, Iota(10), Options(fake), rec);
  s.Run();
  ASSERT_EQ(rec.failures.size(), 1u);
  const ChunkFailure& f = rec.failures[0];
  EXPECT_EQ(f.chunk.index, 3u);
  EXPECT_EQ(f.point, std::optional<uint64_t>(37));
  EXPECT_EQ(f.kind, ChunkFailure::Kind::kKernelError);
  EXPECT_EQ(f.reason, "negative rho");
  EXPECT_TRUE(f.final);
  EXPECT_EQ(fake.attempts(3), 1);
  EXPECT_EQ(fake.starts, 1);
  EXPECT_EQ(rec.done.size(), 9u);
  EXPECT_EQ(rec.FinalFailures(), 1u);
}

TEST(SchedulerTest, CrashIsRecordedWithItsPointAndTheWorkerReplaced) {
  FakeWorkerSet fake(1, [](uint64_t c, int) {
    if (c == 2) {
      FakeChunkResult r;
      r.kind = FakeChunkResult::Kind::kCrash;
      r.signal = SIGSEGV;
      r.point = 25;
      return r;
    }
    return FakeChunkResult::Done(0.001);
  });
  Plan plan(100, 10);
  Recorder rec;
  SchedulerOptions o = Options(fake);
  o.batch = true;
  Scheduler s(fake, plan, Iota(10), o, rec);
  s.Run();
  ASSERT_EQ(rec.failures.size(), 1u);
  EXPECT_EQ(rec.failures[0].kind, ChunkFailure::Kind::kCrashed);
  EXPECT_EQ(rec.failures[0].point, std::optional<uint64_t>(25));
  EXPECT_NE(rec.failures[0].reason.find("SIGSEGV"), std::string::npos);
  EXPECT_EQ(rec.failures[0].log_tail, "log of rank 0");
  EXPECT_TRUE(rec.failures[0].final);
  EXPECT_EQ(fake.starts, 2);
  // The chunks of the crashed assignment after chunk 2 were handed out again and done.
  EXPECT_EQ(rec.DoneSet(), (std::set<uint64_t>{0, 1, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(SchedulerTest, TimeoutKillsRetriesWithBackoffThenRecords) {
  FakeWorkerSet fake(2, [](uint64_t c, int) {
    if (c == 5) {
      FakeChunkResult r;
      r.kind = FakeChunkResult::Kind::kHang;
      r.point = 55;
      return r;
    }
    return FakeChunkResult::Done(0.5);
  });
  Plan plan(100, 10);
  Recorder rec;
  rec.workers = &fake;
  SchedulerOptions o = Options(fake);
  o.timeout_seconds = 3;
  o.retries = 2;
  Scheduler s(fake, plan, Iota(10), o, rec);
  s.Run();
  ASSERT_EQ(rec.failures.size(), 3u);  // the first try and two retries
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rec.failures[i].kind, ChunkFailure::Kind::kTimeout);
    EXPECT_EQ(rec.failures[i].reason, "timeout after 3s");
    EXPECT_EQ(rec.failures[i].attempt, int(i) + 1);
    EXPECT_EQ(rec.failures[i].point, std::optional<uint64_t>(55));
    EXPECT_EQ(rec.failures[i].final, i == 2);
  }
  // The second retry waited at least twice the first's backoff (plus the timeout).
  EXPECT_GE(rec.failure_times[2] - rec.failure_times[1], 2.0 + 3.0 - 1e-9);
  EXPECT_GE(rec.failure_times[1] - rec.failure_times[0], 1.0 + 3.0 - 1e-9);
  EXPECT_EQ(fake.attempts(5), 3);
  EXPECT_EQ(rec.done.size(), 9u);
  EXPECT_EQ(fake.kills, 3);
}

// The backoff doubles from 0.5 s but never waits more than 30 s: a chunk that hangs with 12
// retries and a 100 ms timeout is given up after 211.5 s of backoff, not 2047.5 s. The reason
// shows the timeout's digits.
TEST(SchedulerTest, RetryBackoffDoublesUpToThirtySeconds) {
  FakeWorkerSet fake(1, [](uint64_t, int) {
    FakeChunkResult r;
    r.kind = FakeChunkResult::Kind::kHang;
    return r;
  });
  Plan plan(1, 1);
  Recorder rec;
  rec.workers = &fake;
  SchedulerOptions o = Options(fake);
  o.retry_backoff_seconds = 0.5;
  o.timeout_seconds = 0.1;
  o.retries = 12;
  Scheduler s(fake, plan, Iota(1), o, rec);
  s.Run();
  ASSERT_EQ(rec.failures.size(), 13u);
  EXPECT_EQ(rec.failures[0].reason, "timeout after 100ms");
  EXPECT_TRUE(rec.failures.back().final);
  for (size_t i = 1; i < rec.failures.size(); ++i) {
    // Failure i came the backoff of retry i, then the timeout, after failure i - 1.
    const double backoff = std::min(30.0, 0.5 * std::pow(2.0, double(i) - 1));
    const double gap = rec.failure_times[i] - rec.failure_times[i - 1];
    EXPECT_GE(gap, backoff + 0.1 - 1e-9) << "retry " << i;
    EXPECT_LT(gap, backoff + 0.1 + 0.5) << "retry " << i;
  }
  EXPECT_LT(rec.failure_times.back(), 211.5 + 13 * 0.1 + 13 * 0.5);
}

// A driver stopped (SIGSTOP) past its workers' deadlines, then continued, finds both their
// chunks finished while it slept; it kills the one whose Done it has not read yet, then reads
// it. That chunk is done, and the dying worker is given nothing: no later chunk is blamed for
// its death as "killed from outside (the OOM killer?)".
TEST(SchedulerTest, ADriverStoppedPastADeadlineBlamesNoChunkForTheKillItSent) {
  FakeWorkerSet fake(2, [](uint64_t c, int) { return FakeChunkResult::Done(c < 2 ? 1.5 : 0.1); });
  fake.stall = std::make_pair(0.5, 3.0);
  Plan plan(6, 1);
  Recorder rec;
  SchedulerOptions o = Options(fake);
  o.timeout_seconds = 1;
  Scheduler s(fake, plan, Iota(6), o, rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  for (const ChunkFailure& f : rec.failures)
    ADD_FAILURE() << "chunk " << f.chunk.index << " failed: " << f.reason;
  EXPECT_EQ(rec.DoneSet(), (std::set<uint64_t>{0, 1, 2, 3, 4, 5}));
  for (auto& [chunk, attempt] : rec.done) EXPECT_EQ(attempt, 1) << "chunk " << chunk;
  EXPECT_EQ(fake.kills, 1);
}

// A retry whose backoff ends while the only worker is busy waits for the worker: the driver
// sleeps in Next() meanwhile rather than asking again and again without waiting (the fake fails
// a driver that spins).
TEST(SchedulerTest, ARetryDueWhileEveryWorkerIsBusyWaitsWithoutSpinning) {
  FakeWorkerSet fake(1, [](uint64_t c, int attempt) {
    if (c == 1 && attempt == 1) {
      FakeChunkResult r;
      r.kind = FakeChunkResult::Kind::kExternalKill;
      return r;
    }
    return FakeChunkResult::Done(c == 2 ? 5.0 : 0.1);  // busy on chunk 2 past the backoff
  });
  Plan plan(4, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(4), Options(fake), rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
  EXPECT_EQ(rec.DoneSet(), (std::set<uint64_t>{0, 1, 2, 3}));
  ASSERT_EQ(rec.failures.size(), 1u);
  EXPECT_FALSE(rec.failures[0].final);
  EXPECT_EQ(fake.attempts(1), 2);
}

// A worker killed past its deadline after it said the ends of two chunks or more (the driver
// looked late: stopped, or busy with others) gives no protocol error, whatever the timing: its
// runs of chunks (batch, or queued ahead on a node) and the stop vary, and every run ends with
// each chunk recorded once, done or failed for good, and every chunk under the timeout done.
TEST(SchedulerTest, AWorkerKilledPastItsDeadlineAfterSayingChunkEndsIsNoProtocolError) {
  for (int workers : {1, 2, 3})
    for (double stall_at : {0.0, 0.05, 0.3, 0.55, 1.0, 1.7})
      for (double stall_for : {0.5, 1.2, 3.0, 10.0})
        for (double slow : {0.1, 0.4, 0.9})
          for (bool batch : {true, false})
            for (bool remote : {false, true}) {
              const std::string what = fmt::format(
                  "{} workers, stopped at {}s for {}s, slow chunks {}s{}{}", workers, stall_at,
                  stall_for, slow, batch ? ", batch" : "", remote ? ", rank 0 remote" : "");
              const auto seconds = [slow](uint64_t c) { return c % 5 == 3 ? slow : 0.01; };
              FakeWorkerSet fake(
                  workers, [&](uint64_t c, int) { return FakeChunkResult::Done(seconds(c)); });
              fake.stall = std::make_pair(stall_at, stall_for);
              if (remote) fake.remote = {0};
              Plan plan(200, 1);
              Recorder rec;
              SchedulerOptions o = Options(fake);
              o.timeout_seconds = 0.5;
              o.batch = batch;
              o.target_assignment_seconds = 0.1;
              Scheduler s(fake, plan, Iota(200), o, rec);
              try {
                EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished) << what;
              } catch (const Error& e) {
                ADD_FAILURE() << what << ": " << e.what();
                continue;
              }
              std::set<uint64_t> failed;
              for (const ChunkFailure& f : rec.failures)
                if (f.final) failed.insert(f.chunk.index);
              // Each chunk is recorded once: done, or failed for good. A slow chunk may be done,
              // when its worker said its end before the kill that its deadline sent.
              EXPECT_EQ(rec.done.size(), rec.DoneSet().size()) << what;
              for (uint64_t c = 0; c < 200; ++c) {
                EXPECT_NE(rec.DoneSet().count(c), failed.count(c)) << what << ": chunk " << c;
                if (seconds(c) < o.timeout_seconds) {
                  EXPECT_TRUE(rec.DoneSet().count(c)) << what << ": chunk " << c;
                }
              }
            }
}

TEST(SchedulerTest, ExternalKillIsTransientAndSucceedsOnRetry) {
  FakeWorkerSet fake(2, [](uint64_t c, int attempt) {
    if (c == 1 && attempt == 1) {
      FakeChunkResult r;
      r.kind = FakeChunkResult::Kind::kExternalKill;
      r.point = 4;
      return r;
    }
    return FakeChunkResult::Done();
  });
  Plan plan(12, 3);
  Recorder rec;
  Scheduler s(fake, plan, Iota(4), Options(fake), rec);
  s.Run();
  ASSERT_EQ(rec.failures.size(), 1u);
  EXPECT_EQ(rec.failures[0].kind, ChunkFailure::Kind::kKilled);
  EXPECT_FALSE(rec.failures[0].final);
  EXPECT_EQ(rec.FinalFailures(), 0u);
  EXPECT_EQ(rec.DoneSet().size(), 4u);
  for (auto& [chunk, attempt] : rec.done) EXPECT_EQ(attempt, chunk == 1 ? 2 : 1);
}

TEST(SchedulerTest, WorkersThatNeverStartEndTheRunWithAnError) {
  FakeWorkerSet fake(2, [](uint64_t, int) { return FakeChunkResult::Done(); });
  fake.fail_every_start = true;
  Plan plan(10, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(10), Options(fake), rec);
  try {
    s.Run();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("failed to start 3 times in a row"), std::string::npos)
        << e.what();
  }
}

TEST(SchedulerTest, InterruptKillsEveryWorkerAndLeavesChunksPending) {
  FakeWorkerSet fake(2, [](uint64_t, int) { return FakeChunkResult::Done(1.0); });
  fake.interrupt_at = 2.5;
  Plan plan(20, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(20), Options(fake), rec);
  EXPECT_EQ(s.Run(), Scheduler::Outcome::kInterrupted);
  EXPECT_EQ(rec.done.size(), 4u);
  EXPECT_TRUE(rec.failures.empty());
  EXPECT_EQ(s.pending(), 16u);
  EXPECT_EQ(fake.kills, 2);
  for (int r = 0; r < 2; ++r) EXPECT_FALSE(fake.Running(r));
}

FakeChunkResult KernelError(uint64_t point) {
  FakeChunkResult r;
  r.kind = FakeChunkResult::Kind::kKernelError;
  r.point = point;
  return r;
}

// After max_failures final failures no chunk is handed out: only those in flight finish, the
// rest stay pending, retries waiting for their backoff too.
TEST(SchedulerTest, MaxFailuresStopsHandingOutChunks) {
  for (const bool dynamic : {true, false}) {
    FakeWorkerSet fake(2, [](uint64_t c, int) {
      if (c == 1) {  // a transient failure that would be retried after its backoff
        FakeChunkResult r;
        r.kind = FakeChunkResult::Kind::kExternalKill;
        return r;
      }
      return KernelError(c);
    });
    Plan plan(100, 1);
    Recorder rec;
    SchedulerOptions o = Options(fake);
    o.dynamic = dynamic;
    o.max_failures = 3;
    o.retry_backoff_seconds = 100;
    Scheduler s(fake, plan, Iota(100), o, rec);
    EXPECT_EQ(s.Run(), Scheduler::Outcome::kStoppedAtMaxFailures);
    // The failure that reached the limit, and at most one more per other busy worker.
    EXPECT_GE(rec.FinalFailures(), 3u);
    EXPECT_LE(rec.FinalFailures(), 3u + 1u);
    EXPECT_EQ(s.pending(), 100u - rec.FinalFailures());
    // (A static schedule retries at once, so only the dynamic one has a retry waiting.)
    if (dynamic) {
      EXPECT_EQ(fake.attempts(1), 1) << "a retry was handed out after the limit";
    }
    uint64_t assigned = 0;
    for (const auto& [rank, m] : fake.sent) assigned += m.type == MessageType::kAssign;
    EXPECT_EQ(assigned, rec.failures.size());
    for (int r = 0; r < 2; ++r) EXPECT_FALSE(fake.Running(r));
    EXPECT_EQ(fake.kills, 0);
  }
  // Below the limit, or without one, the run finishes as always.
  for (const uint64_t max : {uint64_t{0}, uint64_t{11}}) {
    FakeWorkerSet fake(
        2, [](uint64_t c, int) { return c % 10 == 0 ? KernelError(c) : FakeChunkResult::Done(); });
    Plan plan(100, 1);
    Recorder rec;
    SchedulerOptions o = Options(fake);
    o.max_failures = max;
    Scheduler s(fake, plan, Iota(100), o, rec);
    EXPECT_EQ(s.Run(), Scheduler::Outcome::kFinished);
    EXPECT_EQ(rec.FinalFailures(), 10u);
    EXPECT_EQ(s.pending(), 0u);
  }
}

TEST(SchedulerTest, NeverStartsMoreWorkersThanChunks) {
  FakeWorkerSet fake(8, [](uint64_t, int) { return FakeChunkResult::Done(); });
  Plan plan(2, 1);
  Recorder rec;
  Scheduler s(fake, plan, Iota(2), Options(fake), rec);
  s.Run();
  EXPECT_EQ(fake.starts, 2);
}

TEST(SchedulerTest, DescribesWaitStatuses) {
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(3, 0)), "exit code 3");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGSEGV)), "SIGSEGV (Segmentation fault)");
}

}  // namespace
}  // namespace sweep
