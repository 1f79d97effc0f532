// Program: what the two kernels that run an external program share. The command kernel
// (kernels/command.h) runs it once per point; the persistent kernel (kernels/persistent.h) starts
// it once per worker and streams points to it. Both are built at run time from a config
// (driver/command_binding.h), render templates, run the program in its own process group that
// dies with the driver, and quote its last words in a failure's message.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/process.h"
#include "kernels/command_template.h"
#include "kernels/kernel.h"

namespace sweep {

// A file rendered into a work directory.
struct CommandFile {
  std::string name;  // in the work directory: a relative path without `.` or `..` parts
  CommandTemplate text;
  unsigned mode = 0644;  // permission bits, the template's (a script stays executable)
};

struct CommandOutput {
  std::string name;
  int dtype = 0;               // sweep_dtype
  std::vector<int64_t> shape;  // empty: a scalar; at most SWEEP_MAX_RANK dims are used
};

// A template's text for one point (RenderCommandTemplate, kernels/command_template.h) outside a
// work directory: `params` may be nullptr for a template without kParam pieces, {workdir} is "".
std::string Render(const CommandTemplate& pieces, const sweep_value* params, uint64_t seed,
                   uint64_t point);

// The declarations of `outputs`, whose names point into the CommandOutputs (which must outlive
// them).
std::vector<sweep_output_decl> OutputDecls(const std::vector<CommandOutput>& outputs);

// The text of a message must be one line of valid UTF-8 (the journal stores it as JSON): line
// breaks become " | ", tabs spaces, other control bytes and invalid sequences `?`.
std::string Printable(const std::string& text);

// `message`, then `label` and as much of the tail of `log` (a program's stderr, or stdout) as
// a message of err_size bytes has room for, from a line start when one is near; `message` alone
// when the log is blank.
std::string WithTail(std::string message, const std::string& label, const std::string& log,
                     size_t err_size);

// True when `text` holds nothing but blanks and line breaks.
bool Blank(const std::string& text);

// A pipe, both ends close-on-exec, closed when it goes. -1: failed (errno says why) or closed.
struct Pipe {
  int read = -1, write = -1;
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void CloseRead();
  void CloseWrite();
};

// Reads what the non-blocking `fd` has now onto *text. With keep_tail > 0 only about the last
// keep_tail bytes are kept; with 0 it stops once *text holds more than `limit`. Returns false at
// end of file (or on an error), true while the descriptor may still give more.
bool Drain(int fd, std::string* text, size_t keep_tail, size_t limit);

// Death of the driver. The program has its own process group (so that a timeout can kill all it
// started) and so does not die with its worker's group; its own death signal kills it, but not
// what it started (a script's children). So a worker running programs asks, instead of SIGKILL,
// for a signal whose handler kills the group of the program running now (SetProgramGroup) and then
// the worker. Call it in init(); it does nothing outside a worker (`rerun --inline` computes in
// the driver, whose death signal is not SIGKILL), and is idempotent.
void KillProgramWhenTheDriverDies();
// The process group of the program running now in this process, 0 when none.
void SetProgramGroup(pid_t group);

// Starts the program as ForkExec does (io/process.h) and makes it the one running now
// (SetProgramGroup). The worker's death signal waits from the fork until then, so a driver
// killed while the program starts still takes it and all it started: a loaded machine may not run
// this process again before the program has started children of its own.
// THROWS: as ForkExec.
pid_t StartProgram(const std::string& path, const std::vector<std::string>& argv,
                   const ChildSetup& setup);

// A kernel table made at run time from a config: the command, persistent and Python kernels.
// The C ABI gives outputs() and init() no pointer to their table, so each live one takes one of a
// few dozen slots whose functions call its Outputs() and Init(); compute() and finish() find it
// through their state. A family fills the declarations below, then calls Publish(). Never moved
// once made: the table points into it.
class RuntimeKernel {
 public:
  RuntimeKernel() = default;
  virtual ~RuntimeKernel();  // frees the slot
  RuntimeKernel(const RuntimeKernel&) = delete;
  RuntimeKernel& operator=(const RuntimeKernel&) = delete;

  sweep_kernel table{};
  // What the table points into.
  std::string description;
  std::vector<sweep_param_decl> params;
  std::vector<sweep_input_decl> inputs;
  std::vector<sweep_option_decl> options;
  std::vector<sweep_output_decl> outputs;

  // The kernel's outputs() call: `outputs`, whatever the options (a family whose outputs depend
  // on them overrides it).
  virtual int Outputs(const sweep_options* options, sweep_output_decl* out, int* n_out, char* err,
                      size_t err_size);
  virtual int Init(void** state, const sweep_options* options, const sweep_array* inputs, char* err,
                   size_t err_size) = 0;

  // Takes a slot and fills the table: the ABI version, `name`, the description and declarations
  // above, outputs() and init() calling Outputs() and Init(), `compute` and `finish`; no flags and
  // no compute_batch (a family sets those after). THROWS: Error naming `what` when every slot is
  // taken.
  void Publish(const char* name, const std::string& what, decltype(sweep_kernel::compute) compute,
               decltype(sweep_kernel::finish) finish);

 private:
  int slot_ = -1;
};

}  // namespace sweep
