// Fingerprint: what a sweep's results depend on besides its config text, stored in the output
// (attribute `fingerprint`) so `sweep resume` and later shards can refuse to mix results.
//
// JSON: {"seeds": "parameter values", "kernel": {name, abi (the kernel ABI it was built for),
// outputs, and for a plugin "library_xxh3" of the library's bytes, for a built-in the
// "sweep_version" and the "revision" of what it computes (kernels/builtin/list.h), for a command
// kernel (per point or persistent) the "program_xxh3" of its program and the scripts its
// arguments name (ProgramFiles, driver/command_binding.h), with `files:` the "files_xxh3" of each
// template, and with `env:` the "env" it sets, as written; for a Python kernel the "python_xxh3" of
// the model and of each module of the config's folder it imports (driver/python_binding.h:
// PythonSourceFiles), by their paths relative to the config, and the version of "python" sweep was
// built with}, "options": {name: value}, "inputs": {name: {dtype, shape, "xxh3" of the array's
// bytes (driver/input_guard.h), and "generate": {distribution, seed} for a generated array}}}.
// "seeds" names the rule a point's seed follows (driver/space.h): an output without it was made
// before seeds by value, and keeps its seeds by point index for its resume, rerun and export
// (SeedRuleOf), so what it computed keeps its meaning. Inputs are judged by their bytes, not by
// size and modification time: a `touch` or a copy is no change, an edit that restores both is one.
// Hashing costs one read of each input when a run starts (XXH3 runs at memory speed: about 0.1 s
// per GiB in the page cache).
//
// Fingerprints written by older sweeps hold "file": {size, mtime_ns} instead of "xxh3";
// FingerprintChanges compares such an input by size and time, as those sweeps did. They also
// recorded sweep's own kernel ABI, 1, for every kernel: a kernel of ABI 2 is no change from it
// (ABI 2's batched entry gives the bytes of ABI 1's per-point one). Before built-ins' revisions
// were recorded every built-in was at revision 1, so a fingerprint without one is revision 1.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "io/config.h"
#include "io/inputs.h"

namespace sweep {

// `content_hashes[i]`: XXH3-64 of input i's bytes (InputGuard::start_hashes()). `seeds`: the
// rule of the output it is for (a resumed one keeps its own).
nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const MappedInputs& inputs, const std::vector<uint64_t>& content_hashes,
                           SeedRule seeds = SeedRule::kParameterValues);
// The same from the inputs' dtypes and shapes (Config::inputs order), as `sweep plan` knows them
// without reading anything: every "xxh3" is zeros, so the text has the length of the real one.
nlohmann::json Fingerprint(const KernelBinding& binding, const Config& config,
                           const std::vector<InputShape>& inputs,
                           SeedRule seeds = SeedRule::kParameterValues);

// The seed rule a fingerprint (JSON text) records: kPointIndex when it has no "seeds" (an
// output made before seeds by value), or when it is not JSON.
SeedRule SeedRuleOf(const std::string& fingerprint_json);

// What differs from `before` to `now`, one line each ("inputs.data.xxh3: now \"...\"").
// `config` resolves the inputs of an older fingerprint that judged files by size and time.
std::vector<std::string> FingerprintChanges(const nlohmann::json& before, nlohmann::json now,
                                            const Config& config);

}  // namespace sweep
