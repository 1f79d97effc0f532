// Tests of the test harness itself (tests/e2e.h), where a mistake would hide a failure: a run that
// hangs fails its test within the limit, with what each process was doing, and is killed; and
// process tags tell runs apart.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <string>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// A run whose one worker hangs at its first point, for ever (no timeout is set).
SweepProcess StartHungRun(const TempDir& dir) {
  WriteFile(dir / "h.yaml",
            "name: h\nkernel: {name: faulty, options: {hang_at: 0}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\nparameters:\n  i: {range: [0, 4]}\n"
            "execution: {workers: 1, chunk_size: 1}\noutput: {path: out.h5}\n");
  return SweepProcess({"run", "h.yaml", "-q"}, dir.path());
}

TEST(HarnessTest, AHungRunFailsItsTestWithEveryThreadsStackAndIsKilled) {
  TempDir dir;
  SweepProcess run = StartHungRun(dir);
  // The worker is started and hangs at its first point.
  ASSERT_TRUE(WaitUntil([&] { return run.Processes().size() >= 2; }));
  int code = 0;
  EXPECT_NONFATAL_FAILURE(code = run.Wait(1.0), "sweep still running after 1 s");
  EXPECT_EQ(code, 128 + SIGKILL);
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
}

TEST(HarnessTest, TheHangReportNamesEveryProcessAndThread) {
  TempDir dir;
  SweepProcess run = StartHungRun(dir);
  ASSERT_TRUE(WaitUntil([&] { return run.Processes().size() >= 2; }));
  const std::string report = run.HangReport();
  EXPECT_NE(report.find("sweep run h.yaml -q"), std::string::npos) << report;
  EXPECT_NE(report.find("-- thread " + std::to_string(run.pid())), std::string::npos) << report;
  size_t processes = 0;
  for (size_t at = report.find("== pid "); at != std::string::npos;
       at = report.find("== pid ", at + 1))
    ++processes;
  EXPECT_EQ(processes, run.Processes().size()) << report;
}

TEST(HarnessTest, EveryRunHasItsOwnTag) {
  TempDir dir;
  const RunResult a = RunSweep({"--version"}, dir.path());
  const RunResult b = RunSweep({"--version"}, dir.path());
  EXPECT_NE(a.tag, b.tag);
  // The pid of this test process starts the tag, but does not make all of it: a later test
  // process given the same pid gets other tags.
  EXPECT_EQ(a.tag.rfind(std::to_string(getpid()) + "-", 0), 0u);
  EXPECT_GT(a.tag.size(), std::to_string(getpid()).size() + 10);
}

}  // namespace
}  // namespace sweep
