#include "driver/cli.h"

#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "driver/bash_completion.h"
#include "driver/commands.h"
#include "driver/export.h"
#include "driver/report.h"
#include "driver/run.h"
#include "driver/worker.h"
#include "driver/zygote.h"
#include "io/error.h"
#include "io/yaml_source.h"
#include "kernels/python.h"
#include "kernels/registry.h"

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

// The visible commands (hidden ones have no group), by name.
std::vector<std::string> CommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* command :
       app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty(); }))
    names.push_back(command->get_name());
  return names;
}

const CLI::App* FindCommand(const CLI::App& app, const std::string& name) {
  for (const CLI::App* command :
       app.get_subcommands([](const CLI::App* c) { return !c->get_group().empty(); }))
    if (command->get_name() == name) return command;
  return nullptr;
}

std::string Joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& w : words) text += (text.empty() ? "" : ", ") + w;
  return text;
}

Error UnknownCommand(const CLI::App& app, const std::string& name) {
  const std::string close = ClosestMatch(name, CommandNames(app));
  return Error(close.empty() ? "unknown command `" + name + "`; the commands are " +
                                   Joined(CommandNames(app)) + " (see `sweep --help`)"
                             : "unknown command `" + name + "`; did you mean `" + close + "`?",
               ExitCode::kUsage);
}

// What CLI11 refused, as one line that names the command, suggests the option meant by a
// misspelt one, and points to the command's --help.
Error UsageError(const CLI::App& app, const std::string& command, const CLI::ParseError& e) {
  if (command.empty()) {
    return Error("a command is needed: " + Joined(CommandNames(app)) + " (see `sweep --help`)",
                 ExitCode::kUsage);
  }
  const CLI::App* cmd = FindCommand(app, command);
  const std::string help = "see `sweep " + command + " --help`";
  if (dynamic_cast<const CLI::ExtrasError*>(&e) && cmd) {
    std::vector<std::string> options;
    for (const CLI::Option* option : cmd->get_options()) {
      for (const std::string& s : option->get_snames()) options.push_back("-" + s);
      for (const std::string& l : option->get_lnames()) options.push_back("--" + l);
    }
    for (const std::string& extra : cmd->remaining()) {
      if (extra.size() < 2 || extra[0] != '-') {
        return Error(command + ": unexpected argument `" + extra + "` (" + help + ")",
                     ExitCode::kUsage);
      }
      const std::string name = extra.substr(0, extra.find('='));
      const std::string close = ClosestMatch(name, options);
      return Error(command + ": unknown option `" + name + "`" +
                       (close.empty() ? " (" + help + ")" : "; did you mean `" + close + "`?"),
                   ExitCode::kUsage);
    }
  }
  if (dynamic_cast<const CLI::RequiredError*>(&e) && cmd) {
    for (const CLI::Option* option : cmd->get_options()) {
      if (option->get_positional() && option->get_required() && option->count() == 0) {
        return Error(command + ": missing " + option->get_type_name() + " (" + help + ")",
                     ExitCode::kUsage);
      }
    }
  }
  return Error(command + ": " + e.what() + " (" + help + ")", ExitCode::kUsage);
}

// -j: CLI11's PositiveNumber would take 2.5 and word its refusal with a range of doubles.
CLI::Validator PositiveCount() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const long n = std::strtol(text.c_str(), &end, 10);
        if (!text.empty() && *end == '\0' && errno == 0 && n > 0 && n <= INT32_MAX) return "";
        return "expected a positive integer, got `" + text + "`";
      },
      "");
}

// Each Add*Command() declares one subcommand's options on `app` and returns what runs it once
// parsed; the options live in the returned closure.
using Handler = std::function<int()>;

// `-q` and `--json` of the commands that compute.
struct ProgressFlags {
  bool quiet = false, json = false;
  void AddTo(CLI::App* command) {
    command->add_flag("-q,--quiet", quiet, "no progress, no summary");
    command->add_flag("--json", json, "progress as JSON lines on stdout");
  }
  ProgressMode Mode() const { return ProgressFrom(quiet, json); }
};

// `--mpi`, listed only in a build with the MPI backend.
void AddMpiFlag(CLI::App* command, RunRequest* request) {
#if defined(SWEEP_HAVE_MPI)
  command->add_flag("--mpi", request->mpi,
                    "one sweep over every rank of an MPI job (mpirun/srun), -j workers per rank");
#else
  (void)command;
  (void)request;
#endif
}

struct RunOptions {
  RunRequest request;
  std::string chunk_size, shard;
  ProgressFlags progress;
};

Handler AddRunCommand(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "run a sweep from a config file");
  cmd->add_option("config", o->request.config_path, "the YAML config")
      ->required()
      ->type_name("CONFIG");
  cmd->add_option("-o,--output", o->request.output_path,
                  "the output file (default: the config's output.path)")
      ->type_name("OUT.h5");
  cmd->add_option("-j,--workers", o->request.workers,
                  "worker processes (default: the config's, or every core)")
      ->check(PositiveCount())
      ->type_name("N");
  cmd->add_option("--chunk-size", o->chunk_size, "points per chunk, or auto")->type_name("K|auto");
  cmd->add_option("--set", o->request.overrides,
                  "override a config key: key.path=value (repeatable)")
      ->type_name("KEY=VALUE");
  cmd->add_flag("--force", o->request.force, "replace an existing output");
  cmd->add_option("--reuse", o->request.reuse,
                  "copy the points an earlier output of the same kernel, options, inputs and "
                  "seed holds done, instead of computing them (repeatable)")
      ->type_name("OLD.h5");
  cmd->add_option("--shard", o->shard,
                  "compute only the chunks c with c % N == I (a Slurm array task)")
      ->type_name("I/N");
  AddMpiFlag(cmd, &o->request);
  o->progress.AddTo(cmd);
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    if (!o->chunk_size.empty()) o->request.chunk_size = ParseChunkSize(o->chunk_size);
    if (!o->shard.empty()) o->request.shard = ParseShard(o->shard);
    o->request.progress = o->progress.Mode();
    return ExecuteRun(o->request);
  };
}

struct PlanOptions {
  std::string config, chunk_size;
  std::vector<std::string> overrides, reuse;
  int workers = 0;
  bool json = false;
};

Handler AddPlanCommand(CLI::App& app) {
  auto o = std::make_shared<PlanOptions>();
  CLI::App* cmd =
      app.add_subcommand("plan", "show points, chunks, output bytes and memory; touches nothing");
  cmd->add_option("config", o->config, "the YAML config")->required()->type_name("CONFIG");
  cmd->add_option("-j,--workers", o->workers, "plan for this many workers")
      ->check(PositiveCount())
      ->type_name("N");
  cmd->add_option("--chunk-size", o->chunk_size, "plan with this many points per chunk, or auto")
      ->type_name("K|auto");
  cmd->add_option("--set", o->overrides, "override a config key: key.path=value")
      ->type_name("KEY=VALUE");
  cmd->add_option("--reuse", o->reuse,
                  "count the points `run --reuse` would copy from this earlier output "
                  "(repeatable; reads the inputs to compare their bytes)")
      ->type_name("OLD.h5");
  cmd->add_flag("--json", o->json, "print JSON");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    std::optional<uint64_t> chunk_size;
    if (!o->chunk_size.empty()) chunk_size = ParseChunkSize(o->chunk_size);
    return PlanCommand(o->config, o->overrides, o->workers, chunk_size, o->json, o->reuse);
  };
}

struct ValidateOptions {
  std::string config;
  std::vector<std::string> overrides;
};

Handler AddValidateCommand(CLI::App& app) {
  auto o = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate", "check a config (and its kernel and inputs); print ok or every error");
  cmd->add_option("config", o->config, "the YAML config")->required()->type_name("CONFIG");
  cmd->add_option("--set", o->overrides, "override a config key: key.path=value")
      ->type_name("KEY=VALUE");
  return
      [cmd, o]() -> int { return cmd->parsed() ? ValidateCommand(o->config, o->overrides) : -1; };
}

struct StatusOptions {
  std::string output;
  bool json = false, watch = false;
  double interval = 1.0;
};

Handler AddStatusCommand(CLI::App& app) {
  auto o = std::make_shared<StatusOptions>();
  CLI::App* cmd = app.add_subcommand(
      "status", "what is done, pending and failed in an output; per worker while it runs");
  cmd->add_option("output", o->output, "the output file")->required()->type_name("OUT.h5");
  cmd->add_flag("--json", o->json, "print JSON (with --watch: one object a line)");
  cmd->add_flag("--watch", o->watch,
                "refresh until the run ends (in place on a terminal), then print the final state");
  cmd->add_option("--interval", o->interval, "seconds between refreshes of --watch")
      ->check(CLI::Range(0.1, 3600.0))
      ->type_name("SECONDS")
      ->capture_default_str();
  return [cmd, o]() -> int {
    return cmd->parsed() ? StatusCommand(o->output, o->json, o->watch, o->interval) : -1;
  };
}

struct ExportOptions {
  ExportRequest request;
  std::string format = "csv";
};

Handler AddExportCommand(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  CLI::App* cmd = app.add_subcommand(
      "export", "the done points as a CSV or JSON-lines table: parameters, seed, scalar outputs");
  cmd->add_option("output", o->request.output_path, "the output file")
      ->required()
      ->type_name("OUT.h5");
  cmd->add_option("--format", o->format,
                  "csv (a header line; NaN as nan) or jsonl (an object a line; NaN as null)")
      ->check(CLI::IsMember({"csv", "jsonl"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", o->request.destination,
                  "write this file (whole, or not at all) instead of stdout")
      ->type_name("FILE");
  cmd->add_flag("--chunks", o->request.chunks,
                "a row per chunk instead: status, attempts, host, worker, start time, seconds, "
                "peak memory, latest failure");
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    o->request.format = o->format == "jsonl" ? ExportFormat::kJsonl : ExportFormat::kCsv;
    return ExportCommand(o->request);
  };
}

Handler AddReportCommand(CLI::App& app) {
  auto request = std::make_shared<ReportRequest>();
  CLI::App* cmd = app.add_subcommand(
      "report", "one self-contained HTML page: summary, results plotted, timeline, failures");
  cmd->add_option("output", request->output_path, "the output file")->required();
  cmd->add_option("-o,--output", request->destination,
                  "write this file (default: beside the output, OUT.h5.report.html)");
  return [cmd, request]() -> int { return cmd->parsed() ? ReportCommand(*request) : -1; };
}

// `--input NAME=PATH`: an input of the stored config found elsewhere now (the project moved).
void AddInputOption(CLI::App* cmd, RunRequest* request) {
  cmd->add_option("--input", request->input_paths,
                  "NAME=PATH: read input NAME from PATH (its bytes must be the same, or --force)")
      ->type_name("NAME=PATH");
}

struct ResumeOptions {
  RunRequest request;
  ProgressFlags progress;
};

Handler AddResumeCommand(CLI::App& app) {
  auto o = std::make_shared<ResumeOptions>();
  o->request.mode = RunRequest::Mode::kResume;
  CLI::App* cmd = app.add_subcommand(
      "resume", "finish pending and failed chunks with the config stored in OUTPUT");
  cmd->add_option("output", o->request.output_path, "the output file")
      ->required()
      ->type_name("OUT.h5");
  cmd->add_option("-j,--workers", o->request.workers, "worker processes")
      ->check(PositiveCount())
      ->type_name("N");
  cmd->add_flag("--force", o->request.force,
                "go on even if the kernel, its options or an input changed");
  AddInputOption(cmd, &o->request);
  AddMpiFlag(cmd, &o->request);
  o->progress.AddTo(cmd);
  return [cmd, o]() -> int {
    if (!cmd->parsed()) return -1;
    o->request.progress = o->progress.Mode();
    return ExecuteRun(o->request);
  };
}

struct RerunOptions {
  RunRequest request;
  std::string chunks, points;
  ProgressFlags progress;
};

Handler AddRerunCommand(CLI::App& app) {
  auto o = std::make_shared<RerunOptions>();
  o->request.mode = RunRequest::Mode::kRerun;
  CLI::App* cmd = app.add_subcommand("rerun", "recompute exactly the chosen chunks or points");
  cmd->add_option("output", o->request.output_path, "the output file")
      ->required()
      ->type_name("OUT.h5");
  cmd->add_flag("--failed", o->request.failed, "every failed chunk");
  CLI::Option* chunks =
      cmd->add_option("--chunks", o->chunks, "chunks, e.g. 3,7-9")->type_name("LIST");
  CLI::Option* points = cmd->add_option("--points", o->points,
                                        "points, e.g. 12,40 (their whole chunks are recomputed)")
                            ->type_name("LIST");
  cmd->add_flag("--inline", o->request.inline_compute,
                "compute in this process (for gdb), one chunk after another");
  cmd->add_option("-j,--workers", o->request.workers, "worker processes")
      ->check(PositiveCount())
      ->type_name("N");
  cmd->add_flag("--force", o->request.force,
                "go on even if the kernel, its options or an input changed");
  AddInputOption(cmd, &o->request);
  o->progress.AddTo(cmd);
  return [cmd, o, chunks, points]() -> int {
    if (!cmd->parsed()) return -1;
    if (!o->request.failed && chunks->count() == 0 && points->count() == 0) {
      throw Error("rerun: say what to recompute: --failed, --chunks or --points", ExitCode::kUsage);
    }
    if (chunks->count()) o->request.chunks = ParseIndexList(o->chunks, "--chunks");
    if (points->count()) o->request.points = ParseIndexList(o->points, "--points");
    o->request.progress = o->progress.Mode();
    return ExecuteRun(o->request);
  };
}

struct KernelsOptions {
  std::string name;
  bool json = false;
};

Handler AddKernelsCommand(CLI::App& app) {
  auto o = std::make_shared<KernelsOptions>();
  CLI::App* cmd = app.add_subcommand(
      "kernels", "list kernels with their parameters, options, inputs and outputs");
  cmd->add_option("name", o->name, "one kernel, or a plugin's path")->type_name("KERNEL");
  cmd->add_flag("--json", o->json, "print JSON");
  return [cmd, o]() -> int { return cmd->parsed() ? KernelsCommand(o->name, o->json) : -1; };
}

// `sweep help [COMMAND]`: the help of the whole command line, or of one command.
Handler AddHelpCommand(CLI::App& app) {
  auto command = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("help", "show the options of a command: sweep help run");
  cmd->add_option("command", *command, "a command")->type_name("COMMAND");
  return [&app, cmd, command]() -> int {
    if (!cmd->parsed()) return -1;
    // Through the formatter: App::help() would show the help of the command parsed, `help`.
    const CLI::App* target = command->empty() ? &app : FindCommand(app, *command);
    if (!target) throw UnknownCommand(app, *command);
    const std::string name = target == &app ? app.get_name() : app.get_name() + " " + *command;
    std::fputs(target->get_formatter()->make_help(target, name, CLI::AppFormatMode::Normal).c_str(),
               stdout);
    return 0;
  };
}

// `sweep completion`: the bash completion script (driver/bash_completion.h).
Handler AddCompletionCommand(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "completion", "print the bash completion script: source <(sweep completion)");
  return [&app, cmd]() -> int {
    if (!cmd->parsed()) return -1;
    std::vector<std::string> kernels;
    for (const sweep_kernel* k : BuiltinKernels()) kernels.push_back(k->name);
    std::fputs(BashCompletion(app, kernels).c_str(), stdout);
    return 0;
  };
}

int Dispatch(int argc, char** argv) {
  // The hidden entry of spawned workers: not a user command, and it must not touch CLI11's
  // parsing (a worker has no arguments to get wrong).
  if (argc == 2 && std::strcmp(argv[1], "__worker") == 0) return SpawnedWorkerMain();
  if (argc == 3 && std::strcmp(argv[1], "__worker") == 0 && std::strcmp(argv[2], "zygote") == 0)
    return ZygoteMain(argv[2]);

  CLI::App app{
      "sweep: parameter sweeps of simulation kernels on every core, results in one HDF5 file",
      "sweep"};
  app.require_subcommand(1);
  // The Python a `python:` kernel runs in, since its packages are that Python's.
  app.set_version_flag(
      "--version",
      std::string("sweep ") + SWEEP_VERSION +
          (PythonKernelsBuilt() ? " (Python " + PythonVersionBuilt() + ")" : " (without Python)"));
  const Handler handlers[] = {
      AddRunCommand(app),    AddPlanCommand(app),      AddValidateCommand(app),
      AddStatusCommand(app), AddExportCommand(app),    AddReportCommand(app),
      AddResumeCommand(app), AddRerunCommand(app),     AddKernelsCommand(app),
      AddHelpCommand(app),   AddCompletionCommand(app)};
  // The command is the first word that is not an option (the top level's options take no value).
  std::string command;
  for (int i = 1; i < argc && command.empty(); ++i)
    if (argv[i][0] != '-') command = argv[i];
  if (!command.empty() && !FindCommand(app, command)) throw UnknownCommand(app, command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    throw UsageError(app, command, e);
  }
  // Exactly one subcommand parsed (require_subcommand): the others answer -1.
  for (const Handler& handler : handlers) {
    const int code = handler();
    if (code >= 0) return code;
  }
  return int(ExitCode::kUsage);
}

}  // namespace

int RunCommandLine(int argc, char** argv) {
  // `sweep run ... | head`: once the reader is gone, progress lines fail with EPIPE and are
  // dropped; the run itself goes on and is journaled, rather than dying of SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
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
