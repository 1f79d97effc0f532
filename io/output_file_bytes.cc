// OutputFile's raw side (io/output_file.h): reads and writes at the layout's byte offsets. No HDF5
// here: a spawned worker links this file and not output_file.cc.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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
      fd_(std::exchange(other.fd_, -1)) {}

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
// gigabytes), made once per dtype and process: a run fills every chunk it prepares.
constexpr uint64_t kMissingBlockBytes = uint64_t{1} << 20;  // a multiple of every dtype's size

const char* MissingBlock(int dtype) {
  static std::once_flag made[SWEEP_UINT8 + 1];
  static std::vector<char> blocks[SWEEP_UINT8 + 1];
  std::call_once(made[dtype], [dtype] {
    blocks[dtype].resize(kMissingBlockBytes);
    FillMissing(blocks[dtype].data(), dtype, kMissingBlockBytes / DtypeSize(dtype));
  });
  return blocks[dtype].data();
}

}  // namespace

void OutputFile::FillRows(size_t output, uint64_t first, uint64_t count) {
  const OutputDatasetInfo& dataset = layout_.results.at(output);
  const RawRegion region = Rows(output, first, count);
  const char* block = MissingBlock(dataset.dtype);
  const std::string what = "writing /" + dataset.name + " in " + path_;
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
  const std::string what = "reading /chunks in " + path_;
  static_assert(sizeof(ChunkStatus) == 1, "/chunks/status is one byte a chunk");
  ReadBytesAt(fd_, table.status.data(), n, layout_.chunk_status.offset, what);
  ReadBytesAt(fd_, table.attempts.data(), n * 4, layout_.chunk_attempts.offset, what);
  ReadBytesAt(fd_, table.seconds.data(), n * 8, layout_.chunk_seconds.offset, what);
  ReadBytesAt(fd_, table.checksum.data(), n * 8, layout_.chunk_checksum.offset, what);
  return table;
}

void OutputFile::WriteChunkRow(uint64_t chunk, const ChunkRow& row) {
  const std::string what = "updating /chunks in " + path_;
  WriteBytesAt(fd_, &row.attempts, 4, layout_.chunk_attempts.offset + chunk * 4, what);
  WriteBytesAt(fd_, &row.seconds, 8, layout_.chunk_seconds.offset + chunk * 8, what);
  WriteBytesAt(fd_, &row.checksum, 8, layout_.chunk_checksum.offset + chunk * 8, what);
  WriteBytesAt(fd_, &row.status, 1, layout_.chunk_status.offset + chunk, what);
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
                       {"bytes", r.region.bytes}});
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
    layout.results.push_back(std::move(info));
  }
  return layout;
}

}  // namespace sweep
