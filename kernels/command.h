// The command kernel: an external program run once per point, each run in a work directory of
// its own, presented as a sweep_kernel.
//
//   kernel:
//     command: [./sim, input.nml, --rho, "{rho}"]
//     files: {input.nml: templates/input.nml}
//     env: {OMP_NUM_THREADS: "1"}
//     results_file: out.json
//     outputs: {energy: float64, trace: [float64, 100]}
//     workdir: {root: work/, keep: failed}
//
// Templates (kernels/command_template.h): every argument, the text of every file of `files:` and
// every value of `env:` is a template: `{name}` is replaced by the point's value of sweep
// parameter `name`; `{seed}`, `{seed31}`, `{point}`, `{config_dir}` and `{workdir}` as that header
// says; `{{` and `}}` stand for literal braces. The program is never run through a shell: a value
// such as `; rm -rf ~` or `$(id)` reaches it as one literal argument. argv[0] is the program:
// with a `/` it is a path, relative ones resolved against the config's folder, and the program
// gets the resolved absolute path as argv[0] (it runs in another folder, where the relative one
// would mean nothing); without, it is looked up in PATH when the config is bound, so a missing
// program is a config error. Reading the config into a CommandSpec, templates included, is the
// driver's part (driver/command_binding.h); this file is the runtime, which needs nothing above
// kernels/.
//
// Work directories (io/workdirs.h): point i runs in `<root>/point-<i>`, made empty before the
// run (whatever an earlier run of the point left there is removed), with the rendered files in
// it; it is the program's working folder. After the run it is removed, or kept: `keep: failed`
// keeps a failed point's (the default), `always` every point's, `never` none. The default root is
// beside the output, `<output>.work`, and is removed when the last directory in it goes.
//
// The program's streams: its stdout and stderr are saved as they come into its work directory,
// as kStdoutFile and kStderrFile (io/workdirs.h), each capped to its first 64 KiB and its last
// 1 MiB (io/stream_file.h), so a kept directory holds the whole of what a failed point said.
//
// Outputs are read from `results_file` in the work directory when one is given, else from stdout,
// as kernels/command_outputs.h says: one JSON object, `name value...` lines (the last line of a
// name counts) or columns of numbers, among any other lines (a code's log); a declared output
// that is missing fails the point, naming it. They are read only once the program has exited
// with status 0: never from what a program printed before it failed or was killed.
//
// A point fails, with a message naming the program and quoting its streams, when its work
// directory cannot be made or removed, the program cannot start, exits non-zero, dies of a
// signal, writes malformed or missing outputs, writes more than 64 MiB on stdout (when stdout
// holds the outputs) or in its results file, or outlives the per-point limit. The quote holds
// the last lines of stdout and of stderr, each from its last line that says error, fatal,
// exception or abort (in any case) when one does, so that a code's own `ERROR: ...` on stdout is
// not lost behind a launcher's words on stderr; a stream with such a line comes first (stdout
// first when both or neither have one), and the quote is cut to the message's room (about 1 KiB)
// on character boundaries. The limit is execution.timeout less a margin (a tenth, at most 1 s),
// so that the kernel, which can name the program and quote its streams, acts before the driver's
// chunk timer kills the whole worker.
//
// Each run: stdin is /dev/null, no descriptor but 0, 1 and 2 is inherited, the environment is the
// worker's (as it is at the first point) with the variables of `env:` set over it (rendered for
// the point), plus SWEEP_POINT and SWEEP_SEED. The program leads its own process group, which is
// killed when it times out and after it exits (so nothing it started outlives the point), and it
// gets SIGKILL if its worker dies. A worker that is a child subreaper reaps the orphans its
// programs leave (the driver reaps them otherwise: driver/worker_set.h). stdout and stderr are
// read together with poll(), so a program flooding either cannot deadlock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/command_template.h"
#include "kernels/kernel.h"
#include "kernels/program.h"

namespace sweep {

// A variable of `env:`: set for the program, its value rendered for each point.
struct CommandEnv {
  std::string name;
  CommandTemplate value;
};

// Everything the runtime needs, read from a config by driver/command_binding.h.
struct CommandSpec {
  std::string program;  // argv[0] as written: what messages name and what the program sees
  std::string path;     // the executable that runs
  std::vector<CommandTemplate> args;     // argv[1..]
  std::vector<std::string> param_names;  // the kernel's parameters, in order of first use
                                         // (CommandPiece::param indexes them)
  std::vector<CommandOutput> outputs;    // in file order
  double limit_seconds = 0;              // per point; 0: none
  std::vector<CommandFile> files;
  std::vector<CommandEnv> env;  // in config order, set over the worker's environment
  std::string results_file;     // in the work directory; "": the outputs are on stdout
  std::string workdir_root;     // absolute
  // The default root beside the output: never followed through a symbolic link, and removed
  // when empty as the kernel finishes. A root the config names is the user's, and left alone.
  bool workdir_root_is_default = true;
  enum class Keep { kFailed, kAlways, kNever } keep = Keep::kFailed;
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

}  // namespace sweep
