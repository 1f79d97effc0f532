#include "io/output_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

#include "io/error.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

using Mode = OutputLock::Mode;

double Seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// The exit code and message of the Error `take` throws; code -1 when it throws nothing.
std::pair<int, std::string> Refusal(const std::function<void()>& take) {
  try {
    take();
  } catch (const Error& e) {
    return {int(e.code()), e.what()};
  }
  return {-1, ""};
}

// A process that holds the lock on `output` (in `mode`) until it is killed.
class Holder {
 public:
  Holder(const std::string& output, Mode mode) {
    int ready[2];
    if (pipe(ready) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ == 0) {
      close(ready[0]);
      try {
        static OutputLock lock(output, mode, 0);  // held until the process dies
        (void)!write(ready[1], "y", 1);
      } catch (...) {
        _exit(1);
      }
      for (;;) pause();
    }
    close(ready[1]);
    char c = 0;
    held_ = read(ready[0], &c, 1) == 1;
    close(ready[0]);
  }
  ~Holder() { Kill(); }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid() const { return pid_; }
  bool held() const { return held_; }

 private:
  pid_t pid_ = -1;
  bool held_ = false;
};

TEST(OutputLockTest, ExclusiveRefusesAnotherExclusiveNamingTheHolder) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  Holder holder(out, Mode::kExclusive);
  ASSERT_TRUE(holder.held());
  const auto [code, message] = Refusal([&] { OutputLock lock(out); });
  EXPECT_EQ(code, 4);
  EXPECT_EQ(message, out + " is in use by another sweep (pid " + std::to_string(holder.pid()) +
                         " on " + HostName() + ")");
  // A shared taker is refused too.
  EXPECT_EQ(Refusal([&] { OutputLock lock(out, Mode::kShared, 0); }).first, 4);
}

// Shards hold the output's lock together, naming none of them in its file: a refused run names
// each live shard from its own lock (it said "in use by another sweep (pid ?)"); a shard that
// is gone is not named.
TEST(OutputLockTest, ARunRefusedByShardsNamesEveryLiveShard) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  Holder shared0(out, Mode::kShared), shared2(out, Mode::kShared);
  Holder shard0(out + ".shard-0-of-3", Mode::kExclusive);
  Holder shard2(out + ".shard-2-of-3", Mode::kExclusive);
  Holder shard1(out + ".shard-1-of-3", Mode::kExclusive);
  ASSERT_TRUE(shared0.held() && shared2.held() && shard0.held() && shard1.held() && shard2.held());
  shard1.Kill();
  const auto [code, message] = Refusal([&] { OutputLock lock(out); });
  EXPECT_EQ(code, 4);
  EXPECT_EQ(message, out + " is in use by the shards of a sweep (shard 0/3: pid " +
                         std::to_string(shard0.pid()) + " on " + HostName() + "; shard 2/3: pid " +
                         std::to_string(shard2.pid()) + " on " + HostName() + ")");
}

// A refused run removes the lock file it made (RemoveFile). A taker that opened that file before
// it went gets its lock on a file no longer at the path: it must open the path again, or two
// takers would both hold "the" lock (one on the removed file, one on a new one).
TEST(OutputLockTest, ALockFileRemovedByItsHolderIsNotTakenForTheLock) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  std::optional<OutputLock> first(std::in_place, out);
  std::optional<OutputLock> second;
  std::thread taker([&] { second.emplace(out, Mode::kExclusive, 60); });
  // The taker has the old file open (two descriptors of it in this process) and waits.
  auto open_lock_files = [&] {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code error;
      if (std::filesystem::read_symlink(entry.path(), error).string() == out + ".lock") ++n;
    }
    return n;
  };
  const double deadline = Seconds() + 60;
  while (open_lock_files() < 2 && Seconds() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(open_lock_files(), 2);
  first->RemoveFile();
  taker.join();
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(std::filesystem::exists(out + ".lock"));
  // The taker holds the file at the path: a third is refused.
  EXPECT_EQ(Refusal([&] { OutputLock third(out); }).first, 4);
}

TEST(OutputLockTest, TheLockDiesWithAKilledHolder) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  Holder holder(out, Mode::kExclusive);
  ASSERT_TRUE(holder.held());
  holder.Kill();
  EXPECT_EQ(Refusal([&] { OutputLock lock(out); }).first, -1);
}

TEST(OutputLockTest, SharedHoldersCoexistAndKeepExclusiveOut) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  Holder other(out, Mode::kShared);
  ASSERT_TRUE(other.held());
  OutputLock mine(out, Mode::kShared, 0);
  EXPECT_EQ(Refusal([&] { OutputLock lock(out); }).first, 4);
}

TEST(OutputLockTest, ExclusiveWaitsThenTimesOut) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  Holder other(out, Mode::kShared);
  ASSERT_TRUE(other.held());
  const double start = Seconds();
  EXPECT_EQ(Refusal([&] { OutputLock lock(out, Mode::kExclusive, 0.2); }).first, 4);
  const double waited = Seconds() - start;
  EXPECT_GE(waited, 0.2);
  EXPECT_LT(waited, 30.0) << "it waited as if there were no timeout";
}

// `sweep status` sees a live run without disturbing it: the exclusive holder by pid and host, a
// shared one as live but unnamed (several hold it), none once the holder is gone.
TEST(OutputLockTest, AProbeNamesTheLiveHolderAndLeavesTheLockAlone) {
  TempDir dir;
  const std::string out = dir / "out.h5";
  EXPECT_FALSE(ProbeLock(out).has_value());
  {
    Holder holder(out, Mode::kExclusive);
    ASSERT_TRUE(holder.held());
    const std::optional<LockHolder> live = ProbeLock(out);
    ASSERT_TRUE(live.has_value());
    EXPECT_EQ(live->pid, holder.pid());
    EXPECT_EQ(live->host, HostName());
    EXPECT_EQ(Refusal([&] { OutputLock lock(out); }).first, 4);
  }
  EXPECT_FALSE(ProbeLock(out).has_value());
  Holder shard(out, Mode::kShared);
  ASSERT_TRUE(shard.held());
  const std::optional<LockHolder> shared = ProbeLock(out);
  ASSERT_TRUE(shared.has_value());
  EXPECT_EQ(shared->pid, 0);  // the exclusive holder's record is gone
  OutputLock another_shard(out, Mode::kShared, 0);
}

TEST(OutputLockTest, ALockFileThatCannotBeCreatedIsAnOrdinaryError) {
  TempDir dir;
  const auto [code, message] = Refusal([&] { OutputLock lock(dir / "missing/out.h5"); });
  EXPECT_EQ(code, 1);
  EXPECT_EQ(message.rfind("cannot create lock " + dir / "missing/out.h5.lock", 0), 0u) << message;
}

}  // namespace
}  // namespace sweep
