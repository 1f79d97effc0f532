// ChunkHistory: the provenance of every chunk as /chunks and the journals tell it together, on a
// hand-made output and journals, so every rule of the fold is seen: hosts by journal and worker,
// the latest event winning, a failure reason kept past a retry, whole reasons, the runs.
#include "driver/chunk_history.h"

#include <gtest/gtest.h>

#include "tests/temp_dir.h"

namespace sweep {
namespace {

// 10 points in chunks of 3: chunks 0..2 hold 3 points, chunk 3 holds 1. One float64 output.
OutputLayoutSpec TenPoints() {
  OutputLayoutSpec spec;
  spec.config_text = "name: history\n";
  spec.kernel_name = "fake";
  spec.points = 10;
  spec.chunk_size = 3;
  spec.chunks = 4;
  spec.dimensions = {{"i", 10}};
  spec.variables = {{"i", 0, SWEEP_VALUE_INTEGER, [](uint64_t k) {
                       return sweep_value{SWEEP_VALUE_INTEGER, double(k), int64_t(k), nullptr};
                     }}};
  spec.outputs = {{"x", SWEEP_FLOAT64, 0, {}}};
  return spec;
}

JournalRecord Started(double time, const std::string& host, const std::string& command) {
  JournalRecord r;
  r.type = "started";
  r.time = time;
  r.command = command;
  r.workers = 4;
  r.hosts.host = host;
  return r;
}

JournalRecord Done(uint64_t chunk, double time, int worker) {
  JournalRecord r;
  r.type = "done";
  r.time = time;
  r.chunk = chunk;
  r.seconds = 0.5;
  r.start_time = time - 0.5;
  r.max_rss = uint64_t{100 + chunk} << 20;
  r.worker = worker;
  r.attempt = 1;
  return r;
}

JournalRecord Failed(uint64_t chunk, double time, int worker, bool final, std::string reason) {
  JournalRecord r;
  r.type = "failed";
  r.time = time;
  r.chunk = chunk;
  r.worker = worker;
  r.attempt = 1;
  r.final = final;
  r.kind = final ? "crashed" : "killed";
  r.reason = std::move(reason);
  r.point = 3 * chunk + 1;
  return r;
}

JournalRecord Stopped(double time) {
  JournalRecord r;
  r.type = "stopped";
  r.time = time;
  r.reason = "finished";
  return r;
}

class ChunkHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override { CreateOutputFile(path_, TenPoints()); }
  OutputFile Open() { return OutputFile::Open(path_, OutputFile::Access::kRead); }

  TempDir dir_;
  std::string path_ = dir_ / "out.h5";
};

TEST_F(ChunkHistoryTest, TheJournalsAloneGiveEachChunksProvenance) {
  const std::string long_reason = "exit code 3: " + std::string(400, 'x') + " the end";
  {
    Journal journal = Journal::Create(path_ + ".journal");
    JournalRecord started = Started(100, "node-0", "run");
    started.hosts.ranges = {{2, "node-1"}};  // an MPI run: workers 2 and 3 on node-1
    journal.Append(started);
    journal.Append(Done(0, 101, 3));
    journal.Append(Failed(1, 102, 1, /*final=*/false, "killed (SIGKILL)"));
    JournalRecord retried = Done(1, 103, 2);
    retried.attempt = 2;
    journal.Append(retried);
    journal.Append(Failed(2, 104, 0, /*final=*/true, long_reason));
    journal.Append(Stopped(105));
  }
  OutputFile file = Open();
  const ChunkHistory h = ChunkHistory::Read(file);
  EXPECT_EQ(h.ledger().status(0), ChunkStatus::kDone);
  EXPECT_EQ(h.host(0), "node-1");
  EXPECT_EQ(h.worker(0), 3);
  EXPECT_EQ(h.start_time(0), 100.5);
  EXPECT_EQ(h.seconds(0), 0.5);
  EXPECT_EQ(h.max_rss(0), uint64_t{100} << 20);
  EXPECT_EQ(h.attempts(0), 1u);
  EXPECT_EQ(h.failure(0), "");
  EXPECT_EQ(h.failure_point(0), std::nullopt);
  // Done on its second try: the first try's reason stays.
  EXPECT_EQ(h.ledger().status(1), ChunkStatus::kDone);
  EXPECT_EQ(h.attempts(1), 2u);
  EXPECT_EQ(h.host(1), "node-1");
  EXPECT_EQ(h.failure(1), "killed (SIGKILL)");
  EXPECT_EQ(h.failure_point(1), std::optional<uint64_t>(4));
  // Failed for good: where, and the whole reason (the /chunks table keeps 256 bytes of it).
  EXPECT_EQ(h.ledger().status(2), ChunkStatus::kFailed);
  EXPECT_EQ(h.host(2), "node-0");
  EXPECT_EQ(h.worker(2), 0);
  EXPECT_EQ(h.start_time(2), 0);
  EXPECT_EQ(h.failure(2), long_reason);
  // Never tried.
  EXPECT_EQ(h.ledger().status(3), ChunkStatus::kPending);
  EXPECT_EQ(h.host(3), "");
  EXPECT_EQ(h.worker(3), -1);
  EXPECT_EQ(h.attempts(3), 0u);
  ASSERT_EQ(h.runs().size(), 1u);
  EXPECT_EQ(h.runs()[0].command, "run");
  EXPECT_EQ(h.runs()[0].host, "node-0");
  EXPECT_EQ(h.runs()[0].start, 100);
  EXPECT_EQ(h.runs()[0].end, 105);
  EXPECT_EQ(h.runs()[0].stop_reason, "finished");
}

// What /chunks holds counts where no journal says otherwise, and the latest event of a chunk wins
// across journals: a shard's journal names its own host.
TEST_F(ChunkHistoryTest, ChunksRowsAndEveryJournalFoldInTimeOrder) {
  {
    OutputFile file = OutputFile::Open(path_, OutputFile::Access::kReadWrite);
    ChunkRow row{ChunkStatus::kDone, 1, 2.5, 0};
    row.host = file.HostRow("from-the-file");
    row.worker = 5;
    row.start_time = 50;
    row.max_rss = 4096;
    file.WriteChunkRow(0, row);
    file.WriteChunkRow(3, row);
    file.WriteChunkFailure(3, file.FailureReasonRow("an old failure"));
  }
  {
    Journal main_journal = Journal::Create(path_ + ".journal");
    main_journal.Append(Started(100, "main-host", "resume"));
    main_journal.Append(Done(1, 110, 0));
    main_journal.Append(Failed(2, 111, 1, /*final=*/true, "SIGSEGV"));
    // No stopped record: killed. Its run ends at its last record.
    Journal shard = Journal::Create(path_ + ".journal.shard-0-of-2");
    shard.Append(Started(105, "shard-host", "run --shard 0/2"));
    shard.Append(Done(2, 120, 1));  // later than the main journal's failure: it wins
    shard.Append(Stopped(121));
  }
  OutputFile file = Open();
  const ChunkHistory h = ChunkHistory::Read(file);
  EXPECT_EQ(h.host(0), "from-the-file");
  EXPECT_EQ(h.worker(0), 5);
  EXPECT_EQ(h.start_time(0), 50);
  EXPECT_EQ(h.max_rss(0), 4096u);
  EXPECT_EQ(h.seconds(0), 2.5);
  EXPECT_EQ(h.host(1), "main-host");
  EXPECT_EQ(h.ledger().status(2), ChunkStatus::kDone);
  EXPECT_EQ(h.host(2), "shard-host");
  EXPECT_EQ(h.failure(2), "SIGSEGV");
  EXPECT_EQ(h.failure(3), "an old failure");
  ASSERT_EQ(h.runs().size(), 2u);
  EXPECT_EQ(h.runs()[0].command, "resume");
  EXPECT_EQ(h.runs()[0].end, 111);
  EXPECT_EQ(h.runs()[0].stop_reason, "");
  EXPECT_EQ(h.runs()[1].command, "run --shard 0/2");
  EXPECT_EQ(h.runs()[1].host, "shard-host");
  EXPECT_EQ(h.runs()[1].end, 121);
}

}  // namespace
}  // namespace sweep
