#include "io/file_bytes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "io/error.h"

namespace sweep {

void WriteBytesAt(int fd, const void* data, size_t size, uint64_t offset, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = pwrite(fd, p, size, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw Error(what + ": " + std::strerror(n < 0 ? errno : ENOSPC));
    p += n;
    size -= size_t(n);
    offset += uint64_t(n);
  }
}

void ReadBytesAt(int fd, void* data, size_t size, uint64_t offset, const std::string& what) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = pread(fd, p, size, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw Error(what + ": " + (n < 0 ? std::strerror(errno) : "unexpected end of file"));
    p += n;
    size -= size_t(n);
    offset += uint64_t(n);
  }
}

void WriteWholeFile(const std::string& path, const std::string& bytes) {
  const std::string temporary = path + ".tmp-" + std::to_string(getpid());
  const int fd =
      open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
  if (fd < 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
  try {
    WriteBytesAt(fd, bytes.data(), bytes.size(), 0, "cannot write " + path);
    if (fsync(fd) != 0) throw Error("cannot write " + path + ": " + std::strerror(errno));
  } catch (...) {
    close(fd);
    unlink(temporary.c_str());
    throw;
  }
  const bool closed = close(fd) == 0;
  if (!closed || rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temporary.c_str());
    throw Error("cannot write " + path + ": " + std::strerror(error));
  }
}

}  // namespace sweep
