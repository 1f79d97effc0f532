#include "io/output_file.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "io/error.h"
#include "io/hdf5.h"
#include "io/sha256.h"

namespace sweep {
namespace {

// Values written per H5Dwrite: large enough that 10^7 points take a few hundred calls, small
// enough that the block buffers stay well under a MiB per column.
constexpr uint64_t kBlock = uint64_t{1} << 16;

std::string FormatValue(const sweep_value& v) {
  if (v.type == SWEEP_VALUE_STRING) return v.string ? v.string : "";
  if (v.type == SWEEP_VALUE_INTEGER) return std::to_string(v.integer);
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v.number);
  return text;
}

// How a 1-D column is stored.
struct ColumnType {
  enum Kind { kFloat64, kInt64, kUint64, kString };
  Kind kind = kFloat64;
  size_t string_size = 1;  // kString: bytes per value; HDF5 has no zero-size strings

  static ColumnType Of(int sweep_value_type) {
    if (sweep_value_type == SWEEP_VALUE_STRING) return {kString};
    if (sweep_value_type == SWEEP_VALUE_INTEGER) return {kInt64};
    return {kFloat64};
  }
  void Widen(const sweep_value& v) {
    if (kind == kString) string_size = std::max(string_size, FormatValue(v).size());
  }
  size_t ElementSize() const { return kind == kString ? string_size : 8; }
};

// A new contiguous 1-D dataset written block by block: Put() the values of one block, then
// Flush() it with one hyperslab write.
class ColumnWriter {
 public:
  ColumnWriter(hid_t loc, const std::string& name, uint64_t size, ColumnType column)
      : column_(column) {
    if (column.kind == ColumnType::kString)
      string_type_ = hdf5::FixedStringType(column.string_size);
    hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
    hdf5::SetContiguous(dcpl.id());
    hdf5::Handle space = hdf5::SimpleSpace({size});
    dataset_ = hdf5::CreateDataset(loc, name, Type(), space.id(), dcpl.id());
    buffer_.resize(std::min(size, kBlock) * column.ElementSize());
  }

  hid_t dataset() const { return dataset_.id(); }

  void Put(uint64_t index_in_block, const sweep_value& v) {
    char* slot = buffer_.data() + index_in_block * column_.ElementSize();
    switch (column_.kind) {
      case ColumnType::kString: {
        std::string text = FormatValue(v);
        std::memset(slot, 0, column_.string_size);
        std::memcpy(slot, text.data(), std::min(text.size(), column_.string_size));
        break;
      }
      case ColumnType::kInt64: {
        int64_t value = v.type == SWEEP_VALUE_INTEGER ? v.integer : std::llround(v.number);
        std::memcpy(slot, &value, 8);
        break;
      }
      case ColumnType::kUint64:
      case ColumnType::kFloat64:
        std::memcpy(slot, &v.number, 8);
        break;
    }
  }

  void PutUnsigned(uint64_t index_in_block, uint64_t value) {
    std::memcpy(buffer_.data() + index_in_block * 8, &value, 8);
  }

  void Flush(uint64_t first, uint64_t count) {
    hdf5::Handle file_space = hdf5::DatasetSpace(dataset_.id());
    hdf5::SelectHyperslab(file_space.id(), {first}, {count});
    hdf5::Handle memory_space = hdf5::SimpleSpace({count});
    hdf5::Write(dataset_.id(), Type(), memory_space.id(), file_space.id(), buffer_.data());
  }

 private:
  hid_t Type() const {
    switch (column_.kind) {
      case ColumnType::kString:
        return string_type_.id();
      case ColumnType::kInt64:
        return H5T_NATIVE_INT64;
      case ColumnType::kUint64:
        return H5T_NATIVE_UINT64;
      case ColumnType::kFloat64:
        break;
    }
    return H5T_NATIVE_DOUBLE;
  }

  ColumnType column_;
  hdf5::Handle string_type_;
  hdf5::Handle dataset_;
  std::vector<char> buffer_;
};

void WriteParameters(hid_t file, const OutputLayoutSpec& spec) {
  hdf5::Handle group = hdf5::CreateGroup(file, "params");
  size_t n = spec.parameters.size();
  if (n == 0) return;
  std::vector<sweep_value> values(n);
  std::vector<ColumnType> columns;
  for (const OutputParameter& parameter : spec.parameters) {
    columns.push_back(ColumnType::Of(parameter.type));
  }
  // Fixed-size strings need the longest value first: one extra pass, only when strings exist.
  if (std::any_of(columns.begin(), columns.end(),
                  [](const ColumnType& c) { return c.kind == ColumnType::kString; })) {
    for (uint64_t p = 0; p < spec.points; ++p) {
      spec.resolve(p, values.data());
      for (size_t j = 0; j < n; ++j) columns[j].Widen(values[j]);
    }
  }

  std::vector<ColumnWriter> writers;
  writers.reserve(n);
  for (size_t j = 0; j < n; ++j) {
    writers.emplace_back(group.id(), spec.parameters[j].name, spec.points, columns[j]);
  }
  for (uint64_t first = 0; first < spec.points; first += kBlock) {
    uint64_t count = std::min(kBlock, spec.points - first);
    for (uint64_t i = 0; i < count; ++i) {
      spec.resolve(first + i, values.data());
      for (size_t j = 0; j < n; ++j) writers[j].Put(i, values[j]);
    }
    for (ColumnWriter& writer : writers) writer.Flush(first, count);
  }
}

// Returns the scales, open, in dimension order.
std::vector<hdf5::Handle> WriteAxes(hid_t file, const OutputLayoutSpec& spec) {
  hdf5::Handle group = hdf5::CreateGroup(file, "axes");
  std::vector<hdf5::Handle> scales;
  for (const OutputDimension& dimension : spec.dimensions) {
    ColumnType column{ColumnType::kInt64};
    for (uint64_t k = 0; k < dimension.size; ++k) {
      int type = dimension.coordinate(k).type;
      if (type == SWEEP_VALUE_STRING) column.kind = ColumnType::kString;
      if (type == SWEEP_VALUE_NUMBER && column.kind == ColumnType::kInt64) {
        column.kind = ColumnType::kFloat64;
      }
    }
    if (column.kind == ColumnType::kString) {
      for (uint64_t k = 0; k < dimension.size; ++k) column.Widen(dimension.coordinate(k));
    }
    ColumnWriter writer(group.id(), dimension.name, dimension.size, column);
    for (uint64_t first = 0; first < dimension.size; first += kBlock) {
      uint64_t count = std::min(kBlock, dimension.size - first);
      for (uint64_t i = 0; i < count; ++i) writer.Put(i, dimension.coordinate(first + i));
      writer.Flush(first, count);
    }
    hdf5::MakeDimensionScale(writer.dataset(), dimension.name);
    scales.push_back(hdf5::OpenDataset(group.id(), dimension.name));
  }
  return scales;
}

// A contiguous dataset allocated now, at its final offset, and filled with *fill (of `type`).
hdf5::Handle CreateFilledDataset(hid_t loc, const std::string& name, hid_t type,
                                 const std::vector<uint64_t>& dims, const void* fill) {
  hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
  hdf5::SetContiguous(dcpl.id());
  hdf5::SetEarlyFill(dcpl.id(), type, fill);
  hdf5::Handle space = hdf5::SimpleSpace(dims);
  return hdf5::CreateDataset(loc, name, type, space.id(), dcpl.id());
}

void WriteResults(hid_t file, const OutputLayoutSpec& spec,
                  const std::vector<hdf5::Handle>& scales) {
  hdf5::Handle group = hdf5::CreateGroup(file, "results");
  for (const sweep_output_decl& output : spec.outputs) {
    std::vector<uint64_t> dims;
    for (const OutputDimension& dimension : spec.dimensions) dims.push_back(dimension.size);
    for (int r = 0; r < output.rank; ++r) dims.push_back(static_cast<uint64_t>(output.shape[r]));
    // "Not computed yet" must not look like a result: NaN where the dtype has one.
    double nan64 = std::numeric_limits<double>::quiet_NaN();
    float nan32 = std::numeric_limits<float>::quiet_NaN();
    int64_t zero = 0;
    const void* fill = output.dtype == SWEEP_FLOAT64   ? static_cast<const void*>(&nan64)
                       : output.dtype == SWEEP_FLOAT32 ? static_cast<const void*>(&nan32)
                                                       : static_cast<const void*>(&zero);
    hdf5::Handle dataset =
        CreateFilledDataset(group.id(), output.name, hdf5::NativeType(output.dtype), dims, fill);
    for (size_t d = 0; d < scales.size(); ++d) {
      hdf5::AttachDimensionScale(dataset.id(), scales[d].id(), static_cast<unsigned>(d));
    }
  }
}

void WriteChunkTable(hid_t file, const OutputLayoutSpec& spec) {
  hdf5::Handle group = hdf5::CreateGroup(file, "chunks");
  ColumnWriter firsts(group.id(), "first", spec.chunks, {ColumnType::kUint64});
  ColumnWriter counts(group.id(), "count", spec.chunks, {ColumnType::kUint64});
  for (uint64_t block = 0; block < spec.chunks; block += kBlock) {
    uint64_t n = std::min(kBlock, spec.chunks - block);
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t first = (block + i) * spec.chunk_size;
      firsts.PutUnsigned(i, first);
      counts.PutUnsigned(i, std::min(spec.chunk_size, spec.points - first));
    }
    firsts.Flush(block, n);
    counts.Flush(block, n);
  }
  uint64_t zero = 0;  // all-zero bytes: a zero of every type below
  CreateFilledDataset(group.id(), "status", H5T_NATIVE_UINT8, {spec.chunks}, &zero);
  CreateFilledDataset(group.id(), "attempts", H5T_NATIVE_UINT32, {spec.chunks}, &zero);
  CreateFilledDataset(group.id(), "seconds", H5T_NATIVE_DOUBLE, {spec.chunks}, &zero);
  CreateFilledDataset(group.id(), "checksum", H5T_NATIVE_UINT64, {spec.chunks}, &zero);
}

void CheckSpec(const OutputLayoutSpec& spec) {
  uint64_t product = 1;
  for (const OutputDimension& dimension : spec.dimensions) product *= dimension.size;
  bool ok = spec.points > 0 && product == spec.points && spec.chunk_size > 0 &&
            spec.chunks == (spec.points + spec.chunk_size - 1) / spec.chunk_size &&
            (spec.parameters.empty() || spec.resolve);
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

}  // namespace

void CreateOutputFile(const std::string& path, const OutputLayoutSpec& spec) {
  CheckSpec(spec);
  hdf5::ErrorSilencer quiet;
  TemporaryFile temporary(path + ".tmp-" + std::to_string(getpid()));
  try {
    hdf5::Handle file = hdf5::CreateFile(temporary.path());
    hid_t root = file.id();
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
    WriteParameters(root, spec);
    std::vector<hdf5::Handle> scales = WriteAxes(root, spec);
    WriteResults(root, spec, scales);
    WriteChunkTable(root, spec);
    scales.clear();
    file.Close();
  } catch (const Error& e) {
    throw Error(path + ": cannot create the output file: " + e.what(), e.code());
  }
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

RawRegion RegionOf(const std::string& path, hid_t loc, const std::string& name, hid_t type,
                   uint64_t elements, size_t element_size) {
  if (!hdf5::LinkExists(loc, name)) Damaged(path, "no dataset " + name);
  hdf5::Handle dataset = hdf5::OpenDataset(loc, name);
  hdf5::Handle stored = hdf5::DatasetType(dataset.id());
  if (!hdf5::TypesEqual(stored.id(), type)) {
    Damaged(path, name + " is " + hdf5::DescribeType(stored.id()) + ", expected " +
                      hdf5::DescribeType(type));
  }
  std::optional<uint64_t> offset = hdf5::DatasetOffset(dataset.id());
  if (!offset || hdf5::StorageSize(dataset.id()) != elements * element_size) {
    Damaged(path, name + " is not contiguous storage of " + std::to_string(elements) + " elements");
  }
  return {*offset, elements * element_size};
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
  if (layout.format != kOutputFormat) {
    throw Error(path + ": output format '" + layout.format + "' differs from this sweep's '" +
                    kOutputFormat + "'",
                ExitCode::kUsage);
  }
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
  } catch (const Error& e) {
    Damaged(path, e.what());
  }

  for (const char* group : {"axes", "results", "chunks"}) {
    if (!hdf5::LinkExists(root, group)) Damaged(path, std::string("no group /") + group);
  }
  hdf5::Handle axes = hdf5::OpenGroup(root, "axes");
  std::vector<uint64_t> sweep_dims;
  for (const std::string& name : hdf5::LinkNames(axes.id())) {
    hdf5::Handle dataset = hdf5::OpenDataset(axes.id(), name);
    hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
    std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
    if (dims.size() != 1) Damaged(path, "/axes/" + name + " is not one-dimensional");
    layout.dimensions.push_back({name, dims[0]});
    sweep_dims.push_back(dims[0]);
  }
  uint64_t product = 1;
  for (uint64_t n : sweep_dims) product *= n;
  if (product != layout.points) Damaged(path, "the /axes sizes do not multiply to its points");

  hdf5::Handle results = hdf5::OpenGroup(root, "results");
  for (const std::string& name : hdf5::LinkNames(results.id())) {
    OutputDatasetInfo info;
    info.name = name;
    hdf5::Handle dataset = hdf5::OpenDataset(results.id(), name);
    hdf5::Handle type = hdf5::DatasetType(dataset.id());
    std::optional<int> dtype = hdf5::SweepDtypeOf(type.id());
    if (!dtype || !hdf5::TypesEqual(type.id(), hdf5::NativeType(*dtype))) {
      Damaged(path, "/results/" + name + " is " + hdf5::DescribeType(type.id()));
    }
    info.dtype = *dtype;
    hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
    std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
    if (dims.size() < sweep_dims.size() ||
        !std::equal(sweep_dims.begin(), sweep_dims.end(), dims.begin())) {
      Damaged(path, "/results/" + name + " does not span the sweep's dimensions");
    }
    uint64_t elements = 1;
    for (size_t d = sweep_dims.size(); d < dims.size(); ++d) {
      info.point_shape.push_back(static_cast<int64_t>(dims[d]));
      elements *= dims[d];
    }
    size_t element_size = hdf5::TypeSize(hdf5::NativeType(info.dtype));
    info.bytes_per_point = elements * element_size;
    info.region = RegionOf(path, results.id(), name, hdf5::NativeType(info.dtype),
                           layout.points * elements, element_size);
    layout.results.push_back(std::move(info));
  }

  hdf5::Handle chunks = hdf5::OpenGroup(root, "chunks");
  layout.chunk_status = RegionOf(path, chunks.id(), "status", H5T_NATIVE_UINT8, layout.chunks, 1);
  layout.chunk_attempts =
      RegionOf(path, chunks.id(), "attempts", H5T_NATIVE_UINT32, layout.chunks, 4);
  layout.chunk_seconds =
      RegionOf(path, chunks.id(), "seconds", H5T_NATIVE_DOUBLE, layout.chunks, 8);
  layout.chunk_checksum =
      RegionOf(path, chunks.id(), "checksum", H5T_NATIVE_UINT64, layout.chunks, 8);
  return layout;
}

OutputFile OutputFile::Open(const std::string& path, Access access) {
  return OutputFile(path, ReadOutputLayout(path), access);
}

}  // namespace sweep
