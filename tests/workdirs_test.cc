#include "io/workdirs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/error.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string ThrownBy(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "nothing thrown";
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(WorkdirsTest, APointsDirectoryIsMadeFreshUnderItsName) {
  TempDir dir;
  const Workdirs workdirs(dir / "out.h5.work", false);
  EXPECT_EQ(Workdirs::NameOf(7), "point-7");
  EXPECT_EQ(workdirs.PathOf(7), dir / "out.h5.work/point-7");
  {
    const ScopedFd point = workdirs.MakeFresh(7);  // the root is made on the way
    WriteFileBelow(point.get(), "conf/input.nml", "&run x = 1 /\n", 0755);
  }
  EXPECT_EQ(ReadAll(dir / "out.h5.work/point-7/conf/input.nml"), "&run x = 1 /\n");
  struct stat st {};
  ASSERT_EQ(stat((dir / "out.h5.work/point-7/conf/input.nml").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0100, 0100u) << "the mode given (less the umask) is the file's";
  // Run again, the point finds its old directory and starts empty.
  Write(dir / "out.h5.work/point-7/stale", "from the last run");
  {
    const ScopedFd point = workdirs.MakeFresh(7);
    EXPECT_EQ(ReadFileBelow(point.get(), "stale", 100), std::nullopt);
  }
  EXPECT_FALSE(fs::exists(dir / "out.h5.work/point-7/conf"));
  workdirs.Remove(7);
  workdirs.Remove(7);  // gone already: nothing to do
  EXPECT_FALSE(fs::exists(dir / "out.h5.work/point-7"));
  workdirs.RemoveRootIfEmpty();
  EXPECT_FALSE(fs::exists(dir / "out.h5.work"));
}

TEST(WorkdirsTest, RemovingNeverFollowsALinkAndClearsReadOnlyFolders) {
  TempDir dir;
  fs::create_directory(dir / "precious");
  Write(dir / "precious/data", "keep me");
  const Workdirs workdirs(dir / "root", false);
  {
    const ScopedFd point = workdirs.MakeFresh(3);
    // What a program may leave behind: links to folders and files elsewhere, a read-only tree.
    fs::create_directory_symlink(dir / "precious", dir / "root/point-3/link");
    fs::create_symlink(dir / "precious/data", dir / "root/point-3/file-link");
    fs::create_directories(dir / "root/point-3/ro/deeper");
    Write(dir / "root/point-3/ro/deeper/f", "x");
    chmod((dir / "root/point-3/ro/deeper").c_str(), 0500);
    chmod((dir / "root/point-3/ro").c_str(), 0500);
  }
  workdirs.Remove(3);
  EXPECT_FALSE(fs::exists(dir / "root/point-3"));
  EXPECT_EQ(ReadAll(dir / "precious/data"), "keep me");
}

TEST(WorkdirsTest, NamesNeverLeadOutOfTheDirectory) {
  TempDir dir;
  fs::create_directory(dir / "outside");
  const Workdirs workdirs(dir / "root", false);
  const ScopedFd point = workdirs.MakeFresh(0);
  for (const std::string name : {"../escape", "a/../../escape", "/etc/x", "a//b", "./a", ""}) {
    EXPECT_TRUE(Contains(ThrownBy([&] { WriteFileBelow(point.get(), name, "x", 0644); }),
                         "not a plain relative name"))
        << name;
  }
  // A folder on the way, or the file itself, that is a link is not followed.
  fs::create_directory_symlink(dir / "outside", dir / "root/point-0/conf");
  EXPECT_TRUE(Contains(ThrownBy([&] { WriteFileBelow(point.get(), "conf/x", "x", 0644); }),
                       "conf/x: conf is not a folder"));
  fs::create_symlink(dir / "outside/target", dir / "root/point-0/out.json");
  EXPECT_TRUE(Contains(ThrownBy([&] { WriteFileBelow(point.get(), "out.json", "x", 0644); }),
                       "write out.json: File exists"));
  EXPECT_FALSE(fs::exists(dir / "outside/target"));
  Write(dir / "outside/secret", "secret");
  fs::create_symlink(dir / "outside/secret", dir / "root/point-0/results.json");
  EXPECT_EQ(ThrownBy([&] { ReadFileBelow(point.get(), "results.json", 100); }),
            "results.json: is a symbolic link, which sweep does not follow");
  EXPECT_TRUE(Contains(ThrownBy([&] { ReadFileBelow(point.get(), "conf/secret", 100); }),
                       "conf/secret: conf is not a folder"));
}

TEST(WorkdirsTest, ReadsAResultsFileWithinItsLimit) {
  TempDir dir;
  const Workdirs workdirs(dir / "root", false);
  const ScopedFd point = workdirs.MakeFresh(1);
  EXPECT_EQ(ReadFileBelow(point.get(), "out.json", 100), std::nullopt);
  EXPECT_EQ(ReadFileBelow(point.get(), "sub/out.json", 100), std::nullopt);
  Write(dir / "root/point-1/out.json", "{\"y\": 1}");
  EXPECT_EQ(ReadFileBelow(point.get(), "out.json", 100), "{\"y\": 1}");
  EXPECT_EQ(ThrownBy([&] { ReadFileBelow(point.get(), "out.json", 4); }),
            "out.json: is 8 bytes, over the limit of 4");
  ASSERT_EQ(mkfifo((dir / "root/point-1/fifo").c_str(), 0644), 0);
  EXPECT_EQ(ThrownBy([&] { ReadFileBelow(point.get(), "fifo", 100); }),
            "fifo: is not a regular file");
}

TEST(WorkdirsTest, TheDefaultRootIsNotFollowedThroughALinkANamedOneIs) {
  TempDir dir;
  fs::create_directory(dir / "scratch");
  fs::create_directory_symlink(dir / "scratch", dir / "out.h5.work");
  EXPECT_EQ(
      ThrownBy([&] { Workdirs(dir / "out.h5.work", false).MakeFresh(0); }),
      dir / "out.h5.work" + ": is a symbolic link; sweep does not follow links beside its output");
  EXPECT_FALSE(fs::exists(dir / "scratch/point-0"));
  Workdirs(dir / "out.h5.work", true).MakeFresh(0);
  EXPECT_TRUE(fs::is_directory(dir / "scratch/point-0"));
  // A named root is made with its parents.
  Workdirs(dir / "a/b/c", true).MakeFresh(2);
  EXPECT_TRUE(fs::is_directory(dir / "a/b/c/point-2"));
}

TEST(WorkdirsTest, RemoveTreeRefusesFoldersNestedWithoutEnd) {
  TempDir dir;
  std::string path = dir / "deep";
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(mkdir(path.c_str(), 0755), 0) << i;
    path += "/d";
  }
  const ScopedFd top(open(dir.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  EXPECT_TRUE(
      Contains(ThrownBy([&] { RemoveTree(top.get(), "deep"); }), "folders nested deeper than 256"));
  RemoveTree(top.get(), "missing");  // nothing there: nothing to do
}

// A named work root is claimed for one output at a time: the shards of one output together, any
// other sweep refused while they hold it (exit 4), and taken over once they let go and left none
// of their directories. Each refusal leaves the root as it was.
TEST(WorkdirsTest, ARootIsClaimedForOneOutputAtATime) {
  TempDir dir;
  const std::string root = dir / "work", a = dir / "a.h5", b = dir / "b.h5";
  const auto code_of = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    return ExitCode::kOk;
  };
  {
    const WorkdirRootClaim first(root, a, OutputLock::Mode::kShared);
    const WorkdirRootClaim second(root, a, OutputLock::Mode::kShared);  // a shard of the same
    EXPECT_TRUE(Contains(ReadAll(root + "/.sweep-workdirs"), "\"output\":\"" + a + "\""));
    EXPECT_EQ(code_of([&] { WorkdirRootClaim(root, b, OutputLock::Mode::kShared); }),
              ExitCode::kLocked);
    EXPECT_EQ(code_of([&] { WorkdirRootClaim(root, b, OutputLock::Mode::kExclusive); }),
              ExitCode::kLocked);
    EXPECT_EQ(code_of([&] { WorkdirRootClaim::Check(root, b); }), ExitCode::kLocked);
    EXPECT_TRUE(Contains(
        ThrownBy([&] { WorkdirRootClaim::Check(root, b); }),
        root + " (kernel.workdir.root) is in use by the sweep writing " + a + " (its shards)"));
    EXPECT_EQ(code_of([&] { WorkdirRootClaim::Check(root, a); }), ExitCode::kOk);
  }
  {
    const WorkdirRootClaim alone(root, a, OutputLock::Mode::kExclusive);
    EXPECT_TRUE(Contains(
        ThrownBy([&] { WorkdirRootClaim(root, b, OutputLock::Mode::kShared); }),
        "in use by the sweep writing " + a + " (pid " + std::to_string(getpid()) + " on "));
    // a's point made while it runs.
    fs::create_directory(root + "/point-3");
  }
  // a is not running, but its output holds the point: the root stays a's.
  Write(a, "");
  EXPECT_EQ(code_of([&] { WorkdirRootClaim::Check(root, b); }), ExitCode::kUsage);
  EXPECT_TRUE(
      Contains(ThrownBy([&] { WorkdirRootClaim(root, b, OutputLock::Mode::kExclusive); }),
               root + " (kernel.workdir.root) holds work directories of " + a + " (point-3)"));
  // Gone, or without directories there, a lets b take the root over.
  fs::remove(a);
  { const WorkdirRootClaim taken(root, b, OutputLock::Mode::kExclusive); }
  EXPECT_TRUE(Contains(ReadAll(root + "/.sweep-workdirs"), "\"output\":\"" + b + "\""));

  // A folder of the user's holding a `point-<i>` entry of any kind is refused; the marker made
  // on the way is removed again.
  const std::string mine = dir / "mine";
  fs::create_directory(mine);
  Write(mine + "/point-12", "a file");
  Write(mine + "/point-x", "not a point's name");
  EXPECT_TRUE(Contains(ThrownBy([&] { WorkdirRootClaim(mine, a, OutputLock::Mode::kExclusive); }),
                       mine + "/point-12: sweep did not make this file"));
  EXPECT_FALSE(fs::exists(mine + "/.sweep-workdirs"));
  fs::remove(mine + "/point-12");
  { const WorkdirRootClaim adopted(mine, a, OutputLock::Mode::kExclusive); }
  EXPECT_EQ(ReadAll(mine + "/point-x"), "not a point's name");
}

}  // namespace
}  // namespace sweep
