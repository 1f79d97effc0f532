// Fingerprint: what a sweep's results depend on besides its config text, stored in the output
// (attribute `fingerprint`) so `sweep resume` and later shards can refuse to mix results.
//
// JSON: {"kernel": {name, abi, outputs, and for a plugin "library_xxh3" of the library's bytes,
// for a built-in the "sweep_version"}, "options": {name: value}, "inputs": {name: {dtype, shape,
// and "file": {size, mtime_ns} for a file, "generate": {distribution, seed} for a generated
// array}}}. Files are judged by size and modification time, as make and ninja do, not by their
// bytes: hashing a large input would cost a full read of it before the first worker starts.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "io/config.h"
#include "io/inputs.h"

namespace sweep {

nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const MappedInputs& inputs);
// The same from the inputs' dtypes and shapes (Config::inputs order), as `sweep plan` knows them
// without mapping anything.
nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const std::vector<InputShape>& inputs);

// What differs from `before` to `now`, one line each ("inputs.data.xxh3: now \"...\"").
std::vector<std::string> FingerprintChanges(const nlohmann::json& before,
                                            const nlohmann::json& now);

}  // namespace sweep
