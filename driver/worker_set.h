// WorkerSet: the worker processes of one run, like `mpirun -np N` on one machine.
//
// The scheduler (driver/scheduler.h) talks only to this interface: start the worker of a rank,
// send it a message, take the next event (a message, an exit, an interrupt), kill one or all.
// ProcessWorkerSet is the real one; tests use a fake (tests/fakes.h).
//
// What ProcessWorkerSet promises about every worker it starts:
//   - SWEEP_RANK and SWEEP_SIZE in its environment, like MPI's ranks;
//   - its own process group (pgid == pid), so a kill reaches anything it started;
//   - it dies with the driver (PR_SET_PDEATHSIG, rechecked against the parent pid after, since
//     the parent may have died before the call);
//   - it inherits no descriptor but stdin (/dev/null), stdout and stderr (both its log file,
//     `<log_dir>/worker-<rank>.log`, appended across restarts), the protocol socket and the
//     descriptors the launch names;
//   - it is reaped through a pidfd, so exits are seen in the same poll() as messages, with no
//     SIGCHLD handler and no race with pid reuse;
//   - after it exits, its process group is killed, so a grandchild left behind does not survive;
//     one that left the group (a double fork with setsid, a daemon) is reparented to the driver,
//     which is a child subreaper while a ProcessWorkerSet exists, and is killed too.
// SIGINT and SIGTERM sent to the driver are turned into kInterrupt events (signalfd) while a
// ProcessWorkerSet exists; the default actions are restored when it is destroyed.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "driver/protocol.h"

namespace sweep {

struct WorkerEvent {
  enum class Kind {
    kMessage,   // `message` arrived from `rank`
    kExited,    // the worker of `rank` is gone; `wait_status` as from waitpid
    kInterrupt  // the driver received SIGINT or SIGTERM (`signal`)
  };
  Kind kind = Kind::kMessage;
  int rank = -1;
  Message message;
  int wait_status = 0;
  int signal = 0;
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
  enum class Method { kSpawn, kFork };
  Method method = Method::kSpawn;
  int size = 1;
  std::string log_dir;  // created if missing
  // kSpawn: the program and arguments (argv[0] included). The worker finds its socket at
  // kWorkerSocketFd and the descriptors of `pass_fds` at kWorkerFirstPassedFd, +1, ... in order.
  std::vector<std::string> argv;
  std::vector<int> pass_fds;
  // kFork: what the child runs; its return value is the exit code. It gets its rank and its
  // socket descriptor; everything else it inherits from the driver's memory.
  std::function<int(int rank, int socket_fd)> child_main;
  std::vector<std::string> extra_env;  // "NAME=value" added to both methods' environments
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

  pid_t pid(int rank) const;
  Scoreboard& scoreboard() { return scoreboard_; }
  void KillAll();

 private:
  struct Worker {
    pid_t pid = -1;   // -1 when none is running (reaped)
    int pidfd = -1;   // readable when the process exits; -1 when reaped
    int socket = -1;  // driver's end; -1 once the worker closed it
  };
  std::optional<WorkerEvent> Reap(int rank);
  // Kills and reaps every child of this process that is not a worker and started after this set
  // was made: descendants of workers that escaped their process group.
  void KillOrphans();
  std::string LogPath(int rank) const;

  WorkerLaunch launch_;
  Scoreboard scoreboard_;
  std::vector<Worker> workers_;
  int signal_fd_ = -1;
  std::vector<WorkerEvent> pending_;      // events found but not yet returned
  unsigned long long created_ticks_ = 0;  // when the set was made, in clock ticks since boot
  bool was_subreaper_ = false;
};

// Worker side: the first thing a spawned or forked worker does. Sets PR_SET_PDEATHSIG and
// verifies the driver `driver_pid` is still its parent (exits at once otherwise), resets signal
// dispositions and the signal mask, and closes every descriptor >= first_unused_fd.
void BecomeWorker(pid_t driver_pid, int first_unused_fd);

}  // namespace sweep
