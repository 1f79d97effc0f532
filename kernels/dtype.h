// The element types of kernels/kernel.h (sweep_dtype) by size and by name, and its values
// (sweep_value) as text.
//
// The names are the ones configs use (`dtype: float32`), the output file records and `sweep
// kernels` prints: float64, float32, int64, int32, uint8. A value that is not a sweep_dtype has
// size 0 and name "?"; a name that is not a dtype's maps to 0, which no sweep_dtype is.
#pragma once

#include <cstddef>
#include <string>

#include "kernels/kernel.h"

namespace sweep {

size_t DtypeSize(int dtype);                 // bytes per element; 0 if unknown
const char* DtypeName(int dtype);            // "float64", ...; "?" if unknown
int DtypeFromName(const std::string& name);  // 0 if unknown

// "2.5", "10", "abc": as a user would type it; a number prints as the shortest text that reads
// back as the same double (so a command kernel's argument round-trips).
std::string ValueText(const sweep_value& v);

}  // namespace sweep
