// End-to-end tests of how the driver takes signals that users send by accident: the terminal
// closing (SIGHUP) and a reader that goes away (SIGPIPE, `sweep run ... | head`).
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::string SleepyConfig(const TempDir& dir, int points) {
  const std::string path = dir / "sleepy.yaml";
  WriteFile(path,
            "name: sleepy\nkernel: {name: faulty, options: {sleep_ms: 50}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, " +
                std::to_string(points) +
                "]}\nexecution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  return path;
}

// Closing the terminal stops the run like Ctrl-C: workers gone, stop journaled, exit 130, and a
// resume finishes it.
TEST(SignalTest, HangupStopsTheRunAndJournalsIt) {
  TempDir dir;
  const std::string config = SleepyConfig(dir, 60);
  SweepProcess run({"run", config, "-q"}, dir.path());
  for (int i = 0; i < 1000 && JournalRecords(dir / "out.h5.journal", "done").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  run.Signal(SIGHUP);
  EXPECT_EQ(run.Wait(), 130) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  EXPECT_NE(ReadFile(dir / "out.h5.journal").find("\"reason\":\"interrupted\""), std::string::npos);
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
}

// A reader that stops reading does not kill the run: the progress it cannot print is dropped.
TEST(SignalTest, AClosedPipeOnStdoutDoesNotStopTheRun) {
  TempDir dir;
  const std::string config = SleepyConfig(dir, 20);
  const std::string command = "cd " + dir.path() + " && set -o pipefail && " + SWEEP_BINARY +
                              " run " + config + " --json | true";
  const int status = std::system(("bash -c '" + command + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  const std::string journal = ReadFile(dir / "out.h5.journal");
  EXPECT_NE(journal.find("\"reason\":\"finished\""), std::string::npos) << journal;
  const RunResult status_json = RunSweep({"status", "out.h5", "--json"}, dir.path());
  EXPECT_NE(status_json.out.find("\"pending\": 0"), std::string::npos) << status_json.out;
}

}  // namespace
}  // namespace sweep
