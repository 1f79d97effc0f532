// Zygote: the process `execution.start: forkserver` forks every worker from, as CPython's
// forkserver with preloaded modules does for a Pool (DESIGN.md "Processes").
//
// The zygote is `sweep-worker zygote` (or `sweep __worker zygote`), spawned like a worker with
// the workers' job and environment (SWEEP_RANK aside): a fresh, single-threaded process whatever
// threads the driver runs or MPI started, so it forks safely. It rebuilds the sweep from the job,
// maps the inputs and binds the kernel as a spawned worker does, then initialises the kernel once
// through the C ABI, whatever its kind (a plugin's init(), the persistent kernel's, an embedded
// interpreter's import and setup), and says it is ready. From then on each request forks a worker
// that starts with the kernel initialised: a worker, and each replacement after a crash, starts in
// a fork's time, however long the kernel takes to load.
//
// A forked worker is the driver's child, like a worker of any other start method: the zygote
// forks an intermediate process, which forks the worker and exits at once, so the worker is
// re-parented to the driver, the child subreaper of a ProcessWorkerSet. The worker then waits for
// that, asks to die with the driver (by the death signal the zygote had, so a handler the kernel's
// init installed for it keeps working), leads its own process group, takes its log as stdout and
// stderr and its protocol socket at kWorkerSocketFd, sets SWEEP_RANK and the environment the
// request names for that worker alone (its GPU, driver/gpus.h), calls itself `worker` in
// its command line (`sweep-worker worker`, where the zygote is `sweep-worker zygote`), and runs
// WorkerLoop() with
// the kernel's state it inherited; it finishes that state when it ends. Unlike a forked driver
// worker, it keeps the descriptors, signal handlers and mask the kernel's init left.
//
// The zygote dies with the driver, and exits when its socket closes (finishing its kernel).
// Its stdout and stderr are a log of its own. Requests are served one at a time.
//
// Wire (SOCK_SEQPACKET at the zygote's kWorkerSocketFd, one JSON object per message):
//   zygote -> driver, once: {"ready": true}, or {"error": "why"} when the kernel did not load
//   driver -> zygote: {"rank": r, "env": ["NAME=value", ...]}, with the worker's log and socket
//                     descriptors (SCM_RIGHTS); "env" may be left out
//   zygote -> driver: {"pid": p}, or {"error": "why"}
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "io/process.h"

namespace sweep {

class Zygote {
 public:
  enum class State {
    kLoading,  // started; the kernel is loading
    kReady,    // it forks workers on request
    kFailed    // it could not load the kernel, or died: why() says which
  };

  // Spawns `argv` with `setup` (its environment and descriptors; its socket is added here at
  // kWorkerSocketFd). Returns at once: the zygote loads the kernel meanwhile.
  // THROWS: Error when it cannot be started.
  Zygote(const std::vector<std::string>& argv, ChildSetup setup);
  // Closes its socket, on which it finishes its kernel and exits; a zygote still there after 2 s
  // is killed with its group. Reaps it.
  ~Zygote();
  Zygote(const Zygote&) = delete;
  Zygote& operator=(const Zygote&) = delete;

  pid_t pid() const { return pid_; }
  // Readable when the zygote said something or died: call Poll(). -1 once kFailed.
  int fd() const;
  State state() const { return state_; }
  const std::string& why() const { return why_; }
  // Reads what the zygote said, without waiting.
  State Poll();
  // A worker of `rank` with these descriptors as its log and protocol socket, and `env`
  // ("NAME=value") set in its environment: the zygote forks it, and it is this process's child
  // by the time this returns its pid. The kernel was initialised before: a variable it read in
  // its init() keeps the zygote's value there. REQUIRES: state() == kReady. THROWS: Error when
  // the zygote could not (it is kFailed if it died).
  pid_t Fork(int rank, int log_fd, int socket_fd, const std::vector<std::string>& env = {});

 private:
  void Fail(const std::string& why);

  pid_t pid_ = -1;
  ScopedFd socket_;
  State state_ = State::kLoading;
  std::string why_;
};

// The zygote's side: `sweep-worker zygote`. `role` is that argument's own bytes, which a worker
// it forks overwrites with "worker", so that ps and top tell them apart. Returns its exit code.
int ZygoteMain(char* role);

}  // namespace sweep
