#include "driver/gpus.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <sstream>

#include "driver/plan.h"
#include "io/clock.h"
#include "io/process.h"

namespace sweep {
namespace {

constexpr double kNvidiaSmiSeconds = 10;

// The value of `name` in `environment`; nullopt when it is not there.
std::optional<std::string> Variable(char** environment, const std::string& name) {
  for (char** e = environment; e && *e; ++e) {
    if (std::strncmp(*e, name.c_str(), name.size()) == 0 && (*e)[name.size()] == '=')
      return std::string(*e + name.size() + 1);
  }
  return std::nullopt;
}

// The first executable `program` in the folders of `path`; "" when there is none.
std::string FindOnPath(const std::string& path, const std::string& program) {
  std::stringstream folders(path);
  std::string folder;
  while (std::getline(folders, folder, ':')) {
    const std::string candidate = (folder.empty() ? "." : folder) + "/" + program;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return "";
}

// The stdout of `nvidia-smi -L`, or "" when it is not on PATH, fails, or takes too long.
std::string RunNvidiaSmi(char** environment) {
  const std::string program = FindOnPath(Variable(environment, "PATH").value_or(""), "nvidia-smi");
  if (program.empty()) return "";
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return "";
  ScopedFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  ChildSetup setup;
  setup.fds = {{write_end.get(), 1}};
  std::vector<std::string> env;
  for (char** e = environment; e && *e; ++e) env.push_back(*e);
  setup.env = env;
  pid_t pid = -1;
  try {
    pid = SpawnChild({program, "-L"}, setup);
  } catch (const std::exception&) {
    return "";
  }
  write_end.reset();
  std::string out;
  const double until = SteadySeconds() + kNvidiaSmiSeconds;
  for (;;) {
    const double left = until - SteadySeconds();
    if (left <= 0) {
      kill(-pid, SIGKILL);
      out.clear();
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    if (poll(&p, 1, int(left * 1000) + 1) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(read_end.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, size_t(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? out : "";
}

}  // namespace

std::vector<std::string> ParseNvidiaSmiList(const std::string& text) {
  std::vector<std::string> devices;
  std::stringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("GPU ", 0) != 0) continue;  // MIG devices are indented under their GPU
    size_t end = 4;
    while (end < line.size() && std::isdigit(static_cast<unsigned char>(line[end]))) ++end;
    if (end > 4 && end < line.size() && line[end] == ':')
      devices.push_back(line.substr(4, end - 4));
  }
  return devices;
}

std::vector<std::string> NodeGpus(const ExecutionSpec& execution, char** environment) {
  switch (execution.gpus) {
    case ExecutionSpec::Gpus::kNone:
      return {};
    case ExecutionSpec::Gpus::kList:
      return execution.gpu_devices;
    case ExecutionSpec::Gpus::kAuto:
      break;
  }
  if (std::optional<std::string> visible = Variable(environment, "CUDA_VISIBLE_DEVICES")) {
    std::vector<std::string> devices;
    if (*visible == "-1" || *visible == "NoDevFiles") return devices;
    std::stringstream items(*visible);
    std::string item;
    while (std::getline(items, item, ',')) {
      if (!item.empty()) devices.push_back(item);
    }
    return devices;
  }
  return ParseNvidiaSmiList(RunNvidiaSmi(environment));
}

std::string GpuOf(const std::vector<std::string>& devices, int worker) {
  if (devices.empty() || worker < 0) return "";
  return devices[size_t(worker) % devices.size()];
}

std::vector<std::string> GpuEnvironment(const std::string& device) {
  if (device.empty()) return {};
  std::vector<std::string> env = {"CUDA_VISIBLE_DEVICES=" + device, "HIP_VISIBLE_DEVICES=" + device,
                                  "ROCR_VISIBLE_DEVICES=" + device};
  // Level Zero takes indices (and index.subindex); a UUID is not one of its forms.
  if (device.find_first_not_of("0123456789") == std::string::npos)
    env.push_back("ZE_AFFINITY_MASK=" + device);
  return env;
}

int NodeWorkers(int requested, const ExecutionSpec& execution,
                const std::vector<std::string>& devices) {
  if (requested <= 0 && execution.workers <= 0 && !devices.empty()) return int(devices.size());
  return WorkerCount(requested, execution.workers);
}

}  // namespace sweep
