#include "driver/command_binding.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "io/error.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

// Splits one argument into pieces. Returns what is wrong, or "".
std::string ParseArgument(const std::string& arg, const Space& space, CommandSpec* k,
                          CommandArg* pieces) {
  std::string text;
  const auto flush = [&] {
    if (!text.empty())
      pieces->push_back(CommandArgPiece{CommandArgPiece::Kind::kText, std::move(text), -1});
    text.clear();
  };
  for (size_t i = 0; i < arg.size(); ++i) {
    const char c = arg[i];
    if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {
      text += c;
      ++i;
      continue;
    }
    if (c == '}') return "a lone `}` (write `}}` for a literal brace)";
    if (c != '{') {
      text += c;
      continue;
    }
    const size_t close = arg.find('}', i + 1);
    if (close == std::string::npos) return "a `{` without its `}` (write `{{` for a literal brace)";
    const std::string name = arg.substr(i + 1, close - i - 1);
    i = close;
    flush();
    if (name == "seed") {
      pieces->push_back(CommandArgPiece{CommandArgPiece::Kind::kSeed, "", -1});
    } else if (name == "point") {
      pieces->push_back(CommandArgPiece{CommandArgPiece::Kind::kPoint, "", -1});
    } else if (space.FindParameter(name) >= 0) {
      auto it = std::find(k->param_names.begin(), k->param_names.end(), name);
      if (it == k->param_names.end()) it = k->param_names.insert(it, name);
      pieces->push_back(
          CommandArgPiece{CommandArgPiece::Kind::kParam, "", int(it - k->param_names.begin())});
    } else {
      std::string known;
      for (const std::string& p : space.parameter_names()) known += "{" + p + "}, ";
      return "unknown placeholder `{" + name + "}` (placeholders: " + known +
             "{seed}, {point}; `{{` and `}}` for literal braces)";
    }
  }
  flush();
  return "";
}

// The executable argv[0] names, or "" with *why set.
std::string ResolveProgram(const std::string& program, const std::string& folder,
                           std::string* why) {
  const auto executable = [](const std::string& path) {
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
  };
  if (program.find('/') != std::string::npos) {
    fs::path p(program);
    if (p.is_relative()) p = fs::path(folder) / p;
    const std::string path = p.lexically_normal().string();
    if (executable(path)) return path;
    *why = "`" + program + "` (" + path + ") " +
           (access(path.c_str(), F_OK) == 0 ? "is not an executable file" : "does not exist");
    return "";
  }
  const char* env_path = std::getenv("PATH");
  const std::string search = env_path ? env_path : "/usr/local/bin:/usr/bin:/bin";
  for (size_t begin = 0; begin <= search.size();) {
    size_t end = search.find(':', begin);
    if (end == std::string::npos) end = search.size();
    const std::string dir = end > begin ? search.substr(begin, end - begin) : ".";
    const std::string path = (fs::path(dir) / program).lexically_normal().string();
    if (executable(path)) return fs::absolute(path).string();
    begin = end + 1;
  }
  *why = "`" + program +
         "` is not found in PATH (write a path with a `/` for a program beside "
         "the config, such as `./" +
         program + "`)";
  return "";
}

}  // namespace

CommandSpec ReadCommandSpec(const Config& config, const Space& space) {
  const KernelSpec& kernel = config.kernel;
  std::vector<Diagnostic> errors;
  const auto fail = [&](std::string key, std::string message) {
    errors.push_back(Diagnostic{kernel.where, std::move(key), std::move(message)});
  };
  CommandSpec spec;
  spec.program = kernel.command.at(0);
  std::string why;
  spec.path = ResolveProgram(spec.program, config.folder, &why);
  if (spec.path.empty()) fail("kernel.command[0]", why);
  for (size_t i = 1; i < kernel.command.size(); ++i) {
    CommandArg pieces;
    const std::string error = ParseArgument(kernel.command[i], space, &spec, &pieces);
    if (!error.empty()) fail("kernel.command[" + std::to_string(i) + "]", error);
    spec.args.push_back(std::move(pieces));
  }
  if (kernel.command_outputs.empty()) {
    fail("kernel.outputs",
         "a command kernel needs `outputs:`, the name and dtype (or [dtype, dims...]) of each "
         "value its program prints, such as {energy: float64, trace: [float64, 100]}");
  }
  for (const KernelSpec::CommandOutput& o : kernel.command_outputs)
    spec.outputs.push_back(CommandOutput{o.name, DtypeFromName(o.dtype), o.shape});
  if (!errors.empty()) throw ConfigError(errors);
  const double timeout = config.execution.timeout_seconds;
  spec.limit_seconds = timeout > 0 ? timeout - std::min(1.0, timeout / 10) : 0;
  return spec;
}

void BindCommandKernel(const Config& config, const Space& space, KernelBinding* binding) {
  CommandKernelTable made = MakeCommandKernel(ReadCommandSpec(config, space));
  binding->kernel = made.kernel;
  binding->set_point = made.set_point;
  binding->owner = std::move(made.owner);
}

}  // namespace sweep
