// The one error model of sweep_core.
//
// Every layer reports a failure by throwing sweep::Error: a message that already says
// where (file:line:col and key path for configs; chunk, point and parameters for runs)
// and the exit code that `main` maps it to. `main` catches everything, prints one line
// `sweep: <message>` to stderr and exits with code(). Nothing else decides exit codes.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace sweep {

// The documented exit codes of DESIGN.md ("Command line").
enum class ExitCode : int {
  kOk = 0,
  kFailure = 1,       // anything else: I/O errors, internal errors
  kUsage = 2,         // bad usage, config or input file; nothing was written
  kChunksFailed = 3,  // the run finished but some chunks failed (they are recorded)
  kLocked = 4,        // another run holds the output
  kInterrupted = 130  // SIGINT / SIGTERM
};

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message, ExitCode code = ExitCode::kFailure)
      : std::runtime_error(std::move(message)), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

// Where in a config file a diagnostic points. line and column are 1-based; 0 when unknown
// (for example an error about the file as a whole).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

// One problem found in a config: "file:line:col: key.path: message".
struct Diagnostic {
  SourceLocation where;
  std::string key_path;  // dotted, with [i] for sequence items: "parameters.rho.linspace[2]"
  std::string message;

  std::string ToString() const;
};

// A config that failed validation: every diagnostic found, not only the first.
// what() is all diagnostics, one a line. Always ExitCode::kUsage.
class ConfigError : public Error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace sweep
