#include "driver/staged_rows.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "io/error.h"

namespace sweep {
namespace {

// MoveInto copies about this many bytes of rows at a time: a chunk's rows may be gigabytes.
constexpr uint64_t kCopyBytes = uint64_t{4} << 20;

}  // namespace

StagedRows::StagedRows(const OutputLayout& layout) {
  uint64_t end = 0;
  for (const OutputDatasetInfo& r : layout.results)
    end = std::max(end, r.region.offset + r.region.bytes);
  fd_ = memfd_create("sweep-staged-rows", MFD_CLOEXEC);
  if (fd_ < 0 || ftruncate(fd_, off_t(end)) != 0) {
    const int error = errno;
    if (fd_ >= 0) close(fd_);
    throw Error(std::string("staged rows: memfd: ") + std::strerror(error));
  }
  path_ = "/proc/" + std::to_string(getpid()) + "/fd/" + std::to_string(fd_);
  file_.emplace(path_, layout, OutputFile::Access::kReadWrite);
}

StagedRows::~StagedRows() {
  file_.reset();
  close(fd_);
}

void StagedRows::MoveInto(OutputFile& output, const Chunk& chunk) {
  std::vector<char> rows;
  for (size_t o = 0; o < file_->layout().results.size(); ++o) {
    const uint64_t point_bytes = std::max<uint64_t>(file_->Rows(o, 0, 1).bytes, 1);
    const uint64_t step = std::max<uint64_t>(kCopyBytes / point_bytes, 1);
    for (uint64_t first = chunk.first; first < chunk.end(); first += step) {
      const uint64_t count = std::min(step, chunk.end() - first);
      rows.resize(file_->Rows(o, first, count).bytes);
      file_->ReadRows(o, first, count, rows.data());
      output.WriteRows(o, first, count, rows.data());
    }
  }
  Free(chunk);
}

void StagedRows::Free(const Chunk& chunk) {
  for (size_t o = 0; o < file_->layout().results.size(); ++o) {
    const RawRegion region = file_->Rows(o, chunk.first, chunk.count);
    fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(region.offset),
              off_t(region.bytes));
  }
}

}  // namespace sweep
