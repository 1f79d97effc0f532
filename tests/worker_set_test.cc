#include "driver/worker_set.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/fakes.h"
#include "tests/wait.h"

namespace sweep {
namespace {

using testing::TempDir;

bool ProcessExists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

WorkerEvent NextEvent(WorkerSet& set) {
  std::optional<WorkerEvent> e = set.Next(10.0);
  if (!e) throw std::runtime_error("no event within 10 s");
  return *e;
}

// A forked worker that answers like a real one: Ready, then Done for each assigned chunk.
int EchoWorker(int rank, int socket_fd) {
  SendMessage(socket_fd, Message::Ready(getpid()));
  while (std::optional<Message> m = ReceiveMessage(socket_fd)) {
    if (m->type == MessageType::kShutdown) return 0;
    for (uint64_t c = m->chunk; c < m->chunk + m->count; ++c) {
      if (c == 99) {
        std::fprintf(stderr, "rank %d about to crash\n", rank);
        std::fflush(stderr);
        raise(SIGSEGV);
      }
      SendMessage(socket_fd, Message::Done(c, c * 2, 0.0));
    }
  }
  return 0;
}

TEST(WorkerSetTest, ForkedWorkersGetRanksTalkAndExit) {
  TempDir dir;
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 2;
  launch.log_dir = dir / "logs";
  launch.child_main = [](int rank, int fd) {
    if (std::getenv("SWEEP_RANK") != std::to_string(rank)) return 7;
    if (std::getenv("SWEEP_SIZE") != std::string("2")) return 8;
    return EchoWorker(rank, fd);
  };
  ProcessWorkerSet set(launch);
  set.Start(0);
  set.Start(1);
  int ready = 0;
  while (ready < 2) {
    WorkerEvent e = NextEvent(set);
    ASSERT_EQ(e.kind, WorkerEvent::Kind::kMessage);
    ASSERT_EQ(e.message.type, MessageType::kReady);
    EXPECT_EQ(e.message.pid, set.pid(e.rank));
    // Its own process group.
    EXPECT_EQ(getpgid(set.pid(e.rank)), set.pid(e.rank));
    ++ready;
  }
  ASSERT_TRUE(set.Send(1, Message::Assign(5, 2)));
  for (uint64_t c : {5u, 6u}) {
    WorkerEvent e = NextEvent(set);
    ASSERT_EQ(e.kind, WorkerEvent::Kind::kMessage);
    EXPECT_EQ(e.rank, 1);
    EXPECT_EQ(e.message.chunk, c);
    EXPECT_EQ(e.message.checksum, c * 2);
  }
  for (int r = 0; r < 2; ++r) set.Send(r, Message::Shutdown());
  for (int i = 0; i < 2; ++i) {
    WorkerEvent e = NextEvent(set);
    ASSERT_EQ(e.kind, WorkerEvent::Kind::kExited);
    EXPECT_TRUE(WIFEXITED(e.wait_status));
    EXPECT_EQ(WEXITSTATUS(e.wait_status), 0);
  }
  EXPECT_FALSE(set.Running(0));
  EXPECT_FALSE(set.Running(1));
}

TEST(WorkerSetTest, ACrashIsAnExitWithItsSignalAndItsLogTail) {
  TempDir dir;
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 1;
  launch.log_dir = dir / "logs";
  launch.child_main = EchoWorker;
  ProcessWorkerSet set(launch);
  set.Start(0);
  ASSERT_EQ(NextEvent(set).message.type, MessageType::kReady);
  set.Send(0, Message::Assign(98, 2));
  WorkerEvent done = NextEvent(set);
  EXPECT_EQ(done.message.chunk, 98u);
  WorkerEvent exited = NextEvent(set);
  ASSERT_EQ(exited.kind, WorkerEvent::Kind::kExited);
  ASSERT_TRUE(WIFSIGNALED(exited.wait_status));
  EXPECT_EQ(WTERMSIG(exited.wait_status), SIGSEGV);
  EXPECT_EQ(set.LogTail(0, 2048), "rank 0 about to crash");
  // A replacement starts on the same rank.
  set.Start(0);
  EXPECT_EQ(NextEvent(set).message.type, MessageType::kReady);
}

// A worker printing far more than its log keeps (more than a pipe holds, too) is not blocked:
// Next() copies its output as it comes, the log stays bounded, and the tail a failure shows is
// its last words.
TEST(WorkerSetTest, AFloodingWorkersLogIsCappedAndItsLastWordsKept) {
  TempDir dir;
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 1;
  launch.log_dir = dir / "logs";
  launch.log_rotate_bytes = 64 << 10;
  launch.child_main = [](int, int) {
    const std::string line = std::string(99, 'x') + "\n";
    for (int k = 0; k < 40000; ++k) std::fputs(line.c_str(), stderr);  // 4 MB
    std::fputs("last words\n", stderr);
    std::fflush(stderr);
    raise(SIGSEGV);
    return 0;
  };
  ProcessWorkerSet set(launch);
  set.Start(0);
  WorkerEvent exited = NextEvent(set);
  ASSERT_EQ(exited.kind, WorkerEvent::Kind::kExited);
  ASSERT_TRUE(WIFSIGNALED(exited.wait_status));
  const std::string tail = set.LogTail(0, 512);
  EXPECT_EQ(tail.substr(tail.size() - 10), "last words");
  EXPECT_EQ(tail.size(), 510u) << tail;  // five whole lines before them
  uint64_t kept = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir / "logs"))
    kept += file.file_size();
  EXPECT_LE(kept, uint64_t{2 * 64 << 10});
  EXPECT_GE(kept, uint64_t{64 << 10});
}

TEST(WorkerSetTest, KillTakesTheWholeGroupIncludingGrandchildren) {
  TempDir dir;
  const std::string pidfile = dir / "grandchild.pid";
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 1;
  launch.log_dir = dir / "logs";
  launch.child_main = [pidfile](int, int fd) {
    if (fork() == 0) {  // a grandchild that would outlive its parent
      { std::ofstream(pidfile) << getpid(); }
      for (;;) pause();
    }
    SendMessage(fd, Message::Ready(getpid()));
    for (;;) pause();
    return 0;
  };
  ProcessWorkerSet set(launch);
  set.Start(0);
  ASSERT_EQ(NextEvent(set).message.type, MessageType::kReady);
  pid_t grandchild = 0;
  ASSERT_TRUE(testing::WaitUntil([&] {
    std::ifstream(pidfile) >> grandchild;
    return grandchild > 0;
  }));
  set.Kill(0);
  WorkerEvent e = NextEvent(set);
  ASSERT_EQ(e.kind, WorkerEvent::Kind::kExited);
  EXPECT_EQ(WTERMSIG(e.wait_status), SIGKILL);
  // The grandchild is not our child: it is reaped by init, so poll for it to vanish.
  EXPECT_TRUE(testing::WaitUntil([&] {
    if (!ProcessExists(grandchild) ||
        std::ifstream("/proc/" + std::to_string(grandchild) + "/stat").peek() == EOF)
      return true;
    std::string stat;
    std::getline(std::ifstream("/proc/" + std::to_string(grandchild) + "/stat"), stat);
    return stat.find(") Z") != std::string::npos;
  }));
}

TEST(WorkerSetTest, SigintBecomesAnEvent) {
  TempDir dir;
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 1;
  launch.log_dir = dir / "logs";
  launch.child_main = EchoWorker;
  ProcessWorkerSet set(launch);
  kill(getpid(), SIGINT);
  WorkerEvent e = NextEvent(set);
  EXPECT_EQ(e.kind, WorkerEvent::Kind::kInterrupt);
  EXPECT_EQ(e.signal, SIGINT);
}

TEST(WorkerSetTest, SpawnedWorkerInheritsOnlyWhatItNeeds) {
  TempDir dir;
  // /bin/sh lists its descriptors into the log, then exits: 0 1 2, the socket (3) and the
  // scoreboard (4); the driver's other descriptors must not be there.
  const int stray =
      fcntl(open("/dev/null", O_RDONLY), F_DUPFD, 50);  // not close-on-exec: must still not leak
  ASSERT_GE(stray, 0);
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kSpawn;
  launch.size = 1;
  launch.log_dir = dir / "logs";
  launch.argv = {"/bin/sh", "-c",
                 "ls /proc/self/fd | sort -n | tr '\\n' ' ' >&2; echo >&2; "
                 "echo rank=$SWEEP_RANK size=$SWEEP_SIZE >&2"};
  ProcessWorkerSet set(launch);
  set.Start(0);
  WorkerEvent e = NextEvent(set);
  ASSERT_EQ(e.kind, WorkerEvent::Kind::kExited);
  close(stray);
  const std::string tail = set.LogTail(0, 4096);
  // `ls` itself opens one more descriptor for the directory it lists.
  EXPECT_EQ(tail.substr(0, 10), "0 1 2 3 4 ") << tail;
  EXPECT_EQ(tail.find(" " + std::to_string(stray) + " "), std::string::npos) << tail;
  EXPECT_NE(tail.find("rank=0 size=1"), std::string::npos) << tail;
}

}  // namespace
}  // namespace sweep

namespace sweep {
namespace {

size_t OpenDescriptors() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

TEST(WorkerSetTest, DescriptorsDoNotGrowWithRestarts) {
  testing::TempDir dir;
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 2;
  launch.log_dir = dir / "logs";
  launch.child_main = EchoWorker;
  ProcessWorkerSet set(launch);
  // Each rank's log file stays open from its first start on (driver/worker_log.h): counted
  // once both have started.
  size_t before = 0;
  for (int i = 0; i < 100; ++i) {
    const int rank = i % 2;
    if (i == 2) before = OpenDescriptors();
    set.Start(rank);
    ASSERT_EQ(NextEvent(set).message.type, MessageType::kReady);
    set.Send(rank, Message::Assign(uint64_t(i % 50), 1));  // chunk 99 would crash it
    ASSERT_EQ(NextEvent(set).message.type, MessageType::kDone);
    set.Kill(rank);
    ASSERT_EQ(NextEvent(set).kind, WorkerEvent::Kind::kExited);
  }
  EXPECT_EQ(OpenDescriptors(), before);
}

}  // namespace
}  // namespace sweep

namespace sweep {
namespace {

// A forked worker that says Ready and waits to be told to stop.
int IdleWorker(int, int socket_fd) {
  SendMessage(socket_fd, Message::Ready(getpid()));
  while (std::optional<Message> m = ReceiveMessage(socket_fd)) {
    if (m->type == MessageType::kShutdown) return 0;
  }
  return 0;
}

TEST(WorkerSetMemoryWatchTest, AWorkerOverTheLimitIsKilledAndItsExitIsOutOfMemory) {
  testing::TempDir dir;
  std::atomic<pid_t> hog{-1};  // the worker the fake reader says is over the limit
  std::atomic<int> reads{0};
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 2;
  launch.log_dir = dir / "logs";
  launch.child_main = IdleWorker;
  launch.memory_limit = uint64_t{1} << 30;
  launch.memory_reader = [&](pid_t pid) {
    ++reads;
    return pid == hog ? (uint64_t{3} << 30) : (uint64_t{1} << 20);
  };
  ProcessWorkerSet set(launch);
  set.Start(0);
  set.Start(1);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(NextEvent(set).message.type, MessageType::kReady);
  // Under the limit: nothing happens for a few samples.
  EXPECT_FALSE(set.Next(0.2));
  EXPECT_GE(reads.load(), 4);
  EXPECT_TRUE(set.Running(0));
  EXPECT_TRUE(set.Running(1));

  hog = set.pid(0);
  const WorkerEvent e = NextEvent(set);
  ASSERT_EQ(e.kind, WorkerEvent::Kind::kExited);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.exit_kind, WorkerEvent::ExitKind::kOutOfMemory);
  EXPECT_TRUE(WIFSIGNALED(e.wait_status) && WTERMSIG(e.wait_status) == SIGKILL);
  EXPECT_TRUE(set.Running(1));

  // A replacement under the limit, and an exit of another kind, are not out of memory.
  set.Start(0);
  ASSERT_EQ(NextEvent(set).message.type, MessageType::kReady);
  ASSERT_TRUE(set.Send(1, Message::Shutdown()));
  const WorkerEvent other = NextEvent(set);
  ASSERT_EQ(other.kind, WorkerEvent::Kind::kExited);
  EXPECT_EQ(other.rank, 1);
  EXPECT_EQ(other.exit_kind, WorkerEvent::ExitKind::kOther);
  set.Kill(0);
  const WorkerEvent killed = NextEvent(set);
  EXPECT_EQ(killed.rank, 0);
  EXPECT_EQ(killed.exit_kind, WorkerEvent::ExitKind::kOther);
}

TEST(WorkerSetMemoryWatchTest, WithoutALimitNothingIsRead) {
  testing::TempDir dir;
  int reads = 0;
  WorkerLaunch launch;
  launch.method = WorkerLaunch::Method::kFork;
  launch.size = 1;
  launch.log_dir = dir / "logs";
  launch.child_main = IdleWorker;
  launch.memory_reader = [&](pid_t) {
    ++reads;
    return ~uint64_t{0};
  };
  ProcessWorkerSet set(launch);
  set.Start(0);
  ASSERT_EQ(NextEvent(set).message.type, MessageType::kReady);
  EXPECT_FALSE(set.Next(0.1));
  EXPECT_EQ(reads, 0);
  EXPECT_TRUE(set.Running(0));
}

}  // namespace
}  // namespace sweep
