#include "kernels/dtype.h"

#include <fmt/format.h>

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

}  // namespace sweep
