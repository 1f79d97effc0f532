// Tests of the batched path (kernels/kernel.h compute_batch, driver/point_batch.h) through the
// real binary: every built-in kernel and the batched example plugin (kernels/examples/
// rosenbrock.c, checked against its closed form too) give the same bytes batched and per point
// (SWEEP_FORCE_PER_POINT=1) with 1 and 2 workers, chunks of 1, 7 and auto, and both start methods;
// a failing point is named the same way by both paths; a probe kernel whose entries differ on
// purpose shows which one sweep calls, with which points and seeds. And the columns and seeds a
// PointBatch hands out, against Space::Resolve and Space::Seed.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/point_batch.h"
#include "driver/space.h"
#include "io/config.h"
#include "tests/e2e.h"
#include "tests/seeds.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// Sets an environment variable for the scope (the sweep processes a test starts inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~ScopedEnv() { unsetenv(name_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
};

struct KernelCase {
  std::string name;
  std::string yaml;  // everything but output and execution
};
void PrintTo(const KernelCase& c, std::ostream* os) { *os << c.name; }

// Small sweeps of every built-in kernel and of the batched example plugin, with at least two
// dimensions, so the odometer carries, and a replicate dimension where the kernel reads seeds.
std::vector<KernelCase> Cases() {
  const std::string plugin = SWEEP_BATCH_EXAMPLE_PLUGIN;
  return {
      {"square",
       "kernel: {name: square}\nparameters:\n  x: {range: [-40, 41, 3]}\n"
       "  k: {values: [1, 2, 3]}\n"},
      {"fill",
       "kernel: {name: fill, options: {bytes: 24}}\nparameters:\n"
       "  k: {values: [1, 2]}\n  x: {linspace: [0, 1, 37]}\n"},
      {"array_sum",
       "kernel: {name: array_sum}\ninputs:\n"
       "  data: {generate: normal, shape: [1000], seed: 3}\n"
       "parameters:\n  scale: {linspace: [1, 2, 23]}\n  k: {values: [5, 6]}\n"},
      {"ridge",
       "kernel: {name: ridge, options: {features: 3}}\ninputs:\n"
       "  X: {generate: normal, shape: [40, 3], seed: 1}\n"
       "  y: {generate: normal, shape: [40], seed: 2}\n"
       "parameters:\n  lambda: {logspace: [-3, 2, 29]}\n"},
      {"option_mc",
       "seed: 11\nkernel: {name: option_mc, options: {paths: 64}}\nparameters:\n"
       "  S0: {values: [90, 100, 110]}\n  K: 100\n  r: 0.01\n"
       "  vol: {linspace: [0.1, 0.5, 5]}\n  T: 1\nrepeat: 2\n"},
      {"lorenz",
       "kernel: {name: lorenz, options: {steps: 50, transient: 0}}\nparameters:\n"
       "  rho: {linspace: [0, 50, 13]}\n  sigma: 10\n  beta: 2.5\n"},
      {"ising2d",
       "seed: 4\nkernel: {name: ising2d, options: {L: 4, sweeps: 5, burn_in: 1}}\n"
       "parameters:\n  T: {linspace: [1, 4, 11]}\nrepeat: 2\n"},
      {"rosenbrock",
       "kernel: {plugin: " + plugin +
           "}\nparameters:\n  x: {linspace: [-2, 2, 41]}\n  y: {linspace: [-1, 3, 5]}\n"},
  };
}

std::map<std::string, std::vector<unsigned char>> RunAndRead(const TempDir& dir,
                                                             const KernelCase& c,
                                                             const std::string& tag,
                                                             const std::vector<std::string>& args) {
  const std::string config = dir / (c.name + "-" + tag + ".yaml");
  const std::string out = dir / (c.name + "-" + tag + ".h5");
  WriteFile(config, "name: " + c.name + "\n" + c.yaml + "output: {path: " + out + "}\n");
  std::vector<std::string> argv = {"run", config, "-q"};
  argv.insert(argv.end(), args.begin(), args.end());
  const RunResult r = RunSweep(argv, dir.path());
  EXPECT_EQ(r.code, 0) << c.name << " " << tag << ": " << r.err;
  return ResultsAndParams(out);
}

class BatchedAndPerPoint : public ::testing::TestWithParam<KernelCase> {};

TEST_P(BatchedAndPerPoint, GiveTheSameBytesWhateverTheWorkersChunksAndStart) {
  const KernelCase& c = GetParam();
  TempDir dir;
  const auto reference = RunAndRead(dir, c, "reference", {"-j", "1"});
  ASSERT_FALSE(reference.empty());
  for (const char* per_point : {"0", "1"}) {
    ScopedEnv force("SWEEP_FORCE_PER_POINT", per_point);
    for (const char* workers : {"1", "2"}) {
      for (const char* chunk : {"1", "7", "auto"}) {
        for (const char* start : {"spawn", "fork"}) {
          const std::string tag =
              std::string("pp") + per_point + "-j" + workers + "-c" + chunk + "-" + start;
          const auto got = RunAndRead(dir, c, tag,
                                      {"-j", workers, "--chunk-size", chunk, "--set",
                                       std::string("execution.start=") + start});
          ASSERT_EQ(got.size(), reference.size()) << tag;
          for (const auto& [name, bytes] : reference) {
            ASSERT_TRUE(got.count(name)) << tag << ": no " << name;
            EXPECT_TRUE(got.at(name) == bytes)
                << c.name << " " << tag << ": " << name << " differs";
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Kernel, BatchedAndPerPoint, ::testing::ValuesIn(Cases()),
                         [](const auto& p) { return p.param.name; });

// The batched example computes the Rosenbrock function and its gradient (a = 2, b = 10 here).
TEST(BatchExample, RosenbrockIsItsClosedForm) {
  TempDir dir;
  const std::string config = dir / "r.yaml";
  WriteFile(config, std::string("name: r\nkernel:\n  plugin: ") + SWEEP_BATCH_EXAMPLE_PLUGIN +
                        "\n  options: {a: 2, b: 10}\nparameters:\n  x: {range: [-3, 4]}\n"
                        "  y: {linspace: [-1, 1, 9]}\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", config, "-q", "-j", "2"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> f = ReadDataset<double>(dir / "out.h5", "/f");
  const std::vector<double> grad = ReadDataset<double>(dir / "out.h5", "/grad");
  ASSERT_EQ(f.size(), 63u);
  ASSERT_EQ(grad.size(), 126u);
  for (size_t p = 0; p < 63; ++p) {
    const double x = -3.0 + double(p / 9), y = internal::Linspace(-1, 1, 9, int64_t(p % 9));
    const double valley = y - x * x;
    EXPECT_EQ(f[p], (2 - x) * (2 - x) + 10 * valley * valley) << p;
    EXPECT_EQ(grad[2 * p], -2 * (2 - x) - 4 * 10 * x * valley) << p;
    EXPECT_EQ(grad[2 * p + 1], 2 * 10 * valley) << p;
  }
}

// ridge fails at a negative lambda: both paths fail the same chunk at the same point with the
// same message, and leave the same bytes.
TEST(BatchedAndPerPointFailure, NameTheSamePointAndLeaveTheSameBytes) {
  TempDir dir;
  std::vector<std::string> reasons;
  std::vector<std::map<std::string, std::vector<unsigned char>>> files;
  for (const char* per_point : {"0", "1"}) {
    ScopedEnv force("SWEEP_FORCE_PER_POINT", per_point);
    const std::string out = dir / (std::string("ridge") + per_point + ".h5");
    const std::string config = dir / "ridge.yaml";
    WriteFile(config,
              "name: ridge\nkernel: {name: ridge, options: {features: 2}}\ninputs:\n"
              "  X: {generate: normal, shape: [30, 2], seed: 1}\n"
              "  y: {generate: normal, shape: [30], seed: 2}\n"
              "parameters:\n  lambda: {values: [0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, 11, 12, 13]}\n"
              "execution: {retries: 0}\noutput: {path: " +
                  out + "}\n");
    const RunResult r = RunSweep({"run", config, "-q", "-j", "2", "--chunk-size", "7"}, dir.path());
    EXPECT_EQ(r.code, 3) << r.err;
    const std::vector<JournalRecord> failed = JournalRecords(out + ".journal", "failed");
    ASSERT_EQ(failed.size(), 1u) << per_point;
    EXPECT_EQ(failed[0].chunk, 1u);
    ASSERT_TRUE(failed[0].point.has_value());
    EXPECT_EQ(*failed[0].point, 10u);
    reasons.push_back(failed[0].reason);
    files.push_back(ResultsAndParams(out));
    files.back()["/chunks/status"] = DatasetBytes(out, "/chunks/status");
  }
  EXPECT_EQ(reasons[0], reasons[1]);
  EXPECT_NE(reasons[0].find("lambda must be >= 0, got -1"), std::string::npos) << reasons[0];
  EXPECT_TRUE(files[0] == files[1]);
}

// The probe's entries write different things: which one ran, with how many points, which seeds
// and which x. Batched, a call covers a chunk's block (here a whole chunk of 7, or the last 1);
// forced per point, one point a call; either way the seeds are the points' seeds.
TEST(BatchProbe, TheWorkerCallsComputeBatchPerBlockUnlessForcedPerPoint) {
  TempDir dir;
  const std::string config = dir / "probe.yaml";
  WriteFile(config, std::string("name: probe\nseed: 77\nkernel: {plugin: ") +
                        SWEEP_BATCH_PROBE_PLUGIN +
                        "}\nparameters:\n  x: {linspace: [0, 1, 25]}\nrepeat: 2\n"
                        "output: {path: out.h5}\n");
  for (const char* per_point : {"0", "1"}) {
    ScopedEnv force("SWEEP_FORCE_PER_POINT", per_point);
    const RunResult r =
        RunSweep({"run", config, "-q", "-j", "2", "--chunk-size", "7", "--force"}, dir.path());
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string out = dir / "out.h5";
    const std::vector<int64_t> via = ReadDataset<int64_t>(out, "/via");
    const std::vector<int64_t> count = ReadDataset<int64_t>(out, "/count");
    const std::vector<int64_t> seed = ReadDataset<int64_t>(out, "/seed");
    const std::vector<double> x = ReadDataset<double>(out, "/x_seen");
    ASSERT_EQ(via.size(), 50u);
    for (uint64_t p = 0; p < 50; ++p) {
      const bool batched = per_point[0] == '0';
      EXPECT_EQ(via[p], batched ? 1 : 0) << p;
      EXPECT_EQ(count[p], batched ? (p < 49 ? 7 : 1) : 1) << p;
      EXPECT_EQ(uint64_t(seed[p]),
                DocumentedSeed(77, {NumberParam("x", internal::Linspace(0, 1, 25, int64_t(p / 2)))},
                               p % 2))
          << p;
      EXPECT_EQ(x[p], internal::Linspace(0, 1, 25, int64_t(p / 2))) << p;
    }
  }
}

// A PointBatch's columns are Space::Resolve's values and its seeds Space::Seed's, or none for a
// kernel that ignores seeds.
TEST(PointBatchTest, ColumnsAreResolvedValuesAndSeedsOnlyWhenRead) {
  Config config = ParseConfig(
      "name: t\nseed: 5\nkernel: {name: option_mc}\nparameters:\n  S0: {range: [90, 93]}\n"
      "  K: {values: [100, 100.5]}\n  r: 0.01\n  vol: {linspace: [0.1, 0.2, 3]}\n  T: 1\n"
      "repeat: 2\n",
      "t.yaml");
  const Space space(config);
  const KernelBinding reads = BindKernel(config, space);
  ASSERT_FALSE(reads.kernel->flags & SWEEP_KERNEL_IGNORES_SEED);
  PointBatch batch(space, reads, 10);
  std::vector<sweep_value> values(space.parameter_names().size());
  for (uint64_t first : {0u, 3u, 26u}) {
    const sweep_batch& b = batch.Fill(first, 10);
    ASSERT_EQ(b.count, 10);
    ASSERT_NE(b.seeds, nullptr);
    for (uint64_t i = 0; i < 10; ++i) {
      space.Resolve(first + i, values.data());
      for (size_t j = 0; j < reads.parameter_source.size(); ++j) {
        const sweep_value want = values[size_t(reads.parameter_source[j])];
        const sweep_value got = batch.Value(j, i);
        EXPECT_EQ(got.type, want.type);
        EXPECT_EQ(got.number, want.number);
        EXPECT_EQ(got.integer, want.integer);
        EXPECT_EQ(b.params[j].number[i], want.number);
        if (want.type == SWEEP_VALUE_INTEGER) {
          EXPECT_EQ(b.params[j].integer[i], want.integer);
        }
      }
      EXPECT_EQ(b.seeds[i], space.Seed(first + i));
      EXPECT_EQ(batch.Seed(i), space.Seed(first + i));
    }
  }
  // A kernel whose init() says it ignores seeds (the Python kernel, from its function's
  // signature): the worker drops them, and no more are derived.
  batch.DropSeeds();
  EXPECT_EQ(batch.Fill(3, 10).seeds, nullptr);
  EXPECT_EQ(batch.Seed(0), 0u);
  EXPECT_EQ(batch.Value(0, 0).number, batch.Fill(3, 10).params[0].number[0]);
  // square declares SWEEP_KERNEL_IGNORES_SEED: no seeds are derived for it.
  Config square = ParseConfig(
      "name: t\nkernel: {name: square}\nparameters:\n  x: {range: [0, 40]}\n", "t.yaml");
  const Space square_space(square);
  const KernelBinding ignores = BindKernel(square, square_space);
  PointBatch square_batch(square_space, ignores, 8);
  EXPECT_EQ(square_batch.Fill(3, 8).seeds, nullptr);
  EXPECT_EQ(square_batch.Seed(0), 0u);
  EXPECT_EQ(square_batch.Fill(3, 8).params[0].integer[7], 10);
}

}  // namespace
}  // namespace sweep
