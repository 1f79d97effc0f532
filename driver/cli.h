// The command line of DESIGN.md ("Command line"): parses argv, runs the command, and maps every
// sweep::Error to its exit code and one stderr line `sweep: <where>: <what>`.
#pragma once

namespace sweep {

// Returns the process exit code. Never throws.
int RunCommandLine(int argc, char** argv);

}  // namespace sweep
