#include "kernels/plugin.h"

#include <dlfcn.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "io/error.h"

namespace sweep {
namespace {

// The fields an ABI 1 table has: those before ABI 2's `flags`.
constexpr size_t kAbi1TableBytes = offsetof(sweep_kernel, flags);

// An ABI 1 plugin's table is shorter than sweep_kernel: reading ABI 2's fields from it would read
// whatever follows it in the library. So its ABI 1 fields are copied into a whole table whose
// ABI 2 fields are 0 and NULL, made once per table and kept, like the library, until exit.
const sweep_kernel* WholeTable(const sweep_kernel* abi1) {
  static std::mutex mutex;
  static std::map<const sweep_kernel*, std::unique_ptr<sweep_kernel>> copies;
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<sweep_kernel>& copy = copies[abi1];
  if (!copy) {
    copy = std::make_unique<sweep_kernel>();
    std::memcpy(copy.get(), abi1, kAbi1TableBytes);
  }
  return copy.get();
}

}  // namespace

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
  if (kernel->abi_version < SWEEP_KERNEL_ABI_OLDEST || kernel->abi_version > SWEEP_KERNEL_ABI) {
    throw Error("kernel.plugin: " + path + " was built for kernel ABI " +
                    std::to_string(kernel->abi_version) + ", but this sweep has kernel ABI " +
                    std::to_string(SWEEP_KERNEL_ABI) + "; rebuild it against this kernels/kernel.h",
                ExitCode::kUsage);
  }
  return kernel->abi_version == 1 ? WholeTable(kernel) : kernel;
}

}  // namespace sweep
