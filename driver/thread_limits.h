// Threads per worker: N workers that each run an N-thread BLAS or OpenMP runtime oversubscribe the
// machine N times over, the classic pitfall of multiprocessing pools. Every worker, of every
// kernel kind and start method, therefore starts with the thread-count variables of the common
// runtimes (OpenMP, OpenBLAS, MKL, numexpr) set to `execution.threads` (default 1), unless the
// environment sweep runs in sets them: a variable the user set is theirs, passed on unchanged.
// A command kernel's programs inherit the worker's environment, and so the setting.
#pragma once

#include <string>
#include <vector>

namespace sweep {

// The variables, in the order messages list them.
inline constexpr const char* kThreadVariables[] = {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                   "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"};

// One variable as a worker gets it.
struct ThreadVariable {
  std::string name;
  std::string value;
  bool from_environment = false;  // the environment set it: its value, not execution.threads
};

// What each variable of kThreadVariables is in a worker started from `environment` (an environ
// array: "NAME=value" strings, NULL-terminated) with `threads` per worker.
std::vector<ThreadVariable> WorkerThreadVariables(int threads, char** environment);

// The "NAME=value" entries to add to a worker's environment: those the environment does not set.
std::vector<std::string> ThreadSettings(int threads, char** environment);

// For `plan` and the report: "1 (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS,
// NUMEXPR_NUM_THREADS)", naming any the environment sets instead
// ("2 (OPENBLAS_NUM_THREADS, ...); OMP_NUM_THREADS=4 from the environment").
std::string DescribeThreads(int threads, char** environment);

}  // namespace sweep
