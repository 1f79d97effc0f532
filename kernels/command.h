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
// program is a config error).
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

#include <string>
#include <vector>

#include "driver/space.h"
#include "io/config.h"
#include "kernels/binding.h"
#include "kernels/kernel.h"

namespace sweep {

// Builds the command kernel of config.kernel and sets binding->kernel (a table with no options
// and no inputs, whose parameters are the sweep parameters the arguments name, in order of first
// use, and whose outputs are `outputs:` in file order), binding->owner (which keeps the table
// alive) and binding->set_point. Everything derives from the config, so a spawned worker that
// binds the same config text gets the same kernel.
// THROWS: ConfigError naming file:line:col and key path: `outputs:` absent, an unknown
// placeholder, an unmatched brace, a program that does not exist or is not executable.
void BindCommandKernel(const Config& config, const Space& space, KernelBinding* binding);

// Reads a program's stdout (either form above) into one point's output views; outputs[i] holds
// decls[i]. Returns an empty string on success, else what is wrong.
std::string ReadCommandOutputs(const std::string& stdout_text,
                               const std::vector<sweep_output_decl>& decls, sweep_array* outputs);

}  // namespace sweep
