// StreamFile: a program's output stream (its stdout or stderr) saved to a file as it comes, so
// that the whole of what a failed program said is there to read, and a live one can be followed
// with `tail -f`; capped, so a program that prints gigabytes fills no disk.
//
// The file keeps the stream's first `head_bytes` and its last `tail_bytes`; the bytes between are
// replaced by one line saying how many were cut:
//
//   <the first head_bytes>
//   [sweep: 123456789 bytes cut here; the first 65536 and the last 1048576 are kept]
//   <the last tail_bytes>
//
// While the stream goes on, the file may hold up to twice the tail (and a cut line that counts
// fewer bytes than were cut): it is put in its final form every time it grows past that, and by
// Close(). So writing costs about twice the bytes kept, not a copy of the stream per write.
//
// A write that fails (a full disk) stops the saving for good, never the program: error() says
// why, and the kernel's message can still quote what it kept in memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "io/process.h"

namespace sweep {

class StreamFile {
 public:
  // Creates the file `name` (a plain name, no `/`) in the folder `dir`, which must not hold it:
  // never through a symbolic link. THROWS: Error naming the file when it cannot be created.
  StreamFile(int dir, const std::string& name, uint64_t head_bytes, uint64_t tail_bytes);

  // Appends bytes of the stream. Never throws.
  void Append(const char* data, size_t size);
  // Puts the file in its final form and closes it. Never throws; later calls do nothing.
  void Close();

  uint64_t stream_bytes() const { return stream_bytes_; }  // the stream's length so far
  const std::string& error() const { return error_; }      // "" while every write worked

 private:
  void Compact();
  void Stop(const std::string& what);

  std::string name_;
  ScopedFd fd_;
  uint64_t head_bytes_, tail_bytes_;
  uint64_t stream_bytes_ = 0;  // of the stream, written or cut
  uint64_t file_bytes_ = 0;    // of the file now
  uint64_t tail_from_ = 0;     // the offset in the file where the bytes after the cut begin
  std::string error_;
};

}  // namespace sweep
