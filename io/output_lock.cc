#include "io/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "io/error.h"

namespace sweep {
namespace {

std::string HolderPid(int fd) {
  char holder[32] = "";
  const ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
  holder[n > 0 ? n : 0] = '\0';
  std::string pid = holder;
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid;
}

}  // namespace

OutputLock::OutputLock(const std::string& output_path)
    : OutputLock(output_path, Mode::kExclusive, 0) {}

OutputLock::OutputLock(const std::string& output_path, Mode mode, double wait_seconds)
    : output_path_(output_path) {
  const std::string path = LockPath(output_path);
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create lock " + path + ": " + std::strerror(errno));
  const int operation = mode == Mode::kExclusive ? LOCK_EX : LOCK_SH;
  const auto give_up =
      std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
  while (flock(fd_, operation | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EWOULDBLOCK && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const std::string pid = HolderPid(fd_);
    close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) {
      throw Error(
          output_path + " is in use by another sweep (pid " + (pid.empty() ? "?" : pid) + ")",
          ExitCode::kLocked);
    }
    throw Error("cannot lock " + path + ": " + std::strerror(error));
  }
  if (mode == Mode::kExclusive) {
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
      // The lock holds without the pid; only the message of a second run would lack it.
    }
  }
}

void OutputLock::Downgrade() {
  // Shards hold the lock together: the pid of one of them would mislead.
  if (ftruncate(fd_, 0) != 0) {
  }
  for (int tries = 0; flock(fd_, LOCK_SH | LOCK_NB) != 0; ++tries) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK && tries < 100) {
      // Another shard converting its own lock holds it exclusively for an instant.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    throw Error(output_path_ + " is in use by another sweep (pid " + HolderPid(fd_) + ")",
                ExitCode::kLocked);
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

}  // namespace sweep
