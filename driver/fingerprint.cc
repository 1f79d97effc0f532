#include "driver/fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <algorithm>
#include <functional>

#include "driver/command_binding.h"
#include "driver/point_values.h"
#include "driver/python_binding.h"
#include "kernels/registry.h"

namespace sweep {

namespace {

std::string Hex(uint64_t value) { return fmt::format("{:016x}", value); }

// XXH3 of a file's bytes (of nothing, if it cannot be read: loading it fails elsewhere, named).
std::string FileXxh3(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  std::string bytes;
  if (fd >= 0) {
    char buffer[1 << 16];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) bytes.append(buffer, size_t(n));
    close(fd);
  }
  return Hex(XXH3_64bits(bytes.data(), bytes.size()));
}

// A path as the user knows it: relative to the config's folder when it lies under it.
std::string RelativeToConfig(const std::string& path, const Config& config) {
  const std::string folder = config.folder + (config.folder.back() == '/' ? "" : "/");
  return path.compare(0, folder.size(), folder) == 0 ? path.substr(folder.size()) : path;
}

// The fingerprint, with each input's "xxh3" the text `hash(i)` gives.
constexpr char kSeedsByValues[] = "parameter values";

nlohmann::json FingerprintWith(const KernelBinding& binding, const Config& config,
                               const std::vector<InputShape>& inputs,
                               const std::function<std::string(size_t)>& hash, SeedRule seeds) {
  nlohmann::json kernel = {{"name", binding.name}, {"abi", binding.kernel->abi_version}};
  if (!config.kernel.plugin.empty()) {
    kernel["library_xxh3"] = FileXxh3(config.kernel.plugin);
  } else {
    kernel["sweep_version"] = SWEEP_VERSION;
    if (!config.kernel.python.empty()) {
      // The model is read by each worker when it starts, not stored in the config: an edited
      // model between a run and its resume would compute the rest with other code.
      nlohmann::json files = nlohmann::json::object();
      for (const std::string& path : PythonSourceFiles(config))
        files[RelativeToConfig(path, config)] = FileXxh3(path);
      kernel["python_xxh3"] = files;
      kernel["python"] = PythonVersionBuilt();
    } else if (config.kernel.command.empty()) {
      if (const int revision = BuiltinRevision(binding.name)) kernel["revision"] = revision;
    } else {
      // A command kernel's program and templates are read when the run starts, not stored in
      // the config: a rebuilt code, an edited script or namelist between a run and its resume
      // would give other results for the rest.
      nlohmann::json program = nlohmann::json::object();
      for (const auto& [name, path] : ProgramFiles(config)) program[name] = FileXxh3(path);
      kernel["program_xxh3"] = program;
      if (!config.kernel.command_files.empty()) {
        nlohmann::json files = nlohmann::json::object();
        for (const KernelSpec::CommandFile& f : config.kernel.command_files)
          files[f.name] = FileXxh3(f.template_path);
        kernel["files_xxh3"] = files;
      }
    }
    if (!config.kernel.command_env.empty()) {
      // As written: a placeholder is rendered per point, but the text says what it will be.
      nlohmann::json env = nlohmann::json::object();
      for (const KernelSpec::CommandEnv& e : config.kernel.command_env) env[e.name] = e.value;
      kernel["env"] = env;
    }
  }
  nlohmann::json outputs = nlohmann::json::array();
  for (const sweep_output_decl& o : binding.outputs) {
    outputs.push_back({{"name", o.name},
                       {"dtype", DtypeName(o.dtype)},
                       {"shape", std::vector<int64_t>(o.shape, o.shape + o.rank)}});
  }
  kernel["outputs"] = outputs;
  nlohmann::json options = nlohmann::json::object();
  const sweep_kernel& k = *binding.kernel;
  for (int i = 0; i < k.n_options; ++i)
    options[k.options[i].name] = ValueJson(binding.option_values[size_t(i)]);
  nlohmann::json in = nlohmann::json::object();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputSpec& spec = config.inputs[i];
    nlohmann::json entry = {
        {"dtype", DtypeName(inputs[i].dtype)}, {"shape", inputs[i].shape}, {"xxh3", hash(i)}};
    if (spec.kind == InputSpec::Kind::kGenerate)
      entry["generate"] = {{"distribution", spec.distribution}, {"seed", spec.seed}};
    in[spec.name] = entry;
  }
  nlohmann::json fingerprint = {{"kernel", kernel}, {"options", options}, {"inputs", in}};
  // Older outputs' fingerprints have no "seeds": one made by the index rule keeps that form, so
  // its resume compares equal.
  if (seeds == SeedRule::kParameterValues) fingerprint["seeds"] = kSeedsByValues;
  return fingerprint;
}

// An input an older sweep fingerprinted by its file's size and modification time is compared
// the same way: its "xxh3" now stands for what those said.
void CompareOlderInputsByTime(const nlohmann::json& before, const Config& config,
                              nlohmann::json* now) {
  if (!before.contains("inputs") || !before["inputs"].is_object() || !now->contains("inputs"))
    return;
  for (const InputSpec& spec : config.inputs) {
    const nlohmann::json* old = nullptr;
    auto it = before["inputs"].find(spec.name);
    if (it != before["inputs"].end()) old = &*it;
    if (!old || !old->is_object() || old->contains("xxh3") || !(*now)["inputs"].contains(spec.name))
      continue;
    nlohmann::json& entry = (*now)["inputs"][spec.name];
    entry.erase("xxh3");
    struct stat st {};
    if (old->contains("file") && stat(spec.path.c_str(), &st) == 0) {
      entry["file"] = {
          {"size", uint64_t(st.st_size)},
          {"mtime_ns", int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec}};
    }
  }
}

// Kernel ABI 2 added an entry that must give the bytes of ABI 1's: a kernel now of ABI 2 that an
// older fingerprint recorded as ABI 1 (every built-in, before) computes what it computed then.
void CompareAbiOneAsTwo(const nlohmann::json& before, nlohmann::json* now) {
  const nlohmann::json::json_pointer abi("/kernel/abi");
  if (before.contains(abi) && now->contains(abi) && before[abi] == 1 && (*now)[abi] == 2)
    (*now)[abi] = 1;
}

// Built-ins' revisions were first recorded with revision 2 of array_sum: a fingerprint without
// one was written at revision 1 of its kernel.
void CompareNoRevisionAsOne(const nlohmann::json& before, nlohmann::json* now) {
  const nlohmann::json::json_pointer revision("/kernel/revision");
  if (before.contains("kernel") && !before.contains(revision) && now->contains(revision) &&
      (*now)[revision] == 1)
    (*now)["kernel"].erase("revision");
}

// Command kernels' templates were first fingerprinted with revisions, their programs later: an
// older fingerprint says nothing about them, and is taken at its word.
void CompareOlderWithoutTemplates(const nlohmann::json& before, nlohmann::json* now) {
  for (const char* key : {"files_xxh3", "program_xxh3"}) {
    const nlohmann::json::json_pointer pointer(std::string("/kernel/") + key);
    if (before.contains("kernel") && !before.contains(pointer) && now->contains(pointer))
      (*now)["kernel"].erase(key);
  }
}

// The last part of a JSON pointer that starts with `skip` characters, its escapes undone.
std::string Unescaped(const std::string& pointer, size_t skip) {
  std::string name = pointer.substr(skip);
  for (size_t at; (at = name.find("~1")) != std::string::npos;) name.replace(at, 2, "/");
  for (size_t at; (at = name.find("~0")) != std::string::npos;) name.replace(at, 2, "~");
  return name;
}

}  // namespace

nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const MappedInputs& inputs, const std::vector<uint64_t>& content_hashes,
                           SeedRule seeds) {
  std::vector<InputShape> shapes;
  for (const sweep_array& v : inputs.views())
    shapes.push_back({v.dtype, std::vector<int64_t>(v.shape, v.shape + v.rank)});
  return FingerprintWith(
      binding, config, shapes, [&](size_t i) { return Hex(content_hashes.at(i)); }, seeds);
}

nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const std::vector<InputShape>& inputs, SeedRule seeds) {
  return FingerprintWith(
      binding, config, inputs, [](size_t) { return Hex(0); }, seeds);
}

SeedRule SeedRuleOf(const std::string& fingerprint_json) {
  const nlohmann::json j = nlohmann::json::parse(fingerprint_json, nullptr, false);
  if (j.is_object() && j.value("seeds", std::string()) == kSeedsByValues)
    return SeedRule::kParameterValues;
  return SeedRule::kPointIndex;
}

std::vector<std::string> FingerprintChanges(const nlohmann::json& before, nlohmann::json now,
                                            const Config& config) {
  CompareOlderInputsByTime(before, config, &now);
  CompareAbiOneAsTwo(before, &now);
  CompareNoRevisionAsOne(before, &now);
  CompareOlderWithoutTemplates(before, &now);
  std::vector<std::string> changes;
  const nlohmann::json patch = nlohmann::json::diff(before, now);
  for (const nlohmann::json& op : patch) {
    std::string path = op.value("path", "");
    std::replace(path.begin(), path.end(), '/', '.');
    if (!path.empty() && path[0] == '.') path.erase(0, 1);
    const std::string kind = op.value("op", "");
    const std::string pointer = op.value("path", "");
    if (kind == "replace" && path.size() > 5 && path.compare(0, 7, "inputs.") == 0 &&
        path.compare(path.size() - 5, 5, ".xxh3") == 0) {
      const nlohmann::json was =
          before.value(nlohmann::json::json_pointer(pointer), nlohmann::json());
      changes.push_back(fmt::format("{}: its bytes changed (xxh3 {} before, {} now)",
                                    path.substr(0, path.size() - 5), was.dump(),
                                    op.value("value", nlohmann::json()).dump()));
    } else if (kind == "replace" && path.compare(0, 18, "kernel.files_xxh3.") == 0) {
      changes.push_back(
          fmt::format("kernel.files.{}: its template's bytes changed", Unescaped(pointer, 19)));
    } else if (kind == "replace" && path.compare(0, 20, "kernel.program_xxh3.") == 0) {
      changes.push_back(
          fmt::format("kernel.command: `{}`: its bytes changed (a rebuilt program, "
                      "an edited script)",
                      Unescaped(pointer, 21)));
    } else if (pointer.compare(0, 20, "/kernel/python_xxh3/") == 0) {
      changes.push_back(fmt::format("kernel.python: {} {}", Unescaped(pointer, 20),
                                    kind == "replace" ? "changed (its bytes differ)"
                                    : kind == "add"
                                        ? "is imported now (a module of the config's folder)"
                                        : "is no longer imported"));
    } else if (path == "kernel.revision") {
      const nlohmann::json was = before.value(nlohmann::json::json_pointer(pointer), 1);
      changes.push_back(fmt::format(
          "kernel.revision: built-in `{}` now computes other bytes than the revision that wrote "
          "this output ({} now, {} before)",
          now.value(nlohmann::json::json_pointer("/kernel/name"), std::string("?")),
          op.value("value", nlohmann::json()).dump(), was.dump()));
    } else if (path == "seeds" && kind == "add") {
      changes.push_back(
          "seeds: this output was made by an earlier sweep, whose points are seeded by their "
          "index; this sweep seeds them by their parameter values, and cannot add to it (finish "
          "it with `sweep resume`)");
    } else if (kind == "add") {
      changes.push_back(path + ": added");
    } else if (kind == "remove") {
      changes.push_back(path + ": removed");
    } else {
      changes.push_back(path + ": now " + op.value("value", nlohmann::json()).dump());
    }
  }
  return changes;
}

}  // namespace sweep
