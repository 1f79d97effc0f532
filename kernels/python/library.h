/* The embedded Python interpreter's library, libsweep_python.so: the C interface between it and
 * sweep (kernels/python.h), which loads it only in a process that runs a Python kernel.
 *
 * Why a library of its own: the interpreter (libpython) is linked by this library alone, so
 * neither `sweep` nor `sweep-worker` links it, a sweep built without Python still builds and runs
 * every other kernel, and a worker of a C kernel never pays for an interpreter. sweep opens it
 * with RTLD_NOW | RTLD_GLOBAL: numpy's extension modules do not link libpython and find its
 * symbols in the global scope, where only a global load of this library (and so of libpython, its
 * dependency) puts them.
 *
 * The library exports SWEEP_PYTHON_ENTRY, which returns its table. Its functions follow
 * kernels/kernel.h (return 0, or non-zero with a message in err), with these additions:
 *   - init() starts the interpreter if this process has none yet (never a second one; it is
 *     never finalised, since numpy cannot be imported twice), puts the model's folder and the
 *     config's folder first on sys.path, imports the model, finds the function and reads its
 *     signature, makes the inputs' read-only numpy views, and calls the model's `setup` if it has
 *     one. It installs no signal handler (SIGINT keeps its default action: a worker stopped by
 *     Ctrl-C dies, never raising KeyboardInterrupt in the user's code), except faulthandler's for
 *     crashes, which prints the Python stack of a crash in an extension to the worker's log and
 *     then dies of the same signal. It starts no thread and leaves none running, so a process
 *     may fork after it (see before_fork).
 *   - compute() and compute_batch() take the GIL if the calling thread does not hold it (the
 *     thread that called init() keeps it between calls, so a worker pays nothing for it).
 *   - A failure's message is one line, the reason, then the whole Python traceback on the lines
 *     after it, cut from its start to fit err_size (sweep keeps those lines as the failure's
 *     details: driver/protocol.h). The traceback also goes to stderr (the worker's log), whole,
 *     after a line naming the point and its parameters.
 *   - before_fork(), after_fork_in_parent(), after_fork_in_child(): a process that forks after
 *     init() (a forkserver's zygote) calls the first just before fork() and one of the others in
 *     each process after it, on the thread that called init(); the child then goes on calling
 *     compute() with the state init() gave, without init() of its own. CPython needs these
 *     (PyOS_BeforeFork and its pair) to hand the child a consistent interpreter.
 */
#ifndef SWEEP_KERNELS_PYTHON_LIBRARY_H_
#define SWEEP_KERNELS_PYTHON_LIBRARY_H_

#include "kernels/kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SWEEP_PYTHON_LIBRARY_VERSION 1
#define SWEEP_PYTHON_ENTRY "sweep_python_entry"

/* What init() needs besides the options and inputs: the config's Python kernel, as sweep bound
 * it. Every string is NUL-terminated and lives until finish(). */
typedef struct {
  const char* model_path; /* absolute path of the model's .py file */
  const char* function;   /* the function to call: per point, or per block with batch */
  const char* config_dir; /* the config's folder: on sys.path, and whose files are "the user's" */
  int batch;              /* 1: one call per block of points with numpy columns */
  const char* const* param_names; /* the sweep's parameters, in compute()'s order */
  int n_params;
  const char* const* input_names; /* the config's inputs, in init()'s order */
  int n_inputs;
  const char* const* option_names; /* the config's options, in the options' order */
  int n_options;
  const sweep_output_decl* outputs; /* declared in the config, in compute()'s order */
  int n_outputs;
} sweep_python_spec;

typedef struct {
  uint32_t version;           /* SWEEP_PYTHON_LIBRARY_VERSION */
  const char* python_version; /* of the interpreter linked: "3.11.2" */
  int (*init)(void** state, const sweep_python_spec* spec, const sweep_options* options,
              const sweep_array* inputs, char* err, size_t err_size);
  /* The point's index, before each compute(): for the worker log's line about a failure. */
  void (*set_point)(void* state, uint64_t point);
  int (*compute)(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs,
                 char* err, size_t err_size);
  int (*compute_batch)(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                       char* err, size_t err_size);
  void (*finish)(void* state);
  /* 1 when the function takes `seed` (or **kwargs), 0 when seeds need not be derived for it. */
  int (*takes_seed)(void* state);
  void (*before_fork)(void);
  void (*after_fork_in_parent)(void);
  void (*after_fork_in_child)(void);
} sweep_python_library;

typedef const sweep_python_library* (*sweep_python_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* SWEEP_KERNELS_PYTHON_LIBRARY_H_ */
