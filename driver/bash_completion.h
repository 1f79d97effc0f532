// BashCompletion: the bash completion script of sweep's command line, generated from the CLI11
// declarations themselves, so it offers exactly the commands and options that parse.
//
// What the script completes, at the word under the cursor:
//   - before a command: the commands (and the top level's options after a `-`);
//   - after a command, a word starting with `-`: that command's options;
//   - an option's value (also written `--option=value`) or a positional: by its CLI11 type name,
//     which --help shows too:
//       `...{a,b}`   (a CLI::IsMember check) the words a and b
//       CONFIG       YAML files (*.yaml, *.yml)
//       <x>.h5       HDF5 files (*.h5)
//       FILE         any file
//       KERNEL       the built-in kernel names, or a plugin (*.so)
//       COMMAND      the commands
//       anything else (a count, a key=value) nothing;
//     folders are offered wherever files are, to walk into.
// Hidden commands (CLI11 group "") are left out. The script needs bash alone, not the
// bash-completion package: it defines `_sweep` and registers it with `complete -F _sweep sweep`,
// and reads COMP_WORDS and COMP_CWORD only, so a test can call `_sweep` after setting them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace sweep {

// `kernels`: what KERNEL completes to.
std::string BashCompletion(const CLI::App& app, const std::vector<std::string>& kernels);

}  // namespace sweep
