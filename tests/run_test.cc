// End-to-end tests of `sweep run`: the real binary on real configs, the HDF5 file read back.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <sys/resource.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>

#include "driver/worker_set.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::string SquareConfig(const TempDir& dir, uint64_t points, const std::string& execution) {
  const std::string path = dir / "square.yaml";
  WriteFile(path, "name: square\nkernel: {name: square}\nparameters:\n  x: {range: [0, " +
                      std::to_string(points) + "]}\nexecution: " + execution +
                      "\noutput: {path: out.h5}\n");
  return path;
}

// Ising is seeded per point: equal results across runs prove the seeds do not depend on
// workers, chunks or order.
std::string IsingConfig(const TempDir& dir, int temperatures,
                        const std::string& name = "ising.yaml") {
  const std::string path = dir / name;
  WriteFile(
      path,
      "name: ising\nseed: 9\nkernel: {name: ising2d, options: {L: 8, sweeps: 60, burn_in: 10}}\n"
      "parameters:\n  T: {linspace: [1.5, 3.5, " +
          std::to_string(temperatures) +
          "]}\n  tag: {values: [a, b]}\nrepeat: 2\n"
          "output: {path: out.h5}\n");
  return path;
}

void ExpectNoLeftovers(const RunResult& r) {
  EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << "a worker outlived its run";
}

class SquareTenMillion : public ::testing::TestWithParam<std::string> {};

TEST_P(SquareTenMillion, EveryPointIsWrittenCorrectly) {
  TempDir dir;
  const std::string config =
      SquareConfig(dir, 10'000'000, "{workers: 2, start: " + GetParam() + "}");
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectNoLeftovers(r);
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  // x is one range axis: its coordinate variable, deferred at this length (written with the
  // chunks), is x at every point.
  const std::vector<int64_t> x = ReadDataset<int64_t>(dir / "out.h5", "/x");
  ASSERT_EQ(y.size(), 10'000'000u);
  ASSERT_EQ(x.size(), 10'000'000u);
  uint64_t wrong = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double xi = double(x[i]);
    wrong += !(x[i] == int64_t(i) && y[i] == xi * xi);
  }
  EXPECT_EQ(wrong, 0u);
  const std::vector<uint8_t> status = ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status");
  EXPECT_EQ(std::count(status.begin(), status.end(), 1), long(status.size()));
}

INSTANTIATE_TEST_SUITE_P(Start, SquareTenMillion, ::testing::Values("spawn", "fork", "forkserver"));

TEST(RunTest, ResultsDoNotDependOnWorkersChunksStartOrSchedule) {
  TempDir dir;
  const std::string config = IsingConfig(dir, 60);
  const RunResult base = RunSweep({"run", config, "-q", "-j", "1"}, dir.path());
  ASSERT_EQ(base.code, 0) << base.err;
  const auto expected = ResultsAndParams(dir / "out.h5");
  ASSERT_EQ(expected.size(), 8u);  // 4 outputs, the coordinates T, tag and replicate, tag_strlen
  const std::vector<std::vector<std::string>> variants = {
      {"-j", "2"},
      {"-j", "3"},
      {"-j", "2", "--chunk-size", "1"},
      {"-j", "3", "--chunk-size", "7"},
      {"-j", "2", "--chunk-size", "1000"},
      {"-j", "2", "--set", "execution.start=fork"},
      {"-j", "3", "--set", "execution.schedule=static", "--chunk-size", "5"},
      {"-j", "2", "--set", "execution.start=fork", "--set", "execution.schedule=static"},
      {"-j", "2", "--set", "execution.start=forkserver"},
      {"-j", "3", "--set", "execution.start=forkserver", "--chunk-size", "7"},
  };
  for (const auto& variant : variants) {
    std::vector<std::string> args = {"run", config, "-q", "--force"};
    args.insert(args.end(), variant.begin(), variant.end());
    const RunResult r = RunSweep(args, dir.path());
    std::string label;
    for (const auto& a : variant) label += a + " ";
    ASSERT_EQ(r.code, 0) << label << r.err;
    ExpectNoLeftovers(r);
    EXPECT_EQ(ResultsAndParams(dir / "out.h5"), expected) << label;
  }
}

TEST(RunTest, SameSweepGivesTheSameBytesInResults) {
  TempDir dir;
  const std::string config = IsingConfig(dir, 10);
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "a.h5"}, dir.path()).code, 0);
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "b.h5"}, dir.path()).code, 0);
  const auto a = ResultsAndParams(dir / "a.h5");
  // The outputs, the coordinates T, tag and replicate, and tag's text width tag_strlen.
  ASSERT_EQ(a.size(), 8u);
  EXPECT_EQ(a, ResultsAndParams(dir / "b.h5"));
}

// Summed PSS of 4 workers sharing a 256 MiB input: one copy, plus a little per worker.
TEST(RunTest, WorkersShareOneCopyOfTheInput) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = dir / "share.yaml";
  // Each of the 4 workers reads the whole input, then holds its point at the gate: measured while
  // all four hold it, however long they took to start.
  WriteFile(config,
            "name: share\nkernel: {name: faulty, options: {read_input: 1, " + gate.Options(0) +
                "}}\ninputs:\n  data: {generate: uniform, shape: [33554432], seed: 1}\n"  // 256 MiB
                "parameters:\n  i: {range: [0, 4]}\n"
                "execution: {workers: 4, chunk_size: 1}\noutput: {path: out.h5}\n");
  SweepProcess run({"run", config, "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(4)) << run.err();
  const uint64_t input_kib = 256 * 1024;
  std::map<pid_t, std::pair<uint64_t, uint64_t>> rss_pss;  // KiB
  for (const auto& [pid, point] : gate.Held()) {
    const std::string rollup = ReadFile("/proc/" + std::to_string(pid) + "/smaps_rollup");
    auto field = [&](const std::string& key) -> uint64_t {
      const size_t at = rollup.find("\n" + key + ":");
      return at == std::string::npos ? 0 : std::stoull(rollup.substr(at + key.size() + 2));
    };
    rss_pss[pid] = {field("Rss"), field("Pss")};
  }
  ASSERT_EQ(rss_pss.size(), 4u) << "workers not found";
  uint64_t pss = 0;
  for (auto& [pid, m] : rss_pss) {
    EXPECT_GE(m.first, input_kib) << "worker " << pid << " has not mapped the whole input";
    pss += m.second;
  }
  std::printf("summed PSS of 4 workers: %.1f MiB for a 256 MiB input\n", double(pss) / 1024);
  // Each worker's RSS holds the whole input, but the proportional sum is about one copy: the
  // pages are shared. The driver maps it too, so the four workers' share is at most one copy.
  EXPECT_LE(pss, input_kib + 4 * 30 * 1024) << "summed PSS " << pss << " KiB";
  EXPECT_GE(pss, input_kib / 2) << "summed PSS " << pss << " KiB";
  gate.Open();
  EXPECT_EQ(run.Wait(), 0) << run.err();
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status"), std::vector<uint8_t>(4, 1));
}

TEST(RunTest, ProgressLinesAndSummaryInBatchLogs) {
  TempDir dir;
  const RunResult r = RunSweep({"run", IsingConfig(dir, 20), "-j", "2"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("80/80 points (100.0%)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("done: 80 of 80 points"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("workers busy 0:"), std::string::npos) << r.out;
  const RunResult json =
      RunSweep({"run", IsingConfig(dir, 20), "-j", "2", "--json", "--force"}, dir.path());
  ASSERT_EQ(json.code, 0) << json.err;
  EXPECT_NE(json.out.find("{\"chunks_done\":"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"event\":\"finished\""), std::string::npos) << json.out;
  const RunResult quiet = RunSweep({"run", IsingConfig(dir, 20), "--force", "-q"}, dir.path());
  EXPECT_EQ(quiet.out, "");
}

TEST(RunTest, AnExistingOutputIsNotReplacedWithoutForce) {
  TempDir dir;
  const std::string config = IsingConfig(dir, 4);
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  const std::string before = ReadFile(dir / "out.h5");
  const RunResult again = RunSweep({"run", config, "-q"}, dir.path());
  EXPECT_EQ(again.code, 2);
  EXPECT_NE(again.err.find("exists; use --force"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFile(dir / "out.h5"), before);
}

// `name` is optional: a config without it is named after its file, and so is its output; the
// config stored in that output still reads back for a resume and a rerun, to the same bytes.
TEST(RunTest, AConfigWithoutANameIsNamedAfterItsFile) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sweeps");
  WriteFile(dir / "sweeps/chaos-2.yaml",
            "seed: 4\nkernel: {name: ising2d, options: {L: 8, sweeps: 20, burn_in: 5}}\n"
            "parameters:\n  T: {linspace: [1.5, 3.5, 12]}\nexecution: {chunk_size: 2}\n");
  const RunResult plan = RunSweep({"plan", "sweeps/chaos-2.yaml", "--json"}, dir.path());
  ASSERT_EQ(plan.code, 0) << plan.err;
  const nlohmann::json planned = nlohmann::json::parse(plan.out);
  EXPECT_EQ(planned["name"], "chaos-2");
  EXPECT_EQ(planned["output_path"], dir / "sweeps/results/chaos-2.h5");

  const RunResult run = RunSweep({"run", "sweeps/chaos-2.yaml", "-q", "-j", "2"}, dir.path());
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string output = dir / "sweeps/results/chaos-2.h5";
  const auto results = ResultsAndParams(output);
  ASSERT_EQ(results.count("/magnetisation"), 1u);
  EXPECT_EQ(results.at("/magnetisation").size(), 12 * sizeof(double));
  const RunResult rerun = RunSweep({"rerun", output, "--chunks", "0-5", "-q"}, dir.path());
  EXPECT_EQ(rerun.code, 0) << rerun.err;
  EXPECT_EQ(RunSweep({"resume", output, "-q"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(output), results);
}

// A spawned worker rebuilds the sweep from the job description (io/config_json.h) that the driver
// hands it, read here from a live worker's job descriptor: never from the YAML, whose parsing
// would cost every worker as much as the driver.
TEST(RunTest, SpawnedWorkersGetTheSweepsDescriptionNotItsYaml) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = dir / "marked.yaml";
  WriteFile(config,
            "# only-in-the-yaml: a comment no description carries\n"
            "name: marked\nkernel: {name: faulty, options: {" +
                gate.Options(0) +
                "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
                "parameters:\n  i: {range: [0, 40]}\n  tag: {values: [only-in-the-values]}\n"
                "execution: {workers: 2, start: spawn, chunk_size: 1}\noutput: {path: out.h5}\n");
  SweepProcess run({"run", config, "-q"}, dir.path());
  // A worker holding its point is alive, and read its job.
  ASSERT_TRUE(gate.WaitHeld(1)) << run.err();
  const std::string proc = "/proc/" + std::to_string(gate.Held().front().first);
  const std::string job_fd = "/fd/" + std::to_string(kWorkerFirstPassedFd + 1);
  std::error_code error;
  ASSERT_NE(std::filesystem::read_symlink(proc + job_fd, error).string().find("sweep-job"),
            std::string::npos);
  const std::string job = ReadFile(proc + job_fd);
  const std::string libraries = ReadFile(proc + "/maps");
  gate.Open();
  ASSERT_FALSE(job.empty()) << "no spawned worker with a job found";
  EXPECT_EQ(run.Wait(), 0) << run.err();
  EXPECT_EQ(job.find("only-in-the-yaml"), std::string::npos) << job;
  EXPECT_EQ(job.find("config_text"), std::string::npos) << job;
  const nlohmann::json parsed = nlohmann::json::parse(job);
  EXPECT_EQ(parsed.at("sweep").at("format"), "sweep-job/1") << job;
  EXPECT_NE(job.find("only-in-the-values"), std::string::npos) << job;
  // Nor could it parse YAML: sweep-worker does not even load the parser (nor HDF5).
  EXPECT_NE(libraries.find("sweep-worker"), std::string::npos) << libraries;
  EXPECT_EQ(libraries.find("libyaml-cpp"), std::string::npos) << libraries;
  EXPECT_EQ(libraries.find("libhdf5"), std::string::npos) << libraries;
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status"), std::vector<uint8_t>(40, 1));
}

// A 10 MB config (a list of 500,000 numbers) is parsed once, by the driver: two spawned workers
// start from its description and give the same file as one.
TEST(RunTest, ATenMegabyteConfigRunsOnTwoWorkersAsOnOne) {
  TempDir dir;
  const std::string config = dir / "big.yaml";
  std::string yaml = "name: big\nseed: 3\nkernel: {name: square}\nparameters:\n  x: {values: [";
  std::mt19937_64 random(1);
  std::vector<double> xs;
  for (int i = 0; i < 500'000; ++i) {
    xs.push_back(std::uniform_real_distribution<double>(-1, 1)(random));
    yaml += fmt::format("{}{}", i ? ", " : "", xs.back());
  }
  yaml += "]}\nexecution: {start: spawn}\noutput: {path: out.h5}\n";
  ASSERT_GT(yaml.size(), 10'000'000u);
  WriteFile(config, yaml);
  const RunResult one = RunSweep({"run", config, "-q", "-j", "1", "-o", "one.h5"}, dir.path());
  ASSERT_EQ(one.code, 0) << one.err;
  const RunResult two = RunSweep({"run", config, "-q", "-j", "2", "-o", "two.h5"}, dir.path());
  ASSERT_EQ(two.code, 0) << two.err;
  ExpectNoLeftovers(two);
  const auto expected = ResultsAndParams(dir / "one.h5");
  ASSERT_EQ(expected.size(), 2u);  // y and the coordinate x
  EXPECT_TRUE(expected == ResultsAndParams(dir / "two.h5"));
  EXPECT_EQ(ReadDataset<double>(dir / "two.h5", "/x"), xs);
  const std::vector<double> y = ReadDataset<double>(dir / "two.h5", "/y");
  ASSERT_EQ(y.size(), xs.size());
  for (size_t i : {size_t{0}, size_t{1}, xs.size() / 2, xs.size() - 1})
    EXPECT_EQ(y[i], xs[i] * xs[i]) << "point " << i;
}

// max_rss in /chunks is what the worker and its programs used since the worker started, never the
// driver's: Linux keeps ru_maxrss across exec, so a worker spawned by a driver grown large (here
// by a 320 MB input it generated and hashed) reported the driver's peak on every chunk. A kernel
// that needs 200 MiB, in the worker or in a program it runs, records at least that.
TEST(RunTest, MaxRssIsTheWorkersMemoryNotTheDrivers) {
  TempDir dir;
  WriteFile(dir / "small.yaml",
            "name: small\nkernel: {name: faulty}\n"
            "inputs: {data: {generate: uniform, shape: [40000000], seed: 1}}\n"
            "parameters: {i: {range: [0, 6]}}\nexecution: {workers: 2, chunk_size: 1}\n"
            "output: {path: small.h5}\n");
  RunResult r = RunSweep({"run", "small.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  struct rusage children {};
  getrusage(RUSAGE_CHILDREN, &children);
  ASSERT_GE(uint64_t(children.ru_maxrss) * 1024, uint64_t{300} << 20)
      << "the driver did not grow: the test shows nothing";
  const std::vector<uint64_t> small = ReadDataset<uint64_t>(dir / "small.h5", "/chunks/max_rss");
  ASSERT_EQ(small.size(), 6u);
  for (uint64_t bytes : small) {
    EXPECT_GT(bytes, uint64_t{1} << 20);
    EXPECT_LT(bytes, uint64_t{100} << 20) << "the driver's peak, not the worker's";
  }

  // 200 MiB of output per point: the worker's block buffer holds it.
  WriteFile(dir / "big.yaml",
            "name: big\nkernel: {name: fill, options: {bytes: 209715200}}\n"
            "parameters: {x: {values: [1.5, 2.5]}}\nexecution: {workers: 1, chunk_size: 1}\n"
            "output: {path: big.h5}\n");
  r = RunSweep({"run", "big.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (uint64_t bytes : ReadDataset<uint64_t>(dir / "big.h5", "/chunks/max_rss"))
    EXPECT_GE(bytes, uint64_t{200} << 20);
  std::filesystem::remove(dir / "big.h5");

  // A program of a command kernel that touches 200 MiB.
  WriteFile(dir / "program.yaml",
            "name: program\nkernel:\n  command: [" + std::string(kPython) +
                ", -c, \"b = bytearray({n} << 20); b[::4096] = b'x' * len(b[::4096]); "
                "print('{{\\\"y\\\": 1}}')\"]\n  outputs: {y: float64}\n"
                "parameters: {n: {values: [200, 201]}}\nexecution: {workers: 1, chunk_size: 1}\n"
                "output: {path: program.h5}\n");
  r = RunSweep({"run", "program.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (uint64_t bytes : ReadDataset<uint64_t>(dir / "program.h5", "/chunks/max_rss"))
    EXPECT_GE(bytes, uint64_t{200} << 20);
}

// `sweep ARGS` in `dir`: its exit code and its peak resident memory in bytes (ru_maxrss, taken by
// a small Python parent so the test's own memory is not counted).
std::pair<int, uint64_t> CodeAndPeakOf(const std::vector<std::string>& args, const TempDir& dir) {
  std::string command =
      std::string(kPython) +
      " -c 'import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], "
      "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
      "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' " +
      SWEEP_BINARY;
  for (const std::string& a : args) command += " '" + a + "'";
  EXPECT_EQ(Shell("cd " + dir.path() + " && " + command + " > peak.txt"), 0);
  std::istringstream text(ReadFile(dir / "peak.txt"));
  int code = -1;
  uint64_t kib = 0;
  text >> code >> kib;
  return {code, kib * 1024};
}

// Inputs are sized from their headers: `validate` and `plan` of a 2 GiB chunked dataset never
// written (1.4 KB on disk) read no data (they read it all into memory, 12 s), and `run` refuses an
// input that would not fit in memory, located, exit 2, giving both sizes, before allocating or
// writing anything (an 8 PiB dataset or generated array was allocated until memory ran out).
TEST(RunTest, InputsLargerThanMemoryAreRefusedBeforeAnythingIsAllocated) {
  TempDir dir;
  WriteFile(dir / "make.py",
            "import h5py, sys\n"
            "with h5py.File(sys.argv[1], 'w') as f:\n"
            "    f.create_dataset('d', (int(sys.argv[2]),), 'f8', chunks=(1 << 16,))\n");
  ASSERT_EQ(Shell("cd " + dir.path() + " && " + kPython + " make.py sparse-input.h5 " +
                  std::to_string(uint64_t{1} << 28) + " && " + kPython + " make.py huge-input.h5 " +
                  std::to_string(uint64_t{1} << 50)),
            0);
  ASSERT_LT(std::filesystem::file_size(dir / "sparse-input.h5"), 1u << 20);
  auto config = [&](const std::string& name, const std::string& input) {
    WriteFile(dir / (name + ".yaml"), "name: " + name +
                                          "\nkernel: {name: faulty}\ninputs:\n  data: " + input +
                                          "\nparameters: {i: {range: [0, 4]}}\n"
                                          "output: {path: " +
                                          name + ".h5}\n");
    return name + ".yaml";
  };
  const std::string sparse = config("sparse", "{hdf5: sparse-input.h5, dataset: d}");
  for (const char* command : {"validate", "plan"}) {
    const auto [code, peak] = CodeAndPeakOf({command, sparse}, dir);
    EXPECT_EQ(code, 0) << command;
    EXPECT_LT(peak, uint64_t{512} << 20) << command << " read the 2 GiB dataset";
  }
  for (const auto& [name, input, what] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"huge", "{hdf5: huge-input.h5, dataset: d}",
            "it is an HDF5 dataset that cannot be mapped (chunked, compressed, or not in native "
            "byte order), read into memory"},
           {"generated", "{generate: uniform, shape: [1125899906842624]}",
            "it is generated into memory"}}) {
    const std::string file = config(name, input);
    const RunResult r = RunSweep({"run", file, "-q"}, dir.path());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(file + ":4:3: inputs.data: needs 8.0 PiB of memory (" + what +
                         "); with the other inputs copied into memory and the workers' result "
                         "blocks the run needs 8.0 PiB, but this machine has "),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find(" available (free memory and swap, within its cgroup's limit)"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / (name + ".h5")));
    EXPECT_FALSE(std::filesystem::exists(dir / (name + ".h5.lock")));
    const auto [code, peak] = CodeAndPeakOf({"run", file, "-q"}, dir);
    EXPECT_EQ(code, 2);
    EXPECT_LT(peak, uint64_t{512} << 20);
  }
}

// `rerun --points 0-100000000` of a 300-point output is checked before it is expanded: the first
// point that does not exist is named at once, in little memory (it took 10 s and 1.5 GB first).
TEST(RunTest, ARerunRangeBeyondTheSweepIsRefusedBeforeItIsExpanded) {
  TempDir dir;
  WriteFile(dir / "c.yaml",
            "name: c\nkernel: {name: square}\nparameters: {x: {range: [0, 300]}}\n"
            "execution: {chunk_size: 10}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "c.yaml", "-q"}, dir.path()).code, 0);
  std::filesystem::remove(dir / "out.h5.lock");  // a refusal leaves none it made
  for (const char* range : {"0-100000000", "5,290-18446744073709551615"}) {
    const RunResult r = RunSweep({"rerun", "out.h5", "--points", range, "-q"}, dir.path());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err, "sweep: --points: point 300 does not exist (the sweep has 300)\n");
    const auto [code, peak] = CodeAndPeakOf({"rerun", "out.h5", "--points", range, "-q"}, dir);
    EXPECT_EQ(code, 2);
    EXPECT_LT(peak, uint64_t{200} << 20);
  }
  const RunResult chunks =
      RunSweep({"rerun", "out.h5", "--chunks", "25-99999999999", "-q"}, dir.path());
  EXPECT_EQ(chunks.code, 2);
  EXPECT_EQ(chunks.err, "sweep: --chunks: chunk 30 does not exist (the sweep has 30)\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.lock"));
  EXPECT_EQ(RunSweep({"rerun", "out.h5", "--points", "295-299", "-q"}, dir.path()).code, 0);
}

// A command whose argument is over the system's limit (a 200 KB parameter) fails its point
// saying which limit and the sizes (it said "cannot run" and no errno), and the point's
// parameters are shown cut, in the run's line and in `status` (which showed "point 0 ()": the
// journal record, too large, had dropped them).
TEST(RunTest, AnArgumentOverTheSystemsLimitIsNamedWithItsSize) {
  TempDir dir;
  const std::string big(200 << 10, 'a');
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [/bin/echo, '{s}']\n  outputs: {y: float64}\n"
            "parameters: {s: {values: [" +
                big + "]}}\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err.substr(0, 2000);
  const std::string shown = "point 0 (s=" + std::string(200, 'a') + "... (204800 bytes))";
  EXPECT_NE(r.err.find("chunk 0, " + shown +
                       ": command `/bin/echo`: cannot run /bin/echo: Argument list too long "
                       "(E2BIG): its longest argument or environment string is 204801 bytes, of "
                       "at most 131072 for one"),
            std::string::npos)
      << r.err.substr(0, 2000);
  EXPECT_LT(r.err.size(), 4000u) << "the argument was printed whole";
  const RunResult status = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(
      status.out.find(shown + ": command `/bin/echo`: cannot run /bin/echo: Argument list too "
                              "long (E2BIG)"),
      std::string::npos)
      << status.out;
}

TEST(RunTest, EveryShippedConfigRuns) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("configs"))) {
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  }
  EXPECT_GE(names.size(), 13u);
  for (const std::string& name : names) {
    TempDir dir;
    std::vector<std::string> args = {"run", SourcePath("configs/" + name + ".yaml"), "-q", "-o",
                                     dir / "out.h5"};
    // The plugin's path in the config is the one scripts/demo builds; tests use this build's.
    if (name == "plugin")
      args.insert(args.end(), {"--set", std::string("kernel.plugin=") + SWEEP_EXAMPLE_PLUGIN});
    const RunResult r = RunSweep(args, dir.path());
    // command_files shows a failed point: one of its points fails on purpose.
    EXPECT_EQ(r.code, name == "command_files" ? 3 : 0) << name << ": " << r.err;
    ExpectNoLeftovers(r);
    const auto all = ResultsAndParams(dir / "out.h5");
    EXPECT_FALSE(all.empty()) << name;
    for (const auto& [dataset, bytes] : all) EXPECT_FALSE(bytes.empty()) << name << " " << dataset;
  }
}

}  // namespace
}  // namespace sweep
