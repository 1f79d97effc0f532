// Binding the command kernel (kernels/command.h), and the persistent kernel (kernels/persistent.h)
// that runs the same kind of program once per worker, to a config: reads `kernel.command`, the
// templates of `kernel.files`, `kernel.env`, `kernel.outputs`, `results_file` and `workdir`
// against the sweep's parameters into a CommandSpec, then makes the kernel.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "driver/binding.h"
#include "driver/space.h"
#include "io/config.h"
#include "kernels/command.h"
#include "kernels/persistent.h"

namespace sweep {

// The spec of config.kernel: the program resolved (relative to the config's folder, or in
// PATH), every argument, every template file (read now, with its permission bits) and every
// `env:` value parsed into pieces (kernels/command_template.h, {config_dir} standing for
// config.folder), the parameters they name in order of first use, the outputs in file order, the
// per-point limit (execution.timeout less a tenth, at most 1 s) and the work directories' root.
// THROWS: ConfigError naming file:line:col and key path, each at the key that is wrong (an
// argument at its own place in the config, `kernel.command[2]`; a template file at its own line
// and column, with the key `kernel.files.<name>`; an `env:` value at its place): `outputs:`
// absent, an unknown placeholder, a format spec, a placeholder after a `$`, an unmatched brace,
// a template that cannot be read, a program that does not exist or is not executable; for a
// persistent program (`kernel.persistent`), any placeholder but {config_dir}, since its
// arguments, files and `env:` are rendered once per program.
CommandSpec ReadCommandSpec(const Config& config, const Space& space);

// What a command kernel's results depend on besides its templates (driver/fingerprint.h): the
// program's executable (as ReadCommandSpec resolves it), and every argument that names an existing
// file by an absolute path the same for every point, such as the script an interpreter runs
// (`[python3, "{config_dir}/model.py"]`). Each as (the argument as written, its absolute path);
// none for another kind of kernel, and nothing for a program that is not found.
std::vector<std::pair<std::string, std::string>> ProgramFiles(const Config& config);

// The file config.kernel.command[i] (i >= 1) names, absolute, when it names an existing regular
// file by a path that is the same for every point (text, and {config_dir}); nullopt otherwise.
std::optional<std::string> ScriptOfArgument(const Config& config, size_t i);

// The executable config.kernel.command[0] names, as a run resolves it: with a `/`, a path relative
// to the config's folder; without, the first executable of that name in PATH (absolute). "" with
// *why set when there is none.
std::string ResolveCommandProgram(const Config& config, std::string* why);

// The folder the points' work directories go in: `kernel.workdir.root`, else beside the output,
// `<output.path>.work`.
std::string CommandWorkdirRoot(const Config& config);

// Makes the command kernel of config.kernel and sets binding->kernel, binding->owner (which
// keeps the table alive), binding->set_point and binding->output_dims (the outputs' `dims:`).
// Everything derives from the config, so a spawned worker that binds the same config (rebuilt from
// its description, io/config_json.h) gets the same kernel. THROWS: as ReadCommandSpec; Error when
// too many command kernels are alive.
void BindCommandKernel(const Config& config, const Space& space, KernelBinding* binding);

// The same for `kernel.persistent`: the persistent kernel, which also sets binding->place_inputs.
// Its parameters are every parameter of the sweep, its options those the config gives (of the
// types given), its inputs every input of the config (of any dtype and rank).
// THROWS: as ReadCommandSpec; Error when too many kernels made at run time are alive.
void BindPersistentKernel(const Config& config, const Space& space, KernelBinding* binding);

// What is probably a mistake but may not be, for `validate`, `plan` and `run` to print as
// warnings: an argument that is a relative path to a file or folder beside the config
// (`[python3, programs/sim.py]`), which the program, run in the point's work directory, will not
// find there (a `files:` name or the results_file is there, and is not warned about). The
// message says to write `{config_dir}/programs/sim.py`.
std::vector<Diagnostic> CommandWarnings(const Config& config);
// Prints each of CommandWarnings(config) to stderr, `sweep: warning: <file:line:col: key:
// message>`; nothing for a kernel that is not a command.
void PrintCommandWarnings(const Config& config);

}  // namespace sweep
