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
// SIGCHLD: a child exited, an orphan perhaps, to be reaped at once.
sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGCHLD);
  return set;
}

// rank -1: the zygote's, which forks workers of every rank (each sets its own SWEEP_RANK).
std::vector<std::string> WorkerEnvironment(const WorkerLaunch& launch, int rank) {
  static const std::vector<std::string> none;
  const std::vector<std::string>& own =
      size_t(rank) < launch.env_by_rank.size() ? launch.env_by_rank[size_t(rank)] : none;
  std::vector<std::string> env;
  const auto replaced = [&](const std::string& entry) {
    if (entry.rfind("SWEEP_RANK=", 0) == 0 || entry.rfind("SWEEP_SIZE=", 0) == 0 ||
        entry.rfind("SWEEP_DRIVER_PID=", 0) == 0)
      return true;
    // An entry every worker gets, or this worker's own, replaces the driver's of the same name.
    for (const std::vector<std::string>* entries : {&launch.env, &own}) {
      for (const std::string& added : *entries) {
        if (entry.compare(0, added.find('=') + 1, added, 0, added.find('=') + 1) == 0) return true;
      }
    }
    return false;
  };
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (!replaced(entry)) env.push_back(entry);
  }
  env.insert(env.end(), launch.env.begin(), launch.env.end());
  env.insert(env.end(), own.begin(), own.end());
  if (rank >= 0) env.push_back("SWEEP_RANK=" + std::to_string(rank));
  env.push_back("SWEEP_SIZE=" + std::to_string(launch.size));
  env.push_back("SWEEP_DRIVER_PID=" + std::to_string(getpid()));
  return env;
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
  logs_.reserve(size_t(launch_.size));
  for (int r = 0; r < launch_.size; ++r) logs_.emplace_back(LogPath(r), launch_.log_rotate_bytes);
  // Signals become events of the poll loop: nothing runs in a handler, nothing is missed.
  const sigset_t watched = WatchedSignals();
  sigprocmask(SIG_BLOCK, &watched, &signal_mask_before_);
  signal_fd_ = CheckedFd(signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK), "signalfd");
  // A worker's descendants that escape its process group (a double fork, setsid) are reparented
  // to us rather than to init when their parent dies, so KillOrphans() can find and end them.
  int was_subreaper = 0;
  prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper);
  was_subreaper_ = was_subreaper != 0;
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  // Children this process had before (a test's, say) are not orphans of workers: they started
  // earlier.
  created_ticks_ = TicksSinceBoot();
  // The zygote starts loading the kernel now, while the driver prepares the rest.
  if (launch_.method == WorkerLaunch::Method::kForkserver) SpawnZygote();
}

void ProcessWorkerSet::SpawnZygote() {
  zygote_.reset();  // a failed one is reaped first
  ChildSetup setup;
  setup.env = WorkerEnvironment(launch_, -1);
  ScopedFd log(CheckedFd(open((launch_.log_dir + "/zygote.log").c_str(),
                              O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644),
                         "open the zygote's log"));
  setup.fds = {{log.get(), 1}, {log.get(), 2}, {scoreboard_.fd(), kWorkerFirstPassedFd}};
  for (size_t i = 0; i < launch_.pass_fds.size(); ++i)
    setup.fds.push_back({launch_.pass_fds[i], kWorkerFirstPassedFd + 1 + int(i)});
  std::vector<std::string> argv = launch_.argv;
  argv.push_back("zygote");
  zygote_ = std::make_unique<Zygote>(argv, std::move(setup));
}

void ProcessWorkerSet::ServeZygote() {
  if (!zygote_) return;
  const Zygote::State state = zygote_->Poll();
  if (state == Zygote::State::kLoading) return;
  for (int r = 0; r < size(); ++r) {
    Worker& w = workers_[r];
    if (!w.awaits_zygote) continue;
    w.awaits_zygote = false;
    if (zygote_->state() == Zygote::State::kFailed) {
      FailToStart(r, "forkserver: " + zygote_->why());
      continue;
    }
    try {
      StartNow(r);
    } catch (const Error& e) {
      FailToStart(r, e.what());
    }
  }
}

void ProcessWorkerSet::FailToStart(int rank, const std::string& why) {
  // Its log gets the zygote's last words, which a spawned worker would have written there.
  std::string note = "sweep: " + why + "\n";
  const std::string zygote_log = launch_.log_dir + "/zygote.log";
  if (ScopedFd log{open(zygote_log.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)}; log.valid()) {
    struct stat st {};
    fstat(log.get(), &st);
    const off_t from = st.st_size > 2048 ? st.st_size - 2048 : 0;
    std::string tail(size_t(st.st_size - from), '\0');
    const ssize_t n = pread(log.get(), tail.data(), tail.size(), from);
    tail.resize(n > 0 ? size_t(n) : 0);
    if (!tail.empty()) note = "sweep: the forkserver's zygote logged:\n" + tail + note;
  }
  logs_.at(size_t(rank)).Append(note);
  WorkerEvent fatal;
  fatal.kind = WorkerEvent::Kind::kMessage;
  fatal.rank = rank;
  fatal.message = Message::Fatal(why);
  pending_.push_back(fatal);
  WorkerEvent exited;
  exited.kind = WorkerEvent::Kind::kExited;
  exited.rank = rank;
  exited.wait_status = 1 << 8;  // exit code 1, as a worker that failed to start exits
  pending_.push_back(exited);
}

bool ProcessWorkerSet::IsWorkerOrZygote(pid_t pid) const {
  for (const Worker& w : workers_)
    if (w.pid == pid) return true;
  return zygote_ && zygote_->pid() == pid;
}

void ProcessWorkerSet::ReapOrphans() {
  ReapExitedChildren([this](pid_t pid) {
    // Reap() waits for a worker, when its pidfd says it exited; ~Zygote for the zygote.
    if (IsWorkerOrZygote(pid)) return true;
    const std::optional<unsigned long long> start = StartTicksOf(pid);
    return start && *start < created_ticks_;  // not an orphan of a worker: it was there before
  });
}

void ProcessWorkerSet::KillOrphans() {
  // Killing an orphan can orphan its own children in turn; a few rounds reach them all.
  for (int round = 0; round < 8; ++round) {
    std::set<pid_t> orphans;
    for (const ChildProcess& child : ChildrenOfThisProcess()) {
      if (child.start_ticks >= created_ticks_ && !IsWorkerOrZygote(child.pid))
        orphans.insert(child.pid);
    }
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
  for (WorkerLog& log : logs_) log.End();
  zygote_.reset();  // it finishes its kernel and exits, or is killed
  KillOrphans();
  if (!was_subreaper_) prctl(PR_SET_CHILD_SUBREAPER, 0);
  close(signal_fd_);
  sigprocmask(SIG_SETMASK, &signal_mask_before_, nullptr);
}

std::string ProcessWorkerSet::LogPath(int rank) const {
  return launch_.log_dir + "/worker-" + std::to_string(rank) + ".log";
}

void ProcessWorkerSet::Start(int rank) {
  Worker& w = workers_.at(rank);
  if (w.pid > 0 || w.awaits_zygote)
    throw Error("worker launch: rank " + std::to_string(rank) + " is running");
  if (launch_.method != WorkerLaunch::Method::kForkserver) {
    StartNow(rank);
    return;
  }
  // A zygote that failed is tried again, as a spawned worker loads the kernel again.
  if (!zygote_ || zygote_->state() == Zygote::State::kFailed) SpawnZygote();
  w.awaits_zygote = true;
  ServeZygote();
}

void ProcessWorkerSet::StartNow(int rank) {
  Worker& w = workers_.at(rank);
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) ThrowErrno("socketpair");
  ScopedFd driver_end(pair[0]), worker_end(pair[1]);
  ScopedFd log = logs_.at(rank).Begin();
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
    if (launch_.method == WorkerLaunch::Method::kForkserver) {
      static const std::vector<std::string> none;
      return zygote_->Fork(
          rank, log_fd, socket_fd,
          size_t(rank) < launch_.env_by_rank.size() ? launch_.env_by_rank[size_t(rank)] : none);
    }
    // The forked worker keeps the scoreboard's mapping, not its descriptor.
    return ForkChild(
        setup, [&] { return launch_.child_main(rank, kWorkerSocketFd); },
        "sweep worker " + std::to_string(rank));
  } catch (const Error& e) {
    throw Error(std::string("worker launch: ") + e.what());
  }
}

bool ProcessWorkerSet::Running(int rank) const {
  return workers_.at(rank).pid > 0 || workers_.at(rank).awaits_zygote;
}

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
  Worker& w = workers_.at(rank);
  if (w.pid > 0) kill(-w.pid, SIGKILL);
  if (w.awaits_zygote) {  // never forked: it ends here, as if killed
    w.awaits_zygote = false;
    WorkerEvent exited;
    exited.kind = WorkerEvent::Kind::kExited;
    exited.rank = rank;
    exited.wait_status = SIGKILL;
    pending_.push_back(exited);
  }
}

void ProcessWorkerSet::KillAll() {
  for (int r = 0; r < size(); ++r) Kill(r);
}

std::optional<WorkerEvent> ProcessWorkerSet::ReceiveFrom(int rank) {
  Worker& w = workers_[rank];
  // What the worker printed before it spoke is in the log already: Next() copied it, in the
  // poll that found this message (see there), and Reap() copies it before the messages it took
  // are returned.
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
  logs_[rank].End();  // its last words, before anyone reads the log's tail
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
    // Only after a SIGCHLD: a wait call per event would cost as much as the event's own.
    if (children_exited_) {
      children_exited_ = false;
      ReapOrphans();
    }
    // A zygote that got ready, or failed, since Start() asked it for a worker: the workers that
    // await it are forked (or fail) now. Its readable socket woke the poll below; unread, it
    // would wake every poll at once, and those workers would never start.
    ServeZygote();
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
    enum class Source { kSignals, kZygote, kSocket, kPidfd, kLog };
    std::vector<pollfd> fds;
    std::vector<std::pair<int, Source>> owners;  // (rank, what); rank -1 for the signal fd
    fds.push_back({signal_fd_, POLLIN, 0});
    owners.push_back({-1, Source::kSignals});
    // The zygote, while it loads the kernel (it says when it is ready) and after (it may die).
    fds.push_back({zygote_ ? zygote_->fd() : -1, POLLIN, 0});
    owners.push_back({-1, Source::kZygote});
    // Each worker's socket before its log pipe: poll() looks at descriptors in this order, so
    // when it finds a message its log is looked at after, and holds whatever the worker printed
    // before it spoke; the logs are copied before any message is taken, so that a log's tail is
    // as the worker left it when its message is handled (a failure report quotes it). No other
    // read of the pipe is needed, and none is made while it is empty.
    for (int r = 0; r < size(); ++r) {
      if (workers_[r].socket >= 0) {
        fds.push_back({workers_[r].socket, POLLIN, 0});
        owners.push_back({r, Source::kSocket});
      }
      if (workers_[r].pidfd >= 0) {
        fds.push_back({workers_[r].pidfd, POLLIN, 0});
        owners.push_back({r, Source::kPidfd});
      }
      if (logs_[r].fd() >= 0) {
        fds.push_back({logs_[r].fd(), POLLIN, 0});
        owners.push_back({r, Source::kLog});
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
      // SIGCHLD has the next round reap the orphans: after this round, which may Reap() the
      // worker whose exit it was (a worker's zombie would have the orphans looked for in /proc).
      int interrupt = 0;
      signalfd_siginfo info{};
      while (read(signal_fd_, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGCHLD) {
          children_exited_ = true;
        } else {
          interrupt = int(info.ssi_signo);
        }
      }
      if (interrupt != 0) {
        WorkerEvent e;
        e.kind = WorkerEvent::Kind::kInterrupt;
        e.signal = interrupt;
        return e;
      }
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      if (owners[i].second == Source::kLog) logs_[owners[i].first].Drain();
    }
    // Messages first: a worker's last words must be seen before its exit.
    for (size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents || owners[i].second != Source::kSocket) continue;
      if (std::optional<WorkerEvent> e = ReceiveFrom(owners[i].first)) return e;
    }
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents && owners[i].second == Source::kPidfd) return Reap(owners[i].first);
    }
    // Only logs copied, or sockets closed, this time; those processes' exits come next.
  }
}

std::optional<uint64_t> ProcessWorkerSet::CurrentPoint(int rank) const {
  const uint64_t point = scoreboard_.Read(rank);
  if (point == Scoreboard::kIdle) return std::nullopt;
  return point;
}

std::string ProcessWorkerSet::LogTail(int rank, size_t max_bytes) const {
  return ReadLogTail(LogPath(rank), max_bytes);
}

void BecomeWorker(pid_t driver_pid, int first_unused_fd) {
  if (!DieWithParent(driver_pid)) _exit(1);
  // posix_spawn closed the rest already; this is for a worker started some other way.
  close_range(unsigned(first_unused_fd), ~0u, 0);
}

}  // namespace sweep
