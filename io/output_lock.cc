#include "io/output_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/error.h"

namespace sweep {

OutputLock::OutputLock(const std::string& output_path) {
  const std::string path = LockPath(output_path);
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot create lock " + path + ": " + std::strerror(errno));
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    char holder[32] = "";
    const ssize_t n = pread(fd_, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) {
      std::string pid = holder;
      while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
      throw Error(
          output_path + " is in use by another sweep (pid " + (pid.empty() ? "?" : pid) + ")",
          ExitCode::kLocked);
    }
    throw Error("cannot lock " + path + ": " + std::strerror(error));
  }
  const std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd_, 0) != 0 || pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
    // The lock holds without the pid; only the message of a second run would lack it.
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

}  // namespace sweep
