#include "driver/binding.h"

#include <algorithm>
#include <map>
#include <set>

#include "driver/command_binding.h"
#include "driver/python_binding.h"
#include "kernels/dtype.h"
#include "kernels/plugin.h"
#include "kernels/registry.h"

namespace sweep {
namespace {

const char* ValueTypeName(int type) {
  switch (type) {
    case SWEEP_VALUE_NUMBER:
      return "a number";
    case SWEEP_VALUE_INTEGER:
      return "an integer";
    case SWEEP_VALUE_STRING:
      return "a string";
  }
  return "?";
}

std::string KnownKernels() {
  std::string names;
  for (const sweep_kernel* k : BuiltinKernels())
    names += (names.empty() ? "" : ", ") + std::string(k->name);
  return names;
}

}  // namespace

std::optional<uint64_t> CheckedOutputBytesPerPoint(const sweep_output_decl& output) {
  uint64_t bytes = DtypeSize(output.dtype);
  for (int i = 0; i < output.rank; ++i) {
    if (output.shape[i] < 0 || __builtin_mul_overflow(bytes, uint64_t(output.shape[i]), &bytes))
      return std::nullopt;
  }
  return bytes;
}

std::vector<KernelFile> KernelFiles(const Config& config) {
  const KernelSpec& kernel = config.kernel;
  std::vector<KernelFile> files;
  if (!kernel.plugin.empty())
    files.push_back({"its plugin library (kernel.plugin)", kernel.plugin});
  if (!kernel.command.empty()) {
    std::string why;
    const std::string program = ResolveCommandProgram(config, &why);
    if (!program.empty()) files.push_back({"its program (kernel.command[0])", program});
    // The scripts its arguments name, which the fingerprint judges with the program:
    // `[python3, "{config_dir}/sim.py"]`'s sim.py.
    for (size_t i = 1; i < kernel.command.size(); ++i) {
      const std::optional<std::string> script = ScriptOfArgument(config, i);
      if (script && *script != program)
        files.push_back({"its script (kernel.command[" + std::to_string(i) + "])", *script});
    }
  }
  for (const KernelSpec::CommandFile& f : kernel.command_files)
    files.push_back({"its template (kernel.files." + f.name + ")", f.template_path});
  if (!kernel.python.empty()) files.push_back({"its model (kernel.python)", kernel.python});
  return files;
}

uint64_t OutputBytesPerPoint(const sweep_output_decl& output) {
  return CheckedOutputBytesPerPoint(output).value_or(UINT64_MAX);
}

void CheckInputsAgainstKernel(const Config& config, const KernelBinding& binding,
                              const std::vector<InputShape>& shapes) {
  std::vector<Diagnostic> errors;
  const sweep_kernel& k = *binding.kernel;
  for (int i = 0; i < k.n_inputs; ++i) {
    const size_t source = size_t(binding.input_source[size_t(i)]);
    const InputShape& in = shapes[source];
    const sweep_input_decl& decl = k.inputs[i];
    const InputSpec& spec = config.inputs[source];
    if (decl.dtype != 0 && in.dtype != decl.dtype) {
      errors.push_back({spec.where, "inputs." + spec.name,
                        std::string("kernel `") + k.name + "` needs " + DtypeName(decl.dtype) +
                            ", the input is " + DtypeName(in.dtype)});
    }
    if (decl.rank >= 0 && int(in.shape.size()) != decl.rank) {
      errors.push_back({spec.where, "inputs." + spec.name,
                        std::string("kernel `") + k.name + "` needs " + std::to_string(decl.rank) +
                            " dimensions, the input has " + std::to_string(in.shape.size())});
    }
  }
  if (!errors.empty()) throw ConfigError(errors);
}

namespace {

using Diagnostics = std::vector<Diagnostic>;

void Fail(Diagnostics* errors, const SourceLocation& where, std::string key, std::string message) {
  errors->push_back(Diagnostic{where, std::move(key), std::move(message)});
}

// The kernel the config names: a plugin, the command kernel, or a built-in.
// THROWS: ConfigError when there is none.
void FindKernel(const Config& config, const Space& space, KernelBinding* binding) {
  const KernelSpec& spec = config.kernel;
  Diagnostics errors;
  KernelBinding& b = *binding;
  b.strings = std::make_shared<std::vector<std::string>>();
  if (!spec.plugin.empty()) {
    try {
      b.kernel = LoadPlugin(spec.plugin);
    } catch (const Error& e) {
      std::string what = e.what();
      const std::string prefix = "kernel.plugin: ";
      if (what.rfind(prefix, 0) == 0) what.erase(0, prefix.size());
      Fail(&errors, spec.where, "kernel.plugin", what);
      throw ConfigError(errors);
    }
  } else if (!spec.command.empty() && spec.persistent) {
    BindPersistentKernel(config, space, &b);
  } else if (!spec.command.empty()) {
    BindCommandKernel(config, space, &b);
  } else if (!spec.python.empty()) {
    BindPythonKernel(config, space, &b);
  } else {
    b.kernel = FindBuiltinKernel(spec.name);
    if (!b.kernel) {
      Fail(&errors, spec.where, "kernel.name",
           "unknown kernel `" + spec.name + "` (built-in kernels: " + KnownKernels() + ")");
      throw ConfigError(errors);
    }
  }
}

// Options: declared, typed, defaulted. Strings are kept for the values to point into.
void BindOptions(const KernelSpec& spec, KernelBinding* binding, Diagnostics* errors) {
  KernelBinding& b = *binding;
  const sweep_kernel& k = *b.kernel;
  b.strings->reserve(size_t(k.n_options));
  for (int i = 0; i < k.n_options; ++i) {
    const sweep_option_decl& decl = k.options[i];
    sweep_value v = decl.default_value;
    v.type = decl.type;
    auto given = spec.options.find(decl.name);
    if (given != spec.options.end()) {
      const Value& value = given->second;
      const auto where_it = spec.option_where.find(decl.name);
      const SourceLocation where =
          where_it != spec.option_where.end() ? where_it->second : spec.where;
      const std::string key = "kernel.options." + std::string(decl.name);
      const bool numeric = value.type != Value::Type::kString;
      if (decl.type == SWEEP_VALUE_STRING && numeric) {
        Fail(errors, where, key, "expected a string, got " + value.ToString());
      } else if (decl.type != SWEEP_VALUE_STRING && !numeric) {
        Fail(errors, where, key,
             std::string("expected ") + ValueTypeName(decl.type) + ", got `" + value.string + "`");
      } else if (decl.type == SWEEP_VALUE_INTEGER && value.type != Value::Type::kInteger) {
        Fail(errors, where, key, "expected an integer, got " + value.ToString());
      } else if (decl.type == SWEEP_VALUE_STRING) {
        b.strings->push_back(value.string);
        v.string = b.strings->back().c_str();
      } else {
        // A number option's .integer means nothing (kernel.h); 0, as in the declared defaults,
        // since converting a number beyond int64 (1e300, nan) is undefined behaviour.
        v.number = value.number;
        v.integer = value.type == Value::Type::kInteger ? value.integer : 0;
      }
    }
    if (v.type == SWEEP_VALUE_INTEGER && given == spec.options.end()) v.number = double(v.integer);
    b.option_values.push_back(v);
  }
  // Not a structured binding: C++17 does not let a lambda capture one (clang rejects it).
  for (const auto& option : spec.options) {
    const std::string& name = option.first;
    const bool declared = std::any_of(k.options, k.options + k.n_options,
                                      [&](const sweep_option_decl& d) { return name == d.name; });
    if (!declared) {
      std::string known;
      for (int i = 0; i < k.n_options; ++i)
        known += (known.empty() ? "" : ", ") + std::string(k.options[i].name);
      const auto where_it = spec.option_where.find(name);
      Fail(errors, where_it != spec.option_where.end() ? where_it->second : spec.where,
           "kernel.options." + name,
           "kernel `" + b.name + "` has no option `" + name + "`" +
               (known.empty() ? " (it takes none)" : " (its options: " + known + ")"));
    }
  }
}

// Parameters the kernel reads must be swept or constant.
void BindParameters(const KernelSpec& spec, const Space& space, KernelBinding* binding,
                    Diagnostics* errors) {
  KernelBinding& b = *binding;
  const sweep_kernel& k = *b.kernel;
  for (int i = 0; i < k.n_params; ++i) {
    const int source = space.FindParameter(k.params[i].name);
    if (source < 0) {
      Fail(errors, spec.where, "parameters",
           "kernel `" + b.name + "` reads parameter `" + k.params[i].name +
               "`, which the sweep does not define");
    }
    b.parameter_source.push_back(source);
  }
}

// Inputs: each declared input must be given, of the declared dtype and rank (checked when the
// inputs are opened, since only then are dtype and shape known), and nothing undeclared.
void BindInputs(const Config& config, KernelBinding* binding, Diagnostics* errors) {
  const KernelSpec& spec = config.kernel;
  KernelBinding& b = *binding;
  const sweep_kernel& k = *b.kernel;
  for (int i = 0; i < k.n_inputs; ++i) {
    int source = -1;
    for (size_t j = 0; j < config.inputs.size(); ++j)
      if (config.inputs[j].name == k.inputs[i].name) source = int(j);
    if (source < 0) {
      Fail(errors, spec.where, "inputs",
           "kernel `" + b.name + "` needs input `" + k.inputs[i].name + "`" +
               (k.inputs[i].help ? std::string(" (") + k.inputs[i].help + ")" : ""));
    }
    b.input_source.push_back(source);
  }
  for (const InputSpec& input : config.inputs) {
    const bool declared =
        std::any_of(k.inputs, k.inputs + k.n_inputs,
                    [&](const sweep_input_decl& d) { return input.name == d.name; });
    if (!declared) {
      Fail(errors, input.where, "inputs." + input.name,
           "kernel `" + b.name + "` does not read an input named `" + input.name + "`");
    }
  }
}

// Who declared the outputs, for messages: the config's `kernel.outputs` (a command), the plugin
// (named by its path), or a built-in kernel.
struct OutputBlame {
  SourceLocation where;
  std::string key;
  std::string who;  // "plugin `/path/libx.so`", "kernel `lorenz`", or "" (the config's own)
};

OutputBlame BlameFor(const KernelSpec& spec, const KernelBinding& b, const std::string& output) {
  if (!spec.plugin.empty()) return {spec.where, "kernel.plugin", "plugin `" + spec.plugin + "`"};
  for (const KernelSpec::CommandOutput& o : spec.command_outputs)
    if (o.name == output) return {o.where, "kernel.outputs." + o.name, ""};
  return {spec.where, "kernel", "kernel `" + b.name + "`"};
}

// What an output declaration must be, whoever made it: named (an identifier: it names a variable
// of the output file, a column of `sweep export` and, for a command, a member of its JSON), once,
// of a known dtype and rank, every dimension at least 1, and a point's bytes within 64 bits.
void CheckOutputDeclarations(const KernelSpec& spec, const KernelBinding& b, Diagnostics* errors) {
  std::map<std::string, size_t> seen;
  for (size_t i = 0; i < b.outputs.size(); ++i) {
    const sweep_output_decl& out = b.outputs[i];
    const std::string name = out.name ? out.name : "";
    const OutputBlame blame = BlameFor(spec, b, name);
    const std::string who = blame.who.empty() ? "" : blame.who + " declares ";
    const auto fail = [&](const std::string& what) {
      Fail(errors, blame.where, blame.key, who + what);
    };
    if (!out.name) {
      fail("output " + std::to_string(i) + " without a name (NULL)");
      continue;
    }
    if (name.empty()) {
      fail("output " + std::to_string(i) + " with an empty name");
      continue;
    }
    if (!IsIdentifier(name)) {
      fail("output `" + name +
           "`: an output's name is an identifier (letters, digits and `_`, not first a digit), "
           "since it names a variable of the output file");
      continue;
    }
    if (!seen.emplace(name, i).second) {
      fail("output `" + name + "` twice");
      continue;
    }
    if (DtypeSize(out.dtype) == 0 || out.rank < 0 || out.rank > SWEEP_MAX_RANK) {
      fail("output `" + name + "` with a bad dtype or rank");
      continue;
    }
    bool empty = false;
    for (int d = 0; d < out.rank; ++d) empty = empty || out.shape[d] < 1;
    if (empty) {
      fail("output `" + name + "` with an empty dimension");
      continue;
    }
    if (!CheckedOutputBytesPerPoint(out)) {
      std::string shape;
      for (int d = 0; d < out.rank; ++d) shape += (d ? ", " : "") + std::to_string(out.shape[d]);
      fail("output `" + name + "`: [" + shape + "] " + DtypeName(out.dtype) +
           " values a point take more than 2^64 bytes");
    }
  }
}

// Outputs, from the options. THROWS: ConfigError when outputs() refuses the options or declares
// none or too many.
void BindOutputs(const KernelSpec& spec, KernelBinding* binding, Diagnostics* errors) {
  KernelBinding& b = *binding;
  const sweep_kernel& k = *b.kernel;
  std::vector<sweep_output_decl> outputs(size_t(std::max(k.max_outputs, 1)));
  int n_out = 0;
  char err[512] = "";
  const sweep_options options = b.options();
  if (k.outputs(&options, outputs.data(), &n_out, err, sizeof err) != 0) {
    Fail(errors, spec.where, "kernel.options", err);
    throw ConfigError(*errors);
  }
  if (n_out < 1 || n_out > k.max_outputs) {
    Fail(errors, spec.where, "kernel",
         "kernel `" + b.name + "` declares " + std::to_string(n_out) + " outputs");
    throw ConfigError(*errors);
  }
  outputs.resize(size_t(n_out));
  b.outputs = std::move(outputs);
  CheckOutputDeclarations(spec, b, errors);
}

// The results of every point within 64 bits of bytes, output by output (so a plan, the output
// file and the disk check never compute a size that wrapped around).
void CheckResultsBytes(const KernelSpec& spec, const Space& space, const KernelBinding& b,
                       Diagnostics* errors) {
  uint64_t total = 0;
  for (const sweep_output_decl& out : b.outputs) {
    const uint64_t per_point = OutputBytesPerPoint(out);
    uint64_t bytes = 0;
    if (!__builtin_mul_overflow(per_point, space.points(), &bytes) &&
        !__builtin_add_overflow(total, bytes, &total))
      continue;
    const OutputBlame blame = BlameFor(spec, b, out.name);
    Fail(errors, blame.where, blame.key,
         (blame.who.empty() ? "" : blame.who + " declares ") + "output `" + out.name +
             "`: " + std::to_string(space.points()) + " points of " + std::to_string(per_point) +
             " bytes (with the outputs before it) take more than 2^64 bytes");
    return;
  }
}

constexpr size_t kMaxOutputRank = 32;  // H5S_MAX_RANK, without including HDF5 here

// The output file holds every dimension, parameter and output at its root (io/output_file.h), so
// their names must differ; a parameter that clashes is blamed, since the user names it.
void CheckRootNames(const Config& config, const Space& space, const KernelBinding& b,
                    Diagnostics* errors) {
  // HDF5 (and netCDF) take at most 32 dimensions per dataset: the sweep's, then the output's own.
  for (const sweep_output_decl& out : b.outputs) {
    const size_t rank = space.dimensions().size() + size_t(out.rank);
    if (rank > kMaxOutputRank) {
      // Blame the first dimension over the limit: the parameter that makes it, if one does.
      const Dimension& over = space.dimensions()[kMaxOutputRank - size_t(out.rank)];
      SourceLocation where = config.kernel.where;
      std::string key = over.name == "replicate" ? "repeat" : "parameters";
      if (!over.parameters.empty()) {
        const AxisSpec* axis =
            config.FindParameter(space.parameter_names()[size_t(over.parameters[0])]);
        if (axis) where = axis->where, key = "parameters." + axis->name;
      }
      Fail(errors, where, key,
           "output `" + std::string(out.name) + "` would have " + std::to_string(rank) +
               " dimensions (" + std::to_string(space.dimensions().size()) + " of the sweep, " +
               std::to_string(out.rank) + " its own), over the limit of " +
               std::to_string(kMaxOutputRank) +
               " of HDF5 and netCDF; a parameter with one value can be a constant (`x: 1`)");
      return;
    }
  }
  std::map<std::string, std::string> taken;  // name -> what it is, for the message
  taken["chunks"] = "the output file's chunk table";
  // The sweep's own dimensions `sample` and `replicate`, where they exist (a zip group's is blamed
  // on the group, below), and the outputs' own dimensions hold names no output may take.
  std::map<std::string, std::string> reserved = taken;
  for (const Dimension& d : space.dimensions())
    if (d.name == "sample" || d.name == "replicate") reserved[d.name] = "a dimension of the sweep";
  // An output's own dimensions: one dimension of the file for each name, however many outputs
  // share it (of one size: the config checks the names it gives; here they meet the defaults).
  // A name `dims:` gives that is an output's is blamed on the `dims:`; a default one
  // (<output>_<i>) on the output that takes it, below.
  std::set<std::string> outputs;
  for (const sweep_output_decl& out : b.outputs) outputs.insert(out.name);
  std::map<std::string, std::pair<int64_t, std::string>> inner;  // name -> size, first output
  for (size_t o = 0; o < b.outputs.size(); ++o) {
    const sweep_output_decl& out = b.outputs[o];
    const std::vector<std::string> names = OutputDimNames(b, o);
    const bool given = o < b.output_dims.size() && !b.output_dims[o].empty();
    for (int r = 0; r < out.rank; ++r) {
      const std::string& name = names[size_t(r)];
      const std::string key = "kernel.outputs." + std::string(out.name) + ".dims";
      if (inner.count(name) == 0) {
        const auto clash = reserved.find(name);
        const std::string also = clash != reserved.end() ? clash->second
                                 : given && outputs.count(name)
                                     ? "an output of kernel `" + b.name + "`"
                                     : "";
        if (!also.empty()) {
          Fail(errors, config.kernel.where, key,
               "dimension `" + name + "` of output `" + out.name + "` is also " + also);
          continue;
        }
      }
      const auto [it, first] = inner.emplace(name, std::make_pair(out.shape[r], out.name));
      if (!first && it->second.first != out.shape[r]) {
        Fail(errors, config.kernel.where, key,
             "dimension `" + name + "` has size " + std::to_string(out.shape[r]) + " in output `" +
                 out.name + "` but " + std::to_string(it->second.first) + " in output `" +
                 it->second.second + "`");
      }
      reserved[name] = taken[name] = "a dimension of output `" + it->second.second + "`";
    }
  }
  // An output may not take a name the file gives to something else: the chunk table, a dimension
  // of the sweep or of an output (its own too).
  for (const sweep_output_decl& out : b.outputs) {
    const auto it = reserved.find(out.name);
    if (it == reserved.end()) continue;
    const OutputBlame blame = BlameFor(config.kernel, b, out.name);
    Fail(errors, blame.where, blame.key,
         (blame.who.empty() ? "" : blame.who + " declares ") + "output `" + out.name +
             "`: the name of " + it->second + "; rename the output");
  }
  for (const sweep_output_decl& out : b.outputs)
    taken[out.name] = "an output of kernel `" + b.name + "`";
  for (const AxisSpec& axis : config.parameters) {
    const auto it = taken.find(axis.name);
    if (it != taken.end()) {
      Fail(errors, axis.where, "parameters." + axis.name,
           "`" + axis.name + "` is also " + it->second +
               "; rename the parameter (the output file holds both under one name)");
    }
    taken[axis.name] = "a parameter";
  }
  // A string parameter's text has a dimension of its own, its width (io/output_file.h).
  for (size_t i = 0; i < space.parameter_names().size(); ++i) {
    if (space.parameter_type(int(i)) != Value::Type::kString) continue;
    const std::string& name = space.parameter_names()[i];
    const auto it = taken.find(name + "_strlen");
    if (it != taken.end()) {
      const AxisSpec* axis = config.FindParameter(name);
      Fail(errors, axis ? axis->where : config.kernel.where, "parameters." + name,
           "string parameter `" + name + "` keeps the width of its text in dimension `" + name +
               "_strlen`, which is also " + it->second + "; rename one of them");
    }
    taken[name + "_strlen"] = "the text width of parameter `" + name + "`";
  }
  for (size_t g = 0; g < config.zip.size(); ++g) {
    std::string name;
    for (const std::string& member : config.zip[g]) name += (name.empty() ? "" : "_") + member;
    const auto it = taken.find(name);
    if (it != taken.end()) {
      Fail(errors, g < config.zip_where.size() ? config.zip_where[g] : config.kernel.where,
           "zip[" + std::to_string(g) + "]",
           "the group's dimension `" + name + "` is also " + it->second +
               "; rename one of its parameters");
    }
  }
}

// The variables' attributes: what the kernel declares, then the config's `attributes:`, whose
// names must be variables of the output file.
void BindAttributes(const Config& config, const Space& space, KernelBinding* b,
                    Diagnostics* errors) {
  std::vector<std::string> variables = space.parameter_names();
  for (const Dimension& d : space.dimensions())
    if (d.name == "sample" || d.name == "replicate") variables.push_back(d.name);
  for (const sweep_output_decl& out : b->outputs) variables.push_back(out.name);
  auto known = [&](const std::string& name) {
    return std::find(variables.begin(), variables.end(), name) != variables.end();
  };
  std::vector<sweep_variable_info> declared;
  if (!config.kernel.plugin.empty()) {
    declared = PluginVariables(config.kernel.plugin);
  } else if (config.kernel.command.empty()) {
    declared = BuiltinVariables(config.kernel.name);
  }
  auto set = [&](const std::string& name, const std::string& key, const std::string& text) {
    VariableAttributes& attributes = b->attributes[name];
    for (auto& [k, v] : attributes) {
      if (k == key) {
        v = text;
        return;
      }
    }
    attributes.emplace_back(key, text);
  };
  for (const sweep_variable_info& v : declared) {
    if (!v.name || !known(v.name)) continue;
    if (v.long_name && *v.long_name) set(v.name, "long_name", v.long_name);
    if (v.units && *v.units) set(v.name, "units", v.units);
  }
  for (const AttributesSpec& a : config.attributes) {
    if (!known(a.name)) {
      std::string all;
      for (const std::string& v : variables) all += (all.empty() ? "`" : ", `") + v + "`";
      Fail(errors, a.where, "attributes." + a.name,
           "no parameter or output named `" + a.name + "` (the output file has " + all + ")");
      continue;
    }
    for (const auto& [key, text] : a.values) set(a.name, key, text);
  }
}

}  // namespace

std::vector<std::string> OutputDimNames(const KernelBinding& binding, size_t o) {
  if (o < binding.output_dims.size() && !binding.output_dims[o].empty())
    return binding.output_dims[o];
  std::vector<std::string> names;
  const sweep_output_decl& out = binding.outputs[o];
  for (int r = 0; r < out.rank; ++r)
    names.push_back(std::string(out.name) + "_" + std::to_string(r));
  return names;
}

KernelBinding BindKernel(const Config& config, const Space& space) {
  KernelBinding b;
  FindKernel(config, space, &b);
  b.name = b.kernel->name;
  Diagnostics errors;
  BindOptions(config.kernel, &b, &errors);
  BindParameters(config.kernel, space, &b, &errors);
  BindInputs(config, &b, &errors);
  if (!errors.empty()) throw ConfigError(errors);
  BindOutputs(config.kernel, &b, &errors);
  if (!errors.empty()) throw ConfigError(errors);
  CheckResultsBytes(config.kernel, space, b, &errors);
  CheckRootNames(config, space, b, &errors);
  BindAttributes(config, space, &b, &errors);
  if (!errors.empty()) throw ConfigError(errors);
  return b;
}

}  // namespace sweep
