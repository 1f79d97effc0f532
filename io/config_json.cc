#include "io/config_json.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "io/error.h"

namespace sweep {
namespace {

using json = nlohmann::json;

// Enums travel as their YAML words, so a job reads like the config it came from.
template <typename Enum>
struct Word {
  Enum value;
  const char* word;
};

constexpr Word<AxisSpec::Kind> kAxisKinds[] = {
    {AxisSpec::Kind::kLinspace, "linspace"},    {AxisSpec::Kind::kLogspace, "logspace"},
    {AxisSpec::Kind::kValues, "values"},        {AxisSpec::Kind::kRange, "range"},
    {AxisSpec::Kind::kConstant, "constant"},    {AxisSpec::Kind::kUniform, "uniform"},
    {AxisSpec::Kind::kLogUniform, "loguniform"}};
constexpr Word<InputSpec::Kind> kInputKinds[] = {{InputSpec::Kind::kHdf5, "hdf5"},
                                                 {InputSpec::Kind::kNpy, "npy"},
                                                 {InputSpec::Kind::kRaw, "raw"},
                                                 {InputSpec::Kind::kGenerate, "generate"}};
constexpr Word<KernelSpec::Workdir::Keep> kKeeps[] = {
    {KernelSpec::Workdir::Keep::kFailed, "failed"},
    {KernelSpec::Workdir::Keep::kAlways, "always"},
    {KernelSpec::Workdir::Keep::kNever, "never"}};
constexpr Word<SamplingSpec::Method> kSamplingMethods[] = {
    {SamplingSpec::Method::kNone, "none"},
    {SamplingSpec::Method::kUniform, "uniform"},
    {SamplingSpec::Method::kLhs, "lhs"},
    {SamplingSpec::Method::kSobol, "sobol"}};
constexpr Word<ExecutionSpec::Schedule> kSchedules[] = {
    {ExecutionSpec::Schedule::kDynamic, "dynamic"}, {ExecutionSpec::Schedule::kStatic, "static"}};
constexpr Word<ExecutionSpec::Start> kStarts[] = {
    {ExecutionSpec::Start::kSpawn, "spawn"},
    {ExecutionSpec::Start::kFork, "fork"},
    {ExecutionSpec::Start::kForkserver, "forkserver"}};
constexpr Word<ExecutionSpec::Gpus> kGpus[] = {{ExecutionSpec::Gpus::kNone, "none"},
                                               {ExecutionSpec::Gpus::kAuto, "auto"},
                                               {ExecutionSpec::Gpus::kList, "list"}};

template <typename Enum, size_t N>
json EncodeWord(Enum value, const Word<Enum> (&words)[N]) {
  for (const Word<Enum>& w : words)
    if (w.value == value) return w.word;
  throw Error("an enumerator without a word in config_json.cc");
}

template <typename Enum, size_t N>
void DecodeWord(const json& j, const Word<Enum> (&words)[N], Enum* value) {
  const std::string& word = j.get_ref<const std::string&>();
  for (const Word<Enum>& w : words) {
    if (word == w.word) {
      *value = w.value;
      return;
    }
  }
  throw Error("unknown `" + word + "`");
}

// Every type a Config holds has an Encode and a Decode. Those of the structs are declared before
// the templates for lists and maps, which find them by ordinary lookup only (an unnamed namespace
// is not searched by argument-dependent lookup), and defined after them.
json Encode(const std::string& text) { return text; }
void Decode(const json& j, std::string* text) { *text = j.get_ref<const std::string&>(); }

// Before the integers' templates, which would take a bool for an integer.
json Encode(bool value) { return value; }
void Decode(const json& j, bool* value) {
  if (!j.is_boolean()) throw Error("expected true or false, got " + j.dump());
  *value = j.get<bool>();
}

template <typename Integer, typename = std::enable_if_t<std::is_integral_v<Integer>>>
json Encode(Integer value) {
  return value;
}
template <typename Integer, typename = std::enable_if_t<std::is_integral_v<Integer>>>
void Decode(const json& j, Integer* value) {
  if (!j.is_number_integer()) throw Error("expected an integer, got " + j.dump());
  *value = j.get<Integer>();
}

// JSON has no inf or nan: those are {"double": word}.
json Encode(double value) {
  if (std::isfinite(value)) return value;
  const char* word =
      std::isnan(value) ? (std::signbit(value) ? "-nan" : "nan") : (value > 0 ? "inf" : "-inf");
  return {{"double", word}};
}
void Decode(const json& j, double* value) {
  if (j.is_number()) {
    *value = j.get<double>();
    return;
  }
  const std::string& word = j.at("double").get_ref<const std::string&>();
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (word == "inf")
    *value = inf;
  else if (word == "-inf")
    *value = -inf;
  else if (word == "nan")
    *value = nan;
  else if (word == "-nan")
    *value = -nan;
  else
    throw Error("unknown double `" + word + "`");
}

json Encode(AxisSpec::Kind kind) { return EncodeWord(kind, kAxisKinds); }
void Decode(const json& j, AxisSpec::Kind* kind) { DecodeWord(j, kAxisKinds, kind); }
json Encode(InputSpec::Kind kind) { return EncodeWord(kind, kInputKinds); }
void Decode(const json& j, InputSpec::Kind* kind) { DecodeWord(j, kInputKinds, kind); }
json Encode(KernelSpec::Workdir::Keep keep) { return EncodeWord(keep, kKeeps); }
void Decode(const json& j, KernelSpec::Workdir::Keep* keep) { DecodeWord(j, kKeeps, keep); }
json Encode(SamplingSpec::Method method) { return EncodeWord(method, kSamplingMethods); }
void Decode(const json& j, SamplingSpec::Method* method) {
  DecodeWord(j, kSamplingMethods, method);
}
json Encode(ExecutionSpec::Schedule schedule) { return EncodeWord(schedule, kSchedules); }
void Decode(const json& j, ExecutionSpec::Schedule* schedule) {
  DecodeWord(j, kSchedules, schedule);
}
json Encode(ExecutionSpec::Start start) { return EncodeWord(start, kStarts); }
void Decode(const json& j, ExecutionSpec::Start* start) { DecodeWord(j, kStarts, start); }
json Encode(ExecutionSpec::Gpus gpus) { return EncodeWord(gpus, kGpus); }
void Decode(const json& j, ExecutionSpec::Gpus* gpus) { DecodeWord(j, kGpus, gpus); }

json Encode(const Value& value);
void Decode(const json& j, Value* value);
json Encode(const SourceLocation& where);
void Decode(const json& j, SourceLocation* where);
json Encode(const AxisSpec& axis);
void Decode(const json& j, AxisSpec* axis);
json Encode(const KernelSpec::CommandOutput& output);
void Decode(const json& j, KernelSpec::CommandOutput* output);
json Encode(const KernelSpec::CommandFile& file);
void Decode(const json& j, KernelSpec::CommandFile* file);
json Encode(const KernelSpec::CommandEnv& variable);
void Decode(const json& j, KernelSpec::CommandEnv* variable);
json Encode(const KernelSpec::Workdir& workdir);
void Decode(const json& j, KernelSpec::Workdir* workdir);
json Encode(const KernelSpec& kernel);
void Decode(const json& j, KernelSpec* kernel);
json Encode(const InputSpec& input);
void Decode(const json& j, InputSpec* input);
json Encode(const PathTemplate& path);
void Decode(const json& j, PathTemplate* path);
json Encode(const SamplingSpec& sampling);
void Decode(const json& j, SamplingSpec* sampling);
json Encode(const ExecutionSpec& execution);
void Decode(const json& j, ExecutionSpec* execution);
json Encode(const OutputSpec& output);
void Decode(const json& j, OutputSpec* output);
json Encode(const std::pair<std::string, std::string>& pair);
void Decode(const json& j, std::pair<std::string, std::string>* pair);
json Encode(const AttributesSpec& attributes);
void Decode(const json& j, AttributesSpec* attributes);

template <typename T>
json Encode(const std::vector<T>& items) {
  json j = json::array();
  for (const T& item : items) j.push_back(Encode(item));
  return j;
}
template <typename T>
void Decode(const json& j, std::vector<T>* items) {
  if (!j.is_array()) throw Error("expected a list, got " + std::string(j.type_name()));
  items->clear();
  items->reserve(j.size());
  for (const json& item : j) {
    items->emplace_back();
    Decode(item, &items->back());
  }
}

template <typename T>
json Encode(const std::map<std::string, T>& items) {
  json j = json::object();
  for (const auto& item : items) j[item.first] = Encode(item.second);
  return j;
}
template <typename T>
void Decode(const json& j, std::map<std::string, T>* items) {
  if (!j.is_object()) throw Error("expected a map, got " + std::string(j.type_name()));
  items->clear();
  for (auto item = j.begin(); item != j.end(); ++item) Decode(item.value(), &(*items)[item.key()]);
}

// One field each way: Put(j, "key", field) and Take(j, "key", &field).
template <typename T>
void Put(json& j, const char* key, const T& value) {
  j[key] = Encode(value);
}

// THROWS: Error prefixed with the key, so a nested problem names its path ("kernel: options: x").
template <typename T>
void Take(const json& j, const char* key, T* value) {
  const auto it = j.find(key);
  if (it == j.end()) throw Error(std::string("no `") + key + "`");
  try {
    Decode(*it, value);
  } catch (const Error& e) {
    throw Error(std::string(key) + ": " + e.what());
  } catch (const json::exception& e) {
    throw Error(std::string(key) + ": " + e.what());
  }
}

// A Value keeps its type through JSON's own: integer, float, string.
json Encode(const Value& value) {
  switch (value.type) {
    case Value::Type::kInteger:
      return value.integer;
    case Value::Type::kString:
      return value.string;
    case Value::Type::kNumber:
      break;
  }
  return Encode(value.number);
}
void Decode(const json& j, Value* value) {
  if (j.is_string()) {
    *value = Value::String(j.get<std::string>());
  } else if (j.is_number_integer()) {
    *value = Value::Integer(j.get<int64_t>());
  } else {
    double number = 0;
    Decode(j, &number);
    *value = Value::Number(number);
  }
}

json Encode(const SourceLocation& where) { return {where.file, where.line, where.column}; }
void Decode(const json& j, SourceLocation* where) {
  if (!j.is_array() || j.size() != 3) throw Error("expected [file, line, column]");
  Decode(j[0], &where->file);
  Decode(j[1], &where->line);
  Decode(j[2], &where->column);
}

json Encode(const AxisSpec& axis) {
  json j = json::object();
  Put(j, "name", axis.name);
  Put(j, "kind", axis.kind);
  Put(j, "start", axis.start);
  Put(j, "stop", axis.stop);
  Put(j, "count", axis.count);
  Put(j, "range_start", axis.range_start);
  Put(j, "range_stop", axis.range_stop);
  Put(j, "range_step", axis.range_step);
  Put(j, "values", axis.values);
  Put(j, "where", axis.where);
  return j;
}
void Decode(const json& j, AxisSpec* axis) {
  Take(j, "name", &axis->name);
  Take(j, "kind", &axis->kind);
  Take(j, "start", &axis->start);
  Take(j, "stop", &axis->stop);
  Take(j, "count", &axis->count);
  Take(j, "range_start", &axis->range_start);
  Take(j, "range_stop", &axis->range_stop);
  Take(j, "range_step", &axis->range_step);
  Take(j, "values", &axis->values);
  Take(j, "where", &axis->where);
}

json Encode(const KernelSpec::CommandOutput& output) {
  json j = json::object();
  Put(j, "name", output.name);
  Put(j, "dtype", output.dtype);
  Put(j, "shape", output.shape);
  Put(j, "where", output.where);
  Put(j, "dims", output.dims);
  return j;
}
void Decode(const json& j, KernelSpec::CommandOutput* output) {
  Take(j, "name", &output->name);
  Take(j, "dtype", &output->dtype);
  Take(j, "shape", &output->shape);
  Take(j, "where", &output->where);
  Take(j, "dims", &output->dims);
}

json Encode(const KernelSpec::CommandFile& file) {
  json j = json::object();
  Put(j, "name", file.name);
  Put(j, "template_path", file.template_path);
  Put(j, "where", file.where);
  return j;
}
void Decode(const json& j, KernelSpec::CommandFile* file) {
  Take(j, "name", &file->name);
  Take(j, "template_path", &file->template_path);
  Take(j, "where", &file->where);
}

json Encode(const KernelSpec::CommandEnv& variable) {
  json j = json::object();
  Put(j, "name", variable.name);
  Put(j, "value", variable.value);
  Put(j, "where", variable.where);
  return j;
}
void Decode(const json& j, KernelSpec::CommandEnv* variable) {
  Take(j, "name", &variable->name);
  Take(j, "value", &variable->value);
  Take(j, "where", &variable->where);
}

json Encode(const KernelSpec::Workdir& workdir) {
  json j = json::object();
  Put(j, "root", workdir.root);
  Put(j, "keep", workdir.keep);
  return j;
}
void Decode(const json& j, KernelSpec::Workdir* workdir) {
  Take(j, "root", &workdir->root);
  Take(j, "keep", &workdir->keep);
}

json Encode(const KernelSpec& kernel) {
  json j = json::object();
  Put(j, "name", kernel.name);
  Put(j, "plugin", kernel.plugin);
  Put(j, "command", kernel.command);
  Put(j, "python", kernel.python);
  Put(j, "python_function", kernel.python_function);
  Put(j, "batch", kernel.batch);
  Put(j, "command_where", kernel.command_where);
  Put(j, "command_outputs", kernel.command_outputs);
  Put(j, "command_files", kernel.command_files);
  Put(j, "command_env", kernel.command_env);
  Put(j, "results_file", kernel.results_file);
  Put(j, "workdir", kernel.workdir);
  Put(j, "persistent", kernel.persistent);
  Put(j, "max_points", kernel.max_points);
  Put(j, "options", kernel.options);
  Put(j, "option_where", kernel.option_where);
  Put(j, "where", kernel.where);
  return j;
}
void Decode(const json& j, KernelSpec* kernel) {
  Take(j, "name", &kernel->name);
  Take(j, "plugin", &kernel->plugin);
  Take(j, "command", &kernel->command);
  Take(j, "python", &kernel->python);
  Take(j, "python_function", &kernel->python_function);
  Take(j, "batch", &kernel->batch);
  Take(j, "command_where", &kernel->command_where);
  Take(j, "command_outputs", &kernel->command_outputs);
  Take(j, "command_files", &kernel->command_files);
  Take(j, "command_env", &kernel->command_env);
  Take(j, "results_file", &kernel->results_file);
  Take(j, "workdir", &kernel->workdir);
  Take(j, "persistent", &kernel->persistent);
  Take(j, "max_points", &kernel->max_points);
  Take(j, "options", &kernel->options);
  Take(j, "option_where", &kernel->option_where);
  Take(j, "where", &kernel->where);
}

json Encode(const InputSpec& input) {
  json j = json::object();
  Put(j, "name", input.name);
  Put(j, "kind", input.kind);
  Put(j, "path", input.path);
  Put(j, "dataset", input.dataset);
  Put(j, "dtype", input.dtype);
  Put(j, "shape", input.shape);
  Put(j, "distribution", input.distribution);
  Put(j, "seed", input.seed);
  Put(j, "where", input.where);
  return j;
}
void Decode(const json& j, InputSpec* input) {
  Take(j, "name", &input->name);
  Take(j, "kind", &input->kind);
  Take(j, "path", &input->path);
  Take(j, "dataset", &input->dataset);
  Take(j, "dtype", &input->dtype);
  Take(j, "shape", &input->shape);
  Take(j, "distribution", &input->distribution);
  Take(j, "seed", &input->seed);
  Take(j, "where", &input->where);
}

json Encode(const SamplingSpec& sampling) {
  json j = json::object();
  Put(j, "method", sampling.method);
  Put(j, "n", sampling.n);
  Put(j, "where", sampling.where);
  return j;
}
void Decode(const json& j, SamplingSpec* sampling) {
  Take(j, "method", &sampling->method);
  Take(j, "n", &sampling->n);
  Take(j, "where", &sampling->where);
}

json Encode(const ExecutionSpec& execution) {
  json j = json::object();
  Put(j, "workers", execution.workers);
  Put(j, "chunk_size", execution.chunk_size);
  Put(j, "schedule", execution.schedule);
  Put(j, "start", execution.start);
  Put(j, "threads", execution.threads);
  Put(j, "timeout_seconds", execution.timeout_seconds);
  Put(j, "retries", execution.retries);
  Put(j, "memory_limit_bytes", execution.memory_limit_bytes);
  Put(j, "max_failures", execution.max_failures);
  Put(j, "gpus", execution.gpus);
  Put(j, "gpu_devices", execution.gpu_devices);
  return j;
}
void Decode(const json& j, ExecutionSpec* execution) {
  Take(j, "workers", &execution->workers);
  Take(j, "chunk_size", &execution->chunk_size);
  Take(j, "schedule", &execution->schedule);
  Take(j, "start", &execution->start);
  Take(j, "threads", &execution->threads);
  Take(j, "timeout_seconds", &execution->timeout_seconds);
  Take(j, "retries", &execution->retries);
  Take(j, "memory_limit_bytes", &execution->memory_limit_bytes);
  Take(j, "max_failures", &execution->max_failures);
  Take(j, "gpus", &execution->gpus);
  Take(j, "gpu_devices", &execution->gpu_devices);
}

json Encode(const PathTemplate& path) {
  json j = json::object();
  Put(j, "key", path.key);
  Put(j, "text", path.text);
  Put(j, "where", path.where);
  return j;
}
void Decode(const json& j, PathTemplate* path) {
  Take(j, "key", &path->key);
  Take(j, "text", &path->text);
  Take(j, "where", &path->where);
}

json Encode(const OutputSpec& output) {
  json j = json::object();
  Put(j, "path", output.path);
  return j;
}
void Decode(const json& j, OutputSpec* output) { Take(j, "path", &output->path); }

json Encode(const std::pair<std::string, std::string>& pair) { return {pair.first, pair.second}; }
void Decode(const json& j, std::pair<std::string, std::string>* pair) {
  if (!j.is_array() || j.size() != 2) throw Error("expected [name, text]");
  Decode(j[0], &pair->first);
  Decode(j[1], &pair->second);
}

json Encode(const AttributesSpec& attributes) {
  json j = json::object();
  Put(j, "name", attributes.name);
  Put(j, "values", attributes.values);
  Put(j, "where", attributes.where);
  return j;
}
void Decode(const json& j, AttributesSpec* attributes) {
  Take(j, "name", &attributes->name);
  Take(j, "values", &attributes->values);
  Take(j, "where", &attributes->where);
}

}  // namespace

nlohmann::json ConfigToJson(const Config& config) {
  json j = json::object();
  j["format"] = kConfigJsonFormat;
  Put(j, "file", config.file);
  Put(j, "folder", config.folder);
  Put(j, "seed", config.seed);
  Put(j, "kernel", config.kernel);
  Put(j, "inputs", config.inputs);
  Put(j, "parameters", config.parameters);
  Put(j, "zip", config.zip);
  Put(j, "zip_where", config.zip_where);
  Put(j, "repeat", config.repeat);
  Put(j, "sampling", config.sampling);
  Put(j, "execution", config.execution);
  Put(j, "output", config.output);
  Put(j, "attributes", config.attributes);
  Put(j, "path_templates", config.path_templates);
  // Not text, name or notes: see the header.
  return j;
}

Config ConfigFromJson(const nlohmann::json& job) {
  Config config;
  try {
    std::string format;
    Take(job, "format", &format);
    if (format != kConfigJsonFormat)
      throw Error("format `" + format + "`, this sweep reads `" + kConfigJsonFormat + "`");
    Take(job, "file", &config.file);
    Take(job, "folder", &config.folder);
    Take(job, "seed", &config.seed);
    Take(job, "kernel", &config.kernel);
    Take(job, "inputs", &config.inputs);
    Take(job, "parameters", &config.parameters);
    Take(job, "zip", &config.zip);
    Take(job, "zip_where", &config.zip_where);
    Take(job, "repeat", &config.repeat);
    Take(job, "sampling", &config.sampling);
    Take(job, "execution", &config.execution);
    Take(job, "output", &config.output);
    Take(job, "attributes", &config.attributes);
    Take(job, "path_templates", &config.path_templates);
  } catch (const Error& e) {
    throw Error(std::string("sweep job: ") + e.what());
  }
  return config;
}

}  // namespace sweep
