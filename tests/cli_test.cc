// End-to-end tests of the command line: exit codes, one-line errors, `plan`, `validate`,
// `kernels`, and that a bad config writes nothing.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Files in `dir` besides the captured stdout and stderr of the runs.
size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    n += name.rfind("stdout-", 0) != 0 && name.rfind("stderr-", 0) != 0;
  }
  return n;
}

struct BadConfig {
  const char* yaml;
  const char* where;     // "bad.yaml:LINE:" or "bad.yaml:LINE:COL:"
  const char* fragment;  // part of the message
};

// A sample through the real binary: the library's table (config_test.cc) has many more.
const BadConfig kBadConfigs[] = {
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {linspace: [0, 1]}\n",
     "bad.yaml:4:", "parameters.x.linspace"},
    {"name: x\nkernel: {name: square, optoins: {}}\nparameters:\n  x: 1\n",
     "bad.yaml:2:", "did you mean `options`"},
    {"name: x\nkernel: {name: nope}\nparameters:\n  x: 1\n",
     "bad.yaml:2:", "unknown kernel `nope`"},
    {"name: x\nkernel: {name: square}\nparameters:\n  y: 1\n",
     "bad.yaml:2:", "reads parameter `x`"},
    {"name: x\nkernel: {name: lorenz, options: {steps: many}}\nparameters:\n  sigma: 1\n  rho: 1\n "
     " beta: 1\n",
     "bad.yaml:2:", "kernel.options.steps"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {values: [1, 2]\n",
     "bad.yaml:5:1:", "YAML syntax error"},
    {"", "bad.yaml:1:", "empty"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {range: [0, 10]}\n  a: {range: [0, "
     "65536]}\n"
     "  b: {range: [0, 65536]}\n  c: {range: [0, 65536]}\n  d: {range: [0, 65536]}\n",
     "bad.yaml:", "more than 2^64 points"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {values: [1, 2]}\n  y: {values: "
     "[1]}\nzip: [[x, y]]\n",
     "bad.yaml:6:", "lengths differ"},
    {"name: x\nkernel: {name: array_sum}\nparameters:\n  scale: 1\n",
     "bad.yaml:2:", "needs input `data`"},
    {"name: x\nkernel: {name: array_sum}\ninputs:\n  data: {npy: missing.npy}\nparameters:\n  "
     "scale: 1\n",
     "bad.yaml:4:", "inputs.data"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: 1\nexecution: {workers: 0}\n",
     "bad.yaml:5:", "execution.workers"},
};

TEST(CliTest, BadConfigsExitTwoWithOneLineEachAndWriteNothing) {
  for (const BadConfig& bad : kBadConfigs) {
    SCOPED_TRACE(bad.yaml);
    TempDir dir;
    WriteFile(dir / "bad.yaml", bad.yaml);
    for (const char* command : {"validate", "run", "plan"}) {
      const RunResult r = RunSweep({command, "bad.yaml"}, dir.path());
      EXPECT_EQ(r.code, 2) << command << ": " << r.err;
      const std::vector<std::string> lines = Lines(r.err);
      ASSERT_FALSE(lines.empty());
      for (const std::string& line : lines) EXPECT_EQ(line.rfind("sweep: ", 0), 0u) << line;
      EXPECT_NE(r.err.find(std::string("sweep: ") + bad.where), std::string::npos)
          << command << ": " << r.err;
      EXPECT_NE(r.err.find(bad.fragment), std::string::npos) << command << ": " << r.err;
      // Nothing but the config itself is in the folder.
      EXPECT_EQ(FilesIn(dir.path()), 1u) << command;
      EXPECT_FALSE(std::filesystem::exists(dir / "results")) << command;
    }
  }
}

TEST(CliTest, ValidateReportsEveryProblemNotOnlyTheFirst) {
  TempDir dir;
  WriteFile(dir / "bad.yaml",
            "name: x\nkernel: {name: square}\nparameters:\n  x: {linspace: [0, 1]}\n"
            "execution: {workers: 0, schedule: sideways}\nrepeat: 0\n");
  const RunResult r = RunSweep({"validate", "bad.yaml"}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(Lines(r.err).size(), 4u) << r.err;
  const RunResult ok = RunSweep({"validate", SourcePath("configs/quickstart.yaml")}, dir.path());
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
}

TEST(CliTest, ATrillionPointSweepPlansInstantly) {
  TempDir dir;
  WriteFile(
      dir / "huge.yaml",
      "name: huge\nkernel: {name: lorenz}\nparameters:\n  sigma: {linspace: [0, 999, 1000]}\n"
      "  rho: {range: [0, 1000]}\n  beta: {logspace: [0, 3, 1000]}\n  extra: {values: [a, b]}\n"
      "repeat: 500\n");
  const auto start = std::chrono::steady_clock::now();
  const RunResult r = RunSweep({"plan", "huge.yaml", "--json"}, dir.path());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json plan = nlohmann::json::parse(r.out);
  EXPECT_EQ(plan["points"].get<uint64_t>(), 1'000'000'000'000u);
  EXPECT_LE(plan["chunks"].get<uint64_t>(), uint64_t{1} << 24);
  EXPECT_EQ(plan["dimensions"].size(), 5u);
  EXPECT_EQ(plan["outputs"][0]["bytes"].get<uint64_t>(), 24'000'000'000'000u);  // state: 3 doubles
  // Generous: a plan is arithmetic, this only guards against enumerating points.
  EXPECT_LT(seconds, 5.0);
  EXPECT_EQ(FilesIn(dir.path()), 1u);
}

// What is not a config file is refused at once, in one line, exit 2: a device that never ends,
// a folder, a file too large to be a config (rather than minutes of parsing and gigabytes).
TEST(CliTest, DevicesFoldersAndHugeFilesAreNotConfigs) {
  TempDir dir;
  WriteFile(dir / "huge.yaml", std::string((16 << 20) + 1, '#'));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/dev/zero", "/dev/zero: is not a regular file"},
      {"/dev/null", "/dev/null: is not a regular file"},
      {dir.path(), ": is a directory, not a config file"},
      {dir / "huge.yaml", "huge.yaml: is 16.0 MiB, over the limit of 16 MiB for a config"}};
  for (const auto& [path, message] : cases) {
    for (const char* command : {"validate", "plan", "run"}) {
      const RunResult r = RunSweep({command, path}, dir.path());
      EXPECT_EQ(r.code, 2) << command << " " << path << ": " << r.err;
      EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
  }
  EXPECT_EQ(FilesIn(dir.path()), 1u);
}

// Limits found by validate, not at file creation: the 32 dimensions an HDF5 dataset can have;
// and a NUL inside a string, which C strings downstream would cut silently.
TEST(CliTest, ValidateFindsWhatTheOutputFileCouldNotHold) {
  TempDir dir;
  std::string many = "name: many\nkernel: {name: square}\nparameters:\n  x: {values: [1]}\n";
  for (int i = 0; i < 33; ++i) many += "  a" + std::to_string(i) + ": {values: [1]}\n";
  WriteFile(dir / "many.yaml", many);
  WriteFile(dir / "nul.yaml",
            "name: nul\nkernel: {name: square}\nparameters:\n  x: {range: [0, 2]}\n"
            "  s: {values: [\"a\\0b\", c]}\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"many.yaml",
       "many.yaml:36:3: parameters.a31: output `y` would have 34 dimensions (34 of the sweep, 0 "
       "its own), over the limit of 32"},
      {"nul.yaml",
       "nul.yaml:5:16: parameters.s.values[0]: a NUL character inside a string is not supported"}};
  for (const auto& [file, message] : cases) {
    for (const char* command : {"validate", "run"}) {
      const RunResult r = RunSweep({command, file}, dir.path());
      EXPECT_EQ(r.code, 2) << command << " " << file << ": " << r.err;
      EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(FilesIn(dir.path()), 2u);
}

TEST(CliTest, UsageErrorsExitTwo) {
  TempDir dir;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"run"},
                                             {"run", "a.yaml", "-j", "zero"},
                                             {"run", "a.yaml", "--bogus"},
                                             {"rerun", "out.h5", "--chunks", "3-x"},
                                             {"kernels", "nope"},
                                             {"status", "missing.h5"}}) {
    const RunResult r = RunSweep(args, dir.path());
    std::string label;
    for (const auto& a : args) label += a + " ";
    EXPECT_EQ(r.code, 2) << label << r.err;
    EXPECT_EQ(r.err.rfind("sweep: ", 0), 0u) << label << r.err;
  }
  const RunResult missing = RunSweep({"run", "nope.yaml"}, dir.path());
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("cannot read nope.yaml"), std::string::npos) << missing.err;
}

TEST(CliTest, KernelsListsEveryBuiltinAndDescribesOne) {
  TempDir dir;
  const RunResult all = RunSweep({"kernels", "--json"}, dir.path());
  ASSERT_EQ(all.code, 0) << all.err;
  const nlohmann::json kernels = nlohmann::json::parse(all.out);
  std::vector<std::string> names;
  for (const auto& k : kernels) names.push_back(k["name"]);
  for (const char* expected :
       {"lorenz", "heat2d", "ising2d", "ridge", "blur", "option_mc", "square", "faulty"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  const RunResult one = RunSweep({"kernels", "lorenz"}, dir.path());
  ASSERT_EQ(one.code, 0);
  for (const char* fragment : {"parameters:", "sigma", "options:", "steps", "outputs", "lyapunov"})
    EXPECT_NE(one.out.find(fragment), std::string::npos) << fragment << "\n" << one.out;
}

TEST(CliTest, PlanShowsAxesChunksBytesAndMemory) {
  TempDir dir;
  const RunResult r = RunSweep({"plan", SourcePath("configs/heat2d.yaml"), "-j", "2"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* fragment : {"heat2d: kernel heat2d, 9 points", "axis alpha",
                               "chunks: 9 of 1 points (auto), for 2 workers", "/field_small",
                               "inputs: 512.0 KiB", "memory per worker: 2.0 KiB"})
    EXPECT_NE(r.out.find(fragment), std::string::npos) << fragment << "\n" << r.out;
}

// The memory a worker needs besides its kernel: one block of rows per output, a block being as many
// points as fit in 1 MiB of the widest output's rows, but never more than a chunk.
TEST(CliTest, PlanGivesTheWorkersBlockMemoryByTheBlockRule) {
  TempDir dir;
  const auto private_bytes = [&](const std::vector<std::string>& args) {
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out)["worker_private_bytes"].get<uint64_t>();
  };
  // heat2d: chunks of one point; 4 scalars and a 16 x 16 field of float64 a point.
  EXPECT_EQ(private_bytes({"plan", SourcePath("configs/heat2d.yaml"), "-j", "2", "--json"}),
            4 * 8 + 16 * 16 * 8);
  // square: one float64 a point, chunks of 10^6 points: 2^17 points fill the 1 MiB block.
  WriteFile(dir / "sq.yaml",
            "name: sq\nkernel: {name: square}\nparameters:\n  x: {range: [0, 1000000]}\n"
            "output: {path: sq.h5}\n");
  EXPECT_EQ(private_bytes({"plan", "sq.yaml", "--chunk-size", "1000000", "--json"}),
            uint64_t{1} << 20);
  EXPECT_EQ(private_bytes({"plan", "sq.yaml", "--chunk-size", "1000", "--json"}), 1000u * 8);
}

}  // namespace
}  // namespace sweep
