/* The one C ABI every sweep kernel is written against: built-in kernels and plugins alike.
 *
 * A kernel is a `sweep_kernel` table of declarations and three functions:
 *   outputs(): given the kernel's options, the outputs it writes per point (name, dtype, shape);
 *   init():    once per worker, with the options and read-only views of the shared inputs;
 *   compute(): once per point, with the point's parameter values (in the order the kernel
 *              declares them), the point's seed, and writable views of that point's output rows;
 *   finish():  once per worker, to free what init() made.
 * A plugin is a shared library exporting `const sweep_kernel* sweep_kernel_entry(void)`.
 *
 * Contract:
 *  - Every function returns 0 on success; on failure it returns non-zero and writes a
 *    NUL-terminated message (no newline) into err[0..err_size).
 *  - compute() may be called from one thread at a time per init()ed state; a worker calls it for
 *    consecutive points of a chunk. It must draw random numbers only from `seed` (DESIGN.md
 *    "Determinism"): the same (params, seed) must give the same bytes.
 *  - Input views are mapped read-only: writing to them faults and fails the chunk. They stay
 *    mapped from init() until after finish(), so a kernel may keep pointers into them.
 *  - Output views are the point's rows, pre-filled with NaN (floats) or 0 (integers); they are
 *    written to the output file after compute() returns.
 *  - Option values arrive already checked against the declared type; absent options carry the
 *    declared default.
 *
 * Versioning: a change of any struct below bumps SWEEP_KERNEL_ABI. The loader refuses a kernel
 * whose abi_version differs and names both versions.
 */
#ifndef SWEEP_KERNELS_KERNEL_H_
#define SWEEP_KERNELS_KERNEL_H_

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SWEEP_KERNEL_ABI 1
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
  int dtype; /* sweep_dtype */
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
} sweep_kernel;

/* The symbol a plugin exports. */
typedef const sweep_kernel* (*sweep_kernel_entry_fn)(void);
#define SWEEP_KERNEL_ENTRY "sweep_kernel_entry"

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
