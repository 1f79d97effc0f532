// ComputeChunks (driver/run_steps.h): the chunks of a prepared run, computed in this process or by
// worker processes under the scheduler.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "driver/local_workers.h"
#include "driver/run_steps.h"
#include "driver/scheduler.h"
#include "driver/thread_limits.h"
#include "driver/worker.h"

extern char** environ;

namespace sweep {
namespace {

// `sweep rerun --inline`: one chunk after another in this process, so gdb sees the kernel.
void ComputeInline(PreparedRun& run, const std::string& rows_path, RunRecorder& recorder) {
  Scoreboard scoreboard(1);
  WorkerSetup setup{
      &*run.space, &run.binding,        &run.inputs->views(), &run.published->inputs(),
      rows_path,   &run.file->layout(), &scoreboard};
  ChunkComputer computer(setup, 0);
  computer.InitKernel();
  const uint64_t max_failures = run.config.execution.max_failures;
  for (uint64_t c : run.todo) {
    if (max_failures > 0 && recorder.chunks_failed() >= max_failures) break;
    run.filler->BeforeHandout(c, 1);
    const Message m = computer.Compute(c);
    if (m.type == MessageType::kDone) {
      recorder.ChunkDone(run.plan->chunk(c),
                         DoneChunk{m.checksum, m.seconds, m.start_time, m.max_rss, 0, 1, m.reused});
      recorder.Tick();  // records it
      continue;
    }
    ChunkFailure f;
    f.chunk = run.plan->chunk(c);
    f.point = m.point;
    f.kind = ChunkFailure::Kind::kKernelError;
    FailureText text = SplitFailureText(m.text);
    f.reason = std::move(text.reason);
    f.log_tail = std::move(text.details);
    f.rank = 0;
    recorder.ChunkFailed(f);
  }
}

}  // namespace

SchedulerOptions OptionsFor(const PreparedRun& run) {
  const ExecutionSpec& execution = run.config.execution;
  SchedulerOptions options;
  options.dynamic = execution.schedule == ExecutionSpec::Schedule::kDynamic;
  options.batch = run.batch;
  options.timeout_seconds = execution.timeout_seconds;
  options.retries = execution.retries;
  options.max_failures = execution.max_failures;
  return options;
}

namespace {

bool ComputeWithWorkers(PreparedRun& run, const std::string& rows_path, int ranks,
                        RunRecorder& recorder) {
  LocalWorkers workers(run.WorkerContextFor(rows_path), ranks);
  Scheduler scheduler(workers.set(), *run.plan, run.todo, OptionsFor(run), recorder);
  return scheduler.Run() == Scheduler::Outcome::kInterrupted;
}

}  // namespace

bool ComputeChunks(PreparedRun& run, const RunRequest& request, RunRecorder& recorder) {
  if (run.todo.empty()) return false;  // a resume of a finished sweep
  if (request.inline_compute) {
    // The kernel runs in this process, which gets the workers' thread settings: set now, before
    // the filler's thread could read the environment while it changes.
    for (const ThreadVariable& v : WorkerThreadVariables(run.config.execution.threads, environ))
      if (!v.from_environment) setenv(v.name.c_str(), v.value.c_str(), 1);
  }
  run.filler->StartBackground();
  // A rerun computes into staged rows, so that an attempt that fails leaves the output's rows of
  // the chunk as they were (driver/staged_rows.h).
  std::string rows_path = run.output_path;
  if (run.mode == RunRequest::Mode::kRerun) {
    run.staged_rows.emplace(run.file->layout());
    recorder.TakeRowsFrom(&*run.staged_rows, &*run.file);
    rows_path = run.staged_rows->path();
  }
  if (request.inline_compute) {
    ComputeInline(run, rows_path, recorder);
    return false;
  }
  return ComputeWithWorkers(run, rows_path, WorkerRanks(run, request), recorder);
}

int WorkerRanks(const PreparedRun& run, const RunRequest& request) {
  if (request.inline_compute) return 1;
  return int(std::min<uint64_t>(uint64_t(run.workers), std::max<uint64_t>(run.todo.size(), 1)));
}

}  // namespace sweep
