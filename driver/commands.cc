#include "driver/commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/command_binding.h"
#include "driver/fingerprint.h"
#include "driver/input_guard.h"
#include "driver/plan.h"
#include "driver/progress.h"
#include "driver/reuse.h"
#include "driver/run_steps.h"
#include "driver/space.h"
#include "driver/status.h"
#include "driver/thread_limits.h"
#include "driver/worker.h"
#include "io/byte_count.h"
#include "io/config.h"
#include "io/error.h"
#include "io/inputs.h"
#include "kernels/dtype.h"
#include "kernels/plugin.h"
#include "kernels/registry.h"

extern char** environ;

namespace sweep {
namespace {

// Each input's dtype and shape. npy and HDF5 inputs are opened to read their headers, never
// their data (a chunked dataset is not read: validate costs the same for 800 GB as for 1 KiB);
// raw and generated inputs are sized from their declared shape, so nothing is loaded or
// generated.
std::vector<InputShape> InspectInputs(const Config& config) {
  std::vector<InputSpec> with_headers;
  for (const InputSpec& in : config.inputs)
    if (in.kind == InputSpec::Kind::kNpy || in.kind == InputSpec::Kind::kHdf5)
      with_headers.push_back(in);
  const std::vector<InputHeader> headers = ReadInputHeaders(with_headers);
  std::vector<InputShape> shapes;
  size_t next = 0;
  for (const InputSpec& in : config.inputs) {
    if (in.kind == InputSpec::Kind::kNpy || in.kind == InputSpec::Kind::kHdf5) {
      const InputHeader& h = headers[next++];
      shapes.push_back({h.dtype, h.shape});
    } else {
      shapes.push_back({DtypeFromName(in.dtype), in.shape});
    }
  }
  return shapes;
}

uint64_t ShapeBytes(const InputShape& in) {
  uint64_t bytes = DtypeSize(in.dtype);
  for (int64_t d : in.shape) bytes *= uint64_t(d);
  return bytes;
}

// Strings quoted, so a default of "" shows.
std::string QuotedValueText(const sweep_value& v) {
  return v.type == SWEEP_VALUE_STRING ? fmt::format("\"{}\"", v.string ? v.string : "")
                                      : ValueText(v);
}

const char* ValueTypeName(int type) {
  switch (type) {
    case SWEEP_VALUE_INTEGER:
      return "integer";
    case SWEEP_VALUE_STRING:
      return "string";
    default:
      return "number";
  }
}

nlohmann::json KernelJson(const sweep_kernel& k) {
  nlohmann::json j = {{"name", k.name},
                      {"description", k.description ? k.description : ""},
                      {"abi", k.abi_version}};
  for (int i = 0; i < k.n_params; ++i)
    j["parameters"].push_back(
        {{"name", k.params[i].name}, {"help", k.params[i].help ? k.params[i].help : ""}});
  for (int i = 0; i < k.n_options; ++i) {
    const sweep_option_decl& o = k.options[i];
    j["options"].push_back({{"name", o.name},
                            {"type", ValueTypeName(o.type)},
                            {"default", QuotedValueText(o.default_value)},
                            {"help", o.help ? o.help : ""}});
  }
  for (int i = 0; i < k.n_inputs; ++i) {
    const sweep_input_decl& in = k.inputs[i];
    j["inputs"].push_back({{"name", in.name},
                           {"dtype", DtypeName(in.dtype)},
                           {"rank", in.rank},
                           {"help", in.help ? in.help : ""}});
  }
  // Outputs with the default options.
  std::vector<sweep_value> defaults;
  for (int i = 0; i < k.n_options; ++i) defaults.push_back(k.options[i].default_value);
  const sweep_options options{defaults.data(), int(defaults.size())};
  std::vector<sweep_output_decl> outs(size_t(std::max(k.max_outputs, 1)));
  int n = 0;
  char err[256] = "";
  if (k.outputs(&options, outs.data(), &n, err, sizeof err) == 0) {
    for (int i = 0; i < n; ++i) {
      j["outputs"].push_back(
          {{"name", outs[size_t(i)].name},
           {"dtype", DtypeName(outs[size_t(i)].dtype)},
           {"shape", std::vector<int64_t>(outs[size_t(i)].shape,
                                          outs[size_t(i)].shape + outs[size_t(i)].rank)}});
    }
  }
  return j;
}

void PrintKernel(const sweep_kernel& k, bool detailed) {
  if (!detailed) {
    std::string params;
    for (int i = 0; i < k.n_params; ++i) params += (i ? ", " : "") + std::string(k.params[i].name);
    std::printf("%-10s %s\n           parameters: %s\n", k.name, k.description ? k.description : "",
                params.c_str());
    return;
  }
  const nlohmann::json j = KernelJson(k);
  std::printf("%s: %s\n  kernel ABI %u\n", k.name, k.description ? k.description : "",
              k.abi_version);
  std::printf("  parameters:\n");
  for (const auto& p : j.value("parameters", nlohmann::json::array()))
    std::printf("    %-14s %s\n", p["name"].get<std::string>().c_str(),
                p["help"].get<std::string>().c_str());
  std::printf("  options:%s\n", j.contains("options") ? "" : " none");
  for (const auto& o : j.value("options", nlohmann::json::array()))
    std::printf("    %-14s %-8s default %-10s %s\n", o["name"].get<std::string>().c_str(),
                o["type"].get<std::string>().c_str(), o["default"].get<std::string>().c_str(),
                o["help"].get<std::string>().c_str());
  std::printf("  inputs:%s\n", j.contains("inputs") ? "" : " none");
  for (const auto& in : j.value("inputs", nlohmann::json::array())) {
    const int rank = in["rank"].get<int>();
    std::printf("    %-14s %s, %s  %s\n", in["name"].get<std::string>().c_str(),
                in["dtype"].get<std::string>().c_str(),
                rank < 0 ? "any rank" : (std::to_string(rank) + "-d").c_str(),
                in["help"].get<std::string>().c_str());
  }
  std::printf("  outputs (with the default options):\n");
  for (const auto& o : j.value("outputs", nlohmann::json::array())) {
    std::string shape = "scalar";
    if (!o["shape"].empty()) shape = o["shape"].dump();
    std::printf("    %-14s %s %s\n", o["name"].get<std::string>().c_str(),
                o["dtype"].get<std::string>().c_str(), shape.c_str());
  }
}

}  // namespace

namespace {

// `plan --reuse`: the checks and counts of `run --reuse`, with the inputs hashed as a run hashes
// them.
ReusePlan OpenReuse(const Config& config, const Space& space, const KernelBinding& binding,
                    const std::vector<std::string>& paths) {
  const PublishedInputs published = PublishInputs(config.inputs);
  const MappedInputs mapped(published.inputs());
  const InputGuard guard(published.inputs(), mapped);
  const std::string fingerprint =
      Fingerprint(binding, config, mapped, guard.start_hashes(), space.seed_rule()).dump();
  return ReusePlan::Open(paths, config, space, fingerprint, config.output.path);
}

nlohmann::json ReuseJson(const ReusePlan& plan, const ReuseCounts& counts, uint64_t points) {
  nlohmann::json sources = nlohmann::json::array();
  for (size_t s = 0; s < plan.sources().size(); ++s) {
    const ReuseSource& source = plan.sources()[s];
    sources.push_back({{"file", source.path},
                       {"points", counts.points[s]},
                       {"matches", source.match.matches()},
                       {"done_chunks", source.done_chunks},
                       {"chunks", source.layout.chunks},
                       {"why_none", source.match.why_none()}});
  }
  return {{"points", counts.total}, {"computed", points - counts.total}, {"sources", sources}};
}

}  // namespace

int PlanCommand(const std::string& config_path, const std::vector<std::string>& overrides,
                int workers_flag, std::optional<uint64_t> chunk_size_flag, bool json,
                const std::vector<std::string>& reuse_paths) {
  Config config = LoadConfig(config_path, overrides);
  ExpandPaths(&config, kAllPaths);
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  const int workers = WorkerCount(workers_flag, config.execution.workers);
  const uint64_t chunk_size = chunk_size_flag.value_or(uint64_t(config.execution.chunk_size));
  const Plan plan = PlanFor(space.points(), chunk_size, workers);
  const std::vector<InputShape> shapes = InspectInputs(config);
  CheckInputsAgainstKernel(config, binding, shapes);
  std::vector<uint64_t> input_bytes;
  for (const InputShape& in : shapes) input_bytes.push_back(ShapeBytes(in));

  uint64_t results_bytes = 0;
  nlohmann::json outputs = nlohmann::json::array();
  for (size_t i = 0; i < binding.outputs.size(); ++i) {
    const sweep_output_decl& o = binding.outputs[i];
    const uint64_t per_point = OutputBytesPerPoint(o);
    uint64_t total = 0;
    if (__builtin_mul_overflow(per_point, space.points(), &total)) total = UINT64_MAX;
    results_bytes = results_bytes + total < results_bytes ? UINT64_MAX : results_bytes + total;
    outputs.push_back({{"name", o.name},
                       {"dtype", DtypeName(o.dtype)},
                       {"shape", std::vector<int64_t>(o.shape, o.shape + o.rank)},
                       {"dims", OutputDimNames(binding, i)},
                       {"bytes_per_point", per_point},
                       {"bytes", total}});
  }
  const uint64_t block_bytes = WorkerBlockBytes(space, binding, plan.chunk_size());
  uint64_t inputs_total = 0;
  for (uint64_t b : input_bytes) inputs_total += b;
  // The file itself, created in memory from the spec a run creates it from: its exact size.
  const uint64_t file_bytes = OutputFileBytes(
      LayoutSpecFor(config, space, binding, plan, Fingerprint(binding, config, shapes).dump()));
  PrintCommandWarnings(config);
  ReusePlan reuse;
  ReuseCounts reused;
  if (!reuse_paths.empty()) {
    reuse = OpenReuse(config, space, binding, reuse_paths);
    std::vector<uint64_t> every(plan.chunks());
    for (uint64_t c = 0; c < plan.chunks(); ++c) every[c] = c;
    reused = reuse.Count(plan, every);
  }

  if (json) {
    nlohmann::json j;
    j["name"] = config.name;
    j["kernel"] = binding.name;
    j["points"] = space.points();
    for (const Dimension& d : space.dimensions())
      j["dimensions"].push_back({{"name", d.name}, {"size", d.size}});
    j["parameters"] = space.parameter_names();
    j["workers"] = workers;
    j["threads"]["per_worker"] = config.execution.threads;
    for (const ThreadVariable& v : WorkerThreadVariables(config.execution.threads, environ)) {
      j["threads"]["variables"][v.name] = {
          {"value", v.value}, {"from", v.from_environment ? "environment" : "execution.threads"}};
    }
    j["chunks"] = plan.chunks();
    j["chunk_size"] = plan.chunk_size();
    j["chunk_size_auto"] = chunk_size == 0;
    j["outputs"] = outputs;
    j["env"] = nlohmann::json::object();
    for (const KernelSpec::CommandEnv& e : config.kernel.command_env) j["env"][e.name] = e.value;
    j["output_bytes"] = file_bytes;
    j["results_bytes"] = results_bytes;
    j["output_path"] = config.output.path;
    for (size_t i = 0; i < config.inputs.size(); ++i)
      j["inputs"].push_back({{"name", config.inputs[i].name}, {"bytes", input_bytes[i]}});
    j["input_bytes"] = inputs_total;
    j["worker_private_bytes"] = block_bytes;
    if (!reuse.empty()) j["reuse"] = ReuseJson(reuse, reused, space.points());
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("%s: kernel %s, %llu points\n", config.name.c_str(), binding.name.c_str(),
              (unsigned long long)space.points());
  for (const Dimension& d : space.dimensions())
    std::printf("  axis %-16s %llu\n", d.name.c_str(), (unsigned long long)d.size);
  for (size_t i = 0; i < space.parameter_names().size(); ++i) {
    if (space.dimension_of(int(i)) < 0) {
      std::vector<sweep_value> v(space.parameter_names().size());
      space.Resolve(0, v.data());
      std::printf("  constant %-12s %s\n", space.parameter_names()[i].c_str(),
                  QuotedValueText(v[i]).c_str());
    }
  }
  for (const KernelSpec::CommandEnv& e : config.kernel.command_env)
    std::printf("  env %s=%s\n", e.name.c_str(), e.value.c_str());
  std::printf("  chunks: %llu of %llu points%s, for %d workers\n",
              (unsigned long long)plan.chunks(), (unsigned long long)plan.chunk_size(),
              chunk_size == 0 ? " (auto)" : "", workers);
  std::printf("  threads per worker: %s\n",
              DescribeThreads(config.execution.threads, environ).c_str());
  std::printf("  output %s: %s (%llu bytes)\n", config.output.path.c_str(),
              FormatBytes(file_bytes).c_str(), (unsigned long long)file_bytes);
  for (const auto& o : outputs) {
    std::string shape = "scalar";
    if (!o["shape"].empty()) {
      shape = o["shape"].dump() + " (" +
              fmt::format("{}", fmt::join(o["dims"].get<std::vector<std::string>>(), ", ")) + ")";
    }
    std::printf("    /%-14s %s %s per point, %s\n", o["name"].get<std::string>().c_str(),
                o["dtype"].get<std::string>().c_str(), shape.c_str(),
                FormatBytes(o["bytes"].get<uint64_t>()).c_str());
  }
  if (!config.inputs.empty()) {
    std::printf("  inputs: %s, mapped once and shared by every worker\n",
                FormatBytes(inputs_total).c_str());
    for (size_t i = 0; i < config.inputs.size(); ++i)
      std::printf("    %-16s %s\n", config.inputs[i].name.c_str(),
                  FormatBytes(input_bytes[i]).c_str());
  }
  std::printf("  memory per worker: %s of result blocks, plus the kernel's own state\n",
              FormatBytes(block_bytes).c_str());
  if (!reuse.empty())
    std::printf("%s", ReuseSummary(reuse, reused, space.points(), config).c_str());
  return 0;
}

int ValidateCommand(const std::string& config_path, const std::vector<std::string>& overrides) {
  Config config = LoadConfig(config_path, overrides);
  ExpandPaths(&config, kAllPaths);  // as a run here would
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  PlanFor(space.points(), uint64_t(config.execution.chunk_size),
          WorkerCount(0, config.execution.workers));
  CheckInputsAgainstKernel(config, binding, InspectInputs(config));
  for (const Diagnostic& note : config.notes)
    std::fprintf(stderr, "sweep: note: %s\n", note.ToString().c_str());
  PrintCommandWarnings(config);
  std::printf("ok\n");
  return 0;
}

int StatusCommand(const std::string& output_path, bool json, bool watch, double interval_seconds) {
  if (watch) return WatchStatus(output_path, json, interval_seconds, stdout);
  const StatusReport report = ReadStatus(output_path);
  if (json) {
    std::printf("%s\n", StatusJson(report).dump(2).c_str());
  } else {
    std::fputs(StatusText(report).c_str(), stdout);
  }
  return 0;
}

int KernelsCommand(const std::string& name, bool json) {
  std::vector<const sweep_kernel*> kernels;
  if (name.empty()) {
    kernels = BuiltinKernels();
  } else if (const sweep_kernel* k = FindBuiltinKernel(name)) {
    kernels.push_back(k);
  } else if (name.find('/') != std::string::npos || name.find(".so") != std::string::npos) {
    kernels.push_back(LoadPlugin(name));
  } else {
    std::string known;
    for (const sweep_kernel* builtin : BuiltinKernels())
      known += (known.empty() ? "" : ", ") + std::string(builtin->name);
    throw Error("kernels: no kernel named `" + name + "` (built-in: " + known + ")",
                ExitCode::kUsage);
  }
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const sweep_kernel* k : kernels) j.push_back(KernelJson(*k));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  for (const sweep_kernel* k : kernels) PrintKernel(*k, !name.empty());
  return 0;
}

}  // namespace sweep
