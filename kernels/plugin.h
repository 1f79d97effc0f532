// Plugins: user kernels in shared libraries, against kernels/kernel.h.
//
// A plugin exports `const sweep_kernel* sweep_kernel_entry(void)` (SWEEP_KERNEL_ENTRY). The
// library is opened with RTLD_NOW | RTLD_LOCAL, so a missing symbol is an error at load time,
// not a crash in the middle of a run, and is never closed: a kernel's static data and any
// threads it started stay valid until the process exits.
#pragma once

#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

// Returns the plugin's table; for a plugin built for ABI 1, a copy of it whose ABI 2 fields are 0
// and NULL (it runs per point), since its own table ends before them.
// THROWS: Error (exit code 2) when the library does not load, lacks the entry symbol, returns
// nullptr, was built for an ABI outside [SWEEP_KERNEL_ABI_OLDEST, SWEEP_KERNEL_ABI] (the
// message names both versions), or its table is not one sweep can use: a kernel name, options,
// parameters and inputs each named (an identifier, once), outputs(), init() and compute(),
// max_outputs from 1 to 4096. The outputs it declares are checked when bound (driver/binding.h).
const sweep_kernel* LoadPlugin(const std::string& path);

// The units and long names the plugin at `path` declares with SWEEP_KERNEL_VARIABLES
// (kernels/kernel.h); empty when it exports none or does not load. Its strings live as long as
// the process (a plugin is never closed).
std::vector<sweep_variable_info> PluginVariables(const std::string& path);

}  // namespace sweep
