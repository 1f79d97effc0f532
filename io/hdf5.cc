#include "io/hdf5.h"

#include <hdf5_hl.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "io/error.h"
#include "kernels/kernel.h"

namespace sweep {
namespace hdf5 {
namespace {

herr_t AppendError(unsigned /*n*/, const H5E_error2_t* error, void* data) {
  std::string entry = std::string(error->func_name ? error->func_name : "?") +
                      "(): " + (error->desc ? error->desc : "");
  for (char& c : entry) {
    if (c == '\n') c = ' ';
  }
  static_cast<std::vector<std::string>*>(data)->push_back(entry);
  return 0;
}

// HDF5 keeps the stack of the last failed call; it is only valid until the next call. The
// message keeps the API call and the innermost cause: the frames between rarely help a user,
// and sweep's errors are one line.
[[noreturn]] void Fail(const std::string& what) {
  std::vector<std::string> stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, AppendError, &stack);
  H5Eclear2(H5E_DEFAULT);
  std::string message = what;
  if (!stack.empty()) message += ": " + stack.front();
  if (stack.size() > 1) message += "; " + stack.back();
  throw Error(message);
}

template <typename T>
T Check(T status, const std::string& what) {
  if (status < 0) Fail(what);
  return status;
}

Handle Own(hid_t id, Handle::CloseFunction close, const std::string& what) {
  return Handle(Check(id, what), close);
}

}  // namespace

ErrorSilencer::ErrorSilencer() {
  H5Eget_auto2(H5E_DEFAULT, &saved_func_, &saved_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

ErrorSilencer::~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, saved_func_, saved_data_); }

Handle::Handle(Handle&& other) noexcept
    : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (id_ >= 0 && close_) close_(id_);
    id_ = std::exchange(other.id_, H5I_INVALID_HID);
    close_ = other.close_;
  }
  return *this;
}

// A destructor cannot report; paths that care call Close() first.
Handle::~Handle() {
  if (id_ >= 0 && close_) close_(id_);
}

void Handle::Close() {
  hid_t id = std::exchange(id_, H5I_INVALID_HID);
  if (id >= 0 && close_) Check(close_(id), "closing an HDF5 object");
}

// --- files ---------------------------------------------------------------------------------

bool IsHdf5(const std::string& path) {
  htri_t is = H5Fis_hdf5(path.c_str());
  if (is < 0) H5Eclear2(H5E_DEFAULT);
  return is > 0;
}

Handle CreateFile(const std::string& path) {
  Handle fcpl = Own(H5Pcreate(H5P_FILE_CREATE), H5Pclose, "H5Pcreate");
  Check(H5Pset_link_creation_order(fcpl.id(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order");
  Check(H5Pset_obj_track_times(fcpl.id(), false), "H5Pset_obj_track_times");
  // The root's attributes in dense storage (a heap), where a text attribute may exceed the 64 KiB
  // of an object header message: a config of up to 16 MiB is stored as netCDF text (NC_CHAR).
  // HDF5 1.10 puts an attribute that large in the heap only in a version 2 object header, which
  // tracking the attributes' creation order asks for (as netCDF-4 tracks it in its own files);
  // without it, H5Acreate2 fails: "object header message is too large".
  Check(H5Pset_attr_creation_order(fcpl.id(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_attr_creation_order");
  Check(H5Pset_attr_phase_change(fcpl.id(), 0, 0), "H5Pset_attr_phase_change");
  return Own(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.id(), H5P_DEFAULT), H5Fclose,
             "cannot create HDF5 file '" + path + "'");
}

Handle OpenFileReadOnly(const std::string& path) {
  return Own(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose,
             "cannot open HDF5 file '" + path + "'");
}

// --- groups and links ----------------------------------------------------------------------

Handle CreateGroup(hid_t loc, const std::string& name) {
  Handle gcpl = Own(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "H5Pcreate");
  Check(H5Pset_link_creation_order(gcpl.id(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order");
  Check(H5Pset_obj_track_times(gcpl.id(), false), "H5Pset_obj_track_times");
  return Own(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT), H5Gclose,
             "cannot create group '" + name + "'");
}

Handle OpenGroup(hid_t loc, const std::string& name) {
  return Own(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), H5Gclose,
             "cannot open group '" + name + "'");
}

bool LinkExists(hid_t loc, const std::string& name) {
  htri_t exists = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  if (exists < 0) H5Eclear2(H5E_DEFAULT);  // a missing intermediate group: not there either
  return exists > 0;
}

namespace {
herr_t AppendName(hid_t /*group*/, const char* name, const H5L_info_t* /*info*/, void* data) {
  static_cast<std::vector<std::string>*>(data)->push_back(name);
  return 0;
}
}  // namespace

std::vector<std::string> LinkNames(hid_t group) {
  std::vector<std::string> names;
  if (H5Literate(group, H5_INDEX_CRT_ORDER, H5_ITER_INC, nullptr, AppendName, &names) >= 0) {
    return names;
  }
  // Groups written by other tools often do not track creation order.
  H5Eclear2(H5E_DEFAULT);
  names.clear();
  Check(H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, nullptr, AppendName, &names),
        "cannot list a group");
  return names;
}

// --- types ---------------------------------------------------------------------------------

hid_t NativeType(int sweep_dtype) {
  switch (sweep_dtype) {
    case SWEEP_FLOAT64:
      return H5T_NATIVE_DOUBLE;
    case SWEEP_FLOAT32:
      return H5T_NATIVE_FLOAT;
    case SWEEP_INT64:
      return H5T_NATIVE_INT64;
    case SWEEP_INT32:
      return H5T_NATIVE_INT32;
    case SWEEP_UINT8:
      return H5T_NATIVE_UINT8;
  }
  throw Error("unknown sweep dtype " + std::to_string(sweep_dtype));
}

bool TypesEqual(hid_t a, hid_t b) { return Check(H5Tequal(a, b), "H5Tequal") > 0; }

size_t TypeSize(hid_t type) {
  size_t size = H5Tget_size(type);
  if (size == 0) Fail("H5Tget_size");
  return size;
}

std::optional<int> SweepDtypeOf(hid_t type) {
  const std::pair<hid_t, int> known[] = {
      {H5T_IEEE_F64LE, SWEEP_FLOAT64}, {H5T_IEEE_F64BE, SWEEP_FLOAT64},
      {H5T_IEEE_F32LE, SWEEP_FLOAT32}, {H5T_IEEE_F32BE, SWEEP_FLOAT32},
      {H5T_STD_I64LE, SWEEP_INT64},    {H5T_STD_I64BE, SWEEP_INT64},
      {H5T_STD_I32LE, SWEEP_INT32},    {H5T_STD_I32BE, SWEEP_INT32},
      {H5T_STD_U8LE, SWEEP_UINT8},     {H5T_STD_U8BE, SWEEP_UINT8}};
  for (const auto& [stored, dtype] : known) {
    if (TypesEqual(type, stored)) return dtype;
  }
  return std::nullopt;
}

Handle VariableStringType() {
  Handle type = Own(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
  Check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size");
  Check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

Handle CharType() {
  Handle type = Own(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
  Check(H5Tset_strpad(type.id(), H5T_STR_NULLTERM), "H5Tset_strpad");
  return type;
}

Handle DatasetType(hid_t dataset) { return Own(H5Dget_type(dataset), H5Tclose, "H5Dget_type"); }

std::string DescribeType(hid_t type) {
  H5T_class_t type_class = Check(H5Tget_class(type), "H5Tget_class");
  std::string bits = std::to_string(8 * TypeSize(type));
  std::string order = H5Tget_order(type) == H5T_ORDER_BE ? " big-endian" : "";
  switch (type_class) {
    case H5T_FLOAT:
      return "float" + bits + order;
    case H5T_INTEGER:
      return (H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + bits + order;
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "variable-length";
    default:
      return "HDF5 type class " + std::to_string(static_cast<int>(type_class));
  }
}

// --- dataspaces ----------------------------------------------------------------------------

Handle SimpleSpace(const std::vector<uint64_t>& dims) {
  if (dims.empty()) return Own(H5Screate(H5S_SCALAR), H5Sclose, "H5Screate");
  std::vector<hsize_t> h(dims.begin(), dims.end());
  return Own(H5Screate_simple(static_cast<int>(h.size()), h.data(), nullptr), H5Sclose,
             "H5Screate_simple");
}

Handle DatasetSpace(hid_t dataset) { return Own(H5Dget_space(dataset), H5Sclose, "H5Dget_space"); }

std::vector<uint64_t> SpaceDims(hid_t space) {
  int rank = Check(H5Sget_simple_extent_ndims(space), "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> dims(rank);
  Check(H5Sget_simple_extent_dims(space, dims.data(), nullptr), "H5Sget_simple_extent_dims");
  return std::vector<uint64_t>(dims.begin(), dims.end());
}

void SelectHyperslab(hid_t space, const std::vector<uint64_t>& start,
                     const std::vector<uint64_t>& count) {
  std::vector<hsize_t> h_start(start.begin(), start.end()), h_count(count.begin(), count.end());
  Check(
      H5Sselect_hyperslab(space, H5S_SELECT_SET, h_start.data(), nullptr, h_count.data(), nullptr),
      "H5Sselect_hyperslab");
}

// --- property lists ------------------------------------------------------------------------

Handle CreateDatasetPlist() {
  Handle dcpl = Own(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "H5Pcreate");
  Check(H5Pset_obj_track_times(dcpl.id(), false), "H5Pset_obj_track_times");
  return dcpl;
}

void SetContiguous(hid_t dcpl) { Check(H5Pset_layout(dcpl, H5D_CONTIGUOUS), "H5Pset_layout"); }

void SetChunked(hid_t dcpl, const std::vector<uint64_t>& chunk_dims) {
  std::vector<hsize_t> h(chunk_dims.begin(), chunk_dims.end());
  Check(H5Pset_chunk(dcpl, static_cast<int>(h.size()), h.data()), "H5Pset_chunk");
}

void SetDeflate(hid_t dcpl, unsigned level) {
  Check(H5Pset_deflate(dcpl, level), "H5Pset_deflate");
}

void SetEarlyUnfilled(hid_t dcpl, hid_t mem_type, const void* fill) {
  Check(H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY), "H5Pset_alloc_time");
  Check(H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  if (fill) Check(H5Pset_fill_value(dcpl, mem_type, fill), "H5Pset_fill_value");
}

Handle DatasetCreatePlist(hid_t dataset) {
  return Own(H5Dget_create_plist(dataset), H5Pclose, "H5Dget_create_plist");
}

H5D_layout_t Layout(hid_t dcpl) { return Check(H5Pget_layout(dcpl), "H5Pget_layout"); }

int ExternalFileCount(hid_t dcpl) {
  return Check(H5Pget_external_count(dcpl), "H5Pget_external_count");
}

// --- datasets ------------------------------------------------------------------------------

Handle CreateDataset(hid_t loc, const std::string& name, hid_t file_type, hid_t space, hid_t dcpl) {
  return Own(H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
             H5Dclose, "cannot create dataset '" + name + "'");
}

Handle OpenDataset(hid_t loc, const std::string& name) {
  return Own(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), H5Dclose,
             "cannot open dataset '" + name + "'");
}

std::optional<uint64_t> DatasetOffset(hid_t dataset) {
  haddr_t offset = H5Dget_offset(dataset);
  if (offset == HADDR_UNDEF) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  return offset;
}

uint64_t StorageSize(hid_t dataset) { return H5Dget_storage_size(dataset); }

void Write(hid_t dataset, hid_t mem_type, hid_t mem_space, hid_t file_space, const void* buf) {
  Check(H5Dwrite(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, buf), "H5Dwrite");
}

void Read(hid_t dataset, hid_t mem_type, hid_t mem_space, hid_t file_space, void* buf) {
  Check(H5Dread(dataset, mem_type, mem_space, file_space, H5P_DEFAULT, buf), "H5Dread");
}

// --- attributes ----------------------------------------------------------------------------

bool AttributeExists(hid_t loc, const std::string& name) {
  return Check(H5Aexists(loc, name.c_str()), "H5Aexists") > 0;
}

namespace {
void WriteScalarAttribute(hid_t loc, const std::string& name, hid_t type, const void* value) {
  Handle space = SimpleSpace({});
  Handle attribute = Own(H5Acreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose, "cannot create attribute '" + name + "'");
  Check(H5Awrite(attribute.id(), type, value), "cannot write attribute '" + name + "'");
}

Handle OpenAttribute(hid_t loc, const std::string& name) {
  return Own(H5Aopen(loc, name.c_str(), H5P_DEFAULT), H5Aclose,
             "cannot open attribute '" + name + "'");
}
}  // namespace

void WriteAttribute(hid_t loc, const std::string& name, const std::string& value) {
  Handle type = Own(H5Tcopy(H5T_C_S1), H5Tclose, "H5Tcopy");
  Check(H5Tset_size(type.id(), std::max<size_t>(value.size(), 1)), "H5Tset_size");
  Check(H5Tset_strpad(type.id(), H5T_STR_NULLTERM), "H5Tset_strpad");
  Check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset");
  const std::string bytes = value.empty() ? std::string(1, '\0') : value;
  WriteScalarAttribute(loc, name, type.id(), bytes.data());
}

void WriteAttribute(hid_t loc, const std::string& name, uint64_t value) {
  WriteScalarAttribute(loc, name, H5T_NATIVE_UINT64, &value);
}

void WriteAttribute(hid_t loc, const std::string& name, uint32_t value) {
  WriteScalarAttribute(loc, name, H5T_NATIVE_UINT32, &value);
}

void WriteAttribute(hid_t loc, const std::string& name, hid_t type, const void* value) {
  WriteScalarAttribute(loc, name, type, value);
}

void WriteAttribute(hid_t loc, const std::string& name, hid_t type, const void* values,
                    size_t count) {
  Handle space = SimpleSpace({count});
  Handle attribute = Own(H5Acreate2(loc, name.c_str(), type, space.id(), H5P_DEFAULT, H5P_DEFAULT),
                         H5Aclose, "cannot create attribute '" + name + "'");
  Check(H5Awrite(attribute.id(), type, values), "cannot write attribute '" + name + "'");
}

void WriteAttribute(hid_t loc, const std::string& name, const std::vector<std::string>& values) {
  Handle type = VariableStringType();
  // No values (a sweep of one point has no dimension): a null dataspace, as netCDF-4 writes an
  // empty attribute; H5Awrite refuses a buffer of none.
  Handle space = values.empty() ? Own(H5Screate(H5S_NULL), H5Sclose, "H5Screate")
                                : SimpleSpace({values.size()});
  if (values.empty()) {
    Own(H5Acreate2(loc, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
        "cannot create attribute '" + name + "'");
    return;
  }
  std::vector<const char*> texts;
  for (const std::string& v : values) texts.push_back(v.c_str());
  Handle attribute =
      Own(H5Acreate2(loc, name.c_str(), type.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
          "cannot create attribute '" + name + "'");
  Check(H5Awrite(attribute.id(), type.id(), texts.data()), "cannot write attribute '" + name + "'");
}

std::vector<std::string> ReadStringsAttribute(hid_t loc, const std::string& name) {
  Handle attribute = OpenAttribute(loc, name);
  Handle type = Own(H5Aget_type(attribute.id()), H5Tclose, "H5Aget_type");
  Handle space = Own(H5Aget_space(attribute.id()), H5Sclose, "H5Aget_space");
  if (Check(H5Tget_class(type.id()), "H5Tget_class") != H5T_STRING ||
      Check(H5Tis_variable_str(type.id()), "H5Tis_variable_str") <= 0) {
    throw Error("attribute '" + name + "' is not variable-length strings");
  }
  const hssize_t n =
      Check(H5Sget_simple_extent_npoints(space.id()), "H5Sget_simple_extent_npoints");
  if (n == 0) return {};
  std::vector<char*> texts(size_t(n), nullptr);
  Handle mem_type = VariableStringType();
  Check(H5Aread(attribute.id(), mem_type.id(), texts.data()),
        "cannot read attribute '" + name + "'");
  std::vector<std::string> values;
  for (char* text : texts) {
    values.emplace_back(text ? text : "");
    H5free_memory(text);
  }
  return values;
}

std::string ReadStringAttribute(hid_t loc, const std::string& name) {
  Handle attribute = OpenAttribute(loc, name);
  Handle type = Own(H5Aget_type(attribute.id()), H5Tclose, "H5Aget_type");
  if (Check(H5Tget_class(type.id()), "H5Tget_class") != H5T_STRING) {
    throw Error("attribute '" + name + "' is not a string");
  }
  if (Check(H5Tis_variable_str(type.id()), "H5Tis_variable_str") > 0) {
    Handle mem_type = VariableStringType();
    char* text = nullptr;
    Check(H5Aread(attribute.id(), mem_type.id(), &text), "cannot read attribute '" + name + "'");
    std::string value = text ? text : "";
    H5free_memory(text);
    return value;
  }
  size_t size = TypeSize(type.id());
  std::string value(size, '\0');
  Check(H5Aread(attribute.id(), type.id(), value.data()), "cannot read attribute '" + name + "'");
  value.resize(value.find_last_not_of('\0') + 1);  // npos + 1 == 0: all padding
  return value;
}

uint64_t ReadUnsignedAttribute(hid_t loc, const std::string& name) {
  Handle attribute = OpenAttribute(loc, name);
  Handle type = Own(H5Aget_type(attribute.id()), H5Tclose, "H5Aget_type");
  if (Check(H5Tget_class(type.id()), "H5Tget_class") != H5T_INTEGER) {
    throw Error("attribute '" + name + "' is not an integer");
  }
  uint64_t value = 0;
  Check(H5Aread(attribute.id(), H5T_NATIVE_UINT64, &value), "cannot read attribute '" + name + "'");
  return value;
}

void ReadAttribute(hid_t loc, const std::string& name, hid_t mem_type, void* value) {
  Handle attribute = OpenAttribute(loc, name);
  Handle type = Own(H5Aget_type(attribute.id()), H5Tclose, "H5Aget_type");
  const H5T_class_t type_class = Check(H5Tget_class(type.id()), "H5Tget_class");
  if (type_class != H5T_INTEGER && type_class != H5T_FLOAT) {
    throw Error("attribute '" + name + "' is not a number");
  }
  Check(H5Aread(attribute.id(), mem_type, value), "cannot read attribute '" + name + "'");
}

// --- dimension scales ----------------------------------------------------------------------

void MakeDimensionScale(hid_t dataset, const std::string& dimension_name) {
  Check(H5DSset_scale(dataset, dimension_name.c_str()), "H5DSset_scale");
}

void AttachDimensionScale(hid_t dataset, hid_t scale, unsigned index) {
  Check(H5DSattach_scale(dataset, scale, index), "H5DSattach_scale");
}

}  // namespace hdf5
}  // namespace sweep
