#include "driver/local_workers.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "driver/gpus.h"
#include "driver/thread_limits.h"
#include "driver/worker.h"
#include "io/error.h"
#include "io/file_bytes.h"

extern char** environ;

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

}  // namespace

LocalWorkers::LocalWorkers(const WorkerContext& context, int count) : context_(context) {
  const ExecutionSpec& execution = context_.config->execution;
  WorkerLaunch launch;
  launch.size = count;
  launch.log_dir = context_.log_dir;
  launch.memory_limit = execution.memory_limit_bytes;
  launch.env = ThreadSettings(execution.threads, environ);
  for (int rank = 0; rank < count; ++rank)
    launch.env_by_rank.push_back(GpuEnvironment(GpuOf(context_.gpu_devices, rank)));
  if (execution.start == ExecutionSpec::Start::kFork) {
    launch.method = WorkerLaunch::Method::kFork;
    // The child inherits this object (through the fork), and with it the set's scoreboard.
    launch.child_main = [this](int rank, int socket_fd) {
      WorkerSetup setup{context_.space,
                        context_.binding,
                        &context_.inputs->views(),
                        &context_.published->inputs(),
                        context_.rows_path,
                        context_.layout,
                        &set_->scoreboard(),
                        context_.reuse,
                        context_.copy_reused};
      return WorkerLoop(setup, rank, socket_fd);
    };
  } else {
    // A forkserver's zygote reads the job as a spawned worker does.
    launch.method = execution.start == ExecutionSpec::Start::kForkserver
                        ? WorkerLaunch::Method::kForkserver
                        : WorkerLaunch::Method::kSpawn;
    job_fd_ = JobMemfd(EncodeWorkerJob(
        *context_.config, context_.space->seed_rule(), context_.rows_path, *context_.layout,
        DescribeInputs(context_.published->inputs()), context_.reuse, context_.copy_reused));
    launch.argv = WorkerCommand();
    launch.pass_fds = {job_fd_};
  }
  set_ = std::make_unique<ProcessWorkerSet>(std::move(launch));
}

LocalWorkers::~LocalWorkers() {
  set_.reset();  // kills and reaps the workers before their job goes
  if (job_fd_ >= 0) close(job_fd_);
}

}  // namespace sweep
