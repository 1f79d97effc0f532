// The built-in kernels, by the name they have in YAML (`kernel: {name: lorenz}`).
//
// A built-in kernel is one file kernels/builtin/<name>.cc defining
// `const sweep_kernel* <name>_kernel()` against kernels/kernel.h (plus the shared checks of
// kernels/builtin/checks.h), and one line `SWEEP_BUILTIN(<name>)` in kernels/builtin/list.h.
// Plugins and the command kernel are found elsewhere (kernels/plugin.h, kernels/command.h); they
// present the same sweep_kernel table.
#pragma once

#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

// nullptr if no built-in has that name.
const sweep_kernel* FindBuiltinKernel(const std::string& name);
// The revision of what a built-in computes (kernels/builtin/list.h), from 1; 0 if none has that
// name.
int BuiltinRevision(const std::string& name);
// The units and long names a built-in declares (kernels/kernel.h); empty if none has that name.
std::vector<sweep_variable_info> BuiltinVariables(const std::string& name);
// Every built-in, sorted by name.
std::vector<const sweep_kernel*> BuiltinKernels();

}  // namespace sweep
