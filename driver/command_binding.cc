#include "driver/command_binding.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "io/error.h"
#include "io/file_bytes.h"
#include "io/process.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

// A problem in a template: what, and the offset of the brace to blame.
struct TemplateError {
  std::string message;
  size_t offset = 0;
};

// Splits a template (an argument, or a file's text) into pieces, adding the parameters it
// names to spec->param_names. Returns what is wrong, or nullopt. A persistent program's
// templates are rendered once per program, so they may name no point's value.
std::optional<TemplateError> ParseTemplate(const std::string& text, const Space& space,
                                           const std::string& config_dir, bool persistent,
                                           CommandSpec* spec, CommandTemplate* pieces) {
  std::string literal;
  const auto flush = [&] {
    if (!literal.empty())
      pieces->push_back(CommandPiece{CommandPiece::Kind::kText, std::move(literal), -1});
    literal.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
      continue;
    }
    if (c == '}') return TemplateError{"a lone `}` (write `}}` for a literal brace)", i};
    if (c != '{') {
      literal += c;
      continue;
    }
    const size_t close = text.find_first_of("{}\n", i + 1);
    if (close == std::string::npos || text[close] != '}')
      return TemplateError{"a `{` without its `}` (write `{{` for a literal brace)", i};
    const std::string name = text.substr(i + 1, close - i - 1);
    if (name == "config_dir") {  // the same for every point: text
      literal += config_dir;
      i = close;
      continue;
    }
    flush();
    if (persistent) {
      return TemplateError{"`{" + name +
                               "}`: a persistent program is started once per worker, with "
                               "arguments and files of plain text; each point's values reach it "
                               "on stdin (stream/1). Write `{{` and `}}` for literal braces",
                           i};
    }
    if (name == "seed") {
      pieces->push_back(CommandPiece{CommandPiece::Kind::kSeed, "", -1});
    } else if (name == "point") {
      pieces->push_back(CommandPiece{CommandPiece::Kind::kPoint, "", -1});
    } else if (space.FindParameter(name) >= 0) {
      auto it = std::find(spec->param_names.begin(), spec->param_names.end(), name);
      if (it == spec->param_names.end()) it = spec->param_names.insert(it, name);
      pieces->push_back(
          CommandPiece{CommandPiece::Kind::kParam, "", int(it - spec->param_names.begin())});
    } else {
      std::string known;
      for (const std::string& p : space.parameter_names()) known += "{" + p + "}, ";
      return TemplateError{"unknown placeholder `{" + name + "}` (placeholders: " + known +
                               "{seed}, {point}, {config_dir}; `{{` and `}}` for literal braces)",
                           i};
    }
    i = close;
  }
  flush();
  return std::nullopt;
}

// Where `offset` of a text read from `file` is, 1-based.
SourceLocation LocationIn(const std::string& file, const std::string& text, size_t offset) {
  SourceLocation where{file, 1, 1};
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++where.line;
      where.column = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      ++where.column;  // a character, not a UTF-8 continuation byte
    }
  }
  return where;
}

// The largest template read: far above any input file of a simulation code.
constexpr uint64_t kMaxTemplateBytes = uint64_t{16} << 20;

// A template file's text and permission bits. Returns what is wrong, or "".
std::string ReadTemplate(const std::string& path, std::string* text, unsigned* mode) {
  const ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  struct stat st {};
  if (!fd.valid() || fstat(fd.get(), &st) != 0)
    return "cannot read the template " + path + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return "the template " + path + " is not a regular file";
  if (uint64_t(st.st_size) > kMaxTemplateBytes)
    return "the template " + path + " is over the limit of 16 MiB";
  text->assign(size_t(st.st_size), '\0');
  try {
    ReadBytesAt(fd.get(), text->data(), text->size(), 0, "read " + path);
  } catch (const Error& e) {
    return e.what();
  }
  *mode = unsigned(st.st_mode & 0777);
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
  spec.path = ResolveCommandProgram(config, &why);
  if (spec.path.empty()) fail("kernel.command[0]", why);
  for (size_t i = 1; i < kernel.command.size(); ++i) {
    CommandTemplate pieces;
    if (const std::optional<TemplateError> error = ParseTemplate(
            kernel.command[i], space, config.folder, kernel.persistent, &spec, &pieces))
      fail("kernel.command[" + std::to_string(i) + "]", error->message);
    spec.args.push_back(std::move(pieces));
  }
  for (const KernelSpec::CommandFile& f : kernel.command_files) {
    const std::string key = "kernel.files." + f.name;
    CommandFile file;
    file.name = f.name;
    std::string text;
    const std::string unreadable = ReadTemplate(f.template_path, &text, &file.mode);
    if (!unreadable.empty()) {
      errors.push_back(Diagnostic{f.where, key, unreadable});
      continue;
    }
    // Blamed where the user must edit: the template's line and column.
    if (const std::optional<TemplateError> error =
            ParseTemplate(text, space, config.folder, kernel.persistent, &spec, &file.text)) {
      errors.push_back(
          Diagnostic{LocationIn(f.template_path, text, error->offset), key, error->message});
      continue;
    }
    spec.files.push_back(std::move(file));
  }
  spec.results_file = kernel.results_file;
  spec.workdir_root = CommandWorkdirRoot(config);
  spec.workdir_root_is_default = kernel.workdir.root.empty();
  switch (kernel.workdir.keep) {
    case KernelSpec::Workdir::Keep::kFailed:
      spec.keep = CommandSpec::Keep::kFailed;
      break;
    case KernelSpec::Workdir::Keep::kAlways:
      spec.keep = CommandSpec::Keep::kAlways;
      break;
    case KernelSpec::Workdir::Keep::kNever:
      spec.keep = CommandSpec::Keep::kNever;
      break;
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

std::vector<std::pair<std::string, std::string>> ProgramFiles(const Config& config) {
  std::vector<std::pair<std::string, std::string>> files;
  const std::vector<std::string>& command = config.kernel.command;
  if (command.empty()) return files;
  std::string why;
  const std::string program = ResolveProgram(command[0], config.folder, &why);
  if (!program.empty()) files.emplace_back(command[0], program);
  for (size_t i = 1; i < command.size(); ++i) {
    // Only an argument that is a path whatever the point: text, and {config_dir}.
    std::string path = command[i];
    for (size_t at; (at = path.find("{config_dir}")) != std::string::npos;)
      path.replace(at, 12, config.folder);
    struct stat st {};
    if (path.empty() || path[0] != '/' || path.find_first_of("{}") != std::string::npos ||
        stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      continue;
    files.emplace_back(command[i], path);
  }
  return files;
}

std::string ResolveCommandProgram(const Config& config, std::string* why) {
  return ResolveProgram(config.kernel.command.at(0), config.folder, why);
}

std::string CommandWorkdirRoot(const Config& config) {
  const std::string& root = config.kernel.workdir.root;
  return root.empty() ? config.output.path + ".work" : root;
}

void BindCommandKernel(const Config& config, const Space& space, KernelBinding* binding) {
  CommandKernelTable made = MakeCommandKernel(ReadCommandSpec(config, space));
  binding->kernel = made.kernel;
  binding->set_point = made.set_point;
  binding->owner = std::move(made.owner);
}

void BindPersistentKernel(const Config& config, const Space& space, KernelBinding* binding) {
  PersistentSpec spec;
  spec.command = ReadCommandSpec(config, space);
  spec.max_points = config.kernel.max_points;
  spec.parameters = space.parameter_names();
  for (const auto& option : config.kernel.options) {
    const Value::Type type = option.second.type;
    spec.options.push_back({option.first, type == Value::Type::kInteger  ? SWEEP_VALUE_INTEGER
                                          : type == Value::Type::kString ? SWEEP_VALUE_STRING
                                                                         : SWEEP_VALUE_NUMBER});
  }
  for (const InputSpec& input : config.inputs) spec.inputs.push_back(input.name);
  PersistentKernelTable made = MakePersistentKernel(std::move(spec));
  binding->kernel = made.kernel;
  binding->set_point = made.set_point;
  binding->place_inputs = made.place_inputs;
  binding->owner = std::move(made.owner);
}

}  // namespace sweep
