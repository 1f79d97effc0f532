// End-to-end tests: sweep never follows a symbolic link planted beside its output (the lock, the
// journal, the log folder), which would make it truncate, lock or write what the link points to.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::string SmallConfig(const TempDir& dir) {
  const std::string path = dir / "small.yaml";
  WriteFile(path,
            "name: small\nkernel: {name: square}\nparameters:\n  x: {range: [0, 10]}\n"
            "execution: {workers: 1}\noutput: {path: out.h5}\n");
  return path;
}

class LinkBesideOutput : public ::testing::TestWithParam<std::string> {};

TEST_P(LinkBesideOutput, IsRefusedBeforeAnythingIsWritten) {
  TempDir dir;
  const std::string config = SmallConfig(dir);
  const std::string victim = dir / "precious.txt";
  WriteFile(victim, "do not touch\n");
  std::filesystem::create_directory(dir / "precious-dir");
  const bool folder = GetParam() == "out.h5.logs";
  std::filesystem::create_symlink(folder ? dir / "precious-dir" : victim, dir / GetParam());

  const RunResult run = RunSweep({"run", config, "-q"}, dir.path());
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find(GetParam() + ": is a symbolic link"), std::string::npos) << run.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  EXPECT_EQ(ReadFile(victim), "do not touch\n");
  EXPECT_TRUE(std::filesystem::is_empty(dir / "precious-dir"));
}

INSTANTIATE_TEST_SUITE_P(Links, LinkBesideOutput,
                         ::testing::Values("out.h5.lock", "out.h5.journal", "out.h5.logs"));

// A link planted after the run, before a resume, is refused the same way.
TEST(LinkBesideOutputTest, APlantedJournalLinkStopsAResume) {
  TempDir dir;
  const std::string config = SmallConfig(dir);
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  const std::string victim = dir / "precious.txt";
  WriteFile(victim, "do not touch\n");
  std::filesystem::remove(dir / "out.h5.journal");
  std::filesystem::create_symlink(victim, dir / "out.h5.journal");
  const RunResult resume = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(resume.code, 2) << resume.err;
  EXPECT_EQ(ReadFile(victim), "do not touch\n");
}

}  // namespace
}  // namespace sweep
