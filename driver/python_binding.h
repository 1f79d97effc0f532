// Binding the Python kernel (kernels/python.h) to a config: reads `kernel.python`, `options`,
// `outputs` and `batch` against the sweep's parameters and inputs into a PythonSpec, then makes
// the kernel. Nothing here runs the user's code or needs an interpreter.
#pragma once

#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/space.h"
#include "io/config.h"
#include "kernels/python.h"

namespace sweep {

// The spec of config.kernel: every parameter of the sweep and every input of the config, the
// options typed by their values, the declared outputs.
// THROWS: ConfigError naming file:line:col and key path: a sweep built without Python, a model
// file that cannot be read, `outputs:` absent, an option named like a parameter, or a parameter
// or option named like a keyword the kernel passes itself (`seed`, `inputs`, `state`, and `out`
// with `batch: true`).
PythonSpec ReadPythonSpec(const Config& config, const Space& space);

// Makes the Python kernel of config.kernel and sets binding->kernel, binding->owner,
// binding->set_point and binding->output_dims (the outputs' `dims:`). THROWS: as ReadPythonSpec;
// Error when too many are alive.
void BindPythonKernel(const Config& config, const Space& space, KernelBinding* binding);

// The Python files whose bytes a Python kernel's results depend on, for the fingerprint: the
// model, then every module it imports (`import a.b`, `from a import b`, at any indentation, one
// line each) that is a file under the model's folder or the config's folder (`a.py`,
// `a/__init__.py`, `a/b.py`), and those modules' own imports, each once, sorted. Modules found
// elsewhere (the standard library, site-packages) are not the config's and are left out, as is an
// import spread over several lines past its first. A file that cannot be read is listed, so its
// fingerprint changes when it appears.
std::vector<std::string> PythonSourceFiles(const Config& config);

}  // namespace sweep
