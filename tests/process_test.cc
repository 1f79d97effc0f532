#include "io/process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "io/error.h"
#include "tests/temp_dir.h"
#include "tests/wait.h"

namespace sweep {
namespace {

int Wait(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string ThrownBy(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "nothing thrown";
}

// A shell that prints which of a few descriptor numbers are open, and SWEEP_X.
const std::vector<std::string> kListFds = {
    "/bin/sh", "-c",
    "for fd in 0 1 2 3 4 5 6 7 8 9 50 100 101 102; do [ -e /proc/self/fd/$fd ] && printf "
    "\"$fd \"; done; echo \"x=$SWEEP_X\""};

// EAGAIN from fork (a process limit reached for a moment) is waited out, not a failed point;
// other errors and a lasting EAGAIN are returned as they are.
TEST(ProcessTest, ForkIsRetriedWhileItFailsWithEagain) {
  int calls = 0;
  const auto failing_twice = [&]() -> pid_t {
    if (++calls <= 2) {
      errno = EAGAIN;
      return -1;
    }
    return 4242;
  };
  EXPECT_EQ(ForkRetryingOnEagain(10, failing_twice), 4242);
  EXPECT_EQ(calls, 3);

  calls = 0;
  const auto always_eagain = [&]() -> pid_t {
    ++calls;
    errno = EAGAIN;
    return -1;
  };
  EXPECT_EQ(ForkRetryingOnEagain(4, always_eagain), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(calls, 4);

  calls = 0;
  const auto out_of_memory = [&]() -> pid_t {
    ++calls;
    errno = ENOMEM;
    return -1;
  };
  EXPECT_EQ(ForkRetryingOnEagain(10, out_of_memory), -1);
  EXPECT_EQ(calls, 1);
}

TEST(ProcessTest, ExecFailureIsReportedWithErrnoText) {
  EXPECT_EQ(ThrownBy([] { ForkExec("/no/such/program", {"prog"}, {}); }),
            "cannot run /no/such/program: No such file or directory");
  EXPECT_EQ(ThrownBy([] { SpawnChild({"/no/such/program"}, {}); }),
            "posix_spawn /no/such/program: No such file or directory");
  EXPECT_EQ(ThrownBy([] { ForkExec("/dev/null", {"null"}, {}); }),
            "cannot run /dev/null: Permission denied");
  // A 200 KB argument: which limit, with the sizes (it said "cannot run" and no more).
  const std::string message = ThrownBy([] {
    ForkExec("/bin/echo", {"echo", std::string(200 << 10, 'a')}, {});
  });
  EXPECT_EQ(message.rfind("cannot run /bin/echo: Argument list too long (E2BIG): its longest "
                          "argument or environment string is 204801 bytes, of at most 131072 "
                          "for one, and together ",
                          0),
            0u)
      << message;
}

TEST(ProcessTest, ABadDescriptorIsAnErrorNamingTheCall) {
  ChildSetup setup;
  setup.fds = {{987, 1}};  // not open
  EXPECT_EQ(ThrownBy([&] { SpawnChild({"/bin/true"}, setup); }),
            "fcntl F_DUPFD_CLOEXEC: Bad file descriptor");
  setup.fds = {{1, 100}};
  EXPECT_NE(ThrownBy([&] { SpawnChild({"/bin/true"}, setup); }).find("out of range"),
            std::string::npos);
}

TEST(ProcessTest, EveryChildLeadsItsOwnProcessGroup) {
  const pid_t forked = ForkChild({}, [] { return getpgrp() == getpid() ? 0 : 3; });
  EXPECT_EQ(Wait(forked), W_EXITCODE(0, 0));
  // Already so when the start returns, so that a kill of the group cannot miss.
  const pid_t spawned = SpawnChild({"/bin/sleep", "10"}, {});
  EXPECT_EQ(getpgid(spawned), spawned);
  kill(-spawned, SIGKILL);
  EXPECT_EQ(Wait(spawned), W_EXITCODE(0, SIGKILL));
  const pid_t executed = ForkExec("/bin/sleep", {"sleep", "10"}, {});
  EXPECT_EQ(getpgid(executed), executed);
  kill(-executed, SIGKILL);
  EXPECT_EQ(Wait(executed), W_EXITCODE(0, SIGKILL));
}

// Runs kListFds with stdout and stderr to a file, `extra` at 5 and a stray descriptor at 50
// that is not close-on-exec: the child sees 0 1 2 5 only, stdin is /dev/null.
void ExpectOnlyTheNamedDescriptors(const std::function<pid_t(const ChildSetup&)>& start) {
  TempDir dir;
  const ScopedFd out(open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  const ScopedFd extra(open("/dev/zero", O_RDONLY | O_CLOEXEC));
  const ScopedFd stray(fcntl(open("/dev/null", O_RDONLY), F_DUPFD, 50));
  ASSERT_EQ(stray.get(), 50);
  ChildSetup setup;
  setup.fds = {{out.get(), 1}, {out.get(), 2}, {extra.get(), 5}};
  setup.env = std::vector<std::string>{"SWEEP_X=7", "PATH=/usr/bin:/bin"};
  EXPECT_EQ(Wait(start(setup)), W_EXITCODE(0, 0));
  EXPECT_EQ(ReadAll(dir / "out"), "0 1 2 5 x=7\n");
}

TEST(ProcessTest, SpawnedChildGetsExactlyTheNamedDescriptors) {
  ExpectOnlyTheNamedDescriptors([](const ChildSetup& s) { return SpawnChild(kListFds, s); });
}

TEST(ProcessTest, ExecutedChildGetsExactlyTheNamedDescriptors) {
  ExpectOnlyTheNamedDescriptors(
      [](const ChildSetup& s) { return ForkExec(kListFds[0], kListFds, s); });
}

// Every way of starting a child starts it in ChildSetup::cwd, even when that descriptor's number
// is one the child's descriptors replace; the directory's descriptor does not reach the child.
TEST(ProcessTest, EveryChildStartsInTheFolderItIsGiven) {
  TempDir dir;
  std::filesystem::create_directory(dir / "here");
  const ScopedFd out(open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  const ScopedFd here(open((dir / "here").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_LT(here.get(), 100);
  // The child gets another descriptor at the folder's number.
  const std::string number = std::to_string(here.get());
  ChildSetup setup;
  setup.fds = {{out.get(), 1}, {out.get(), here.get()}};
  setup.cwd = here.get();
  const std::vector<std::string> pwd = {"/bin/sh", "-c",
                                        "pwd; [ -d /proc/self/fd/" + number + " ] || echo file"};
  EXPECT_EQ(Wait(SpawnChild(pwd, setup)), W_EXITCODE(0, 0));
  EXPECT_EQ(Wait(ForkExec(pwd[0], pwd, setup)), W_EXITCODE(0, 0));
  EXPECT_EQ(Wait(ForkChild(setup,
                           [] {
                             const std::string cwd = std::filesystem::current_path().string();
                             return cwd.size() > 5 && cwd.substr(cwd.size() - 5) == "/here" ? 0 : 3;
                           })),
            W_EXITCODE(0, 0));
  const std::string line = dir / "here\nfile\n";
  EXPECT_EQ(ReadAll(dir / "out"), line + line);
}

TEST(ProcessTest, ForkedChildGetsTheNamedDescriptorsDevNullAndDefaultSignals) {
  TempDir dir;
  const ScopedFd out(open((dir / "out").c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  const ScopedFd stray(fcntl(open("/dev/null", O_RDONLY), F_DUPFD, 50));
  // What this process blocks and ignores must not reach the child.
  sigset_t usr1, old;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, &old);
  const auto old_usr2 = signal(SIGUSR2, SIG_IGN);
  ChildSetup setup;
  setup.fds = {{out.get(), 7}};
  const pid_t pid = ForkChild(setup, [] {
    std::string open_fds;
    for (int fd = 0; fd < 200; ++fd)
      if (fcntl(fd, F_GETFD) >= 0) open_fds += std::to_string(fd) + " ";
    struct stat in {
    }, null{};
    fstat(0, &in);
    stat("/dev/null", &null);
    sigset_t mask;
    sigprocmask(SIG_SETMASK, nullptr, &mask);
    struct sigaction usr2 {};
    sigaction(SIGUSR2, nullptr, &usr2);
    const std::string report = open_fds + (in.st_rdev == null.st_rdev ? "null" : "not-null") +
                               (sigismember(&mask, SIGUSR1) ? " blocked" : "") +
                               (usr2.sa_handler == SIG_IGN ? " ignored" : "");
    return write(7, report.data(), report.size()) == ssize_t(report.size()) ? 0 : 1;
  });
  sigprocmask(SIG_SETMASK, &old, nullptr);
  signal(SIGUSR2, old_usr2);
  EXPECT_EQ(Wait(pid), W_EXITCODE(0, 0));
  EXPECT_EQ(ReadAll(dir / "out"), "0 1 2 7 null");
}

TEST(ProcessTest, AForkedChildThatThrowsExitsOne) {
  const pid_t pid = ForkChild(
      {}, []() -> int { throw Error("no"); }, "test child");
  EXPECT_EQ(Wait(pid), W_EXITCODE(1, 0));
}

TEST(ProcessTest, AForkedChildDiesWithItsParent) {
  // An intermediate process starts a child, tells us its pid and exits: the child must go too.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const pid_t middle = fork();
  if (middle == 0) {
    const pid_t child = ForkChild({}, [] {
      for (;;) pause();
      return 0;
    });
    (void)!write(pipe_fds[1], &child, sizeof child);
    _exit(0);
  }
  close(pipe_fds[1]);
  pid_t child = -1;
  ASSERT_EQ(read(pipe_fds[0], &child, sizeof child), ssize_t(sizeof child));
  close(pipe_fds[0]);
  Wait(middle);
  // Gone, or a zombie its new parent has not reaped yet.
  const bool dead = testing::WaitUntil([&] {
    const std::string stat = ReadAll("/proc/" + std::to_string(child) + "/stat");
    const size_t paren = stat.rfind(')');
    return stat.empty() || (paren != std::string::npos && stat.substr(paren + 2, 1) == "Z");
  });
  EXPECT_TRUE(dead);
  if (!dead) kill(child, SIGKILL);
}

TEST(ProcessTest, WaitStatusInWords) {
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(3, 0)), "exit code 3");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGSEGV)), "SIGSEGV (Segmentation fault)");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGUSR1)), "signal 10 (User defined signal 1)");
  const pid_t pid = ForkChild({}, [] { return raise(SIGABRT); });
  EXPECT_EQ(DescribeWaitStatus(Wait(pid)), "SIGABRT (Aborted)");
}

TEST(ProcessTest, ScopedFdClosesWhatItHolds) {
  int fd;
  {
    ScopedFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
    fd = a.get();
    ASSERT_GE(fd, 0);
    ScopedFd b(std::move(a));
    EXPECT_FALSE(a.valid());
    EXPECT_EQ(b.get(), fd);
  }
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  ScopedFd c(open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int released = c.release();
  EXPECT_FALSE(c.valid());
  EXPECT_GE(fcntl(released, F_GETFD), 0);
  close(released);
}

TEST(ProcessTest, PrivateMemoryCountsAnonymousPagesOnly) {
  EXPECT_GT(PrivateMemoryBytes(getpid()), 0u);
  EXPECT_EQ(PrivateMemoryBytes(-1), 0u);
}

}  // namespace
}  // namespace sweep
