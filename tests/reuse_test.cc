// End-to-end tests of `sweep run NEW.yaml --reuse OLD.h5` and `sweep plan --reuse`
// (driver/reuse.h): a grown sweep computes exactly its new points and its output is the bytes of
// a fresh run of it, for every way a sweep grows; what differs is refused by name; OLD is only
// read, live or deleted; shards, MPI and a later resume work.
//
// The counting kernel is a command kernel that appends a line to a counter file outside its work
// directory at every run: its lines are the program's invocations.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/journal.h"
#include "tests/e2e.h"
#include "tests/seeds.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// The lines of the counter: how many times the program ran. Every sweep of a test shares it (its
// path is part of the command, which OLD and NEW must share).
size_t Runs(const std::string& counter) {
  const std::string text = ReadFile(counter);
  return size_t(std::count(text.begin(), text.end(), '\n'));
}

// A sweep of the counting kernel: it prints `v_<p>` = each numeric parameter p, and `s` = its
// seed, so its bytes show that each point got its own parameters and seed.
std::string CountingConfig(const TempDir& dir, const std::string& name,
                           const std::vector<std::string>& numeric, const std::string& parameters,
                           const std::string& more = "") {
  std::string script = "echo run >> " + dir / "runs" + "; echo s {seed}";
  std::string outputs = "s: float64";
  for (const std::string& p : numeric) {
    script += "; echo v_" + p + " {" + p + "}";
    outputs += ", v_" + p + ": float64";
  }
  const std::string path = dir / (name + ".yaml");
  WriteFile(path, "name: " + name + "\nseed: 4\nkernel:\n  command: [/bin/sh, -c, '" + script +
                      "']\n  outputs: {" + outputs + "}\nparameters:\n" + parameters + more +
                      "execution: {workers: 2, chunk_size: 4}\noutput: {path: " + name + ".h5}\n");
  return path;
}

// Grows OLD into NEW with --reuse and checks: the program ran exactly for the points NEW has and
// OLD does not, the output is a fresh run's bytes (results and parameters), and the output,
// journal and status say how many points were reused.
void ExpectGrowthComputesOnlyNewPoints(const TempDir& dir, const std::string& old_config,
                                       const std::string& new_config, size_t old_points,
                                       size_t new_points, size_t shared) {
  const RunResult old_run = RunSweep({"run", old_config, "-q"}, dir.path());
  ASSERT_EQ(old_run.code, 0) << old_run.err;
  ASSERT_EQ(Runs(dir / "runs"), old_points);

  const RunResult plan = RunSweep({"plan", new_config, "--reuse", "old.h5", "--json"}, dir.path());
  ASSERT_EQ(plan.code, 0) << plan.err;
  const nlohmann::json planned = nlohmann::json::parse(plan.out)["reuse"];
  EXPECT_EQ(planned["points"], shared) << plan.out;
  EXPECT_EQ(planned["computed"], new_points - shared) << plan.out;

  const RunResult grown = RunSweep({"run", new_config, "--reuse", "old.h5"}, dir.path());
  ASSERT_EQ(grown.code, 0) << grown.err;
  EXPECT_NE(grown.out.find("reuse: " + std::to_string(shared) + " of " +
                           std::to_string(new_points) + " points copied"),
            std::string::npos)
      << grown.out;
  EXPECT_EQ(Runs(dir / "runs"), old_points + new_points - shared);

  const RunResult fresh = RunSweep({"run", new_config, "-q", "-o", "fresh.h5"}, dir.path());
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_EQ(Runs(dir / "runs"), old_points + 2 * new_points - shared);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));

  // Provenance: /chunks, the journal and status agree.
  uint64_t in_chunks = 0;
  for (uint64_t n : ReadDataset<uint64_t>(dir / "new.h5", "/chunks/reused")) in_chunks += n;
  EXPECT_EQ(in_chunks, shared);
  uint64_t journaled = 0;
  for (const JournalRecord& r : JournalRecords(dir / "new.h5.journal", "reused")) {
    journaled += r.points;
    EXPECT_EQ(r.from, dir / "old.h5");
  }
  EXPECT_EQ(journaled, shared);
  const std::vector<JournalRecord> started = JournalRecords(dir / "new.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(started[0].reuse_json),
            nlohmann::json::parse("[{\"file\": \"" + dir / "old.h5" +
                                  "\", \"points\": " + std::to_string(shared) + "}]"));
  const nlohmann::json status = StatusJson(dir, "new.h5");
  EXPECT_EQ(status["points_reused"], shared);
  EXPECT_EQ(status["points_computed"], new_points - shared);
  EXPECT_EQ(StatusJson(dir, "fresh.h5")["points_reused"], 0);
}

TEST(ReuseTest, AGridRefinedComputesOnlyItsNewPoints) {
  TempDir dir;
  ExpectGrowthComputesOnlyNewPoints(
      dir,
      CountingConfig(dir, "old", {"x", "k"},
                     "  x: {linspace: [0, 1, 5]}\n  k: {values: [1, 3]}\n  c: 2.5\n"),
      CountingConfig(dir, "new", {"x", "k"},
                     "  x: {linspace: [0, 1, 9]}\n  k: {values: [1, 2, 3]}\n  c: 2.5\n"),
      10, 27, 10);
}

// NEW walks x backwards and lists k in another order, outermost: each of its rows copies OLD's
// points in reverse.
TEST(ReuseTest, AnAxisReversedAndAListReorderedComputeOnlyTheirNewPoints) {
  TempDir dir;
  ExpectGrowthComputesOnlyNewPoints(
      dir,
      CountingConfig(dir, "old", {"x", "k"}, "  x: {linspace: [0, 1, 5]}\n  k: {values: [1, 3]}\n"),
      CountingConfig(dir, "new", {"x", "k"},
                     "  k: {values: [3, 2, 1]}\n  x: {linspace: [1, 0, 9]}\n"),
      10, 27, 10);
}

TEST(ReuseTest, AZipGroupGrownComputesOnlyItsNewPoints) {
  TempDir dir;
  ExpectGrowthComputesOnlyNewPoints(
      dir,
      CountingConfig(dir, "old", {"a", "c"},
                     "  a: {values: [1, 2, 3]}\n  b: {values: [p, q, r]}\n  c: {range: [0, 2]}\n",
                     "zip: [[a, b]]\n"),
      CountingConfig(dir, "new", {"a", "c"},
                     "  a: {values: [0, 1, 2, 3, 4]}\n  b: {values: [o, p, q, r, s]}\n"
                     "  c: {range: [0, 3]}\n",
                     "zip: [[a, b]]\n"),
      6, 15, 6);
}

TEST(ReuseTest, RandomSamplesGrownComputeOnlyTheNewSamples) {
  TempDir dir;
  const std::string parameters = "  u: {uniform: [0, 1]}\n  w: {loguniform: [0.01, 100]}\n";
  ExpectGrowthComputesOnlyNewPoints(
      dir,
      CountingConfig(dir, "old", {"u", "w"}, parameters, "sampling: {method: uniform, n: 10}\n"),
      CountingConfig(dir, "new", {"u", "w"}, parameters, "sampling: {method: uniform, n: 25}\n"),
      10, 25, 10);
}

TEST(ReuseTest, SobolSamplesGrownComputeOnlyTheNewSamples) {
  TempDir dir;
  const std::string parameters = "  u: {uniform: [0, 1]}\n  w: {uniform: [-5, 5]}\n";
  ExpectGrowthComputesOnlyNewPoints(
      dir, CountingConfig(dir, "old", {"u", "w"}, parameters, "sampling: {method: sobol, n: 8}\n"),
      CountingConfig(dir, "new", {"u", "w"}, parameters, "sampling: {method: sobol, n: 32}\n"), 8,
      32, 8);
}

TEST(ReuseTest, RepeatRaisedComputesOnlyTheNewReplicates) {
  TempDir dir;
  ExpectGrowthComputesOnlyNewPoints(
      dir, CountingConfig(dir, "old", {"x"}, "  x: {range: [0, 5]}\n", "repeat: 2\n"),
      CountingConfig(dir, "new", {"x"}, "  x: {range: [0, 5]}\n", "repeat: 3\n"), 10, 15, 10);
}

// A stochastic built-in: option_mc draws its paths from the seed, so a reused point holds the
// bytes a fresh run computes only because its seed follows its parameter values.
TEST(ReuseTest, AStochasticBuiltInGrownGivesTheBytesOfAFreshRun) {
  TempDir dir;
  const auto config = [&](const std::string& name, const std::string& strikes,
                          const std::string& vols) {
    const std::string path = dir / (name + ".yaml");
    WriteFile(path, "name: " + name +
                        "\nseed: 11\nkernel: {name: option_mc, options: {paths: 2000}}\n"
                        "parameters:\n  S0: 100\n  K: {values: " +
                        strikes + "}\n  r: 0.02\n  vol: {linspace: " + vols +
                        "}\n  T: 1.0\nrepeat: 2\nexecution: {workers: 2, chunk_size: 3}\n"
                        "output: {path: " +
                        name + ".h5}\n");
    return path;
  };
  const std::string old_config = config("old", "[90, 110]", "[0.1, 0.5, 5]");
  const std::string new_config = config("new", "[80, 90, 100, 110]", "[0.1, 0.5, 9]");
  ASSERT_EQ(RunSweep({"run", old_config, "-q"}, dir.path()).code, 0);
  const RunResult grown = RunSweep({"run", new_config, "-q", "--reuse", "old.h5"}, dir.path());
  ASSERT_EQ(grown.code, 0) << grown.err;
  ASSERT_EQ(RunSweep({"run", new_config, "-q", "-o", "fresh.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));
  // 2 strikes x 5 vols x 2 replicates reused, the other 4 x 9 x 2 - 20 computed.
  const nlohmann::json status = StatusJson(dir, "new.h5");
  EXPECT_EQ(status["points_reused"], 20);
  EXPECT_EQ(status["points_computed"], 52);
  // The reused points are not the fresh run's by chance: another master seed gives other prices.
  const std::vector<double> price = ReadDataset<double>(dir / "new.h5", "/price");
  ASSERT_EQ(price.size(), 72u);
  EXPECT_NE(price[0], price[1]);  // two replicates of one point: two seeds
}

// ---- Refusals: what differs is named, and nothing is written ----

// `sweep run NEW --reuse old.h5`, with or without --force, is refused with exit 2, naming `what`,
// and writes no output; so is `sweep plan NEW --reuse old.h5`.
void ExpectRefused(const TempDir& dir, const std::string& new_config, const std::string& what) {
  for (const bool force : {false, true}) {  // --force does not apply
    std::vector<std::string> args = {"run", new_config, "--reuse", "old.h5"};
    if (force) args.push_back("--force");
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "new.h5"));
  }
  const RunResult plan = RunSweep({"plan", new_config, "--reuse", "old.h5"}, dir.path());
  EXPECT_EQ(plan.code, 2) << plan.err;
  EXPECT_NE(plan.err.find(what), std::string::npos) << plan.err;
}

std::string OptionMcConfig(const TempDir& dir, const std::string& name, int paths, int seed) {
  const std::string path = dir / (name + ".yaml");
  WriteFile(path, "name: " + name + "\nseed: " + std::to_string(seed) +
                      "\nkernel: {name: option_mc, options: {paths: " + std::to_string(paths) +
                      "}}\nparameters:\n  S0: 100\n  K: {values: [90, 110]}\n  r: 0.02\n"
                      "  vol: 0.2\n  T: 1.0\noutput: {path: " +
                      name + ".h5}\n");
  return path;
}

TEST(ReuseTest, AChangedOptionIsRefusedNamingIt) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", OptionMcConfig(dir, "old", 2000, 3), "-q"}, dir.path()).code, 0);
  ExpectRefused(dir, OptionMcConfig(dir, "new", 4000, 3), "options.paths: now 4000");
}

TEST(ReuseTest, AChangedMasterSeedIsRefusedNamingIt) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", OptionMcConfig(dir, "old", 2000, 3), "-q"}, dir.path()).code, 0);
  ExpectRefused(dir, OptionMcConfig(dir, "new", 2000, 5), "seed: 3 there, 5 here");
}

TEST(ReuseTest, AnInputWithOtherBytesIsRefusedNamingIt) {
  TempDir dir;
  WriteFile(dir / "a.npy", Npy({1, 2, 3, 4}));
  const auto config = [&](const std::string& name) {
    const std::string path = dir / (name + ".yaml");
    WriteFile(path, "name: " + name +
                        "\nkernel: {name: array_sum}\ninputs:\n  data: {npy: a.npy}\n"
                        "parameters:\n  scale: {values: [1, 2]}\noutput: {path: " +
                        name + ".h5}\n");
    return path;
  };
  ASSERT_EQ(RunSweep({"run", config("old"), "-q"}, dir.path()).code, 0);
  WriteFile(dir / "a.npy", Npy({1, 2, 3, 5}));  // same size, other bytes
  ExpectRefused(dir, config("new"), "inputs.data: its bytes changed");
}

TEST(ReuseTest, AnotherProgramIsRefusedNamingIt) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", CountingConfig(dir, "old", {"x"}, "  x: {range: [0, 3]}\n"), "-q"},
                     dir.path())
                .code,
            0);
  const std::string other = dir / "new.yaml";
  WriteFile(other, ReadFile(dir / "old.yaml") + "");
  std::string text = ReadFile(other);
  text.replace(text.find("echo s {seed}"), 13, "echo s 7");
  text.replace(text.find("old.h5"), 6, "new.h5");
  WriteFile(other, text);
  ExpectRefused(dir, other, "kernel.command:");
}

TEST(ReuseTest, AProgramGivenThePointIndexIsRefused) {
  TempDir dir;
  const std::string old_config = CountingConfig(dir, "old", {"x"}, "  x: {range: [0, 3]}\n");
  std::string text = ReadFile(old_config);
  text.replace(text.find("echo s {seed}"), 13, "echo s {point}");
  WriteFile(old_config, text);
  ASSERT_EQ(RunSweep({"run", old_config, "-q"}, dir.path()).code, 0);
  text.replace(text.find("old.h5"), 6, "new.h5");
  WriteFile(dir / "new.yaml", text);
  ExpectRefused(dir, dir / "new.yaml", "kernel.command passes {point}");
}

// ---- The careless user ----

TEST(ReuseTest, ReusingTheRunsOwnOutputIsRefusedAndLeavesItAlone) {
  TempDir dir;
  const std::string config = CountingConfig(dir, "new", {"x"}, "  x: {range: [0, 6]}\n");
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  const auto before = ResultsAndParams(dir / "new.h5");
  std::filesystem::create_symlink(dir / "new.h5", dir / "link.h5");
  for (const char* name : {"new.h5", "link.h5"}) {
    const RunResult r = RunSweep({"run", config, "--force", "--reuse", name}, dir.path());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find("is this run's own output"), std::string::npos) << r.err;
  }
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), before);
  EXPECT_EQ(Runs(dir / "runs"), 6u);
}

TEST(ReuseTest, ReusingWhatIsNotASweepOutputIsRefused) {
  TempDir dir;
  const std::string config = CountingConfig(dir, "new", {"x"}, "  x: {range: [0, 6]}\n");
  // Another HDF5 file.
  const hid_t f = H5Fcreate((dir / "other.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  H5Fclose(f);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {config, "not a sweep output file (not an HDF5 file)"},
      {"other.h5", "not a sweep output file (no 'format' attribute)"},
      {"missing.h5", "No such file or directory"},
      {dir.path(), "not a file"}};
  for (const auto& [path, what] : cases) {
    const RunResult r = RunSweep({"run", config, "--reuse", path}, dir.path());
    EXPECT_EQ(r.code, 2) << path << ": " << r.err;
    EXPECT_NE(r.err.find("--reuse"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "new.h5"));
  }
  EXPECT_EQ(Runs(dir / "runs"), 0u);
}

TEST(ReuseTest, TheSameFileTwiceIsReadOnce) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", CountingConfig(dir, "old", {"x"}, "  x: {range: [0, 4]}\n"), "-q"},
                     dir.path())
                .code,
            0);
  std::filesystem::create_symlink(dir / "old.h5", dir / "alias.h5");
  const std::string config = CountingConfig(dir, "new", {"x"}, "  x: {range: [0, 8]}\n");
  const RunResult r =
      RunSweep({"run", config, "-q", "--reuse", "old.h5", "--reuse", "alias.h5"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("--reuse alias.h5: the same file as --reuse old.h5; read once"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Runs(dir / "runs"), 4u + 4u);  // old, then new's 4..7
}

TEST(ReuseTest, AnOldOutputOfAnotherChunkSizeAndSeveralOldOutputsGiveAFreshRunsBytes) {
  TempDir dir;
  const std::string old_config = CountingConfig(dir, "old", {"x"}, "  x: {range: [0, 10]}\n");
  ASSERT_EQ(RunSweep({"run", old_config, "-q", "--chunk-size", "3"}, dir.path()).code, 0);
  // A second earlier output, overlapping the first.
  const std::string other_config = CountingConfig(dir, "other", {"x"}, "  x: {range: [5, 15]}\n");
  ASSERT_EQ(RunSweep({"run", other_config, "-q", "--chunk-size", "7"}, dir.path()).code, 0);
  const std::string config = CountingConfig(dir, "new", {"x"}, "  x: {range: [0, 20]}\n");
  const RunResult r = RunSweep(
      {"run", config, "-q", "--chunk-size", "6", "--reuse", "old.h5", "--reuse", "other.h5"},
      dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Runs(dir / "runs"), 10u + 10u + 5u);  // old, other, then new's 15..19
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "fresh.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));
  // Points 0..9 from the first output named, 10..14 from the second.
  uint64_t from_old = 0, from_other = 0;
  for (const JournalRecord& rec : JournalRecords(dir / "new.h5.journal", "reused"))
    (rec.from == dir / "old.h5" ? from_old : from_other) += rec.points;
  EXPECT_EQ(from_old + from_other, 15u);
  EXPECT_GE(from_old, 9u);  // a chunk drawing from both is recorded under the first
}

// The `faulty` kernel's sweep over i, held at `gate` from i = hold_from: its options are part
// of what is compared, so OLD and NEW share them.
std::string HeldSweep(const TempDir& dir, const Gate& gate, const std::string& name,
                      const std::string& range, int hold_from) {
  const std::string path = dir / (name + ".yaml");
  WriteFile(path, "name: " + name + "\nseed: 5\nkernel: {name: faulty, options: {seeded: 1, " +
                      gate.Options(hold_from) +
                      "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\nparameters:\n"
                      "  i: {range: " +
                      range + "}\nexecution: {workers: 2, chunk_size: 2}\noutput: {path: " + name +
                      ".h5}\n");
  return path;
}

TEST(ReuseTest, ALiveOldOutputGivesTheChunksDoneWhenTheRunStarts) {
  TempDir dir;
  Gate gate(dir.path());
  const std::string old_config = HeldSweep(dir, gate, "old", "[0, 20]", 10);
  SweepProcess old_run({"run", old_config, "-q"}, dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "old.h5.journal", "done", 5)) << old_run.err();
  ASSERT_TRUE(gate.WaitHeld(2));  // OLD is live: its points from 10 on wait
  const std::string new_config = HeldSweep(dir, gate, "new", "[0, 30]", 10);
  SweepProcess grown({"run", new_config, "--reuse", "old.h5"}, dir.path());
  ASSERT_TRUE(WaitUntil([&] { return grown.out().find("reuse: 10 of 30") != std::string::npos; }))
      << grown.out() << grown.err();
  gate.Open();
  EXPECT_EQ(old_run.Wait(), 0) << old_run.err();
  EXPECT_EQ(grown.Wait(), 0) << grown.err();
  ASSERT_EQ(RunSweep({"run", new_config, "-q", "-o", "fresh.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));
  EXPECT_EQ(StatusJson(dir, "new.h5")["points_reused"], 10);
}

TEST(ReuseTest, AnOldOutputDeletedDuringTheRunIsStillReadAndAResumeNeedsNone) {
  TempDir dir;
  Gate gate(dir.path());
  gate.Open();  // OLD computes without waiting
  const std::string old_config = HeldSweep(dir, gate, "old", "[20, 40]", 10);
  ASSERT_EQ(RunSweep({"run", old_config, "-q"}, dir.path()).code, 0);
  gate.Close();
  // NEW computes 0..19 (10..19 wait at the gate) and reuses 20..39, handed out after them.
  const std::string new_config = HeldSweep(dir, gate, "new", "[0, 40]", 10);
  {
    SweepProcess grown({"run", new_config, "-q", "--reuse", "old.h5"}, dir.path());
    ASSERT_TRUE(gate.WaitHeld(2)) << grown.err();
    std::filesystem::remove(dir / "old.h5");
    std::filesystem::remove(dir / "old.h5.journal");
    gate.Open();
    EXPECT_EQ(grown.Wait(), 0) << grown.err();
  }
  EXPECT_EQ(StatusJson(dir, "new.h5")["points_reused"], 20);
  ASSERT_EQ(RunSweep({"run", new_config, "-q", "-o", "fresh.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));

  // Again, interrupted in the middle: the resume finishes without the old output.
  ASSERT_EQ(RunSweep({"run", old_config, "-q", "-o", "old.h5"}, dir.path()).code, 0);
  gate.Close();  // after OLD: its points are all held ones
  {
    SweepProcess grown({"run", new_config, "-q", "--force", "--reuse", "old.h5"}, dir.path());
    ASSERT_TRUE(gate.WaitHeld(2)) << grown.err();
    grown.Signal(SIGINT);
    EXPECT_EQ(grown.Wait(), 130) << grown.err();
  }
  std::filesystem::remove(dir / "old.h5");
  gate.Open();
  const RunResult resumed = RunSweep({"resume", "new.h5", "-q"}, dir.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));
}

// ---- Shards and MPI ----

TEST(ReuseTest, ShardsEachCopyTheirOwnChunksReusedPoints) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run",
                      CountingConfig(dir, "old", {"x", "k"},
                                     "  x: {linspace: [0, 1, 11]}\n  k: {values: [1, 3]}\n"),
                      "-q"},
                     dir.path())
                .code,
            0);
  const std::string config = CountingConfig(
      dir, "new", {"x", "k"}, "  x: {linspace: [0, 1, 21]}\n  k: {values: [1, 2, 3]}\n");
  for (const char* shard : {"0/2", "1/2"}) {
    const RunResult r =
        RunSweep({"run", config, "-q", "--shard", shard, "--reuse", "old.h5"}, dir.path());
    ASSERT_EQ(r.code, 0) << r.err;
  }
  EXPECT_EQ(Runs(dir / "runs"), 22u + 63u - 22u);
  uint64_t reused = 0;
  for (const char* journal : {"new.h5.journal.shard-0-of-2", "new.h5.journal.shard-1-of-2"}) {
    uint64_t in_shard = 0;
    for (const JournalRecord& r : JournalRecords(dir / journal, "reused")) in_shard += r.points;
    EXPECT_GT(in_shard, 0u) << journal;
    reused += in_shard;
  }
  EXPECT_EQ(reused, 22u);
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "fresh.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));
  EXPECT_EQ(StatusJson(dir, "new.h5")["points_reused"], 22);
}

#if defined(SWEEP_HAVE_MPI)
TEST(ReuseTest, UnderMpiRankZeroCopiesAndTheBytesAreAFreshRuns) {
  TempDir dir;
  const std::vector<std::string> mpirun = Mpirun(2);
  const auto config = [&](const std::string& name, const std::string& vols) {
    const std::string path = dir / (name + ".yaml");
    WriteFile(path, "name: " + name +
                        "\nseed: 11\nkernel: {name: option_mc, options: {paths: 500}}\n"
                        "parameters:\n  S0: 100\n  K: {values: [90, 110]}\n  r: 0.02\n"
                        "  vol: {linspace: " +
                        vols +
                        "}\n  T: 1.0\n"
                        "execution: {chunk_size: 3}\noutput: {path: " +
                        name + ".h5}\n");
    return path;
  };
  ASSERT_EQ(RunSweep({"run", config("old", "[0.1, 0.5, 11]"), "-q"}, dir.path()).code, 0);
  const std::string new_config = config("new", "[0.1, 0.5, 21]");
  const RunResult r = RunSweep({"run", new_config, "-q", "--mpi", "-j", "1", "--reuse", "old.h5"},
                               dir.path(), mpirun);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(RunSweep({"run", new_config, "-q", "-o", "fresh.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ResultsAndParams(dir / "new.h5"), ResultsAndParams(dir / "fresh.h5"));
  EXPECT_EQ(StatusJson(dir, "new.h5")["points_reused"], 22);
  // The other rank computed chunks with reused points in them: rank 0 filled those.
  const RunResult chunks =
      RunSweep({"export", "new.h5", "--chunks", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(chunks.code, 0) << chunks.err;
  EXPECT_NE(chunks.out.find("\"reused\":"), std::string::npos);
}
#endif

// ---- Outputs made before seeds by value ----

// Makes `out.h5` an output of an earlier sweep: its fingerprint without "seeds", as sweeps
// before seeds by value wrote it.
void MakeOlderOutput(const TempDir& dir) {
  WriteFile(dir / "older.py",
            "import h5py, json\n"
            "f = h5py.File('out.h5', 'r+')\n"
            "fp = json.loads(f.attrs['fingerprint'])\n"
            "del fp['seeds']\n"
            "f.attrs['fingerprint'] = json.dumps(fp)\n"
            "f.close()\n");
  ASSERT_EQ(Shell("cd " + dir.path() + " && " + kPython + " older.py"), 0);
}

// Its points' seeds are not this sweep's (ResumeTest.AnOutputOfAnEarlierSweepResumes...):
// --reuse refuses it, saying why.
TEST(ReuseTest, AnOutputOfAnEarlierSweepIsRefused) {
  TempDir dir;
  Gate gate(dir.path());
  gate.Open();
  const std::string config = HeldConfig(dir, gate, 12, 4, -1);
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  MakeOlderOutput(dir);
  std::string text = ReadFile(config);
  text.replace(text.find("out.h5"), 6, "new.h5");
  WriteFile(dir / "new.yaml", text);
  const RunResult reuse = RunSweep({"run", dir / "new.yaml", "--reuse", "out.h5"}, dir.path());
  EXPECT_EQ(reuse.code, 2);
  EXPECT_NE(reuse.err.find("made by an earlier sweep, which seeded each point by its index"),
            std::string::npos)
      << reuse.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "new.h5"));
}

// ---- plan --reuse and the report ----

TEST(ReuseTest, PlanSaysALatinHypercubeReusesOnlyIdenticalSamples) {
  TempDir dir;
  const std::string parameters = "  u: {uniform: [0, 1]}\n";
  ASSERT_EQ(
      RunSweep(
          {"run", CountingConfig(dir, "old", {"u"}, parameters, "sampling: {method: lhs, n: 8}\n"),
           "-q"},
          dir.path())
          .code,
      0);
  const std::string config =
      CountingConfig(dir, "new", {"u"}, parameters, "sampling: {method: lhs, n: 16}\n");
  const RunResult plan = RunSweep({"plan", config, "--reuse", "old.h5"}, dir.path());
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_NE(plan.out.find("reuse: 0 of 16 points copied"), std::string::npos) << plan.out;
  EXPECT_NE(plan.out.find("a Latin hypercube's samples change with sampling.n"), std::string::npos)
      << plan.out;
  EXPECT_NE(plan.out.find("none, no value of `u` is in it"), std::string::npos) << plan.out;
  EXPECT_FALSE(std::filesystem::exists(dir / "new.h5"));
}

TEST(ReuseTest, StatusAndReportShowReusedNextToComputed) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", CountingConfig(dir, "old", {"x"}, "  x: {range: [0, 4]}\n"), "-q"},
                     dir.path())
                .code,
            0);
  const std::string config = CountingConfig(dir, "new", {"x"}, "  x: {range: [0, 10]}\n");
  ASSERT_EQ(RunSweep({"run", config, "-q", "--reuse", "old.h5"}, dir.path()).code, 0);
  const RunResult status = RunSweep({"status", "new.h5"}, dir.path());
  EXPECT_NE(status.out.find("of them 6 computed, 4 reused from earlier outputs"), std::string::npos)
      << status.out;
  ASSERT_EQ(RunSweep({"report", "new.h5", "-o", "report.html"}, dir.path()).code, 0);
  const std::string html = ReadFile(dir / "report.html");
  EXPECT_NE(html.find("<th>computed</th><td>6 points</td>"), std::string::npos);
  EXPECT_NE(html.find("4 points copied from earlier outputs (--reuse): 4 from " + dir / "old.h5"),
            std::string::npos);
  const RunResult chunks = RunSweep({"export", "new.h5", "--chunks"}, dir.path());
  ASSERT_EQ(chunks.code, 0) << chunks.err;
  EXPECT_NE(chunks.out.find(",4," + dir / "old.h5" + ",0,0\n"), std::string::npos) << chunks.out;
}

}  // namespace
}  // namespace sweep
