// Byte ranges of a file by offset, read or written whole: short transfers and EINTR are retried.
// A write that makes no progress reports ENOSPC, as a full disk does. Every error is a
// sweep::Error "<what>: <strerror>", so callers only say what they were doing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sweep {

void WriteBytesAt(int fd, const void* data, size_t size, uint64_t offset, const std::string& what);
void ReadBytesAt(int fd, void* data, size_t size, uint64_t offset, const std::string& what);

// Makes `bytes` the file at `path`, whole or not at all: they are written to `path.tmp-<pid>`,
// synced, and renamed over `path` (a symbolic link there is replaced, never followed); on any
// failure the temporary is removed and `path` is left as it was.
// THROWS: Error "cannot write <path>: <strerror>".
void WriteWholeFile(const std::string& path, const std::string& bytes);

}  // namespace sweep
