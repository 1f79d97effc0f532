#include "driver/plan.h"

#include <gtest/gtest.h>

#include "io/error.h"

namespace sweep {
namespace {

TEST(PlanTest, LastChunkHoldsTheRemainder) {
  Plan plan(10, 4);
  ASSERT_EQ(plan.chunks(), 3u);
  EXPECT_EQ(plan.chunk(0).first, 0u);
  EXPECT_EQ(plan.chunk(0).count, 4u);
  EXPECT_EQ(plan.chunk(2).first, 8u);
  EXPECT_EQ(plan.chunk(2).count, 2u);
  EXPECT_EQ(plan.ChunkOf(9), 2u);
}

TEST(PlanTest, ChunksCoverEveryPointOnce) {
  for (uint64_t points : {1u, 7u, 64u, 1000u}) {
    for (uint64_t size : {1u, 3u, 64u, 5000u}) {
      Plan plan(points, size);
      uint64_t next = 0;
      for (uint64_t k = 0; k < plan.chunks(); ++k) {
        EXPECT_EQ(plan.chunk(k).first, next);
        EXPECT_GT(plan.chunk(k).count, 0u);
        next = plan.chunk(k).end();
      }
      EXPECT_EQ(next, points);
    }
  }
}

TEST(PlanTest, AutoGivesAboutSixtyFourChunksPerWorker) {
  EXPECT_EQ(AutoChunkSize(10'000'000, 2), 78125u);
  EXPECT_EQ(PlanFor(10'000'000, 0, 2).chunks(), 128u);
  EXPECT_EQ(AutoChunkSize(5, 2), 1u);
}

TEST(PlanTest, AutoStaysUnderTheChunkLimitForHugeSweeps) {
  const uint64_t points = 1'000'000'000'000;
  Plan plan = PlanFor(points, 0, 2);
  EXPECT_LE(plan.chunks(), kMaxChunks);
  EXPECT_EQ(plan.chunk(plan.chunks() - 1).end(), points);
}

TEST(PlanTest, TooManyChunksIsAUsageError) {
  try {
    PlanFor(uint64_t{1} << 30, 1, 2);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    EXPECT_NE(std::string(e.what()).find("execution.chunk_size"), std::string::npos);
  }
}

}  // namespace
}  // namespace sweep
