#include "driver/zygote.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "driver/worker.h"
#include "driver/worker_set.h"
#include "io/clock.h"
#include "io/error.h"
#include "kernels/python.h"

namespace sweep {
namespace {

constexpr size_t kMaxWireBytes = 64 * 1024;
constexpr double kExitSeconds = 2;  // from its socket's close to SIGKILL

// One message, and up to two descriptors with it. Returns false when the peer is gone.
bool SendWire(int fd, const nlohmann::json& message, const std::vector<int>& fds = {}) {
  const std::string text = message.dump();
  iovec io{const_cast<char*>(text.data()), text.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  if (!fds.empty()) {
    header.msg_control = control;
    header.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&header);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  for (;;) {
    if (sendmsg(fd, &header, MSG_NOSIGNAL) >= 0) return true;
    if (errno == EINTR) continue;
    return false;
  }
}

// The next message and the descriptors that came with it (close-on-exec, the receiver's to
// close); nullopt when the peer is gone or sent what is not a message.
std::optional<nlohmann::json> ReceiveWire(int fd, std::vector<int>* fds = nullptr) {
  std::string text(kMaxWireBytes, '\0');
  iovec io{text.data(), text.size()};
  msghdr header{};
  header.msg_iov = &io;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = recvmsg(fd, &header, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); n > 0 && c; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
      if (fds) {
        fds->push_back(received);
      } else {
        close(received);
      }
    }
  }
  if (n <= 0) return std::nullopt;
  text.resize(size_t(n));
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    if (j.is_object()) return j;
  } catch (const nlohmann::json::exception&) {
  }
  return std::nullopt;
}

}  // namespace

// ---- The driver's side ----

Zygote::Zygote(const std::vector<std::string>& argv, ChildSetup setup) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
    throw Error(std::string("forkserver: socketpair: ") + std::strerror(errno));
  socket_.reset(pair[0]);
  const ScopedFd theirs(pair[1]);
  setup.fds.push_back({theirs.get(), kWorkerSocketFd});
  try {
    pid_ = SpawnChild(argv, setup);
  } catch (const Error& e) {
    throw Error(std::string("forkserver: ") + e.what());
  }
}

Zygote::~Zygote() {
  socket_.reset();
  if (pid_ <= 0) return;
  // One still loading the kernel has nothing to finish (an interrupt must not wait for the load).
  const double until = SteadySeconds() + (state_ == State::kReady ? kExitSeconds : 0);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (SteadySeconds() > until) {
      kill(-pid_, SIGKILL);
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    usleep(2000);
  }
  kill(-pid_, SIGKILL);  // what it left in its group, if anything
}

int Zygote::fd() const { return state_ == State::kFailed ? -1 : socket_.get(); }

void Zygote::Fail(const std::string& why) {
  state_ = State::kFailed;
  why_ = why;
}

Zygote::State Zygote::Poll() {
  if (state_ != State::kLoading) {
    // A ready zygote says nothing more: readable now means it is gone.
    pollfd p{socket_.get(), POLLIN, 0};
    if (state_ == State::kReady && poll(&p, 1, 0) > 0)
      Fail("the forkserver's zygote (pid " + std::to_string(pid_) + ") exited");
    return state_;
  }
  pollfd p{socket_.get(), POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return state_;
  const std::optional<nlohmann::json> said = ReceiveWire(socket_.get());
  if (said && said->value("ready", false)) {
    state_ = State::kReady;
  } else if (said && said->contains("error")) {
    Fail(said->value("error", std::string("?")));
  } else {
    Fail("the forkserver's zygote (pid " + std::to_string(pid_) +
         ") exited before it loaded the kernel");
  }
  return state_;
}

pid_t Zygote::Fork(int rank, int log_fd, int socket_fd, const std::vector<std::string>& env) {
  if (state_ != State::kReady) throw Error("forkserver: the zygote is not ready");
  std::optional<nlohmann::json> answer;
  nlohmann::json request = {{"rank", rank}};
  if (!env.empty()) request["env"] = env;
  if (SendWire(socket_.get(), request, {log_fd, socket_fd})) answer = ReceiveWire(socket_.get());
  if (!answer) {
    Fail("the forkserver's zygote (pid " + std::to_string(pid_) + ") exited");
    throw Error("forkserver: " + why_);
  }
  if (!answer->contains("pid"))
    throw Error("forkserver: " + answer->value("error", std::string("an answer without a pid")));
  return pid_t(answer->at("pid").get<long>());
}

// ---- The zygote's side ----

namespace {

// In the worker the zygote forked, once its intermediate parent is gone: the driver's child from
// here on. Only returns when it is.
void BecomeForkedWorker(pid_t driver, pid_t intermediate, int death_signal, int rank, int log_fd,
                        int socket_fd, const std::vector<std::string>& env, char* role) {
  setpgid(0, 0);
  // The intermediate exits at once, and this process goes to the nearest subreaper: the driver.
  while (getppid() == intermediate) usleep(50);
  prctl(PR_SET_PDEATHSIG, death_signal);
  if (getppid() != driver) _exit(1);  // the driver died meanwhile
  if (dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0 || dup2(socket_fd, kWorkerSocketFd) < 0) _exit(1);
  close(log_fd);
  close(socket_fd);
  setenv("SWEEP_RANK", std::to_string(rank).c_str(), 1);
  for (const std::string& entry : env) {
    const size_t equals = entry.find('=');
    if (equals != std::string::npos && equals > 0)
      setenv(entry.substr(0, equals).c_str(), entry.c_str() + equals + 1, 1);
  }
  // In place, as long as "zygote": /proc/<pid>/cmdline shows the process's own argument bytes.
  if (role && std::strlen(role) == 6) std::memcpy(role, "worker", 6);
}

// Serves one request: forks the worker of `rank`. Returns its pid, or -1 with *why set.
pid_t ForkWorker(const WorkerSetup& setup, void* kernel_state, int rank, int log_fd, int socket_fd,
                 const std::vector<std::string>& env, char* role, std::string* why) {
  int death_signal = 0;
  if (prctl(PR_GET_PDEATHSIG, &death_signal) != 0 || death_signal == 0) death_signal = SIGKILL;
  const pid_t driver = getppid();
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    *why = std::string("pipe: ") + std::strerror(errno);
    return -1;
  }
  // An embedded interpreter must be told of a fork (its locks, its threading state); no-ops for
  // every other kernel. The intermediate only forks again and exits, so the worker is the child
  // PyOS_AfterFork_Child is for.
  PythonBeforeFork();
  const pid_t intermediate = ForkRetryingOnEagain();
  if (intermediate == 0) {
    close(report[0]);
    const pid_t self = getpid();
    const pid_t worker = ForkRetryingOnEagain();
    if (worker == 0) {
      PythonAfterForkInChild();
      close(report[1]);
      close(kWorkerSocketFd);  // the zygote's: a worker never speaks on it
      BecomeForkedWorker(driver, self, death_signal, rank, log_fd, socket_fd, env, role);
      int code = 1;
      try {
        code = WorkerLoop(setup, rank, kWorkerSocketFd, kernel_state);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "sweep worker %d: %s\n", rank, e.what());
      }
      std::fflush(nullptr);
      _exit(code);  // never the zygote's atexit handlers or destructors
    }
    if (worker > 0) setpgid(worker, worker);  // before the driver can kill(-pid)
    const int error = errno;
    const long sent[2] = {long(worker), long(error)};
    (void)!write(report[1], sent, sizeof sent);
    _exit(0);
  }
  const int error = errno;
  PythonAfterForkInParent();
  close(report[1]);
  long got[2] = {-1, error};
  if (intermediate > 0) {
    while (read(report[0], got, sizeof got) < 0 && errno == EINTR) {
    }
    while (waitpid(intermediate, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  close(report[0]);
  if (got[0] <= 0) *why = std::string("fork: ") + std::strerror(int(got[1]));
  return pid_t(got[0]);
}

}  // namespace

int ZygoteMain(char* role) {
  const char* driver_env = std::getenv("SWEEP_DRIVER_PID");
  const char* size_env = std::getenv("SWEEP_SIZE");
  if (!driver_env || !size_env) {
    std::fprintf(stderr, "sweep: the zygote is started by `sweep run`, not by hand\n");
    return 2;
  }
  const int socket_fd = kWorkerSocketFd;
  try {
    const std::string text = ReadSpawnedJob(kWorkerFirstPassedFd + 1);
    BecomeWorker(pid_t(std::atoll(driver_env)), kWorkerFirstPassedFd + 1);
    Scoreboard scoreboard(kWorkerFirstPassedFd, std::atoi(size_env));
    const SpawnedJob job(text, &scoreboard);
    void* state = InitKernel(job.setup());
    if (!SendWire(socket_fd, {{"ready", true}})) return 0;
    for (;;) {
      std::vector<int> fds;
      const std::optional<nlohmann::json> request = ReceiveWire(socket_fd, &fds);
      if (!request) break;  // the driver closed it: the run is over
      std::string why = "a request without a rank and two descriptors";
      pid_t pid = -1;
      if (request->contains("rank") && fds.size() == 2) {
        const std::vector<std::string> env = request->value("env", std::vector<std::string>{});
        pid = ForkWorker(job.setup(), state, request->at("rank").get<int>(), fds[0], fds[1], env,
                         role, &why);
      }
      for (int fd : fds) close(fd);
      if (!SendWire(socket_fd,
                    pid > 0 ? nlohmann::json{{"pid", pid}} : nlohmann::json{{"error", why}}))
        break;
    }
    if (job.setup().binding->kernel->finish) job.setup().binding->kernel->finish(state);
    return 0;
  } catch (const std::exception& e) {
    SendWire(socket_fd, {{"error", e.what()}});
    std::fprintf(stderr, "sweep zygote: %s\n", e.what());
    return 1;
  }
}

}  // namespace sweep
