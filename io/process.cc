#include "io/process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "io/error.h"

extern char** environ;

namespace sweep {
namespace {

// Descriptors handed to a child are first copied this high, so that renumbering them in the
// child can never overwrite one that is still to be moved.
constexpr int kStagingFd = 100;

[[noreturn]] void ThrowCall(const std::string& call, int error) {
  throw Error(call + ": " + std::strerror(error));
}

// posix_spawn_* calls return their error instead of setting errno.
void CheckSpawnCall(int rc, const char* call) {
  if (rc != 0) ThrowCall(call, rc);
}

void CheckTargets(const ChildSetup& setup) {
  bool seen[kStagingFd] = {};
  for (const ChildSetup::Fd& fd : setup.fds) {
    if (fd.target < 0 || fd.target >= kStagingFd || seen[fd.target])
      throw Error("child setup: descriptor number " + std::to_string(fd.target) +
                  " is out of range or given twice");
    seen[fd.target] = true;
  }
}

std::vector<char*> CStrings(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// Everything a forked child needs, made in the parent: between fork() and exec the child of a
// process with threads must not allocate.
struct ForkPlan {
  explicit ForkPlan(const ChildSetup& setup)
      : cwd(setup.cwd), fds(setup.fds), staged(setup.fds.size(), -1) {
    CheckTargets(setup);
    for (const ChildSetup::Fd& fd : fds) {
      is_target[fd.target] = true;
      max_target = std::max(max_target, fd.target);
    }
    if (setup.env) envp = CStrings(*setup.env);
  }
  int cwd = -1;
  std::vector<ChildSetup::Fd> fds;
  std::vector<int> staged;  // the child's copies above kStagingFd
  bool is_target[kStagingFd] = {};
  int max_target = 2;
  std::vector<char*> envp;  // empty: keep this process's
};

// In the child after fork(): only async-signal-safe calls. Exits 127 when it cannot comply.
void SetUpForkedChild(pid_t parent, ForkPlan& plan) {
  // Its own group first, so that a kill of the group reaches whatever it starts.
  setpgid(0, 0);
  if (!DieWithParent(parent)) _exit(127);
  // First: renumbering the descriptors below may close or replace this one.
  if (plan.cwd >= 0 && fchdir(plan.cwd) != 0) _exit(127);
  for (size_t i = 0; i < plan.fds.size(); ++i) {
    plan.staged[i] = fcntl(plan.fds[i].source, F_DUPFD_CLOEXEC, kStagingFd);
    if (plan.staged[i] < 0) _exit(127);
  }
  for (size_t i = 0; i < plan.fds.size(); ++i) {
    // dup2 clears FD_CLOEXEC on the copy.
    if (dup2(plan.staged[i], plan.fds[i].target) < 0) _exit(127);
  }
  if (!plan.is_target[0]) {
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0) _exit(127);
    if (devnull != 0) {
      dup2(devnull, 0);
      close(devnull);
    }
  }
  // Descriptors someone opened without O_CLOEXEC (a library, a kernel) must not leak either.
  for (int fd = 3; fd < plan.max_target; ++fd)
    if (!plan.is_target[fd]) close(fd);
  close_range(unsigned(plan.max_target) + 1, ~0U, 0);
  // What this process blocked, caught or ignored is not the child's business.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);
  if (!plan.envp.empty()) environ = plan.envp.data();
}

// The posix_spawn attribute and file-action objects, destroyed on every path. Their destroy
// functions cannot fail on an initialised object, so their results are not checked.
struct SpawnObjects {
  SpawnObjects() {
    CheckSpawnCall(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init");
    const int rc = posix_spawnattr_init(&attr);
    if (rc != 0) posix_spawn_file_actions_destroy(&actions);
    CheckSpawnCall(rc, "posix_spawnattr_init");
  }
  ~SpawnObjects() {
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&actions);
  }
  SpawnObjects(const SpawnObjects&) = delete;
  SpawnObjects& operator=(const SpawnObjects&) = delete;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
};

// The file actions that give the child `setup.fds` and nothing else. `staged` keeps the
// parent's high copies open until the spawn is done.
void AddFileActions(const ChildSetup& setup, posix_spawn_file_actions_t* actions,
                    std::vector<ScopedFd>* staged) {
  CheckTargets(setup);
  // First: the dup2 and close actions below may close or replace this descriptor.
  if (setup.cwd >= 0) {
    CheckSpawnCall(posix_spawn_file_actions_addfchdir_np(actions, setup.cwd),
                   "posix_spawn_file_actions_addfchdir_np");
  }
  bool is_target[kStagingFd] = {};
  int max_target = 2;
  for (const ChildSetup::Fd& fd : setup.fds) {
    const int copy = fcntl(fd.source, F_DUPFD_CLOEXEC, kStagingFd);
    if (copy < 0) ThrowCall("fcntl F_DUPFD_CLOEXEC", errno);
    staged->emplace_back(copy);
    CheckSpawnCall(posix_spawn_file_actions_adddup2(actions, copy, fd.target),
                   "posix_spawn_file_actions_adddup2");
    is_target[fd.target] = true;
    max_target = std::max(max_target, fd.target);
  }
  if (!is_target[0]) {
    CheckSpawnCall(posix_spawn_file_actions_addopen(actions, 0, "/dev/null", O_RDONLY, 0),
                   "posix_spawn_file_actions_addopen");
  }
  for (int fd = 3; fd < max_target; ++fd) {
    // A close of a descriptor that is not open is not an error for posix_spawn.
    if (!is_target[fd])
      CheckSpawnCall(posix_spawn_file_actions_addclose(actions, fd),
                     "posix_spawn_file_actions_addclose");
  }
  CheckSpawnCall(posix_spawn_file_actions_addclosefrom_np(actions, max_target + 1),
                 "posix_spawn_file_actions_addclosefrom_np");
}

void SetSpawnAttributes(posix_spawnattr_t* attr) {
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  CheckSpawnCall(posix_spawnattr_setsigmask(attr, &none), "posix_spawnattr_setsigmask");
  CheckSpawnCall(posix_spawnattr_setsigdefault(attr, &all), "posix_spawnattr_setsigdefault");
  CheckSpawnCall(posix_spawnattr_setpgroup(attr, 0), "posix_spawnattr_setpgroup");
  CheckSpawnCall(posix_spawnattr_setflags(
                     attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
                 "posix_spawnattr_setflags");
}

const char* SignalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGABRT:
      return "SIGABRT";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGKILL:
      return "SIGKILL";
    case SIGTERM:
      return "SIGTERM";
    case SIGINT:
      return "SIGINT";
    case SIGPIPE:
      return "SIGPIPE";
    case SIGXCPU:
      return "SIGXCPU";
    default:
      return nullptr;
  }
}

}  // namespace

void ScopedFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

pid_t SpawnChild(const std::vector<std::string>& argv, const ChildSetup& setup) {
  if (argv.empty()) throw Error("posix_spawn: no program");
  SpawnObjects spawn;
  std::vector<ScopedFd> staged;
  AddFileActions(setup, &spawn.actions, &staged);
  SetSpawnAttributes(&spawn.attr);
  const std::vector<char*> cargv = CStrings(argv);
  const std::vector<char*> cenv = setup.env ? CStrings(*setup.env) : std::vector<char*>();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, cargv[0], &spawn.actions, &spawn.attr, cargv.data(),
                             setup.env ? cenv.data() : environ);
  if (rc != 0) ThrowCall("posix_spawn " + argv[0], rc);
  // The child set its group already; this makes it so before we return, whatever the timing.
  setpgid(pid, pid);
  return pid;
}

pid_t ForkRetryingOnEagain(int attempts, const std::function<pid_t()>& fork_call) {
  useconds_t wait = 10'000;
  for (int attempt = 1;; ++attempt) {
    const pid_t pid = fork_call ? fork_call() : fork();
    if (pid >= 0 || errno != EAGAIN || attempt >= attempts) return pid;
    usleep(wait);
    wait *= 2;
  }
}

pid_t ForkChild(const ChildSetup& setup, const std::function<int()>& body,
                const std::string& what) {
  ForkPlan plan(setup);
  const pid_t parent = getpid();
  const pid_t pid = ForkRetryingOnEagain();
  if (pid < 0) ThrowCall("fork", errno);
  if (pid == 0) {
    SetUpForkedChild(parent, plan);
    int code = 1;
    try {
      code = body();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: %s\n", what.c_str(), e.what());
    }
    std::fflush(nullptr);
    _exit(code);  // never run this process's atexit handlers or destructors in the child
  }
  setpgid(pid, pid);  // also here, so a kill(-pid) right after the fork cannot miss
  return pid;
}

pid_t ForkExec(const std::string& path, const std::vector<std::string>& argv,
               const ChildSetup& setup) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) ThrowCall("pipe", errno);
  ScopedFd status_read(pipe_fds[0]), status_write(pipe_fds[1]);
  // The status pipe goes to the child as one more descriptor, made close-on-exec again there:
  // end of file means execve() worked, an errno means it did not.
  ChildSetup with_status = setup;
  int status_fd = 3;
  for (const ChildSetup::Fd& fd : setup.fds) status_fd = std::max(status_fd, fd.target + 1);
  with_status.fds.push_back({status_write.get(), status_fd});
  ForkPlan plan(with_status);
  const std::vector<char*> cargv = CStrings(argv);
  char* const* envp = plan.envp.empty() ? environ : plan.envp.data();
  const pid_t parent = getpid();
  const pid_t pid = ForkRetryingOnEagain();
  if (pid < 0) ThrowCall("fork", errno);
  if (pid == 0) {
    SetUpForkedChild(parent, plan);
    fcntl(status_fd, F_SETFD, FD_CLOEXEC);
    execve(path.c_str(), cargv.data(), envp);
    const int e = errno;
    (void)!write(status_fd, &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);  // also here, so a kill(-pid) right after the fork cannot miss
  status_write.reset();
  int exec_errno = 0;
  ssize_t got;
  while ((got = read(status_read.get(), &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
  }
  if (got == ssize_t(sizeof exec_errno)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    std::string why = std::strerror(exec_errno);
    if (exec_errno == E2BIG) {
      // Which limit: one argument (or environment string) over MAX_ARG_STRLEN, or all of them
      // over ARG_MAX.
      size_t longest = 0, total = 0;
      for (const std::string& a : argv) {
        longest = std::max(longest, a.size() + 1);
        total += a.size() + 1;
      }
      for (char* const* e = envp; *e; ++e) {
        longest = std::max(longest, std::strlen(*e) + 1);
        total += std::strlen(*e) + 1;
      }
      why += " (E2BIG): its longest argument or environment string is " + std::to_string(longest) +
             " bytes, of at most 131072 for one, and together " + std::to_string(total) +
             " bytes, of at most " + std::to_string(sysconf(_SC_ARG_MAX));
    }
    throw Error("cannot run " + path + ": " + why);
  }
  return pid;
}

bool DieWithParent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before prctl: then we were already reparented.
  return getppid() == parent;
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = SignalName(sig);
    return (name ? std::string(name) : "signal " + std::to_string(sig)) + " (" + strsignal(sig) +
           ")";
  }
  return "wait status " + std::to_string(status);
}

uint64_t PrivateMemoryBytes(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
  const ScopedFd fd(open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return 0;
  char text[4096];
  const ssize_t n = read(fd.get(), text, sizeof text - 1);
  if (n <= 0) return 0;
  text[n] = '\0';
  const char* field = std::strstr(text, "\nAnonymous:");
  return field ? std::strtoull(field + 11, nullptr, 10) * 1024 : 0;
}

namespace {

// The state, parent and start time of process `pid` from its /proc/<pid>/stat; false when gone.
bool ReadProcStat(pid_t pid, char* state, pid_t* parent, unsigned long long* start_ticks) {
  char path[64], stat[512];
  std::snprintf(path, sizeof path, "/proc/%d/stat", int(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return false;
  stat[n] = '\0';
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last
  // ')'. The start time is field 22.
  const char* close_paren = std::strrchr(stat, ')');
  int ppid = 0;
  return close_paren &&
         std::sscanf(
             close_paren + 1,
             " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
             state, &ppid, start_ticks) == 3 &&
         ((*parent = pid_t(ppid)), true);
}

}  // namespace

std::vector<ChildProcess> ChildrenOfThisProcess() {
  std::vector<ChildProcess> children;
  const pid_t self = getpid();
  DIR* proc = opendir("/proc");
  if (!proc) return children;
  while (dirent* entry = readdir(proc)) {
    ChildProcess child;
    child.pid = pid_t(std::atoi(entry->d_name));
    pid_t parent = 0;
    if (child.pid > 0 && ReadProcStat(child.pid, &child.state, &parent, &child.start_ticks) &&
        parent == self)
      children.push_back(child);
  }
  closedir(proc);
  return children;
}

unsigned long long TicksSinceBoot() {
  timespec boot{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  const unsigned long long hz = (unsigned long long)sysconf(_SC_CLK_TCK);
  return (unsigned long long)boot.tv_sec * hz +
         (unsigned long long)boot.tv_nsec * hz / 1'000'000'000;
}

std::optional<unsigned long long> StartTicksOf(pid_t pid) {
  char state = '?';
  pid_t parent = 0;
  unsigned long long start = 0;
  if (!ReadProcStat(pid, &state, &parent, &start)) return std::nullopt;
  return start;
}

bool IsChildSubreaper() {
  int subreaper = 0;
  return prctl(PR_GET_CHILD_SUBREAPER, &subreaper) == 0 && subreaper != 0;
}

size_t ReapExitedChildren(const std::function<bool(pid_t)>& keep) {
  size_t reaped = 0;
  // waitid() names one exited child at a time, the same until it is reaped: while the one it
  // names is ours to reap, this costs a call per child.
  for (;;) {
    siginfo_t info{};
    if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0)
      return reaped;
    if (keep(info.si_pid)) break;
    if (waitpid(info.si_pid, nullptr, WNOHANG) != info.si_pid) return reaped;
    ++reaped;
  }
  // A claimed child hides the others from waitid(): look for them all.
  for (const ChildProcess& child : ChildrenOfThisProcess()) {
    if (child.state == 'Z' && !keep(child.pid) && waitpid(child.pid, nullptr, WNOHANG) == child.pid)
      ++reaped;
  }
  return reaped;
}

}  // namespace sweep
