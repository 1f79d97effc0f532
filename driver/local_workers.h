// LocalWorkers: the worker processes of one machine for a run, started the way the config says
// (`execution.start`: spawn, fork, or forkserver, driver/zygote.h), each writing the rows it
// computes into `rows_path` at the output's offsets. For a plain run that path is the output
// itself; for an MPI node it is the node's staging file, whose rows the node sends on to rank 0
// (driver/mpi_run.h).
//
// Spawned workers, and a forkserver's zygote, read their job (the sweep's description, layout,
// inputs) from a sealed memfd that stays open as long as this object, since workers are restarted
// during the whole run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/reuse.h"
#include "driver/space.h"
#include "driver/worker_set.h"
#include "io/config.h"
#include "io/inputs.h"
#include "io/output_file.h"

namespace sweep {

// What workers need, from a prepared run or from rank 0's description of it. Not owned: every
// pointer must outlive the LocalWorkers made from it.
struct WorkerContext {
  const Config* config = nullptr;
  const Space* space = nullptr;
  const KernelBinding* binding = nullptr;
  const PublishedInputs* published = nullptr;
  const MappedInputs* inputs = nullptr;  // for fork workers, which inherit the mappings
  const OutputLayout* layout = nullptr;
  std::string rows_path;             // where workers write rows (at layout's offsets)
  std::string log_dir;               // worker-<rank>.log files
  const ReusePlan* reuse = nullptr;  // points to copy from earlier outputs (driver/reuse.h)
  bool copy_reused = true;           // false: leave their rows to rank 0 (driver/mpi_run.h)
  // This node's devices (driver/gpus.h): worker i gets GpuOf(gpu_devices, i). Empty: none.
  std::vector<std::string> gpu_devices;
};

class LocalWorkers {
 public:
  // `count` workers (none started yet). THROWS: Error when the job or the set cannot be made.
  LocalWorkers(const WorkerContext& context, int count);
  ~LocalWorkers();
  LocalWorkers(const LocalWorkers&) = delete;
  LocalWorkers& operator=(const LocalWorkers&) = delete;

  ProcessWorkerSet& set() { return *set_; }

 private:
  WorkerContext context_;
  int job_fd_ = -1;
  std::unique_ptr<ProcessWorkerSet> set_;
};

}  // namespace sweep
