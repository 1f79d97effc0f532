#include "kernels/plugin.h"

#include <dlfcn.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "io/config.h"
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

// The most outputs a plugin may declare: BindKernel() gives outputs() room for max_outputs.
constexpr int kMaxPluginOutputs = 4096;

// What is wrong with a plugin's table (ABI 1 fields: an ABI 1 table is read no further), or "".
std::string TableProblem(const sweep_kernel& k) {
  if (!k.name) return "its kernel has no name (NULL)";
  if (!*k.name) return "its kernel's name is empty";
  const std::string kernel = "kernel `" + std::string(k.name) + "`";
  if (!k.outputs || !k.init || !k.compute)
    return kernel + " lacks one of outputs(), init() and compute()";
  if (k.max_outputs < 1 || k.max_outputs > kMaxPluginOutputs)
    return kernel + " declares max_outputs " + std::to_string(k.max_outputs) + ", not 1 to " +
           std::to_string(kMaxPluginOutputs);
  struct Names {
    const char* what;
    int count;
    std::function<const char*(int)> name;
    bool present;
  };
  const Names lists[] = {
      {"option", k.n_options, [&](int i) { return k.options[i].name; }, k.options != nullptr},
      {"parameter", k.n_params, [&](int i) { return k.params[i].name; }, k.params != nullptr},
      {"input", k.n_inputs, [&](int i) { return k.inputs[i].name; }, k.inputs != nullptr}};
  for (const Names& list : lists) {
    if (list.count < 0 || (list.count > 0 && !list.present))
      return kernel + " declares " + std::to_string(list.count) + " " + list.what +
             "s without their table";
    std::set<std::string> seen;
    for (int i = 0; i < list.count; ++i) {
      const char* name = list.name(i);
      if (!name) return kernel + " declares " + list.what + " " + std::to_string(i) + " (NULL)";
      if (!IsIdentifier(name))
        return kernel + " declares " + list.what + " `" + name +
               "`, not a name (letters, digits and `_`, not first a digit)";
      if (!seen.insert(name).second)
        return kernel + " declares " + list.what + " `" + name + "` twice";
    }
  }
  return "";
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
  const sweep_kernel* table = kernel->abi_version == 1 ? WholeTable(kernel) : kernel;
  const std::string problem = TableProblem(*table);
  if (!problem.empty())
    throw Error("kernel.plugin: plugin `" + path + "`: " + problem, ExitCode::kUsage);
  return table;
}

std::vector<sweep_variable_info> PluginVariables(const std::string& path) {
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);  // loaded already: the same one
  if (!library) return {};
  auto variables =
      reinterpret_cast<sweep_kernel_variables_fn>(dlsym(library, SWEEP_KERNEL_VARIABLES));
  if (!variables) return {};
  int count = 0;
  const sweep_variable_info* table = variables(&count);
  if (!table || count <= 0) return {};
  return std::vector<sweep_variable_info>(table, table + count);
}

}  // namespace sweep
