#include "driver/command_binding.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>

#include "io/error.h"
#include "io/file_bytes.h"
#include "io/process.h"
#include "kernels/command_template.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

// What the templates of `spec` may name: the sweep's parameters (each added to
// spec->param_names on first use) and the config's folder.
TemplateNames NamesFor(const Config& config, const Space& space, CommandSpec* spec) {
  TemplateNames names;
  names.parameter_names = space.parameter_names();
  names.config_dir = config.folder;
  if (config.kernel.persistent) {
    names.once_per_program =
        "a persistent program is started once per worker, with arguments, files and `env:` of "
        "plain text; each point's values reach it on stdin (stream/1). Write `{{` and `}}` for "
        "literal braces";
  }
  names.parameter = [&space, spec](const std::string& name) {
    if (space.FindParameter(name) < 0) return -1;
    auto it = std::find(spec->param_names.begin(), spec->param_names.end(), name);
    if (it == spec->param_names.end()) it = spec->param_names.insert(it, name);
    return int(it - spec->param_names.begin());
  };
  return names;
}

// Where a template given in the config is: the start of its value there, or (for a block scalar
// or a value --set gave) where its key is.
SourceLocation LocationOf(const std::vector<SourceLocation>& where, size_t i,
                          const SourceLocation& fallback) {
  return i < where.size() ? where[i] : fallback;
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
  const auto fail = [&](const SourceLocation& where, std::string key, std::string message) {
    errors.push_back(Diagnostic{where, std::move(key), std::move(message)});
  };
  CommandSpec spec;
  const TemplateNames names = NamesFor(config, space, &spec);
  spec.program = kernel.command.at(0);
  std::string why;
  spec.path = ResolveCommandProgram(config, &why);
  if (spec.path.empty())
    fail(LocationOf(kernel.command_where, 0, kernel.where), "kernel.command[0]", why);
  for (size_t i = 1; i < kernel.command.size(); ++i) {
    CommandTemplate pieces;
    if (const std::optional<TemplateError> error =
            ParseCommandTemplate(kernel.command[i], names, &pieces)) {
      fail(LocationOf(kernel.command_where, i, kernel.where),
           "kernel.command[" + std::to_string(i) + "]", error->message);
    }
    spec.args.push_back(std::move(pieces));
  }
  for (const KernelSpec::CommandFile& f : kernel.command_files) {
    const std::string key = "kernel.files." + f.name;
    CommandFile file;
    file.name = f.name;
    std::string text;
    const std::string unreadable = ReadTemplate(f.template_path, &text, &file.mode);
    if (!unreadable.empty()) {
      fail(f.where, key, unreadable);
      continue;
    }
    // Blamed where the user must edit: the template's line and column.
    if (const std::optional<TemplateError> error = ParseCommandTemplate(text, names, &file.text)) {
      fail(LocationIn(f.template_path, text, error->offset), key, error->message);
      continue;
    }
    spec.files.push_back(std::move(file));
  }
  for (const KernelSpec::CommandEnv& e : kernel.command_env) {
    CommandEnv variable;
    variable.name = e.name;
    if (const std::optional<TemplateError> error =
            ParseCommandTemplate(e.value, names, &variable.value)) {
      fail(e.where, "kernel.env." + e.name, error->message);
      continue;
    }
    spec.env.push_back(std::move(variable));
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
    fail(kernel.where, "kernel.outputs",
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
    if (const std::optional<std::string> path = ScriptOfArgument(config, i))
      files.emplace_back(command[i], *path);
  }
  return files;
}

std::optional<std::string> ScriptOfArgument(const Config& config, size_t i) {
  // Only an argument that is a path whatever the point: text, and {config_dir}.
  std::string path = config.kernel.command.at(i);
  for (size_t at; (at = path.find("{config_dir}")) != std::string::npos;)
    path.replace(at, 12, config.folder);
  struct stat st {};
  if (path.empty() || path[0] != '/' || path.find_first_of("{}") != std::string::npos ||
      stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return std::nullopt;
  return path;
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
  for (const KernelSpec::CommandOutput& o : config.kernel.command_outputs)
    binding->output_dims.push_back(o.dims);
}

std::vector<Diagnostic> CommandWarnings(const Config& config) {
  std::vector<Diagnostic> warnings;
  const KernelSpec& kernel = config.kernel;
  // What the work directory holds when the program starts: the rendered files.
  const auto in_workdir = [&](const std::string& path) {
    const std::string clean = fs::path(path).lexically_normal().string();
    for (const KernelSpec::CommandFile& f : kernel.command_files)
      if (clean == f.name || clean.rfind(f.name + "/", 0) == 0) return true;
    return clean == kernel.results_file;
  };
  for (size_t i = 1; i < kernel.command.size(); ++i) {
    std::string arg = kernel.command[i];
    // `--input=data/in.dat`: the part after the `=` of an option.
    const size_t equals = arg.find('=');
    if (arg.rfind('-', 0) == 0 && equals != std::string::npos) arg.erase(0, equals + 1);
    if (arg.empty() || arg[0] == '/' || arg.find_first_of("{}") != std::string::npos) continue;
    const fs::path beside = fs::path(config.folder) / arg;
    std::error_code error;
    const bool exists = fs::exists(beside, error) && !error;
    if (!exists || arg == "." || arg == ".." || in_workdir(arg)) continue;
    warnings.push_back(Diagnostic{
        LocationOf(kernel.command_where, i, kernel.where),
        "kernel.command[" + std::to_string(i) + "]",
        "`" + arg +
            "` is beside the config, but the program runs in each point's work directory, "
            "where it is not: write `{config_dir}/" +
            arg + "` (or an absolute path)"});
  }
  return warnings;
}

void PrintCommandWarnings(const Config& config) {
  if (config.kernel.command.empty()) return;
  for (const Diagnostic& d : CommandWarnings(config))
    std::fprintf(stderr, "sweep: warning: %s\n", d.ToString().c_str());
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
  for (const KernelSpec::CommandOutput& o : config.kernel.command_outputs)
    binding->output_dims.push_back(o.dims);
}

}  // namespace sweep
