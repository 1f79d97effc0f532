#include "kernels/builtin/checks.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>

namespace sweep {

int Fail(char* err, size_t err_size, const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::vsnprintf(err, err_size, format, args);
  va_end(args);
  return 1;
}

int RequireNumbers(const sweep_param_decl* decls, int n, const sweep_value* params, char* err,
                   size_t err_size) {
  for (int i = 0; i < n; ++i) {
    if (params[i].type == SWEEP_VALUE_STRING)
      return Fail(err, err_size, "parameter %s must be a number, got \"%s\"", decls[i].name,
                  params[i].string);
  }
  return 0;
}

int RequireNumberColumns(const sweep_param_decl* decls, int n, const sweep_batch& batch,
                         int64_t* failed, char* err, size_t err_size) {
  for (int j = 0; j < n; ++j) {
    if (batch.params[j].type != SWEEP_VALUE_STRING) continue;
    *failed = 0;
    return Fail(err, err_size, "parameter %s must be a number, got \"%s\"", decls[j].name,
                batch.params[j].string[0]);
  }
  return 0;
}

void PointOfBatch(const sweep_batch& batch, int n, int64_t i, const sweep_array* outputs,
                  int n_outputs, sweep_value* values, sweep_array* rows) {
  for (int j = 0; j < n; ++j) {
    const sweep_column& c = batch.params[j];
    sweep_value v{};
    v.type = c.type;
    if (c.string) v.string = c.string[i];
    if (c.number) v.number = c.number[i];
    if (c.integer) v.integer = c.integer[i];
    values[j] = v;
  }
  for (int o = 0; o < n_outputs; ++o) {
    rows[o] = outputs[o];
    rows[o].data = static_cast<char*>(outputs[o].data) + size_t(i) * sweep_row_bytes(&outputs[o]);
  }
}

int RequireInRange(const char* what, int64_t value, int64_t lo, int64_t hi, char* err,
                   size_t err_size) {
  if (value >= lo && value <= hi) return 0;
  return Fail(err, err_size, "%s must be in [%lld, %lld], got %lld", what,
              static_cast<long long>(lo), static_cast<long long>(hi),
              static_cast<long long>(value));
}

int RequireAtLeast(const char* what, int64_t value, int64_t lo, char* err, size_t err_size) {
  if (value >= lo) return 0;
  return Fail(err, err_size, "%s must be >= %lld, got %lld", what, static_cast<long long>(lo),
              static_cast<long long>(value));
}

int RequirePositive(const char* what, double value, char* err, size_t err_size) {
  if (value > 0 && std::isfinite(value)) return 0;
  return Fail(err, err_size, "%s must be > 0, got %g", what, value);
}

int RequireNonNegative(const char* what, double value, char* err, size_t err_size) {
  if (value >= 0 && std::isfinite(value)) return 0;
  return Fail(err, err_size, "%s must be >= 0, got %g", what, value);
}

int RequireFloat64Array(const char* name, const sweep_array& array, int rank, char* err,
                        size_t err_size) {
  if (array.dtype == SWEEP_FLOAT64 && array.rank == rank) return 0;
  return Fail(err, err_size, "input %s must be a float64 array of rank %d, got rank %d", name, rank,
              array.rank);
}

int RequireGrid(const char* name, const sweep_array& array, char* err, size_t err_size) {
  if (RequireFloat64Array(name, array, 2, err, err_size)) return 1;
  if (array.shape[0] >= 1 && array.shape[1] >= 1) return 0;
  return Fail(err, err_size, "input %s is empty (%lld x %lld)", name,
              static_cast<long long>(array.shape[0]), static_cast<long long>(array.shape[1]));
}

}  // namespace sweep
