// The Python source of the embedded kernel's helpers (kernels/python/helpers.cc): loading the
// model, reading signatures, storing outputs, narrowing a failed batch, describing exceptions.
#pragma once

namespace sweep::python {

extern const char kHelpersSource[];

}  // namespace sweep::python
