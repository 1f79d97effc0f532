// WorkerLog: one worker's stdout and stderr, kept on disk in bounded space.
//
// A kernel may print without end (a plugin's debug output filled 300 MiB in six points), and a
// log appended across restarts and reruns would grow with every one. So the worker does not
// write to its log file: it writes into a pipe, and the driver copies what arrives, from the same
// poll() that takes the workers' messages (Drain(), called when the pipe is readable, so that a
// quiet worker costs no read), into `<path>` (`worker-<rank>.log`),
// appended across runs. When the file reaches `rotate_bytes` it is renamed `<path>.1`, replacing
// the one before, and a new one is begun. The two hold at most 2 * rotate_bytes, and always the
// last rotate_bytes the worker wrote, so the tail a failure shows (ReadLogTail) is never lost.
//
// The file is opened without following a symbolic link, again at each worker's start. At a
// rotation, a file that is no longer at its path (the user deleted it, a shard sharing the folder
// rotated it) is left as it is and `<path>` opened anew; where neither works (the folder is
// gone), the file held is emptied instead, so that the space stays bounded either way.
//
// A worker's writes block while the pipe is full: a flood of output slows the worker to the
// driver's pace, and nothing is dropped but what a full disk refuses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "io/process.h"

namespace sweep {

// The default: each worker keeps the last 8 to 16 MiB of its output.
inline constexpr uint64_t kWorkerLogRotateBytes = uint64_t{8} << 20;

class WorkerLog {
 public:
  // REQUIRES: rotate_bytes > 0.
  WorkerLog(std::string path, uint64_t rotate_bytes);

  // A new pipe for a worker about to start, its read end replacing any earlier one (whose
  // waiting bytes are copied first). Returns the write end, for the worker's descriptors 1 and
  // 2. Opens the file if it is not open. THROWS: Error naming the call that failed.
  ScopedFd Begin();
  // The pipe's read end, to poll for POLLIN; -1 when there is none.
  int fd() const { return pipe_.get(); }
  // Copies everything waiting in the pipe to the file, without blocking: one read() when the
  // pipe holds less than 64 KiB. At the pipe's end (no writer left) closes it. A write error (a
  // full disk) drops the bytes rather than stop the run.
  void Drain();
  // Drain(), then closes the pipe whatever may still hold its write end (an escaped grandchild,
  // killed next).
  void End();
  // A line of the driver's own about this worker (one that could not start), after what the
  // pipe holds.
  void Append(std::string_view text);

 private:
  void Write(const char* bytes, size_t size);
  // Starts a new file at the path (see the header comment); the old one becomes `<path>.1`.
  void Rotate();
  void Open();

  std::string path_;
  uint64_t rotate_bytes_;
  ScopedFd pipe_;  // the read end; -1 when none
  ScopedFd file_;  // -1 when it could not be opened
};

// The last whole lines of the log at `path` (at most max_bytes), from `<path>.1` too when the
// current file is shorter; no trailing newline. "" when there is none.
std::string ReadLogTail(const std::string& path, size_t max_bytes);

}  // namespace sweep
