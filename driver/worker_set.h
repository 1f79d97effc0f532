// WorkerSet: the worker processes of one run, like `mpirun -np N` on one machine.
//
// The scheduler (driver/scheduler.h) talks only to this interface: start the worker of a rank,
// send it a message, take the next event (a message, an exit, an interrupt), kill one or all.
// ProcessWorkerSet is the real one; tests use a fake (tests/fakes.h).
//
// What ProcessWorkerSet promises about every worker it starts (io/process.h does the child setup):
//   - SWEEP_RANK, SWEEP_SIZE and SWEEP_DRIVER_PID in its environment, like MPI's ranks, the
//     entries of WorkerLaunch::env, and its own of WorkerLaunch::env_by_rank (its GPU), over the
//     driver's of the same names; the worker that replaces one gets the same;
//   - its own process group (pgid == pid), so a kill reaches anything it started;
//   - it dies with the driver (PR_SET_PDEATHSIG, rechecked against the parent pid after, since
//     the parent may have died before the call): a forked worker from the start, a spawned one
//     from its first call, BecomeWorker(), a forkserver's once it is the driver's child
//     (driver/zygote.h);
//   - it inherits no descriptor but stdin (/dev/null), stdout and stderr (both a pipe to its log,
//     `<log_dir>/worker-<rank>.log`, appended across restarts and capped by rotation:
//     driver/worker_log.h; Next() copies what arrives), the protocol socket at
//     kWorkerSocketFd and, when spawned, the scoreboard's memfd at kWorkerFirstPassedFd and the
//     descriptors of WorkerLaunch::pass_fds after it (a forked worker inherits the scoreboard's
//     mapping instead); its signal mask is empty and every signal at its default action (a
//     forkserver's worker inherits instead what its kernel's init did in the zygote: descriptors,
//     handlers);
//   - with kForkserver, the zygote is spawned when the set is made (and again when one failed and
//     a worker is to start): a worker started while it loads the kernel starts once it is ready,
//     and one started after it failed sends a Fatal with the reason and exits (events made here,
//     as a spawned worker whose kernel did not load would send them), so the scheduler's rules on
//     workers that fail to start apply unchanged. The zygote is no orphan to kill or reap;
//   - it is reaped through a pidfd, so exits are seen in the same poll() as messages, with no
//     SIGCHLD handler and no race with pid reuse;
//   - after it exits, its process group is killed, so a grandchild left behind does not survive;
//     one that left the group (a double fork with setsid, a daemon) is reparented to the driver,
//     which is a child subreaper while a ProcessWorkerSet exists, and is killed too;
//   - the orphans its descendants leave (reparented to the driver, the subreaper) are reaped as
//     soon as they exit: their SIGCHLD, read from the signalfd in Next()'s poll(), has Next()
//     wait for every exited child that is not a worker and started after the set was made, so
//     they never pile up as zombies. Without a SIGCHLD it makes no wait call, so that a message
//     costs its poll() and its read only. The signal reaches the signalfd only if every thread
//     of the process blocks it (threads started before the set was made must have blocked it
//     themselves, as driver/mpi_run.cc does before MPI_Init starts its own);
//   - with WorkerLaunch::memory_limit, its private memory is sampled at least every 50 ms while
//     Next() waits; one over the limit is killed and its kExited event says kOutOfMemory. It also
//     gets RLIMIT_DATA at twice the limit plus 256 MiB, a backstop against a runaway allocation
//     between two samples, so that its allocations fail rather than the machine's.
// SIGINT, SIGTERM and SIGHUP sent to the driver are turned into kInterrupt events (signalfd) while
// a ProcessWorkerSet exists, and SIGCHLD into reaping; the signal mask it found is restored when
// it is destroyed.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "driver/protocol.h"
#include "driver/worker_log.h"
#include "driver/zygote.h"
#include "io/process.h"

namespace sweep {

struct WorkerEvent {
  enum class Kind {
    kMessage,   // `message` arrived from `rank`
    kExited,    // the worker of `rank` is gone; `wait_status` as from waitpid, `exit_kind` why
    kInterrupt  // the driver received SIGINT, SIGTERM or SIGHUP (`signal`)
  };
  enum class ExitKind {
    kOther,       // it exited or was killed, by itself, by Kill() or from outside
    kOutOfMemory  // the set killed it for going over WorkerLaunch::memory_limit
  };
  Kind kind = Kind::kMessage;
  int rank = -1;
  Message message;
  int wait_status = 0;
  ExitKind exit_kind = ExitKind::kOther;
  int signal = 0;
};

// Where a worker runs, for people: `sweep status` shows it.
struct WorkerPlace {
  std::string host;  // "" when unknown
  long pid = 0;      // 0 when it is not running, or unknown
  int node = 0;      // the MPI rank it lives on; 0 without MPI
};

class WorkerSet {
 public:
  virtual ~WorkerSet() = default;
  virtual int size() const = 0;
  // Starts the worker of `rank`. REQUIRES: that rank has no live worker.
  virtual void Start(int rank) = 0;
  virtual bool Running(int rank) const = 0;
  // False if the worker is gone (its kExited event follows).
  virtual bool Send(int rank, const Message& message) = 0;
  // The next event, or nullopt when timeout_seconds passed without one (negative: wait forever).
  virtual std::optional<WorkerEvent> Next(double timeout_seconds) = 0;
  // SIGKILL to the worker's process group. Its kExited event follows.
  virtual void Kill(int rank) = 0;
  // The point the worker of `rank` is computing, as it published it; nullopt if none.
  virtual std::optional<uint64_t> CurrentPoint(int rank) const = 0;
  // The last lines of the worker's stderr log (at most max_bytes), for failure reports.
  virtual std::string LogTail(int rank, size_t max_bytes = 2048) const = 0;
  // Where the worker of `rank` runs; nothing known by default.
  virtual WorkerPlace Place(int /*rank*/) const { return {}; }

  // A worker reached through another process (an MPI rank's: driver/mpi_run.h), for which every
  // message costs more and arrives later. The scheduler hands it runs of chunks sized by time,
  // and sends it its next assignment while it computes the current one: its node holds that
  // queued run and gives it to the worker the moment the current one ends. False by default.
  virtual bool QueuesAhead(int /*rank*/) const { return false; }
  // Asks the node of `rank` for its queued run back. If the node still holds it unstarted, a
  // kReturned message naming it follows (before any other message of that worker); otherwise
  // the worker computes it as usual.
  virtual void Reclaim(int /*rank*/) {}
  // Whether Next(0) would return an event at once: the rest of what arrived together (an MPI
  // rank's aggregated message). The scheduler takes them all, then records them in one batch.
  virtual bool EventsWaiting() const { return false; }
};

// Where each worker publishes the point it is on, in shared memory the driver can read after
// the worker died without a word. One 64-byte slot per rank (no false sharing).
class Scoreboard {
 public:
  static constexpr uint64_t kIdle = ~uint64_t{0};
  explicit Scoreboard(int ranks);  // creates a memfd and maps it
  Scoreboard(int fd, int ranks);   // maps an inherited memfd (worker side); takes fd
  ~Scoreboard();
  Scoreboard(const Scoreboard&) = delete;
  Scoreboard& operator=(const Scoreboard&) = delete;

  int fd() const { return fd_; }
  void Publish(int rank, uint64_t point);  // relaxed atomic store; kIdle between chunks
  uint64_t Read(int rank) const;

 private:
  int fd_;
  int ranks_;
  void* map_;
};

struct WorkerLaunch {
  enum class Method { kSpawn, kFork, kForkserver };
  Method method = Method::kSpawn;
  int size = 1;
  std::string log_dir;  // created if missing
  // "NAME=value" entries every worker's environment gets on top of this process's (the thread
  // settings of driver/thread_limits.h).
  std::vector<std::string> env;
  // Each worker's log is rotated at this size (driver/worker_log.h). REQUIRES: > 0.
  uint64_t log_rotate_bytes = kWorkerLogRotateBytes;
  // The worker environment: "NAME=value" entries for the worker of each rank (index), on top of
  // this process's environment; a rank beyond the list gets none. driver/gpus.h's device
  // variables travel here.
  std::vector<std::vector<std::string>> env_by_rank;
  // kSpawn: the program and arguments (argv[0] included, a path). The worker finds its socket
  // at kWorkerSocketFd, the scoreboard's memfd at kWorkerFirstPassedFd and the descriptors of
  // `pass_fds` at kWorkerFirstPassedFd + 1, + 2, ... in order. kForkserver: the zygote's, with
  // the same descriptors (driver/zygote.h).
  std::vector<std::string> argv;
  std::vector<int> pass_fds;
  // kFork: what the child runs; its return value is the exit code. It gets its rank and its
  // socket descriptor; everything else it inherits from the driver's memory.
  std::function<int(int rank, int socket_fd)> child_main;
  // execution.memory_limit: the most private memory a worker may hold, in bytes; 0: no limit.
  uint64_t memory_limit = 0;
  // How a worker's private memory is read; empty: PrivateMemoryBytes (io/process.h). Tests
  // pass a fake.
  std::function<uint64_t(pid_t pid)> memory_reader;
};

inline constexpr int kWorkerSocketFd = 3;
inline constexpr int kWorkerFirstPassedFd = 4;

class ProcessWorkerSet : public WorkerSet {
 public:
  explicit ProcessWorkerSet(WorkerLaunch launch);
  // Kills every live worker group and reaps them.
  ~ProcessWorkerSet() override;

  int size() const override { return launch_.size; }
  void Start(int rank) override;
  bool Running(int rank) const override;
  bool Send(int rank, const Message& message) override;
  std::optional<WorkerEvent> Next(double timeout_seconds) override;
  void Kill(int rank) override;
  std::optional<uint64_t> CurrentPoint(int rank) const override;
  std::string LogTail(int rank, size_t max_bytes) const override;
  WorkerPlace Place(int rank) const override;

  pid_t pid(int rank) const;
  Scoreboard& scoreboard() { return scoreboard_; }
  void KillAll();

 private:
  struct Worker {
    pid_t pid = -1;                  // -1 when none is running (reaped)
    int pidfd = -1;                  // readable when the process exits; -1 when reaped
    int socket = -1;                 // driver's end; -1 once the worker closed it
    bool over_memory_limit = false;  // killed by WatchMemory(), not yet reaped
    bool awaits_zygote = false;      // kForkserver: started, to be forked once the zygote is ready
  };
  // Starts the worker process of `rank` now.
  void StartNow(int rank);
  pid_t StartProcess(int rank, int socket_fd, int log_fd);
  // kForkserver: a zygote loading the kernel, when there is none or the last one failed.
  void SpawnZygote();
  // kForkserver: starts the workers that await the zygote once it is ready, or fails them when
  // it failed.
  void ServeZygote();
  // The events of a worker of `rank` that could not start: Fatal(why), then its exit (code 1).
  void FailToStart(int rank, const std::string& why);
  std::optional<WorkerEvent> Reap(int rank);
  // Every live worker's private memory against the limit, when a sample is due.
  void WatchMemory();
  std::optional<WorkerEvent> ReceiveFrom(int rank);
  // Kills and reaps every child of this process that is not a worker and started after this set
  // was made: descendants of workers that escaped their process group.
  void KillOrphans();
  // Reaps, without killing, those of them that have exited.
  void ReapOrphans();
  // A worker's process, or the zygote: a child that is no orphan.
  bool IsWorkerOrZygote(pid_t pid) const;
  std::string LogPath(int rank) const;

  WorkerLaunch launch_;
  std::string host_;  // this machine's name, for Place()
  Scoreboard scoreboard_;
  std::vector<Worker> workers_;
  std::vector<WorkerLog> logs_;  // one a rank, kept across its workers
  int signal_fd_ = -1;
  sigset_t signal_mask_before_{};         // restored when the set goes
  std::vector<WorkerEvent> pending_;      // events found but not yet returned
  unsigned long long created_ticks_ = 0;  // when the set was made, in clock ticks since boot
  bool was_subreaper_ = false;
  bool children_exited_ = false;    // a SIGCHLD was read: orphans to reap at the next round
  double next_memory_sample_ = 0;   // steady clock seconds
  std::unique_ptr<Zygote> zygote_;  // kForkserver
};

// Worker side: the first thing a spawned worker does (posix_spawn cannot do it; a forked one
// had it done by ForkChild). Sets PR_SET_PDEATHSIG and verifies the driver `driver_pid` is still
// its parent (exits 1 at once otherwise), then closes every descriptor >= first_unused_fd.
void BecomeWorker(pid_t driver_pid, int first_unused_fd);

}  // namespace sweep
