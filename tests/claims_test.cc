// The README's promises about resume, rerun, live reads, faults and scale, each checked the way a
// user meets it, so that the test fails if the promise is false (not only when the bytes differ
// from a clean run's: a resume that recomputed everything would give those bytes too).
#include <gtest/gtest.h>
#include <linux/kcmp.h>
#include <pty.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "io/clock.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// The chunks journaled done by the last run (after the last `started` record), in order.
std::vector<uint64_t> DoneByLastRun(const std::string& journal) {
  std::vector<uint64_t> done;
  for (const JournalRecord& r : JournalRecords(journal, "")) {
    if (r.type == "started") done.clear();
    if (r.type == "done") done.push_back(r.chunk);
  }
  return done;
}

std::set<uint64_t> AsSet(const std::vector<uint64_t>& v) { return {v.begin(), v.end()}; }

void WaitForDone(const TempDir& dir, size_t n) {
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", n))
      << "fewer than " << n << " chunks done after " << kPatienceSeconds << " s";
}

// "recomputes only what is missing": the resume journals done exactly the chunks the killed run
// had not, each once.
TEST(ClaimsTest, AResumeComputesExactlyTheChunksThatWereNotDone) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 120, 2, 30);  // 60 chunks, held from 15
  {
    SweepProcess run({"run", config, "-q"}, dir.path());
    WaitForDone(dir, 12);
    run.Signal(SIGKILL);
    run.Wait();
  }
  gate.Open();
  const std::set<uint64_t> done_before = AsSet(DoneByLastRun(dir / "out.h5.journal"));
  ASSERT_GE(done_before.size(), 12u);
  ASSERT_LT(done_before.size(), 60u);
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const std::vector<uint64_t> by_resume = DoneByLastRun(dir / "out.h5.journal");
  std::set<uint64_t> expected;
  for (uint64_t c = 0; c < 60; ++c)
    if (!done_before.count(c)) expected.insert(c);
  EXPECT_EQ(AsSet(by_resume), expected);
  EXPECT_EQ(by_resume.size(), expected.size()) << "a chunk was computed twice";
  // A resume of the finished sweep computes nothing.
  ASSERT_EQ(RunSweep({"resume", "out.h5", "-q"}, dir.path()).code, 0);
  EXPECT_TRUE(DoneByLastRun(dir / "out.h5.journal").empty());
}

// "rerun recomputes exactly those": --chunks, --points (their chunks) and --failed.
TEST(ClaimsTest, ARerunComputesExactlyTheChosenChunks) {
  TempDir dir;
  const std::string config = HeldConfig(dir, Gate(dir.path()), 40, 4, -1);  // 10 chunks
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  ASSERT_EQ(RunSweep({"rerun", "out.h5", "--chunks", "0,2-4", "-q"}, dir.path()).code, 0);
  EXPECT_EQ(DoneByLastRun(dir / "out.h5.journal").size(), 4u);
  EXPECT_EQ(AsSet(DoneByLastRun(dir / "out.h5.journal")), (std::set<uint64_t>{0, 2, 3, 4}));
  ASSERT_EQ(RunSweep({"rerun", "out.h5", "--points", "5,39", "-q"}, dir.path()).code, 0);
  EXPECT_EQ(AsSet(DoneByLastRun(dir / "out.h5.journal")), (std::set<uint64_t>{1, 9}));

  // --failed: exactly the failed chunks are tried again (and fail again: the fault is the
  // kernel's).
  TempDir faulty;
  WriteFile(faulty / "f.yaml",
            "name: f\nkernel: {name: faulty, options: {error_at: 7, segfault_at: 21}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\nparameters:\n  i: {range: [0, 40]}\n"
            "execution: {workers: 2, chunk_size: 4, retries: 0}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "f.yaml", "-q"}, faulty.path()).code, 3);
  ASSERT_EQ(RunSweep({"rerun", "out.h5", "--failed", "-q"}, faulty.path()).code, 3);
  std::set<uint64_t> tried;
  bool after_start = false;
  for (const JournalRecord& r : JournalRecords(faulty / "out.h5.journal", "")) {
    if (r.type == "started") after_start = r.command == "rerun";
    if (after_start && (r.type == "done" || r.type == "failed")) tried.insert(r.chunk);
  }
  EXPECT_EQ(tried, (std::set<uint64_t>{1, 5}));
}

// Whether `a` and `b` share one address space (kcmp): threads do, and so does the task that
// LeakSanitizer clones at exit to stop the world, which carries the driver's command line and
// environment; a worker, spawned or forked, never does.
bool ShareMemory(pid_t a, pid_t b) { return syscall(SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0; }

// The tagged processes of `run` that are processes of their own: neither the driver nor anything
// sharing its memory.
std::vector<pid_t> ProcessesBesideTheDriver(const SweepProcess& run) {
  std::vector<pid_t> others;
  for (pid_t p : run.Processes())
    if (p != run.pid() && !ShareMemory(p, run.pid())) others.push_back(p);
  return others;
}

// `--inline` computes in the driver's own process: the point held at the gate is held by the
// driver, and no other process runs, from start to end. The same rerun without it is seen holding
// its point in a worker, so the check can tell.
TEST(ClaimsTest, AnInlineRerunStartsNoWorkerProcess) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 24, 4, 8);  // 6 chunks, held from chunk 2
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  for (const bool inline_rerun : {true, false}) {
    SCOPED_TRACE(inline_rerun ? "--inline" : "with workers");
    gate.Close();
    std::vector<std::string> args = {"rerun", "out.h5", "--chunks", "0-5", "-q"};
    if (inline_rerun) args.push_back("--inline");
    SweepProcess run(args, dir.path());
    std::set<pid_t> others;  // every process of its own seen while the run was live
    ASSERT_TRUE(WaitUntil([&] {
      for (pid_t p : ProcessesBesideTheDriver(run)) others.insert(p);
      return !gate.Held().empty();
    })) << run.err();
    const pid_t holder = gate.Held().front().first;
    gate.Open();
    WaitUntil([&] {
      for (pid_t p : ProcessesBesideTheDriver(run)) others.insert(p);
      siginfo_t info{};
      return waitid(P_PID, id_t(run.pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
             info.si_pid != 0;
    });
    EXPECT_EQ(run.Wait(), 0) << run.err();
    EXPECT_EQ(DoneByLastRun(dir / "out.h5.journal").size(), 6u);
    if (inline_rerun) {
      EXPECT_EQ(holder, run.pid()) << "the point was computed by another process";
      EXPECT_TRUE(others.empty()) << "a process of its own beside the driver, pid "
                                  << *others.begin();
    } else {
      EXPECT_NE(holder, run.pid());
      EXPECT_EQ(others.count(holder), 1u) << "the worker holding the point was not seen";
    }
  }
}

// "readable live": read over and over while the run writes; every chunk marked done already
// holds its final values, and, once the filler has prepared the file, no chunk not marked done
// holds computed values, but those in flight (at most one a worker: their rows are written before
// they are reported).
TEST(ClaimsTest, EveryLiveReadSeesDoneChunksFinalAndOthersMissing) {
  TempDir dir;
  const Gate gate(dir.path());
  // 50 chunks, the second half held until the reader has read the file 5 times.
  const std::string config = HeldConfig(dir, gate, 200, 4, 100, "sleep_ms: 5");
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  gate.Close();
  SweepProcess run({"run", config, "-q"}, dir.path());
  WaitForDone(dir, 1);
  const std::string script = dir / "live.py";
  WriteFile(script,
            "import os, sys, time, h5py, numpy as np\n"
            "pid, out, clean, gate = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]\n"
            "final = h5py.File(clean, 'r')['y'][...]\n"
            "reads, prepared, start = 0, False, time.time()\n"
            "def alive():\n"
            "    try:\n"
            "        return open(f'/proc/{pid}/stat').read().split(')')[1].split()[0] != 'Z'\n"
            "    except FileNotFoundError:\n"
            "        return False\n"
            "while alive():\n"
            "    f = h5py.File(out, 'r')\n"
            "    status = f['chunks/status'][...]\n"
            "    first, count = f['chunks/first'][...], f['chunks/count'][...]\n"
            "    s = f['y'][...]\n"
            "    s[s == f['y'].attrs['_FillValue']] = np.nan  # the README's h5py reading\n"
            "    f.close()\n"
            "    in_flight = 0\n"
            "    for c in range(status.size):\n"
            "        rows = slice(first[c], first[c] + count[c])\n"
            "        if status[c] == 1:\n"
            "            assert (s[rows] == final[rows]).all(), f'chunk {c} done but not final'\n"
            "        elif not np.isnan(s[rows]).all():\n"
            "            in_flight += 1\n"
            "    # Pending rows read as zeros (holes) until the driver's filler has made them\n"
            "    # missing, within seconds (driver/output_filler.h): from then on, always.\n"
            "    if not prepared and in_flight > 2:\n"
            "        assert time.time() < start + 120, 'pending rows never read as missing'\n"
            "        continue\n"
            "    prepared = True\n"
            "    assert in_flight <= 2, f'{in_flight} chunks not done hold values'\n"
            "    reads += 1\n"
            "    if reads == 5:\n"
            "        open(gate, 'w').close()  # the rest of the run computes while we read\n"
            "print(reads)\n");
  const std::string reads_file = dir / "reads.txt";
  ASSERT_EQ(
      Shell(std::string(kPython) + " " + script + " " + std::to_string(run.pid()) + " " +
            dir / "out.h5" + " " + dir / "clean.h5" + " " + dir / "gate-open" + " > " + reads_file),
      0);
  EXPECT_EQ(run.Wait(), 0) << run.err();
  // The gate opened at the fifth read: at least five were made while the run was live.
  EXPECT_GE(std::stoi(ReadFile(reads_file)), 5);
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "clean.h5"));
}

// "A worker killed from outside fails only its chunk, is replaced, the others go on": a real
// `kill -9` of a real worker in the middle of its chunk.
TEST(ClaimsTest, AWorkerKilledFromOutsideFailsOnlyItsChunkWhichIsRetried) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 40, 4, 8);  // 10 chunks, held from chunk 2
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  gate.Close();
  SweepProcess run({"run", config, "-q"}, dir.path());
  // Both workers in the middle of a chunk: the first holder is killed there.
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  const pid_t worker = gate.Held().front().first;
  ASSERT_NE(worker, run.pid());
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  gate.Open();
  ASSERT_EQ(run.Wait(), 0) << run.err();

  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].kind, "killed");
  EXPECT_FALSE(failed[0].final);
  std::map<uint64_t, int> done;
  for (const JournalRecord& r : JournalRecords(dir / "out.h5.journal", "done")) ++done[r.chunk];
  EXPECT_EQ(done.size(), 10u);
  for (const auto& [chunk, times] : done) EXPECT_EQ(times, 1) << "chunk " << chunk;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "clean.h5"));
}

// `status --json` of a live run: its throughput is what the journal shows, and its ETA follows.
TEST(ClaimsTest, StatusOfALiveRunGivesItsThroughputAndAnEta) {
  TempDir dir;
  const Gate gate(dir.path());
  // 100 chunks, held from chunk 20: status is read while nothing moves, so the journal's rate
  // over the instants before and after it bounds what it may say.
  const std::string config = HeldConfig(dir, gate, 400, 4, 80);
  SweepProcess run({"run", config, "-q"}, dir.path());
  WaitForDone(dir, 20);
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  const double before = WallSeconds();
  const nlohmann::json status = StatusJson(dir);
  const double after = WallSeconds();
  const std::vector<JournalRecord> records = JournalRecords(dir / "out.h5.journal", "");
  ASSERT_TRUE(status["live"].get<bool>()) << status.dump();
  ASSERT_EQ(JournalRecords(dir / "out.h5.journal", "done").size(), 20u);
  const double started = records.front().time;
  const double rate = status["points_per_second"].get<double>();
  EXPECT_GE(rate, 0.999 * 80.0 / (after - started)) << status.dump();
  EXPECT_LE(rate, 1.001 * 80.0 / (before - started)) << status.dump();
  ASSERT_TRUE(status["eta_seconds"].is_number()) << status.dump();
  EXPECT_EQ(status["points_done"].get<double>(), 80.0);
  const double left = 400.0 - 80.0;
  EXPECT_NEAR(status["eta_seconds"].get<double>(), left / rate, 0.01 * left / rate + 0.01);
  gate.Open();
  EXPECT_EQ(run.Wait(), 0) << run.err();
}

// The README speaks of many workers: 16 on this 2-core machine compute at once (each holds a
// point at the gate at the same time), and give the bytes of 1.
TEST(ClaimsTest, SixteenWorkersOnTwoCoresGiveTheBytesOfOne) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 128, 4, 0);  // 32 chunks, every point held
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "-j", "1", "-o", "one.h5"}, dir.path()).code, 0);
  gate.Close();
  SweepProcess many({"run", config, "-q", "-j", "16"}, dir.path());
  ASSERT_TRUE(WaitUntil([&] {
    std::set<pid_t> holders;
    for (const auto& [pid, point] : gate.Held()) holders.insert(pid);
    return holders.size() == 16;
  })) << gate.Held().size()
      << " points held; " << many.err();
  gate.Open();
  ASSERT_EQ(many.Wait(), 0) << many.err();
  const std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].workers, 16);
  std::set<int> workers;
  for (const JournalRecord& r : JournalRecords(dir / "out.h5.journal", "done"))
    workers.insert(r.worker);
  EXPECT_EQ(workers.size(), 16u);
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "one.h5"));
}

// "resume refuses when the kernel changed": a plugin rebuilt after the run.
TEST(ClaimsTest, AResumeRefusesARebuiltPluginNamingIt) {
  TempDir dir;
  const std::string plugin = dir / "libosc.so";
  std::filesystem::copy_file(SWEEP_EXAMPLE_PLUGIN, plugin);
  WriteFile(dir / "osc.yaml",
            "name: osc\nkernel:\n  plugin: libosc.so\n  options: {omega0: 1.0, steps: 20, "
            "periods: 6, samples: 2}\nparameters:\n  omega: {linspace: [0.2, 2.0, 8]}\n"
            "  zeta: 0.1\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "osc.yaml", "-q"}, dir.path()).code, 0);
  ASSERT_EQ(RunSweep({"resume", "out.h5", "-q"}, dir.path()).code, 0);
  WriteFile(plugin, ReadFile(plugin) + "rebuilt");
  const RunResult refused = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("kernel.library_xxh3: now"), std::string::npos) << refused.err;
}

// The progress line on a real terminal: one line redrawn in place (carriage return, erase to the
// end), the points done never going back, ending at 100% with the summary below it.
TEST(ClaimsTest, OnATerminalProgressIsOneLineRedrawnInPlace) {
  TempDir dir;
  const Gate gate(dir.path());
  // Held halfway until the test has seen three frames, so it sees them on any machine.
  const std::string config = HeldConfig(dir, gate, 200, 4, 100);
  int master = -1;
  const pid_t pid = forkpty(&master, nullptr, nullptr, nullptr);
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (chdir(dir.path().c_str()) == 0)
      execl(SWEEP_BINARY, SWEEP_BINARY, "run", config.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string screen;
  char buffer[4096];
  bool opened = false;
  for (;;) {
    const ssize_t n = read(master, buffer, sizeof buffer);
    if (n <= 0) break;  // EIO once the child is gone
    screen.append(buffer, size_t(n));
    if (!opened && std::count(screen.begin(), screen.end(), '\r') >= 3) {
      gate.Open();
      opened = true;
    }
  }
  close(master);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << screen;

  const size_t summary = screen.find("done: 200 of 200 points");
  ASSERT_NE(summary, std::string::npos) << screen;
  std::string line = screen.substr(0, summary);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  EXPECT_EQ(line.find('\n'), std::string::npos) << "the progress took more than one line";
  std::vector<long> done;
  for (size_t at = line.find('\r'); at != std::string::npos; at = line.find('\r', at + 1)) {
    const std::string frame = line.substr(at + 1, line.find('\r', at + 1) - at - 1);
    if (frame.empty()) continue;
    EXPECT_NE(frame.find("\x1b[K"), std::string::npos) << "a frame not erased to its end";
    done.push_back(std::stol(frame));
  }
  ASSERT_GE(done.size(), 3u) << line;
  EXPECT_TRUE(std::is_sorted(done.begin(), done.end())) << line;
  EXPECT_EQ(done.back(), 200);
  EXPECT_NE(line.find("200/200 points (100.0%)"), std::string::npos) << line;
  EXPECT_NE(screen.find("results: " + (dir / "out.h5")), std::string::npos) << screen;
}

}  // namespace
}  // namespace sweep
