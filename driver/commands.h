// The read-only commands: `sweep plan`, `sweep validate`, `sweep status`, `sweep kernels`.
// Each returns its exit code and prints to stdout; errors are thrown as sweep::Error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sweep {

// Points, each axis with its count, chunks and chunk size, bytes of every output dataset and of
// the inputs, and memory per worker. Touches no file but the config and the inputs' headers.
// `workers` (-j, 0: as configured) and `chunk_size` (--chunk-size, 0: auto; nullopt: as
// configured) are the settings `sweep run` would be given. With `reuse` (--reuse OLD.h5...):
// how many points `sweep run --reuse` would copy from each and how many it would compute, after
// the checks it makes (driver/reuse.h): the inputs are read, to compare their bytes, and the
// OLD outputs (read only).
int PlanCommand(const std::string& config_path, const std::vector<std::string>& overrides,
                int workers, std::optional<uint64_t> chunk_size, bool json,
                const std::vector<std::string>& reuse = {});

// Checks the config, its kernel and its inputs. Prints `ok` or throws every problem found.
int ValidateCommand(const std::string& config_path, const std::vector<std::string>& overrides);

// Counts by state, throughput and ETA if a run is live, what each of its workers computes, and
// every failed chunk with its point, parameter values and reason. With `watch`, again every
// `interval_seconds` while the run is live (driver/status.h, WatchStatus).
int StatusCommand(const std::string& output_path, bool json, bool watch = false,
                  double interval_seconds = 1.0);

// Every kernel, or one (a built-in name or a plugin path), with its declarations.
int KernelsCommand(const std::string& name, bool json);

}  // namespace sweep
