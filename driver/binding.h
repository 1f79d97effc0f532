// KernelBinding: a kernel tied to one config.
//
// BindKernel() finds the kernel the config names (a built-in, a plugin, the command kernel per
// point or persistent, or the Python kernel) and checks the config against what the kernel
// declares, so that a mistake is a config error at `validate` time, never a failure inside a
// worker:
//   - every option given is declared, of the declared type (an integer is accepted for a number);
//     absent options take their declared defaults;
//   - every parameter the kernel reads is a parameter of the sweep (extra sweep parameters are
//     allowed: they are recorded in /params but not passed);
//   - every input the kernel needs is among `inputs:`, and the kernel accepts nothing undeclared;
//     an input declared with dtype 0 takes any dtype;
//   - outputs() accepts the options and declares at least one output, each named (an identifier,
//     once), of a known dtype and rank, no dimension empty, a point's bytes and all points'
//     within 64 bits; no output takes a name the file gives to something else (`chunks`, the
//     dimension `sample` or `replicate` where it exists, another output's own dimension
//     `<output>_<i>`). A plugin's mistakes name the plugin and the output;
//   - every name under `attributes:` is a parameter, an output, `sample` or `replicate` of this
//     sweep.
// The binding is what a worker needs to call the kernel for a point: the option values in
// declaration order, which sweep parameter feeds each kernel parameter, which config input feeds
// each kernel input, and the output declarations.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/space.h"
#include "io/config.h"
#include "io/inputs.h"
#include "io/output_file.h"
#include "kernels/kernel.h"

namespace sweep {

struct KernelBinding {
  const sweep_kernel* kernel = nullptr;
  std::string name;                        // the kernel's name (for a plugin: its declared name)
  std::vector<sweep_value> option_values;  // in the kernel's declaration order
  std::vector<int> parameter_source;       // kernel parameter i <- Space parameter index
  std::vector<int> input_source;           // kernel input i <- index into Config::inputs
  std::vector<sweep_output_decl> outputs;
  // The CF text attributes of the output file's variables, by name: the units and long names the
  // kernel declares (kernels/kernel.h) for the sweep's outputs and parameters, each replaced by
  // the config's `attributes:`.
  std::map<std::string, VariableAttributes> attributes;
  // The names of each output's own dimensions, by output: a command kernel's `dims:` where the
  // config gives them; an empty list for an output without, whose dimensions are named
  // <output>_0, <output>_1, ... (OutputDimNames). Kernel ABI 2 has no place for a built-in or a
  // plugin to name them: that needs a field of a later ABI.
  std::vector<std::vector<std::string>> output_dims;

  sweep_options options() const {
    return sweep_options{option_values.data(), int(option_values.size())};
  }

  // Owns the strings that option_values and outputs point into; shared so copies stay valid.
  std::shared_ptr<std::vector<std::string>> strings;
  // Keeps a plugin or a command kernel alive as long as the binding.
  std::shared_ptr<void> owner;
  // The point's index, which the C ABI does not pass: the command kernel needs it for {point}
  // and SWEEP_POINT. When set, the caller of compute() calls it with the same state and the
  // point's index just before every compute(). nullptr for every other kernel.
  void (*set_point)(void* state, uint64_t point) = nullptr;
  // Where the kernel's inputs are (a file and an offset), which the C ABI does not pass either:
  // the persistent kernel hands them to its program, which maps them itself. When set, the
  // caller of init() calls it with the same state right after, with the kernel's inputs in its
  // declaration order. nullptr for every other kernel.
  void (*place_inputs)(void* state, const std::vector<PublishedInput>& inputs) = nullptr;
};

// THROWS: ConfigError naming file:line:col and the key path of every mismatch.
KernelBinding BindKernel(const Config& config, const Space& space);

// A file the config's kernel is made of, besides the config and the inputs: a run never replaces
// one with its output, whatever --force says (driver/run_prepare.cc).
struct KernelFile {
  std::string role;  // what it is to the sweep, for messages: "its program (kernel.command[0])"
  std::string path;  // as the run resolves it
};

// Every file the kernel of `config` is made of: a plugin's library, a command's program (when it
// resolves), the scripts its arguments name (ScriptOfArgument, driver/command_binding.h) and each
// of its `files:` templates, a Python model's file. A kernel family with a file of its own (a
// model file, a persistent program) adds it here, and --force leaves it alone.
std::vector<KernelFile> KernelFiles(const Config& config);

// What a kernel can check of an input before it is mapped. A declaration of dtype 0 takes any
// dtype, of rank -1 any rank (the Python kernel's inputs).
struct InputShape {
  int dtype = 0;  // sweep_dtype
  std::vector<int64_t> shape;
};

// Checks every input the kernel reads against its declaration (dtype, rank); shapes[i] is
// Config::inputs[i]'s. THROWS: ConfigError naming each input's location and key.
void CheckInputsAgainstKernel(const Config& config, const KernelBinding& binding,
                              const std::vector<InputShape>& shapes);

// The bytes one point of this output takes; nullopt when that overflows 64 bits.
std::optional<uint64_t> CheckedOutputBytesPerPoint(const sweep_output_decl& output);
// The same for an output BindKernel() accepted, which never overflows (UINT64_MAX if it did).
uint64_t OutputBytesPerPoint(const sweep_output_decl& output);

// The names of output o's own dimensions in the output file: binding.output_dims[o] when given,
// else <output>_0, <output>_1, ...
std::vector<std::string> OutputDimNames(const KernelBinding& binding, size_t o);

}  // namespace sweep
