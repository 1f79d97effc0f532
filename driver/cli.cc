#include "driver/cli.h"

#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "driver/commands.h"
#include "driver/run.h"
#include "driver/worker.h"
#include "io/error.h"

namespace sweep {
namespace {

void PrintError(const std::string& message) {
  // One line per problem, each `sweep: <where>: <what>`.
  size_t start = 0;
  while (start <= message.size()) {
    const size_t end = std::min(message.find('\n', start), message.size());
    const std::string line = message.substr(start, end - start);
    if (!line.empty()) {
      // Lines that continue a message (indented) are printed as they are.
      std::fprintf(stderr, line[0] == ' ' ? "%s\n" : "sweep: %s\n", line.c_str());
    }
    start = end + 1;
  }
}

ProgressMode ProgressFrom(bool quiet, bool json) {
  if (quiet) return ProgressMode::kQuiet;
  if (json) return ProgressMode::kJson;
  return ProgressMode::kAuto;
}

// "I/N" with 0 <= I < N.
std::pair<int, int> ParseShard(const std::string& text) {
  int index = -1, count = 0;
  char rest = 0;
  if (std::sscanf(text.c_str(), "%d/%d%c", &index, &count, &rest) != 2 || count < 1 || index < 0 ||
      index >= count) {
    throw Error("--shard: expected I/N with 0 <= I < N (like 3/8), got `" + text + "`",
                ExitCode::kUsage);
  }
  return {index, count};
}

int Dispatch(int argc, char** argv) {
  // The hidden entry of spawned workers: not a user command, and it must not touch CLI11's
  // parsing (a worker has no arguments to get wrong).
  if (argc == 2 && std::strcmp(argv[1], "__worker") == 0) return SpawnedWorkerMain();

  CLI::App app{
      "sweep: parameter sweeps of simulation kernels on every core, results in one HDF5 file"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("sweep ") + SWEEP_VERSION);

  RunRequest run;
  std::string run_chunk_size;
  bool quiet = false, json_progress = false;
  CLI::App* run_cmd = app.add_subcommand("run", "run a sweep from a config file");
  run_cmd->add_option("config", run.config_path, "the YAML config")->required();
  run_cmd->add_option("-o,--output", run.output_path,
                      "the output file (default: the config's output.path)");
  run_cmd
      ->add_option("-j,--workers", run.workers,
                   "worker processes (default: the config's, or every core)")
      ->check(CLI::PositiveNumber);
  run_cmd->add_option("--chunk-size", run_chunk_size, "points per chunk, or auto");
  run_cmd->add_option("--set", run.overrides, "override a config key: key.path=value (repeatable)");
  run_cmd->add_flag("--force", run.force, "replace an existing output");
  std::string shard;
  run_cmd->add_option("--shard", shard,
                      "I/N: compute only the chunks c with c % N == I (a Slurm array task)");
  run_cmd->add_flag("-q,--quiet", quiet, "no progress, no summary");
  run_cmd->add_flag("--json", json_progress, "progress as JSON lines on stdout");

  std::string plan_config;
  std::vector<std::string> plan_overrides;
  int plan_workers = 0;
  std::string plan_chunk_size;
  bool plan_json = false;
  CLI::App* plan_cmd =
      app.add_subcommand("plan", "show points, chunks, output bytes and memory; touches nothing");
  plan_cmd->add_option("config", plan_config, "the YAML config")->required();
  plan_cmd->add_option("-j,--workers", plan_workers, "plan for this many workers")
      ->check(CLI::PositiveNumber);
  plan_cmd->add_option("--chunk-size", plan_chunk_size, "plan with this many points per chunk, or auto");
  plan_cmd->add_option("--set", plan_overrides, "override a config key: key.path=value");
  plan_cmd->add_flag("--json", plan_json, "print JSON");

  std::string validate_config;
  std::vector<std::string> validate_overrides;
  CLI::App* validate_cmd = app.add_subcommand(
      "validate", "check a config (and its kernel and inputs); print ok or every error");
  validate_cmd->add_option("config", validate_config, "the YAML config")->required();
  validate_cmd->add_option("--set", validate_overrides, "override a config key: key.path=value");

  std::string status_output;
  bool status_json = false;
  CLI::App* status_cmd =
      app.add_subcommand("status", "what is done, pending and failed in an output");
  status_cmd->add_option("output", status_output, "the output file")->required();
  status_cmd->add_flag("--json", status_json, "print JSON");

  RunRequest resume;
  resume.mode = RunRequest::Mode::kResume;
  CLI::App* resume_cmd = app.add_subcommand(
      "resume", "finish pending and failed chunks with the config stored in OUTPUT");
  resume_cmd->add_option("output", resume.output_path, "the output file")->required();
  resume_cmd->add_option("-j,--workers", resume.workers, "worker processes")
      ->check(CLI::PositiveNumber);
  resume_cmd->add_flag("--force", resume.force,
                       "go on even if the kernel, its options or an input changed");
  resume_cmd->add_flag("-q,--quiet", quiet, "no progress, no summary");
  resume_cmd->add_flag("--json", json_progress, "progress as JSON lines on stdout");

  RunRequest rerun;
  rerun.mode = RunRequest::Mode::kRerun;
  std::string rerun_chunks, rerun_points;
  CLI::App* rerun_cmd =
      app.add_subcommand("rerun", "recompute exactly the chosen chunks or points");
  rerun_cmd->add_option("output", rerun.output_path, "the output file")->required();
  rerun_cmd->add_flag("--failed", rerun.failed, "every failed chunk");
  auto* chunks_opt = rerun_cmd->add_option("--chunks", rerun_chunks, "chunks, e.g. 3,7-9");
  auto* points_opt = rerun_cmd->add_option(
      "--points", rerun_points, "points, e.g. 12,40 (their whole chunks are recomputed)");
  rerun_cmd->add_flag("--inline", rerun.inline_compute,
                      "compute in this process (for gdb), one chunk after another");
  rerun_cmd->add_option("-j,--workers", rerun.workers, "worker processes")
      ->check(CLI::PositiveNumber);
  rerun_cmd->add_flag("--force", rerun.force,
                      "go on even if the kernel, its options or an input changed");
  rerun_cmd->add_flag("-q,--quiet", quiet, "no progress, no summary");
  rerun_cmd->add_flag("--json", json_progress, "progress as JSON lines on stdout");

  std::string kernel_name;
  bool kernels_json = false;
  CLI::App* kernels_cmd = app.add_subcommand(
      "kernels", "list kernels with their parameters, options, inputs and outputs");
  kernels_cmd->add_option("name", kernel_name, "one kernel, or a plugin's path");
  kernels_cmd->add_flag("--json", kernels_json, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    PrintError(std::string("usage: ") + e.what() + " (see sweep --help)");
    return int(ExitCode::kUsage);
  }

  if (run_cmd->parsed()) {
    if (!run_chunk_size.empty()) run.chunk_size = ParseChunkSize(run_chunk_size);
    if (!shard.empty()) run.shard = ParseShard(shard);
    run.progress = ProgressFrom(quiet, json_progress);
    return ExecuteRun(run);
  }
  if (plan_cmd->parsed()) {
    std::optional<uint64_t> chunk_size;
    if (!plan_chunk_size.empty()) chunk_size = ParseChunkSize(plan_chunk_size);
    return PlanCommand(plan_config, plan_overrides, plan_workers, chunk_size, plan_json);
  }
  if (validate_cmd->parsed()) return ValidateCommand(validate_config, validate_overrides);
  if (status_cmd->parsed()) return StatusCommand(status_output, status_json);
  if (resume_cmd->parsed()) {
    resume.progress = ProgressFrom(quiet, json_progress);
    return ExecuteRun(resume);
  }
  if (rerun_cmd->parsed()) {
    if (!rerun.failed && chunks_opt->count() == 0 && points_opt->count() == 0) {
      throw Error("rerun: say what to recompute: --failed, --chunks or --points", ExitCode::kUsage);
    }
    if (chunks_opt->count()) rerun.chunks = ParseIndexList(rerun_chunks, "--chunks");
    if (points_opt->count()) rerun.points = ParseIndexList(rerun_points, "--points");
    rerun.progress = ProgressFrom(quiet, json_progress);
    return ExecuteRun(rerun);
  }
  if (kernels_cmd->parsed()) return KernelsCommand(kernel_name, kernels_json);
  return int(ExitCode::kUsage);
}

}  // namespace

int RunCommandLine(int argc, char** argv) {
  try {
    return Dispatch(argc, argv);
  } catch (const Error& e) {
    PrintError(e.what());
    return int(e.code());
  } catch (const std::exception& e) {
    PrintError(std::string("internal error: ") + e.what());
    return int(ExitCode::kFailure);
  }
}

}  // namespace sweep
