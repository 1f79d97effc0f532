// End-to-end tests: sweep never follows a symbolic link planted beside its output (the lock, the
// journal, the log folder, the worker board), which would make it truncate, lock or write what the
// link points to.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <chrono>
#include <filesystem>
#include <set>
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

// `--force` never replaces a file the sweep's kernel is made of, under any name either: the
// command's program, the script an argument names, each `files:` template, a plugin library.
// Each is named by its role, exit 2, and nothing is written (no lock beside it either).
TEST(OwnFilesTest, ForceNeverReplacesTheFilesOfTheKernel) {
  TempDir dir;
  WriteFile(dir / "prog.sh", "#!/bin/sh\ncat in.txt\n");
  chmod((dir / "prog.sh").c_str(), 0755);
  WriteFile(dir / "model.sh", "cat in.txt\n");
  WriteFile(dir / "script.yaml",
            "name: script\nkernel:\n  command: [/bin/sh, '{config_dir}/model.sh']\n"
            "  files: {in.txt: tpl/in.txt}\n  outputs: {y: float64}\n"
            "parameters:\n  x: {values: [1, 2]}\noutput: {path: out.h5}\n");
  std::filesystem::create_directory(dir / "tpl");
  WriteFile(dir / "tpl/in.txt", "y {x}\n");
  WriteFile(dir / "cmd.yaml",
            "name: cmd\nkernel:\n  command: [./prog.sh]\n  files: {in.txt: tpl/in.txt}\n"
            "  outputs: {y: float64}\nparameters:\n  x: {values: [1, 2]}\n"
            "output: {path: out.h5}\n");
  std::filesystem::copy_file(SWEEP_EXAMPLE_PLUGIN, dir / "libmine.so");
  WriteFile(dir / "osc.yaml",
            "name: osc\nkernel:\n  plugin: libmine.so\n  options: {omega0: 1.0, steps: 20, "
            "periods: 6, samples: 2}\nparameters:\n  omega: {linspace: [0.2, 2.0, 3]}\n"
            "  zeta: 0.1\noutput: {path: out.h5}\n");
  std::filesystem::create_hard_link(dir / "prog.sh", dir / "prog-alias");
  const std::string program = ReadFile(dir / "prog.sh"), tpl = ReadFile(dir / "tpl/in.txt"),
                    library = ReadFile(dir / "libmine.so"), script = ReadFile(dir / "model.sh");
  struct Case {
    std::string config, target, role;
  };
  for (const Case& c :
       std::vector<Case>{{"cmd.yaml", "prog.sh", "is its program (kernel.command[0])"},
                         {"cmd.yaml", "prog-alias", "is its program (kernel.command[0])"},
                         {"cmd.yaml", "tpl/in.txt", "is its template (kernel.files.in.txt)"},
                         {"script.yaml", "model.sh", "is its script (kernel.command[1])"},
                         {"osc.yaml", "libmine.so", "is its plugin library (kernel.plugin)"}}) {
    const RunResult r = RunSweep({"run", c.config, "-o", c.target, "--force", "-q"}, dir.path());
    EXPECT_EQ(r.code, 2) << c.target << ": " << r.err;
    EXPECT_NE(r.err.find(dir / c.target + ": " + c.role + "; the output must be another file"),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / (c.target + ".lock"))) << c.target;
    EXPECT_FALSE(std::filesystem::exists(dir / (c.target + ".journal"))) << c.target;
  }
  EXPECT_EQ(ReadFile(dir / "prog.sh"), program);
  EXPECT_EQ(ReadFile(dir / "tpl/in.txt"), tpl);
  EXPECT_EQ(ReadFile(dir / "libmine.so"), library);
  EXPECT_EQ(ReadFile(dir / "model.sh"), script);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
}

// The files in `folder`, recursively, with their kinds: what a refused run must leave as it was.
std::set<std::string> Tree(const std::string& folder) {
  std::set<std::string> entries;
  for (const auto& e : std::filesystem::recursive_directory_iterator(folder))
    entries.insert(e.path().string() + (e.is_symlink() ? " link" : e.is_directory() ? " dir" : ""));
  return entries;
}

// `-o` naming a folder, a FIFO or a device (here through a link to /dev/null, and a device node of
// its own where this machine lets root make one) is refused with or without --force: exit 2,
// nothing created beside it or inside it, and no suggestion of --force, which could only destroy.
TEST(OwnFilesTest, AnOutputThatIsNotARegularFileIsRefusedAndNothingIsCreated) {
  TempDir dir;
  const std::string config = SmallConfig(dir);
  std::filesystem::create_directory(dir / "folder");
  ASSERT_EQ(mkfifo((dir / "fifo").c_str(), 0644), 0);
  std::filesystem::create_symlink("/dev/null", dir / "null.h5");
  std::vector<std::pair<std::string, std::string>> cases = {{"folder", "is a folder"},
                                                            {"folder/", "is a folder"},
                                                            {"fifo", "is a FIFO"},
                                                            {"null.h5", "is a character device"},
                                                            {"newfolder/", "names a folder"}};
  if (mknod((dir / "device").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0)
    cases.emplace_back("device", "is a character device");
  const std::set<std::string> before = Tree(dir.path());
  for (const auto& [target, what] : cases) {
    for (const bool force : {false, true}) {
      std::vector<std::string> args = {"run", config, "-o", target, "-q"};
      if (force) args.push_back("--force");
      const RunResult r = RunSweep(args, dir.path());
      EXPECT_EQ(r.code, 2) << target << (force ? " --force: " : ": ") << r.err;
      EXPECT_NE(r.err.find(dir / target + ": " + what), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("--force"), std::string::npos) << r.err;
      // The stdout and stderr files the test itself made are all that is new.
      std::set<std::string> after = Tree(dir.path());
      for (auto it = after.begin(); it != after.end();) {
        const std::string name = std::filesystem::path(*it).filename().string();
        it = name.rfind("stdout-", 0) == 0 || name.rfind("stderr-", 0) == 0 ? after.erase(it)
                                                                            : std::next(it);
      }
      EXPECT_EQ(after, before) << target;
    }
  }
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "null.h5"));
  EXPECT_TRUE(std::filesystem::is_fifo(dir / "fifo"));
  // The same for a resume: a FIFO would block its reader forever.
  const RunResult resume = RunSweep({"resume", "fifo", "-q"}, dir.path());
  EXPECT_EQ(resume.code, 2) << resume.err;
  EXPECT_NE(resume.err.find(dir / "fifo: is a FIFO"), std::string::npos) << resume.err;
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
    // Refused, they leave nothing: not even the lock file each made for its name.
    EXPECT_FALSE(std::filesystem::exists(dir / (name + ".lock"))) << name;
  }
  gate.Open();
  EXPECT_EQ(live.Wait(), 0) << live.err();
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  EXPECT_NE(status.out.find("\"pending\": 0"), std::string::npos) << status.out;
}

}  // namespace
}  // namespace sweep
