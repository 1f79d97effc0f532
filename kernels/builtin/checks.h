// What the built-in kernels share beyond kernels/kernel.h: a printf-style error writer and the
// checks of options, parameters and inputs that every built-in words the same way, so one
// mistake reads the same whichever kernel reports it ("option out must be in [1, 4096], got 0").
// Plugins never include this header: they are written against kernels/kernel.h alone.
//
// Each function returns 0 when the check passes; otherwise it writes the message (truncated to
// err_size - 1 characters, NUL-terminated, no newline) into err and returns 1, so a kernel
// function reads `if (RequireAtLeast(...)) return 1;` or `return Fail(...);`. `what` names the
// value as the message should: "option steps" for an option, "alpha" for a parameter.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/kernel.h"

namespace sweep {

// Writes the printf-formatted message into err; returns 1.
__attribute__((format(printf, 3, 4))) int Fail(char* err, size_t err_size, const char* format, ...);

// "parameter <name> must be a number, got "<value>"" for the first of params[0..n) that is a
// string; decls[i] names params[i].
int RequireNumbers(const sweep_param_decl* decls, int n, const sweep_value* params, char* err,
                   size_t err_size);
// The same for all of a kernel's declared parameters.
template <int N>
int RequireNumbers(const sweep_param_decl (&decls)[N], const sweep_value* params, char* err,
                   size_t err_size) {
  return RequireNumbers(decls, N, params, err, err_size);
}

// The batched form (kernel.h, compute_batch): a column's values all have one type, so a string
// column fails at the batch's first point (*failed = 0), with the message RequireNumbers() gives
// for that point's values.
int RequireNumberColumns(const sweep_param_decl* decls, int n, const sweep_batch& batch,
                         int64_t* failed, char* err, size_t err_size);
template <int N>
int RequireNumberColumns(const sweep_param_decl (&decls)[N], const sweep_batch& batch,
                         int64_t* failed, char* err, size_t err_size) {
  return RequireNumberColumns(decls, N, batch, failed, err, err_size);
}

// Point i of a batch as compute() takes it: its n parameter values into values[0..n), and each
// of the n_outputs batch rows (outputs, kernel.h) moved to its row into rows[0..n_outputs).
void PointOfBatch(const sweep_batch& batch, int n, int64_t i, const sweep_array* outputs,
                  int n_outputs, sweep_value* values, sweep_array* rows);

// "<what> must be in [lo, hi], got <value>".
int RequireInRange(const char* what, int64_t value, int64_t lo, int64_t hi, char* err,
                   size_t err_size);
// "<what> must be >= lo, got <value>".
int RequireAtLeast(const char* what, int64_t value, int64_t lo, char* err, size_t err_size);
// "<what> must be > 0, got <value>" unless value is finite and > 0 (so NaN fails).
int RequirePositive(const char* what, double value, char* err, size_t err_size);
// "<what> must be >= 0, got <value>" unless value is finite and >= 0 (so NaN fails).
int RequireNonNegative(const char* what, double value, char* err, size_t err_size);

// "input <name> must be a float64 array of rank <rank>, got rank <r>".
int RequireFloat64Array(const char* name, const sweep_array& array, int rank, char* err,
                        size_t err_size);
// A float64 array of rank 2 with at least one row and one column ("input <name> is empty
// (<ny> x <nx>)" otherwise).
int RequireGrid(const char* name, const sweep_array& array, char* err, size_t err_size);

}  // namespace sweep
