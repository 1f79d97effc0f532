#include "kernels/registry.h"

#include <algorithm>
#include <cstring>

namespace sweep {

#define SWEEP_BUILTIN(name, revision) const sweep_kernel* name##_kernel();
#include "kernels/builtin/list.h"
#undef SWEEP_BUILTIN

namespace {

struct Builtin {
  const sweep_kernel* (*kernel)();
  int revision;
};

constexpr Builtin kBuiltins[] = {
#define SWEEP_BUILTIN(name, revision) {name##_kernel, revision},
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

std::vector<const sweep_kernel*> BuiltinKernels() {
  std::vector<const sweep_kernel*> kernels;
  for (const Builtin& entry : kBuiltins) kernels.push_back(entry.kernel());
  std::sort(kernels.begin(), kernels.end(), [](const sweep_kernel* a, const sweep_kernel* b) {
    return std::strcmp(a->name, b->name) < 0;
  });
  return kernels;
}

}  // namespace sweep
