#include "driver/worker_set.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>

#include "io/clock.h"
#include "io/error.h"
#include "io/output_lock.h"

extern char** environ;

namespace sweep {
namespace {

constexpr size_t kSlotBytes = 64;
// How often a worker's private memory is sampled under a memory limit: often enough to catch a
// runaway kernel early, rarely enough that reading /proc costs nothing worth measuring.
constexpr double kMemorySampleSeconds = 0.05;

[[noreturn]] void ThrowErrno(const std::string& what) {
  throw Error("worker launch: " + what + ": " + std::strerror(errno));
}

int CheckedFd(int fd, const std::string& what) {
  if (fd < 0) ThrowErrno(what);
  return fd;
}

// Ctrl-C, kill, and the terminal closing (SIGHUP): each stops the run the same journaled way.
sigset_t InterruptSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

std::vector<std::string> WorkerEnvironment(const WorkerLaunch& launch, int rank) {
  std::vector<std::string> env;
  const auto replaced = [&](const std::string& entry) {
    if (entry.rfind("SWEEP_RANK=", 0) == 0 || entry.rfind("SWEEP_SIZE=", 0) == 0 ||
        entry.rfind("SWEEP_DRIVER_PID=", 0) == 0)
      return true;
    for (const std::string& added : launch.env) {
      if (entry.compare(0, added.find('=') + 1, added, 0, added.find('=') + 1) == 0) return true;
    }
    return false;
  };
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (!replaced(entry)) env.push_back(entry);
  }
  env.insert(env.end(), launch.env.begin(), launch.env.end());
  env.push_back("SWEEP_RANK=" + std::to_string(rank));
  env.push_back("SWEEP_SIZE=" + std::to_string(launch.size));
  env.push_back("SWEEP_DRIVER_PID=" + std::to_string(getpid()));
  return env;
}

// The pids whose parent is this process, read from /proc (CONFIG_PROC_CHILDREN is not always
// there, so every /proc/<pid>/stat is read).
// Only those started at or after `since_ticks` (clock ticks since boot, as /proc/<pid>/stat's
// field 22 counts them).
std::set<pid_t> ChildrenOfThisProcess(unsigned long long since_ticks) {
  std::set<pid_t> children;
  const pid_t self = getpid();
  DIR* proc = opendir("/proc");
  if (!proc) return children;
  while (dirent* entry = readdir(proc)) {
    const pid_t pid = pid_t(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    char path[64], stat[512];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) continue;
    stat[n] = '\0';
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last
    // ')'.
    const char* close_paren = std::strrchr(stat, ')');
    char state;
    int ppid;
    unsigned long long start = 0;
    if (close_paren &&
        std::sscanf(
            close_paren + 1,
            " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
            &state, &ppid, &start) == 3 &&
        ppid == self && start >= since_ticks) {
      children.insert(pid);
    }
  }
  closedir(proc);
  return children;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Scoreboard

Scoreboard::Scoreboard(int ranks)
    : Scoreboard(CheckedFd(memfd_create("sweep-scoreboard", MFD_CLOEXEC), "memfd_create"), ranks) {}

Scoreboard::Scoreboard(int fd, int ranks) : fd_(fd), ranks_(ranks) {
  const size_t bytes = kSlotBytes * size_t(ranks);
  struct stat st {};
  if (fstat(fd_, &st) != 0) ThrowErrno("scoreboard fstat");
  if (size_t(st.st_size) < bytes && ftruncate(fd_, off_t(bytes)) != 0) ThrowErrno("ftruncate");
  map_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (map_ == MAP_FAILED) ThrowErrno("scoreboard mmap");
  for (int r = 0; r < ranks; ++r) {
    if (size_t(st.st_size) < bytes) Publish(r, kIdle);
  }
}

Scoreboard::~Scoreboard() {
  munmap(map_, kSlotBytes * size_t(ranks_));
  close(fd_);
}

static std::atomic<uint64_t>* Slot(void* map, int rank) {
  return reinterpret_cast<std::atomic<uint64_t>*>(static_cast<char*>(map) + kSlotBytes * rank);
}

void Scoreboard::Publish(int rank, uint64_t point) {
  Slot(map_, rank)->store(point, std::memory_order_relaxed);
}

uint64_t Scoreboard::Read(int rank) const {
  return Slot(map_, rank)->load(std::memory_order_relaxed);
}

// ---------------------------------------------------------------------------------------------
// ProcessWorkerSet

ProcessWorkerSet::ProcessWorkerSet(WorkerLaunch launch)
    : launch_(std::move(launch)),
      host_(HostName()),
      scoreboard_(launch_.size),
      workers_(launch_.size) {
  if (mkdir(launch_.log_dir.c_str(), 0755) != 0 && errno != EEXIST)
    ThrowErrno("cannot create log folder " + launch_.log_dir);
  // A symbolic link there would send the workers' logs wherever it points.
  struct stat log_dir {};
  if (lstat(launch_.log_dir.c_str(), &log_dir) != 0 || !S_ISDIR(log_dir.st_mode))
    throw Error("worker launch: " + launch_.log_dir + " is not a folder (a symbolic link?)");
  // Signals become events of the poll loop: nothing runs in a handler, nothing is missed.
  sigset_t interrupts = InterruptSignals();
  sigprocmask(SIG_BLOCK, &interrupts, nullptr);
  signal_fd_ = CheckedFd(signalfd(-1, &interrupts, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd");
  // A worker's descendants that escape its process group (a double fork, setsid) are reparented
  // to us rather than to init when their parent dies, so KillOrphans() can find and end them.
  int was_subreaper = 0;
  prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
  was_subreaper_ = was_subreaper != 0;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Children this process had before (a test's, say) are not orphans of workers: they started
  // earlier. Boot time in clock ticks is what /proc/<pid>/stat counts start times in.
  timespec boot{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  const long hz = sysconf(_SC_CLK_TCK);
  created_ticks_ =
      (unsigned long long)boot.tv_sec * hz + (unsigned long long)boot.tv_nsec * hz / 1'000'000'000;
}

void ProcessWorkerSet::KillOrphans() {
  // Killing an orphan can orphan its own children in turn; a few rounds reach them all.
  for (int round = 0; round < 8; ++round) {
    std::set<pid_t> orphans = ChildrenOfThisProcess(created_ticks_);
    for (const Worker& w : workers_) orphans.erase(w.pid);
    if (orphans.empty()) return;
    for (pid_t p : orphans) kill(p, SIGKILL);
    for (pid_t p : orphans) {
      while (waitpid(p, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
  }
}

ProcessWorkerSet::~ProcessWorkerSet() {
  KillAll();
  for (Worker& w : workers_) {
    if (w.pid > 0) waitpid(w.pid, nullptr, 0);
    if (w.pidfd >= 0) close(w.pidfd);
    if (w.socket >= 0) close(w.socket);
  }
  KillOrphans();
  if (!was_subreaper_) prctl(PR_SET_CHILD_SUBREAPER, 0);
  close(signal_fd_);
  sigset_t interrupts = InterruptSignals();
  sigprocmask(SIG_UNBLOCK, &interrupts, nullptr);
}

std::string ProcessWorkerSet::LogPath(int rank) const {
  return launch_.log_dir + "/worker-" + std::to_string(rank) + ".log";
}

void ProcessWorkerSet::Start(int rank) {
  Worker& w = workers_.at(rank);
  if (w.pid > 0) throw Error("worker launch: rank " + std::to_string(rank) + " is running");
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) ThrowErrno("socketpair");
  ScopedFd driver_end(pair[0]), worker_end(pair[1]);
  ScopedFd log(CheckedFd(
      open(LogPath(rank).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644),
      "open log"));
  scoreboard_.Publish(rank, Scoreboard::kIdle);
  const pid_t pid = StartProcess(rank, worker_end.get(), log.get());
  ScopedFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd.valid()) {
    const int error = errno;
    kill(-pid, SIGKILL);
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    errno = error;
    ThrowErrno("pidfd_open");
  }
#if !defined(__SANITIZE_ADDRESS__)
  // The backstop of the memory watch, the same for both start methods. Not under
  // AddressSanitizer: its allocator ends the process ("Failed to mmap") where malloc would
  // return NULL, which would hide the out-of-memory the watch reports.
  if (launch_.memory_limit > 0) {
    const rlim_t backstop = rlim_t(2 * launch_.memory_limit + (uint64_t{256} << 20));
    const rlimit limit{backstop, backstop};
    // ESRCH: it is gone already, and its exit will say why.
    if (prlimit(pid, RLIMIT_DATA, &limit, nullptr) != 0 && errno != ESRCH) {
      const int error = errno;
      kill(-pid, SIGKILL);
      while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
      }
      errno = error;
      ThrowErrno("prlimit RLIMIT_DATA");
    }
  }
#endif
  w.pid = pid;
  w.pidfd = pidfd.release();
  w.socket = driver_end.release();
  w.over_memory_limit = false;
}

pid_t ProcessWorkerSet::StartProcess(int rank, int socket_fd, int log_fd) {
  ChildSetup setup;
  setup.env = WorkerEnvironment(launch_, rank);
  setup.fds = {{log_fd, 1}, {log_fd, 2}, {socket_fd, kWorkerSocketFd}};
  try {
    if (launch_.method == WorkerLaunch::Method::kSpawn) {
      setup.fds.push_back({scoreboard_.fd(), kWorkerFirstPassedFd});
      for (size_t i = 0; i < launch_.pass_fds.size(); ++i)
        setup.fds.push_back({launch_.pass_fds[i], kWorkerFirstPassedFd + 1 + int(i)});
      return SpawnChild(launch_.argv, setup);
    }
    // The forked worker keeps the scoreboard's mapping, not its descriptor.
    return ForkChild(
        setup, [&] { return launch_.child_main(rank, kWorkerSocketFd); },
        "sweep worker " + std::to_string(rank));
  } catch (const Error& e) {
    throw Error(std::string("worker launch: ") + e.what());
  }
}

bool ProcessWorkerSet::Running(int rank) const { return workers_.at(rank).pid > 0; }

pid_t ProcessWorkerSet::pid(int rank) const { return workers_.at(rank).pid; }

WorkerPlace ProcessWorkerSet::Place(int rank) const {
  const pid_t p = pid(rank);
  return {host_, p > 0 ? long(p) : 0, 0};
}

bool ProcessWorkerSet::Send(int rank, const Message& message) {
  const Worker& w = workers_.at(rank);
  if (w.socket < 0) return false;
  return SendMessage(w.socket, message);
}

void ProcessWorkerSet::Kill(int rank) {
  const Worker& w = workers_.at(rank);
  if (w.pid > 0) kill(-w.pid, SIGKILL);
}

void ProcessWorkerSet::KillAll() {
  for (int r = 0; r < size(); ++r) Kill(r);
}

std::optional<WorkerEvent> ProcessWorkerSet::ReceiveFrom(int rank) {
  Worker& w = workers_[rank];
  std::optional<Message> m;
  try {
    m = ReceiveMessage(w.socket);
  } catch (const Error&) {
    // A worker that sends garbage is broken: treat it like one that crashed.
    Kill(rank);
    m.reset();
  }
  if (!m) {
    close(w.socket);
    w.socket = -1;
    return std::nullopt;
  }
  WorkerEvent e;
  e.kind = WorkerEvent::Kind::kMessage;
  e.rank = rank;
  e.message = std::move(*m);
  return e;
}

std::optional<WorkerEvent> ProcessWorkerSet::Reap(int rank) {
  Worker& w = workers_[rank];
  // Drain what the worker said before it died: its messages come before its exit.
  while (w.socket >= 0) {
    pollfd p{w.socket, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0) break;
    if (std::optional<WorkerEvent> e = ReceiveFrom(rank)) pending_.push_back(std::move(*e));
  }
  // Kill the group while the zombie still pins its id: grandchildren go too.
  kill(-w.pid, SIGKILL);
  WorkerEvent exited;
  exited.kind = WorkerEvent::Kind::kExited;
  exited.rank = rank;
  if (w.over_memory_limit) exited.exit_kind = WorkerEvent::ExitKind::kOutOfMemory;
  while (waitpid(w.pid, &exited.wait_status, 0) < 0 && errno == EINTR) {
  }
  close(w.pidfd);
  w.pidfd = -1;
  w.pid = -1;
  w.over_memory_limit = false;
  if (w.socket >= 0) {
    close(w.socket);
    w.socket = -1;
  }
  // A worker that ended by itself with success had no reason to leave anything behind; the
  // others are checked now (reading /proc costs a few ms), and every one when the set goes.
  if (!(WIFEXITED(exited.wait_status) && WEXITSTATUS(exited.wait_status) == 0)) KillOrphans();
  pending_.push_back(exited);
  WorkerEvent first = pending_.front();
  pending_.erase(pending_.begin());
  return first;
}

void ProcessWorkerSet::WatchMemory() {
  const double now = SteadySeconds();
  if (launch_.memory_limit == 0 || now < next_memory_sample_) return;
  next_memory_sample_ = now + kMemorySampleSeconds;
  for (int r = 0; r < size(); ++r) {
    Worker& w = workers_[r];
    if (w.pid <= 0 || w.over_memory_limit) continue;
    const uint64_t bytes =
        launch_.memory_reader ? launch_.memory_reader(w.pid) : PrivateMemoryBytes(w.pid);
    if (bytes > launch_.memory_limit) {
      w.over_memory_limit = true;
      Kill(r);  // its pidfd turns readable, and Reap() reports the exit as out of memory
    }
  }
}

std::optional<WorkerEvent> ProcessWorkerSet::Next(double timeout_seconds) {
  const double start = SteadySeconds();
  for (;;) {
    if (!pending_.empty()) {
      WorkerEvent e = pending_.front();
      pending_.erase(pending_.begin());
      return e;
    }
    WatchMemory();
    const double left = timeout_seconds - (SteadySeconds() - start);
    int timeout_ms =
        timeout_seconds < 0 ? -1 : int(std::min(std::ceil(std::max(left, 0.0) * 1000), 1e9));
    if (launch_.memory_limit > 0) {
      // Wake for the next sample, whatever the caller's timeout.
      const double to_sample = std::max(next_memory_sample_ - SteadySeconds(), 0.0);
      const int sample_ms = int(std::ceil(to_sample * 1000));
      timeout_ms = timeout_ms < 0 ? sample_ms : std::min(timeout_ms, sample_ms);
    }
    std::vector<pollfd> fds;
    std::vector<std::pair<int, bool>> owners;  // (rank, is_pidfd); rank -1 for the signal fd
    fds.push_back({signal_fd_, POLLIN, 0});
    owners.push_back({-1, false});
    for (int r = 0; r < size(); ++r) {
      if (workers_[r].socket >= 0) {
        fds.push_back({workers_[r].socket, POLLIN, 0});
        owners.push_back({r, false});
      }
      if (workers_[r].pidfd >= 0) {
        fds.push_back({workers_[r].pidfd, POLLIN, 0});
        owners.push_back({r, true});
      }
    }
    const int n = poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ThrowErrno("poll");
    if (n == 0) {
      if (timeout_seconds >= 0 && SteadySeconds() - start >= timeout_seconds) return std::nullopt;
      continue;  // woken for a memory sample
    }

    if (fds[0].revents) {
      signalfd_siginfo info{};
      if (read(signal_fd_, &info, sizeof info) == sizeof info) {
        WorkerEvent e;
        e.kind = WorkerEvent::Kind::kInterrupt;
        e.signal = int(info.ssi_signo);
        return e;
      }
    }
    // Messages first: a worker's last words must be seen before its exit.
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents || owners[i].second) continue;
      if (std::optional<WorkerEvent> e = ReceiveFrom(owners[i].first)) return e;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents && owners[i].second) return Reap(owners[i].first);
    }
    // Only sockets closed this time; their processes' exits come next.
  }
}

std::optional<uint64_t> ProcessWorkerSet::CurrentPoint(int rank) const {
  const uint64_t point = scoreboard_.Read(rank);
  if (point == Scoreboard::kIdle) return std::nullopt;
  return point;
}

std::string ProcessWorkerSet::LogTail(int rank, size_t max_bytes) const {
  ScopedFd fd(open(LogPath(rank).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) return "";
  struct stat st {};
  fstat(fd.get(), &st);
  const off_t start = st.st_size > off_t(max_bytes) ? st.st_size - off_t(max_bytes) : 0;
  std::string tail(size_t(st.st_size - start), '\0');
  const ssize_t n = pread(fd.get(), tail.data(), tail.size(), start);
  tail.resize(n > 0 ? size_t(n) : 0);
  if (start > 0) {
    // Drop the partial first line.
    const size_t newline = tail.find('\n');
    if (newline != std::string::npos) tail.erase(0, newline + 1);
  }
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  return tail;
}

void BecomeWorker(pid_t driver_pid, int first_unused_fd) {
  if (!DieWithParent(driver_pid)) _exit(1);
  // posix_spawn closed the rest already; this is for a worker started some other way.
  close_range(unsigned(first_unused_fd), ~0u, 0);
}

}  // namespace sweep
