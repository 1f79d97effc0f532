// Tests of `execution.start: forkserver` (driver/zygote.h), end to end with the real binary: the
// kernel is initialised once, in the zygote, for every worker and every replacement; workers are
// the driver's children in their own groups and die with it; a kernel that does not load ends the
// run as under `spawn`; an interrupt while the zygote loads stops the run; a zygote that dies is
// replaced. The `faulty` kernel's trace_file says in which processes init() ran and which process
// computed each point. (That every start method gives the same bytes is tested with each kernel
// kind: RunTest, CommandKernel/*, Start/PersistentRun.*, Plugin/*, Mpi/MpiStartTest.*.)
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

struct Trace {
  std::vector<pid_t> inits;             // the processes init() ran in, in order
  std::map<int64_t, pid_t> point_pids;  // the process that last began each point
};

Trace ReadTrace(const std::string& path) {
  Trace trace;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    long pid = 0;
    std::string what;
    words >> pid >> what;
    if (what == "init") {
      trace.inits.push_back(pid_t(pid));
    } else {
      trace.point_pids[std::stoll(what)] = pid_t(pid);
    }
  }
  return trace;
}

// `faulty` over i in [0, points), tracing into dir/trace, with `options` and `execution` added.
std::string FaultyConfig(const TempDir& dir, int points, const std::string& options,
                         const std::string& execution) {
  WriteFile(dir / "f.yaml",
            "name: f\nseed: 4\nkernel: {name: faulty, options: {seeded: 1, trace_file: " +
                dir / "trace" + (options.empty() ? "" : ", " + options) +
                "}}\ninputs:\n  data: {generate: uniform, shape: [4], seed: 1}\n"
                "parameters:\n  i: {range: [0, " +
                std::to_string(points) + "]}\nexecution: {chunk_size: 1" + execution +
                "}\noutput: {path: out.h5}\n");
  return dir / "f.yaml";
}

std::string Stat(pid_t pid) { return ReadFile("/proc/" + std::to_string(pid) + "/stat"); }

// Field `n` (1-based, after the command) of /proc/<pid>/stat: 4 the parent, 5 the group.
long StatField(pid_t pid, int n) {
  const std::string stat = Stat(pid);
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= n; ++i) rest >> field;
  return std::stol(field);
}

std::string CommandLine(pid_t pid) {
  std::string cmdline = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return cmdline;
}

// Every worker, and the worker that replaces the one that crashed, start with the kernel the
// zygote initialised once; under spawn each initialises its own. Both give the same bytes.
TEST(ZygoteTest, TheKernelIsInitialisedOnceForEveryWorkerAndReplacement) {
  TempDir spawn_dir, dir;
  // One worker: which points it computes, and so when it crashes, does not depend on timing.
  const RunResult spawned = RunSweep(
      {"run", FaultyConfig(spawn_dir, 12, "segfault_at: 5", ", workers: 1, start: spawn"), "-q"},
      spawn_dir.path());
  ASSERT_EQ(spawned.code, 3) << spawned.err;
  const Trace spawn_trace = ReadTrace(spawn_dir / "trace");
  EXPECT_EQ(spawn_trace.inits.size(), 2u);  // the worker and its replacement

  const RunResult r = RunSweep(
      {"run", FaultyConfig(dir, 12, "segfault_at: 5", ", workers: 1, start: forkserver"), "-q"},
      dir.path());
  ASSERT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  const Trace trace = ReadTrace(dir / "trace");
  ASSERT_EQ(trace.inits.size(), 1u) << ReadFile(dir / "trace");
  std::set<pid_t> workers;
  for (const auto& [point, pid] : trace.point_pids) workers.insert(pid);
  EXPECT_EQ(workers.count(trace.inits[0]), 0u) << "the zygote computed a point";
  EXPECT_EQ(workers.size(), 2u) << ReadFile(dir / "trace");  // one, and its replacement
  EXPECT_NE(trace.point_pids.at(6), trace.point_pids.at(5));
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].point, 5u);
  EXPECT_NE(failed[0].reason.find("SIGSEGV"), std::string::npos) << failed[0].reason;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(spawn_dir / "out.h5"));
}

// While points are held: each worker is the driver's child, leads its own group, and the zygote
// is the driver's child too. A kill -9 of the driver takes them all.
TEST(ZygoteTest, WorkersAreTheDriversChildrenAndDieWithIt) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run(
      {"run", FaultyConfig(dir, 4, gate.Options(0), ", workers: 2, start: forkserver"), "-q"},
      dir.path());
  ASSERT_TRUE(gate.WaitHeld(2));
  for (const auto& [pid, point] : gate.Held()) {
    EXPECT_EQ(StatField(pid, 4), long(run.pid())) << "worker " << pid << " of point " << point;
    EXPECT_EQ(StatField(pid, 5), long(pid)) << "worker " << pid;
    const std::string cmdline = CommandLine(pid);
    EXPECT_EQ(cmdline.substr(cmdline.size() - 7), "worker ") << cmdline;
  }
  std::vector<pid_t> zygotes;
  for (pid_t pid : run.Processes()) {
    const std::string cmdline = CommandLine(pid);
    if (cmdline.size() >= 7 && cmdline.compare(cmdline.size() - 7, 7, "zygote ") == 0)
      zygotes.push_back(pid);
  }
  ASSERT_EQ(zygotes.size(), 1u);
  EXPECT_EQ(StatField(zygotes[0], 4), long(run.pid()));
  EXPECT_EQ(ReadTrace(dir / "trace").inits, std::vector<pid_t>{zygotes[0]});
  run.Signal(SIGKILL);
  EXPECT_EQ(run.Wait(), 128 + SIGKILL);
  EXPECT_TRUE(LeftoversAfter(run.tag(), 5.0).empty()) << "a worker or the zygote outlived it";
}

// A kernel whose init() fails in the zygote ends the run as a spawned worker's would: exit 1
// with the kernel's message, nothing computed.
TEST(ZygoteTest, AKernelThatDoesNotLoadEndsTheRunWithItsReason) {
  for (const std::string start : {"spawn", "forkserver"}) {
    TempDir dir;
    const RunResult r = RunSweep(
        {"run", FaultyConfig(dir, 4, "init_error: 1", ", workers: 2, start: " + start), "-q"},
        dir.path());
    EXPECT_EQ(r.code, 1) << start << ": " << r.err;
    EXPECT_NE(r.err.find("faulty: init fails, as init_error asks"), std::string::npos)
        << start << ": " << r.err;
    EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << start;
    EXPECT_TRUE(JournalRecords(dir / "out.h5.journal", "done").empty()) << start;
  }
}

// Workers asked for while the zygote still loads the kernel are forked once it is ready: the
// driver reads the zygote's word while it waits for its workers, not only as it starts one (a
// zygote slower than the driver's start left the run spinning on the unread word, for ever).
TEST(ZygoteTest, WorkersAskedForWhileTheZygoteLoadsStartOnceItIsReady) {
  TempDir dir;
  const RunResult r = RunSweep(
      {"run", FaultyConfig(dir, 4, "load_ms: 2000", ", workers: 2, start: forkserver"), "-q"},
      dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  const Trace trace = ReadTrace(dir / "trace");
  EXPECT_EQ(trace.inits.size(), 1u);
  EXPECT_EQ(trace.point_pids.size(), 4u);
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
}

// Ctrl-C while the zygote is still loading the kernel stops the run at once, journaled.
TEST(ZygoteTest, AnInterruptWhileTheZygoteLoadsStopsTheRun) {
  TempDir dir;
  SweepProcess run(
      {"run", FaultyConfig(dir, 4, "load_ms: 600000", ", workers: 2, start: forkserver"), "-q"},
      dir.path());
  ASSERT_TRUE(WaitUntil([&] {
    for (pid_t pid : run.Processes())
      if (CommandLine(pid).find("zygote") != std::string::npos) return true;
    return false;
  }));
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "started", 1));
  run.Signal(SIGINT);
  EXPECT_EQ(run.Wait(), 130) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag(), 5.0).empty());
  const std::vector<JournalRecord> stopped = JournalRecords(dir / "out.h5.journal", "stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].reason, "interrupted");
}

// A zygote killed during the run is replaced when a worker must start again: the replacement of a
// crashed worker comes from a new zygote, which initialised the kernel again.
TEST(ZygoteTest, AZygoteThatDiedIsReplaced) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run",
                    FaultyConfig(dir, 8, gate.Options(2) + ", segfault_at: 4",
                                 ", workers: 1, start: forkserver"),
                    "-q"},
                   dir.path());
  ASSERT_TRUE(gate.WaitHeld(1));
  const Trace before = ReadTrace(dir / "trace");
  ASSERT_EQ(before.inits.size(), 1u);
  ASSERT_EQ(kill(before.inits[0], SIGKILL), 0);
  gate.Open();
  EXPECT_EQ(run.Wait(), 3) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag(), 5.0).empty());
  const Trace after = ReadTrace(dir / "trace");
  ASSERT_EQ(after.inits.size(), 2u) << ReadFile(dir / "trace");
  EXPECT_NE(after.inits[1], after.inits[0]);
  EXPECT_NE(after.point_pids.at(5), after.point_pids.at(3));  // the replacement
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(y[i] == kMissingFloat64, i == 4) << i;  // 4 failed
}

TEST(ZygoteTest, ValidateAcceptsForkserverAndNamesTheChoices) {
  TempDir dir;
  RunResult r = RunSweep({"validate", FaultyConfig(dir, 2, "", ", start: forkserver")}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  r = RunSweep({"validate", FaultyConfig(dir, 2, "", ", start: forkserve")}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("execution.start: expected a start method (spawn | fork | forkserver), "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("did you mean `forkserver`?"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sweep
