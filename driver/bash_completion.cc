#include "driver/bash_completion.h"

#include <fmt/format.h>

namespace sweep {
namespace {

// Every name of an option as typed: `-o`, `--output`.
std::vector<std::string> OptionNames(const CLI::Option& option) {
  std::vector<std::string> names;
  for (const std::string& s : option.get_snames()) names.push_back("-" + s);
  for (const std::string& l : option.get_lnames()) names.push_back("--" + l);
  return names;
}

std::string Joined(const std::vector<std::string>& words, const char* separator) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : separator) + w;
  return text;
}

// A word inside single quotes, for a case pattern or an echo.
std::string Quoted(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::vector<const CLI::App*> VisibleCommands(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App* command) { return !command->get_group().empty(); });
}

// The case arms of one command ("" for the top level): its options, the types of the values its
// options take, and the types of its positionals in order.
struct CommandArms {
  std::string options, option_types, positional_types;
};

CommandArms ArmsOf(const CLI::App& command, const std::string& key) {
  CommandArms arms;
  std::vector<std::string> all;
  int positional = 0;
  for (const CLI::Option* option : command.get_options()) {
    if (option->get_positional()) {
      arms.positional_types +=
          fmt::format("    {}) echo {};;\n", Quoted(key + " " + std::to_string(positional++)),
                      Quoted(option->get_type_name()));
      continue;
    }
    const std::vector<std::string> names = OptionNames(*option);
    all.insert(all.end(), names.begin(), names.end());
    if (option->get_expected_max() == 0) continue;  // a flag
    std::vector<std::string> patterns;
    for (const std::string& name : names) patterns.push_back(Quoted(key + " " + name));
    arms.option_types +=
        fmt::format("    {}) echo {};;\n", Joined(patterns, "|"), Quoted(option->get_type_name()));
  }
  arms.options = fmt::format("    {}) echo {};;\n", key.empty() ? "''" : Quoted(key),
                             Quoted(Joined(all, " ")));
  return arms;
}

// The parts of the script that do not depend on the command line.
constexpr const char* kFunctions = R"bash(
# Completes a value of type $1 (see _sweep_option_type) for the word $2.
_sweep_complete_type() {
  local type=$1 cur=$2
  case $type in
    *'{'*'}')
      type=${type##*\{}
      type=${type%\}}
      COMPREPLY=($(compgen -W "${type//,/ }" -- "$cur"))
      ;;
    CONFIG) _sweep_files "$cur" yaml yml ;;
    *.h5) _sweep_files "$cur" h5 ;;
    FILE) _sweep_files "$cur" ;;
    KERNEL)
      COMPREPLY=($(compgen -W "$_sweep_kernels" -- "$cur"))
      _sweep_files "$cur" so
      ;;
    COMMAND) COMPREPLY=($(compgen -W "$_sweep_commands" -- "$cur")) ;;
  esac
}

# Appends to COMPREPLY the folders and the files ending in .EXT for each EXT after the word $1
# (any file without one).
_sweep_files() {
  local cur=$1 ext IFS=$'\n'
  shift
  # Quotes names and marks folders when readline called us; outside completion it only fails.
  compopt -o filenames 2>/dev/null
  if (($# == 0)); then
    COMPREPLY+=($(compgen -f -- "$cur"))
    return 0
  fi
  COMPREPLY+=($(compgen -d -- "$cur"))
  for ext; do
    COMPREPLY+=($(compgen -f -X "!*.$ext" -- "$cur"))
  done
}

_sweep() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev="" command="" type="" word
  local -i i skip=0 positionals=0
  COMPREPLY=()
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  # bash splits `--format=cs` at the `=`: the option is the word before it.
  if [[ $cur == "=" ]]; then
    cur=""
  elif [[ $prev == "=" ]] && ((COMP_CWORD >= 2)); then
    prev=${COMP_WORDS[COMP_CWORD - 2]}
  fi
  # The command is the first word that is not an option; after it, count the positionals
  # before the cursor, skipping the values of options.
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=${COMP_WORDS[i]}
    if [[ $word == "=" ]]; then
      skip=1
      continue
    fi
    if ((skip)); then
      skip=0
      continue
    fi
    if [[ $word == -* ]]; then
      _sweep_option_type "$command" "$word" >/dev/null && skip=1
      continue
    fi
    if [[ -z $command ]]; then
      command=$word
    else
      positionals+=1
    fi
  done
  if [[ $prev == -* ]] && type=$(_sweep_option_type "$command" "$prev"); then
    _sweep_complete_type "$type" "$cur"
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_sweep_options "$command")" -- "$cur"))
  elif [[ -z $command ]]; then
    COMPREPLY=($(compgen -W "$_sweep_commands" -- "$cur"))
  elif type=$(_sweep_positional_type "$command" "$positionals"); then
    _sweep_complete_type "$type" "$cur"
  fi
  return 0
}

complete -F _sweep sweep
)bash";

}  // namespace

std::string BashCompletion(const CLI::App& app, const std::vector<std::string>& kernels) {
  std::vector<std::string> names;
  CommandArms all = ArmsOf(app, "");
  for (const CLI::App* command : VisibleCommands(app)) {
    names.push_back(command->get_name());
    const CommandArms arms = ArmsOf(*command, command->get_name());
    all.options += arms.options;
    all.option_types += arms.option_types;
    all.positional_types += arms.positional_types;
  }
  std::string script =
      "# bash completion for sweep, generated by `sweep completion` from its command line.\n"
      "# `source` it, or let bash-completion find it: `cmake --install` puts it in\n"
      "# share/bash-completion/completions/sweep.\n\n";
  script += "_sweep_commands=" + Quoted(Joined(names, " ")) + "\n";
  script += "_sweep_kernels=" + Quoted(Joined(kernels, " ")) + "\n\n";
  script += "# The options of command $1 (\"\" before any).\n_sweep_options() {\n  case $1 in\n" +
            all.options + "  esac\n}\n\n";
  script +=
      "# The type of the value that option $2 of command $1 takes (as --help shows it); fails for "
      "a\n# flag or an unknown option.\n_sweep_option_type() {\n  case \"$1 $2\" in\n" +
      all.option_types + "    *) return 1 ;;\n  esac\n}\n\n";
  script +=
      "# The type of positional $2 (from 0) of command $1; fails past the last.\n"
      "_sweep_positional_type() {\n  case \"$1 $2\" in\n" +
      all.positional_types + "    *) return 1 ;;\n  esac\n}\n";
  return script + kFunctions;
}

}  // namespace sweep
