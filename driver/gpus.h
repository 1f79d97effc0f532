// Gpus: which device each worker of a node gets (`execution.gpus`), one device a worker.
//
// The devices of a node (NodeGpus):
//   none    no device: the workers' environment keeps whatever the driver's says;
//   a list  those devices, as CUDA_VISIBLE_DEVICES names them (an index, or a GPU-/MIG- UUID);
//   auto    the devices this process may use, by what tells them first: its own
//           CUDA_VISIBLE_DEVICES (as Slurm's --gpus and --gres set it; "", "-1" or "NoDevFiles":
//           none), else the "GPU <i>: ..." lines of `nvidia-smi -L` (found on PATH; one that
//           does not answer within 10 s counts as none), else none.
// Under MPI each rank asks on its own node (driver/mpi_run.h), so nodes of different sizes mix.
//
// Worker i of a node (its index there, which the worker that replaces it after a crash keeps)
// gets device devices[i % n] in its environment (GpuEnvironment): CUDA_VISIBLE_DEVICES,
// HIP_VISIBLE_DEVICES and ROCR_VISIBLE_DEVICES, and ZE_AFFINITY_MASK when the device is an index,
// set over what the driver's environment says. More workers than devices share them round robin.
// With devices and `workers: auto` (and no -j), a node runs one worker per device (NodeWorkers).
#pragma once

#include <string>
#include <vector>

#include "io/config.h"

namespace sweep {

// `environment`: "NAME=value" entries, NULL-terminated, as `environ` (its CUDA_VISIBLE_DEVICES,
// and the PATH that nvidia-smi is looked for in).
std::vector<std::string> NodeGpus(const ExecutionSpec& execution, char** environment);

// The device of worker `worker` of a node with `devices`; "" when there are none.
std::string GpuOf(const std::vector<std::string>& devices, int worker);

// The "NAME=value" entries that give a worker `device`; none for "".
std::vector<std::string> GpuEnvironment(const std::string& device);

// How many workers a node runs: -j (`requested`), else execution.workers, else one per device
// when there are devices, else one per core.
int NodeWorkers(int requested, const ExecutionSpec& execution,
                const std::vector<std::string>& devices);

// The indices `nvidia-smi -L` lists, from its output.
std::vector<std::string> ParseNvidiaSmiList(const std::string& text);

}  // namespace sweep
