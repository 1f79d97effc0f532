// End-to-end tests: sweep never follows a symbolic link planted beside its output (the lock, the
// journal, the log folder, the worker board), which would make it truncate, lock or write what the
// link points to.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

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
                         ::testing::Values("out.h5.lock", "out.h5.journal", "out.h5.logs",
                                           "out.h5.workers"));

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

// `-o` naming what the run reads, under any name, is refused even with --force: the config, an
// input (here a raw float64 file read by array_sum).
TEST(OwnFilesTest, ForceNeverReplacesTheRunsOwnConfigOrInputs) {
  TempDir dir;
  WriteFile(dir / "data.f64", std::string(4 * 8, '\0'));
  const std::string config = dir / "sum.yaml";
  WriteFile(config,
            "name: sum\nkernel: {name: array_sum}\n"
            "inputs:\n  data: {raw: data.f64, dtype: float64, shape: [4]}\n"
            "parameters:\n  scale: {values: [1, 2]}\noutput: {path: out.h5}\n");
  std::filesystem::create_hard_link(dir / "data.f64", dir / "alias.f64");
  const std::string config_text = ReadFile(config);
  for (const auto& [target, what] : std::vector<std::pair<std::string, std::string>>{
           {"sum.yaml", "is its own config"}, {"alias.f64", "is its input `data`"}}) {
    const RunResult r = RunSweep({"run", config, "-o", target, "--force", "-q"}, dir.path());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(target + ": " + what + "; the output must be another file"),
              std::string::npos)
        << r.err;
  }
  EXPECT_EQ(ReadFile(config), config_text);
  EXPECT_EQ(ReadFile(dir / "data.f64"), std::string(4 * 8, '\0'));
  EXPECT_FALSE(std::filesystem::exists(dir / "sum.yaml.lock"));
}

// A creator killed between writing its temporary and renaming it leaves `out.h5.tmp-<pid>`; the
// next run that creates the output removes such leftovers (and nothing else).
TEST(OwnFilesTest, TemporariesOfADeadCreatorAreRemoved) {
  TempDir dir;
  const std::string config = SmallConfig(dir);
  WriteFile(dir / "out.h5.tmp-4194999", "half a file");
  WriteFile(dir / "out.h5.tmp-notes", "not ours");
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.tmp-4194999"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5.tmp-notes"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out.h5"));
}

// The lock is on the file, not on its name: a second writer through a symlink or a hard link to
// a live output is refused (exit 4), and the live run finishes to the bytes it would have given.
TEST(LinkToOutputTest, ASecondWriterThroughAnotherNameIsRefused) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = dir / "held.yaml";
  WriteFile(config, "name: held\nkernel: {name: faulty, options: {" + gate.Options(4) +
                        "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
                        "parameters:\n  i: {range: [0, 8]}\n"
                        "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  // Live, and kept live until the gate opens: however long the refused writers take to start.
  SweepProcess live({"run", config, "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(1)) << live.err();
  std::filesystem::create_symlink(dir / "out.h5", dir / "alias.h5");
  std::filesystem::create_hard_link(dir / "out.h5", dir / "hard.h5");
  for (const std::string name : {"alias.h5", "hard.h5"}) {
    const RunResult resume = RunSweep({"resume", name, "-q"}, dir.path());
    EXPECT_EQ(resume.code, 4) << name << ": " << resume.err;
    EXPECT_NE(resume.err.find("in use by another sweep"), std::string::npos) << resume.err;
    const RunResult rerun = RunSweep({"rerun", name, "--chunks", "0", "-q"}, dir.path());
    EXPECT_EQ(rerun.code, 4) << name << ": " << rerun.err;
    const RunResult force = RunSweep({"run", config, "-o", name, "--force", "-q"}, dir.path());
    EXPECT_EQ(force.code, 4) << name << ": " << force.err;
  }
  gate.Open();
  EXPECT_EQ(live.Wait(), 0) << live.err();
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  EXPECT_NE(status.out.find("\"pending\": 0"), std::string::npos) << status.out;
}

}  // namespace
}  // namespace sweep
