#include "driver/fingerprint.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <algorithm>

#include "driver/point_values.h"

namespace sweep {

nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const MappedInputs& inputs) {
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
  for (size_t i = 0; i < inputs.views().size(); ++i) {
    const sweep_array& v = inputs.views()[i];
    uint64_t bytes = DtypeSize(v.dtype);
    for (int d = 0; d < v.rank; ++d) bytes *= uint64_t(v.shape[d]);
    in[config.inputs[i].name] = {
        {"dtype", DtypeName(v.dtype)},
        {"shape", std::vector<int64_t>(v.shape, v.shape + v.rank)},
        {"xxh3", fmt::format("{:016x}", v.data ? XXH3_64bits(v.data, bytes) : 0)}};
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
