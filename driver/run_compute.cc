// ComputeChunks (driver/run_steps.h): the chunks of a prepared run, computed in this process or by
// worker processes under the scheduler.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "driver/run_steps.h"
#include "driver/scheduler.h"
#include "driver/worker.h"
#include "driver/worker_set.h"
#include "io/error.h"
#include "io/file_bytes.h"

namespace sweep {
namespace {

// The descriptor of a sealed memfd holding `text`, for spawned workers to read their job from.
int JobMemfd(const std::string& text) {
  const int fd = memfd_create("sweep-job", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw Error(std::string("memfd_create: ") + std::strerror(errno));
  WriteBytesAt(fd, text.data(), text.size(), 0, "writing the worker job");
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

std::string SelfExecutable() {
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) throw Error("cannot find the sweep executable: " + std::string(std::strerror(errno)));
  path[n] = '\0';
  return path;
}

// `sweep-worker` beside this executable when it is there: it links no HDF5 (and none of the
// network libraries HDF5 pulls in), so a worker starts in a fraction of the time. Otherwise this
// executable's own `__worker` entry.
std::vector<std::string> WorkerCommand() {
  const std::string self = SelfExecutable();
  const std::string slim = self.substr(0, self.rfind('/') + 1) + "sweep-worker";
  if (access(slim.c_str(), X_OK) == 0) return {slim};
  return {self, "__worker"};
}

// `sweep rerun --inline`: one chunk after another in this process, so gdb sees the kernel.
void ComputeInline(PreparedRun& run, RunRecorder& recorder) {
  Scoreboard scoreboard(1);
  WorkerSetup setup{&*run.space,         &run.binding,       &run.inputs->views(),
                    run.output_path,     &run.file->layout(), &scoreboard};
  ChunkComputer computer(setup, 0);
  computer.InitKernel();
  for (uint64_t c : run.todo) {
    const Message m = computer.Compute(c);
    if (m.type == MessageType::kDone) {
      recorder.ChunkDone(run.plan->chunk(c), m.checksum, m.seconds, 0, 1);
      continue;
    }
    ChunkFailure f;
    f.chunk = run.plan->chunk(c);
    f.point = m.point;
    f.kind = ChunkFailure::Kind::kKernelError;
    f.reason = m.text;
    f.rank = 0;
    recorder.ChunkFailed(f);
  }
}

SchedulerOptions OptionsFor(const PreparedRun& run) {
  const ExecutionSpec& execution = run.config.execution;
  SchedulerOptions options;
  options.dynamic = execution.schedule == ExecutionSpec::Schedule::kDynamic;
  options.batch = run.batch;
  options.timeout_seconds = execution.timeout_seconds;
  options.retries = execution.retries;
  return options;
}

// Closes the job descriptor when the workers are done: they are (re)started during the whole run.
struct JobDescriptor {
  int fd = -1;
  ~JobDescriptor() {
    if (fd >= 0) close(fd);
  }
};

bool ComputeWithWorkers(PreparedRun& run, int ranks, RunRecorder& recorder) {
  WorkerLaunch launch;
  launch.method = run.config.execution.start == ExecutionSpec::Start::kFork
                      ? WorkerLaunch::Method::kFork
                      : WorkerLaunch::Method::kSpawn;
  launch.size = ranks;
  launch.log_dir = run.output_path + ".logs";
  launch.memory_limit = run.config.execution.memory_limit_bytes;
  JobDescriptor job;
  // The fork child reaches the scoreboard through the ProcessWorkerSet it inherits.
  ProcessWorkerSet* set_ptr = nullptr;
  if (launch.method == WorkerLaunch::Method::kSpawn) {
    job.fd = JobMemfd(EncodeWorkerJob(run.config.text, run.config_file, run.output_path,
                                      run.file->layout(), DescribeInputs(run.published->inputs())));
    launch.argv = WorkerCommand();
    launch.pass_fds = {job.fd};
  } else {
    launch.child_main = [&run, &set_ptr](int rank, int socket_fd) {
      WorkerSetup setup{&*run.space,
                        &run.binding,
                        &run.inputs->views(),
                        run.output_path,
                        &run.file->layout(),
                        &set_ptr->scoreboard()};
      return WorkerLoop(setup, rank, socket_fd);
    };
  }
  ProcessWorkerSet set(launch);
  set_ptr = &set;
  Scheduler scheduler(set, *run.plan, run.todo, OptionsFor(run), recorder);
  return scheduler.Run() == Scheduler::Outcome::kInterrupted;
}

}  // namespace

bool ComputeChunks(PreparedRun& run, const RunRequest& request, RunRecorder& recorder) {
  if (run.todo.empty()) return false;  // a resume of a finished sweep
  if (request.inline_compute) {
    ComputeInline(run, recorder);
    return false;
  }
  return ComputeWithWorkers(run, WorkerRanks(run, request), recorder);
}

int WorkerRanks(const PreparedRun& run, const RunRequest& request) {
  if (request.inline_compute) return 1;
  return int(std::min<uint64_t>(uint64_t(run.workers), std::max<uint64_t>(run.todo.size(), 1)));
}

}  // namespace sweep
