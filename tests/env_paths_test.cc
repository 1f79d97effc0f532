// Tests of config paths that name environment variables (io/config.h, ExpandPaths): `${NAME}` in
// output.path, kernel.workdir.root and the inputs' files, expanded where they are used and
// recorded as expanded in the journal; an unset variable is a located error naming it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "io/config.h"
#include "io/error.h"
#include "io/journal.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

// The message of the ConfigError that expanding `yaml`'s paths throws; "" when none.
std::string ExpandError(const std::string& yaml, const std::string& file = "/cfg/c.yaml") {
  try {
    Config c = ParseConfig(yaml, file);
    ExpandPaths(&c, kAllPaths);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(EnvPathsTest, PathsAreExpandedFromTheEnvironmentWhereTheyAreUsed) {
  setenv("SWEEP_TEST_SCRATCH", "/scratch/job7", 1);
  setenv("SWEEP_TEST_SUB", "sub", 1);
  Config c = ParseConfig(
      "kernel:\n  command: [echo, '{x}']\n  outputs: {x: float64}\n"
      "  workdir: {root: '${SWEEP_TEST_SCRATCH}/w'}\n"
      "inputs:\n  a: {npy: '${SWEEP_TEST_SUB}/a.npy'}\n"
      "parameters:\n  x: 1\noutput: {path: 'out-${SWEEP_TEST_SUB}.h5'}\n",
      "/cfg/c.yaml");
  // Until expanded, a field holds its template, and the config remembers where it came from.
  EXPECT_EQ(c.kernel.workdir.root, "${SWEEP_TEST_SCRATCH}/w");
  EXPECT_EQ(c.path_templates.size(), 3u);
  ExpandPaths(&c, kInputPaths);                   // the inputs alone
  EXPECT_EQ(c.inputs[0].path, "/cfg/sub/a.npy");  // relative: the config's folder
  EXPECT_EQ(c.kernel.workdir.root, "${SWEEP_TEST_SCRATCH}/w");
  ExpandPaths(&c, kAllPaths);
  EXPECT_EQ(c.kernel.workdir.root, "/scratch/job7/w");
  EXPECT_EQ(c.output.path, "/cfg/out-sub.h5");
  const std::map<std::string, std::string> expanded = ExpandedPaths(c);
  EXPECT_EQ(expanded.at("kernel.workdir.root"), "/scratch/job7/w");
  EXPECT_EQ(expanded.at("inputs.a.npy"), "/cfg/sub/a.npy");
  EXPECT_EQ(expanded.at("output.path"), "/cfg/out-sub.h5");
  // Another node, another value: the template is kept.
  setenv("SWEEP_TEST_SCRATCH", "/local/node12", 1);
  ExpandPaths(&c, kWorkdirPath);
  EXPECT_EQ(c.kernel.workdir.root, "/local/node12/w");
}

TEST(EnvPathsTest, AnUnsetVariableOrAShellDollarIsALocatedError) {
  unsetenv("SWEEP_TEST_UNSET");
  const std::string unset = ExpandError(
      "kernel: {name: lorenz}\noutput: {path: '${SWEEP_TEST_UNSET}/o.h5'}\nparameters: {rho: "
      "28}\n");
  EXPECT_NE(unset.find("/cfg/c.yaml:2:"), std::string::npos) << unset;
  EXPECT_NE(unset.find("output.path"), std::string::npos) << unset;
  EXPECT_NE(unset.find("${SWEEP_TEST_UNSET} is not set"), std::string::npos) << unset;
  // Read, not expanded: a config may be checked where the variable is not set.
  EXPECT_NO_THROW(ParseConfig(
      "kernel: {name: lorenz}\noutput: {path: '${SWEEP_TEST_UNSET}/o.h5'}\nparameters: {rho: 28}\n",
      "c.yaml"));
  for (const char* bad : {"$HOME/o.h5", "${}/o.h5", "${1X}/o.h5", "${HOME/o.h5"}) {
    try {
      ParseConfig(std::string("kernel: {name: lorenz}\noutput: {path: '") + bad +
                      "'}\nparameters: {rho: 28}\n",
                  "/cfg/c.yaml");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("/cfg/c.yaml:2:"), std::string::npos) << what;
      EXPECT_NE(what.find("${NAME}"), std::string::npos) << what;
    }
  }
}

// A command kernel's work folders under `${SWEEP_TEST_SCRATCH}`: where the variable says when the
// run starts, recorded so in the journal; a rerun in another environment works where its own
// says. Unset, the run stops before writing anything, naming the variable and where it is used.
TEST(EnvPathsTest, WorkFoldersGoWhereTheVariableSaysOnTheNodeThatUsesThem) {
  TempDir dir;
  const std::string config = dir / "c.yaml";
  WriteFile(config, "name: c\nkernel:\n  command: [" + std::string(SWEEP_FAKE_SIM) +
                        ", lines, '{x}']\n  outputs: {y: float64, v: [float64, 3]}\n"
                        "  workdir: {root: '${SWEEP_TEST_SCRATCH}/work', keep: always}\n"
                        "parameters:\n  x: {range: [0, 4]}\n"
                        "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  const std::vector<std::string> unset = {"/usr/bin/env", "-u", "SWEEP_TEST_SCRATCH"};
  const RunResult refused = RunSweep({"run", config, "-q"}, dir.path(), unset);
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_NE(refused.err.find(config + ":5:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("kernel.workdir.root"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("${SWEEP_TEST_SCRATCH} is not set"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.journal"));

  const RunResult r = RunSweep({"run", config, "-q"}, dir.path(),
                               {"/usr/bin/env", "SWEEP_TEST_SCRATCH=" + (dir / "node-a")});
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> folders;
  for (const auto& e : std::filesystem::directory_iterator(dir / "node-a/work"))
    folders.insert(e.path().filename().string());
  // The root is claimed for this output by its marker (configs/README.md, `workdir.root`).
  EXPECT_EQ(folders,
            (std::set<std::string>{".sweep-workdirs", "point-0", "point-1", "point-2", "point-3"}));
  std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  ASSERT_EQ(started[0].paths.count(0), 1u);
  EXPECT_EQ(started[0].paths.at(0).at("kernel.workdir.root"), dir / "node-a/work");

  // A rerun elsewhere: the stored config is expanded in the rerun's environment.
  const RunResult again = RunSweep({"rerun", "out.h5", "--chunks", "2", "-q"}, dir.path(),
                                   {"/usr/bin/env", "SWEEP_TEST_SCRATCH=" + (dir / "node-b")});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(std::filesystem::is_directory(dir / "node-b/work/point-2"));
  started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].paths.at(0).at("kernel.workdir.root"), dir / "node-b/work");
}

}  // namespace
}  // namespace sweep
