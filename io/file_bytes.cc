#include "io/file_bytes.h"

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

}  // namespace sweep
