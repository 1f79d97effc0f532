#include "io/stream_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "io/error.h"
#include "io/file_bytes.h"

namespace sweep {

StreamFile::StreamFile(int dir, const std::string& name, uint64_t head_bytes, uint64_t tail_bytes)
    : name_(name), head_bytes_(head_bytes), tail_bytes_(tail_bytes) {
  fd_.reset(openat(dir, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd_.valid()) throw Error(name + ": " + std::strerror(errno));
}

void StreamFile::Stop(const std::string& what) {
  if (error_.empty()) error_ = name_ + ": " + what;
  fd_.reset();
}

void StreamFile::Append(const char* data, size_t size) {
  stream_bytes_ += size;
  if (!fd_.valid() || size == 0) return;
  try {
    WriteBytesAt(fd_.get(), data, size, file_bytes_, "write " + name_);
  } catch (const Error& e) {
    Stop(e.what());
    return;
  }
  file_bytes_ += size;
  // Compacted when what follows the cut (or the head, before the first cut) reaches twice the
  // tail: the file stays under head + 2 tails, and each byte is copied about once.
  const uint64_t after = file_bytes_ - (tail_from_ > 0 ? tail_from_ : head_bytes_);
  if (file_bytes_ > head_bytes_ && after >= 2 * tail_bytes_) Compact();
}

void StreamFile::Compact() {
  if (!fd_.valid() || stream_bytes_ <= head_bytes_ + tail_bytes_) return;
  const uint64_t cut = stream_bytes_ - head_bytes_ - tail_bytes_;
  const std::string line = "\n[sweep: " + std::to_string(cut) + " bytes cut here; the first " +
                           std::to_string(head_bytes_) + " and the last " +
                           std::to_string(tail_bytes_) + " are kept]\n";
  if (tail_from_ == head_bytes_ + line.size() && file_bytes_ == tail_from_ + tail_bytes_)
    return;  // in its final form already
  std::vector<char> tail(tail_bytes_);
  try {
    ReadBytesAt(fd_.get(), tail.data(), tail.size(), file_bytes_ - tail_bytes_, "read " + name_);
    WriteBytesAt(fd_.get(), line.data(), line.size(), head_bytes_, "write " + name_);
    WriteBytesAt(fd_.get(), tail.data(), tail.size(), head_bytes_ + line.size(), "write " + name_);
  } catch (const Error& e) {
    Stop(e.what());
    return;
  }
  tail_from_ = head_bytes_ + line.size();
  file_bytes_ = tail_from_ + tail_bytes_;
  if (ftruncate(fd_.get(), off_t(file_bytes_)) != 0)
    Stop(std::string("ftruncate: ") + strerror(errno));
}

void StreamFile::Close() {
  Compact();
  fd_.reset();
}

}  // namespace sweep
