// The element types of kernels/kernel.h (sweep_dtype) by size and by name, and its values
// (sweep_value) as text.
//
// The names are the ones configs use (`dtype: float32`), the output file records and `sweep
// kernels` prints: float64, float32, int64, int32, uint8. A value that is not a sweep_dtype has
// size 0 and name "?"; a name that is not a dtype's maps to 0, which no sweep_dtype is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/kernel.h"

namespace sweep {

size_t DtypeSize(int dtype);                 // bytes per element; 0 if unknown
const char* DtypeName(int dtype);            // "float64", ...; "?" if unknown
int DtypeFromName(const std::string& name);  // 0 if unknown

// "2.5", "10", "abc": as a user would type it; a number prints as the shortest text that reads
// back as the same double (so a command kernel's argument round-trips).
std::string ValueText(const sweep_value& v);

// What a kernel's output rows hold before it writes them (kernels/kernel.h), and what a point not
// computed yet held in an output file of format sweep/2: NaN for floats; the netCDF default fill
// for integers (int64 -9223372036854775806, int32 -2147483647, uint8 255).
// Writes the missing value into `elements` elements of `dtype` at `data`.
void FillMissing(void* data, int dtype, uint64_t elements);
// Writes one missing value of `dtype` (DtypeSize(dtype) bytes) at `out`.
void MissingValue(int dtype, void* out);

// netCDF's default fill value of `dtype` (NC_FILL_DOUBLE and NC_FILL_FLOAT 9.9692099683868690e+36,
// and the integers' as above): what a point not computed yet holds in an output file since format
// sweep/3, and the _FillValue it declares. NCO and CDO take it for missing, where they take a NaN
// for a number; xarray and netCDF4-python read it as missing (NaN) all the same.
void NetcdfFillValue(int dtype, void* out);

// Copies the `size` bytes at `value` into `elements` consecutive elements at `data`.
void FillElements(void* data, const void* value, size_t size, uint64_t elements);

}  // namespace sweep
