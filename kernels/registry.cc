#include "kernels/registry.h"

#include <algorithm>
#include <cstring>

namespace sweep {

#define SWEEP_BUILTIN(name, revision)  \
  const sweep_kernel* name##_kernel(); \
  const sweep_variable_info* name##_variables(int* count);
#include "kernels/builtin/list.h"
#undef SWEEP_BUILTIN

namespace {

struct Builtin {
  const sweep_kernel* (*kernel)();
  int revision;
  sweep_kernel_variables_fn variables;
};

constexpr Builtin kBuiltins[] = {
#define SWEEP_BUILTIN(name, revision) {name##_kernel, revision, name##_variables},
#include "kernels/builtin/list.h"
#undef SWEEP_BUILTIN
};

}  // namespace

const sweep_kernel* FindBuiltinKernel(const std::string& name) {
  for (const Builtin& entry : kBuiltins) {
    const sweep_kernel* kernel = entry.kernel();
    if (name == kernel->name) return kernel;
  }
  return nullptr;
}

int BuiltinRevision(const std::string& name) {
  for (const Builtin& entry : kBuiltins)
    if (name == entry.kernel()->name) return entry.revision;
  return 0;
}

std::vector<sweep_variable_info> BuiltinVariables(const std::string& name) {
  for (const Builtin& entry : kBuiltins) {
    if (name != entry.kernel()->name) continue;
    int count = 0;
    const sweep_variable_info* table = entry.variables(&count);
    return std::vector<sweep_variable_info>(table, table + count);
  }
  return {};
}

std::vector<const sweep_kernel*> BuiltinKernels() {
  std::vector<const sweep_kernel*> kernels;
  for (const Builtin& entry : kBuiltins) kernels.push_back(entry.kernel());
  std::sort(kernels.begin(), kernels.end(), [](const sweep_kernel* a, const sweep_kernel* b) {
    return std::strcmp(a->name, b->name) < 0;
  });
  return kernels;
}

}  // namespace sweep
