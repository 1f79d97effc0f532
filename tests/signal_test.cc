// End-to-end tests of how the driver takes signals that users send by accident: the terminal
// closing (SIGHUP) and a reader that goes away (SIGPIPE, `sweep run ... | head`).
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// Closing the terminal stops the run like Ctrl-C: workers gone, stop journaled, exit 130, and a
// resume finishes it.
TEST(SignalTest, HangupStopsTheRunAndJournalsIt) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 60, 1, 10);
  SweepProcess run({"run", config, "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(1)) << run.err();
  run.Signal(SIGHUP);
  EXPECT_EQ(run.Wait(), 130) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  EXPECT_NE(ReadFile(dir / "out.h5.journal").find("\"reason\":\"interrupted\""), std::string::npos);
  gate.Open();
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
}

// A reader that stops reading does not kill the run: the progress it cannot print is dropped.
TEST(SignalTest, AClosedPipeOnStdoutDoesNotStopTheRun) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 20, 1, 4);
  // The reader takes one byte and goes; only then does the gate open, so the run writes the rest
  // of its progress into a pipe nobody reads, on any machine.
  const std::string command = "cd " + dir.path() + " && set -o pipefail && " + SWEEP_BINARY +
                              " run " + config + " --json | (head -c 1 > /dev/null; exec 0<&-; " +
                              "touch " + gate.file() + ")";
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
