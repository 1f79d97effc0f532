// The built-in kernels, one line each: SWEEP_BUILTIN(name) for the kernel that
// kernels/builtin/<name>.cc defines as `const sweep_kernel* <name>_kernel()`, named `name` in
// YAML. Adding a built-in kernel is adding its file and its line here.
//
// An X-macro list: only kernels/registry.cc includes it, defining SWEEP_BUILTIN first (once to
// declare the functions, once to fill the table). No self-registration by static objects: a
// linker drops those from a static library when nothing refers to their file.
SWEEP_BUILTIN(array_sum)
SWEEP_BUILTIN(blur)
SWEEP_BUILTIN(faulty)
SWEEP_BUILTIN(fill)
SWEEP_BUILTIN(heat2d)
SWEEP_BUILTIN(ising2d)
SWEEP_BUILTIN(lorenz)
SWEEP_BUILTIN(option_mc)
SWEEP_BUILTIN(ridge)
SWEEP_BUILTIN(square)
