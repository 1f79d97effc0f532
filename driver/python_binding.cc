#include "driver/python_binding.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "io/error.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

// The keywords the kernel passes besides parameters and options (kernels/python/library.h).
std::vector<std::string> ReservedKeywords(bool batch) {
  std::vector<std::string> words = {"seed", "inputs", "state"};
  if (batch) words.push_back("out");
  return words;
}

int ValueType(const Value& value) {
  switch (value.type) {
    case Value::Type::kInteger:
      return SWEEP_VALUE_INTEGER;
    case Value::Type::kString:
      return SWEEP_VALUE_STRING;
    case Value::Type::kNumber:
      break;
  }
  return SWEEP_VALUE_NUMBER;
}

// What is wrong with the model file, or "".
std::string ModelProblem(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "cannot read " + path + ": " + std::strerror(errno);
  if (!S_ISREG(st.st_mode)) return path + " is not a file";
  if (access(path.c_str(), R_OK) != 0) return "cannot read " + path + ": " + std::strerror(errno);
  return "";
}

bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// The dotted module names a line of Python imports: `import a.b as c, d` gives a.b and d;
// `from a.b import c, d` gives a.b, a.b.c and a.b.d (c may be a submodule); a relative import
// (`from . import x`) gives nothing.
std::vector<std::string> ImportedNames(std::string line) {
  const size_t hash = line.find('#');
  if (hash != std::string::npos) line.erase(hash);
  std::replace(line.begin(), line.end(), ',', ' ');
  std::replace(line.begin(), line.end(), '(', ' ');
  std::replace(line.begin(), line.end(), ')', ' ');
  std::istringstream words(line);
  std::string first;
  words >> first;
  std::vector<std::string> names;
  const auto dotted = [](const std::string& w) {
    return !w.empty() && w[0] != '.' &&
           std::all_of(w.begin(), w.end(), [](char c) { return IsNameChar(c) || c == '.'; });
  };
  if (first == "import") {
    std::string word, previous;
    while (words >> word) {
      if (word != "as" && previous != "as" && dotted(word)) names.push_back(word);
      previous = word;
    }
  } else if (first == "from") {
    std::string module, keyword, word, previous;
    words >> module >> keyword;
    if (keyword != "import" || !dotted(module)) return names;
    names.push_back(module);
    while (words >> word) {
      if (word != "as" && previous != "as" && word != "*" && dotted(word))
        names.push_back(module + "." + word);
      previous = word;
    }
  }
  return names;
}

// The files under `folders` that module `dotted` and its parent packages are.
std::vector<std::string> ModuleFiles(const std::string& dotted,
                                     const std::vector<std::string>& folders) {
  std::vector<std::string> files;
  for (const std::string& folder : folders) {
    fs::path at = folder;
    size_t begin = 0;
    while (begin <= dotted.size()) {
      size_t end = dotted.find('.', begin);
      if (end == std::string::npos) end = dotted.size();
      const std::string part = dotted.substr(begin, end - begin);
      std::error_code error;
      const fs::path module = at / (part + ".py");
      const fs::path package = at / part / "__init__.py";
      if (fs::is_regular_file(module, error)) {
        files.push_back(module.lexically_normal().string());
        break;  // a module has no submodules
      }
      if (!fs::is_regular_file(package, error)) break;
      files.push_back(package.lexically_normal().string());
      at /= part;
      begin = end + 1;
    }
    if (!files.empty()) break;  // the first folder on sys.path that has it is the one imported
  }
  return files;
}

}  // namespace

PythonSpec ReadPythonSpec(const Config& config, const Space& space) {
  const KernelSpec& kernel = config.kernel;
  std::vector<Diagnostic> errors;
  const auto fail = [&](const SourceLocation& where, std::string key, std::string message) {
    errors.push_back(Diagnostic{where, std::move(key), std::move(message)});
  };
  if (!PythonKernelsBuilt()) {
    fail(kernel.where, "kernel.python",
         "this sweep was built without Python (pybind11-dev and python3-dev were not found when "
         "it was built: `scripts/setup` installs them); rebuild it, or run the model per point "
         "with `command:`");
    throw ConfigError(errors);
  }
  PythonSpec spec;
  spec.model_path = kernel.python;
  spec.function = kernel.python_function.empty() ? "compute" : kernel.python_function;
  spec.config_dir = config.folder;
  spec.batch = kernel.batch;
  const std::string problem = ModelProblem(spec.model_path);
  if (!problem.empty()) fail(kernel.where, "kernel.python", problem);

  const std::vector<std::string> reserved = ReservedKeywords(spec.batch);
  const auto is_reserved = [&](const std::string& name) {
    return std::find(reserved.begin(), reserved.end(), name) != reserved.end();
  };
  for (const std::string& p : space.parameter_names()) {
    if (is_reserved(p)) {
      const AxisSpec* axis = config.FindParameter(p);
      fail(axis ? axis->where : kernel.where, "parameters." + p,
           "the python kernel passes `" + p + "` itself; rename the parameter");
    }
    spec.param_names.push_back(p);
  }
  for (const InputSpec& input : config.inputs) spec.input_names.push_back(input.name);
  for (const auto& [name, value] : kernel.options) {
    const auto at = kernel.option_where.find(name);
    const SourceLocation where = at != kernel.option_where.end() ? at->second : kernel.where;
    if (is_reserved(name)) {
      fail(where, "kernel.options." + name,
           "the python kernel passes `" + name + "` itself; rename the option");
    } else if (space.FindParameter(name) >= 0) {
      fail(where, "kernel.options." + name,
           "`" + name + "` is also a parameter, and the function gets both by name; rename one");
    }
    spec.options.push_back(PythonOption{name, ValueType(value)});
  }
  if (kernel.command_outputs.empty()) {
    fail(kernel.where, "kernel.outputs",
         "a python kernel needs `outputs:`, the name and dtype (or [dtype, dims...]) of each "
         "value its function returns, such as {energy: float64, trace: [float64, 100]}");
  }
  for (const KernelSpec::CommandOutput& o : kernel.command_outputs)
    spec.outputs.push_back(PythonOutput{o.name, DtypeFromName(o.dtype), o.shape});
  if (!errors.empty()) throw ConfigError(errors);
  return spec;
}

void BindPythonKernel(const Config& config, const Space& space, KernelBinding* binding) {
  PythonKernelTable made = MakePythonKernel(ReadPythonSpec(config, space));
  binding->kernel = made.kernel;
  binding->set_point = made.set_point;
  binding->owner = std::move(made.owner);
  for (const KernelSpec::CommandOutput& o : config.kernel.command_outputs)
    binding->output_dims.push_back(o.dims);
}

std::vector<std::string> PythonSourceFiles(const Config& config) {
  const std::string model = fs::path(config.kernel.python).lexically_normal().string();
  std::vector<std::string> folders = {fs::path(model).parent_path().string()};
  if (folders[0] != fs::path(config.folder).lexically_normal().string())
    folders.push_back(config.folder);
  std::set<std::string> found = {model};
  std::vector<std::string> todo = {model};
  while (!todo.empty()) {
    const std::string file = todo.back();
    todo.pop_back();
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      const size_t start = line.find_first_not_of(" \t");
      if (start == std::string::npos) continue;
      for (const std::string& name : ImportedNames(line.substr(start))) {
        for (const std::string& module : ModuleFiles(name, folders)) {
          if (found.insert(module).second) todo.push_back(module);
        }
      }
    }
  }
  return {found.begin(), found.end()};
}

}  // namespace sweep
