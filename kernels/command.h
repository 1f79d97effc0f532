// The command kernel: an external program run once per point, presented as a sweep_kernel.
//
//   kernel:
//     command: [./sim, --rho, "{rho}", --seed, "{seed}"]
//     outputs: {energy: float64, trace: [float64, 100]}
//
// Arguments: every argument is a template; `{name}` is replaced, inside that one argument, by
// the point's value of sweep parameter `name` (integers in decimal, numbers as the shortest text
// that reads back as the same double, strings verbatim), `{seed}` by the point's seed and
// `{point}` by its index (both decimal); `{{` and `}}` stand for literal braces. The program is
// never run through a shell: a value such as `; rm -rf ~` or `$(id)` reaches it as one literal
// argument. argv[0] is the program: with a `/` it is a path, relative ones resolved against the
// config's folder; without, it is looked up in PATH (when the config is bound, so a missing
// program is a config error). Reading the config into a CommandSpec is the driver's part
// (driver/command_binding.h); this file is the runtime, which needs nothing above kernels/.
//
// The program's stdout holds its outputs, in one of two forms:
//   - one JSON object: {"energy": 1.5, "trace": [0.1, 0.2, ...]} (an array output may be nested
//     in C order or flat; null stands for NaN);
//   - lines `name value...`: `energy 1.5`, `trace 0.1 0.2 ...` (blank lines are skipped).
// Every declared output must appear exactly once with exactly its number of elements; a name
// that is not declared is an error too (a misspelt output, or chatter that belongs on stderr).
// Integer outputs take integral values within their dtype's range.
//
// A point fails, with a message naming the program and ending in the last ~1 KiB of its stderr,
// when the program cannot start, exits non-zero, dies of a signal, prints malformed or missing
// outputs, writes more than 64 MiB on stdout, or outlives the per-point limit. The limit is
// execution.timeout less a margin (a tenth, at most 1 s), so that the kernel, which can name the
// program and keep its stderr, acts before the driver's chunk timer kills the whole worker.
//
// Each run: stdin is /dev/null, no descriptor but 0, 1 and 2 is inherited, the environment is the
// worker's plus SWEEP_POINT and SWEEP_SEED. The program leads its own process group, which is
// killed when it times out and after it exits (so nothing it started outlives the point), and it
// gets SIGKILL if its worker dies. stdout and stderr are read together with poll(), so a program
// flooding either cannot deadlock; only the last 4 KiB of stderr are kept.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

// One piece of an argument template, already parsed.
struct CommandArgPiece {
  enum class Kind { kText, kParam, kSeed, kPoint };
  Kind kind = Kind::kText;
  std::string text;  // kText: literal text, braces already unescaped
  int param = -1;    // kParam: index into CommandSpec::param_names
};
using CommandArg = std::vector<CommandArgPiece>;

struct CommandOutput {
  std::string name;
  int dtype = 0;               // sweep_dtype
  std::vector<int64_t> shape;  // empty: a scalar; at most SWEEP_MAX_RANK dims are used
};

// Everything the runtime needs, read from a config by driver/command_binding.h.
struct CommandSpec {
  std::string program;           // argv[0] as written: what messages name and what the program sees
  std::string path;              // the executable that runs
  std::vector<CommandArg> args;  // argv[1..]
  std::vector<std::string> param_names;  // the kernel's parameters, in order of first use
  std::vector<CommandOutput> outputs;    // in file order
  double limit_seconds = 0;              // per point; 0: none
};

// A command kernel made from a spec: the table (no options, no inputs; parameters and outputs
// as the spec says), the set_point hook of KernelBinding, and what keeps the table alive.
struct CommandKernelTable {
  const sweep_kernel* kernel = nullptr;
  void (*set_point)(void* state, uint64_t point) = nullptr;
  std::shared_ptr<void> owner;
};

// THROWS: Error when more than 32 command kernels are alive at once in this process.
CommandKernelTable MakeCommandKernel(CommandSpec spec);

// Reads a program's stdout (either form above) into one point's output views; outputs[i] holds
// decls[i]. Returns an empty string on success, else what is wrong.
std::string ReadCommandOutputs(const std::string& stdout_text,
                               const std::vector<sweep_output_decl>& decls, sweep_array* outputs);

}  // namespace sweep
