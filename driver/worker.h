// Worker: what one worker process does between starting and exiting.
//
// It initialises the kernel once (init() with read-only views of the shared inputs), says
// Ready, then for every assigned chunk computes each point into a block buffer, writes the
// block's rows straight into the output file at their fixed offsets (pwrite, so a full disk is
// an error we see rather than a SIGBUS), and reports the chunk Done with its checksum
// (driver/checksum.h). Before each point it publishes the point's index in the scoreboard, so
// the driver can name the point even when the worker dies without a word. A kernel error fails
// the chunk (Failed) and the worker goes on with the next; an I/O error is Fatal.
//
// Both start methods end in WorkerLoop(): `fork` calls it in the child with the driver's objects
// (the mapped inputs are inherited, not mapped again); `spawn` runs `sweep __worker`, which
// rebuilds the same objects from the job the driver passes (SpawnedWorkerMain).
#pragma once

#include <string>
#include <vector>

#include "driver/space.h"
#include "driver/worker_set.h"
#include "io/output_file.h"
#include "kernels/binding.h"

namespace sweep {

struct WorkerSetup {
  const Space* space = nullptr;
  const KernelBinding* binding = nullptr;
  const std::vector<sweep_array>* inputs = nullptr;  // in the order of Config::inputs
  std::string output_path;
  const OutputLayout* layout = nullptr;
  Scoreboard* scoreboard = nullptr;
};

// Runs the protocol on socket_fd until Shutdown or the driver goes. Returns the exit code.
int WorkerLoop(const WorkerSetup& setup, int rank, int socket_fd);

// The job a spawned worker reads from its descriptor kWorkerFirstPassedFd + 1: JSON with the
// config text and file, the output path and the published inputs.
std::string EncodeWorkerJob(const std::string& config_text, const std::string& config_file,
                            const std::string& output_path, const std::string& inputs_json);

// `sweep __worker`: the entry of a spawned worker. Returns its exit code.
int SpawnedWorkerMain();

}  // namespace sweep
