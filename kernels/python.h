// The Python kernel: a function of the user's .py file, called in an interpreter embedded in each
// worker, with no process per point and no copy of the inputs, presented as a sweep_kernel.
//
//   kernel:
//     python: model.py:simulate      # relative to the config; the function is `compute` if unnamed
//     options: {steps: 1000}
//     outputs: {energy: float64, trace: [float64, 100]}
//     batch: false
//
// The table is made from the config alone: its parameters are every parameter of the sweep, its
// inputs every input of the config (any dtype and rank), its options those the config gives
// (typed by their values), its outputs those `outputs:` declares. So the driver binds, validates,
// plans and creates the output file without running the user's code, without an interpreter, and
// in a sweep built without Python. The interpreter lives in libsweep_python.so
// (kernels/python/library.h), which init() loads (RTLD_GLOBAL) the first time a process needs it:
// a worker, or the driver of `rerun --inline`. The library is looked for beside the running
// executable, then in <prefix>/<libdir>/sweep/ (where `cmake --install` puts it).
//
// What the user's function gets and returns, and how failures are reported: the library's header
// and configs/README.md ("kernel.python"). Results depend only on what the function computes from
// its arguments, so they do not depend on workers, chunks or start method like any kernel's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

struct PythonOutput {
  std::string name;
  int dtype = 0;               // sweep_dtype
  std::vector<int64_t> shape;  // empty: a scalar
};

struct PythonOption {
  std::string name;
  int type = 0;  // sweep_value_type of the value the config gives
};

// Everything the kernel needs, read from a config by driver/python_binding.h.
struct PythonSpec {
  std::string model_path;  // absolute
  std::string function;
  std::string config_dir;  // absolute
  bool batch = false;
  std::vector<std::string> param_names;  // the sweep's, in order
  std::vector<std::string> input_names;  // the config's, in order
  std::vector<PythonOption> options;     // the config's, in order
  std::vector<PythonOutput> outputs;     // in file order
};

// A Python kernel made from a spec: the table, the set_point hook of KernelBinding (the point's
// index names a failure in the worker's log), and what keeps the table alive.
struct PythonKernelTable {
  const sweep_kernel* kernel = nullptr;
  void (*set_point)(void* state, uint64_t point) = nullptr;
  std::shared_ptr<void> owner;
};

// THROWS: Error when more than 32 Python kernels are alive at once in this process.
PythonKernelTable MakePythonKernel(PythonSpec spec);

// True when this sweep was built with the Python kernel's library (pybind11 and the Python
// headers were found).
bool PythonKernelsBuilt();
// The version of the Python the library was built against ("3.11.2"); "" without one.
std::string PythonVersionBuilt();

// For a process that forks after a Python kernel's init() (a forkserver's zygote), on the thread
// that called init(): PythonBeforeFork() just before fork(), then PythonAfterForkInParent() in
// the parent and PythonAfterForkInChild() in the child, which then computes with the state the
// zygote's init() made. No-ops in a process that has not loaded the library.
void PythonBeforeFork();
void PythonAfterForkInParent();
void PythonAfterForkInChild();

}  // namespace sweep
