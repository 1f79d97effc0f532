// Process: how sweep starts a child process, in one place (DESIGN.md "Processes").
//
// Two launchers use it: the worker set (driver/worker_set.h), which starts workers with
// SpawnChild (`start: spawn`) or ForkChild (`start: fork`), and the command kernel
// (kernels/command.h), which runs an external program per point with ForkExec.
//
// Whichever way it starts, a child gets what its ChildSetup says and this:
//   - its own process group (pgid == pid), set in the child and again in the parent, so that a
//     kill(-pid) right after the start cannot miss it;
//   - exactly the descriptors ChildSetup::fds names, at the numbers it names; stdin from
//     /dev/null unless one lands at 0; stdout and stderr are this process's unless named; every
//     other descriptor is closed, close-on-exec or not;
//   - the working folder ChildSetup::cwd names, if any;
//   - an empty signal mask and every signal at its default action;
//   - ForkChild and ForkExec only: SIGKILL when this process (strictly: the calling thread)
//     dies, by PR_SET_PDEATHSIG, after which the child checks that this process is still its
//     parent, since it may have died before the call (the child then exits 127 at once).
//     posix_spawn cannot set it: a spawned program that wants it calls DieWithParent() first.
// Every failing call of the parent throws sweep::Error naming the call and errno's text.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sweep {

// Owns one descriptor and closes it when it goes, unless released. -1: none.
class ScopedFd {
 public:
  explicit ScopedFd(int fd = -1) : fd_(fd) {}
  ~ScopedFd() { reset(); }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);  // closes the one held, then holds fd

 private:
  int fd_;
};

struct ChildSetup {
  // A descriptor of this process and the number it gets in the child.
  struct Fd {
    int source = -1;
    int target = -1;  // REQUIRES: 0 <= target < 100, each target at most once
  };
  std::vector<Fd> fds;
  // The child's whole environment, "NAME=value" each; nullopt: this process's.
  std::optional<std::vector<std::string>> env;
  // A descriptor of the folder the child starts in (fchdir, before anything else, so its number
  // may be any); -1: this process's working folder.
  int cwd = -1;
};

// Starts argv[0] (a path: PATH is not searched) with posix_spawn, which copies no page tables:
// as fast with GBs mapped as without. Returns its pid.
// THROWS: Error "posix_spawn <program>: <errno text>" when it cannot be executed (glibc reports
// exec failures from the child), or naming the posix_spawn_* call that failed.
pid_t SpawnChild(const std::vector<std::string>& argv, const ChildSetup& setup);

// fork(), retried while it fails with EAGAIN (a process or thread limit reached for a moment, the
// kernel short of a resource): up to `attempts` tries, waiting 10 ms, 20 ms, 40 ms... between
// them (about 5 s in all for the default). Returns fork()'s result; errno is set on failure.
// `fork_call` is fork itself except in tests.
pid_t ForkRetryingOnEagain(int attempts = 10, const std::function<pid_t()>& fork_call = {});

// Forks; the child does the setup, runs body() and exits with its return value (1, printing
// "<what>: <message>" to stderr, if it throws), flushing stdio but running no atexit handler
// and no destructor of this process. Returns the child's pid. THROWS: Error "fork: ...".
// NOTE: body() runs in a copy of this process: if it has threads, only async-signal-safe calls
// are safe in body().
pid_t ForkChild(const ChildSetup& setup, const std::function<int()>& body,
                const std::string& what = "sweep child");

// Forks and executes `path` with argv (argv[0] included) in the child. Returns once the
// program runs: a status pipe tells whether execve() worked.
// THROWS: Error "cannot run <path>: <errno text>" when execve() failed (the child is reaped;
// for E2BIG, with the longest argument's and all arguments' sizes against the system's limits),
// "pipe: ..." or "fork: ..." when the child could not be made.
pid_t ForkExec(const std::string& path, const std::vector<std::string>& argv,
               const ChildSetup& setup);

// Child side, async-signal-safe: asks for SIGKILL when the parent dies and returns false if
// `parent` is already not its parent (it died before the request could take effect).
bool DieWithParent(pid_t parent);

// "SIGSEGV (Segmentation fault)", "exit code 3": a wait status in words.
std::string DescribeWaitStatus(int wait_status);

// The private memory of process `pid`, in bytes: its anonymous pages (heap, stack, private
// copies), not the file or shared-memory pages it maps. From /proc/<pid>/smaps_rollup
// ("Anonymous:"); 0 if the process is gone.
uint64_t PrivateMemoryBytes(pid_t pid);

// ---- Children, and the orphans a child subreaper inherits ----
//
// A child subreaper (PR_SET_CHILD_SUBREAPER: the driver while it has workers) becomes the parent
// of every orphan among its descendants: a program's `(sleep &)`, an MPI launcher's daemons. Each
// is a zombie once it exits until its parent waits for it; left so, they pile up until the user's
// process limit (pids.max) refuses the next fork.

// A child of this process, as /proc says.
struct ChildProcess {
  pid_t pid = 0;
  char state = '?';                    // R, S, D, Z... as /proc/<pid>/stat has it
  unsigned long long start_ticks = 0;  // when it started, in clock ticks since boot
};

// Every child of this process: reads /proc/<pid>/stat of every process (CONFIG_PROC_CHILDREN is
// not always there), a few milliseconds.
std::vector<ChildProcess> ChildrenOfThisProcess();

// Now, in the clock ticks since boot that ChildProcess::start_ticks counts.
unsigned long long TicksSinceBoot();

// When process `pid` started (ChildProcess::start_ticks); nullopt when there is no such process.
std::optional<unsigned long long> StartTicksOf(pid_t pid);

// Whether this process is a child subreaper.
bool IsChildSubreaper();

// Waits for every child that has exited and that `keep` does not claim (a worker its owner
// reaps itself, a child this process had before), without blocking. Costs one waitid() when no
// child has exited; reads /proc (ChildrenOfThisProcess) only when a claimed child is among the
// exited ones. Returns how many it reaped.
size_t ReapExitedChildren(const std::function<bool(pid_t)>& keep);

}  // namespace sweep
