#include "kernels/plugin.h"

#include <dlfcn.h>

#include "io/error.h"

namespace sweep {

const sweep_kernel* LoadPlugin(const std::string& path) {
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library)
    throw Error("kernel.plugin: cannot load " + path + ": " + dlerror(), ExitCode::kUsage);
  auto entry = reinterpret_cast<sweep_kernel_entry_fn>(dlsym(library, SWEEP_KERNEL_ENTRY));
  if (!entry) {
    throw Error("kernel.plugin: " + path + " does not export " + SWEEP_KERNEL_ENTRY + "()",
                ExitCode::kUsage);
  }
  const sweep_kernel* kernel = entry();
  if (!kernel)
    throw Error("kernel.plugin: " + path + ": " + SWEEP_KERNEL_ENTRY + "() returned NULL",
                ExitCode::kUsage);
  // abi_version is the first field in every version of the ABI, so it is safe to read here.
  if (kernel->abi_version != SWEEP_KERNEL_ABI) {
    throw Error("kernel.plugin: " + path + " was built for kernel ABI " +
                    std::to_string(kernel->abi_version) + ", but this sweep has kernel ABI " +
                    std::to_string(SWEEP_KERNEL_ABI) + "; rebuild it against this kernels/kernel.h",
                ExitCode::kUsage);
  }
  return kernel;
}

}  // namespace sweep
