#include "kernels/registry.h"

#include <algorithm>
#include <cstring>

namespace sweep {

#define SWEEP_BUILTIN(name) const sweep_kernel* name##_kernel();
#include "kernels/builtin/list.h"
#undef SWEEP_BUILTIN

namespace {

constexpr const sweep_kernel* (*kBuiltins[])() = {
#define SWEEP_BUILTIN(name) name##_kernel,
#include "kernels/builtin/list.h"
#undef SWEEP_BUILTIN
};

}  // namespace

const sweep_kernel* FindBuiltinKernel(const std::string& name) {
  for (auto entry : kBuiltins) {
    const sweep_kernel* kernel = entry();
    if (name == kernel->name) return kernel;
  }
  return nullptr;
}

std::vector<const sweep_kernel*> BuiltinKernels() {
  std::vector<const sweep_kernel*> kernels;
  for (auto entry : kBuiltins) kernels.push_back(entry());
  std::sort(kernels.begin(), kernels.end(), [](const sweep_kernel* a, const sweep_kernel* b) {
    return std::strcmp(a->name, b->name) < 0;
  });
  return kernels;
}

}  // namespace sweep
