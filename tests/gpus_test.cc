// Tests of execution.gpus (driver/gpus.h): which devices a node has, which one each worker gets,
// and end to end, the real binary with a command kernel that prints its environment and a fake
// `nvidia-smi` on PATH. No GPU is needed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/gpus.h"
#include "io/config.h"
#include "io/journal.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// An environment as `environ` holds one.
class Environment {
 public:
  explicit Environment(std::vector<std::string> entries) : entries_(std::move(entries)) {
    for (std::string& e : entries_) pointers_.push_back(e.data());
    pointers_.push_back(nullptr);
  }
  char** get() { return pointers_.data(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> pointers_;
};

// An executable `nvidia-smi` in `folder` that prints `text` and exits with `code`.
void FakeNvidiaSmi(const std::string& folder, const std::string& text, int code = 0) {
  std::filesystem::create_directories(folder);
  const std::string path = folder + "/nvidia-smi";
  // Builtins only: the tests give it a PATH of this folder alone.
  WriteFile(path, "#!/bin/sh\n[ \"$1\" = -L ] || exit 9\nprintf '%s' '" + text + "'\nexit " +
                      std::to_string(code) + "\n");
  chmod(path.c_str(), 0755);
}

const char* const kTwoGpus =
    "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-5f1a0c1e-aaaa)\n"
    "  MIG 3g.20gb     Device  0: (UUID: MIG-0e8a-bbbb)\n"
    "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-9b3e77d2-cccc)\n";

ExecutionSpec Auto() {
  ExecutionSpec x;
  x.gpus = ExecutionSpec::Gpus::kAuto;
  return x;
}

TEST(GpusTest, NvidiaSmiListGivesTheIndicesOfWholeGpus) {
  EXPECT_EQ(ParseNvidiaSmiList(kTwoGpus), (std::vector<std::string>{"0", "1"}));
  EXPECT_TRUE(ParseNvidiaSmiList("").empty());
  EXPECT_TRUE(ParseNvidiaSmiList("No devices were found\n").empty());
  EXPECT_TRUE(ParseNvidiaSmiList("GPU x: odd\nGPU 12 no colon\n").empty());
  EXPECT_EQ(ParseNvidiaSmiList("GPU 12: big node"), (std::vector<std::string>{"12"}));
}

TEST(GpusTest, AutoTakesTheDriversVisibleDevicesFirst) {
  TempDir dir;
  FakeNvidiaSmi(dir / "bin", kTwoGpus);
  const std::string path = "PATH=" + (dir / "bin");
  Environment slurm({path, "CUDA_VISIBLE_DEVICES=2,3,GPU-abc"});
  EXPECT_EQ(NodeGpus(Auto(), slurm.get()), (std::vector<std::string>{"2", "3", "GPU-abc"}));
  // Slurm's and CUDA's ways of saying none: nvidia-smi is not asked.
  for (const char* none :
       {"CUDA_VISIBLE_DEVICES=", "CUDA_VISIBLE_DEVICES=-1", "CUDA_VISIBLE_DEVICES=NoDevFiles"}) {
    Environment env({path, none});
    EXPECT_TRUE(NodeGpus(Auto(), env.get()).empty()) << none;
  }
  Environment smi({path});
  EXPECT_EQ(NodeGpus(Auto(), smi.get()), (std::vector<std::string>{"0", "1"}));
  // nvidia-smi failing, or not there: none.
  FakeNvidiaSmi(dir / "broken", kTwoGpus, 6);
  Environment broken({"PATH=" + (dir / "broken")});
  EXPECT_TRUE(NodeGpus(Auto(), broken.get()).empty());
  Environment nothing({"PATH=" + (dir / "empty")});
  EXPECT_TRUE(NodeGpus(Auto(), nothing.get()).empty());
  // `none` and a list ignore the environment.
  ExecutionSpec x;
  EXPECT_TRUE(NodeGpus(x, slurm.get()).empty());
  x.gpus = ExecutionSpec::Gpus::kList;
  x.gpu_devices = {"5", "7"};
  EXPECT_EQ(NodeGpus(x, slurm.get()), (std::vector<std::string>{"5", "7"}));
}

TEST(GpusTest, WorkersTakeTheDevicesRoundRobinAndOnePerDeviceByDefault) {
  const std::vector<std::string> devices = {"3", "5"};
  EXPECT_EQ(GpuOf(devices, 0), "3");
  EXPECT_EQ(GpuOf(devices, 1), "5");
  EXPECT_EQ(GpuOf(devices, 2), "3");
  EXPECT_EQ(GpuOf({}, 4), "");
  EXPECT_EQ(GpuEnvironment("3"),
            (std::vector<std::string>{"CUDA_VISIBLE_DEVICES=3", "HIP_VISIBLE_DEVICES=3",
                                      "ROCR_VISIBLE_DEVICES=3", "ZE_AFFINITY_MASK=3"}));
  // Level Zero takes no UUID.
  EXPECT_EQ(GpuEnvironment("GPU-9b3e").size(), 3u);
  EXPECT_TRUE(GpuEnvironment("").empty());
  ExecutionSpec x;
  EXPECT_EQ(NodeWorkers(0, x, devices), 2);  // workers: auto
  EXPECT_EQ(NodeWorkers(5, x, devices), 5);  // -j
  x.workers = 3;
  EXPECT_EQ(NodeWorkers(0, x, devices), 3);
}

TEST(GpusTest, ConfigErrorsAreLocated) {
  const auto errors = [](const std::string& gpus) -> std::string {
    try {
      ParseConfig(
          "kernel: {name: lorenz}\nexecution:\n  gpus: " + gpus + "\nparameters: {rho: 28}\n",
          "g.yaml");
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(errors("auto"), "");
  EXPECT_EQ(errors("[0, 2, GPU-8c3f]"), "");
  EXPECT_NE(errors("all").find("g.yaml:3:9"), std::string::npos) << errors("all");
  EXPECT_NE(errors("all").find("execution.gpus"), std::string::npos) << errors("all");
  EXPECT_NE(errors("[0, 0]").find("listed twice"), std::string::npos) << errors("[0, 0]");
  EXPECT_NE(errors("[-1]").find("g.yaml:3:10"), std::string::npos) << errors("[-1]");
  EXPECT_NE(errors("['0,1']").find("without commas"), std::string::npos);
  EXPECT_NE(errors("[]").find("execution.gpus"), std::string::npos) << errors("[]");
  const Config c = ParseConfig(
      "kernel: {name: lorenz}\nexecution: {gpus: [1, GPU-x]}\nparameters: {rho: 28}\n", "g.yaml");
  EXPECT_EQ(c.execution.gpus, ExecutionSpec::Gpus::kList);
  EXPECT_EQ(c.execution.gpu_devices, (std::vector<std::string>{"1", "GPU-x"}));
}

// A command kernel that prints the devices its environment gives it, and its worker; the first
// attempt of point `crash` kills its worker (its parent).
std::string EnvConfig(const TempDir& dir, const std::string& execution, int crash = -1) {
  const std::string script = dir / "devices.sh";
  WriteFile(script,
            "#!/bin/sh\n"
            "if [ \"$1\" = \"" +
                std::to_string(crash) +
                "\" ] && mkdir \"$2/crashed\" 2>/dev/null; then kill -KILL $PPID; exit 1; fi\n"
                "echo \"cuda ${CUDA_VISIBLE_DEVICES:--1}\"\n"
                "echo \"hip ${HIP_VISIBLE_DEVICES:--1}\"\n"
                "echo \"rocr ${ROCR_VISIBLE_DEVICES:--1}\"\n"
                "echo \"ze ${ZE_AFFINITY_MASK:--1}\"\n"
                "echo \"rank $SWEEP_RANK\"\n");
  chmod(script.c_str(), 0755);
  const std::string config = dir / "g.yaml";
  WriteFile(config, "name: g\nkernel:\n  command: [" + script + ", '{point}', " + dir.path() +
                        "]\n  outputs: {cuda: int32, hip: int32, rocr: int32, ze: int32, "
                        "rank: int32}\nparameters:\n  x: {range: [0, 12]}\nexecution: " +
                        execution + "\noutput: {path: out.h5}\n");
  return config;
}

// `env` as a launcher: this environment without CUDA_VISIBLE_DEVICES, PATH led by `bin`.
std::vector<std::string> WithoutGpusExcept(const std::string& bin,
                                           const std::vector<std::string>& set = {}) {
  std::vector<std::string> launcher = {"/usr/bin/env", "-u", "CUDA_VISIBLE_DEVICES",
                                       "PATH=" + bin + ":" + std::getenv("PATH")};
  launcher.insert(launcher.end(), set.begin(), set.end());
  return launcher;
}

// The chunk table as `sweep export --chunks --format jsonl` gives it.
std::vector<nlohmann::json> ChunkRows(const TempDir& dir) {
  const RunResult r = RunSweep({"export", "out.h5", "--chunks", "--format", "jsonl"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  std::vector<nlohmann::json> rows;
  std::stringstream lines(r.out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

class GpusRun : public ::testing::TestWithParam<std::string> {};

// Each worker sees one device of the list, round robin, in every vendor's variable; a worker
// replaced after a crash keeps its device; /chunks and the journal record each chunk's device.
TEST_P(GpusRun, EachWorkerHasItsDeviceAndKeepsItWhenReplaced) {
  TempDir dir;
  // Static: chunk i is worker i % 3's, so point 6 is worker 0's, before and after its crash.
  const std::string config = EnvConfig(
      dir, "{workers: 3, chunk_size: 1, schedule: static, gpus: [3, 5], start: " + GetParam() + "}",
      6);
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path(), WithoutGpusExcept(dir / "bin"));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<int32_t> cuda = ReadDataset<int32_t>(dir / "out.h5", "/cuda");
  const std::vector<int32_t> rank = ReadDataset<int32_t>(dir / "out.h5", "/rank");
  const std::vector<int32_t> worker = ReadDataset<int32_t>(dir / "out.h5", "/chunks/worker");
  ASSERT_EQ(cuda.size(), 12u);
  for (const char* name : {"/hip", "/rocr", "/ze"})
    EXPECT_EQ(ReadDataset<int32_t>(dir / "out.h5", name), cuda) << name;
  const int devices[] = {3, 5};
  for (size_t p = 0; p < 12; ++p) {
    EXPECT_EQ(rank[p], worker[p]) << p;
    EXPECT_EQ(cuda[p], devices[worker[p] % 2]) << "point " << p << ", worker " << worker[p];
  }
  // Point 6 crashed worker 0; its replacement computed it, on the same device.
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].chunk, 6u);
  EXPECT_EQ(failed[0].worker, 0);
  EXPECT_EQ(cuda[6], 3);
  const std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].hosts.devices, (std::vector<std::string>{"3", "5", "3"}));
  const std::vector<nlohmann::json> rows = ChunkRows(dir);
  ASSERT_EQ(rows.size(), 12u);
  for (size_t c = 0; c < 12; ++c) {
    EXPECT_EQ(rows[c]["device"], std::to_string(devices[worker[c] % 2])) << rows[c];
    if (c == 6) {
      EXPECT_EQ(rows[c]["attempts"], 2) << rows[c];
    }
  }
  // The report's timeline names each worker's device.
  ASSERT_EQ(RunSweep({"report", "out.h5"}, dir.path()).code, 0);
  const std::string report = ReadFile(dir / "out.h5.report.html");
  // Each row names its worker's device (a bar's own title may be merged with its neighbours').
  for (const char* row : {"worker 0 GPU 3", "worker 1 GPU 5", "worker 2 GPU 3"})
    EXPECT_NE(report.find(row), std::string::npos) << row;
}

INSTANTIATE_TEST_SUITE_P(Gpus, GpusRun, ::testing::Values("spawn", "fork", "forkserver"));

// `auto` with `workers: auto`: one worker per device nvidia-smi lists; the driver's own
// CUDA_VISIBLE_DEVICES (as Slurm's --gpus sets it) wins over nvidia-smi; with neither, no device
// and the workers' environment is left alone.
TEST(GpusTest, AutoFindsTheNodesDevices) {
  TempDir dir;
  FakeNvidiaSmi(dir / "bin", kTwoGpus);
  const std::string config = EnvConfig(dir, "{chunk_size: 1, gpus: auto}");
  RunResult r = RunSweep({"run", config, "-q"}, dir.path(), WithoutGpusExcept(dir / "bin"));
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].workers, 2);
  std::vector<int32_t> cuda = ReadDataset<int32_t>(dir / "out.h5", "/cuda");
  std::vector<int32_t> rank = ReadDataset<int32_t>(dir / "out.h5", "/rank");
  for (size_t p = 0; p < 12; ++p) EXPECT_EQ(cuda[p], rank[p]) << p;

  r = RunSweep({"run", config, "-q", "--force"}, dir.path(),
               WithoutGpusExcept(dir / "bin", {"CUDA_VISIBLE_DEVICES=7"}));
  ASSERT_EQ(r.code, 0) << r.err;
  started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_FALSE(started.empty());
  EXPECT_EQ(started.back().workers, 1);
  for (int32_t d : ReadDataset<int32_t>(dir / "out.h5", "/cuda")) EXPECT_EQ(d, 7);

  r = RunSweep({"run", config, "-q", "--force", "-j", "2"}, dir.path(),
               WithoutGpusExcept(dir / "nothing", {"ZE_AFFINITY_MASK=9"}));
  ASSERT_EQ(r.code, 0) << r.err;
  for (int32_t d : ReadDataset<int32_t>(dir / "out.h5", "/cuda")) EXPECT_EQ(d, -1);
  for (int32_t d : ReadDataset<int32_t>(dir / "out.h5", "/ze")) EXPECT_EQ(d, 9);
  for (const nlohmann::json& row : ChunkRows(dir)) EXPECT_TRUE(row["device"].is_null()) << row;
}

}  // namespace
}  // namespace sweep
