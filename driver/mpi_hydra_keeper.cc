#include "driver/mpi_hydra_keeper.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>

namespace sweep {
namespace {

// The keeper's life: only async-signal-safe calls, as it is forked from a process that may run
// threads. It exits at once when the rank writes a byte to `rank_alive` (released) or when
// hydra's proxy closes the PMI socket's other end; once the rank is gone (`rank_alive` at its
// end), it holds the socket kAbortDelaySeconds more, then exits.
[[noreturn]] void KeepPmiSocket(int rank_alive, int pmi) {
  prctl(PR_SET_NAME, "sweep-keeper");
  // Nothing of the rank's but stdout and stderr (so mpiexec waits for it as for the rank).
  const unsigned low = unsigned(std::min(rank_alive, pmi)),
                 high = unsigned(std::max(rank_alive, pmi));
  if (low > 3) close_range(3, low - 1, 0);
  if (high > low + 1) close_range(low + 1, high - 1, 0);
  close_range(high + 1, ~0U, 0);
  // No events asked of the PMI socket: only its hang-up shows; the rank's replies stay unread.
  pollfd fds[2] = {{rank_alive, POLLIN, 0}, {pmi, 0, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(1);
    }
    if (fds[1].revents) _exit(0);
    if (fds[0].revents) {
      char byte;
      const ssize_t got = read(rank_alive, &byte, 1);
      if (got < 0 && errno == EINTR) continue;
      if (got == 1) _exit(0);  // released
      break;                   // the rank is gone
    }
  }
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const double until = double(now.tv_sec) + double(now.tv_nsec) * 1e-9 + kAbortDelaySeconds;
  for (;;) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    const double left = until - (double(now.tv_sec) + double(now.tv_nsec) * 1e-9);
    if (left <= 0) _exit(0);
    if (poll(&fds[1], 1, int(left * 1000) + 1) > 0) _exit(0);
  }
}

}  // namespace

bool UnderHydra() { return std::getenv("PMI_FD") && std::getenv("MPI_LOCALRANKID"); }

AbortDelay::AbortDelay() {
  const char* rank = std::getenv("PMI_RANK");
  if (!UnderHydra() || !rank || std::string(rank) == "0") return;
  const int pmi = std::atoi(std::getenv("PMI_FD"));
  int alive[2];
  if (pmi <= 2 || pipe2(alive, O_CLOEXEC) != 0) return;  // no keeper: the job aborts at once
  keeper_ = fork();
  if (keeper_ == 0) KeepPmiSocket(alive[0], pmi);
  close(alive[0]);
  if (keeper_ < 0) {
    close(alive[1]);
    return;
  }
  release_ = alive[1];
}

AbortDelay::~AbortDelay() {
  if (keeper_ <= 0) return;
  const char byte = 0;
  while (write(release_, &byte, 1) < 0 && errno == EINTR) {
  }
  close(release_);
  // ECHILD: the worker set reaped it (it exited early: a signal to the process group).
  while (waitpid(keeper_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace sweep
