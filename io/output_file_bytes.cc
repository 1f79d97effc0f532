// OutputFile's raw side (io/output_file.h): reads and writes at the layout's byte offsets. No HDF5
// here: a spawned worker links this file and not output_file.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "io/error.h"
#include "io/file_bytes.h"
#include "io/output_file.h"
#include "kernels/dtype.h"

namespace sweep {

OutputFile::OutputFile(std::string path, OutputLayout layout, Access access)
    : path_(std::move(path)), layout_(std::move(layout)) {
  fd_ = open(path_.c_str(), (access == Access::kRead ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd_ < 0) {
    throw Error("cannot open " + path_ + (access == Access::kRead ? "" : " for writing") + ": " +
                std::strerror(errno));
  }
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) close(fd_);
}

OutputFile::OutputFile(OutputFile&& other) noexcept
    : path_(std::move(other.path_)),
      layout_(std::move(other.layout_)),
      fd_(std::exchange(other.fd_, -1)),
      host_rows_(std::move(other.host_rows_)),
      failure_reason_rows_(std::move(other.failure_reason_rows_)),
      reused_file_rows_(std::move(other.reused_file_rows_)),
      device_rows_(std::move(other.device_rows_)) {}

std::string OutputFile::FateAtPath() const {
  struct stat open_file {
  }, at_path{};
  if (fstat(fd_, &open_file) != 0) return "";
  if (stat(path_.c_str(), &at_path) != 0) return errno == ENOENT ? "deleted" : "";
  return at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino ? "" : "replaced";
}

RawRegion OutputFile::Rows(size_t output, uint64_t first, uint64_t count) const {
  const OutputDatasetInfo& dataset = layout_.results.at(output);
  return {dataset.region.offset + first * dataset.bytes_per_point, count * dataset.bytes_per_point};
}

void OutputFile::WriteRows(size_t output, uint64_t first, uint64_t count, const void* data) {
  const RawRegion region = Rows(output, first, count);
  WriteBytesAt(fd_, data, region.bytes, region.offset,
               "writing /" + layout_.results[output].name + " in " + path_);
}

void OutputFile::ReadRows(size_t output, uint64_t first, uint64_t count, void* data) const {
  const RawRegion region = Rows(output, first, count);
  ReadBytesAt(fd_, data, region.bytes, region.offset,
              "reading /" + layout_.results[output].name + " in " + path_);
}

namespace {

// Missing values are written from a block of them reused for the whole range (a chunk may be
// gigabytes), made once per dtype, fill value and process, when a chunk needs it: a run fills
// every chunk it prepares.
constexpr uint64_t kMissingBlockBytes = uint64_t{1} << 20;  // a multiple of every dtype's size

uint64_t FillBits(const OutputDatasetInfo& dataset) {
  uint64_t bits = 0;
  std::memcpy(&bits, dataset.fill, sizeof bits);
  return bits;
}

const char* MissingBlock(const OutputDatasetInfo& dataset) {
  static std::mutex mutex;
  static std::map<std::pair<int, uint64_t>, std::vector<char>> blocks;
  std::lock_guard<std::mutex> lock(mutex);
  std::vector<char>& block = blocks[{dataset.dtype, FillBits(dataset)}];
  if (block.empty()) {
    block.resize(kMissingBlockBytes);
    FillElements(block.data(), dataset.fill, DtypeSize(dataset.dtype),
                 kMissingBlockBytes / DtypeSize(dataset.dtype));
  }
  return block.data();  // a map's elements stay where they are
}

}  // namespace

void OutputFile::FillRows(size_t output, uint64_t first, uint64_t count) {
  const OutputDatasetInfo& dataset = layout_.results.at(output);
  const RawRegion region = Rows(output, first, count);
  const std::string what = "writing /" + dataset.name + " in " + path_;
  if (region.bytes < kMissingBlockBytes) {  // a small chunk: a block of its own size
    std::vector<char> block(region.bytes);
    FillElements(block.data(), dataset.fill, DtypeSize(dataset.dtype),
                 region.bytes / DtypeSize(dataset.dtype));
    WriteBytesAt(fd_, block.data(), region.bytes, region.offset, what);
    return;
  }
  const char* block = MissingBlock(dataset);
  for (uint64_t done = 0; done < region.bytes; done += kMissingBlockBytes) {
    const uint64_t n = std::min(kMissingBlockBytes, region.bytes - done);
    WriteBytesAt(fd_, block, n, region.offset + done, what);
  }
}

void OutputFile::WriteVariable(size_t variable, uint64_t first, uint64_t count, const void* data) {
  const OutputVariableInfo& info = layout_.variables.at(variable);
  WriteBytesAt(fd_, data, count * 8, info.region.offset + first * 8,
               "writing /" + info.name + " in " + path_);
}

void OutputFile::ReadVariable(size_t variable, uint64_t first, uint64_t count, void* data) const {
  const OutputVariableInfo& info = layout_.variables.at(variable);
  ReadBytesAt(fd_, data, count * 8, info.region.offset + first * 8,
              "reading /" + info.name + " in " + path_);
}

ChunkTable OutputFile::ReadChunkTable() const {
  const uint64_t n = layout_.chunks;
  ChunkTable table;
  table.status.resize(n);
  table.attempts.resize(n);
  table.seconds.resize(n);
  table.checksum.resize(n);
  table.reused.resize(n);
  const std::string what = "reading /chunks in " + path_;
  static_assert(sizeof(ChunkStatus) == 1, "/chunks/status is one byte a chunk");
  ReadBytesAt(fd_, table.status.data(), n, layout_.chunk_status.offset, what);
  ReadBytesAt(fd_, table.attempts.data(), n * 4, layout_.chunk_attempts.offset, what);
  ReadBytesAt(fd_, table.seconds.data(), n * 8, layout_.chunk_seconds.offset, what);
  ReadBytesAt(fd_, table.checksum.data(), n * 8, layout_.chunk_checksum.offset, what);
  if (layout_.has_reuse_provenance())
    ReadBytesAt(fd_, table.reused.data(), n * 8, layout_.chunk_reused.offset, what);
  return table;
}

void OutputFile::WriteChunkRow(uint64_t chunk, const ChunkRow& row) {
  const std::string what = "updating /chunks in " + path_;
  WriteBytesAt(fd_, &row.attempts, 4, layout_.chunk_attempts.offset + chunk * 4, what);
  WriteBytesAt(fd_, &row.seconds, 8, layout_.chunk_seconds.offset + chunk * 8, what);
  WriteBytesAt(fd_, &row.checksum, 8, layout_.chunk_checksum.offset + chunk * 8, what);
  if (layout_.has_provenance()) {
    WriteBytesAt(fd_, &row.host, 2, layout_.chunk_host.offset + chunk * 2, what);
    WriteBytesAt(fd_, &row.worker, 4, layout_.chunk_worker.offset + chunk * 4, what);
    WriteBytesAt(fd_, &row.start_time, 8, layout_.chunk_start_time.offset + chunk * 8, what);
    WriteBytesAt(fd_, &row.max_rss, 8, layout_.chunk_max_rss.offset + chunk * 8, what);
  }
  if (layout_.has_reuse_provenance()) {
    WriteBytesAt(fd_, &row.reused, 8, layout_.chunk_reused.offset + chunk * 8, what);
    WriteBytesAt(fd_, &row.reused_from, 2, layout_.chunk_reused_from.offset + chunk * 2, what);
    WriteBytesAt(fd_, &row.reused_first_chunk, 8, layout_.chunk_reused_first.offset + chunk * 8,
                 what);
    WriteBytesAt(fd_, &row.reused_last_chunk, 8, layout_.chunk_reused_last.offset + chunk * 8,
                 what);
  }
  if (layout_.has_device())
    WriteBytesAt(fd_, &row.device, 2, layout_.chunk_device.offset + chunk * 2, what);
  WriteBytesAt(fd_, &row.status, 1, layout_.chunk_status.offset + chunk, what);
}

namespace {

// Column `field` of `count` rows, packed as the dataset holds it.
template <typename T, typename Field>
std::vector<T> Column(const ChunkRow* rows, uint64_t count, Field field) {
  std::vector<T> column(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) column[i] = T(rows[i].*field);
  return column;
}

}  // namespace

void OutputFile::WriteChunkRows(uint64_t first, uint64_t count, const ChunkRow* rows) {
  if (count == 1) return WriteChunkRow(first, rows[0]);
  const std::string what = "updating /chunks in " + path_;
  const auto write = [&](const auto& column, const RawRegion& region) {
    const size_t width = sizeof(column[0]);
    WriteBytesAt(fd_, column.data(), column.size() * width, region.offset + first * width, what);
  };
  write(Column<uint32_t>(rows, count, &ChunkRow::attempts), layout_.chunk_attempts);
  write(Column<double>(rows, count, &ChunkRow::seconds), layout_.chunk_seconds);
  write(Column<uint64_t>(rows, count, &ChunkRow::checksum), layout_.chunk_checksum);
  if (layout_.has_provenance()) {
    write(Column<uint16_t>(rows, count, &ChunkRow::host), layout_.chunk_host);
    write(Column<int32_t>(rows, count, &ChunkRow::worker), layout_.chunk_worker);
    write(Column<double>(rows, count, &ChunkRow::start_time), layout_.chunk_start_time);
    write(Column<uint64_t>(rows, count, &ChunkRow::max_rss), layout_.chunk_max_rss);
  }
  if (layout_.has_reuse_provenance()) {
    write(Column<uint64_t>(rows, count, &ChunkRow::reused), layout_.chunk_reused);
    write(Column<uint16_t>(rows, count, &ChunkRow::reused_from), layout_.chunk_reused_from);
    write(Column<uint64_t>(rows, count, &ChunkRow::reused_first_chunk), layout_.chunk_reused_first);
    write(Column<uint64_t>(rows, count, &ChunkRow::reused_last_chunk), layout_.chunk_reused_last);
  }
  if (layout_.has_device())
    write(Column<uint16_t>(rows, count, &ChunkRow::device), layout_.chunk_device);
  std::vector<uint8_t> status(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) status[i] = uint8_t(rows[i].status);
  WriteBytesAt(fd_, status.data(), status.size(), layout_.chunk_status.offset + first, what);
}

void OutputFile::WriteChunkFailure(uint64_t chunk, uint16_t failure_reason_row) {
  if (!layout_.has_provenance()) return;
  WriteBytesAt(fd_, &failure_reason_row, 2, layout_.chunk_failure.offset + chunk * 2,
               "updating /chunks in " + path_);
}

std::string FitTableText(const std::string& text, uint64_t width) {
  size_t n = std::min<size_t>(text.find('\0'), text.size());
  if (n > width) {
    n = size_t(width);
    while (n > 0 && (uint8_t(text[n]) & 0xC0) == 0x80) --n;  // text[n], the first cut, continues
  }
  return text.substr(0, n);
}

namespace {

// The string tables' lock (io/output_file.h), held for its life: an open-file-description write
// lock, waited for, on one byte far past the file's end (InodeLock's is the byte before), so it
// is shared by every process that opened the file, whatever its name, and dies with them.
class StringTableLock {
 public:
  StringTableLock(int fd, const std::string& path) : fd_(fd) {
    struct flock lock = Range(F_WRLCK);
    while (fcntl(fd_, F_OFD_SETLKW, &lock) != 0) {
      if (errno != EINTR)
        throw Error("cannot lock the string tables of " + path + ": " + std::strerror(errno));
    }
  }
  ~StringTableLock() {
    struct flock lock = Range(F_UNLCK);
    fcntl(fd_, F_OFD_SETLK, &lock);
  }
  StringTableLock(const StringTableLock&) = delete;
  StringTableLock& operator=(const StringTableLock&) = delete;

 private:
  static struct flock Range(short type) {
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = (off_t{1} << 62) + 1;
    lock.l_len = 1;
    return lock;
  }
  int fd_;
};

// The text of row `row` of a table read whole into `bytes`.
std::string RowText(const std::string& bytes, const StringTableInfo& table, uint64_t row) {
  const char* at = bytes.data() + row * table.width;
  return std::string(at, strnlen(at, size_t(table.width)));
}

}  // namespace

uint16_t OutputFile::TableRow(const StringTableInfo& table, std::map<std::string, uint16_t>* known,
                              const std::string& text) {
  if (table.rows < 2) return 0;
  std::string fitted = FitTableText(text, table.width);
  if (fitted.empty()) fitted = "?";  // row 0, the empty one, means none
  if (auto it = known->find(fitted); it != known->end()) return it->second;
  const StringTableLock lock(fd_, path_);
  // Under the lock the table is what every writer made of it: rows are taken in order and never
  // given back, so the first empty row ends it.
  std::string bytes(size_t(table.region.bytes), '\0');
  ReadBytesAt(fd_, bytes.data(), bytes.size(), table.region.offset, "reading /chunks in " + path_);
  const uint64_t last = table.rows - 1;
  uint64_t row = 1;
  for (; row < last; ++row) {
    const std::string held = RowText(bytes, table, row);
    if (held.empty()) break;
    known->emplace(held, uint16_t(row));
  }
  if (auto it = known->find(fitted); it != known->end()) return it->second;
  if (row < last) {
    std::string padded = fitted;
    padded.resize(size_t(table.width), '\0');
    WriteBytesAt(fd_, padded.data(), padded.size(), table.region.offset + row * table.width,
                 "updating /chunks in " + path_);
  }
  known->emplace(fitted, uint16_t(row));  // `last` when the table is full
  return uint16_t(row);
}

uint16_t OutputFile::HostRow(const std::string& text) {
  return TableRow(layout_.host_names, &host_rows_, text);
}

uint16_t OutputFile::DeviceRow(const std::string& text) {
  if (text.empty()) return 0;
  return TableRow(layout_.device_names, &device_rows_, text);
}

uint16_t OutputFile::FailureReasonRow(const std::string& text) {
  return TableRow(layout_.failure_reasons, &failure_reason_rows_, text);
}

uint16_t OutputFile::ReusedFileRow(const std::string& text) {
  return TableRow(layout_.reused_files, &reused_file_rows_, text);
}

ChunkProvenance OutputFile::ReadChunkProvenance() const {
  const uint64_t n = layout_.chunks;
  ChunkProvenance p;
  p.host.resize(n);
  p.failure.resize(n);
  p.device.resize(n);
  p.worker.resize(n);
  p.start_time.resize(n);
  p.max_rss.resize(n);
  p.host_names = {""};
  p.failure_reasons = {""};
  p.device_names = {""};
  p.reused.resize(n);
  p.reused_from.resize(n);
  p.reused_first_chunk.resize(n);
  p.reused_last_chunk.resize(n);
  p.reused_files = {""};
  const std::string what = "reading /chunks in " + path_;
  if (layout_.has_reuse_provenance()) {
    ReadBytesAt(fd_, p.reused.data(), n * 8, layout_.chunk_reused.offset, what);
    ReadBytesAt(fd_, p.reused_from.data(), n * 2, layout_.chunk_reused_from.offset, what);
    ReadBytesAt(fd_, p.reused_first_chunk.data(), n * 8, layout_.chunk_reused_first.offset, what);
    ReadBytesAt(fd_, p.reused_last_chunk.data(), n * 8, layout_.chunk_reused_last.offset, what);
    std::string bytes(size_t(layout_.reused_files.region.bytes), '\0');
    ReadBytesAt(fd_, bytes.data(), bytes.size(), layout_.reused_files.region.offset, what);
    for (uint64_t row = 1; row < layout_.reused_files.rows; ++row)
      p.reused_files.push_back(RowText(bytes, layout_.reused_files, row));
  }
  if (!layout_.has_provenance()) return p;
  ReadBytesAt(fd_, p.host.data(), n * 2, layout_.chunk_host.offset, what);
  ReadBytesAt(fd_, p.failure.data(), n * 2, layout_.chunk_failure.offset, what);
  ReadBytesAt(fd_, p.worker.data(), n * 4, layout_.chunk_worker.offset, what);
  ReadBytesAt(fd_, p.start_time.data(), n * 8, layout_.chunk_start_time.offset, what);
  ReadBytesAt(fd_, p.max_rss.data(), n * 8, layout_.chunk_max_rss.offset, what);
  std::vector<std::pair<const StringTableInfo*, std::vector<std::string>*>> tables = {
      {&layout_.host_names, &p.host_names}, {&layout_.failure_reasons, &p.failure_reasons}};
  if (layout_.has_device()) {
    ReadBytesAt(fd_, p.device.data(), n * 2, layout_.chunk_device.offset, what);
    tables.emplace_back(&layout_.device_names, &p.device_names);
  }
  for (const auto& [table, strings] : tables) {
    std::string bytes(size_t(table->region.bytes), '\0');
    ReadBytesAt(fd_, bytes.data(), bytes.size(), table->region.offset, what);
    for (uint64_t row = 1; row < table->rows; ++row)
      strings->push_back(RowText(bytes, *table, row));
  }
  return p;
}

std::string EncodeRowLayout(const OutputLayout& layout) {
  nlohmann::json j;
  j["points"] = layout.points;
  j["chunk_size"] = layout.chunk_size;
  j["chunks"] = layout.chunks;
  nlohmann::json results = nlohmann::json::array();
  for (const OutputDatasetInfo& r : layout.results) {
    results.push_back({{"name", r.name},
                       {"dtype", r.dtype},
                       {"point_shape", r.point_shape},
                       {"bytes_per_point", r.bytes_per_point},
                       {"offset", r.region.offset},
                       {"bytes", r.region.bytes},
                       {"fill", FillBits(r)}});
  }
  j["results"] = results;
  return j.dump();
}

OutputLayout DecodeRowLayout(const std::string& json_text) {
  const nlohmann::json j = nlohmann::json::parse(json_text);
  OutputLayout layout;
  layout.points = j.at("points").get<uint64_t>();
  layout.chunk_size = j.at("chunk_size").get<uint64_t>();
  layout.chunks = j.at("chunks").get<uint64_t>();
  for (const nlohmann::json& r : j.at("results")) {
    OutputDatasetInfo info;
    info.name = r.at("name").get<std::string>();
    info.dtype = r.at("dtype").get<int>();
    info.point_shape = r.at("point_shape").get<std::vector<int64_t>>();
    info.bytes_per_point = r.at("bytes_per_point").get<uint64_t>();
    info.region.offset = r.at("offset").get<uint64_t>();
    info.region.bytes = r.at("bytes").get<uint64_t>();
    const uint64_t fill = r.at("fill").get<uint64_t>();
    std::memcpy(info.fill, &fill, sizeof fill);
    layout.results.push_back(std::move(info));
  }
  return layout;
}

}  // namespace sweep
