// The persistent kernel: an external program started once per worker that serves point after
// point over its stdin and stdout with the line protocol `stream/1`, presented as a sweep_kernel.
// A model in Julia, R or Python pays its start (an interpreter, its imports, a JIT) once per
// worker instead of once per point.
//
//   kernel:
//     command: [julia, model.jl]
//     persistent: true                # or {max_points: 1000}: started again after that many
//     options: {steps: 1000}          # passed in the hello, as given
//     outputs: {energy: float64, trace: [float64, 100]}
//     files: {model.toml: templates/model.toml}
//     workdir: {root: work/, keep: failed}
//
// stream/1, one JSON object per line each way (UTF-8; NaN, Infinity and -Infinity written and
// read bare, as Python's json module does):
//   sweep -> program, once, as the program starts (the hello):
//     {"sweep": "stream/1", "options": {"steps": 1000},
//      "outputs": {"energy": {"dtype": "float64", "shape": []}, ...},
//      "inputs": {"A": {"path": "/data/A.npy", "offset": 128, "dtype": "float64",
//                       "shape": [512, 512]}}}
//     Each input is where its bytes are, so the program maps them itself, read-only, without a
//     copy (numpy.memmap(path, dtype, "r", offset, shape); Julia's Mmap): an npy file or a
//     contiguous HDF5 dataset by its own path, an array sweep made or copied by
//     `/proc/<pid>/fd/<n>`, a descriptor of the sweep process that holds it.
//   sweep -> program, per point: {"point": 12, "seed": 9137, "rho": 1.5, "sigma": 10}, every
//     sweep parameter by name (integers as integers, strings as strings).
//   program -> sweep, per point, the result line: {"point": 12, "energy": -1.25, ...}, every
//     declared output a member (a number, or an array of them nested in C order or flat; null
//     for NaN), or {"point": 12, "error": "diverged"}, which fails the point with that reason.
// A result line is a line holding one JSON object with a "point" member. Every other line on
// stdout, and all of stderr, is the program's log: it goes to the worker's log
// (`OUT.h5.logs/worker-<rank>.log`, which keeps the last 8 to 16 MiB a worker wrote), and the
// last 4 KiB of stderr end the message of a point that fails.
//
// Lifetime and failures. The program starts at a worker's first point (not in init(), so a
// `start: forkserver` zygote can init the kernel once for every worker), in its own work
// directory, `<root>/program-<p>` (p: the first point it serves), with `files:` rendered there;
// it leads its own process group, which dies with the worker (and, like the command kernel's,
// with the driver). One point is in flight at a time. The point in flight fails, and the program
// is stopped and started again at the next point, when it:
//   - exits or dies (a crash): the reason names the exit, and whether it had answered any point;
//   - answers for another point, or with a "point" that is not an integer (it is out of step);
//   - stays silent past the per-point limit (execution.timeout less its margin, as for the
//     command kernel): its process group is killed and the reason starts with "timeout: ", so
//     the point is retried as any timeout is;
//   - writes a line over 64 MiB.
// An error line, or a result line whose outputs do not read, fails only its point: the program
// stays. With `max_points: N` the program is retired after its N-th answer. A retired program
// (and each one when its worker finishes) gets end of file on stdin and 2 s to exit before its
// group is killed. Its work directory is then removed, unless `keep:` says otherwise: `failed`
// (the default) keeps the directory of a program that failed a point, `always` every one.
//
// Its environment is the worker's (SWEEP_RANK, the thread settings) plus PYTHONUNBUFFERED=1
// unless set, so that a Python program's answers are not held in a buffer; any other program must
// flush stdout after each result line. Its arguments and `files:` are plain text: a point's
// values reach it on stdin, so `{placeholders}` are a config error (driver/command_binding.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "io/inputs.h"
#include "kernels/command.h"
#include "kernels/kernel.h"

namespace sweep {

// Everything the runtime needs, read from a config by driver/command_binding.h.
struct PersistentSpec {
  // The program as for the command kernel: path, arguments and files without placeholders
  // (single text pieces), outputs, per-point limit and work directories. results_file is unused.
  CommandSpec command;
  uint64_t max_points = 0;  // points a program serves before it is started again; 0: no limit
  std::vector<std::string> parameters;  // every sweep parameter, sent by name with each point
  struct Option {
    std::string name;
    int type = SWEEP_VALUE_NUMBER;  // sweep_value_type, as the config gives it
  };
  std::vector<Option> options;      // as the config gives them, passed in the hello
  std::vector<std::string> inputs;  // every config input, by name, any dtype and rank
};

// A persistent kernel made from a spec: the table, the hooks of KernelBinding and what keeps
// them alive.
struct PersistentKernelTable {
  const sweep_kernel* kernel = nullptr;
  void (*set_point)(void* state, uint64_t point) = nullptr;
  void (*place_inputs)(void* state, const std::vector<PublishedInput>& inputs) = nullptr;
  std::shared_ptr<void> owner;
};

// THROWS: Error when too many kernels made at run time are alive (kernels/program.h).
PersistentKernelTable MakePersistentKernel(PersistentSpec spec);

}  // namespace sweep
