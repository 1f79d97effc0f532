#include "driver/output_filler.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "io/config.h"
#include "kernels/dtype.h"
#include "tests/e2e.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

// One range axis of 70000 points, more than is written at creation, so its coordinate is
// deferred to the filler; chunks of 100 points; one float64 output.
class OutputFillerTest : public ::testing::Test {
 protected:
  OutputFillerTest()
      : config_(
            ParseConfig("name: t\nkernel: {name: square}\nparameters:\n  x: {range: [0, 70000]}\n",
                        dir_ / "t.yaml")),
        space_(config_),
        plan_(70000, 100) {
    OutputLayoutSpec spec;
    spec.kernel_name = "square";
    spec.points = plan_.points();
    spec.chunk_size = plan_.chunk_size();
    spec.chunks = plan_.chunks();
    spec.dimensions = {{"x", 70000}};
    spec.variables = {
        {"x", 0, SWEEP_VALUE_INTEGER, [this](uint64_t k) { return space_.ParameterValue(0, k); }}};
    spec.outputs = {{"y", SWEEP_FLOAT64, 0, {}}};
    CreateOutputFile(path(), spec);
  }

  std::string path() const { return dir_ / "out.h5"; }
  std::vector<uint64_t> EveryChunk() const {
    std::vector<uint64_t> chunks;
    for (uint64_t c = 0; c < plan_.chunks(); ++c) chunks.push_back(c);
    return chunks;
  }
  // What a worker does with a chunk it was handed: its rows, all of them.
  void Compute(OutputFile& file, uint64_t chunk) {
    std::vector<double> rows(plan_.chunk(chunk).count, double(chunk));
    file.WriteRows(0, plan_.chunk(chunk).first, rows.size(), rows.data());
  }

  TempDir dir_;
  Config config_;
  Space space_;
  Plan plan_;
};

// The background races the hand-outs from the other end; whoever prepares a chunk, a chunk's
// rows are never overwritten once it was handed out, and every deferred coordinate is written.
TEST_F(OutputFillerTest, HandedOutChunksAreNeverOverwrittenByTheBackground) {
  for (int round = 0; round < 5; ++round) {
    OutputFile file = OutputFile::Open(path(), OutputFile::Access::kReadWrite);
    {
      OutputFiller filler(file, space_, plan_, EveryChunk());
      filler.StartBackground();
      for (uint64_t c = 0; c < plan_.chunks(); ++c) {
        filler.BeforeHandout(c, 1);
        Compute(file, c);
      }
      filler.Stop();
      EXPECT_EQ(filler.prepared(), plan_.chunks());  // each chunk exactly once
    }
    const std::vector<double> y = testing::ReadDataset<double>(path(), "/y");
    const std::vector<int64_t> x = testing::ReadDataset<int64_t>(path(), "/x");
    ASSERT_EQ(y.size(), 70000u);
    uint64_t wrong = 0;
    for (uint64_t p = 0; p < 70000; ++p) wrong += y[p] != double(p / 100) || x[p] != int64_t(p);
    EXPECT_EQ(wrong, 0u) << "round " << round;
  }
}

// Chunks never handed out are prepared by the background: they read as missing (the output's
// _FillValue), where a freshly created file has holes (zeros).
TEST_F(OutputFillerTest, TheBackgroundPreparesWhatIsNotHandedOut) {
  OutputFile file = OutputFile::Open(path(), OutputFile::Access::kReadWrite);
  ASSERT_EQ(testing::ReadDataset<double>(path(), "/y")[69999], 0.0);
  OutputFiller filler(file, space_, plan_, EveryChunk());
  filler.StartBackground();
  for (uint64_t c = 0; c < 10; ++c) {
    filler.BeforeHandout(c, 1);
    Compute(file, c);
  }
  EXPECT_TRUE(testing::WaitUntil([&] { return filler.prepared() == plan_.chunks(); }));
  filler.Stop();
  const std::vector<double> y = testing::ReadDataset<double>(path(), "/y");
  for (uint64_t p = 0; p < 1000; ++p) ASSERT_EQ(y[p], double(p / 100)) << p;
  uint64_t not_missing = 0;
  double missing = 0;
  NetcdfFillValue(SWEEP_FLOAT64, &missing);
  for (uint64_t p = 1000; p < 70000; ++p) not_missing += y[p] != missing;
  EXPECT_EQ(not_missing, 0u);
  EXPECT_EQ(testing::ReadDataset<int64_t>(path(), "/x")[69999], 69999);
}

// A fork (a `start: fork` worker) at any moment of the background: as it starts, as it works, or
// just after its last chunk. The child must be free to allocate, so it must not have inherited a
// lock the background held. Under AddressSanitizer, whose allocator a fork does not lock, a
// background starting or ending at the fork left the forked worker hanging at its next
// allocation (CI's hang report); with glibc's malloc it is the same for any other lock.
TEST_F(OutputFillerTest, AForkAtAnyMomentOfTheBackgroundLeavesTheChildFreeToAllocate) {
  OutputFile file = OutputFile::Open(path(), OutputFile::Access::kReadWrite);
  for (int round = 0; round < 150; ++round) {
    OutputFiller filler(file, space_, plan_, EveryChunk());
    filler.StartBackground();
    if (round % 3 == 1) std::this_thread::sleep_for(std::chrono::microseconds(200 * round));
    if (round % 3 == 2) {
      // Spun, not polled: the fork should come right after the last chunk, before the
      // background parks.
      const auto deadline = std::chrono::steady_clock::now() +
                            std::chrono::duration<double>(testing::kPatienceSeconds);
      while (filler.prepared() < plan_.chunks() && std::chrono::steady_clock::now() < deadline) {
      }
    }
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Every small size class, more objects of each than a thread's cache holds.
      std::vector<void*> blocks;
      for (size_t size = 8; size <= 8192; size += size / 8) {
        for (int i = 0; i < 300; ++i) blocks.push_back(std::malloc(size));
        for (void* b : blocks) std::free(b);
        blocks.clear();
      }
      _exit(0);
    }
    int status = 0;
    bool exited = false;
    exited = testing::WaitUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; });
    if (!exited) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
    ASSERT_TRUE(exited) << "round " << round << ": the forked child hung";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    filler.Stop();
  }
}

// Only the chunks given are touched: another shard's chunks stay as they are.
TEST_F(OutputFillerTest, ChunksNotGivenAreLeftAlone) {
  OutputFile file = OutputFile::Open(path(), OutputFile::Access::kReadWrite);
  {
    OutputFiller filler(file, space_, plan_, {0, 2, 4});
    filler.StartBackground();
    filler.Stop();  // joins; whatever the background did not reach is prepared at hand-out
    filler.BeforeHandout(0, 1);
    filler.BeforeHandout(2, 1);
    filler.BeforeHandout(4, 1);
    EXPECT_EQ(filler.prepared(), 3u);
  }
  const std::vector<double> y = testing::ReadDataset<double>(path(), "/y");
  double missing = 0;
  NetcdfFillValue(SWEEP_FLOAT64, &missing);
  EXPECT_TRUE(y[0] == missing && y[250] == missing && y[499] == missing);
  EXPECT_EQ(y[100], 0.0);
  EXPECT_EQ(y[399], 0.0);
}

// Deferred coordinates of every kind, which the filler computes in bulk by the axes' closed forms
// (Space::AxisValues): a linspace, a zip group of a logspace and a range, a value list, a sampled
// parameter with the sample index, and the replicate index. After a run, each holds what
// Space::ParameterValue gives at every index, bit for bit.
TEST(OutputFillerValues, DeferredCoordinatesOfEveryKindHoldTheSpacesValues) {
  TempDir dir;
  std::string list;
  for (int i = 0; i < 70000; ++i) list += (i ? ", " : "") + std::to_string(0.5 * i - 7);
  const std::vector<std::string> sweeps = {
      "parameters:\n  x: {linspace: [-1, 3, 70001]}\n",
      "parameters:\n  x: {logspace: [0, 2, 70000]}\n  n: {range: [5, 140005, 2]}\nzip: [[x, n]]\n",
      "parameters:\n  x: {values: [" + list + "]}\n",
      "seed: 3\nsampling: {method: sobol, n: 70000}\nparameters:\n  x: {uniform: [0, 2]}\n",
      "parameters:\n  x: {range: [0, 2]}\nrepeat: 70000\n",
  };
  for (const std::string& sweep : sweeps) {
    SCOPED_TRACE(sweep.substr(0, 80));
    const std::string yaml =
        "name: t\nkernel: {name: square}\n" + sweep + "output: {path: out.h5}\n";
    testing::WriteFile(dir / "t.yaml", yaml);
    const testing::RunResult r =
        testing::RunSweep({"run", dir / "t.yaml", "-q", "-j", "2", "--force"}, dir.path());
    ASSERT_EQ(r.code, 0) << r.err;
    const Config config = ParseConfig(yaml, dir / "t.yaml");
    const Space space(config);
    const std::string out = dir / "out.h5";
    for (size_t d = 0; d < space.dimensions().size(); ++d) {
      const Dimension& dimension = space.dimensions()[d];
      std::vector<std::pair<std::string, int>> variables;  // name, parameter (-1: the index)
      if (dimension.name == "sample" || dimension.name == "replicate")
        variables.push_back({dimension.name, -1});
      for (int p : dimension.parameters)
        variables.push_back({space.parameter_names()[size_t(p)], p});
      for (const auto& [name, p] : variables) {
        const std::vector<unsigned char> bytes = testing::DatasetBytes(out, "/" + name);
        ASSERT_EQ(bytes.size(), dimension.size * 8) << name;
        uint64_t wrong = 0;
        for (uint64_t k = 0; k < dimension.size; ++k) {
          const sweep_value v =
              p < 0 ? sweep_value{SWEEP_VALUE_INTEGER, double(k), int64_t(k), nullptr}
                    : space.ParameterValue(p, k);
          const int64_t integer = v.integer;
          const void* want = v.type == SWEEP_VALUE_INTEGER ? static_cast<const void*>(&integer)
                                                           : static_cast<const void*>(&v.number);
          wrong += std::memcmp(bytes.data() + 8 * k, want, 8) != 0;
        }
        EXPECT_EQ(wrong, 0u) << name;
      }
    }
  }
}

}  // namespace
}  // namespace sweep
