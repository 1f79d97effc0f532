#include "io/output_file.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#include "io/byte_count.h"
#include "io/error.h"
#include "io/hdf5.h"
#include "io/sha256.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

// Values written per H5Dwrite: large enough that 10^7 chunks take a few hundred calls, small
// enough that the block buffer stays well under a MiB.
constexpr uint64_t kBlock = uint64_t{1} << 16;

std::string FormatValue(const sweep_value& v) {
  if (v.type == SWEEP_VALUE_STRING) return v.string ? v.string : "";
  if (v.type == SWEEP_VALUE_INTEGER) return std::to_string(v.integer);
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v.number);
  return text;
}

// A new contiguous 1-D uint64 dataset written block by block: Put() the values of one block,
// then Flush() it with one hyperslab write.
class UnsignedColumnWriter {
 public:
  UnsignedColumnWriter(hid_t loc, const std::string& name, uint64_t size)
      : buffer_(std::min(size, kBlock)) {
    hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
    hdf5::SetContiguous(dcpl.id());
    hdf5::Handle space = hdf5::SimpleSpace({size});
    dataset_ = hdf5::CreateDataset(loc, name, H5T_NATIVE_UINT64, space.id(), dcpl.id());
  }

  hid_t dataset() const { return dataset_.id(); }
  void Put(uint64_t index_in_block, uint64_t value) { buffer_[index_in_block] = value; }

  void Flush(uint64_t first, uint64_t count) {
    hdf5::Handle file_space = hdf5::DatasetSpace(dataset_.id());
    hdf5::SelectHyperslab(file_space.id(), {first}, {count});
    hdf5::Handle memory_space = hdf5::SimpleSpace({count});
    hdf5::Write(dataset_.id(), H5T_NATIVE_UINT64, memory_space.id(), file_space.id(),
                buffer_.data());
  }

 private:
  hdf5::Handle dataset_;
  std::vector<uint64_t> buffer_;
};

// netCDF-4's mark of a dimension that has no variable (its NAME attribute, then the size).
constexpr char kDimensionWithoutVariable[] =
    "This is a netCDF dimension but not a netCDF variable.";

// Dimension ids as netCDF-4 records them (_Netcdf4Dimid on each dimension's dataset): the sweep
// dimensions 0..k-1 in C order, every other dimension the next free id as it is made. netCDF needs
// them to place a text coordinate (a two-dimensional char dimension scale) on its dimensions.
class DimensionIds {
 public:
  explicit DimensionIds(size_t sweep_dimensions) : next_(int(sweep_dimensions)) {}
  int Next() { return next_++; }

 private:
  int next_;
};

void MarkDimension(hid_t dataset, int id) {
  const int32_t value = id;
  hdf5::WriteAttribute(dataset, "_Netcdf4Dimid", H5T_NATIVE_INT32, &value);
}

// A dimension without a variable, as netCDF-4 writes one: a scale never allocated nor written.
hdf5::Handle CreateBareDimension(hid_t loc, const std::string& name, uint64_t size, int id) {
  hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
  hdf5::Handle space = hdf5::SimpleSpace({size});
  hdf5::Handle dataset = hdf5::CreateDataset(loc, name, H5T_IEEE_F32BE, space.id(), dcpl.id());
  char mark[96];
  std::snprintf(mark, sizeof mark, "%s%10llu", kDimensionWithoutVariable,
                static_cast<unsigned long long>(size));
  hdf5::MakeDimensionScale(dataset.id(), mark);
  MarkDimension(dataset.id(), id);
  return dataset;
}

void WriteAttributes(hid_t dataset, const OutputLayoutSpec& spec, const std::string& name) {
  const auto it = spec.attributes.find(name);
  if (it == spec.attributes.end()) return;
  for (const auto& [key, text] : it->second) hdf5::WriteAttribute(dataset, key, text);
}

// A contiguous dataset allocated now, at its final offset, and not written. With `declare_fill`,
// *fill (of `type`) is its _FillValue for HDF5 and netCDF readers; variables declare none, so
// xarray keeps an integer coordinate an integer.
hdf5::Handle CreateAllocatedDataset(hid_t loc, const std::string& name, hid_t type,
                                    const std::vector<uint64_t>& dims, const void* fill,
                                    bool declare_fill) {
  hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
  hdf5::SetContiguous(dcpl.id());
  hdf5::SetEarlyUnfilled(dcpl.id(), type, declare_fill ? fill : nullptr);
  hdf5::Handle space = hdf5::SimpleSpace(dims);
  hdf5::Handle dataset = hdf5::CreateDataset(loc, name, type, space.id(), dcpl.id());
  if (declare_fill) hdf5::WriteAttribute(dataset.id(), "_FillValue", type, fill);
  return dataset;
}

// A string parameter as netCDF text, which NCO and CDO read where they refuse variable-length
// strings: a char array [n, <name>_strlen] ([<name>_strlen] for a constant), a value a row,
// NUL-padded to the longest value's bytes. The coordinate of a grid axis is itself its
// dimension's scale, which HDF5 cannot attach another scale to: its dimensions are named by id
// (_Netcdf4Coordinates), as netCDF-4 does for such a coordinate. xarray decodes it into a string
// index (`.sel(mode="a")`); _Encoding says the bytes are UTF-8.
hdf5::Handle WriteTextVariable(hid_t root, const OutputLayoutSpec& spec, const OutputVariable& v,
                               DimensionIds* ids) {
  const bool scalar = v.dimension < 0;
  const uint64_t n = scalar ? 1 : spec.dimensions[size_t(v.dimension)].size;
  std::vector<std::string> texts;
  uint64_t width = 1;
  for (uint64_t k = 0; k < n; ++k) {
    texts.push_back(FormatValue(v.value(k)));
    width = std::max<uint64_t>(width, texts.back().size());
  }
  std::string rows(n * width, '\0');
  for (uint64_t k = 0; k < n; ++k) texts[k].copy(rows.data() + k * width, texts[k].size());
  const int strlen_id = ids->Next();
  hdf5::Handle strlen = CreateBareDimension(root, v.name + "_strlen", width, strlen_id);
  hdf5::Handle type = hdf5::CharType();
  hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
  hdf5::Handle space =
      hdf5::SimpleSpace(scalar ? std::vector<uint64_t>{width} : std::vector<uint64_t>{n, width});
  hdf5::Handle dataset = hdf5::CreateDataset(root, v.name, type.id(), space.id(), dcpl.id());
  hdf5::Write(dataset.id(), type.id(), H5S_ALL, H5S_ALL, rows.data());
  hdf5::WriteAttribute(dataset.id(), "_Encoding", std::string("utf-8"));
  const bool coordinate = !scalar && spec.dimensions[size_t(v.dimension)].name == v.name;
  if (coordinate) {
    hdf5::MakeDimensionScale(dataset.id(), v.name);
    MarkDimension(dataset.id(), v.dimension);
    const int32_t dims[2] = {v.dimension, strlen_id};
    hdf5::WriteAttribute(dataset.id(), "_Netcdf4Coordinates", H5T_NATIVE_INT32, dims, 2);
  } else {
    hdf5::AttachDimensionScale(dataset.id(), strlen.id(), scalar ? 0 : 1);
  }
  return dataset;
}

// A parameter variable: strings and short ones written now, longer numeric ones deferred.
hdf5::Handle WriteVariable(hid_t root, const OutputLayoutSpec& spec, const OutputVariable& v,
                           DimensionIds* ids) {
  if (v.type == SWEEP_VALUE_STRING) return WriteTextVariable(root, spec, v, ids);
  const bool scalar = v.dimension < 0;
  const uint64_t n = scalar ? 1 : spec.dimensions[size_t(v.dimension)].size;
  const std::vector<uint64_t> dims = scalar ? std::vector<uint64_t>{} : std::vector<uint64_t>{n};
  const bool integer = v.type == SWEEP_VALUE_INTEGER;
  const int dtype = integer ? SWEEP_INT64 : SWEEP_FLOAT64;
  const hid_t type = hdf5::NativeType(dtype);
  hdf5::Handle dataset = CreateAllocatedDataset(root, v.name, type, dims, nullptr, false);
  if (!scalar && n > kValuesWrittenAtCreation) return dataset;  // deferred
  std::vector<char> values(n * 8);
  for (uint64_t k = 0; k < n; ++k) {
    const sweep_value value = v.value(k);
    if (integer) {
      const int64_t i =
          value.type == SWEEP_VALUE_INTEGER ? value.integer : std::llround(value.number);
      std::memcpy(values.data() + k * 8, &i, 8);
    } else {
      const double d = value.type == SWEEP_VALUE_INTEGER ? double(value.integer) : value.number;
      std::memcpy(values.data() + k * 8, &d, 8);
    }
  }
  hdf5::Write(dataset.id(), type, H5S_ALL, H5S_ALL, values.data());
  return dataset;
}

// The sweep dimensions and every parameter variable. Returns the dimensions' scales, in order.
std::vector<hdf5::Handle> WriteDimensionsAndVariables(hid_t root, const OutputLayoutSpec& spec,
                                                      DimensionIds* ids) {
  std::vector<hdf5::Handle> scales;
  for (size_t d = 0; d < spec.dimensions.size(); ++d) {
    const OutputDimension& dimension = spec.dimensions[d];
    auto coordinate =
        std::find_if(spec.variables.begin(), spec.variables.end(),
                     [&](const OutputVariable& v) { return v.name == dimension.name; });
    if (coordinate == spec.variables.end()) {
      scales.push_back(CreateBareDimension(root, dimension.name, dimension.size, int(d)));
      continue;
    }
    hdf5::Handle dataset = WriteVariable(root, spec, *coordinate, ids);
    if (coordinate->type != SWEEP_VALUE_STRING) {
      hdf5::MakeDimensionScale(dataset.id(), dimension.name);
      MarkDimension(dataset.id(), int(d));
    }
    WriteAttributes(dataset.id(), spec, coordinate->name);
    scales.push_back(std::move(dataset));
  }
  for (const OutputVariable& v : spec.variables) {
    const bool is_coordinate =
        v.dimension >= 0 && spec.dimensions[size_t(v.dimension)].name == v.name;
    if (is_coordinate) continue;
    hdf5::Handle dataset = WriteVariable(root, spec, v, ids);
    if (v.dimension >= 0) {
      hdf5::AttachDimensionScale(dataset.id(), scales[size_t(v.dimension)].id(), 0);
    }
    WriteAttributes(dataset.id(), spec, v.name);
  }
  return scales;
}

// The parameters that are not a dimension's numeric coordinate (zipped, sampled, constants, and
// the text coordinates of string axes, which CF counts as labels), space separated: the CF
// `coordinates` attribute, with which xarray shows them as coordinates and NCO keeps them in a
// subset.
std::string AuxiliaryCoordinates(const OutputLayoutSpec& spec) {
  std::string names;
  for (const OutputVariable& v : spec.variables) {
    const bool numeric_coordinate = v.dimension >= 0 && v.type != SWEEP_VALUE_STRING &&
                                    spec.dimensions[size_t(v.dimension)].name == v.name;
    if (numeric_coordinate) continue;
    names += (names.empty() ? "" : " ") + v.name;
  }
  return names;
}

void WriteOutputs(hid_t root, const OutputLayoutSpec& spec, const std::vector<hdf5::Handle>& scales,
                  DimensionIds* ids) {
  const std::string coordinates = AuxiliaryCoordinates(spec);
  std::map<std::string, hdf5::Handle> inner_dimensions;  // by name: shared by outputs naming it
  for (size_t o = 0; o < spec.outputs.size(); ++o) {
    const sweep_output_decl& output = spec.outputs[o];
    std::vector<uint64_t> dims;
    for (const OutputDimension& dimension : spec.dimensions) dims.push_back(dimension.size);
    std::vector<hid_t> inner;
    for (int r = 0; r < output.rank; ++r) {
      const uint64_t n = static_cast<uint64_t>(output.shape[r]);
      dims.push_back(n);
      const bool named = o < spec.output_dims.size() && size_t(r) < spec.output_dims[o].size();
      const std::string name = named ? spec.output_dims[o][size_t(r)]
                                     : std::string(output.name) + "_" + std::to_string(r);
      auto it = inner_dimensions.find(name);
      if (it == inner_dimensions.end()) {
        it = inner_dimensions.emplace(name, CreateBareDimension(root, name, n, ids->Next())).first;
      }
      inner.push_back(it->second.id());
    }
    char fill[8];
    NetcdfFillValue(output.dtype, fill);
    hdf5::Handle dataset =
        CreateAllocatedDataset(root, output.name, hdf5::NativeType(output.dtype), dims, fill, true);
    for (size_t d = 0; d < scales.size(); ++d) {
      hdf5::AttachDimensionScale(dataset.id(), scales[d].id(), static_cast<unsigned>(d));
    }
    for (size_t r = 0; r < inner.size(); ++r) {
      hdf5::AttachDimensionScale(dataset.id(), inner[r], static_cast<unsigned>(scales.size() + r));
    }
    if (!coordinates.empty()) hdf5::WriteAttribute(dataset.id(), "coordinates", coordinates);
    WriteAttributes(dataset.id(), spec, output.name);
  }
}

// A string table of /chunks: `rows` rows of `width` chars (netCDF text) over the dimensions
// `row_dimension` and `char_dimension`, all holes but the last row, which holds `full`.
void WriteStringTable(hid_t group, const std::string& name, const std::string& row_dimension,
                      const std::string& char_dimension, uint64_t rows, uint64_t width,
                      const std::string& full, DimensionIds* ids) {
  hdf5::Handle row_scale = CreateBareDimension(group, row_dimension, rows, ids->Next());
  hdf5::Handle char_scale = CreateBareDimension(group, char_dimension, width, ids->Next());
  hdf5::Handle type = hdf5::CharType();
  hdf5::Handle dataset =
      CreateAllocatedDataset(group, name, type.id(), {rows, width}, nullptr, false);
  hdf5::WriteAttribute(dataset.id(), "_Encoding", std::string("utf-8"));
  hdf5::AttachDimensionScale(dataset.id(), row_scale.id(), 0);
  hdf5::AttachDimensionScale(dataset.id(), char_scale.id(), 1);
  std::string last = FitTableText(full, width);
  last.resize(width, '\0');
  hdf5::Handle file_space = hdf5::DatasetSpace(dataset.id());
  hdf5::SelectHyperslab(file_space.id(), {rows - 1, 0}, {1, width});
  hdf5::Handle memory_space = hdf5::SimpleSpace({1, width});
  hdf5::Write(dataset.id(), type.id(), memory_space.id(), file_space.id(), last.data());
}

// One column of /chunks: its CF attributes, in the order written.
struct ChunkColumn {
  const char* name;
  hid_t type;
  VariableAttributes attributes;
};

// The provenance columns of /chunks and their string tables (io/output_file.h).
void WriteProvenanceColumns(hid_t group, hid_t chunk_dimension, uint64_t chunks,
                            DimensionIds* ids) {
  const ChunkColumn columns[] = {
      {"host",
       H5T_NATIVE_UINT16,
       {{"long_name", "host of the chunk's worker: a row of host_names (0: none)"}}},
      {"worker", H5T_NATIVE_INT32, {{"long_name", "index of the chunk's worker in its run"}}},
      // CF time: xarray reads a datetime, NaT where nothing is recorded (the _FillValue 0).
      {"start_time",
       H5T_NATIVE_DOUBLE,
       {{"long_name", "when the chunk's worker began it"},
        {"units", "seconds since 1970-01-01T00:00:00Z"}}},
      // UDUNITS' `B` is the bel: bytes are `byte`.
      {"max_rss",
       H5T_NATIVE_UINT64,
       {{"long_name", "peak resident memory of the chunk's worker at its end"}, {"units", "byte"}}},
      {"failure",
       H5T_NATIVE_UINT16,
       {{"long_name",
         "reason of the chunk's latest failed attempt: a row of failure_reasons (0: none)"}}}};
  const uint64_t zero = 0;
  for (const ChunkColumn& c : columns) {
    const bool time = std::strcmp(c.name, "start_time") == 0;
    hdf5::Handle dataset = CreateAllocatedDataset(group, c.name, c.type, {chunks}, &zero, time);
    hdf5::AttachDimensionScale(dataset.id(), chunk_dimension, 0);
    for (const auto& [key, text] : c.attributes) hdf5::WriteAttribute(dataset.id(), key, text);
  }
  const uint64_t rows = StringTableRows(chunks);
  WriteStringTable(group, "host_names", "host_row", "host_name_char", rows, kHostNameBytes,
                   "(another host: this table was full)", ids);
  WriteStringTable(group, "failure_reasons", "failure_row", "failure_reason_char", rows,
                   kFailureReasonBytes,
                   "(another reason: this table was full; the journal and `sweep export "
                   "--chunks` have it)",
                   ids);
}

// The reuse columns of /chunks and their table (io/output_file.h).
void WriteReuseColumns(hid_t group, hid_t chunk_dimension, uint64_t chunks, DimensionIds* ids) {
  struct Column {
    const char* name;
    hid_t type;
    const char* long_name;
  };
  const Column columns[] = {
      {"reused", H5T_NATIVE_UINT64,
       "points of the chunk copied from an earlier output (--reuse), not computed"},
      {"reused_from", H5T_NATIVE_UINT16,
       "the earlier output they were copied from: a row of reused_files (0: none)"},
      {"reused_first_chunk", H5T_NATIVE_UINT64,
       "the first of that output's chunks they were copied from"},
      {"reused_last_chunk", H5T_NATIVE_UINT64,
       "the last of that output's chunks they were copied from"}};
  for (const Column& c : columns) {
    hdf5::Handle dataset = CreateAllocatedDataset(group, c.name, c.type, {chunks}, nullptr, false);
    hdf5::AttachDimensionScale(dataset.id(), chunk_dimension, 0);
    hdf5::WriteAttribute(dataset.id(), "long_name", std::string(c.long_name));
  }
  WriteStringTable(group, "reused_files", "reused_file_row", "reused_file_char", kReusedFileRows,
                   kReusedFileBytes, "(another output: this table was full; the journal has it)",
                   ids);
}

// The device column of /chunks and its table (io/output_file.h).
void WriteDeviceColumn(hid_t group, hid_t chunk_dimension, uint64_t chunks, DimensionIds* ids) {
  const uint64_t zero = 0;
  hdf5::Handle dataset =
      CreateAllocatedDataset(group, "device", H5T_NATIVE_UINT16, {chunks}, &zero, false);
  hdf5::AttachDimensionScale(dataset.id(), chunk_dimension, 0);
  hdf5::WriteAttribute(dataset.id(), "long_name",
                       std::string("GPU of the chunk's worker: a row of device_names (0: none)"));
  WriteStringTable(group, "device_names", "device_row", "device_name_char", StringTableRows(chunks),
                   kHostNameBytes, "(another device: this table was full)", ids);
}

void WriteChunkTable(hid_t file, const OutputLayoutSpec& spec, DimensionIds* ids) {
  hdf5::Handle group = hdf5::CreateGroup(file, "chunks");
  hdf5::Handle dimension = CreateBareDimension(group.id(), "chunk", spec.chunks, ids->Next());
  UnsignedColumnWriter firsts(group.id(), "first", spec.chunks);
  UnsignedColumnWriter counts(group.id(), "count", spec.chunks);
  for (uint64_t block = 0; block < spec.chunks; block += kBlock) {
    uint64_t n = std::min(kBlock, spec.chunks - block);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t first = (block + i) * spec.chunk_size;
      firsts.Put(i, first);
      counts.Put(i, std::min(spec.chunk_size, spec.points - first));
    }
    firsts.Flush(block, n);
    counts.Flush(block, n);
  }
  hdf5::AttachDimensionScale(firsts.dataset(), dimension.id(), 0);
  hdf5::AttachDimensionScale(counts.dataset(), dimension.id(), 0);
  hdf5::WriteAttribute(firsts.dataset(), "long_name", std::string("first point of the chunk"));
  hdf5::WriteAttribute(counts.dataset(), "long_name", std::string("points in the chunk"));
  const uint64_t zero = 0;  // all-zero bytes: a zero of every type below, and what holes read as
  const ChunkColumn columns[] = {
      {"status", H5T_NATIVE_UINT8, {{"long_name", "state of the chunk"}}},
      {"attempts",
       H5T_NATIVE_UINT32,
       {{"long_name", "attempts the chunk took to be done or to fail for good"}}},
      {"seconds",
       H5T_NATIVE_DOUBLE,
       {{"long_name", "wall time of the chunk's worker on it"}, {"units", "s"}}},
      {"checksum", H5T_NATIVE_UINT64, {{"long_name", "checksum of the chunk's rows (0: none)"}}}};
  for (const ChunkColumn& c : columns) {
    hdf5::Handle dataset =
        CreateAllocatedDataset(group.id(), c.name, c.type, {spec.chunks}, &zero, false);
    hdf5::AttachDimensionScale(dataset.id(), dimension.id(), 0);
    for (const auto& [key, text] : c.attributes) hdf5::WriteAttribute(dataset.id(), key, text);
    if (std::strcmp(c.name, "status") == 0) {
      // CF flags: ChunkStatus's values and their names.
      const uint8_t values[] = {0, 1, 2};
      hdf5::WriteAttribute(dataset.id(), "flag_values", H5T_NATIVE_UINT8, values, 3);
      hdf5::WriteAttribute(dataset.id(), "flag_meanings", std::string("pending done failed"));
    }
  }
  WriteProvenanceColumns(group.id(), dimension.id(), spec.chunks, ids);
  WriteReuseColumns(group.id(), dimension.id(), spec.chunks, ids);
  WriteDeviceColumn(group.id(), dimension.id(), spec.chunks, ids);
}

void CheckSpec(const OutputLayoutSpec& spec) {
  uint64_t product = 1;
  for (const OutputDimension& dimension : spec.dimensions) product *= dimension.size;
  bool ok = spec.points > 0 && product == spec.points && spec.chunk_size > 0 &&
            spec.chunks == (spec.points + spec.chunk_size - 1) / spec.chunk_size;
  if (!ok) throw Error("output layout: dimensions, points and chunks do not agree");
}

// Removes the temporary file unless the rename went through.
class TemporaryFile {
 public:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  ~TemporaryFile() {
    if (!kept_) unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  void Keep() { kept_ = true; }

 private:
  std::string path_;
  bool kept_ = false;
};

// Writes the whole file at `path` (which it truncates). THROWS: Error.
void WriteOutputFile(const std::string& path, const OutputLayoutSpec& spec) {
  hdf5::ErrorSilencer quiet;
  hdf5::Handle file = hdf5::CreateFile(path);
  hid_t root = file.id();
  hdf5::WriteAttribute(root, "Conventions", std::string("CF-1.8"));
  hdf5::WriteAttribute(root, "title", spec.title);
  hdf5::WriteAttribute(root, "history", spec.history);
  hdf5::WriteAttribute(root, "source", std::string("sweep ") + SWEEP_VERSION);
  hdf5::WriteAttribute(root, "format", std::string(kOutputFormat));
  hdf5::WriteAttribute(root, "sweep_version", std::string(SWEEP_VERSION));
  hdf5::WriteAttribute(root, "config", spec.config_text);
  hdf5::WriteAttribute(root, "config_sha256", Sha256Hex(spec.config_text));
  hdf5::WriteAttribute(root, "config_file", spec.config_file);
  hdf5::WriteAttribute(root, "fingerprint", spec.fingerprint);
  hdf5::WriteAttribute(root, "seed", spec.seed);
  hdf5::WriteAttribute(root, "kernel", spec.kernel_name);
  hdf5::WriteAttribute(root, "kernel_abi", uint32_t{SWEEP_KERNEL_ABI});
  hdf5::WriteAttribute(root, "points", spec.points);
  hdf5::WriteAttribute(root, "chunks", spec.chunks);
  hdf5::WriteAttribute(root, "chunk_size", spec.chunk_size);
  std::vector<std::string> dimension_names, output_names;
  for (const OutputDimension& d : spec.dimensions) dimension_names.push_back(d.name);
  for (const sweep_output_decl& o : spec.outputs) output_names.push_back(o.name);
  hdf5::WriteAttribute(root, "sweep_dims", dimension_names);
  hdf5::WriteAttribute(root, "outputs", output_names);
  DimensionIds ids(spec.dimensions.size());
  std::vector<hdf5::Handle> scales = WriteDimensionsAndVariables(root, spec, &ids);
  WriteOutputs(root, spec, scales, &ids);
  WriteChunkTable(root, spec, &ids);
  scales.clear();
  file.Close();
}

// The bytes the filesystem holding `path` can still give an unprivileged writer, plus what
// `reclaimed` already occupies there (a temporary about to become the file, the file replaced).
void CheckFits(const std::string& path, uint64_t file_bytes, uint64_t reclaimed) {
  std::string folder = path.substr(0, path.find_last_of('/') + 1);
  if (folder.empty()) folder = ".";
  struct statvfs fs {};
  if (statvfs(folder.c_str(), &fs) != 0) return;  // not knowable: let the writes tell
  const uint64_t available = uint64_t(fs.f_bavail) * uint64_t(fs.f_frsize) + reclaimed;
  if (file_bytes > available) {
    throw Error(path + ": the output needs " + FormatBytes(file_bytes) +
                    " but its filesystem has " + FormatBytes(available) + " free",
                ExitCode::kUsage);
  }
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? uint64_t(st.st_blocks) * 512 : 0;
}

// Reserves the file's blocks (fallocate: unwritten extents, O(1) per extent, read as zeros), so
// that no later write into a hole fails for want of space, and a file that cannot fit is refused
// now. Filesystems without fallocate (some network ones) get the free-space estimate instead.
// THROWS: Error (exit code 2) when it cannot fit; Error when the file cannot be opened.
void ReserveSpace(const std::string& path, const std::string& temporary) {
  const int fd = open(temporary.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw Error(temporary + ": " + std::strerror(errno));
  struct stat st {};
  fstat(fd, &st);
  const int status = fallocate(fd, 0, 0, st.st_size);
  const int error = errno;
  close(fd);
  if (status == 0) return;
  if (error == ENOSPC || error == EFBIG || error == EDQUOT) {
    const uint64_t reclaimed = AllocatedBytes(path);
    struct statvfs fs {};
    const uint64_t available =
        (statvfs(temporary.c_str(), &fs) == 0 ? uint64_t(fs.f_bavail) * fs.f_frsize : 0) +
        reclaimed;
    throw Error(path + ": the output needs " + FormatBytes(uint64_t(st.st_size)) +
                    " but its filesystem has " + FormatBytes(available) + " free",
                ExitCode::kUsage);
  }
  CheckFits(path, uint64_t(st.st_size), AllocatedBytes(temporary) + AllocatedBytes(path));
}

uint64_t SizeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw Error(path + ": " + std::strerror(errno));
  return uint64_t(st.st_size);
}

}  // namespace

uint64_t OutputFileBytes(const OutputLayoutSpec& spec) {
  CheckSpec(spec);
  // A temporary file, not a memfd: HDF5 resolves the path it creates, and a memfd has none. Its
  // large datasets are holes, so it costs what its metadata costs. /dev/shm first: tmpfs takes
  // sparse files of any size, where ext4 refuses those over 16 TiB (a plan may be that large).
  const char* folder = std::getenv("TMPDIR");
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
                     : folder && *folder           ? folder
                                                   : "/tmp";
  std::string pattern = base + "/sweep-plan-XXXXXX";
  const int fd = mkstemp(pattern.data());
  if (fd < 0) throw Error(pattern + ": " + std::strerror(errno));
  close(fd);
  TemporaryFile temporary(pattern);
  WriteOutputFile(temporary.path(), spec);
  return SizeOf(temporary.path());
}

void CheckOutputFits(const std::string& path, const OutputLayoutSpec& spec) {
  // The file's size as `sweep plan` says it (its coordinates too, not the results alone), so the
  // refusal and the plan name one number.
  CheckFits(path, OutputFileBytes(spec), AllocatedBytes(path));
}

void CreateOutputFile(const std::string& path, const OutputLayoutSpec& spec) {
  CheckSpec(spec);
  CheckOutputFits(path, spec);
  TemporaryFile temporary(path + ".tmp-" + std::to_string(getpid()));
  try {
    WriteOutputFile(temporary.path(), spec);
  } catch (const Error& e) {
    throw Error(path + ": cannot create the output file: " + e.what(), e.code());
  }
  ReserveSpace(path, temporary.path());
  // Complete before it becomes visible: a killed driver never leaves half a file at `path`.
  // No fsync: the data is hundreds of MB for large sweeps, and a machine that crashes in the
  // seconds after creation leaves a file that `sweep run --force` recreates.
  if (rename(temporary.path().c_str(), path.c_str()) != 0) {
    throw Error(path + ": cannot rename '" + temporary.path() +
                "' into place: " + std::strerror(errno));
  }
  temporary.Keep();
}

namespace {

[[noreturn]] void Damaged(const std::string& path, const std::string& what) {
  throw Error(path + ": damaged sweep output file: " + what);
}

std::string Text(uint64_t n) { return std::to_string(n); }

RawRegion RegionOf(const std::string& path, hid_t loc, const std::string& name, hid_t type,
                   uint64_t elements, size_t element_size) {
  if (!hdf5::LinkExists(loc, name)) Damaged(path, "no dataset " + name);
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(elements, uint64_t(element_size), &bytes))
    Damaged(path, name + " would hold more than 2^64 bytes");
  hdf5::Handle dataset = hdf5::OpenDataset(loc, name);
  hdf5::Handle stored = hdf5::DatasetType(dataset.id());
  if (!hdf5::TypesEqual(stored.id(), type)) {
    Damaged(path, name + " is " + hdf5::DescribeType(stored.id()) + ", expected " +
                      hdf5::DescribeType(type));
  }
  std::optional<uint64_t> offset = hdf5::DatasetOffset(dataset.id());
  if (!offset || hdf5::StorageSize(dataset.id()) != bytes) {
    Damaged(path, name + " is not contiguous storage of " + std::to_string(elements) + " elements");
  }
  return {*offset, bytes};
}

// The attributes every reader sizes its tables by agree: at least one point, chunks of at least
// one point, and as many chunks as they make (driver/plan.h).
void CheckCounts(const std::string& path, const OutputLayout& layout) {
  if (layout.points == 0) Damaged(path, "attribute points is 0");
  if (layout.chunk_size == 0) Damaged(path, "attribute chunk_size is 0");
  const uint64_t chunks = (layout.points - 1) / layout.chunk_size + 1;
  if (layout.chunks != chunks) {
    Damaged(path, "attributes points (" + Text(layout.points) + "), chunk_size (" +
                      Text(layout.chunk_size) + ") and chunks (" + Text(layout.chunks) +
                      ") disagree: " + Text(layout.points) + " points in chunks of " +
                      Text(layout.chunk_size) + " make " + Text(chunks) +
                      (chunks == 1 ? " chunk" : " chunks"));
  }
}

// /chunks/first and /chunks/count hold what chunk_size and points make, chunk by chunk (read a
// block at a time: O(chunks) time, O(1) memory).
void CheckChunkColumns(const std::string& path, hid_t chunks, const OutputLayout& layout) {
  const char* names[] = {"first", "count"};
  hdf5::Handle datasets[2];
  for (int i = 0; i < 2; ++i) {
    RegionOf(path, chunks, names[i], H5T_NATIVE_UINT64, layout.chunks, 8);
    datasets[i] = hdf5::OpenDataset(chunks, names[i]);
  }
  std::vector<uint64_t> block(std::min(kBlock, layout.chunks));
  for (int i = 0; i < 2; ++i) {
    for (uint64_t first = 0; first < layout.chunks; first += kBlock) {
      const uint64_t n = std::min(kBlock, layout.chunks - first);
      hdf5::Handle file_space = hdf5::DatasetSpace(datasets[i].id());
      hdf5::SelectHyperslab(file_space.id(), {first}, {n});
      hdf5::Handle memory_space = hdf5::SimpleSpace({n});
      hdf5::Read(datasets[i].id(), H5T_NATIVE_UINT64, memory_space.id(), file_space.id(),
                 block.data());
      for (uint64_t k = 0; k < n; ++k) {
        const uint64_t c = first + k;
        const uint64_t start = c * layout.chunk_size;
        const uint64_t expected =
            i == 0 ? start : std::min(layout.chunk_size, layout.points - start);
        if (block[k] != expected) {
          Damaged(path, "/chunks/" + std::string(names[i]) + " of chunk " + Text(c) + " is " +
                            Text(block[k]) + ", but attributes points (" + Text(layout.points) +
                            ") and chunk_size (" + Text(layout.chunk_size) + ") make it " +
                            Text(expected));
        }
      }
    }
  }
}

void ReadDimensions(const std::string& path, hid_t root, const std::vector<std::string>& names,
                    OutputLayout* layout) {
  uint64_t product = 1;
  bool overflow = false;
  std::string sizes;
  for (const std::string& name : names) {
    if (!hdf5::LinkExists(root, name)) Damaged(path, "no dimension /" + name);
    for (const OutputAxis& seen : layout->dimensions)
      if (seen.name == name) Damaged(path, "attribute sweep_dims names /" + name + " twice");
    hdf5::Handle dataset = hdf5::OpenDataset(root, name);
    hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
    std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
    // A text coordinate (format sweep/3) is [n, <name>_strlen].
    if (dims.size() != 1 && dims.size() != 2) Damaged(path, "/" + name + " is not a dimension");
    layout->dimensions.push_back({name, dims[0]});
    overflow = overflow || __builtin_mul_overflow(product, dims[0], &product);
    sizes += (sizes.empty() ? "" : " x ") + Text(dims[0]);
  }
  if (overflow || product != layout->points) {
    Damaged(path, "the sizes of the dimensions attribute sweep_dims names (" +
                      (sizes.empty() ? std::string("none") : sizes) + ") do not multiply to " +
                      "attribute points (" + Text(layout->points) + ")");
  }
}

// The units and long_name of a variable, if it has them.
void ReadLabels(hid_t dataset, const std::string& name, OutputLayout* layout) {
  VariableAttributes labels;
  for (const char* key : {"units", "long_name"}) {
    if (!hdf5::AttributeExists(dataset, key)) continue;
    try {
      labels.emplace_back(key, hdf5::ReadStringAttribute(dataset, key));
    } catch (const Error&) {  // not text: not a label sweep wrote
    }
  }
  if (!labels.empty()) layout->attributes[name] = std::move(labels);
}

void ReadOutput(const std::string& path, hid_t root, const std::string& name,
                OutputLayout* layout) {
  if (!hdf5::LinkExists(root, name)) Damaged(path, "no output /" + name);
  OutputDatasetInfo info;
  info.name = name;
  hdf5::Handle dataset = hdf5::OpenDataset(root, name);
  hdf5::Handle type = hdf5::DatasetType(dataset.id());
  std::optional<int> dtype = hdf5::SweepDtypeOf(type.id());
  if (!dtype || !hdf5::TypesEqual(type.id(), hdf5::NativeType(*dtype))) {
    Damaged(path, "/" + name + " is " + hdf5::DescribeType(type.id()));
  }
  info.dtype = *dtype;
  hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
  std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
  const size_t k = layout->dimensions.size();
  bool spans = dims.size() >= k;
  for (size_t d = 0; spans && d < k; ++d) spans = dims[d] == layout->dimensions[d].size;
  if (!spans) Damaged(path, "/" + name + " does not span the sweep's dimensions");
  for (const OutputDatasetInfo& seen : layout->results)
    if (seen.name == name) Damaged(path, "attribute outputs names /" + name + " twice");
  uint64_t elements = 1;
  bool overflow = false;
  for (size_t d = k; d < dims.size(); ++d) {
    info.point_shape.push_back(static_cast<int64_t>(dims[d]));
    overflow = overflow || __builtin_mul_overflow(elements, dims[d], &elements);
  }
  const size_t element_size = hdf5::TypeSize(hdf5::NativeType(info.dtype));
  uint64_t all = 0;
  if (overflow || __builtin_mul_overflow(elements, uint64_t(element_size), &info.bytes_per_point) ||
      __builtin_mul_overflow(layout->points, elements, &all))
    Damaged(path, "/" + name + " would hold more than 2^64 bytes");
  info.region = RegionOf(path, root, name, hdf5::NativeType(info.dtype), all, element_size);
  if (hdf5::AttributeExists(dataset.id(), "_FillValue")) {
    hdf5::ReadAttribute(dataset.id(), "_FillValue", hdf5::NativeType(info.dtype), info.fill);
  } else {
    MissingValue(info.dtype, info.fill);
  }
  ReadLabels(dataset.id(), name, layout);
  layout->results.push_back(std::move(info));
}

// The one-dimensional numeric variables: coordinates and parameters, not outputs nor dimensions
// without variables.
void ReadVariables(const std::string& path, hid_t root, const std::vector<std::string>& outputs,
                   OutputLayout* layout) {
  for (const std::string& name : hdf5::LinkNames(root)) {
    if (std::find(outputs.begin(), outputs.end(), name) != outputs.end()) continue;
    if (name == "chunks") continue;
    hdf5::Handle dataset = hdf5::OpenDataset(root, name);
    if (hdf5::AttributeExists(dataset.id(), "NAME") &&
        hdf5::ReadStringAttribute(dataset.id(), "NAME").rfind(kDimensionWithoutVariable, 0) == 0) {
      continue;
    }
    ReadLabels(dataset.id(), name, layout);
    hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
    std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
    hdf5::Handle type = hdf5::DatasetType(dataset.id());
    int dtype = 0;
    if (hdf5::TypesEqual(type.id(), H5T_NATIVE_DOUBLE)) dtype = SWEEP_FLOAT64;
    if (hdf5::TypesEqual(type.id(), H5T_NATIVE_INT64)) dtype = SWEEP_INT64;
    if (dims.size() != 1 || dtype == 0) continue;  // strings and scalars: never written again
    for (const OutputAxis& axis : layout->dimensions) {
      if (axis.name == name && axis.size != dims[0])
        Damaged(path, "/" + name + " holds " + Text(dims[0]) + " values for a dimension of " +
                          Text(axis.size));
    }
    OutputVariableInfo info{name, dtype, dims[0], {}};
    info.region = RegionOf(path, root, name, type.id(), dims[0], 8);
    layout->variables.push_back(std::move(info));
  }
}

StringTableInfo StringTableOf(const std::string& path, hid_t chunks, const std::string& name,
                              uint64_t rows, uint64_t width) {
  if (!hdf5::LinkExists(chunks, name)) Damaged(path, "no dataset " + name);
  StringTableInfo table;
  {
    hdf5::Handle dataset = hdf5::OpenDataset(chunks, name);
    hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
    const std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
    if (dims.size() != 2 || dims[0] != rows || dims[1] != width)
      Damaged(path, "/chunks/" + name + " is not a table of " + Text(rows) + " rows of " +
                        Text(width) + " bytes");
    table.rows = dims[0];
    table.width = dims[1];
  }
  hdf5::Handle type = hdf5::CharType();
  table.region = RegionOf(path, chunks, name, type.id(), table.rows * table.width, 1);
  return table;
}

// The provenance columns and their tables, when the file has them (io/output_file.h).
void ReadProvenance(const std::string& path, hid_t chunks, OutputLayout* layout) {
  if (!hdf5::LinkExists(chunks, "host")) return;  // made before provenance
  const uint64_t n = layout->chunks;
  layout->chunk_host = RegionOf(path, chunks, "host", H5T_NATIVE_UINT16, n, 2);
  layout->chunk_worker = RegionOf(path, chunks, "worker", H5T_NATIVE_INT32, n, 4);
  layout->chunk_start_time = RegionOf(path, chunks, "start_time", H5T_NATIVE_DOUBLE, n, 8);
  layout->chunk_max_rss = RegionOf(path, chunks, "max_rss", H5T_NATIVE_UINT64, n, 8);
  layout->chunk_failure = RegionOf(path, chunks, "failure", H5T_NATIVE_UINT16, n, 2);
  layout->host_names =
      StringTableOf(path, chunks, "host_names", StringTableRows(n), kHostNameBytes);
  layout->failure_reasons =
      StringTableOf(path, chunks, "failure_reasons", StringTableRows(n), kFailureReasonBytes);
}

// The reuse columns and their table, when the file has them (io/output_file.h).
void ReadReuseProvenance(const std::string& path, hid_t chunks, OutputLayout* layout) {
  if (!hdf5::LinkExists(chunks, "reused")) return;  // made before reuse was recorded
  const uint64_t n = layout->chunks;
  layout->chunk_reused = RegionOf(path, chunks, "reused", H5T_NATIVE_UINT64, n, 8);
  layout->chunk_reused_from = RegionOf(path, chunks, "reused_from", H5T_NATIVE_UINT16, n, 2);
  layout->chunk_reused_first =
      RegionOf(path, chunks, "reused_first_chunk", H5T_NATIVE_UINT64, n, 8);
  layout->chunk_reused_last = RegionOf(path, chunks, "reused_last_chunk", H5T_NATIVE_UINT64, n, 8);
  layout->reused_files =
      StringTableOf(path, chunks, "reused_files", kReusedFileRows, kReusedFileBytes);
}

// The device column and its table, when the file has them (io/output_file.h).
void ReadDeviceProvenance(const std::string& path, hid_t chunks, OutputLayout* layout) {
  if (!hdf5::LinkExists(chunks, "device")) return;  // made before the device column
  layout->chunk_device = RegionOf(path, chunks, "device", H5T_NATIVE_UINT16, layout->chunks, 2);
  layout->device_names =
      StringTableOf(path, chunks, "device_names", StringTableRows(layout->chunks), kHostNameBytes);
}

}  // namespace

OutputLayout ReadOutputLayout(const std::string& path) {
  hdf5::ErrorSilencer quiet;
  struct stat file_info;
  if (stat(path.c_str(), &file_info) != 0) {
    throw Error(path + ": " + std::strerror(errno), ExitCode::kUsage);
  }
  if (!hdf5::IsHdf5(path)) {
    throw Error(path + ": not a sweep output file (not an HDF5 file)", ExitCode::kUsage);
  }
  hdf5::Handle file = hdf5::OpenFileReadOnly(path);
  hid_t root = file.id();
  OutputLayout layout;
  if (!hdf5::AttributeExists(root, "format")) {
    throw Error(path + ": not a sweep output file (no 'format' attribute)", ExitCode::kUsage);
  }
  layout.format = hdf5::ReadStringAttribute(root, "format");
  if (layout.format == "sweep/1") {
    throw Error(path +
                    ": written by an earlier sweep in output format 'sweep/1'; this sweep "
                    "reads '" +
                    std::string(kOutputFormat) +
                    "': run the sweep again (`sweep run CONFIG --force`) for a current file",
                ExitCode::kUsage);
  }
  if (layout.format != kOutputFormat && layout.format != kPreviousOutputFormat) {
    throw Error(path + ": output format '" + layout.format + "' differs from this sweep's '" +
                    kOutputFormat + "' (and '" + kPreviousOutputFormat + "', which it reads too)",
                ExitCode::kUsage);
  }
  std::vector<std::string> dimension_names, output_names;
  try {
    layout.sweep_version = hdf5::ReadStringAttribute(root, "sweep_version");
    layout.config_text = hdf5::ReadStringAttribute(root, "config");
    layout.config_sha256 = hdf5::ReadStringAttribute(root, "config_sha256");
    layout.config_file = hdf5::ReadStringAttribute(root, "config_file");
    layout.fingerprint = hdf5::ReadStringAttribute(root, "fingerprint");
    layout.kernel_name = hdf5::ReadStringAttribute(root, "kernel");
    layout.kernel_abi = static_cast<uint32_t>(hdf5::ReadUnsignedAttribute(root, "kernel_abi"));
    layout.seed = hdf5::ReadUnsignedAttribute(root, "seed");
    layout.points = hdf5::ReadUnsignedAttribute(root, "points");
    layout.chunks = hdf5::ReadUnsignedAttribute(root, "chunks");
    layout.chunk_size = hdf5::ReadUnsignedAttribute(root, "chunk_size");
    dimension_names = hdf5::ReadStringsAttribute(root, "sweep_dims");
    output_names = hdf5::ReadStringsAttribute(root, "outputs");
  } catch (const Error& e) {
    Damaged(path, e.what());
  }
  CheckCounts(path, layout);
  ReadDimensions(path, root, dimension_names, &layout);
  for (const std::string& name : output_names) ReadOutput(path, root, name, &layout);
  ReadVariables(path, root, output_names, &layout);
  if (!hdf5::LinkExists(root, "chunks")) Damaged(path, "no group /chunks");
  hdf5::Handle chunks = hdf5::OpenGroup(root, "chunks");
  layout.chunk_status = RegionOf(path, chunks.id(), "status", H5T_NATIVE_UINT8, layout.chunks, 1);
  layout.chunk_attempts =
      RegionOf(path, chunks.id(), "attempts", H5T_NATIVE_UINT32, layout.chunks, 4);
  layout.chunk_seconds =
      RegionOf(path, chunks.id(), "seconds", H5T_NATIVE_DOUBLE, layout.chunks, 8);
  layout.chunk_checksum =
      RegionOf(path, chunks.id(), "checksum", H5T_NATIVE_UINT64, layout.chunks, 8);
  CheckChunkColumns(path, chunks.id(), layout);
  ReadProvenance(path, chunks.id(), &layout);
  ReadReuseProvenance(path, chunks.id(), &layout);
  ReadDeviceProvenance(path, chunks.id(), &layout);
  return layout;
}

OutputFile OutputFile::Open(const std::string& path, Access access) {
  return OutputFile(path, ReadOutputLayout(path), access);
}

}  // namespace sweep
