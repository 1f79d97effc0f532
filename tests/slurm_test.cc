// End-to-end tests of the job templates in scripts/slurm/, submitted with the real `sbatch`
// exactly as their header comments say, on a running Slurm (scripts/slurm-cluster starts a
// single-node one), with `sweep` installed by `cmake --install` into a temporary prefix that is
// put on PATH (sbatch passes the environment on to the job). Each compares the output with a
// plain `sweep run`.
//
// They run only with SWEEP_SLURM=1 (scripts/test-slurm sets it up); then a cluster that does not
// answer is a failure, not a skip.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <thread>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

struct Shell {
  int code = -1;
  std::string out;  // stdout and stderr
};

Shell RunShell(const std::string& command) {
  Shell result;
  FILE* pipe = popen(("(" + command + ") 2>&1").c_str(), "r");
  if (!pipe) return result;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) result.out.append(buffer, n);
  const int status = pclose(pipe);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// One record of `scontrol show job`: an array job shows one per task.
struct JobRecord {
  std::string state;      // COMPLETED, FAILED, PENDING, ...
  std::string exit_code;  // "0:0": exit code, then the signal
  int restarts = 0;
};

std::vector<JobRecord> ShowJob(const std::string& job) {
  const Shell shown = RunShell("scontrol show job " + job);
  std::vector<JobRecord> records;
  if (shown.code != 0) return records;
  static const std::regex field(R"((JobState|ExitCode|Restarts)=(\S+))");
  for (auto it = std::sregex_iterator(shown.out.begin(), shown.out.end(), field);
       it != std::sregex_iterator(); ++it) {
    const std::string key = (*it)[1], value = (*it)[2];
    if (key == "JobState") records.push_back({value, "", 0});
    if (records.empty()) continue;
    if (key == "ExitCode") records.back().exit_code = value;
    if (key == "Restarts") records.back().restarts = std::atoi(value.c_str());
  }
  return records;
}

// Polls until `done` holds, for at most `seconds`.
template <typename Predicate>
bool PollFor(double seconds, Predicate done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return true;
}

// Waits (bounded) until no task of the job is pending or running any more; returns its records.
std::vector<JobRecord> WaitForJob(const std::string& job, double seconds = 180) {
  std::vector<JobRecord> records;
  const bool ended = PollFor(seconds, [&] {
    records = ShowJob(job);
    if (records.empty()) return false;
    for (const JobRecord& r : records) {
      if (r.state != "COMPLETED" && r.state != "FAILED" && r.state != "CANCELLED" &&
          r.state != "TIMEOUT" && r.state != "NODE_FAIL" && r.state != "OUT_OF_MEMORY") {
        return false;
      }
    }
    return true;
  });
  if (!ended) {
    RunShell("scancel " + job);
    ADD_FAILURE() << "job " << job << " did not end within " << seconds << " s:\n"
                  << RunShell("scontrol show job " + job).out;
  }
  return records;
}

std::string Describe(const std::vector<JobRecord>& records) {
  std::string text;
  for (const JobRecord& r : records) text += r.state + " " + r.exit_code + "; ";
  return text;
}

bool AllCompleted(const std::vector<JobRecord>& records) {
  if (records.empty()) return false;
  for (const JobRecord& r : records) {
    if (r.state != "COMPLETED" || r.exit_code != "0:0") return false;
  }
  return true;
}

std::string BuildDir() { return std::filesystem::path(SWEEP_BINARY).parent_path().string(); }

std::string Template(const std::string& name) { return SourcePath("scripts/slurm/" + name); }

class SlurmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* enabled = getenv("SWEEP_SLURM");
    if (!enabled || std::string(enabled) != "1") {
      GTEST_SKIP() << "needs a Slurm cluster: run scripts/test-slurm (it starts a single-node "
                      "one with scripts/slurm-cluster), or SWEEP_SLURM=1 ctest -R SlurmTest "
                      "with one running";
    }
    const Shell sinfo = RunShell("sinfo -h -o %T");
    ASSERT_TRUE(sinfo.code == 0 && !sinfo.out.empty())
        << "SWEEP_SLURM=1 but the cluster does not answer (scripts/slurm-cluster starts one):\n"
        << sinfo.out;
    const Shell install =
        RunShell("cmake --install " + Quote(BuildDir()) + " --prefix " + Quote(prefix_.path()));
    ASSERT_EQ(install.code, 0) << install.out;
    ASSERT_TRUE(std::filesystem::exists(prefix_ / "bin/sweep-worker")) << install.out;
  }

  // `sbatch --parsable ARGS` in the test's folder, sweep from the installed prefix.
  std::string Sbatch(const std::string& args, const std::string& environment = "") {
    const Shell submitted =
        RunShell("cd " + Quote(dir_.path()) + " && env PATH=" + Quote(prefix_ / "bin") +
                 ":\"$PATH\" " + environment + " sbatch --parsable " + args);
    EXPECT_EQ(submitted.code, 0) << "sbatch " << args << ":\n" << submitted.out;
    const std::string id = submitted.out.substr(0, submitted.out.find_first_of(";\n"));
    if (!id.empty()) jobs_.push_back(id);
    return id;
  }

  // A sweep of `temperatures` points in chunks of 10, and its plain run's results and params.
  std::string Config(int temperatures, int size = 8, int sweeps = 100) {
    const std::string config = dir_ / "ising.yaml";
    WriteFile(config, "name: ising\nseed: 9\nkernel: {name: ising2d, options: {L: " +
                          std::to_string(size) + ", sweeps: " + std::to_string(sweeps) +
                          ", burn_in: 10}}\nparameters:\n  T: {linspace: [1.5, 3.5, " +
                          std::to_string(temperatures) +
                          "]}\nexecution: {workers: 1, chunk_size: 10}\noutput: {path: out.h5}\n");
    const RunResult plain =
        RunSweep({"run", config, "-q", "-o", "plain.h5", "-j", "2"}, dir_.path());
    EXPECT_EQ(plain.code, 0) << plain.err;
    return config;
  }

  nlohmann::json Status() {
    const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir_.path());
    EXPECT_EQ(status.code, 0) << status.err;
    return nlohmann::json::parse(status.out, nullptr, false);
  }

  std::string Logs() {
    std::string all;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("sweep-", 0) == 0) all += "--- " + name + "\n" + ReadFile(entry.path());
    }
    return all;
  }

  // A sweep of 200 points in chunks of 10 whose second half waits at `gate_` until the test opens
  // it, and its plain run's results and params: a job of it is live, for a requeue, on any
  // machine.
  std::string HeldConfig() {
    gate_.Open();
    const std::string config = testing::HeldConfig(dir_, gate_, 200, 10, 100);
    const RunResult plain =
        RunSweep({"run", config, "-q", "-o", "plain.h5", "-j", "2"}, dir_.path());
    EXPECT_EQ(plain.code, 0) << plain.err;
    gate_.Close();
    return config;
  }

  // Submits a one-job template of HeldConfig, requeues the job once it has journaled a done
  // chunk (while the gate holds it), makes it eligible again two seconds later (Slurm holds a
  // requeued job back for two minutes), opens the gate and waits for it.
  void RunRequeuedOnce(const std::string& args, const std::string& environment = "") {
    const std::string job = Sbatch(args, environment);
    ASSERT_FALSE(job.empty());
    const std::string journal = dir_ / "out.h5.journal";
    ASSERT_TRUE(PollFor(120, [&] {
      if (!JournalRecords(journal, "done").empty()) return true;
      const std::vector<JobRecord> r = ShowJob(job);
      return !r.empty() && r[0].state != "PENDING" && r[0].state != "RUNNING";
    }));
    ASSERT_NE(JournalRecords(journal, "done").size(), 0u) << Logs();
    const Shell requeued = RunShell("scontrol requeue " + job);
    ASSERT_EQ(requeued.code, 0) << requeued.out;
    ASSERT_TRUE(PollFor(60, [&] {
      const std::vector<JobRecord> r = ShowJob(job);
      return !r.empty() && r[0].state == "PENDING";
    })) << Describe(ShowJob(job));
    // Not at once: slurmd refuses a job's relaunch in the same second as its kill ("Job
    // credential revoked": credentials are compared by the second), which fails the job.
    const Shell eligible = RunShell("scontrol update JobId=" + job + " StartTime=now+2");
    ASSERT_EQ(eligible.code, 0) << eligible.out;
    gate_.Open();
    const std::vector<JobRecord> records = WaitForJob(job);
    EXPECT_TRUE(AllCompleted(records)) << Describe(records) << Logs();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].restarts, 1);
    // The first run was stopped by the requeue and the second resumed it.
    const std::string journaled = ReadFile(journal);
    EXPECT_NE(journaled.find("\"command\":\"resume"), std::string::npos) << journaled;
    EXPECT_NE(journaled.find("\"reason\":\"interrupted\""), std::string::npos) << journaled;
  }

  // A test that stopped early leaves no job behind to run later in its removed folder.
  void TearDown() override {
    for (const std::string& job : jobs_) RunShell("scancel " + job);
  }

  TempDir dir_;
  TempDir prefix_;
  Gate gate_{dir_.path()};
  std::vector<std::string> jobs_;  // every job submitted
};

// `sbatch --array=0-3 scripts/slurm/array.sbatch CONFIG OUTPUT 4`
TEST_F(SlurmTest, TheArrayTemplateRunsEveryShard) {
  Config(200);
  const std::string job =
      Sbatch("--array=0-3 " + Template("array.sbatch") + " ising.yaml out.h5 4");
  ASSERT_FALSE(job.empty());
  const std::vector<JobRecord> records = WaitForJob(job);
  EXPECT_EQ(records.size(), 4u) << Describe(records);
  EXPECT_TRUE(AllCompleted(records)) << Describe(records) << Logs();
  for (int i = 0; i < 4; ++i) {
    const std::string shard = std::to_string(i);
    EXPECT_TRUE(std::filesystem::exists(dir_ / ("out.h5.journal.shard-" + shard + "-of-4")));
    EXPECT_TRUE(std::filesystem::exists(dir_ / ("sweep-" + job + "_" + shard + ".log")));
  }
  EXPECT_EQ(ResultsAndParams(dir_ / "out.h5"), ResultsAndParams(dir_ / "plain.h5"));
  EXPECT_EQ(Status()["pending"], 0);
}

// An array task submitted again on its own (`sbatch --array=3 ... 4`) computes its share only;
// without the count, an index that could be taken for a whole sweep is refused.
TEST_F(SlurmTest, AResubmittedArrayIndexFinishesOnlyItsShare) {
  Config(200);  // 20 chunks: shard 3 of 4 has chunks 3, 7, 11, 15, 19
  const std::string array = Template("array.sbatch");
  std::vector<JobRecord> records =
      WaitForJob(Sbatch("--array=0-2 " + array + " ising.yaml out.h5 4"));
  EXPECT_EQ(records.size(), 3u) << Describe(records);
  ASSERT_TRUE(AllCompleted(records)) << Describe(records) << Logs();
  const auto only_shards_0_to_2_done = [&] {
    const nlohmann::json status = Status();
    EXPECT_EQ(status["done"], 15) << status.dump();
    EXPECT_EQ(status["pending"], 5) << status.dump();
    const std::vector<uint8_t> chunks = ReadDataset<uint8_t>(dir_ / "out.h5", "/chunks/status");
    ASSERT_EQ(chunks.size(), 20u);
    for (size_t c = 0; c < chunks.size(); ++c) EXPECT_EQ(chunks[c], c % 4 == 3 ? 0 : 1) << c;
  };
  only_shards_0_to_2_done();

  // `--array=0` without the count: an array of one task 0-0, but out.h5 has 4 shards.
  records = WaitForJob(Sbatch("--array=0 " + array + " ising.yaml out.h5"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].exit_code, "2:0") << Describe(records);
  EXPECT_NE(Logs().find("started as 4 shards"), std::string::npos) << Logs();
  only_shards_0_to_2_done();

  records = WaitForJob(Sbatch("--array=3 " + array + " ising.yaml out.h5 4"));
  ASSERT_TRUE(AllCompleted(records)) << Describe(records) << Logs();
  EXPECT_EQ(Status()["pending"], 0);
  EXPECT_EQ(ResultsAndParams(dir_ / "out.h5"), ResultsAndParams(dir_ / "plain.h5"));
}

// `sbatch scripts/slurm/node.sbatch CONFIG OUTPUT`, requeued mid-way: it resumes.
TEST_F(SlurmTest, TheNodeTemplateRunsAndResumesAfterARequeue) {
  HeldConfig();
  ASSERT_NO_FATAL_FAILURE(RunRequeuedOnce(Template("node.sbatch") + " held.yaml out.h5"));
  EXPECT_EQ(ResultsAndParams(dir_ / "out.h5"), ResultsAndParams(dir_ / "plain.h5"));
  // One log for both runs: the requeue appended to it.
  const std::string logs = Logs();
  EXPECT_NE(logs.find("interrupted"), std::string::npos) << logs;
  EXPECT_NE(logs.find("done:"), std::string::npos) << logs;
}

// `sbatch --nodes=1 scripts/slurm/mpi.sbatch CONFIG OUTPUT` (the only node there is), requeued
// mid-way: it resumes with --mpi.
TEST_F(SlurmTest, TheMpiTemplateRunsAndResumesAfterARequeue) {
  const RunResult help = RunSweep({"run", "--help"}, dir_.path());
  // scripts/setup installs Open MPI, so a sweep without it here is a broken setup, not a skip.
  ASSERT_NE(help.out.find("--mpi"), std::string::npos)
      << "this sweep is built without MPI (`sweep run --help` lists no --mpi)";
  ASSERT_EQ(RunShell("command -v mpirun").code, 0) << "no mpirun on PATH";
  HeldConfig();
  // What a cluster's users need not: Open MPI as root, and more ranks than slots on a small node.
  const std::string environment =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "OMPI_MCA_rmaps_base_oversubscribe=1";
  ASSERT_NO_FATAL_FAILURE(
      RunRequeuedOnce("--nodes=1 " + Template("mpi.sbatch") + " held.yaml out.h5", environment));
  EXPECT_EQ(ResultsAndParams(dir_ / "out.h5"), ResultsAndParams(dir_ / "plain.h5"));
}

}  // namespace
}  // namespace sweep
