#include "kernels/registry.h"

#include <algorithm>
#include <cstring>

namespace sweep {

const sweep_kernel* array_sum_kernel();
const sweep_kernel* blur_kernel();
const sweep_kernel* faulty_kernel();
const sweep_kernel* fill_kernel();
const sweep_kernel* heat2d_kernel();
const sweep_kernel* ising2d_kernel();
const sweep_kernel* lorenz_kernel();
const sweep_kernel* option_mc_kernel();
const sweep_kernel* ridge_kernel();
const sweep_kernel* square_kernel();

namespace {

// One line per built-in kernel (STYLE.md: a kernel registers itself in one line).
// clang-format off
constexpr const sweep_kernel* (*kBuiltins[])() = {
    array_sum_kernel,
    blur_kernel,
    faulty_kernel,
    fill_kernel,
    heat2d_kernel,
    ising2d_kernel,
    lorenz_kernel,
    option_mc_kernel,
    ridge_kernel,
    square_kernel,
};
// clang-format on

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
