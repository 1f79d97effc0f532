#include "driver/run.h"

#include <sys/resource.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cstdio>
#include <memory>

#include "driver/gpus.h"
#include "driver/run_steps.h"
#include "driver/status.h"
#include "driver/worker_board.h"
#if defined(SWEEP_HAVE_MPI)
#include "driver/mpi_run.h"
#endif
#include <nlohmann/json.hpp>

#include "io/clock.h"
#include "io/error.h"

namespace sweep {
void JournalStart(PreparedRun& run, int workers, const WorkerHosts& hosts,
                  const std::map<int, std::map<std::string, std::string>>& other_ranks) {
  JournalRecord started;
  started.type = "started";
  started.time = WallSeconds();
  started.pid = getpid();
  started.command = run.CommandName();
  started.workers = workers;
  started.fingerprint_json = run.fingerprint;
  started.hosts = hosts;
  if (!run.reuse.empty()) {
    nlohmann::json reuse = nlohmann::json::array();
    for (size_t s = 0; s < run.reuse.sources().size(); ++s)
      reuse.push_back({{"file", run.reuse.sources()[s].path}, {"points", run.reused.points[s]}});
    started.reuse_json = reuse.dump();
  }
  started.paths = other_ranks;
  if (!run.config.path_templates.empty()) started.paths[0] = ExpandedPaths(run.config);
  run.journal->Append(started);
}

double ProcessCpuSeconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

int FinishRun(PreparedRun& run, const RunRequest& request, RunRecorder& recorder,
              Progress& progress, bool interrupted, std::string stop_message, StopDetails details) {
  recorder.StopShowingWorkers();
  if (run.filler) run.filler->Stop();
  try {
    const std::string changed = recorder.CheckInputsAtEnd();
    if (stop_message.empty()) stop_message = changed;
  } catch (const std::exception& e) {
    if (stop_message.empty()) stop_message = e.what();
  }
  // Points done are no use when they are not at the path: the run ends in that error.
  const std::string output_gone = recorder.OutputGone();
  if (stop_message.empty()) stop_message = output_gone;
  JournalRecord stopped;
  stopped.type = "stopped";
  stopped.time = WallSeconds();
  stopped.reason = !stop_message.empty() ? "error" : interrupted ? "interrupted" : "finished";
  stopped.message = stop_message;
  stopped.cpu_seconds = std::move(details.cpu_seconds);
  if (stopped.cpu_seconds.empty()) stopped.cpu_seconds.resize(1);
  stopped.cpu_seconds[0] = ProcessCpuSeconds();  // rank 0's, this process's
  stopped.lost_ranks = std::move(details.lost_ranks);
  try {
    run.journal->Append(stopped);
    run.journal->Sync();
  } catch (const Error&) {
    // The journal is already unwritable (a full disk): the error below says why.
  }
  progress.Finish(recorder.Snapshot(), interrupted);
  if (request.progress != ProgressMode::kQuiet && request.progress != ProgressMode::kJson &&
      output_gone.empty()) {
    std::printf("results: %s\n", run.output_path.c_str());
  }
  if (!stop_message.empty()) throw Error(stop_message);
  if (interrupted) return int(ExitCode::kInterrupted);
  const ProgressSnapshot snapshot = recorder.Snapshot();
  const uint64_t max_failures = run.config.execution.max_failures;
  const uint64_t left = snapshot.chunks_total - snapshot.chunks_done - snapshot.chunks_failed;
  if (max_failures > 0 && snapshot.chunks_failed >= max_failures && left > 0) {
    // The scheduler stopped handing out chunks (driver/scheduler.h): one line says so.
    std::fprintf(stderr,
                 "sweep: stopped after %llu failed chunks (execution.max_failures is %llu); %llu "
                 "chunks were not computed: see `sweep status %s`; %s\n",
                 (unsigned long long)snapshot.chunks_failed, (unsigned long long)max_failures,
                 (unsigned long long)left, run.output_path.c_str(),
                 FinishHint(run.output_path, left, snapshot.chunks_failed).c_str());
    return int(ExitCode::kChunksFailed);
  }
  if (recorder.chunks_failed() > 0) {
    const uint64_t kept = recorder.done_chunks_kept();
    std::fprintf(
        stderr, "sweep: %llu chunks failed%s; see `sweep status %s`; %s\n",
        (unsigned long long)recorder.chunks_failed(),
        kept
            ? fmt::format(" ({} were done before this rerun: their earlier results are kept)", kept)
                  .c_str()
            : "",
        run.output_path.c_str(), FinishHint(run.output_path, 0, recorder.chunks_failed()).c_str());
    return int(ExitCode::kChunksFailed);
  }
  return int(ExitCode::kOk);
}

std::vector<IndexRange> ParseIndexList(const std::string& text, const std::string& option) {
  std::vector<IndexRange> out;
  size_t pos = 0;
  auto bad = [&](const std::string& part) {
    return Error(option + ": `" + part + "` is not an index or a range like 7-9", ExitCode::kUsage);
  };
  auto number = [&](const std::string& s, const std::string& part) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) throw bad(part);
    try {
      return uint64_t(std::stoull(s));
    } catch (const std::exception&) {
      throw bad(part);
    }
  };
  while (pos <= text.size()) {
    const size_t comma = std::min(text.find(',', pos), text.size());
    const std::string part = text.substr(pos, comma - pos);
    const size_t dash = part.find('-');
    if (dash == std::string::npos) {
      const uint64_t i = number(part, part);
      out.push_back({i, i});
    } else {
      const uint64_t a = number(part.substr(0, dash), part),
                     b = number(part.substr(dash + 1), part);
      if (b < a) throw bad(part);
      out.push_back({a, b});
    }
    pos = comma + 1;
  }
  return out;
}

uint64_t ParseChunkSize(const std::string& text) {
  if (text == "auto") return 0;
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (digits && text.size() <= 18 && std::stoull(text) > 0) return std::stoull(text);
  throw Error("--chunk-size: expected a positive number of points or `auto`, got `" + text + "`",
              ExitCode::kUsage);
}

int ExecuteRun(const RunRequest& request) {
#if defined(SWEEP_HAVE_MPI)
  if (request.mpi) return ExecuteMpiRun(request);
#else
  if (request.mpi) {
    throw Error("--mpi: this sweep was built without MPI (install libopenmpi-dev and rebuild)",
                ExitCode::kUsage);
  }
#endif
  std::unique_ptr<PreparedRun> run = PrepareRun(request);
  WorkerHosts hosts{HostName(), {}, {}};  // every worker is on this machine
  if (!run->gpu_devices.empty() && !request.inline_compute) {
    for (int w = 0; w < WorkerRanks(*run, request); ++w)
      hosts.devices.push_back(GpuOf(run->gpu_devices, w));
  }
  JournalStart(*run, request.inline_compute ? 1 : run->workers, hosts);
  std::unique_ptr<Progress> progress = MakeProgress(request.progress, stdout);
  RunRecorder recorder(*run->space, *run->ledger, *run->journal, *progress, run->PointsTodo(),
                       run->todo.size(), WorkerRanks(*run, request), hosts, &*run->filler);
  recorder.GuardInputs(&*run->input_guard, run->output_path);
  recorder.RecordReuseFrom(&run->reuse);
  recorder.GuardOutput(&*run->file);
  recorder.ShowWorkersIn(WorkerBoardPath(run->output_path, run->shard), run->CommandName());
  bool interrupted = false;
  std::string stop_message;
  try {
    interrupted = ComputeChunks(*run, request, recorder);
  } catch (const std::exception& e) {
    stop_message = e.what();
  }
  return FinishRun(*run, request, recorder, *progress, interrupted, stop_message);
}

}  // namespace sweep
