// The MPI backend: `mpirun -np K sweep run CONFIG --mpi -j N` (or `sweep resume OUT.h5 --mpi`, or
// srun) runs one sweep over K ranks, one per node, each with N local worker processes
// (driver/local_workers.h: the same process isolation as on one machine, so a crashing kernel
// never takes a rank down).
//
//   rank 0    prepares the run exactly as without MPI (driver/run_steps.h): it alone owns the
//             output, the journal and the lock, and only it writes the output (so the output may
//             live on NFS or on rank 0's own disk). It runs the one scheduler of the sweep over an
//             MpiWorkerSet: its own workers plus every other rank's, which the scheduler sees as
//             more workers. Chunks go to whichever worker is idle, on any node.
//   rank k>0  receives the sweep's description (io/config_json.h: never the YAML, which each rank
//             would parse again) and the output's layout from rank 0, maps the inputs from
//             their paths on its node, starts its workers and relays: rank 0's orders to its
//             workers (start, messages, kill) and its workers' events to rank 0. Its workers
//             write rows into a staging memfd laid out like the output; for each chunk done the
//             rank sends those rows to rank 0, which writes them into the output and then
//             records the chunk (journal, /chunks) as on one machine.
//
// A killed job leaves what a killed plain run leaves: a valid output, a journal, and chunks done
// or pending; `sweep resume OUT.h5`, with or without --mpi, finishes it to the same bytes. Every
// rank stops when rank 0 does (rank 0 tells them; a rank whose launcher died stops by itself),
// and workers die with their rank.
//
// Wire format: every MPI message is bytes on one tag, its first byte the type (mpi_run.cc).
#pragma once

#include "driver/run.h"

namespace sweep {

// REQUIRES: request.mpi, mode kRun (not --shard) or kResume. Initialises and finalises MPI.
// Returns this rank's exit code: rank 0's on rank 0, and 0 on the others once rank 0 let them go
// (had they returned rank 0's failure too, mpirun could kill rank 0 before it said why; mpirun
// exits with rank 0's code either way).
// THROWS (rank 0): as ExecuteRun.
int ExecuteMpiRun(const RunRequest& request);

}  // namespace sweep
