#include "driver/output_filler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "io/config.h"
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

// Chunks never handed out are prepared by the background: they read as missing (NaN), where a
// freshly created file has holes (zeros).
TEST_F(OutputFillerTest, TheBackgroundPreparesWhatIsNotHandedOut) {
  OutputFile file = OutputFile::Open(path(), OutputFile::Access::kReadWrite);
  ASSERT_EQ(testing::ReadDataset<double>(path(), "/y")[69999], 0.0);
  OutputFiller filler(file, space_, plan_, EveryChunk());
  filler.StartBackground();
  for (uint64_t c = 0; c < 10; ++c) {
    filler.BeforeHandout(c, 1);
    Compute(file, c);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (filler.prepared() < plan_.chunks() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  filler.Stop();
  const std::vector<double> y = testing::ReadDataset<double>(path(), "/y");
  for (uint64_t p = 0; p < 1000; ++p) ASSERT_EQ(y[p], double(p / 100)) << p;
  uint64_t not_missing = 0;
  for (uint64_t p = 1000; p < 70000; ++p) not_missing += !std::isnan(y[p]);
  EXPECT_EQ(not_missing, 0u);
  EXPECT_EQ(testing::ReadDataset<int64_t>(path(), "/x")[69999], 69999);
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
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[250]) && std::isnan(y[499]));
  EXPECT_EQ(y[100], 0.0);
  EXPECT_EQ(y[399], 0.0);
}

}  // namespace
}  // namespace sweep
