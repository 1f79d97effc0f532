#include "driver/worker_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "io/error.h"

namespace sweep {
namespace {

// The pipe's room: a worker printing faster than the driver copies waits once this is full.
constexpr int kPipeBytes = 1 << 20;
// The most one Drain() copies, so that a flood cannot keep the driver from its other events.
// More than the pipe holds: everything a worker wrote before its last message is copied by one.
constexpr size_t kDrainBytes = size_t{4} << 20;

// The last max_bytes of the file at `path` ("" if there is none); *whole says whether that is all
// of it.
std::string ReadTail(const std::string& path, size_t max_bytes, bool* whole) {
  *whole = true;
  ScopedFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (!fd.valid() || fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return "";
  const off_t start = st.st_size > off_t(max_bytes) ? st.st_size - off_t(max_bytes) : 0;
  *whole = start == 0;
  std::string tail(size_t(st.st_size - start), '\0');
  const ssize_t n = pread(fd.get(), tail.data(), tail.size(), start);
  tail.resize(n > 0 ? size_t(n) : 0);
  return tail;
}

}  // namespace

WorkerLog::WorkerLog(std::string path, uint64_t rotate_bytes)
    : path_(std::move(path)), rotate_bytes_(rotate_bytes) {}

void WorkerLog::Open() {
  file_.reset(open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644));
}

ScopedFd WorkerLog::Begin() {
  End();
  Open();
  if (!file_.valid()) throw Error("worker launch: open log " + path_ + ": " + std::strerror(errno));
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0)
    throw Error(std::string("worker launch: pipe: ") + std::strerror(errno));
  pipe_.reset(ends[0]);
  ScopedFd write_end(ends[1]);
  fcntl(pipe_.get(), F_SETFL, O_NONBLOCK);
  fcntl(pipe_.get(), F_SETPIPE_SZ, kPipeBytes);  // a smaller pipe where the system caps it
  return write_end;
}

void WorkerLog::Drain() {
  char buffer[64 * 1024];
  size_t copied = 0;
  while (pipe_.valid() && copied < kDrainBytes) {
    const ssize_t n = read(pipe_.get(), buffer, sizeof buffer);
    if (n > 0) {
      Write(buffer, size_t(n));
      copied += size_t(n);
      // A pipe's read returns all it holds up to the size asked: it was emptied, and a read
      // more would only say EAGAIN (the next poll() says when more comes).
      if (size_t(n) < sizeof buffer) return;
    } else if (n == 0) {
      pipe_.reset();  // every writer is gone
    } else if (errno != EINTR) {
      return;  // EAGAIN: nothing more for now
    }
  }
}

void WorkerLog::End() {
  Drain();
  pipe_.reset();
}

void WorkerLog::Append(std::string_view text) {
  Drain();
  if (!file_.valid()) Open();
  Write(text.data(), text.size());
}

void WorkerLog::Write(const char* bytes, size_t size) {
  bool rotated = false;
  while (size > 0 && file_.valid()) {
    struct stat st {};
    // The size as the file has it: another run sharing the folder may append to it too.
    if (fstat(file_.get(), &st) != 0) return;
    const uint64_t used = uint64_t(st.st_size);
    if (used >= rotate_bytes_) {
      if (rotated) return;  // it could not be made smaller: drop rather than grow it
      Rotate();
      rotated = true;
      continue;
    }
    const ssize_t n =
        write(file_.get(), bytes, size_t(std::min<uint64_t>(size, rotate_bytes_ - used)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk: the log is not worth stopping the run for
    bytes += n;
    size -= size_t(n);
    rotated = false;
  }
}

void WorkerLog::Rotate() {
  struct stat held {
  }, named{};
  const bool still_named = fstat(file_.get(), &held) == 0 && lstat(path_.c_str(), &named) == 0 &&
                           named.st_dev == held.st_dev && named.st_ino == held.st_ino;
  if (still_named && rename(path_.c_str(), (path_ + ".1").c_str()) != 0) {
    (void)!ftruncate(file_.get(), 0);  // it stays where it is, emptied
    return;
  }
  ScopedFd old = std::move(file_);
  Open();
  if (!file_.valid()) {
    // Its folder is gone: go on in the file held, emptied.
    file_ = std::move(old);
    (void)!ftruncate(file_.get(), 0);
  }
}

std::string ReadLogTail(const std::string& path, size_t max_bytes) {
  bool whole = false;
  std::string tail = ReadTail(path, max_bytes, &whole);
  if (whole && tail.size() < max_bytes) {
    // Just rotated: the lines before are in the older file.
    tail = ReadTail(path + ".1", max_bytes - tail.size(), &whole) + tail;
  }
  if (!whole) {
    // Drop the partial first line.
    const size_t newline = tail.find('\n');
    if (newline != std::string::npos) tail.erase(0, newline + 1);
  }
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == '\r')) tail.pop_back();
  return tail;
}

}  // namespace sweep
