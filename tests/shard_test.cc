// End-to-end tests of `sweep run --shard I/N`: Slurm array tasks sharing one output.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "io/journal.h"
#include "io/output_lock.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::string ShardConfig(const TempDir& dir, int temperatures) {
  const std::string path = dir / "ising.yaml";
  WriteFile(
      path,
      "name: ising\nseed: 9\nkernel: {name: ising2d, options: {L: 8, sweeps: 100, burn_in: 10}}\n"
      "parameters:\n  T: {linspace: [1.5, 3.5, " +
          std::to_string(temperatures) +
          "]}\nexecution: {workers: 1, chunk_size: 10}\noutput: {path: out.h5}\n");
  return path;
}

TEST(ShardTest, ShardsShareOneOutputAndGiveTheBytesOfOneRun) {
  TempDir dir;
  const std::string config = ShardConfig(dir, 600);
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  const auto clean = ResultsAndParams(dir / "clean.h5");

  std::vector<std::unique_ptr<SweepProcess>> shards;
  for (int i = 0; i < 3; ++i) {
    shards.push_back(std::make_unique<SweepProcess>(
        std::vector<std::string>{"run", config, "-q", "--shard", std::to_string(i) + "/3"},
        dir.path()));
  }
  for (auto& shard : shards) {
    EXPECT_EQ(shard->Wait(), 0) << shard->err();
    EXPECT_TRUE(LeftoversAfter(shard->tag()).empty());
  }
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(
        std::filesystem::exists(dir / ("out.h5.journal.shard-" + std::to_string(i) + "-of-3")));
  }
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  ASSERT_EQ(status.code, 0) << status.err;
  const nlohmann::json s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["done"], 60);
  EXPECT_EQ(s["pending"], 0);
  // A shard run again (a requeued array task) finds nothing left to do.
  const RunResult again = RunSweep({"run", config, "--shard", "1/3"}, dir.path());
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("done: 0 of 0 points"), std::string::npos) << again.out;
}

TEST(ShardTest, AKilledShardFinishesWhenItRunsAgain) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 600, 10, 300);  // 60 chunks, held from 30
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  gate.Close();
  SweepProcess shard({"run", config, "-q", "--shard", "0/2"}, dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal.shard-0-of-2", "done", 1)) << shard.err();
  shard.Signal(SIGKILL);
  shard.Wait();
  EXPECT_TRUE(LeftoversAfter(shard.tag()).empty());
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "--shard", "1/2"}, dir.path()).code, 0);
  const RunResult rest = RunSweep({"run", config, "-q", "--shard", "0/2"}, dir.path());
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "clean.h5"));
  // And `resume` sees every shard's journal: nothing is left.
  const RunResult resumed = RunSweep({"resume", "out.h5"}, dir.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("done: 0 of 0 points"), std::string::npos) << resumed.out;
}

TEST(ShardTest, ShardsMustAgreeAndCannotForce) {
  TempDir dir;
  const std::string config = ShardConfig(dir, 100);
  ASSERT_EQ(RunSweep({"run", config, "-q", "--shard", "0/2"}, dir.path()).code, 0);
  const RunResult other =
      RunSweep({"run", config, "-q", "--shard", "1/2", "--set", "seed=10"}, dir.path());
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.err.find("every shard must run the same config"), std::string::npos) << other.err;
  const RunResult forced = RunSweep({"run", config, "-q", "--shard", "1/2", "--force"}, dir.path());
  EXPECT_EQ(forced.code, 2);
  for (const char* bad : {"2/2", "1", "-1/2", "a/b", "1/0"}) {
    const RunResult r = RunSweep({"run", config, "--shard", bad}, dir.path());
    EXPECT_EQ(r.code, 2) << bad;
    EXPECT_NE(r.err.find("--shard: expected I/N"), std::string::npos) << r.err;
  }
}

// -j and --chunk-size are settings of one invocation, not part of the sweep: shards started
// with different values join one output (the first shard's chunk size holds) and give the bytes
// of a plain run.
TEST(ShardTest, ShardsWithDifferentWorkersAndChunkSizesShareOneOutput) {
  TempDir dir;
  const std::string config = dir / "ising.yaml";
  WriteFile(config,
            "name: ising\nseed: 9\nkernel: {name: ising2d, options: {L: 8, sweeps: 100, "
            "burn_in: 10}}\nparameters:\n  T: {linspace: [1.5, 3.5, 300]}\n"
            "output: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5", "-j", "2"}, dir.path()).code, 0);
  const RunResult first =
      RunSweep({"run", config, "-q", "--shard", "0/2", "-j", "1", "--chunk-size", "7"}, dir.path());
  ASSERT_EQ(first.code, 0) << first.err;
  const RunResult second = RunSweep({"run", config, "-q", "--shard", "1/2", "-j", "3"}, dir.path());
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "clean.h5"));
  EXPECT_EQ(ReadDataset<uint64_t>(dir / "out.h5", "/chunks/count")[0], 7u);
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  ASSERT_EQ(status.code, 0) << status.err;
  const nlohmann::json s = nlohmann::json::parse(status.out);
  EXPECT_EQ(s["pending"], 0);
  EXPECT_EQ(s["done"], s["chunks"]);
}

// [first started record, last done record] of one journal, in Unix seconds.
std::pair<double, double> ComputingInterval(const std::string& journal_path) {
  const JournalContents journal = Journal::Read(journal_path);
  double start = 0, end = 0;
  for (const JournalRecord& r : journal.records) {
    if (r.type == "started" && start == 0) start = r.time;
    if (r.type == "done") end = r.time;
  }
  return {start, end};
}

// The parent of process `pid`, from /proc (0 if it is gone).
pid_t ParentOf(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream rest(stat.substr(paren + 2));
  char state = 0;
  long parent = 0;
  rest >> state >> parent;
  return pid_t(parent);
}

// Shards are Slurm array tasks: they must compute at the same time, not one after the other, and
// `status` must show each of them live with its pid and host while they do. Every point waits at
// the gate: a worker of each shard is seen in the middle of a point at the same instant.
TEST(ShardTest, ShardsStartedTogetherComputeAtTheSameTime) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = dir / "held.yaml";
  WriteFile(config, "name: held\nkernel: {name: faulty, options: {" + gate.Options(0) +
                        "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
                        "parameters:\n  i: {range: [0, 16]}\n"
                        "execution: {workers: 1, chunk_size: 1}\noutput: {path: out.h5}\n");
  SweepProcess shard0({"run", config, "-q", "--shard", "0/2"}, dir.path());
  SweepProcess shard1({"run", config, "-q", "--shard", "1/2"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << shard0.err() << shard1.err();
  std::set<pid_t> drivers_holding;
  for (const auto& [pid, point] : gate.Held()) drivers_holding.insert(ParentOf(pid));
  EXPECT_EQ(drivers_holding, (std::set<pid_t>{shard0.pid(), shard1.pid()}))
      << "two points held, but not one by each shard";
  nlohmann::json seen;
  ASSERT_TRUE(WaitUntil([&] {
    const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
    if (status.code != 0) return false;
    seen = nlohmann::json::parse(status.out);
    return seen["shards"].size() == 2 && seen["shards"][0]["live"] == true &&
           seen["shards"][1]["live"] == true;
  })) << seen.dump();
  EXPECT_EQ(seen["live"], true);
  EXPECT_EQ(seen["shards"][0]["shard"], "0/2");
  EXPECT_EQ(seen["shards"][0]["pid"], shard0.pid());
  EXPECT_EQ(seen["shards"][1]["pid"], shard1.pid());
  EXPECT_EQ(seen["shards"][1]["host"], HostName());
  gate.Open();
  ASSERT_EQ(shard0.Wait(), 0) << shard0.err();
  ASSERT_EQ(shard1.Wait(), 0) << shard1.err();

  // Their journals agree: each shard's computing interval contains the other's start.
  const auto [start0, end0] = ComputingInterval(dir / "out.h5.journal.shard-0-of-2");
  const auto [start1, end1] = ComputingInterval(dir / "out.h5.journal.shard-1-of-2");
  EXPECT_LT(std::max(start0, start1), std::min(end0, end1))
      << start0 << " " << end0 << " " << start1 << " " << end1;

  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  const nlohmann::json after = nlohmann::json::parse(status.out);
  EXPECT_EQ(after["done"], 16);
  EXPECT_EQ(after["live"], false);
  EXPECT_EQ(after["shards"][0]["done"], 8);
  EXPECT_EQ(after["shards"][1]["live"], false);
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("shard 1/2: done 8, pending 0, failed 0 chunks; not running"),
            std::string::npos)
      << text.out;
}

// A plain run excludes shards, and shards exclude a plain run (exit 4, naming the holders: pid,
// host and shard). Each
// holder is kept computing at the gate while the other side is refused.
TEST(ShardTest, APlainRunAndShardsExcludeEachOther) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = dir / "held.yaml";
  WriteFile(config, "name: held\nkernel: {name: faulty, options: {" + gate.Options(0) +
                        "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
                        "parameters:\n  i: {range: [0, 20]}\n"
                        "execution: {workers: 1, chunk_size: 1}\noutput: {path: out.h5}\n");
  {
    SweepProcess shard({"run", config, "-q", "--shard", "0/2"}, dir.path());
    ASSERT_TRUE(gate.WaitHeld(1)) << shard.err();
    const RunResult resume = RunSweep({"resume", "out.h5", "-q"}, dir.path());
    EXPECT_EQ(resume.code, 4) << resume.err;
    // The shards are named with their pids and hosts, not "another sweep (pid ?)".
    EXPECT_NE(resume.err.find("is in use by the shards of a sweep (shard 0/2: pid " +
                              std::to_string(shard.pid()) + " on "),
              std::string::npos)
        << resume.err;
    const RunResult twice = RunSweep({"run", config, "-q", "--shard", "0/2"}, dir.path());
    EXPECT_EQ(twice.code, 4) << twice.err;
    EXPECT_NE(twice.err.find("pid " + std::to_string(shard.pid())), std::string::npos) << twice.err;
    gate.Open();
    EXPECT_EQ(shard.Wait(), 0) << shard.err();
  }
  gate.Close();
  SweepProcess resume({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(1)) << resume.err();
  const RunResult shard = RunSweep({"run", config, "-q", "--shard", "1/2"}, dir.path());
  EXPECT_EQ(shard.code, 4) << shard.err;
  gate.Open();
  EXPECT_EQ(resume.Wait(), 0) << resume.err();
}

// One task of the job-array template, run by hand as Slurm would run it: `array` is the
// submitted --array as Slurm describes it (first, last, number of tasks), `task` its index.
struct ArrayTask {
  int code = -1;
  std::string err;
};
ArrayTask RunArrayTask(const TempDir& dir, const std::string& config, int first, int last,
                       int tasks, int task, const std::string& shards = "") {
  const std::string err = dir / "array-task.err";
  const std::string command = "cd " + dir.path() + " && SWEEP=" + SWEEP_BINARY +
                              " SLURM_ARRAY_TASK_MIN=" + std::to_string(first) +
                              " SLURM_ARRAY_TASK_MAX=" + std::to_string(last) +
                              " SLURM_ARRAY_TASK_COUNT=" + std::to_string(tasks) +
                              " SLURM_ARRAY_TASK_ID=" + std::to_string(task) +
                              " SLURM_CPUS_PER_TASK=2 bash " +
                              SourcePath("scripts/slurm/array.sbatch") + " " + config + " out.h5 " +
                              shards + " > /dev/null 2> " + err;
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(err)};
}

// `sbatch --array=0-1 array.sbatch CONFIG out.h5`: the count is the array's size.
TEST(ShardTest, TheSlurmArrayTemplateRunsEveryShard) {
  TempDir dir;
  const std::string config = ShardConfig(dir, 100);
  for (int task = 0; task <= 1; ++task) {
    const ArrayTask t = RunArrayTask(dir, config, 0, 1, 2, task);
    ASSERT_EQ(t.code, 0) << t.err;
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.journal.shard-0-of-2"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.journal.shard-1-of-2"));
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "clean.h5"));
}

// A resubmitted index (`sbatch --array=2 ...`) is an array of one task: the template must not
// take that for `--shard 0/1`, which would compute every shard's chunks.
TEST(ShardTest, TheSlurmArrayTemplateNeverTakesOneResubmittedIndexForTheWholeSweep) {
  TempDir dir;
  const std::string config = ShardConfig(dir, 100);  // 10 chunks
  ArrayTask t = RunArrayTask(dir, config, 2, 2, 1, 2);
  EXPECT_EQ(t.code, 2);
  EXPECT_NE(t.err.find("cannot tell the shard count"), std::string::npos) << t.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));

  t = RunArrayTask(dir, config, 2, 2, 1, 2, "4");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.journal.shard-2-of-4"));
  // `--array=0` without N: an array 0-0 of one task, but the output was started as 4 shards.
  t = RunArrayTask(dir, config, 0, 0, 1, 0);
  EXPECT_EQ(t.code, 2);
  EXPECT_NE(t.err.find("started as 4 shards"), std::string::npos) << t.err;
  // `--array=3` without N: the count is the journals'.
  t = RunArrayTask(dir, config, 3, 3, 1, 3);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.journal.shard-3-of-4"));
  for (const auto& [task, shards] : {std::pair{1, "5"}, {4, "4"}, {1, "0"}, {1, "x"}}) {
    t = RunArrayTask(dir, config, task, task, 1, task, shards);
    EXPECT_EQ(t.code, 2) << task << " of " << shards;
  }
  t = RunArrayTask(dir, config, 0, 5, 6, 0, "4");  // --array=0-5 with N = 4
  EXPECT_EQ(t.code, 2);
  const std::vector<uint8_t> status = ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status");
  ASSERT_EQ(status.size(), 10u);
  for (size_t c = 0; c < status.size(); ++c) EXPECT_EQ(status[c], c % 4 >= 2 ? 1 : 0) << c;

  for (int task = 0; task <= 1; ++task) {
    t = RunArrayTask(dir, config, 0, 1, 2, task, "4");  // --array=0-1 with N = 4
    ASSERT_EQ(t.code, 0) << t.err;
  }
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), ResultsAndParams(dir / "clean.h5"));
}

}  // namespace
}  // namespace sweep
