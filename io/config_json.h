// The job description: a checked Config as compact JSON, for the processes that rebuild a sweep
// without its YAML (spawned workers, MPI ranks > 0).
//
// Why: a config may be 16 MiB of YAML (kMaxConfigBytes), which yaml-cpp takes seconds to parse.
// The driver parses it once; every other process gets this description instead and reads it with
// nlohmann json in a fraction of the time, never calling the YAML parser (a spawned worker does
// not even link it).
//
// Format "sweep-job/1", one JSON object:
//   {"format": "sweep-job/1", "file", "folder", "seed", "kernel", "inputs", "parameters", "zip",
//    "zip_where", "repeat", "sampling", "execution", "output"}
// with every field of those Config members under its own name (KernelSpec::command_outputs as
// "command_outputs", ...), enums by their YAML word ("linspace", "sobol", "dynamic", ...). A Value
// is a JSON integer (kInteger), a JSON float (kNumber) or a JSON string (kString), so its type
// survives; a non-finite double, which JSON cannot spell, is {"double": "inf" | "-inf" | "nan" |
// "-nan"}.
// Finite doubles go through nlohmann's shortest round-trip text: the same bits come back. A
// SourceLocation is [file, line, column], so a config error raised by a worker or an MPI rank
// (a plugin missing on that node) still names the line of the config.
//
// Carried: everything Space, BindKernel, PublishInputs and LocalWorkers read of a Config (seed,
// parameters, zip groups, repeat, sampling, the kernel spec, the inputs' full specs, which MPI
// ranks publish themselves, execution, output.path, from which the command kernel's work
// directories derive, file and folder); what no worker reads is carried anyway when it is a few
// bytes (execution.max_failures), so that the rule is simple: every field. Not carried: `text`
// (the point of it), `name` and `notes`, which only the driver reads; a decoded Config has them
// empty.
//
// Adding a field to a Config struct: one Put line in its Encode and one Take line in its Decode
// (config_json.cc). tests/config_json_test.cc counts every struct's fields at compile time, so a
// forgotten one fails the build of the tests.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "io/config.h"

namespace sweep {

inline constexpr const char* kConfigJsonFormat = "sweep-job/1";

// The job description of a config read by LoadConfig() or ParseConfig().
nlohmann::json ConfigToJson(const Config& config);

// The Config back, equal to the encoded one in every carried field.
// THROWS: Error (exit code 1) when `job` is not format kConfigJsonFormat or lacks a field or has
// one of the wrong type, naming it. It does not check the config again: the driver did.
Config ConfigFromJson(const nlohmann::json& job);

}  // namespace sweep
