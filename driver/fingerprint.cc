#include "driver/fingerprint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <algorithm>

#include "driver/point_values.h"

namespace sweep {

nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const MappedInputs& inputs) {
  std::vector<InputShape> shapes;
  for (const sweep_array& v : inputs.views())
    shapes.push_back({v.dtype, std::vector<int64_t>(v.shape, v.shape + v.rank)});
  return Fingerprint(binding, config, shapes);
}

nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const std::vector<InputShape>& inputs) {
  nlohmann::json kernel = {{"name", binding.name}, {"abi", SWEEP_KERNEL_ABI}};
  if (!config.kernel.plugin.empty()) {
    const int fd = open(config.kernel.plugin.c_str(), O_RDONLY | O_CLOEXEC);
    std::string bytes;
    if (fd >= 0) {
      char buffer[1 << 16];
      ssize_t n;
      while ((n = read(fd, buffer, sizeof buffer)) > 0) bytes.append(buffer, size_t(n));
      close(fd);
    }
    kernel["library_xxh3"] = fmt::format("{:016x}", XXH3_64bits(bytes.data(), bytes.size()));
  } else {
    kernel["sweep_version"] = SWEEP_VERSION;
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
    nlohmann::json entry = {{"dtype", DtypeName(inputs[i].dtype)}, {"shape", inputs[i].shape}};
    if (spec.kind == InputSpec::Kind::kGenerate) {
      entry["generate"] = {{"distribution", spec.distribution}, {"seed", spec.seed}};
    } else {
      // Like make and ninja: a file is what its size and modification time say. Hashing the
      // bytes instead would read every input once more before the first worker starts.
      struct stat st {};
      if (stat(spec.path.c_str(), &st) == 0) {
        entry["file"] = {
            {"size", uint64_t(st.st_size)},
            {"mtime_ns", int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec}};
      }
    }
    in[spec.name] = entry;
  }
  return {{"kernel", kernel}, {"options", options}, {"inputs", in}};
}

std::vector<std::string> FingerprintChanges(const nlohmann::json& before,
                                            const nlohmann::json& now) {
  std::vector<std::string> changes;
  const nlohmann::json patch = nlohmann::json::diff(before, now);
  for (const nlohmann::json& op : patch) {
    std::string path = op.value("path", "");
    std::replace(path.begin(), path.end(), '/', '.');
    if (!path.empty() && path[0] == '.') path.erase(0, 1);
    const std::string kind = op.value("op", "");
    if (kind == "add") {
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
