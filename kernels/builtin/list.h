// The built-in kernels, one line each: SWEEP_BUILTIN(name, revision) for the kernel that
// kernels/builtin/<name>.cc defines as `const sweep_kernel* <name>_kernel()`, named `name` in
// YAML, and `const sweep_variable_info* <name>_variables(int* count)`, the units and long names of
// its outputs and parameters (kernels/kernel.h). Adding a built-in kernel is adding its file and
// its line here, at revision 1.
//
// The revision counts changes to what the kernel computes, down to the last bit: raise it with
// any change that gives other bytes for some point (a new summation order, say). The output's
// fingerprint records it, so a resume of an output an earlier revision wrote refuses rather than
// mix the two (driver/fingerprint.h). A change that keeps every bit (speed, messages) keeps it.
//
// An X-macro list: only kernels/registry.cc includes it, defining SWEEP_BUILTIN first (once to
// declare the functions, once to fill the table). No self-registration by static objects: a
// linker drops those from a static library when nothing refers to their file.
SWEEP_BUILTIN(array_sum, 2)  // 2: sixteen-lane sums, whose last bits differ from one sum
SWEEP_BUILTIN(blur, 1)
SWEEP_BUILTIN(faulty, 1)
SWEEP_BUILTIN(fill, 1)
SWEEP_BUILTIN(heat2d, 1)
SWEEP_BUILTIN(ising2d, 1)
SWEEP_BUILTIN(lorenz, 1)
SWEEP_BUILTIN(option_mc, 1)
SWEEP_BUILTIN(ridge, 1)
SWEEP_BUILTIN(square, 1)
