/* The one C ABI every sweep kernel is written against: built-in kernels and plugins alike.
 *
 * A kernel is a `sweep_kernel` table of declarations and its functions:
 *   outputs():       given the kernel's options, the outputs it writes per point (name, dtype,
 *                    shape);
 *   init():          once per worker, with the options and read-only views of the shared inputs;
 *   compute():       once per point, with the point's parameter values (in the order the kernel
 *                    declares them), the point's seed, and writable views of that point's output
 *                    rows;
 *   compute_batch(): optional (ABI 2), once per run of consecutive points, with a column of
 *                    values per parameter, their seeds, and the block of their output rows; when
 *                    a kernel has it, sweep calls it instead of compute();
 *   finish():        once per worker, to free what init() made.
 * A plugin is a shared library exporting `const sweep_kernel* sweep_kernel_entry(void)`.
 *
 * Contract:
 *  - Every function returns 0 on success; on failure it returns non-zero and writes a
 *    NUL-terminated message into err[0..err_size): one line, the reason, optionally followed by
 *    lines of details (a traceback), which sweep keeps with the failure as its log.
 *  - compute() and compute_batch() may be called from one thread at a time per init()ed state; a
 *    worker calls them for consecutive points of a chunk. They must draw random numbers only from
 *    the points' seeds (DESIGN.md "Determinism"): the same (params, seed) must give the same bytes.
 *  - A kernel with both entries must write the same bytes through either: sweep may call
 *    compute() instead (tests force it, SWEEP_FORCE_PER_POINT=1), and results never depend on how
 *    points were batched.
 *  - Input views are mapped read-only: writing to them faults and fails the chunk. They stay
 *    mapped from init() until after finish(), so a kernel may keep pointers into them.
 *  - Output views are the points' rows, pre-filled with NaN (floats) or 0 (integers); they are
 *    written to the output file after compute() or compute_batch() returns.
 *  - Option values arrive already checked against the declared type; absent options carry the
 *    declared default.
 *
 * Output dimensions have no names in ABI 2: the output file names an output's own dimensions
 * <output>_0, <output>_1, ... (only a command kernel's config can name them, `dims:`). Naming
 * them from a kernel needs a later ABI (a field appended to sweep_kernel, as ABI 2 appended
 * compute_batch), not a change of sweep_output_decl, whose arrays ABI 2 plugins fill.
 *
 * Versioning: a change of any struct below bumps SWEEP_KERNEL_ABI. ABI 2 only appended fields
 * (flags, compute_batch) to sweep_kernel, so sweep also loads a plugin built against ABI 1's
 * header, reading only the fields that ABI had: it runs per point, with seeds. The loader refuses
 * any other abi_version and names both versions.
 */
#ifndef SWEEP_KERNELS_KERNEL_H_
#define SWEEP_KERNELS_KERNEL_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SWEEP_KERNEL_ABI 2
#define SWEEP_KERNEL_ABI_OLDEST 1 /* the oldest ABI a plugin may be built for and still load */
#define SWEEP_MAX_RANK 4

typedef enum {
  SWEEP_FLOAT64 = 1,
  SWEEP_FLOAT32 = 2,
  SWEEP_INT64 = 3,
  SWEEP_INT32 = 4,
  SWEEP_UINT8 = 5
} sweep_dtype;

typedef enum {
  SWEEP_VALUE_NUMBER = 1,  /* .number holds it */
  SWEEP_VALUE_INTEGER = 2, /* .integer holds it; .number holds the same value as a double */
  SWEEP_VALUE_STRING = 3   /* .string holds it, NUL-terminated, owned by sweep */
} sweep_value_type;

/* A parameter or option value. Integers also fill .number so a kernel that wants a double
 * can always read .number for numeric values. */
typedef struct {
  int type; /* sweep_value_type */
  double number;
  int64_t integer;
  const char* string;
} sweep_value;

typedef struct {
  const char* name;
  int type; /* sweep_value_type: what the option must be */
  sweep_value default_value;
  const char* help;
} sweep_option_decl;

typedef struct {
  const char* name;
  const char* help;
} sweep_param_decl;

typedef struct {
  const char* name;
  int dtype; /* sweep_dtype, or 0 for any */
  int rank;  /* number of dimensions, or -1 for any */
  const char* help;
} sweep_input_decl;

typedef struct {
  const char* name;
  int dtype; /* sweep_dtype */
  int rank;  /* 0 for a scalar per point */
  int64_t shape[SWEEP_MAX_RANK];
} sweep_output_decl;

/* The options given in the config, one entry per declared option, in declaration order. */
typedef struct {
  const sweep_value* values;
  int count;
} sweep_options;

/* A dense C-order array. */
typedef struct {
  void* data; /* read-only for inputs, writable for outputs */
  int dtype;  /* sweep_dtype */
  int rank;
  int64_t shape[SWEEP_MAX_RANK];
} sweep_array;

/* sweep_kernel.flags (ABI 2). */
/* compute() and compute_batch() never read the seed: sweep derives none, passing 0 to compute()
 * and seeds = NULL in the batch. Without it seeds are derived for every point (a hash each). */
#define SWEEP_KERNEL_IGNORES_SEED 1u

/* One parameter's values over a batch (ABI 2): element i is the value at the batch's point i.
 * Every value of a parameter has the same type (a list mixing integers and numbers gives
 * numbers). The arrays are sweep's, valid during the call only. */
typedef struct {
  int type;               /* sweep_value_type */
  const double* number;   /* NUMBER and INTEGER (as doubles, like sweep_value.number); else NULL */
  const int64_t* integer; /* INTEGER; else NULL */
  const char* const* string; /* STRING, NUL-terminated, owned by sweep; else NULL */
} sweep_column;

/* A run of consecutive points of one chunk (ABI 2). */
typedef struct {
  int64_t count;              /* points, at least 1 */
  const sweep_column* params; /* params[j]: the kernel's params[j] over the points */
  const uint64_t* seeds;      /* seeds[i]: point i's seed; NULL with SWEEP_KERNEL_IGNORES_SEED */
} sweep_batch;

/* The bytes of one point's row of an output: its dtype's size times its shape's product. */
static inline size_t sweep_row_bytes(const sweep_array* row) {
  static const size_t kSize[] = {0, 8, 4, 8, 4, 1}; /* by sweep_dtype */
  size_t bytes = row->dtype > 0 && row->dtype <= SWEEP_UINT8 ? kSize[row->dtype] : 0;
  int d;
  for (d = 0; d < row->rank; ++d) bytes *= (size_t)row->shape[d];
  return bytes;
}

typedef struct sweep_kernel {
  uint32_t abi_version; /* SWEEP_KERNEL_ABI of the header the kernel was built with */
  const char* name;
  const char* description;
  const sweep_option_decl* options;
  int n_options;
  const sweep_param_decl* params;
  int n_params;
  const sweep_input_decl* inputs;
  int n_inputs;
  int max_outputs; /* outputs() writes at most this many */

  /* Writes the outputs' declarations into out[0..max_outputs) and their count into *n_out.
   * May reject options (an unstable time step, a size out of range): that is a config error. */
  int (*outputs)(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                 size_t err_size);
  /* inputs[i] corresponds to the kernel's inputs[i]. *state is the kernel's own. */
  int (*init)(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
              size_t err_size);
  /* params[i] corresponds to the kernel's params[i]; outputs[i] to outputs()'s out[i]. */
  int (*compute)(void* state, const sweep_value* params, uint64_t seed, sweep_array* outputs,
                 char* err, size_t err_size);
  void (*finish)(void* state);

  /* ABI 2: the fields below are read only from a kernel whose abi_version is 2 or more; for an
   * ABI 1 plugin sweep takes them as 0 and NULL. */
  uint32_t flags; /* SWEEP_KERNEL_* bits, or 0; read again after init(), which may set
                     SWEEP_KERNEL_IGNORES_SEED in its own table (the Python kernel learns only
                     then whether its function takes a seed) */
  /* Optional (NULL: compute() per point); compute() is still required. Computes batch->count
   * consecutive points of one chunk (about 256 KiB of rows of the widest output). outputs[i]
   * describes one point's row of output i (dtype, rank, shape as outputs() declared it) and points
   * at the first point's row; the rows follow one another, point p's at
   * (char*)outputs[i].data + p * sweep_row_bytes(&outputs[i]). On failure it sets *failed to the
   * index in the batch of the point that failed (the chunk is reported failed at that point);
   * a crash inside the call is reported at the batch's first point. */
  int (*compute_batch)(void* state, const sweep_batch* batch, sweep_array* outputs, int64_t* failed,
                       char* err, size_t err_size);
} sweep_kernel;

/* Units and long names (optional). The CF `units` and `long_name` of a kernel's outputs and
 * parameters, which the output file gives those variables for xarray, NCO and CDO, and which
 * `sweep report` labels its axes and colour scales with. ABI 2's tables have no field for them
 * and growing sweep_output_decl would break every plugin, so they are declared beside the table:
 * a plugin may export `const sweep_variable_info* sweep_kernel_variables(int* count)`
 * (SWEEP_KERNEL_VARIABLES), looked up when it is loaded and ignored when absent, and a built-in
 * kernel defines `<name>_variables` (kernels/builtin/list.h). Entries naming neither an output
 * nor a parameter of the sweep are ignored. A config's `attributes:` overrides them. */
typedef struct {
  const char* name;      /* an output or a parameter of the kernel */
  const char* units;     /* UDUNITS text: "1" for a pure number, "s-1", "m s-1"; or NULL */
  const char* long_name; /* a line saying what it is; or NULL */
} sweep_variable_info;
typedef const sweep_variable_info* (*sweep_kernel_variables_fn)(int* count);
#define SWEEP_KERNEL_VARIABLES "sweep_kernel_variables"

/* The symbol a plugin exports. */
typedef const sweep_kernel* (*sweep_kernel_entry_fn)(void);
#define SWEEP_KERNEL_ENTRY "sweep_kernel_entry"

/* A kernel error whose message starts with this prefix says that the point ran out of time (a
 * program the kernel runs did not finish, say), not that it is wrong: sweep treats it as it treats
 * a chunk over execution.timeout, as transient, retried up to execution.retries times with backoff.
 * Any other error is deterministic and recorded at once. */
#define SWEEP_TIMEOUT_PREFIX "timeout: "

/* Writes a message into a kernel's err buffer and returns 1, so `return sweep_fail(...)` reads
 * naturally. */
static inline int sweep_fail(char* err, size_t err_size, const char* message) {
  if (err_size > 0) {
    strncpy(err, message, err_size - 1);
    err[err_size - 1] = '\0';
  }
  return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* SWEEP_KERNELS_KERNEL_H_ */
