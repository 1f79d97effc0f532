// Fault injection, end to end: one test per fault of a chunk (the `faulty` kernel), interrupts,
// a full disk. Each asserts the recorded outcome (state, point, parameters, reason), that no
// process is left behind, and that `sweep resume` afterwards gives /results equal to a clean run.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "driver/worker_log.h"
#include "io/output_file.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

constexpr int kPoints = 24;

// `armed` is a file: the faulty kernel misbehaves only while it exists.
std::string FaultyConfig(const TempDir& dir, const std::string& options,
                         const std::string& execution) {
  const std::string path = dir / "faulty.yaml";
  WriteFile(path, "name: faulty\nkernel:\n  name: faulty\n  options: {only_if_exists: " +
                      dir / "armed" + (options.empty() ? "" : ", " + options) +
                      "}\ninputs:\n  data: {generate: zeros, shape: [1024]}\n"
                      "parameters:\n  i: {range: [0, " +
                      std::to_string(kPoints) +
                      "]}\n  label: {values: [x]}\n"
                      "execution: {workers: 2, chunk_size: 4, " +
                      execution + "}\noutput: {path: out.h5}\n");
  return path;
}

struct Expected {
  std::string kind;
  std::string reason;  // a fragment
  int attempts = 1;
};

class FaultTest : public ::testing::Test {
 protected:
  // Runs with the fault armed at point 9 (chunk 2), checks the record, disarms, resumes.
  nlohmann::json RunFault(const std::string& options, const std::string& execution,
                          const Expected& expected, int expected_code = 3) {
    WriteFile(dir_ / "armed", "");
    const std::string config = FaultyConfig(dir_, options, execution);
    const RunResult r = RunSweep({"run", config, "-q"}, dir_.path());
    EXPECT_EQ(r.code, expected_code) << r.err;
    EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << "processes left behind";
    const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir_.path());
    EXPECT_EQ(status.code, 0) << status.err;
    const nlohmann::json s = nlohmann::json::parse(status.out);
    if (expected_code == 3) {
      EXPECT_EQ(s["failed"], 1) << s.dump(2);
      EXPECT_EQ(s["done"].get<int>(), kPoints / 4 - 1);
      if (s["failures"].size() == 1) {
        const nlohmann::json& f = s["failures"][0];
        EXPECT_EQ(f["chunk"], 2);
        EXPECT_EQ(f["point"], 9);
        EXPECT_EQ(f["params"]["i"], 9);
        EXPECT_EQ(f["params"]["label"], "x");
        EXPECT_EQ(f["kind"], expected.kind);
        EXPECT_NE(f["reason"].get<std::string>().find(expected.reason), std::string::npos)
            << f.dump(2);
        EXPECT_EQ(f["attempt"], expected.attempts);
      }
      const std::vector<uint32_t> attempts =
          ReadDataset<uint32_t>(dir_ / "out.h5", "/chunks/attempts");
      EXPECT_EQ(attempts.at(2), uint32_t(expected.attempts));
    }
    // The user fixes the cause; resume computes only what is missing.
    std::filesystem::remove(dir_ / "armed");
    const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir_.path());
    EXPECT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_TRUE(LeftoversAfter(resumed.tag).empty());
    const std::vector<double> y = ReadDataset<double>(dir_ / "out.h5", "/y");
    EXPECT_EQ(y.size(), size_t(kPoints));
    for (int i = 0; i < int(y.size()); ++i) EXPECT_EQ(y[size_t(i)], double(i)) << "point " << i;
    return s;
  }
  TempDir dir_;
};

TEST_F(FaultTest, Segfault) {
  RunFault("segfault_at: 9", "retries: 2", {"crashed", "SIGSEGV (Segmentation fault)"});
}

TEST_F(FaultTest, Abort) { RunFault("abort_at: 9", "retries: 2", {"crashed", "SIGABRT"}); }

TEST_F(FaultTest, Exception) {
  RunFault("throw_at: 9", "retries: 2", {"kernel-error", "exception: faulty: thrown at i=9"});
}

TEST_F(FaultTest, KernelError) {
  RunFault("error_at: 9", "retries: 2", {"kernel-error", "faulty: error at i=9"});
}

TEST_F(FaultTest, NonZeroExitKeepsTheStderrTail) {
  const nlohmann::json s = RunFault("exit_at: 9", "retries: 2", {"exited", "exit code 3"});
  ASSERT_EQ(s["failures"].size(), 1u);
  EXPECT_NE(
      s["failures"][0]["stderr"].get<std::string>().find("faulty: exiting with code 3 at i=9"),
      std::string::npos);
}

TEST_F(FaultTest, TimeoutKillsTheGroupAndRetries) {
  RunFault("hang_at: 9", "retries: 1, timeout: 1s", {"timeout", "timeout after 1s", 2});
}

// Retries are bounded in time: a chunk that hangs on every attempt, with 12 retries and a
// timeout of 100 ms, is recorded failed (exit 3) once the backoff, doubling from 0.5 s up to
// 30 s, has run out: in about three and a half minutes, where an uncapped doubling waits 34.
TEST(RetryBackoffTest, AHangingChunkWithTwelveRetriesEndsInMinutes) {
  TempDir dir;
  WriteFile(dir / "hang.yaml",
            "name: hang\nkernel: {name: faulty, options: {hang_at: 0}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, 1]}\n"
            "execution: {workers: 1, retries: 12, timeout: 100ms}\noutput: {path: out.h5}\n");
  SweepProcess run({"run", "hang.yaml", "-q"}, dir.path());
  EXPECT_EQ(run.Wait(600), 3) << run.err();
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 13u) << run.err();
  EXPECT_EQ(failed[0].reason, "timeout after 100ms");
  EXPECT_TRUE(failed.back().final);
  // Each wait is at most the cap (plus the timeout and a worker's start); uncapped, the later
  // ones would be 64 s and more.
  for (size_t i = 1; i < failed.size(); ++i)
    EXPECT_LT(failed[i].time - failed[i - 1].time, 60.0) << "retry " << i;
  EXPECT_NE(run.err().find("timeout after 100ms"), std::string::npos) << run.err();
}

TEST_F(FaultTest, OutOfMemoryLimitCountsPrivateMemoryOnly) {
  // The shared input (64 MiB, read by every point of array_sum elsewhere) does not count; the
  // kernel's own allocations do.
  RunFault("oom_at: 9", "retries: 1, memory_limit: 256MiB", {"out-of-memory", "out of memory", 2});
}

TEST(MemoryLimitTest, SharedInputsDoNotCountAgainstTheLimit) {
  // Every point reads all of a 384 MiB input under a 128 MiB limit: its pages are shared, not
  // the worker's own, so nothing is killed.
  TempDir dir;
  const std::string config = dir / "sum.yaml";
  WriteFile(config,
            "name: sum\nkernel: {name: array_sum}\n"
            "inputs:\n  data: {generate: arange, shape: [50331648]}\n"
            "parameters:\n  scale: {linspace: [1, 4, 4]}\n"
            "execution: {workers: 2, chunk_size: 1, memory_limit: 128MiB, retries: 0}\n"
            "output: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  const std::vector<double> sums = ReadDataset<double>(dir / "out.h5", "/sum");
  ASSERT_EQ(sums.size(), 4u);
  EXPECT_EQ(sums[0], 50331648.0 * 50331647.0 / 2);  // exact in float64
}

TEST_F(FaultTest, WritingToTheInputFaultsAndLeavesItUnchanged) {
  // Points after the write still see data[0] == 0 (y == i is checked after resume, and for the
  // chunks computed by the other worker at the same time).
  RunFault("write_input_at: 9", "retries: 2", {"crashed", "SIGSEGV"});
}

// The bytes of every file in `folder`.
uint64_t BytesIn(const std::string& folder) {
  uint64_t bytes = 0;
  for (const auto& file : std::filesystem::directory_iterator(folder)) bytes += file.file_size();
  return bytes;
}

TEST_F(FaultTest, AFloodOfOutputBlocksNothing) {
  // 8 MiB to stdout and to stderr at one point: the driver copies both into the worker's log as
  // they come (more than a pipe holds), which keeps the last 8 MiB of them.
  RunFault("flood_at: 9", "retries: 0", {}, 0);
  EXPECT_GE(BytesIn(dir_ / "out.h5.logs"), kWorkerLogRotateBytes);
}

// 16 MiB of output at a point, run and then rerun three times: each worker's log keeps its last
// 8 to 16 MiB however many runs append to it (a plugin's debug output once filled 300 MiB in six
// points, 600 after a rerun), and a failure after the flood still shows its stderr's tail.
TEST(WorkerLogCapTest, LogsStayBoundedAcrossRerunsAndFailuresKeepTheirTail) {
  TempDir dir;
  WriteFile(dir / "flood.yaml",
            "name: flood\nkernel:\n  name: faulty\n  options: {flood_at: 9, exit_at: 10}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, 12]}\n"
            "execution: {workers: 1, chunk_size: 1, retries: 0}\noutput: {path: out.h5}\n");
  const RunResult run = RunSweep({"run", "flood.yaml", "-q"}, dir.path());
  EXPECT_EQ(run.code, 3) << run.err;
  for (int rerun = 0; rerun < 3; ++rerun) {
    const RunResult r = RunSweep({"rerun", "out.h5", "--points", "9", "-q"}, dir.path());
    EXPECT_EQ(r.code, 0) << r.err;
  }
  // 64 MiB printed by the one worker's rank.
  EXPECT_LE(BytesIn(dir / "out.h5.logs"), 2 * kWorkerLogRotateBytes);
  EXPECT_GE(BytesIn(dir / "out.h5.logs"), kWorkerLogRotateBytes);
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.logs/worker-0.log.1"));
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  ASSERT_EQ(status.code, 0) << status.err;
  const nlohmann::json s = nlohmann::json::parse(status.out);
  ASSERT_EQ(s["failures"].size(), 1u) << s.dump(2);
  EXPECT_NE(
      s["failures"][0]["stderr"].get<std::string>().find("faulty: exiting with code 3 at i=10"),
      std::string::npos)
      << s.dump(2);
}

TEST_F(FaultTest, ADaemonizedGrandchildIsNotLeftBehind) {
  // The kernel forks a child that leaves the worker's process group and session, then hangs:
  // the timeout kills the worker's group, and the escaped grandchild is reaped as an orphan.
  RunFault("fork_at: 9", "retries: 0, timeout: 1s", {"timeout", "timeout after 1s", 1});
}

TEST_F(FaultTest, SigtermStopsRecordsAndResumes) {
  WriteFile(dir_ / "armed", "");
  const Gate gate(dir_.path());
  const std::string config = FaultyConfig(dir_, gate.Options(8), "retries: 0");
  SweepProcess run({"run", config, "-q"}, dir_.path());
  ASSERT_TRUE(WaitForRecords(dir_ / "out.h5.journal", "done", 1)) << run.err();
  ASSERT_TRUE(gate.WaitHeld(1)) << run.err();
  run.Signal(SIGTERM);
  EXPECT_EQ(run.Wait(), 130) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  EXPECT_NE(ReadFile(dir_ / "out.h5.journal").find("\"reason\":\"interrupted\""),
            std::string::npos);
  std::filesystem::remove(dir_ / "armed");
  gate.Open();
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir_.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  const std::vector<double> y = ReadDataset<double>(dir_ / "out.h5", "/y");
  for (int i = 0; i < kPoints; ++i) EXPECT_EQ(y[size_t(i)], double(i));
}

// A small tmpfs: the output fits, then the disk fills up under the journal.
// An output deleted, or replaced by another file renamed over its name, while the run writes
// it: the run notices on its next tick (the path no longer names the file it writes), hands out
// no more chunks, journals why and exits 1 saying the results are not at the path, instead of
// a summary of work that went nowhere. The points held at the gate never finish.
class OutputGoneTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OutputGoneTest, TheRunStopsAndSaysTheResultsAreNotThere) {
  TempDir dir;
  const Gate gate(dir.path());
  WriteFile(dir / "held.yaml",
            "name: held\nkernel: {name: faulty, options: {" + gate.Options(4) +
                "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
                "parameters:\n  i: {range: [0, 40]}\n"
                "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  SweepProcess run({"run", "held.yaml"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  const std::string output = dir / "out.h5";
  if (GetParam() == "deleted") {
    std::filesystem::remove(output);
  } else {
    WriteFile(dir / "other.h5", "the user's own file");
    std::filesystem::rename(dir / "other.h5", output);
  }
  const bool stopped = WaitForRecords(output + ".journal", "stopped", 1);
  gate.Open();  // a run that did not notice finishes, and the checks below say what it did
  EXPECT_TRUE(stopped) << "the run went on without its output";
  EXPECT_EQ(run.Wait(), 1) << run.err();
  EXPECT_NE(run.err().find("sweep: " + output + ": the output was " + GetParam() +
                           " during the run; the results are not at this path"),
            std::string::npos)
      << run.err();
  EXPECT_EQ(run.out().find("results: "), std::string::npos) << run.out();
  const std::vector<JournalRecord> stop = JournalRecords(output + ".journal", "stopped");
  ASSERT_EQ(stop.size(), 1u);
  EXPECT_EQ(stop[0].reason, "error");
  EXPECT_NE(stop[0].message.find("the results are not at this path"), std::string::npos);
  EXPECT_LE(JournalRecords(output + ".journal", "done").size(), 4u);
  if (GetParam() == "replaced") {
    EXPECT_EQ(ReadFile(output), "the user's own file");
  }
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
}

INSTANTIATE_TEST_SUITE_P(Output, OutputGoneTest, ::testing::Values("deleted", "replaced"),
                         [](const auto& p) { return std::string(p.param); });

TEST(DiskFullTest, AFullDiskIsAClearErrorAndNothingIsRecordedDoneThatIsNot) {
  TempDir dir;
  const std::string mnt = dir / "small";
  std::filesystem::create_directory(mnt);
  if (mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
    // Only root may mount: as root (CI) a refusal is a failure, not a reason to skip.
    ASSERT_NE(geteuid(), 0u) << "cannot mount a tmpfs as root: " << std::strerror(errno);
    GTEST_SKIP() << "cannot mount a tmpfs (not root): run as root to test a full disk";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string config = dir / "fill.yaml";
  // 2000 points x 1 KiB = 2 MiB of results, plus the journal: a few hundred bytes a chunk.
  WriteFile(config,
            "name: fill\nkernel: {name: fill, options: {bytes: 1024}}\n"
            "parameters:\n  x: {range: [0, 2000]}\nexecution: {workers: 2, chunk_size: 1}\n"
            "output: {path: small/out.h5}\n");
  // Leave about 64 KiB free once the output exists: room for a few hundred journal records.
  const RunResult probe = RunSweep({"run", config, "-q"}, dir.path());
  ASSERT_EQ(probe.code, 0) << probe.err;
  const uint64_t output_bytes = std::filesystem::file_size(mnt + "/out.h5");
  std::filesystem::remove(mnt + "/out.h5");
  std::filesystem::remove(mnt + "/out.h5.journal");
  const uint64_t filler = (uint64_t{4} << 20) - output_bytes - (64 << 10) - (32 << 10);
  WriteFile(mnt + "/filler", std::string(filler, 'f'));

  const RunResult full = RunSweep({"run", config, "-q", "--force"}, dir.path());
  EXPECT_EQ(full.code, 1) << full.err;
  EXPECT_NE(full.err.find("No space left on device"), std::string::npos) << full.err;
  EXPECT_EQ(std::count(full.err.begin(), full.err.end(), '\n'), 1) << full.err;
  EXPECT_TRUE(LeftoversAfter(full.tag).empty());
  // Every chunk the file or the journal calls done has its rows.
  const std::vector<uint8_t> status = ReadDataset<uint8_t>(mnt + "/out.h5", "/chunks/status");
  const std::vector<double> rows = ReadDataset<double>(mnt + "/out.h5", "/row");
  ASSERT_EQ(rows.size(), 2000u * 128);
  size_t done = 0;
  for (size_t c = 0; c < status.size(); ++c) {
    if (status[c] != 1) continue;
    ++done;
    EXPECT_EQ(rows[c * 128], double(c)) << "chunk " << c << " marked done without its row";
  }
  EXPECT_GT(done, 0u);
  EXPECT_LT(done, 2000u);
  const RunResult status_run = RunSweep({"status", mnt + "/out.h5", "--json"}, dir.path());
  ASSERT_EQ(status_run.code, 0) << status_run.err;
  EXPECT_EQ(nlohmann::json::parse(status_run.out)["done"].get<size_t>(), done);
  // Free the space; resume finishes the sweep.
  std::filesystem::remove(mnt + "/filler");
  const RunResult resumed = RunSweep({"resume", mnt + "/out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const std::vector<double> after = ReadDataset<double>(mnt + "/out.h5", "/row");
  for (size_t p = 0; p < 2000; ++p) ASSERT_EQ(after[p * 128 + 127], double(p)) << p;
}

}  // namespace
}  // namespace sweep
