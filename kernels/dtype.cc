#include "kernels/dtype.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace sweep {

size_t DtypeSize(int dtype) {
  switch (dtype) {
    case SWEEP_FLOAT64:
    case SWEEP_INT64:
      return 8;
    case SWEEP_FLOAT32:
    case SWEEP_INT32:
      return 4;
    case SWEEP_UINT8:
      return 1;
  }
  return 0;
}

const char* DtypeName(int dtype) {
  switch (dtype) {
    case SWEEP_FLOAT64:
      return "float64";
    case SWEEP_FLOAT32:
      return "float32";
    case SWEEP_INT64:
      return "int64";
    case SWEEP_INT32:
      return "int32";
    case SWEEP_UINT8:
      return "uint8";
  }
  return "?";
}

int DtypeFromName(const std::string& name) {
  for (int d : {SWEEP_FLOAT64, SWEEP_FLOAT32, SWEEP_INT64, SWEEP_INT32, SWEEP_UINT8})
    if (name == DtypeName(d)) return d;
  return 0;
}

std::string ValueText(const sweep_value& v) {
  switch (v.type) {
    case SWEEP_VALUE_INTEGER:
      return std::to_string(v.integer);
    case SWEEP_VALUE_STRING:
      return v.string ? v.string : "";
    default:
      return fmt::format("{}", v.number);
  }
}

void MissingValue(int dtype, void* out) {
  switch (dtype) {
    case SWEEP_FLOAT64: {
      const double v = std::numeric_limits<double>::quiet_NaN();
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case SWEEP_FLOAT32: {
      const float v = std::numeric_limits<float>::quiet_NaN();
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case SWEEP_INT64: {
      const int64_t v = -9223372036854775806LL;
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case SWEEP_INT32: {
      const int32_t v = -2147483647;
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case SWEEP_UINT8:
      *static_cast<uint8_t*>(out) = 255;
      break;
  }
}

void NetcdfFillValue(int dtype, void* out) {
  switch (dtype) {
    case SWEEP_FLOAT64: {
      const double v = 9.9692099683868690e+36;
      std::memcpy(out, &v, sizeof v);
      break;
    }
    case SWEEP_FLOAT32: {
      const float v = 9.96920996838686905e+36f;
      std::memcpy(out, &v, sizeof v);
      break;
    }
    default:
      MissingValue(dtype, out);  // the integers' missing values are netCDF's already
  }
}

void FillElements(void* data, const void* value, size_t size, uint64_t elements) {
  char* out = static_cast<char*>(data);
  if (elements == 0 || size == 0) return;
  std::memcpy(out, value, size);
  // Doubling copies of what is filled so far: log2(elements) calls at memory speed, where a copy
  // per element (a call each, its size unknown to the compiler) cost a worker a fifth of its time
  // on cheap kernels.
  const uint64_t bytes = elements * size;
  for (uint64_t filled = size; filled < bytes; filled *= 2)
    std::memcpy(out + filled, out, std::min(filled, bytes - filled));
}

void FillMissing(void* data, int dtype, uint64_t elements) {
  char value[8];
  MissingValue(dtype, value);
  FillElements(data, value, DtypeSize(dtype), elements);
}

}  // namespace sweep
