// End-to-end tests of the MPI backend (driver/mpi_run.h): `mpirun -np 3 sweep run --mpi` on this
// one machine, as three nodes would run it. Built only with SWEEP_MPI.
#if defined(SWEEP_HAVE_MPI)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <cmath>
#include <cstdlib>

#include <filesystem>
#include <set>
#include <thread>

#include "io/clock.h"
#include "io/journal.h"
#include "io/output_file.h"
#include "io/output_lock.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// Whether the `environ` text of a process (entries one a line) is MPI rank `rank`'s: Open MPI
// says OMPI_COMM_WORLD_RANK, MPICH PMI_RANK.
bool OfRank(const std::string& env, int rank) {
  for (const char* name : {"\nOMPI_COMM_WORLD_RANK=", "\nPMI_RANK="})
    if (env.find(name + std::to_string(rank) + "\n") != std::string::npos) return true;
  return false;
}

RunResult RunMpi(int ranks, const std::vector<std::string>& args, const std::string& dir) {
  return RunSweep(args, dir, Mpirun(ranks));
}

std::string IsingConfig(const TempDir& dir, int temperatures) {
  const std::string path = dir / "ising.yaml";
  WriteFile(path,
            "name: ising\nseed: 9\nkernel: {name: ising2d, options: {L: 16, sweeps: 300, "
            "burn_in: 50}}\nparameters:\n  T: {linspace: [1.5, 3.5, " +
                std::to_string(temperatures) + "]}\nrepeat: 2\noutput: {path: out.h5}\n");
  return path;
}

// `faulty` over `points` points, one a chunk, those from `hold_from` on held at `gate`: the job is
// live until the test opens it.
std::string HeldMpiConfig(const TempDir& dir, const Gate& gate, int points, int hold_from) {
  const std::string path = dir / "held.yaml";
  WriteFile(path, "name: held\nkernel: {name: faulty, options: {" + gate.Options(hold_from) +
                      "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
                      "parameters:\n  i: {range: [0, " +
                      std::to_string(points) +
                      "]}\nexecution: {chunk_size: 1, retries: 2}\noutput: {path: out.h5}\n");
  return path;
}

class MpiStartTest : public ::testing::TestWithParam<std::string> {};

// Three ranks with one worker each compute one sweep into one output, rank 0 writing every row:
// the results and parameters are the bytes of a plain run, and every rank's worker did chunks.
TEST_P(MpiStartTest, ThreeRanksGiveTheBytesOfAPlainRun) {
  TempDir dir;
  const std::string config = IsingConfig(dir, 300);
  const std::vector<std::string> start = {"--set", "execution.start=" + GetParam()};
  std::vector<std::string> plain = {"run", config, "-q", "-o", "plain.h5", "-j", "2"};
  plain.insert(plain.end(), start.begin(), start.end());
  ASSERT_EQ(RunSweep(plain, dir.path()).code, 0);
  std::vector<std::string> mpi = {"run", config, "-q", "--mpi", "-j", "1"};
  mpi.insert(mpi.end(), start.begin(), start.end());
  const RunResult r = RunMpi(3, mpi, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "plain.h5"));
  const std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].command, "run --mpi");
  EXPECT_EQ(started[0].workers, 3);
  std::set<int> workers;
  for (const JournalRecord& d : JournalRecords(dir / "out.h5.journal", "done")) {
    workers.insert(d.worker);
    // Every rank's workers report when they began a chunk and their peak memory.
    EXPECT_GT(d.start_time, started[0].time - 1) << "chunk " << d.chunk;
    EXPECT_GT(d.max_rss, 0u) << "chunk " << d.chunk;
  }
  EXPECT_EQ(workers, (std::set<int>{0, 1, 2}));
  // /chunks names each chunk's worker by its index over every rank, and its host.
  EXPECT_EQ(started[0].hosts.host, HostName());
  const ChunkProvenance provenance =
      OutputFile::Open(dir / "out.h5", OutputFile::Access::kRead).ReadChunkProvenance();
  const std::set<int32_t> recorded(provenance.worker.begin(), provenance.worker.end());
  EXPECT_EQ(recorded, (std::set<int32_t>{0, 1, 2}));
  for (uint16_t row : provenance.host) EXPECT_EQ(provenance.host_names.at(row), HostName());
}

INSTANTIATE_TEST_SUITE_P(Mpi, MpiStartTest, ::testing::Values("spawn", "fork", "forkserver"));

// A Python kernel runs on every rank as on one machine (no path of its own), and a failure on
// another rank reaches rank 0 with its traceback: every point of the model raises once both
// ranks' workers hold one, at the gate.
TEST(MpiTest, APythonKernelsFailureOnAnotherRankKeepsItsTraceback) {
  TempDir dir;
  const Gate gate(dir.path());
  WriteFile(dir / "model.py",
            "import os, time\n\ndef compute(x, release):\n"
            "    with open(release + '.held', 'a') as f:\n"
            "        f.write('%d %d\\n' % (os.getpid(), x))\n"
            "    while not os.path.exists(release):\n"
            "        time.sleep(0.005)\n"
            "    raise ValueError('x=%d' % x)\n");
  WriteFile(dir / "py.yaml",
            "name: py\nkernel:\n  python: model.py\n  options: {release: " + dir / "gate-open" +
                "}\n  outputs: {y: float64}\nparameters:\n"
                "  x: {range: [0, 6]}\nexecution: {chunk_size: 1}\n"
                "output: {path: out.h5}\n");
  SweepProcess run({"run", dir / "py.yaml", "-q", "--mpi", "-j", "1"}, dir.path(), Mpirun(2));
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  gate.Open();
  ASSERT_EQ(run.Wait(), 3) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  bool remote = false;
  for (const JournalRecord& f : JournalRecords(dir / "out.h5.journal", "failed")) {
    EXPECT_EQ(f.reason,
              "ValueError: x=" + std::to_string(*f.point) + " (at model.py:8 in compute)");
    EXPECT_NE(f.stderr_tail.find("Traceback (most recent call last):"), std::string::npos);
    EXPECT_NE(f.stderr_tail.find("model.py\", line 8, in compute"), std::string::npos);
    remote = remote || f.worker == 1;
  }
  EXPECT_TRUE(remote) << "no failure came from rank 1";
}

// The pid of the worker process started by MPI rank `rank` (a child of that rank's process).
pid_t WorkerOfRank(const std::string& tag, int rank) {
  for (pid_t pid : TaggedProcesses(tag)) {
    std::string env = ReadFile("/proc/" + std::to_string(pid) + "/environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    if (!OfRank(env, rank)) continue;
    if (env.find("\nSWEEP_RANK=") == std::string::npos) continue;  // the rank itself
    return pid;
  }
  return -1;
}

// Dynamic scheduling over ranks: while rank 1's worker is held in its first point, rank 0's worker
// computes every other point of 16 (2 ranks x 1 worker); a static split would leave rank 1's share
// waiting for it.
TEST(MpiTest, ChunksAreSharedBetweenRanksAsTheyFinish) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldMpiConfig(dir, gate, 16, 0);
  SweepProcess run({"run", config, "-q", "--mpi", "-j", "1"}, dir.path(), Mpirun(2));
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();  // one point held on each rank
  const pid_t rank0 = WorkerOfRank(run.tag(), 0);
  ASSERT_GT(rank0, 0);
  gate.Release(rank0);
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 15)) << run.err();
  for (const JournalRecord& d : JournalRecords(dir / "out.h5.journal", "done"))
    EXPECT_EQ(d.worker, 0) << "chunk " << d.chunk << " done while rank 1 was held";
  gate.Open();
  ASSERT_EQ(run.Wait(), 0) << run.err();
  int by_rank1 = 0;
  for (const JournalRecord& d : JournalRecords(dir / "out.h5.journal", "done"))
    by_rank1 += d.worker == 1;
  EXPECT_EQ(by_rank1, 1);
}

// A worker killed from outside on rank 1 fails only its chunk, which is retried; the run
// finishes every point.
TEST(MpiTest, AWorkerKilledOnAnotherRankHasItsChunkRetried) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldMpiConfig(dir, gate, 40, 0);
  SweepProcess run({"run", config, "-q", "--mpi", "-j", "1"}, dir.path(), Mpirun(2));
  // Rank 1's worker in the middle of a point, held at the gate: killed there.
  pid_t worker = -1;
  ASSERT_TRUE(WaitUntil([&] {
    worker = WorkerOfRank(run.tag(), 1);
    for (const auto& [pid, point] : gate.Held())
      if (pid == worker) return true;
    return false;
  })) << run.err();
  ASSERT_EQ(kill(worker, SIGKILL), 0);
  gate.Open();
  ASSERT_EQ(run.Wait(), 0) << run.err();
  bool retried = false;
  for (const JournalRecord& f : JournalRecords(dir / "out.h5.journal", "failed")) {
    EXPECT_FALSE(f.final) << f.reason;
    EXPECT_EQ(f.worker, 1);
    EXPECT_EQ(f.kind, "killed");
    retried = true;
  }
  EXPECT_TRUE(retried);
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  EXPECT_NE(status.out.find("\"pending\": 0"), std::string::npos) << status.out;
  EXPECT_NE(status.out.find("\"failed\": 0"), std::string::npos) << status.out;
}

// `kill -9` of mpirun: every rank and worker goes, the output stays valid, and a plain resume
// finishes it to the bytes of a plain run.
TEST(MpiTest, AKilledJobLeavesNoProcessAndResumesToThePlainBytes) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 1500, 24, 750, "", "repeat: 2\n");
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "plain.h5"}, dir.path()).code, 0);
  gate.Close();
  SweepProcess run({"run", config, "-q", "--mpi", "-j", "1"}, dir.path(), Mpirun(3));
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 5)) << run.err();
  kill(run.pid(), SIGKILL);
  run.Wait();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  gate.Open();
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "plain.h5"));
}

// SIGTERM to mpirun (what Slurm sends on preemption or requeue) reaches rank 0, which stops the
// run the journaled way, as Ctrl-C does on one machine.
TEST(MpiTest, ATerminatedJobJournalsItsStop) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldMpiConfig(dir, gate, 200, 10);
  SweepProcess run({"run", config, "-q", "--mpi", "-j", "1"}, dir.path(), Mpirun(2));
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 4)) << run.err();
  run.Signal(SIGTERM);
  const int code = run.Wait();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  const std::vector<JournalRecord> stopped = JournalRecords(dir / "out.h5.journal", "stopped");
  ASSERT_EQ(stopped.size(), 1u) << "exit " << code << ": " << run.err();
  EXPECT_EQ(stopped[0].reason, "interrupted");
}

// execution.max_failures holds over every rank's workers: after it, rank 0 hands out no chunk,
// and the rest stays pending. The command kernel's work folder is beside the output every rank
// writes to (`-o`), not the config's.
TEST(MpiTest, MaxFailuresStopsEveryRank) {
  TempDir dir;
  WriteFile(dir / "code.sh", "#!/bin/sh\necho 'no licence' >&2\nexit 1\n");
  chmod((dir / "code.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: doomed\nkernel:\n  command: [./code.sh, '{i}']\n  outputs: {y: float64}\n"
            "parameters:\n  i: {range: [0, 60]}\n"
            "execution: {chunk_size: 1, max_failures: 2}\noutput: {path: out.h5}\n");
  const RunResult r =
      RunMpi(3, {"run", "c.yaml", "-q", "--mpi", "-j", "1", "-o", "run.h5"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  uint64_t failed = 0;
  for (const JournalRecord& f : JournalRecords(dir / "run.h5.journal", "failed")) failed += f.final;
  EXPECT_GE(failed, 2u);
  // In flight as the second failure is heard: a chunk per worker of the 3 ranks, and the next
  // run its node holds for each of the 2 remote workers (driver/mpi_run.h), which the node may
  // begin before rank 0's reclaim reaches it.
  EXPECT_LE(failed, 2u + 3u + 2u) << "at most one more failure per worker, and a held run";
  EXPECT_NE(r.err.find("stopped after " + std::to_string(failed) +
                       " failed chunks (execution.max_failures is 2); " +
                       std::to_string(60 - failed) + " chunks were not computed"),
            std::string::npos)
      << r.err;
  uint64_t kept = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir / "run.h5.work"))
    kept += e.path().filename().string().rfind("point-", 0) == 0;
  EXPECT_EQ(kept, failed);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));
}

// Ranks > 0 rebuild the sweep from rank 0's description, inputs as rank 0 reads them: an input
// moved since the run (`resume --input`) is read from its new path on every rank, or a rank could
// not start (its input gone) or would read other bytes.
TEST(MpiTest, AnInputMovedForTheResumeIsReadFromItsNewPathOnEveryRank) {
  TempDir dir;
  WriteFile(dir / "data.npy", Npy({1, 2, 3, 4}));
  WriteFile(dir / "fault", "");
  WriteFile(dir / "c.yaml",
            "name: moved\nkernel: {name: faulty, options: {error_at: 5, "
            "only_if_exists: " +
                dir / "fault" +
                "}}\ninputs:\n  data: {npy: data.npy}\n"
                "parameters:\n  i: {range: [0, 12]}\n"
                "execution: {chunk_size: 1, retries: 0}\noutput: {path: out.h5}\n");
  const RunResult first = RunSweep({"run", "c.yaml", "-q", "-j", "2"}, dir.path());
  ASSERT_EQ(first.code, 3) << first.err;
  std::filesystem::remove(dir / "fault");
  std::filesystem::create_directory(dir / "moved");
  std::filesystem::rename(dir / "data.npy", dir / "moved/data.npy");
  const RunResult resumed =
      RunMpi(3, {"resume", "out.h5", "-q", "--mpi", "-j", "1", "--input", "data=moved/data.npy"},
             dir.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(LeftoversAfter(resumed.tag).empty());
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status"), std::vector<uint8_t>(12, 1));
}

// A config error is reported once, by rank 0, with exit code 2 and nothing written.
TEST(MpiTest, ABadConfigStopsEveryRankWithExitTwo) {
  TempDir dir;
  const std::string config = dir / "bad.yaml";
  WriteFile(config, "kernel: {name: lorenz}\nparameters:\n  rho: {linspace: [0, 1]}\n");
  const RunResult r = RunMpi(3, {"run", config, "--mpi"}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("linspace"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
}

// `sweep status` of a live MPI run lists every rank's workers: their rank, host and pid, the
// chunk each computes and, relayed from its rank, its point and rate.
TEST(MpiTest, StatusShowsTheWorkersOfEveryRank) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldMpiConfig(dir, gate, 30, 0);
  SweepProcess run({"run", config, "-q", "--mpi", "-j", "1"}, dir.path(), Mpirun(3));
  // Every rank's worker holds a point until the test has seen them all.
  ASSERT_TRUE(gate.WaitHeld(3)) << run.err();
  std::set<int> ranks_seen, ranks_with_points;
  WaitUntil([&] {
    const RunResult r = RunSweep({"status", "out.h5", "--json"}, dir.path());
    if (r.code != 0) return false;
    const nlohmann::json status = nlohmann::json::parse(r.out);
    if (!status["live"].get<bool>()) return false;
    for (const auto& w : status["workers"]) {
      if (w["state"] != "busy") continue;
      const int rank = w["rank"].get<int>();
      ranks_seen.insert(rank);
      EXPECT_EQ(w["worker"].get<int>(), rank) << w;  // one worker a rank, rank 0's first
      EXPECT_FALSE(w["host"].get<std::string>().empty()) << w;
      EXPECT_GT(w["pid"].get<long>(), 0) << w;
      if (w["chunk"].is_null()) return false;
      if (!w["point"].is_null()) {
        EXPECT_EQ(w["point"], w["chunk"]) << "chunk_size 1: the point is its chunk's";
        if (rank > 0) ranks_with_points.insert(rank);
      }
    }
    return ranks_seen.size() == 3 && ranks_with_points.size() == 2;
  });
  EXPECT_EQ(ranks_seen, (std::set<int>{0, 1, 2}));
  EXPECT_EQ(ranks_with_points, (std::set<int>{1, 2}));
  // Ranks 1 and 2 go on (rank 0's worker stays held, so the run stays live): their workers'
  // rates, from the chunk ends their ranks relayed, show.
  for (int rank : {1, 2}) {
    const pid_t worker = WorkerOfRank(run.tag(), rank);
    ASSERT_GT(worker, 0);
    gate.Release(worker);
  }
  std::map<int, double> rates;
  EXPECT_TRUE(WaitUntil([&] {
    const RunResult r = RunSweep({"status", "out.h5", "--json"}, dir.path());
    if (r.code != 0) return false;
    const nlohmann::json status = nlohmann::json::parse(r.out);  // outlives the loop
    for (const auto& w : status["workers"]) {
      if (w["rank"].get<int>() > 0 && w["chunks_done"].get<uint64_t>() > 0)
        rates[w["rank"].get<int>()] = w["points_per_second"].get<double>();
    }
    return rates.size() == 2;
  })) << run.err();
  for (const auto& [rank, rate] : rates) EXPECT_GT(rate, 0) << "rank " << rank;
  gate.Open();
  EXPECT_EQ(run.Wait(), 0) << run.err();
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.workers"));
}

// The process of MPI rank `rank` itself (not one of its workers).
pid_t RankProcess(const std::string& tag, int rank) {
  for (pid_t pid : TaggedProcesses(tag)) {
    std::string env = ReadFile("/proc/" + std::to_string(pid) + "/environ");
    std::replace(env.begin(), env.end(), '\0', '\n');
    if (!OfRank(env, rank)) continue;
    if (env.find("\nSWEEP_RANK=") != std::string::npos) continue;  // a worker
    // The keeper of its PMI socket under MPICH (driver/mpi_run.cc, AbortDelay), forked from it.
    if (ReadFile("/proc/" + std::to_string(pid) + "/comm") == "sweep-keeper\n") continue;
    return pid;
  }
  return -1;
}

// Each rank takes its own node's GPUs (here: its own CUDA_VISIBLE_DEVICES, 4 + its rank) and
// expands the config's paths in its own environment (here: a scratch folder and a copy of the
// program of its own, which says which it is): every chunk was computed on its rank's device, by
// its rank's program, in its rank's work folder, and the journal records every rank's devices and
// paths.
TEST(MpiTest, EachRankUsesItsOwnNodesDevicesAndScratch) {
  TempDir dir;
  for (int k = 0; k < 3; ++k) {
    const std::string tools = dir / ("tools-" + std::to_string(k));
    std::filesystem::create_directories(tools);
    WriteFile(tools + "/devices.sh",
              "#!/bin/sh\necho \"cuda ${CUDA_VISIBLE_DEVICES:--1}\"\necho \"tool " +
                  std::to_string(k) + "\"\n");
    chmod((tools + "/devices.sh").c_str(), 0755);
  }
  const std::string config = dir / "g.yaml";
  WriteFile(config,
            "name: g\nkernel:\n  command: ['${SWEEP_TEST_TOOLS}/devices.sh', '{point}']\n"
            "  outputs: {cuda: int32, tool: int32}\n"
            "  workdir: {root: '${SWEEP_TEST_SCRATCH}/work', keep: always}\n"
            "parameters:\n  x: {range: [0, 24]}\n"
            "execution: {chunk_size: 1, gpus: auto}\noutput: {path: out.h5}\n");
  std::vector<std::string> launcher = Mpirun(3);
  // What a node's environment would say, decided on each rank (Open MPI's or MPICH's rank).
  launcher.insert(launcher.end(),
                  {"/bin/sh", "-c",
                   "r=${OMPI_COMM_WORLD_RANK:-$PMI_RANK}; CUDA_VISIBLE_DEVICES=$((4 + r)) "
                   "SWEEP_TEST_SCRATCH=" +
                       dir.path() + "/node-$r SWEEP_TEST_TOOLS=" + dir.path() +
                       "/tools-$r exec \"$0\" \"$@\""});
  const RunResult r = RunSweep({"run", config, "-q", "--mpi"}, dir.path(), launcher);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].workers, 3) << "one worker per device";
  EXPECT_EQ(started[0].hosts.devices, (std::vector<std::string>{"4", "5", "6"}));
  ASSERT_EQ(started[0].paths.size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(started[0].paths.at(k).at("kernel.workdir.root"),
              dir / ("node-" + std::to_string(k) + "/work"));
    EXPECT_EQ(started[0].paths.at(k).at("kernel.command[0]"),
              dir / ("tools-" + std::to_string(k) + "/devices.sh"));
  }
  const std::vector<int32_t> cuda = ReadDataset<int32_t>(dir / "out.h5", "/cuda");
  const std::vector<int32_t> tool = ReadDataset<int32_t>(dir / "out.h5", "/tool");
  const std::vector<int32_t> worker = ReadDataset<int32_t>(dir / "out.h5", "/chunks/worker");
  ASSERT_EQ(cuda.size(), 24u);
  for (size_t p = 0; p < 24; ++p) {
    EXPECT_EQ(cuda[p], 4 + worker[p]) << "point " << p;
    EXPECT_EQ(tool[p], worker[p]) << "point " << p;
    EXPECT_TRUE(std::filesystem::is_directory(
        dir / ("node-" + std::to_string(worker[p]) + "/work/point-" + std::to_string(p))))
        << "point " << p << ", worker " << worker[p];
  }
  const ChunkProvenance provenance =
      OutputFile::Open(dir / "out.h5", OutputFile::Access::kRead).ReadChunkProvenance();
  for (size_t c = 0; c < 24; ++c)
    EXPECT_EQ(provenance.device_names.at(provenance.device[c]), std::to_string(4 + worker[c]));
}

// A rank killed mid-run: mpirun aborts the job; `sweep status` names the rank it lost with its
// host, from the journal; nothing is left running, and `sweep resume` finishes the sweep to the
// bytes of a run never killed. Open MPI's mpirun sends the ranks left a SIGCONT, a SIGTERM
// odls_base_sigkill_timeout seconds later and a SIGKILL as long after that, whatever they do
// meanwhile; rank 0 pings on the SIGCONT and records its stop, naming the rank, at the SIGTERM
// (driver/mpi_run.h). 3 s each (1 by default): the job ends in about 6 s, and rank 0's stop has
// 3 s, where it takes milliseconds. MPICH's mpiexec (scripts/test-mpich) kills every rank without
// a word once the dead rank's keeper lets go of its PMI socket, 5 s after the death: no stop
// record, but rank 0 journaled the rank unheard about 1 s after its last word.
TEST(MpiTest, StatusNamesTheRankAnAbortedJobLost) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldMpiConfig(dir, gate, 30, 0);
  const bool open_mpi = std::getenv("SWEEP_TEST_MPIEXEC") == nullptr;
  std::vector<std::string> launcher = Mpirun(3);
  if (open_mpi) launcher.insert(launcher.begin() + 1, {"--mca", "odls_base_sigkill_timeout", "3"});
  SweepProcess run({"run", config, "-q", "--mpi", "-j", "1"}, dir.path(), launcher);
  ASSERT_TRUE(gate.WaitHeld(3)) << run.err();
  const pid_t rank1 = RankProcess(run.tag(), 1);
  ASSERT_GT(rank1, 0);
  const double killed_at = WallSeconds();
  ASSERT_EQ(kill(rank1, SIGKILL), 0);
  EXPECT_NE(run.Wait(), 0);
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  const std::vector<JournalRecord> stopped = JournalRecords(dir / "out.h5.journal", "stopped");
  if (open_mpi) {
    ASSERT_EQ(stopped.size(), 1u) << run.err();
    std::set<int> lost;
    for (const LostRank& l : stopped[0].lost_ranks) lost.insert(l.rank);
    EXPECT_EQ(lost, std::set<int>{1}) << run.err();
  } else {
    EXPECT_TRUE(stopped.empty()) << "MPICH's mpiexec killed rank 0 too";
    const std::vector<JournalRecord> unheard = JournalRecords(dir / "out.h5.journal", "unheard");
    ASSERT_FALSE(unheard.empty()) << run.err();
    EXPECT_GE(unheard.back().time, killed_at);
  }
  const nlohmann::json status = StatusJson(dir);
  ASSERT_EQ(status["lost_ranks"].size(), 1u) << status.dump();
  const nlohmann::json& l = status["lost_ranks"][0];
  EXPECT_EQ(l["rank"], 1);
  EXPECT_EQ(l["host"], HostName());
  EXPECT_LE(l["last_heard"].get<double>(), killed_at + 1);
  EXPECT_GE(l["stopped"].get<double>(), killed_at);
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("lost: MPI rank 1 on " + HostName()), std::string::npos) << text.out;
  gate.Open();
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(StatusJson(dir)["lost_ranks"].size(), 0u) << "a later run started since";
  EXPECT_EQ(StatusJson(dir)["pending"], 0);
  const RunResult plain = RunSweep({"run", config, "-q", "-o", "plain.h5"}, dir.path());
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "plain.h5"));
}

// Every rank's driver reports its CPU seconds as the job ends, and the stop record keeps them.
TEST(MpiTest, TheStopRecordHoldsEveryRanksCpuSeconds) {
  TempDir dir;
  const RunResult r =
      RunMpi(3, {"run", IsingConfig(dir, 40), "-q", "--mpi", "-j", "1"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<JournalRecord> stopped = JournalRecords(dir / "out.h5.journal", "stopped");
  ASSERT_EQ(stopped.size(), 1u);
  ASSERT_EQ(stopped[0].cpu_seconds.size(), 3u);
  for (double s : stopped[0].cpu_seconds) {
    EXPECT_TRUE(std::isfinite(s));
    EXPECT_GT(s, 0);
  }
  EXPECT_TRUE(stopped[0].lost_ranks.empty());
}

}  // namespace
}  // namespace sweep
#endif  // SWEEP_HAVE_MPI
