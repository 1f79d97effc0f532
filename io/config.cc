#include "io/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "io/workdirs.h"
#include "io/yaml_source.h"
#include "kernels/kernel.h"

namespace sweep {

ConfigKeys::ConfigKeys(std::string map_path, std::vector<std::string> key_names)
    : map(std::move(map_path)), keys(std::move(key_names)) {}

namespace {

namespace fs = std::filesystem;

const char* const kDtypes[] = {"float64", "float32", "int64", "int32", "uint8"};
// The key tables (KnownConfigKeys). RejectUnknown() takes one of these, never a list of its own,
// so that every key accepted is in KnownConfigKeys() and documented (configs/README.md).
const ConfigKeys kTopKeys("", {"name", "seed", "kernel", "inputs", "parameters", "zip", "repeat",
                               "sampling", "execution", "output", "attributes"});
const ConfigKeys kKernelKeys("kernel",
                             {"name", "plugin", "command", "persistent", "python", "options",
                              "outputs", "batch", "files", "env", "results_file", "workdir"});
const ConfigKeys kCommandOutputKeys("kernel.outputs.<name>", {"dtype", "shape", "dims"});
const ConfigKeys kWorkdirKeys("kernel.workdir", {"root", "keep"});
const ConfigKeys kPersistentKeys("kernel.persistent", {"max_points"});
const ConfigKeys kInputKeys("inputs.<name>", {"hdf5", "dataset", "npy", "raw", "generate", "dtype",
                                              "shape", "seed"});
const ConfigKeys kAxisKeys("parameters.<name>",
                           {"linspace", "logspace", "values", "range", "uniform", "loguniform"});
const ConfigKeys kSamplingKeys("sampling", {"method", "n"});
const ConfigKeys kExecutionKeys("execution",
                                {"workers", "chunk_size", "schedule", "start", "threads", "timeout",
                                 "retries", "memory_limit", "max_failures", "gpus"});
const ConfigKeys kOutputKeys("output", {"path"});
// CF text attributes a user may give a variable; the others (_FillValue, coordinates, ...) are the
// output file's own.
const ConfigKeys kAttributeKeys("attributes.<name>",
                                {"units", "long_name", "standard_name", "comment"});

// Placeholders of the command kernel and dimension names of the output file.
const char* const kReservedNames[] = {"seed", "point", "sample", "replicate"};

// The environment variables `path` names (`${NAME}`), in order, into *names; a message when a
// `$` starts anything else (a shell's `$NAME` is not expanded, and would be taken literally).
std::optional<std::string> VariablesIn(const std::string& path, std::vector<std::string>* names) {
  for (size_t at = path.find('$'); at != std::string::npos; at = path.find('$', at + 1)) {
    const size_t close = path.find('}', at);
    const bool braced = path.compare(at, 2, "${") == 0 && close != std::string::npos;
    const std::string name = braced ? path.substr(at + 2, close - at - 2) : "";
    if (!braced || !IsIdentifier(name)) {
      return "`$` starts an environment variable, written ${NAME} (a letter or `_`, then "
             "letters, digits or `_`), in `" +
             path + "`";
    }
    names->push_back(name);
    at = close;
  }
  return std::nullopt;
}

bool IsDigits(const std::string& s, size_t from, size_t to) {
  if (from >= to) return false;
  for (size_t i = from; i < to; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// The YAML 1.2 core schema's integers (decimal only) and floats.
bool LooksInteger(const std::string& s) {
  size_t from = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  return IsDigits(s, from, s.size());
}

bool LooksNumber(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  std::string rest = s.substr(i);
  if (rest == ".inf" || rest == ".Inf" || rest == ".INF") return true;
  if (i == 0 && (rest == ".nan" || rest == ".NaN" || rest == ".NAN")) return true;
  size_t digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  return i == s.size();
}

double ToNumber(const std::string& s) {
  std::string rest = s;
  bool negative = !rest.empty() && rest[0] == '-';
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) rest = rest.substr(1);
  if (rest.size() == 4 && rest[0] == '.') {
    if (rest[1] == 'i' || rest[1] == 'I') return negative ? -HUGE_VAL : HUGE_VAL;
    return std::nan("");
  }
  return std::strtod(s.c_str(), nullptr);
}

// A scalar of the document, typed as YAML would type it.
struct Scalar {
  enum Kind { kNull, kCollection, kInteger, kNumber, kString } kind = kNull;
  int64_t integer = 0;
  double number = 0;
  bool out_of_range = false;  // an integer too large for int64 (kept as a kNumber)
  std::string text;
};

Scalar Classify(const YAML::Node& node) {
  Scalar s;
  if (!node.IsDefined() || node.IsNull()) return s;
  if (!node.IsScalar()) {
    s.kind = Scalar::kCollection;
    return s;
  }
  s.text = node.Scalar();
  s.kind = Scalar::kString;
  if (!IsPlainScalar(node)) return s;
  if (LooksInteger(s.text)) {
    errno = 0;
    long long v = std::strtoll(s.text.c_str(), nullptr, 10);
    if (errno != ERANGE) {
      s.kind = Scalar::kInteger;
      s.integer = v;
      s.number = double(v);
      return s;
    }
    s.out_of_range = true;
  }
  if (LooksNumber(s.text)) {
    s.kind = Scalar::kNumber;
    s.number = ToNumber(s.text);
  }
  return s;
}

// What is wrong with a name a command kernel writes or reads in a point's work directory, or "":
// it must stay inside that directory whatever is there.
std::string WorkPathProblem(const std::string& name) {
  if (name.empty()) return "expected a file name, got an empty string";
  if (name[0] == '/') return "`" + name + "` is absolute; give a name inside the work directory";
  for (size_t begin = 0; begin <= name.size();) {
    size_t end = name.find('/', begin);
    if (end == std::string::npos) end = name.size();
    const std::string part = name.substr(begin, end - begin);
    if (part.empty() || part == "." || part == "..") {
      return "`" + name +
             "`: a name inside the work directory has no empty, `.` or `..` part (such as "
             "input.nml or conf/input.nml)";
    }
    begin = end + 1;
  }
  return "";
}

// WorkPathProblem, and not one of the files the program's streams are saved in.
std::string WorkFileProblem(const std::string& name) {
  if (name == kStdoutFile || name == kStderrFile) {
    return "`" + name + "` is where sweep saves the program's " + name.substr(0, 6) +
           " in the work directory; give another name";
  }
  return WorkPathProblem(name);
}

std::string Join(const std::vector<std::string>& words, const char* separator = ", ") {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : separator) + w;
  return text;
}

std::string Quoted(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const std::string& w : words) quoted.push_back("`" + w + "`");
  return Join(quoted);
}

// "got 2.5", "got `abc`", "got a list": what the user wrote, for the end of a message.
std::string Got(const Scalar& s, const YAML::Node& node) {
  switch (s.kind) {
    case Scalar::kNull:
      return "got nothing";
    case Scalar::kCollection:
      return node.IsMap() ? "got a map" : "got a list";
    case Scalar::kInteger:
    case Scalar::kNumber:
      return "got " + s.text;
    case Scalar::kString:
      return "got `" + s.text + "`";
  }
  return "";
}

// A node of the document with its key path and where a diagnostic about it should point.
struct Field {
  YAML::Node node;
  std::string path;
  SourceLocation where;
};

struct Entry {
  std::string key;
  Field key_field;  // points at the key
  Field value;
};

// Checks the schema while collecting every problem into `diagnostics`.
class ConfigReader {
 public:
  ConfigReader(Config* config, std::vector<Diagnostic>* diagnostics,
               std::vector<std::string> override_paths)
      : config_(*config), diagnostics_(*diagnostics), override_paths_(std::move(override_paths)) {}

  void Read(const YAML::Node& root);

 private:
  void Fail(const Field& field, std::string message) {
    diagnostics_.push_back({field.where, field.path, std::move(message)});
  }

  // Where a node points: a value set by --set points there; a node without a mark (an empty
  // value, or a map made by --set) points at its key.
  SourceLocation Locate(const YAML::Node& node, const std::string& path,
                        const SourceLocation& fallback) const {
    for (const std::string& o : override_paths_) {
      if (path.compare(0, o.size(), o) == 0 &&
          (path.size() == o.size() || path[o.size()] == '.' || path[o.size()] == '['))
        return {"--set", 0, 0};
    }
    if (node.IsNull() || node.Mark().is_null()) return fallback;
    return {config_.file, node.Mark().line + 1, node.Mark().column + 1};
  }

  Field Item(const Field& parent, size_t i) {
    std::string path = parent.path + "[" + std::to_string(i) + "]";
    const YAML::Node& sequence = parent.node;  // const: operator[] must not insert
    YAML::Node node = sequence[i];
    return {node, path, Locate(node, path, parent.where)};
  }

  // The entries of a map in file order, or nullopt (reported) if `field` is not a map.
  std::optional<std::vector<Entry>> Map(const Field& field, const std::string& expected) {
    if (!field.node.IsMap()) {
      Fail(field, "expected " + expected + ", " + Got(Classify(field.node), field.node));
      return std::nullopt;
    }
    std::vector<Entry> entries;
    for (const auto& pair : field.node) {
      std::string key = pair.first.IsScalar() ? pair.first.Scalar() : "?";
      std::string path = field.path.empty() ? key : field.path + "." + key;
      Field key_field{pair.first, path, Locate(pair.first, path, field.where)};
      if (!pair.first.IsScalar()) {
        Fail(key_field, "a key must be a plain name");
        continue;
      }
      entries.push_back(
          {key, key_field, {pair.second, path, Locate(pair.second, path, key_field.where)}});
    }
    return entries;
  }

  // Reports the keys not in `allowed`, with a suggestion for typos.
  bool RejectUnknown(const std::vector<Entry>& entries, const ConfigKeys& table) {
    const std::vector<std::string>& allowed = table.keys;
    bool known = true;
    for (const Entry& e : entries) {
      if (std::find(allowed.begin(), allowed.end(), e.key) != allowed.end()) continue;
      std::string close = ClosestMatch(e.key, allowed);
      Fail(e.key_field, "unknown key `" + e.key + "`" +
                            (close.empty() ? " (expected one of " + Quoted(allowed) + ")"
                                           : " (did you mean `" + close + "`?)"));
      known = false;
    }
    return known;
  }

  static const Entry* Find(const std::vector<Entry>& entries, const std::string& key) {
    for (const Entry& e : entries)
      if (e.key == key) return &e;
    return nullptr;
  }

  std::optional<int64_t> Integer(const Field& field, int64_t min, const std::string& what) {
    Scalar s = Classify(field.node);
    if (s.kind == Scalar::kInteger && s.integer >= min) return s.integer;
    if (s.out_of_range) {
      Fail(field, what + " is out of range, " + Got(s, field.node));
    } else {
      Fail(field, "expected " + what + ", " + Got(s, field.node));
    }
    return std::nullopt;
  }

  std::optional<double> Number(const Field& field, const std::string& what) {
    Scalar s = Classify(field.node);
    if ((s.kind == Scalar::kInteger || s.kind == Scalar::kNumber) && std::isfinite(s.number))
      return s.number;
    Fail(field, "expected " + what + ", " + Got(s, field.node));
    return std::nullopt;
  }

  // Any scalar's text (a name, a path, an argument).
  std::optional<std::string> String(const Field& field, const std::string& what) {
    Scalar s = Classify(field.node);
    if (s.kind != Scalar::kNull && s.kind != Scalar::kCollection && !s.text.empty()) return s.text;
    Fail(field, "expected " + what + ", " +
                    (s.text.empty() && field.node.IsScalar() ? std::string("got an empty string")
                                                             : Got(s, field.node)));
    return std::nullopt;
  }

  // One of `choices`, with a suggestion for typos.
  std::optional<std::string> Choice(const Field& field, const std::string& what,
                                    const std::vector<std::string>& choices) {
    Scalar s = Classify(field.node);
    if (s.kind == Scalar::kString &&
        std::find(choices.begin(), choices.end(), s.text) != choices.end())
      return s.text;
    std::string close = s.kind == Scalar::kString ? ClosestMatch(s.text, choices) : "";
    Fail(field, "expected " + what + " (" + Join(choices, " | ") + "), " + Got(s, field.node) +
                    (close.empty() ? "" : " (did you mean `" + close + "`?)"));
    return std::nullopt;
  }

  std::optional<Value> ScalarValue(const Field& field, const std::string& what) {
    Scalar s = Classify(field.node);
    switch (s.kind) {
      case Scalar::kInteger:
        return Value::Integer(s.integer);
      case Scalar::kNumber:
        return Value::Number(s.number);
      case Scalar::kString:
        return Value::String(s.text);
      default:
        Fail(field, "expected " + what + ", " + Got(s, field.node));
        return std::nullopt;
    }
  }

  // A sequence, or nullopt (reported) when the node is not one of an allowed size.
  std::optional<std::vector<Field>> List(const Field& field, size_t min_size, size_t max_size,
                                         const std::string& expected) {
    if (!field.node.IsSequence() || field.node.size() < min_size || field.node.size() > max_size) {
      std::string got = field.node.IsSequence() ? "got " + std::to_string(field.node.size()) +
                                                      " item" + (field.node.size() == 1 ? "" : "s")
                                                : Got(Classify(field.node), field.node);
      Fail(field, "expected " + expected + ", " + got);
      return std::nullopt;
    }
    std::vector<Field> items;
    for (size_t i = 0; i < field.node.size(); ++i) items.push_back(Item(field, i));
    return items;
  }

  std::string Resolve(const std::string& path) const {
    fs::path p(path);
    if (p.is_relative()) p = fs::path(config_.folder) / p;
    return p.lexically_normal().string();
  }

  // A path that may name environment variables: resolved, or kept as a template (PathTemplate)
  // when it names some. nullopt (reported) when it is not a string or a `$` is misused.
  std::optional<std::string> Path(const Field& field, const std::string& what) {
    std::optional<std::string> path = String(field, what);
    if (!path) return std::nullopt;
    return PathText(field, *path, true);
  }

  // Path() of `path`, the text of `field` or a part of it (`python: model.py:simulate`'s file).
  // `resolved` false keeps a relative path as written: a program's bare name is looked up in
  // PATH (driver/command_binding.h).
  std::optional<std::string> PathText(const Field& field, const std::string& path, bool resolved) {
    std::vector<std::string> names;
    if (std::optional<std::string> problem = VariablesIn(path, &names)) {
      Fail(field, *problem);
      return std::nullopt;
    }
    if (names.empty()) return resolved ? Resolve(path) : path;
    // Resolved now only when it starts relative: `${TMPDIR}/x` is whatever TMPDIR says. Joined,
    // not normalised: in `a/${X}/..` the `..` undoes the variable's value, not `a/${X}`.
    std::string text = path;
    if (resolved && path.rfind("${", 0) != 0 && fs::path(path).is_relative())
      text = (fs::path(config_.folder) / path).string();
    config_.path_templates.push_back({field.path, text, field.where});
    return text;
  }

  void ReadName(const Field& field);
  // No `name:`: the config file's stem.
  void NameAfterFile(const Field& top);
  void ReadSeed(const Field& field);
  void ReadKernel(const Entry& entry);
  void ReadCommandOutputs(const Field& field);
  void ReadPython(const Field& field);
  void ReadCommandFiles(const Field& field);
  void ReadCommandEnv(const Field& field);
  bool ReadCommandOutputMap(const Entry& e, KernelSpec::CommandOutput* output);
  void CheckSharedDims(const std::vector<Entry>& entries);
  void ReadWorkdir(const Field& field);
  void ReadPersistent(const Field& field);
  void ReadInputs(const Field& field);
  void ReadInput(const Entry& entry);
  std::optional<std::vector<int64_t>> Shape(const Field& field, bool allow_empty);
  void ReadSampling(const Entry& entry);
  void ReadParameters(const Entry& entry);
  bool ReadAxis(const Field& field, AxisSpec* axis, Field* kind_field);
  // ReadAxis() by kind; each returns false after failing the field.
  bool ReadConstant(const Field& field, const Scalar& s, AxisSpec* axis);
  bool ReadSpaced(const Field& v, const std::string& kind, AxisSpec* axis);
  bool ReadSampled(const Field& v, const std::string& kind, AxisSpec* axis);
  bool ReadRange(const Field& v, AxisSpec* axis);
  bool ReadValues(const Field& v, AxisSpec* axis);
  void ReadZip(const Field& field);
  void ReadExecution(const Field& field);
  void ReadGpus(const Field& field);
  void ReadOutput(const Field& field);
  void ReadAttributes(const Field& field);
  void CheckGridValues();
  void Note(const Field& field, std::string message) {
    config_.notes.push_back({field.where, field.path, std::move(message)});
  }

  Config& config_;
  std::vector<Diagnostic>& diagnostics_;
  std::vector<std::string> override_paths_;
  std::set<std::string> broken_parameters_;  // reported already; zip skips their lengths
  // Each `values:` list read and its items, by parameter, for CheckGridValues().
  std::map<std::string, std::pair<Field, std::vector<Field>>> value_items_;
};

void ConfigReader::Read(const YAML::Node& root) {
  Field top{root, "", {config_.file, 1, 1}};
  if (!root.IsDefined() || root.IsNull()) {
    Fail(top, "the config is empty (expected a map with kernel and parameters)");
    return;
  }
  if (!root.IsMap()) {
    top.where = Locate(root, "", top.where);
    Fail(top, "expected a map with kernel and parameters, " + Got(Classify(root), root));
    return;
  }
  std::optional<std::vector<Entry>> entries = Map(top, "a map");
  RejectUnknown(*entries, kTopKeys);
  auto required = [&](const std::string& key) {
    const Entry* e = Find(*entries, key);
    if (!e) Fail(top, "missing required key `" + key + "`");
    return e;
  };

  if (const Entry* e = Find(*entries, "name")) {
    ReadName(e->value);
  } else {
    NameAfterFile(top);
  }
  if (const Entry* e = Find(*entries, "seed")) ReadSeed(e->value);
  if (const Entry* e = required("kernel")) ReadKernel(*e);
  if (const Entry* e = Find(*entries, "inputs")) ReadInputs(e->value);
  // Sampling first: it decides which kinds of parameters are allowed.
  if (const Entry* e = Find(*entries, "sampling")) ReadSampling(*e);
  if (const Entry* e = required("parameters")) ReadParameters(*e);
  if (const Entry* e = Find(*entries, "zip")) ReadZip(e->value);
  CheckGridValues();
  if (const Entry* e = Find(*entries, "repeat")) {
    config_.repeat = Integer(e->value, 1, "an integer >= 1").value_or(1);
  }
  if (const Entry* e = Find(*entries, "execution")) ReadExecution(e->value);
  if (const Entry* e = Find(*entries, "output")) ReadOutput(e->value);
  if (const Entry* e = Find(*entries, "attributes")) ReadAttributes(e->value);
  if (config_.output.path.empty() && !config_.name.empty())
    config_.output.path = Resolve("results/" + config_.name + ".h5");
}

// The name becomes the default output file's name.
bool CanNameAFile(const std::string& name) {
  bool ok = !name.empty() && name[0] != '.' && name[0] != '-';
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  return ok;
}

void ConfigReader::ReadName(const Field& field) {
  std::optional<std::string> name = String(field, "a name");
  if (!name) return;
  if (!CanNameAFile(*name)) {
    Fail(field,
         "`" + *name + "` cannot name a file: use letters, digits, `_`, `-` and `.` (not first)");
    return;
  }
  config_.name = *name;
}

void ConfigReader::NameAfterFile(const Field& top) {
  const std::string stem = fs::path(config_.file).stem().string();
  if (!CanNameAFile(stem)) {
    Fail(top, "no `name`, and the file's stem `" + stem +
                  "` cannot name a file: give `name:` (letters, digits, `_`, `-` and `.`)");
    return;
  }
  config_.name = stem;
}

void ConfigReader::ReadSeed(const Field& field) {
  Scalar s = Classify(field.node);
  if (s.kind == Scalar::kInteger && s.integer >= 0) {
    config_.seed = uint64_t(s.integer);
    return;
  }
  if (s.out_of_range && s.text[0] != '-') {  // beyond int64 but perhaps within uint64
    errno = 0;
    unsigned long long v = std::strtoull(s.text.c_str(), nullptr, 10);
    if (errno != ERANGE) {
      config_.seed = v;
      return;
    }
  }
  Fail(field, "expected a non-negative integer, " + Got(s, field.node));
}

void ConfigReader::ReadKernel(const Entry& entry) {
  KernelSpec& kernel = config_.kernel;
  kernel.where = entry.key_field.where;
  std::optional<std::vector<Entry>> entries =
      Map(entry.value, "a map with one of `name`, `plugin`, `command` or `python`");
  if (!entries) return;
  RejectUnknown(*entries, kKernelKeys);
  std::vector<std::string> given;
  for (const char* key : {"name", "plugin", "command", "python"})
    if (Find(*entries, key)) given.push_back(key);
  if (given.size() != 1) {
    Fail(entry.value,
         given.empty()
             ? "missing `name`, `plugin`, `command` or `python` (give one)"
             : "give exactly one of `name`, `plugin`, `command` or `python`, got " + Quoted(given));
  }
  if (const Entry* e = Find(*entries, "name")) {
    kernel.name = String(e->value, "a built-in kernel name").value_or("");
  }
  if (const Entry* e = Find(*entries, "plugin")) {
    std::optional<std::string> path = Path(e->value, "a path to a shared library");
    if (path) kernel.plugin = *path;
  }
  if (const Entry* e = Find(*entries, "command")) {
    if (std::optional<std::vector<Field>> argv =
            List(e->value, 1, SIZE_MAX, "a non-empty list [program, arguments...]")) {
      for (const Field& arg : *argv) {
        // An argument may be "" (quoted); the program may not.
        bool program = &arg == &argv->front();
        if (!arg.node.IsScalar() || (program && arg.node.Scalar().empty())) {
          Fail(arg, std::string("expected ") + (program ? "a program, " : "an argument, ") +
                        Got(Classify(arg.node), arg.node));
          continue;
        }
        // The program is a path (`${SIM_HOME}/bin/sim`); the arguments are the program's own
        // text, `$` and all: no shell reads them.
        std::optional<std::string> text =
            program ? PathText(arg, arg.node.Scalar(), false) : arg.node.Scalar();
        kernel.command.push_back(text.value_or(arg.node.Scalar()));
        kernel.command_where.push_back(arg.where);
      }
    }
  }
  if (const Entry* e = Find(*entries, "python")) ReadPython(e->value);
  if (const Entry* e = Find(*entries, "options")) {
    if (std::optional<std::vector<Entry>> options = Map(e->value, "a map of option values")) {
      for (const Entry& option : *options) {
        std::optional<Value> value = ScalarValue(option.value, "a number or a string");
        if (!value) continue;
        kernel.options[option.key] = *value;
        kernel.option_where[option.key] = option.key_field.where;
      }
    }
  }
  const bool declares_outputs = Find(*entries, "command") || Find(*entries, "python");
  if (const Entry* e = Find(*entries, "outputs")) {
    if (declares_outputs) {
      ReadCommandOutputs(e->value);
    } else {
      Fail(e->key_field,
           "`outputs` is only for `command` and `python` kernels (other kernels declare their "
           "own)");
    }
  }
  if (const Entry* e = Find(*entries, "batch")) {
    if (!Find(*entries, "python")) {
      Fail(e->key_field, "`batch` is only for `python` kernels");
    } else {
      kernel.batch = Choice(e->value, "whether the function takes a block of points at once",
                            {"true", "false"}) == "true";
    }
  }
  // What only a program run in a work directory of its own has.
  for (const char* key : {"persistent", "files", "env", "results_file", "workdir"}) {
    const Entry* e = Find(*entries, key);
    if (e && !Find(*entries, "command"))
      Fail(e->key_field, "`" + std::string(key) + "` is only for `command` kernels");
  }
  if (!Find(*entries, "command")) return;
  if (const Entry* e = Find(*entries, "persistent")) ReadPersistent(e->value);
  if (const Entry* e = Find(*entries, "files")) ReadCommandFiles(e->value);
  if (const Entry* e = Find(*entries, "env")) ReadCommandEnv(e->value);
  if (const Entry* e = Find(*entries, "results_file")) {
    std::optional<std::string> name = String(e->value, "a file name in the work directory");
    const std::string problem = name ? WorkFileProblem(*name) : "";
    if (!problem.empty()) Fail(e->value, problem);
    if (name && problem.empty()) kernel.results_file = *name;
    for (const KernelSpec::CommandFile& f : kernel.command_files) {
      if (f.name == kernel.results_file) {
        Fail(e->value, "`" + f.name +
                           "` is also rendered by `files:`; the outputs would be read from the "
                           "template's text if the program did not write them");
      }
    }
  }
  if (const Entry* e = Find(*entries, "workdir")) ReadWorkdir(e->value);
  if (kernel.persistent) {
    if (const Entry* e = Find(*entries, "results_file")) {
      Fail(e->key_field,
           "`results_file` is not for a persistent program: it answers each point on stdout, "
           "one JSON line a point (stream/1)");
    }
  }
}

void ConfigReader::ReadPersistent(const Field& field) {
  KernelSpec& kernel = config_.kernel;
  if (field.node.IsMap()) {
    std::optional<std::vector<Entry>> keys = Map(field, "a map {max_points: N}");
    if (!keys) return;
    RejectUnknown(*keys, kPersistentKeys);
    kernel.persistent = true;
    if (const Entry* e = Find(*keys, "max_points")) {
      kernel.max_points = uint64_t(Integer(e->value, 1, "a number of points >= 1").value_or(0));
    }
    return;
  }
  const std::optional<std::string> on =
      Choice(field, "whether the program serves every point of its worker", {"true", "false"});
  kernel.persistent = on == "true";
}

// `model.py:simulate`, or `model.py` for its function `compute`: the text after the last `:` names
// the function when it is an identifier (a `:` may stand in a path).
void ConfigReader::ReadPython(const Field& field) {
  std::optional<std::string> text =
      String(field, "a Python file and function, `model.py:simulate`");
  if (!text) return;
  KernelSpec& kernel = config_.kernel;
  std::string file = *text;
  kernel.python_function = "compute";
  const size_t colon = text->rfind(':');
  if (colon != std::string::npos && IsIdentifier(text->substr(colon + 1))) {
    file = text->substr(0, colon);
    kernel.python_function = text->substr(colon + 1);
  } else if (colon != std::string::npos && colon + 1 == text->size()) {
    Fail(field, "`" + *text + "` names no function after its `:` (`model.py:simulate`)");
    return;
  }
  if (file.empty()) {
    Fail(field, "`" + *text + "` names no file (`model.py:simulate`)");
    return;
  }
  if (std::optional<std::string> path = PathText(field, file, true)) kernel.python = *path;
}

void ConfigReader::ReadCommandFiles(const Field& field) {
  std::optional<std::vector<Entry>> files =
      Map(field, "a map of file name in the work directory: template file");
  if (!files) return;
  std::vector<KernelSpec::CommandFile>& out = config_.kernel.command_files;
  for (const Entry& e : *files) {
    const std::string problem = WorkFileProblem(e.key);
    if (!problem.empty()) {
      Fail(e.key_field, problem);
      continue;
    }
    // `a` and `a/b` cannot both be: one would be a file and a folder at once.
    bool nested = false;
    for (const KernelSpec::CommandFile& f : out) {
      const std::string& shorter = f.name.size() < e.key.size() ? f.name : e.key;
      const std::string& longer = f.name.size() < e.key.size() ? e.key : f.name;
      if (longer.compare(0, shorter.size() + 1, shorter + "/") == 0) {
        Fail(e.key_field, "`" + shorter + "` is a file, so `" + longer + "` cannot be under it");
        nested = true;
      }
    }
    std::optional<std::string> path = String(e.value, "the path of a template file");
    if (!path || nested) continue;
    path = PathText(e.value, *path, true);
    if (path) out.push_back({e.key, *path, e.value.where});
  }
}

void ConfigReader::ReadWorkdir(const Field& field) {
  std::optional<std::vector<Entry>> keys = Map(field, "a map {root: ..., keep: ...}");
  if (!keys) return;
  RejectUnknown(*keys, kWorkdirKeys);
  KernelSpec::Workdir& workdir = config_.kernel.workdir;
  if (const Entry* e = Find(*keys, "root")) {
    std::optional<std::string> root = Path(e->value, "a folder path");
    if (root) workdir.root = *root;
  }
  if (const Entry* e = Find(*keys, "keep")) {
    std::optional<std::string> keep =
        Choice(e->value, "which work directories to keep", {"failed", "always", "never"});
    if (keep == "always") workdir.keep = KernelSpec::Workdir::Keep::kAlways;
    if (keep == "never") workdir.keep = KernelSpec::Workdir::Keep::kNever;
  }
}

void ConfigReader::ReadCommandEnv(const Field& field) {
  std::optional<std::vector<Entry>> variables = Map(field, "a map of variable name: value");
  if (!variables) return;
  for (const Entry& e : *variables) {
    if (!IsIdentifier(e.key)) {
      Fail(e.key_field, "`" + e.key +
                            "` cannot name an environment variable here: use letters, digits and "
                            "`_`, not starting with a digit");
      continue;
    }
    if (e.key == "SWEEP_POINT" || e.key == "SWEEP_SEED") {
      Fail(e.key_field, "`" + e.key + "` is set by sweep for each point");
      continue;
    }
    // Any scalar, as written: `1` and `"1"` are the same text to a program.
    if (!e.value.node.IsScalar() || Classify(e.value.node).kind == Scalar::kNull) {
      Fail(e.value, "expected the variable's value (a string; \"\" for an empty one), " +
                        Got(Classify(e.value.node), e.value.node));
      continue;
    }
    config_.kernel.command_env.push_back({e.key, e.value.node.Scalar(), e.value.where});
  }
}

void ConfigReader::ReadCommandOutputs(const Field& field) {
  std::optional<std::vector<Entry>> outputs =
      Map(field, "a map of output name: dtype, [dtype, dims...] or {dtype, shape, dims}");
  if (!outputs) return;
  const std::vector<std::string> dtypes(std::begin(kDtypes), std::end(kDtypes));
  for (const Entry& e : *outputs) {
    if (!IsIdentifier(e.key)) {
      Fail(e.key_field,
           "output name `" + e.key + "` is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
      continue;
    }
    KernelSpec::CommandOutput output;
    output.name = e.key;
    output.where = e.key_field.where;
    if (e.value.node.IsMap()) {
      if (ReadCommandOutputMap(e, &output)) config_.kernel.command_outputs.push_back(output);
      continue;
    }
    Field dtype = e.value;
    bool ok = true;
    if (e.value.node.IsSequence()) {
      std::optional<std::vector<Field>> items =
          List(e.value, 1, 1 + SWEEP_MAX_RANK,
               "[dtype, dims...] with at most " + std::to_string(SWEEP_MAX_RANK) + " dims");
      if (!items) continue;
      dtype = (*items)[0];
      for (size_t i = 1; i < items->size(); ++i) {
        std::optional<int64_t> dim = Integer((*items)[i], 1, "a positive dimension");
        ok = ok && dim.has_value();
        if (dim) output.shape.push_back(*dim);
      }
    }
    std::optional<std::string> d = Choice(dtype, "a dtype", dtypes);
    if (!d || !ok) continue;
    output.dtype = *d;
    config_.kernel.command_outputs.push_back(output);
  }
  CheckSharedDims(*outputs);
}

// `name: {dtype: float64, shape: [61], dims: [freq]}`.
bool ConfigReader::ReadCommandOutputMap(const Entry& e, KernelSpec::CommandOutput* output) {
  std::optional<std::vector<Entry>> keys = Map(e.value, "a map {dtype, shape, dims}");
  if (!keys || !RejectUnknown(*keys, kCommandOutputKeys)) return false;
  bool ok = true;
  const Entry* dtype = Find(*keys, "dtype");
  if (!dtype) {
    Fail(e.value,
         "missing `dtype` (one of " + Join({std::begin(kDtypes), std::end(kDtypes)}) + ")");
    ok = false;
  } else if (std::optional<std::string> d =
                 Choice(dtype->value, "a dtype", {std::begin(kDtypes), std::end(kDtypes)})) {
    output->dtype = *d;
  } else {
    ok = false;
  }
  if (const Entry* shape = Find(*keys, "shape")) {
    std::optional<std::vector<int64_t>> dims = Shape(shape->value, true);
    if (dims) output->shape = *dims;
    ok = ok && dims.has_value();
  }
  if (const Entry* dims = Find(*keys, "dims")) {
    std::optional<std::vector<Field>> names =
        List(dims->value, 0, SWEEP_MAX_RANK, "a list of dimension names, one per `shape` entry");
    if (!names) return false;
    for (const Field& n : *names) {
      std::optional<std::string> name = String(n, "a dimension name");
      if (!name) return false;
      if (!IsIdentifier(*name)) {
        Fail(n, "dimension name `" + *name + "` is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
        return false;
      }
      for (const char* reserved : kReservedNames) {
        if (*name == reserved) {
          Fail(n, "`" + *name + "` is reserved (it names a sweep dimension or a placeholder)");
          return false;
        }
      }
      if (std::find(output->dims.begin(), output->dims.end(), *name) != output->dims.end()) {
        Fail(n, "`" + *name + "` is named twice: each dimension of an output needs its own");
        return false;
      }
      output->dims.push_back(*name);
    }
    if (ok && output->dims.size() != output->shape.size()) {
      Fail(dims->value, "names " + std::to_string(output->dims.size()) + " dimension" +
                            (output->dims.size() == 1 ? "" : "s") + " for a shape of " +
                            std::to_string(output->shape.size()) +
                            " (give one name per `shape` entry)");
      return false;
    }
  }
  return ok;
}

// A dimension named by several outputs is one dimension of the file: their sizes must agree.
void ConfigReader::CheckSharedDims(const std::vector<Entry>& entries) {
  std::map<std::string, std::pair<int64_t, std::string>> sizes;  // dim -> size, first output
  for (const KernelSpec::CommandOutput& o : config_.kernel.command_outputs) {
    for (size_t d = 0; d < o.dims.size(); ++d) {
      const auto [it, first] = sizes.emplace(o.dims[d], std::make_pair(o.shape[d], o.name));
      if (first || it->second.first == o.shape[d]) continue;
      const Entry* e = Find(entries, o.name);
      Fail(e ? e->value : Field{},
           "dimension `" + o.dims[d] + "` has size " + std::to_string(o.shape[d]) + " here but " +
               std::to_string(it->second.first) + " in output `" + it->second.second +
               "`: outputs that share a dimension share its size");
    }
  }
}

void ConfigReader::ReadInputs(const Field& field) {
  std::optional<std::vector<Entry>> inputs = Map(field, "a map of input name: source");
  if (!inputs) return;
  for (const Entry& e : *inputs) {
    if (!IsIdentifier(e.key)) {
      Fail(e.key_field, "input name `" + e.key + "` is not an identifier ([A-Za-z_][A-Za-z0-9_]*)");
      continue;
    }
    ReadInput(e);
  }
}

std::optional<std::vector<int64_t>> ConfigReader::Shape(const Field& field, bool allow_empty) {
  std::optional<std::vector<Field>> dims =
      List(field, allow_empty ? 0 : 1, SWEEP_MAX_RANK,
           "a shape [dims...] of at most " + std::to_string(SWEEP_MAX_RANK) + " dims");
  if (!dims) return std::nullopt;
  std::vector<int64_t> shape;
  bool ok = true;
  for (const Field& d : *dims) {
    std::optional<int64_t> n = Integer(d, 1, "a positive dimension");
    ok = ok && n.has_value();
    if (n) shape.push_back(*n);
  }
  if (!ok) return std::nullopt;
  return shape;
}

void ConfigReader::ReadInput(const Entry& entry) {
  InputSpec input;
  input.name = entry.key;
  input.where = entry.key_field.where;
  std::optional<std::vector<Entry>> keys =
      Map(entry.value, "a map with one source: hdf5, npy, raw or generate");
  if (!keys) return;
  RejectUnknown(*keys, kInputKeys);
  std::vector<std::string> sources;
  for (const char* key : {"hdf5", "npy", "raw", "generate"})
    if (Find(*keys, key)) sources.push_back(key);
  if (sources.size() != 1) {
    Fail(entry.value, sources.empty() ? "missing a source: give one of `hdf5`, `npy`, `raw` or "
                                        "`generate`"
                                      : "give exactly one source, got " + Quoted(sources));
    return;
  }
  const std::string& source = sources[0];
  // Which keys each source takes besides its own, and which of those it needs.
  std::vector<std::string> takes, needs;
  if (source == "hdf5") {
    input.kind = InputSpec::Kind::kHdf5;
    takes = needs = {"dataset"};
  } else if (source == "npy") {
    input.kind = InputSpec::Kind::kNpy;
  } else if (source == "raw") {
    input.kind = InputSpec::Kind::kRaw;
    takes = needs = {"dtype", "shape"};
  } else {
    input.kind = InputSpec::Kind::kGenerate;
    takes = {"shape", "seed", "dtype"};
    needs = {"shape"};
  }
  bool ok = true;
  for (const Entry& k : *keys) {
    if (k.key == source || std::find(takes.begin(), takes.end(), k.key) != takes.end()) continue;
    if (k.key == "hdf5" || k.key == "npy" || k.key == "raw" || k.key == "generate") continue;
    if (k.key == "dataset" || k.key == "dtype" || k.key == "shape" || k.key == "seed") {
      Fail(k.key_field, "`" + k.key + "` does not apply to a `" + source + "` input");
      ok = false;
    }
  }
  for (const std::string& key : needs) {
    if (!Find(*keys, key)) {
      Fail(entry.value, "a `" + source + "` input needs `" + key + "`");
      ok = false;
    }
  }
  const Entry* main = Find(*keys, source);
  if (source == "generate") {
    std::optional<std::string> d =
        Choice(main->value, "a distribution", {"normal", "uniform", "zeros", "arange"});
    ok = ok && d.has_value();
    input.distribution = d.value_or("");
  } else {
    std::optional<std::string> path = Path(main->value, "a file path");
    ok = ok && path.has_value();
    if (path) input.path = *path;
  }
  if (const Entry* e = Find(*keys, "dataset"); e && input.kind == InputSpec::Kind::kHdf5) {
    std::optional<std::string> dataset = String(e->value, "a dataset path like /group/name");
    ok = ok && dataset.has_value();
    input.dataset = dataset.value_or("");
  }
  if (const Entry* e = Find(*keys, "dtype"); e && source != "hdf5" && source != "npy") {
    std::optional<std::string> dtype = Choice(
        e->value, "a dtype", std::vector<std::string>(std::begin(kDtypes), std::end(kDtypes)));
    ok = ok && dtype.has_value();
    if (dtype) input.dtype = *dtype;
  }
  if (const Entry* e = Find(*keys, "shape"); e && source != "hdf5" && source != "npy") {
    std::optional<std::vector<int64_t>> shape = Shape(e->value, false);
    ok = ok && shape.has_value();
    if (shape) input.shape = *shape;
  }
  if (const Entry* e = Find(*keys, "seed"); e && source == "generate") {
    std::optional<int64_t> seed = Integer(e->value, 0, "a non-negative integer");
    ok = ok && seed.has_value();
    input.seed = uint64_t(seed.value_or(0));
  }
  if (ok) config_.inputs.push_back(input);
}

void ConfigReader::ReadSampling(const Entry& entry) {
  SamplingSpec& sampling = config_.sampling;
  sampling.where = entry.key_field.where;
  std::optional<std::vector<Entry>> keys = Map(entry.value, "a map {method: ..., n: ...}");
  if (!keys) return;
  RejectUnknown(*keys, kSamplingKeys);
  const Entry* method = Find(*keys, "method");
  const Entry* n = Find(*keys, "n");
  if (!method) Fail(entry.value, "missing `method` (uniform | lhs | sobol)");
  if (!n) Fail(entry.value, "missing `n` (the number of samples)");
  if (method) {
    std::optional<std::string> m = Choice(method->value, "a method", {"uniform", "lhs", "sobol"});
    if (m == "uniform") sampling.method = SamplingSpec::Method::kUniform;
    if (m == "lhs") sampling.method = SamplingSpec::Method::kLhs;
    if (m == "sobol") sampling.method = SamplingSpec::Method::kSobol;
  }
  // Even a broken `sampling:` decides how parameters are read, so that each error shows once.
  if (sampling.method == SamplingSpec::Method::kNone)
    sampling.method = SamplingSpec::Method::kUniform;
  if (n) sampling.n = Integer(n->value, 1, "an integer >= 1").value_or(0);
}

void ConfigReader::ReadParameters(const Entry& entry) {
  std::optional<std::vector<Entry>> entries = Map(entry.value, "a map of parameter name: axis");
  if (!entries) return;
  if (entries->empty()) {
    Fail(entry.value, "no parameters (give at least one)");
    return;
  }
  bool sampled = config_.sampling.method != SamplingSpec::Method::kNone;
  int sampled_axes = 0;
  for (const Entry& e : *entries) {
    bool named = true;
    if (!IsIdentifier(e.key)) {
      Fail(e.key_field, "parameter name `" + e.key +
                            "` is not an identifier ([A-Za-z_][A-Za-z0-9_]*): it names an HDF5 "
                            "dataset and a {placeholder}");
      named = false;
    } else if (std::find(std::begin(kReservedNames), std::end(kReservedNames), e.key) !=
               std::end(kReservedNames)) {
      Fail(e.key_field, "parameter name `" + e.key + "` is reserved (" +
                            Join({std::begin(kReservedNames), std::end(kReservedNames)}) + ")");
      named = false;
    }
    AxisSpec axis;
    axis.name = e.key;
    axis.where = e.key_field.where;
    Field kind_field = e.value;
    if (!ReadAxis(e.value, &axis, &kind_field) || !named) {
      broken_parameters_.insert(e.key);
      if (!named) continue;
    }
    bool grid = axis.kind != AxisSpec::Kind::kConstant && axis.kind != AxisSpec::Kind::kUniform &&
                axis.kind != AxisSpec::Kind::kLogUniform;
    bool continuous =
        axis.kind == AxisSpec::Kind::kUniform || axis.kind == AxisSpec::Kind::kLogUniform;
    if (!broken_parameters_.count(e.key)) {
      if (sampled && grid) {
        Fail(kind_field,
             "a grid axis cannot be combined with `sampling:`; sample it with "
             "{uniform: [low, high]} or {loguniform: [low, high]}");
        broken_parameters_.insert(e.key);
      } else if (!sampled && continuous) {
        Fail(kind_field,
             "{uniform}/{loguniform} axes need `sampling:`; for a grid use {linspace} or "
             "{logspace}");
        broken_parameters_.insert(e.key);
      }
    }
    sampled_axes += continuous;
    config_.parameters.push_back(axis);
  }
  if (sampled && sampled_axes == 0) {
    Fail({entry.value.node, "sampling", config_.sampling.where},
         "nothing to sample: no parameter is {uniform: [low, high]} or {loguniform: [low, high]}");
  }
}

// Fills *axis from a parameter's value; false (reported) if it is malformed. *kind_field is
// set to the `linspace:`... key of a map.
bool ConfigReader::ReadAxis(const Field& field, AxisSpec* axis, Field* kind_field) {
  Scalar s = Classify(field.node);
  if (s.kind == Scalar::kNull) {
    Fail(field,
         "expected a constant or an axis like {linspace: [start, stop, count]}, got nothing");
    return false;
  }
  if (field.node.IsSequence()) {
    Fail(field, "a list is not an axis: write {values: [...]}");
    return false;
  }
  if (!field.node.IsMap()) return ReadConstant(field, s, axis);
  const std::vector<std::string>& kinds = kAxisKeys.keys;
  std::vector<Entry> entries = *Map(field, "");
  bool known = RejectUnknown(entries, kAxisKeys);
  std::vector<std::string> given;
  for (const Entry& e : entries)
    if (std::find(kinds.begin(), kinds.end(), e.key) != kinds.end()) given.push_back(e.key);
  if (given.size() != 1) {
    if (given.empty() && entries.empty())
      Fail(field, "expected one of " + Quoted(kinds) + ", got an empty map");
    else if (given.size() > 1)
      Fail(field, "give exactly one of " + Quoted(kinds) + ", got " + Quoted(given));
    return false;
  }
  const Entry& e = *Find(entries, given[0]);
  const Field& v = e.value;
  *kind_field = e.key_field;
  // The kind is known even if its numbers are wrong: later checks rely on it.
  static const std::map<std::string, AxisSpec::Kind> kKinds = {
      {"linspace", AxisSpec::Kind::kLinspace}, {"logspace", AxisSpec::Kind::kLogspace},
      {"values", AxisSpec::Kind::kValues},     {"range", AxisSpec::Kind::kRange},
      {"uniform", AxisSpec::Kind::kUniform},   {"loguniform", AxisSpec::Kind::kLogUniform}};
  axis->kind = kKinds.at(given[0]);
  if (!known) return false;
  if (given[0] == "linspace" || given[0] == "logspace") return ReadSpaced(v, given[0], axis);
  if (given[0] == "uniform" || given[0] == "loguniform") return ReadSampled(v, given[0], axis);
  if (given[0] == "range") return ReadRange(v, axis);
  return ReadValues(v, axis);
}

bool ConfigReader::ReadConstant(const Field& field, const Scalar& s, AxisSpec* axis) {
  std::optional<Value> v = ScalarValue(field, "a constant");
  if (!v) return false;
  if (v->type == Value::Type::kNumber && !std::isfinite(v->number)) {
    Fail(field, "expected a finite number, got " + s.text);
    return false;
  }
  axis->kind = AxisSpec::Kind::kConstant;
  axis->values = {*v};
  return true;
}

// linspace or logspace: [start, stop, count].
bool ConfigReader::ReadSpaced(const Field& v, const std::string& kind, AxisSpec* axis) {
  bool log = kind == "logspace";
  std::string expected =
      log ? "3 numbers [start exponent, stop exponent, count]" : "3 numbers [start, stop, count]";
  std::optional<std::vector<Field>> items = List(v, 3, 3, expected);
  if (!items) return false;
  std::optional<double> start = Number((*items)[0], "a number (start)");
  std::optional<double> stop = Number((*items)[1], "a number (stop)");
  std::optional<int64_t> count = Integer((*items)[2], 1, "an integer count >= 1");
  if (!start || !stop || !count) return false;
  if (log && !(std::isfinite(std::pow(10.0, *start)) && std::isfinite(std::pow(10.0, *stop)))) {
    Fail(v, "10^" + fmt::format("{}", std::max(*start, *stop)) + " overflows a double");
    return false;
  }
  // An infinite step would make the points inf and nan (0 * inf).
  if (!std::isfinite(*stop - *start)) {
    Fail(v, fmt::format("stop - start overflows a double, got [{}, {}]", *start, *stop));
    return false;
  }
  axis->kind = log ? AxisSpec::Kind::kLogspace : AxisSpec::Kind::kLinspace;
  axis->start = *start;
  axis->stop = *stop;
  axis->count = *count;
  return true;
}

// uniform or loguniform: [low, high].
bool ConfigReader::ReadSampled(const Field& v, const std::string& kind, AxisSpec* axis) {
  bool log = kind == "loguniform";
  std::optional<std::vector<Field>> items = List(v, 2, 2, "2 numbers [low, high]");
  if (!items) return false;
  std::optional<double> low = Number((*items)[0], "a number (low)");
  std::optional<double> high = Number((*items)[1], "a number (high)");
  if (!low || !high) return false;
  if (!(*low < *high)) {
    Fail(v, "low must be below high, got [" + fmt::format("{}, {}", *low, *high) + "]");
    return false;
  }
  if (log && *low <= 0) {
    Fail(v, "loguniform needs 0 < low, got " + fmt::format("{}", *low));
    return false;
  }
  // low + (high - low) * u would be inf or nan (0 * inf).
  if (!log && !std::isfinite(*high - *low)) {
    Fail(v, fmt::format("high - low overflows a double, got [{}, {}]", *low, *high));
    return false;
  }
  axis->kind = log ? AxisSpec::Kind::kLogUniform : AxisSpec::Kind::kUniform;
  axis->start = *low;
  axis->stop = *high;
  return true;
}

// range: [start, stop] or [start, stop, step].
bool ConfigReader::ReadRange(const Field& v, AxisSpec* axis) {
  std::optional<std::vector<Field>> items =
      List(v, 2, 3, "2 or 3 integers [start, stop] or [start, stop, step]");
  if (!items) return false;
  std::optional<int64_t> start = Integer((*items)[0], INT64_MIN, "an integer (start)");
  std::optional<int64_t> stop = Integer((*items)[1], INT64_MIN, "an integer (stop)");
  std::optional<int64_t> step = int64_t{1};
  if (items->size() == 3) step = Integer((*items)[2], INT64_MIN, "an integer (step)");
  if (!start || !stop || !step) return false;
  if (*step == 0) {
    Fail((*items)[2], "step must not be 0");
    return false;
  }
  if ((*step > 0 && *start >= *stop) || (*step < 0 && *start <= *stop)) {
    Fail(v, fmt::format("empty range: no integers from {} to {} (excluded) by step {}", *start,
                        *stop, *step));
    return false;
  }
  axis->kind = AxisSpec::Kind::kRange;
  axis->range_start = *start;
  axis->range_stop = *stop;
  axis->range_step = *step;
  return true;
}

// values: a non-empty list of numbers or of strings.
bool ConfigReader::ReadValues(const Field& v, AxisSpec* axis) {
  std::optional<std::vector<Field>> items = List(v, 1, SIZE_MAX, "a non-empty list of values");
  if (!items) return false;
  bool ok = true, numbers = false, strings = false, all_integers = true;
  std::vector<Value> values;
  for (const Field& item : *items) {
    std::optional<Value> value = ScalarValue(item, "a number or a string");
    if (!value) {
      ok = false;
      continue;
    }
    if (value->type == Value::Type::kString) {
      strings = true;
    } else {
      numbers = true;
      all_integers = all_integers && value->type == Value::Type::kInteger;
      if (!std::isfinite(value->number)) {
        Fail(item, "expected a finite number, got " + Classify(item.node).text);
        ok = false;
      }
    }
    values.push_back(*value);
  }
  if (!ok) return false;
  if (numbers && strings) {
    Fail(v, "values mix numbers and strings (quote the numbers to make them all strings)");
    return false;
  }
  if (numbers && !all_integers) {
    for (Value& value : values) value = Value::Number(value.number);
  }
  value_items_[axis->name] = {v, *items};
  axis->kind = AxisSpec::Kind::kValues;
  axis->values = std::move(values);
  return true;
}

void ConfigReader::ReadZip(const Field& field) {
  if (config_.sampling.method != SamplingSpec::Method::kNone) {
    Fail(field, "not allowed with `sampling:` (a sampled sweep has no grid axes to zip)");
    return;
  }
  std::optional<std::vector<Field>> groups =
      List(field, 0, SIZE_MAX, "a list of groups like [[sigma, n]]");
  if (!groups) return;
  std::map<std::string, size_t> group_of;
  std::vector<std::string> names;
  for (const AxisSpec& axis : config_.parameters) names.push_back(axis.name);
  for (size_t g = 0; g < groups->size(); ++g) {
    const Field& group = (*groups)[g];
    std::optional<std::vector<Field>> members =
        List(group, 2, SIZE_MAX, "a group of at least 2 parameter names");
    if (!members) continue;
    std::vector<std::string> zipped;
    std::vector<const AxisSpec*> axes;
    bool ok = true;
    for (const Field& member : *members) {
      std::optional<std::string> name = String(member, "a parameter name");
      if (!name) {
        ok = false;
        continue;
      }
      zipped.push_back(*name);
      const AxisSpec* axis = config_.FindParameter(*name);
      if (!axis && broken_parameters_.count(*name)) {
        ok = false;
        continue;
      }
      if (!axis) {
        std::string close = ClosestMatch(*name, names);
        Fail(member, "unknown parameter `" + *name + "`" +
                         (close.empty() ? "" : " (did you mean `" + close + "`?)"));
        ok = false;
        continue;
      }
      if (broken_parameters_.count(*name)) {  // reported already; its length is unknown
        group_of.emplace(*name, g);
        ok = false;
        continue;
      }
      if (axis->kind == AxisSpec::Kind::kConstant) {
        Fail(member, "`" + *name + "` is a constant; only swept parameters can be zipped");
        ok = false;
        continue;
      }
      auto [it, fresh] = group_of.emplace(*name, g);
      if (!fresh) {
        Fail(member, it->second == g
                         ? "`" + *name + "` appears twice in this group"
                         : "`" + *name + "` is already in zip group " + std::to_string(it->second));
        ok = false;
        continue;
      }
      axes.push_back(axis);
    }
    if (!ok) continue;
    std::vector<std::string> lengths;
    bool equal = true;
    for (const AxisSpec* axis : axes) {
      lengths.push_back(std::to_string(AxisLength(*axis)));
      equal = equal && AxisLength(*axis) == AxisLength(*axes[0]);
    }
    if (!equal) {
      Fail(group,
           "zip group [" + Join(zipped) + "]: lengths differ (" + Join(lengths, " vs ") + ")");
      continue;
    }
    config_.zip.push_back(zipped);
    config_.zip_where.push_back(group.where);
  }
}

// The `values:` of a grid axis are its coordinate: a value twice would select two points for one
// label (xarray's .sel(x=1)) and break searches (method="nearest"); CF wants coordinates unique
// and monotonic. A zipped parameter is not a coordinate of its own and may repeat values.
void ConfigReader::CheckGridValues() {
  std::set<std::string> zipped;
  for (const std::vector<std::string>& group : config_.zip)
    zipped.insert(group.begin(), group.end());
  for (const AxisSpec& axis : config_.parameters) {
    const auto items = value_items_.find(axis.name);
    if (axis.kind != AxisSpec::Kind::kValues || items == value_items_.end() ||
        zipped.count(axis.name) || broken_parameters_.count(axis.name)) {
      continue;
    }
    const std::vector<Value>& values = axis.values;
    std::vector<size_t> order(values.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    const bool strings = values[0].type == Value::Type::kString;
    auto less = [&](size_t a, size_t b) {
      if (strings) return values[a].string < values[b].string;
      if (values[a].type == Value::Type::kInteger) return values[a].integer < values[b].integer;
      return values[a].number < values[b].number;
    };
    std::stable_sort(order.begin(), order.end(), less);
    for (size_t i = 1; i < order.size(); ++i) {
      if (less(order[i - 1], order[i])) continue;
      const size_t first = std::min(order[i - 1], order[i]);
      const size_t again = std::max(order[i - 1], order[i]);
      Fail(items->second.second[again],
           "`" + values[again].ToString() + "` is also item " + std::to_string(first) +
               " of the list: an axis takes each value once (`repeat:` "
               "makes replicates)");
    }
    if (strings) continue;
    bool increasing = true, decreasing = true;
    for (size_t i = 1; i < values.size(); ++i) {
      increasing = increasing && less(i - 1, i);
      decreasing = decreasing && less(i, i - 1);
    }
    if (!increasing && !decreasing) {
      Note(items->second.first,
           "the values are not sorted: they are kept in the order given, but CF wants a "
           "coordinate monotonic, and xarray's .sel(method=\"nearest\") and slices by value need "
           "a sorted index (`ds.sortby(\"" +
               axis.name + "\")` makes one)");
    }
  }
}

void ConfigReader::ReadAttributes(const Field& field) {
  std::optional<std::vector<Entry>> names =
      Map(field, "a map of variable name: {units: ..., long_name: ...}");
  if (!names) return;
  for (const Entry& e : *names) {
    if (!IsIdentifier(e.key)) {
      Fail(e.key_field, "`" + e.key + "` is not the name of a parameter or an output");
      continue;
    }
    std::optional<std::vector<Entry>> keys = Map(e.value, "a map like {units: m, long_name: ...}");
    if (!keys) continue;
    RejectUnknown(*keys, kAttributeKeys);
    AttributesSpec spec;
    spec.name = e.key;
    spec.where = e.key_field.where;
    for (const Entry& k : *keys) {
      if (std::find(kAttributeKeys.keys.begin(), kAttributeKeys.keys.end(), k.key) ==
          kAttributeKeys.keys.end())
        continue;
      if (std::optional<std::string> text = String(k.value, "a text")) {
        spec.values.emplace_back(k.key, *text);
      }
    }
    config_.attributes.push_back(std::move(spec));
  }
}

void ConfigReader::ReadExecution(const Field& field) {
  std::optional<std::vector<Entry>> keys = Map(field, "a map of execution settings");
  if (!keys) return;
  ExecutionSpec& x = config_.execution;
  RejectUnknown(*keys, kExecutionKeys);
  // A count or `auto` (0).
  auto count_or_auto = [&](const Field& f, int64_t max) -> std::optional<int64_t> {
    Scalar s = Classify(f.node);
    if (s.kind == Scalar::kString && s.text == "auto") return 0;
    if (s.kind == Scalar::kInteger && s.integer >= 1 && s.integer <= max) return s.integer;
    Fail(f, "expected a positive integer or `auto`, " + Got(s, f.node));
    return std::nullopt;
  };
  if (const Entry* e = Find(*keys, "workers")) {
    x.workers = int(count_or_auto(e->value, 1 << 20).value_or(0));
  }
  if (const Entry* e = Find(*keys, "chunk_size")) {
    x.chunk_size = count_or_auto(e->value, INT64_MAX).value_or(0);
  }
  if (const Entry* e = Find(*keys, "schedule")) {
    std::optional<std::string> s = Choice(e->value, "a schedule", {"dynamic", "static"});
    if (s == "static") x.schedule = ExecutionSpec::Schedule::kStatic;
  }
  if (const Entry* e = Find(*keys, "start")) {
    std::optional<std::string> s =
        Choice(e->value, "a start method", {"spawn", "fork", "forkserver"});
    if (s == "fork") x.start = ExecutionSpec::Start::kFork;
    if (s == "forkserver") x.start = ExecutionSpec::Start::kForkserver;
  }
  if (const Entry* e = Find(*keys, "threads")) {
    // Checked before narrowing to int, as retries are.
    const int64_t threads = Integer(e->value, 1, "an integer >= 1").value_or(x.threads);
    if (threads > kMaxThreadsPerWorker) {
      Fail(e->value, "at most " + std::to_string(kMaxThreadsPerWorker) + " threads per worker");
    } else {
      x.threads = int(threads);
    }
  }
  if (const Entry* e = Find(*keys, "timeout")) {
    Scalar s = Classify(e->value.node);
    std::optional<double> seconds;
    if (s.kind == Scalar::kString && s.text == "none") {
      seconds = 0;
    } else if (s.kind != Scalar::kNull && s.kind != Scalar::kCollection) {
      seconds = ParseDuration(s.text);
    }
    if (seconds) {
      x.timeout_seconds = *seconds;
    } else {
      Fail(e->value,
           "expected a duration like 90s, 5m, 1.5h, 250ms or `none`, " + Got(s, e->value.node));
    }
  }
  if (const Entry* e = Find(*keys, "retries")) {
    // Checked before narrowing to int, which would let 2^32 + 1 through as 1.
    const int64_t retries = Integer(e->value, 0, "an integer >= 0").value_or(x.retries);
    if (retries > kMaxRetries) {
      Fail(e->value, "at most " + std::to_string(kMaxRetries) +
                         " retries (each waits up to 30 s after the one before)");
    } else {
      x.retries = int(retries);
    }
  }
  if (const Entry* e = Find(*keys, "max_failures")) {
    Scalar s = Classify(e->value.node);
    if (s.kind == Scalar::kString && s.text == "none") {
      x.max_failures = 0;
    } else if (s.kind == Scalar::kInteger && s.integer >= 1) {
      x.max_failures = uint64_t(s.integer);
    } else {
      Fail(e->value, "expected a number of failed chunks >= 1 or `none`, " + Got(s, e->value.node));
    }
  }
  if (const Entry* e = Find(*keys, "gpus")) ReadGpus(e->value);
  if (const Entry* e = Find(*keys, "memory_limit")) {
    Scalar s = Classify(e->value.node);
    std::optional<uint64_t> bytes;
    if (s.kind == Scalar::kString && s.text == "none") {
      bytes = 0;
    } else if (s.kind != Scalar::kNull && s.kind != Scalar::kCollection) {
      bytes = ParseSize(s.text);
    }
    if (bytes) {
      x.memory_limit_bytes = *bytes;
    } else {
      Fail(e->value, "expected a size like 512MiB, 4GiB, 1.5GB, a number of bytes, or `none`, " +
                         Got(s, e->value.node));
    }
  }
}

void ConfigReader::ReadGpus(const Field& field) {
  ExecutionSpec& x = config_.execution;
  const Scalar s = Classify(field.node);
  if (s.kind == Scalar::kString && (s.text == "none" || s.text == "auto")) {
    x.gpus = s.text == "auto" ? ExecutionSpec::Gpus::kAuto : ExecutionSpec::Gpus::kNone;
    return;
  }
  const std::string expected =
      "`none`, `auto` or a list of devices like [0, 1] (indices, or names as "
      "CUDA_VISIBLE_DEVICES takes them)";
  if (!field.node.IsSequence()) {
    Fail(field, "expected " + expected + ", " + Got(s, field.node));
    return;
  }
  std::optional<std::vector<Field>> items = List(field, 1, 4096, "a list of 1 to 4096 devices");
  if (!items) return;
  std::vector<std::string> devices;
  for (const Field& item : *items) {
    const Scalar d = Classify(item.node);
    const bool index = d.kind == Scalar::kInteger && d.integer >= 0;
    // A name: what CUDA_VISIBLE_DEVICES and its kin take (GPU-<uuid>, MIG-<uuid>), never a list.
    const bool name = d.kind == Scalar::kString && !d.text.empty() &&
                      d.text.find_first_of(", \t\n=") == std::string::npos;
    if (!index && !name) {
      Fail(item, "expected a device index >= 0 or a device name without commas or spaces, " +
                     Got(d, item.node));
      continue;
    }
    const std::string device = index ? std::to_string(d.integer) : d.text;
    if (std::find(devices.begin(), devices.end(), device) != devices.end()) {
      Fail(item, "device " + device +
                     " is listed twice (workers beyond the devices share them "
                     "round robin)");
      continue;
    }
    devices.push_back(device);
  }
  x.gpus = ExecutionSpec::Gpus::kList;
  x.gpu_devices = std::move(devices);
}

void ConfigReader::ReadOutput(const Field& field) {
  std::optional<std::vector<Entry>> keys = Map(field, "a map {path: ...}");
  if (!keys) return;
  RejectUnknown(*keys, kOutputKeys);
  if (const Entry* e = Find(*keys, "path")) {
    std::optional<std::string> path = Path(e->value, "a file path");
    if (path) config_.output.path = *path;
  }
}

struct Segment {
  std::string key;
  std::vector<size_t> indices;  // key[1][2]
};

// Parses "parameters.rho.linspace" or "zip[0]" into segments; nullopt if malformed.
std::optional<std::vector<Segment>> ParseKeyPath(const std::string& path) {
  std::vector<Segment> segments;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('.', begin);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(begin, end - begin);
    Segment segment;
    size_t bracket = part.find('[');
    segment.key = part.substr(0, bracket);
    if (segment.key.empty()) return std::nullopt;
    while (bracket != std::string::npos) {
      size_t close = part.find(']', bracket);
      if (close == std::string::npos || !IsDigits(part, bracket + 1, close)) return std::nullopt;
      segment.indices.push_back(std::stoul(part.substr(bracket + 1, close - bracket - 1)));
      if (close + 1 < part.size() && part[close + 1] != '[') return std::nullopt;
      bracket = close + 1 < part.size() ? close + 1 : std::string::npos;
    }
    segments.push_back(segment);
    begin = end + 1;
  }
  return segments;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Sets `key.path=value` into the document; the normalized key path, or nullopt (reported).
std::optional<std::string> ApplyOverride(YAML::Node root, const std::string& text,
                                         std::vector<Diagnostic>* diagnostics) {
  auto fail = [&](const std::string& message) {
    diagnostics->push_back({{"--set", 0, 0}, text, message});
    return std::nullopt;
  };
  size_t eq = text.find('=');
  if (eq == std::string::npos) return fail("expected key.path=value");
  std::string path = Trim(text.substr(0, eq));
  if (path.empty()) return fail("empty key path (expected key.path=value)");
  std::optional<std::vector<Segment>> segments = ParseKeyPath(path);
  if (!segments) return fail("malformed key path `" + path + "` (expected names like a.b or a[0])");
  YamlSource value = ParseYaml(text.substr(eq + 1), "--set");
  if (!value.diagnostics.empty()) {
    const Diagnostic& d = value.diagnostics[0];
    return fail("bad value: " + d.message);
  }
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) return fail("the config is not a map");

  std::string normalized;
  YAML::Node node = root;
  for (size_t i = 0; i < segments->size(); ++i) {
    const Segment& s = (*segments)[i];
    if (node.IsDefined() && !node.IsNull() && !node.IsMap())
      return fail("`" + normalized + "` is not a map");
    normalized += (normalized.empty() ? "" : ".") + s.key;
    bool last = i + 1 == segments->size();
    if (last && s.indices.empty()) {
      node[s.key] = value.root;
      break;
    }
    // reset(), not assignment: assigning a handle would overwrite the node it refers to.
    node.reset(node[s.key]);
    for (size_t k = 0; k < s.indices.size(); ++k) {
      if (!node.IsSequence() || s.indices[k] >= node.size())
        return fail("`" + normalized + "` has no item " + std::to_string(s.indices[k]));
      normalized += "[" + std::to_string(s.indices[k]) + "]";
      if (last && k + 1 == s.indices.size()) {
        YAML::Node item = node[s.indices[k]];
        item = value.root;
      } else {
        node.reset(node[s.indices[k]]);
      }
    }
  }
  return normalized;
}

std::string Folder(const std::string& file) {
  std::error_code ec;
  fs::path parent = fs::path(file).parent_path();
  fs::path folder = parent.empty() ? fs::current_path(ec) : fs::absolute(parent, ec);
  return folder.lexically_normal().string();
}

// Strings travel to kernels, command lines and the output file as C strings, where a NUL would
// silently cut them, and to workers and the output as UTF-8 (JSON, HDF5 and netCDF text), which
// other bytes would break far from the config: both refused wherever they are in the document,
// key or value. Aliases share nodes,
// so a document may be a cycle (`&v [1, *v]`) or expand exponentially (aliases of aliases): the
// walk stops at a depth, and after as many nodes as the text could hold without aliases (each
// takes at least a byte of it), so that every node of an alias-free document is seen and a
// document of 400 bytes whose aliases expand without end costs microseconds, not the seconds of
// a walk of millions of shared nodes (the config fuzzer's timeout). The reader refuses such
// documents for their shape.
constexpr int kMaxWalkDepth = 64;
constexpr int64_t kMaxWalkNodes = 2'000'000;
int64_t WalkBudget(const std::string& text) {
  return std::min<int64_t>(kMaxWalkNodes, int64_t(text.size()) + 16);
}

// Whether `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool IsUtf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    int more = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      more = 1, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      more = 2, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      more = 3, code = c & 0x07;
    } else {
      return false;
    }
    for (int k = 1; k <= more; ++k) {
      if (i + size_t(k) >= n || (s[i + size_t(k)] & 0xC0) != 0x80) return false;
      code = (code << 6) | (s[i + size_t(k)] & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[more] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += size_t(more) + 1;
  }
  return true;
}

void RefuseNulCharacters(const YAML::Node& node, const std::string& file, const std::string& key,
                         std::vector<Diagnostic>* diagnostics, int depth = 0,
                         int64_t* budget = nullptr) {
  int64_t nodes = kMaxWalkNodes;
  if (!budget) budget = &nodes;
  if (depth > kMaxWalkDepth || --*budget < 0) return;
  const auto where = [&](const YAML::Node& n) {
    return n.Mark().is_null() ? SourceLocation{file, 0, 0}
                              : SourceLocation{file, n.Mark().line + 1, n.Mark().column + 1};
  };
  if (node.IsScalar() && node.Scalar().find('\0') != std::string::npos) {
    diagnostics->push_back({where(node), key, "a NUL character inside a string is not supported"});
  } else if (node.IsScalar() && !IsUtf8(node.Scalar())) {
    diagnostics->push_back({where(node), key, "not UTF-8 text (save the config as UTF-8)"});
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      RefuseNulCharacters(node[i], file, key + "[" + std::to_string(i) + "]", diagnostics,
                          depth + 1, budget);
  } else if (node.IsMap()) {
    for (const auto& item : node) {
      const std::string name = item.first.IsScalar() ? item.first.Scalar() : "?";
      const std::string path = key.empty() ? name : key + "." + name;
      if (name.find('\0') != std::string::npos) {
        diagnostics->push_back(
            {where(item.first), key, "a NUL character inside a key is not supported"});
      } else if (!IsUtf8(name)) {
        diagnostics->push_back(
            {where(item.first), key, "a key that is not UTF-8 text (save the config as UTF-8)"});
      }
      RefuseNulCharacters(item.second, file, path, diagnostics, depth + 1, budget);
    }
  }
}

}  // namespace

const std::vector<ConfigKeys>& KnownConfigKeys() {
  static const std::vector<ConfigKeys> tables = {kTopKeys,       kKernelKeys, kWorkdirKeys,
                                                 kInputKeys,     kAxisKeys,   kSamplingKeys,
                                                 kExecutionKeys, kOutputKeys, kAttributeKeys};
  return tables;
}

namespace {

std::string HostNameText() {
  char host[256] = "";
  gethostname(host, sizeof host - 1);
  return std::string("on ") + (host[0] ? host : "this host");
}

// The key of the command kernel's program: a bare name is looked up in PATH, so its expansion is
// used as written, not taken against the config's folder (driver/command_binding.h).
const char kProgramKey[] = "kernel.command[0]";

unsigned UseOf(const std::string& key) {
  if (key == "output.path") return kOutputPath;
  if (key == "kernel.workdir.root") return kWorkdirPath;
  if (key.rfind("kernel.", 0) == 0) return kKernelPaths;
  return kInputPaths;
}

// The field a template's key names. REQUIRES: the key of one of config's templates.
std::string* PathField(Config* config, const std::string& key) {
  KernelSpec& kernel = config->kernel;
  if (key == "output.path") return &config->output.path;
  if (key == "kernel.workdir.root") return &kernel.workdir.root;
  if (key == "kernel.python") return &kernel.python;
  if (key == "kernel.plugin") return &kernel.plugin;
  if (key == kProgramKey && !kernel.command.empty()) return &kernel.command[0];
  for (KernelSpec::CommandFile& file : kernel.command_files)
    if (key == "kernel.files." + file.name) return &file.template_path;
  for (InputSpec& input : config->inputs) {
    if (key.rfind("inputs." + input.name + ".", 0) == 0 &&
        key.find('.', 8 + input.name.size()) == std::string::npos)
      return &input.path;
  }
  throw Error("config: no path at " + key);
}

}  // namespace

void ExpandPaths(Config* config, unsigned use) {
  std::vector<Diagnostic> unset;
  for (const PathTemplate& t : config->path_templates) {
    if (!(UseOf(t.key) & use)) continue;
    std::vector<std::string> names;
    VariablesIn(t.text, &names);
    std::string path;
    size_t from = 0;
    bool complete = true;
    for (const std::string& name : names) {
      const size_t at = t.text.find("${" + name + "}", from);
      path += t.text.substr(from, at - from);
      const char* value = std::getenv(name.c_str());
      // An empty value is refused as an unset one: `${TMPDIR}/sweep` would be `/sweep`.
      if (!value || !*value) {
        unset.push_back({t.where, t.key,
                         "${" + name + "} is " + (value ? "empty" : "not set") +
                             " in the environment here (" + HostNameText() + "), so `" + t.text +
                             "` names no path"});
        complete = false;
        break;
      }
      path += value;
      from = at + name.size() + 3;
    }
    if (!complete) continue;
    path += t.text.substr(from);
    if (t.key == kProgramKey) {
      *PathField(config, t.key) = path;
      continue;
    }
    fs::path p(path);
    if (p.is_relative()) p = fs::path(config->folder) / p;
    *PathField(config, t.key) = p.lexically_normal().string();
  }
  if (!unset.empty()) throw ConfigError(unset);
}

std::map<std::string, std::string> ExpandedPaths(const Config& config) {
  std::map<std::string, std::string> paths;
  for (const PathTemplate& t : config.path_templates)
    paths[t.key] = *PathField(const_cast<Config*>(&config), t.key);
  return paths;
}

void UnexpandPaths(Config* config, unsigned use) {
  for (const PathTemplate& t : config->path_templates)
    if (UseOf(t.key) & use) *PathField(config, t.key) = t.text;
}

void DropPathTemplate(Config* config, const std::string& key) {
  std::vector<PathTemplate>& t = config->path_templates;
  t.erase(std::remove_if(t.begin(), t.end(), [&](const PathTemplate& p) { return p.key == key; }),
          t.end());
}

Config ParseConfig(const std::string& text, const std::string& file,
                   const std::vector<std::string>& overrides) {
  Config config;
  config.file = file;
  config.folder = Folder(file);
  YamlSource source = ParseYaml(text, file);
  std::vector<Diagnostic> diagnostics = source.diagnostics;
  if (!source.readable) throw ConfigError(diagnostics);

  std::vector<std::string> override_paths;
  // An empty handle would grow its own map, not the document's.
  if (!overrides.empty() && source.root.IsNull()) source.root = YAML::Node(YAML::NodeType::Map);
  for (const std::string& o : overrides) {
    if (std::optional<std::string> path = ApplyOverride(source.root, o, &diagnostics))
      override_paths.push_back(*path);
  }
  config.text = overrides.empty() ? text : EmitYaml(source.root);

  int64_t walk_budget = WalkBudget(config.text);
  RefuseNulCharacters(source.root, file, "", &diagnostics, 0, &walk_budget);
  if (!diagnostics.empty()) throw ConfigError(diagnostics);
  ConfigReader reader(&config, &diagnostics, override_paths);
  reader.Read(source.root);
  if (!diagnostics.empty()) throw ConfigError(diagnostics);
  return config;
}

Config LoadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  const auto refuse = [&](const std::string& what) {
    throw ConfigError({{{"", 0, 0}, "", path + ": " + what}});
  };
  // O_NONBLOCK: a FIFO must not block the open; only regular files are read at all.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  std::string text;
  int error = 0;
  struct stat st {};
  if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    refuse(S_ISDIR(st.st_mode) ? "is a directory, not a config file"
                               : "is not a regular file (a device, a pipe or a socket)");
  }
  if (fd >= 0 && uint64_t(st.st_size) > kMaxConfigBytes) {
    ::close(fd);
    refuse(fmt::format("is {:.1f} MiB, over the limit of {} MiB for a config",
                       double(st.st_size) / (1 << 20), kMaxConfigBytes >> 20));
  }
  if (fd < 0) {
    error = errno;
  } else {
    char buffer[1 << 16];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) != 0) {
      if (n < 0) {
        if (errno == EINTR) continue;
        error = errno;
        break;
      }
      text.append(buffer, size_t(n));
      if (text.size() > kMaxConfigBytes) break;  // grown since the fstat
    }
    ::close(fd);
  }
  if (error != 0) {
    throw ConfigError({{{"", 0, 0}, "", "cannot read " + path + ": " + std::strerror(error)}});
  }
  return ParseConfig(text, path, overrides);
}

namespace {

// A non-negative decimal number ("90", "1.5", ".5") followed by optional spaces and a unit.
bool SplitNumber(const std::string& text, double* number, std::string* unit) {
  std::string s = Trim(text);
  size_t i = 0, digits = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  *number = std::strtod(s.substr(0, i).c_str(), nullptr);
  *unit = Trim(s.substr(i));
  return std::isfinite(*number);
}

}  // namespace

std::optional<double> ParseDuration(const std::string& text) {
  double number;
  std::string unit;
  if (!SplitNumber(text, &number, &unit)) return std::nullopt;
  static const std::map<std::string, double> kUnits = {
      {"", 1}, {"ms", 1e-3}, {"s", 1}, {"m", 60}, {"min", 60}, {"h", 3600}, {"d", 86400}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  double seconds = number * it->second;
  if (!std::isfinite(seconds)) return std::nullopt;
  return seconds;
}

std::optional<uint64_t> ParseSize(const std::string& text) {
  double number;
  std::string unit;
  if (!SplitNumber(text, &number, &unit)) return std::nullopt;
  static const std::map<std::string, uint64_t> kUnits = {{"", 1},
                                                         {"B", 1},
                                                         {"kB", 1000},
                                                         {"KB", 1000},
                                                         {"MB", 1000000},
                                                         {"GB", 1000000000},
                                                         {"TB", 1000000000000},
                                                         {"KiB", uint64_t{1} << 10},
                                                         {"MiB", uint64_t{1} << 20},
                                                         {"GiB", uint64_t{1} << 30},
                                                         {"TiB", uint64_t{1} << 40}};
  auto it = kUnits.find(unit);
  if (it == kUnits.end()) return std::nullopt;
  // A whole number is computed exactly (a double would round 2^64-1 up); a fraction is rounded.
  std::string s = Trim(text);
  size_t end = s.find_first_not_of("0123456789");
  if (end == std::string::npos || s[end] != '.') {
    errno = 0;
    unsigned long long n = std::strtoull(s.substr(0, end).c_str(), nullptr, 10);
    uint64_t bytes;
    if (errno == ERANGE || __builtin_mul_overflow(uint64_t(n), it->second, &bytes))
      return std::nullopt;
    return bytes;
  }
  long double bytes = std::floor((long double)number * it->second + 0.5L);
  if (!(bytes < 18446744073709551616.0L)) return std::nullopt;
  return uint64_t(bytes);
}

}  // namespace sweep
