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
// Rank 0 stays off the workers' critical path, so that one rank 0 feeds thousands of nodes:
//   - every worker is handed runs of consecutive chunks sized by time (driver/scheduler.h, as
//     `chunk_size: auto` does on one machine), and a remote worker also its next run while it
//     computes the current one: its rank holds that run and gives it to the worker the moment
//     the current one ends, so no worker waits for a message from rank 0. A held run not begun
//     is given back when rank 0 asks (a worker elsewhere has nothing left to do).
//   - a rank gathers its workers' events (chunk ends with their rows, failures, exits) and
//     sends them in one message per aggregation period (5 ms for a few ranks, longer for many:
//     AggregateSeconds), at once when one of its workers has nothing left to compute;
//   - rank 0 keeps one non-blocking receive posted per rank and records the chunk ends of a
//     message in one journal write (driver/chunk_ledger.h, QueueDone).
//   MPI gives no descriptor to wait on with the workers' sockets, so both ends look for
//   messages between waits on their workers that start at 20 us after any traffic and double up
//   to 1 ms (0.1 ms on a rank with a worker waiting for work): held runs make those waits cost
//   no worker any time, and an idle rank little CPU.
//
// The stop record (io/journal.h) holds every rank's driver CPU seconds, which each rank sends as
// its last message, and the ranks lost: a rank that does not answer rank 0's ping is recorded
// with its host and when it was last heard from, for `sweep status`. When a rank dies, Open MPI's
// mpirun sends the others a SIGCONT, a SIGTERM odls_base_sigkill_timeout seconds later (1 s by
// default) and a SIGKILL as long after: rank 0 pings on the SIGCONT, judges the answers on the
// SIGTERM and records the stop before the SIGKILL. Another interrupt (a user's SIGTERM, srun's)
// pings then and waits half a second for the answers. MPICH's mpiexec (hydra) SIGKILLs every rank,
// without a word, the moment a dead rank's PMI socket closes, leaving no time for a stop record:
// there each rank k > 0 forks a keeper that holds that socket 5 s after the rank's death (or
// until the rank ends, or hydra's proxy does), and rank 0 journals a rank it has heard nothing
// from for 1 s `unheard` (and `heard` if it speaks again); `sweep status` names the ranks still
// unheard when a job ended without a stop record.
//
// A killed job leaves what a killed plain run leaves: a valid output, a journal, and chunks done
// or pending; `sweep resume OUT.h5`, with or without --mpi, finishes it to the same bytes. Every
// rank stops when rank 0 does (rank 0 tells them; a rank whose launcher died stops by itself),
// and workers die with their rank.
//
// Wire format: every MPI message is bytes whose first byte is its type (driver/mpi_mailbox.h, which
// also sends and receives them); one longer than a receive slot travels as a header naming its
// length, then its bytes on a second tag. The keeper of a rank under MPICH's mpiexec is
// driver/mpi_hydra_keeper.h.
#pragma once

#include "driver/run.h"

namespace sweep {

// REQUIRES: request.mpi, mode kRun (not --shard) or kResume. Initialises and finalises MPI.
// Returns this rank's exit code: rank 0's on rank 0, and 0 on the others once rank 0 let them go
// (had they returned rank 0's failure too, mpirun could kill rank 0 before it said why; mpirun
// exits with rank 0's code either way).
// THROWS (rank 0): as ExecuteRun.
int ExecuteMpiRun(const RunRequest& request);

// How long a rank of a job of `ranks` gathers its workers' events before it sends them to rank
// 0: 5 ms for a few ranks, growing with their number (so rank 0 takes at most about 40,000
// messages a second), at most 0.25 s.
double AggregateSeconds(int ranks);

}  // namespace sweep
