// Tests of driver/thread_limits.h: the thread-count variables every worker starts with, unit by
// unit and as a kernel sees them (a command kernel's program printing its environment, under
// every start method), and `sweep plan` showing the setting.
#include "driver/thread_limits.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

TEST(ThreadLimitsTest, EveryVariableUnsetGetsTheSetting) {
  char* none[] = {const_cast<char*>("PATH=/bin"), nullptr};
  EXPECT_EQ(ThreadSettings(1, none),
            (std::vector<std::string>{"OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1",
                                      "MKL_NUM_THREADS=1", "NUMEXPR_NUM_THREADS=1"}));
  EXPECT_EQ(DescribeThreads(1, none),
            "1 (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMEXPR_NUM_THREADS)");
}

TEST(ThreadLimitsTest, AVariableTheUserSetIsTheirs) {
  // A name that only starts like one of them is not it.
  char* some[] = {const_cast<char*>("OMP_NUM_THREADS=4"), const_cast<char*>("MKL_NUM_THREADS_X=9"),
                  const_cast<char*>("MKL_NUM_THREADS="), nullptr};
  EXPECT_EQ(ThreadSettings(2, some),
            (std::vector<std::string>{"OPENBLAS_NUM_THREADS=2", "NUMEXPR_NUM_THREADS=2"}));
  const std::vector<ThreadVariable> v = WorkerThreadVariables(2, some);
  ASSERT_EQ(v.size(), 4u);
  EXPECT_TRUE(v[0].from_environment);
  EXPECT_EQ(v[0].value, "4");
  EXPECT_TRUE(v[2].from_environment);  // set, if empty: the user's choice
  EXPECT_EQ(v[2].value, "");
  EXPECT_EQ(DescribeThreads(2, some),
            "2 (OPENBLAS_NUM_THREADS, NUMEXPR_NUM_THREADS); OMP_NUM_THREADS=4, MKL_NUM_THREADS= "
            "from the environment");
}

// A program that prints the four variables as outputs, -1 for one that is unset.
std::string EnvConfig(const TempDir& dir, const std::string& start, const std::string& more) {
  WriteFile(dir / "threads.sh",
            "#!/bin/sh\n"
            "echo \"omp ${OMP_NUM_THREADS:--1}\"\n"
            "echo \"openblas ${OPENBLAS_NUM_THREADS:--1}\"\n"
            "echo \"mkl ${MKL_NUM_THREADS:--1}\"\n"
            "echo \"numexpr ${NUMEXPR_NUM_THREADS:--1}\"\n");
  chmod((dir / "threads.sh").c_str(), 0755);
  const std::string path = dir / "threads.yaml";
  WriteFile(path,
            "name: threads\nkernel:\n  command: [./threads.sh]\n"
            "  outputs: {omp: int64, openblas: int64, mkl: int64, numexpr: int64}\n"
            "parameters:\n  x: {range: [0, 4]}\n"
            "execution: {workers: 2, chunk_size: 1, start: " +
                start + more + "}\noutput: {path: out.h5}\n");
  return path;
}

// `env -u` of every variable: the test's own environment must not decide the outcome.
std::vector<std::string> WithoutThreadVariables(const std::vector<std::string>& set = {}) {
  std::vector<std::string> launcher = {"/usr/bin/env"};
  for (const char* name : kThreadVariables) launcher.insert(launcher.end(), {"-u", name});
  launcher.insert(launcher.end(), set.begin(), set.end());
  return launcher;
}

class ThreadsSeenByAKernel : public ::testing::TestWithParam<std::string> {};

TEST_P(ThreadsSeenByAKernel, DefaultOneSettingAndTheUsersOwn) {
  TempDir dir;
  const std::string config = EnvConfig(dir, GetParam(), "");
  RunResult r = RunSweep({"run", config, "-q"}, dir.path(), WithoutThreadVariables());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* output : {"/omp", "/openblas", "/mkl", "/numexpr"})
    EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", output), std::vector<int64_t>(4, 1)) << output;

  // execution.threads: 3, and OMP_NUM_THREADS set by the user, which wins.
  const std::string three = EnvConfig(dir, GetParam(), ", threads: 3");
  r = RunSweep({"run", three, "-q", "--force"}, dir.path(),
               WithoutThreadVariables({"OMP_NUM_THREADS=5"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", "/omp"), std::vector<int64_t>(4, 5));
  for (const char* output : {"/openblas", "/mkl", "/numexpr"})
    EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", output), std::vector<int64_t>(4, 3)) << output;
}

INSTANTIATE_TEST_SUITE_P(Start, ThreadsSeenByAKernel,
                         ::testing::Values("spawn", "fork", "forkserver"),
                         [](const ::testing::TestParamInfo<std::string>& start) {
                           return start.param;
                         });

// `rerun --inline` computes in the driver, which takes the same settings.
TEST(ThreadLimitsTest, AnInlineRerunSeesTheSameSettings) {
  TempDir dir;
  const std::string config = EnvConfig(dir, "spawn", ", threads: 2");
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path(), WithoutThreadVariables()).code, 0);
  const RunResult r = RunSweep({"rerun", "out.h5", "--points", "1,2", "--inline", "-q"}, dir.path(),
                               WithoutThreadVariables({"MKL_NUM_THREADS=7"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", "/mkl"), (std::vector<int64_t>{2, 7, 7, 2}));
  EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", "/omp"), std::vector<int64_t>(4, 2));
}

TEST(ThreadLimitsTest, PlanShowsTheSetting) {
  TempDir dir;
  const std::string config = EnvConfig(dir, "spawn", ", threads: 4");
  RunResult r =
      RunSweep({"plan", config}, dir.path(), WithoutThreadVariables({"OPENBLAS_NUM_THREADS=8"}));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("  threads per worker: 4 (OMP_NUM_THREADS, MKL_NUM_THREADS, "
                       "NUMEXPR_NUM_THREADS); OPENBLAS_NUM_THREADS=8 from the environment\n"),
            std::string::npos)
      << r.out;
  r = RunSweep({"plan", config, "--json"}, dir.path(),
               WithoutThreadVariables({"OPENBLAS_NUM_THREADS=8"}));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["threads"]["per_worker"], 4);
  EXPECT_EQ(j["threads"]["variables"]["OMP_NUM_THREADS"]["value"], "4");
  EXPECT_EQ(j["threads"]["variables"]["OMP_NUM_THREADS"]["from"], "execution.threads");
  EXPECT_EQ(j["threads"]["variables"]["OPENBLAS_NUM_THREADS"]["value"], "8");
  EXPECT_EQ(j["threads"]["variables"]["OPENBLAS_NUM_THREADS"]["from"], "environment");
}

TEST(ThreadLimitsTest, ZeroOrAHugeCountIsAConfigError) {
  TempDir dir;
  for (const std::string threads : {"0", "1000000000000000000", "auto", "1.5"}) {
    const std::string config = EnvConfig(dir, "spawn", ", threads: " + threads);
    const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
    EXPECT_EQ(r.code, 2) << threads << ": " << r.err;
    EXPECT_NE(r.err.find("threads.yaml:7:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("execution.threads"), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  }
}

}  // namespace
}  // namespace sweep
