// OutputFile: the HDF5 file a sweep writes its results into (DESIGN.md "Output file"), and the
// only code that knows where its bytes are.
//
// CreateOutputFile() writes the whole file before any worker starts: every attribute, every
// parameter value, every coordinate, and every dataset that will ever be updated, already
// allocated at its final size and filled. After that nobody changes HDF5 metadata again: workers
// and the driver write raw bytes at the fixed offsets the layout reports, through an OutputFile
// (WriteRows, WriteChunkRow). So the file is a valid HDF5 file at every instant, readable live by
// h5py, and a killed run cannot corrupt it. Object timestamps are off, so the same spec gives the
// same bytes.
//
// Two translation units implement this header: output_file.cc (creating the file and reading its
// layout, with HDF5) and output_file_bytes.cc (raw reads and writes at the layout's offsets,
// without HDF5), so that a spawned worker, which is given the layout, links no HDF5 at all.
//
// Format "sweep/1" (bump kOutputFormat on any change below; ReadOutputLayout() refuses others):
//
//   /                    attributes (scalars; strings are variable-length UTF-8):
//                          format "sweep/1", sweep_version (SWEEP_VERSION), config (YAML text),
//                          config_sha256 (64 lowercase hex digits of config), config_file
//                          (the config's absolute path: relative paths in config resolve against
//                          its folder), fingerprint (JSON: what the results depend on besides
//                          the config: kernel, options, inputs; see driver/run.cc), seed (uint64),
//                          kernel (name), kernel_abi (uint32, SWEEP_KERNEL_ABI), points, chunks,
//                          chunk_size (uint64)
//   /params/<name>       [points]  float64 | int64 | fixed-size UTF-8 string (NUL-padded, as long
//                                  as the longest value): the parameter's value at each point
//   /axes/<dim>          [n]       coordinates of each sweep dimension, in dimension order; an
//                                  HDF5 dimension scale named <dim>; float64 | int64 | string as
//                                  above (string if any coordinate is one, else float64 if any is
//                                  a number, else int64)
//   /results/<output>    [n1, ..., nk, ...point shape]  the kernel output's dtype; one dataset
//                                  per output in the kernel's order; the /axes scales attached to
//                                  its first k dimensions; NaN (floats) or 0 (integers) until done
//   /chunks/first        [chunks] uint64   first point of chunk c  (c * chunk_size)
//   /chunks/count        [chunks] uint64   its number of points
//   /chunks/status       [chunks] uint8    0 pending, 1 done, 2 failed
//   /chunks/attempts     [chunks] uint32   0 until the driver writes it
//   /chunks/seconds      [chunks] float64  0 until the driver writes it
//   /chunks/checksum     [chunks] uint64   0 until the driver writes it
//
// Every group tracks link creation order, so /axes and /results list in the order above.
// /results/* and the four updatable /chunks datasets are contiguous, allocated early and filled
// at creation, in native byte order; points are numbered in C order over the dimensions, so a
// /results dataset is the same bytes as a flat [points, ...point shape] array: point p's row is
// at region.offset + p * bytes_per_point. The file has no user block, so those offsets are
// absolute byte offsets in the file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

inline constexpr char kOutputFormat[] = "sweep/1";

// One sweep dimension: its name (DESIGN.md: a parameter, "a+b" for a zip group, "sample",
// "replicate"), its size, and its coordinate at index k < size.
struct OutputDimension {
  std::string name;
  uint64_t size = 0;
  std::function<sweep_value(uint64_t k)> coordinate;
};

struct OutputParameter {
  std::string name;
  int type = SWEEP_VALUE_NUMBER;  // sweep_value_type: how /params/<name> stores it
};

// What the driver knows before the run, independent of how it knows it (driver/space.h adapts).
struct OutputLayoutSpec {
  std::string config_text;
  std::string config_file;  // absolute
  std::string fingerprint;  // JSON text
  std::string kernel_name;
  uint64_t seed = 0;
  uint64_t points = 0, chunk_size = 0, chunks = 0;  // as driver/plan.h computes them
  std::vector<OutputDimension> dimensions;          // in C order; product of sizes == points
  std::vector<OutputParameter> parameters;
  // Fills values[0..parameters.size()) for one point; strings need live only until the next call.
  std::function<void(uint64_t point, sweep_value* values)> resolve;
  std::vector<sweep_output_decl> outputs;  // per-point shape of each kernel output
};

// Creates the complete file at `path`. It is written to "<path>.tmp-<pid>", then renamed
// over `path`, so a failure (or a kill) never leaves half a file at `path`; the temporary is
// removed on failure.
// REQUIRES: the caller checked that `path` may be replaced (--force); points > 0; chunks > 0.
// THROWS: Error (exit code 1) on any I/O or HDF5 failure.
void CreateOutputFile(const std::string& path, const OutputLayoutSpec& spec);

// An absolute byte range of the file.
struct RawRegion {
  uint64_t offset = 0;
  uint64_t bytes = 0;
};

struct OutputDatasetInfo {
  std::string name;                  // <output> of /results/<output>
  int dtype = 0;                     // sweep_dtype
  std::vector<int64_t> point_shape;  // the output's shape per point; empty for a scalar
  uint64_t bytes_per_point = 0;
  RawRegion region;  // bytes == points * bytes_per_point
};

struct OutputAxis {
  std::string name;
  uint64_t size = 0;
};

// An existing output file, as ReadOutputLayout() finds it.
struct OutputLayout {
  std::string format;  // kOutputFormat
  std::string config_text, config_sha256, kernel_name, sweep_version;
  std::string config_file, fingerprint;
  uint32_t kernel_abi = 0;
  uint64_t seed = 0, points = 0, chunk_size = 0, chunks = 0;
  std::vector<OutputAxis> dimensions;      // /axes, in dimension order
  std::vector<OutputDatasetInfo> results;  // /results/<name>, in creation order
  // One element per chunk each: uint8, uint32, float64, uint64.
  RawRegion chunk_status, chunk_attempts, chunk_seconds, chunk_checksum;
};

// Opens `path` read-only and reads its layout; the file is closed again on return.
// THROWS: Error with exit code 2 when the file is missing, is not HDF5, is not a sweep output
// file, or has a different format version (naming both versions); exit code 1 when a sweep file
// is damaged (a dataset missing or of the wrong size).
OutputLayout ReadOutputLayout(const std::string& path);

// /chunks/status values.
enum class ChunkStatus : uint8_t { kPending = 0, kDone = 1, kFailed = 2 };

// The updatable columns of /chunks, one element per chunk each.
struct ChunkTable {
  std::vector<ChunkStatus> status;
  std::vector<uint32_t> attempts;
  std::vector<double> seconds;
  std::vector<uint64_t> checksum;
};

// One chunk's row of those columns.
struct ChunkRow {
  ChunkStatus status = ChunkStatus::kPending;
  uint32_t attempts = 0;
  double seconds = 0;
  uint64_t checksum = 0;
};

// An open output file: its layout and a descriptor for raw reads and writes at the layout's
// offsets. Movable, not copyable; the descriptor is closed with the object.
class OutputFile {
 public:
  enum class Access { kRead, kReadWrite };

  // Reads the layout of the file at `path` (HDF5) and opens it.
  // THROWS: as ReadOutputLayout(); Error when the file cannot be opened with `access`.
  static OutputFile Open(const std::string& path, Access access);
  // Opens `path` with a layout known from elsewhere (a spawned worker's job) without reading it.
  // THROWS: Error when the file cannot be opened with `access`.
  OutputFile(std::string path, OutputLayout layout, Access access);
  ~OutputFile();
  OutputFile(OutputFile&& other) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  const std::string& path() const { return path_; }
  const OutputLayout& layout() const { return layout_; }

  // The bytes of `count` consecutive points' rows of output `output`, from point `first`.
  // REQUIRES: output < layout().results.size(), first + count <= layout().points.
  RawRegion Rows(size_t output, uint64_t first, uint64_t count) const;
  // Writes (reads) those rows whole: `data` holds Rows(...).bytes bytes.
  // THROWS: Error naming the dataset (a full disk reads as ENOSPC).
  void WriteRows(size_t output, uint64_t first, uint64_t count, const void* data);
  void ReadRows(size_t output, uint64_t first, uint64_t count, void* data) const;

  // THROWS: Error when the table cannot be read.
  ChunkTable ReadChunkTable() const;
  // Writes one chunk's row: attempts, seconds and checksum first, the status byte last, so a
  // reader that sees a chunk done sees the rest. REQUIRES: Access::kReadWrite, chunk < chunks.
  // THROWS: Error when a write fails.
  void WriteChunkRow(uint64_t chunk, const ChunkRow& row);

 private:
  std::string path_;
  OutputLayout layout_;
  int fd_ = -1;
};

// What a spawned worker needs of a layout (points, chunk size, the /results datasets and their
// offsets), as JSON text, and back. THROWS (decoding): nlohmann::json errors on malformed text.
std::string EncodeRowLayout(const OutputLayout& layout);
OutputLayout DecodeRowLayout(const std::string& json_text);

}  // namespace sweep
