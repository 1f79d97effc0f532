// Under MPICH's mpiexec (hydra, also Intel MPI's), a rank's death aborts the job at once and
// without a word to the others: the moment the dead rank's PMI socket closes, hydra's proxy
// SIGKILLs every rank's process group (MPICH 4.0: no signal before, about 3 ms after the death
// here), so rank 0 could never record which rank it lost (driver/mpi_run.h).
//
// AbortDelay, made on a rank k > 0 started by hydra before MPI_Init, forks a keeper that holds a
// copy of that socket: when the rank dies, the socket closes kAbortDelaySeconds later, when the
// keeper exits, and hydra aborts the job then as it would have at once. Meanwhile rank 0 hears
// nothing from the rank and journals it unheard, which `sweep status` names once the job is gone.
// The keeper stays in the rank's process group, so hydra's abort kills it too, and holds nothing
// else of the rank's but its stdout and stderr; a rank that ends (normally or by an exception)
// releases it and waits for it, so nothing outlives the job. Anywhere else (rank 0, Open MPI,
// srun) AbortDelay does nothing.
#pragma once

#include <sys/types.h>

namespace sweep {

// How long a dead rank's keeper holds the job up: rank 0 journals a rank unheard within about
// 1.1 s of its last word (driver/mpi_run.cc), so this leaves nearly 4 s to spare for a loaded
// rank 0 or a slow file system.
constexpr double kAbortDelaySeconds = 5.0;

// Whether this process was started by hydra: its proxy hands each rank its PMI socket as PMI_FD
// and says its place on the node as MPI_LOCALRANKID (srun's PMI2 sets PMI_FD alone; Open MPI
// neither).
bool UnderHydra();

class AbortDelay {
 public:
  AbortDelay();   // forks the keeper (under hydra, on a rank k > 0); never throws
  ~AbortDelay();  // releases the keeper and reaps it
  AbortDelay(const AbortDelay&) = delete;
  AbortDelay& operator=(const AbortDelay&) = delete;

 private:
  pid_t keeper_ = -1;
  int release_ = -1;  // the write end of the keeper's pipe: a byte releases it, its end says gone
};

}  // namespace sweep
