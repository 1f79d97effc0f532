// A thin C++ layer over the HDF5 C API, used by the output file and the inputs.
//
// Each HDF5 C call sweep makes is wrapped exactly once, here (HighFive style): a negative return
// code becomes a sweep::Error whose message is `<what>: <HDF5's error stack: the API call; the
// innermost cause>`, and every identifier the library hands out is owned by an RAII `Handle` that
// closes it with the matching H5?close. Callers hold an `ErrorSilencer` for the duration of their
// work, so HDF5 never prints its stack to stderr behind sweep's one-line error.
//
// Errors are ExitCode::kFailure unless the wrapper's comment says otherwise; callers that know
// better (a user's input file that is not HDF5) catch and rethrow with their own context.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sweep {
namespace hdf5 {

// Turns off HDF5's automatic error printing for its lifetime, then restores what was there.
// Scoped, not global, so a host program embedding sweep_core keeps its own HDF5 settings.
class ErrorSilencer {
 public:
  ErrorSilencer();
  ~ErrorSilencer();
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t saved_func_ = nullptr;
  void* saved_data_ = nullptr;
};

// An owned HDF5 identifier. Move-only; closes on destruction. id() is H5I_INVALID_HID when empty.
class Handle {
 public:
  using CloseFunction = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, CloseFunction close) : id_(id), close_(close) {}
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle();

  hid_t id() const { return id_; }
  // Closes now and reports failure (a file's close is where buffered writes can fail).
  // THROWS: Error.
  void Close();

 private:
  hid_t id_ = H5I_INVALID_HID;
  CloseFunction close_ = nullptr;
};

// --- files ---------------------------------------------------------------------------------
bool IsHdf5(const std::string& path);  // false also when the file cannot be read
// A new file (truncating any old one); its root group tracks link creation order.
Handle CreateFile(const std::string& path);
Handle OpenFileReadOnly(const std::string& path);

// --- groups and links ----------------------------------------------------------------------
// A group that tracks link creation order and carries no timestamps.
Handle CreateGroup(hid_t loc, const std::string& name);
Handle OpenGroup(hid_t loc, const std::string& name);
bool LinkExists(hid_t loc, const std::string& name);
// Names of a group's links, in creation order (name order if the group does not track it).
std::vector<std::string> LinkNames(hid_t group);

// --- types ---------------------------------------------------------------------------------
// The native HDF5 type of a sweep_dtype (owned by the library: do not close).
hid_t NativeType(int sweep_dtype);
// The sweep_dtype a stored type converts to without loss of meaning (float64, float32, int64,
// int32, uint8 of either byte order), or nullopt.
std::optional<int> SweepDtypeOf(hid_t type);
// Variable-length UTF-8 strings.
Handle VariableStringType();
// netCDF's char, as netCDF-4 stores it: one-byte NUL-terminated strings; an array of them whose
// last dimension is a string's length is netCDF text.
Handle CharType();
Handle DatasetType(hid_t dataset);
bool TypesEqual(hid_t a, hid_t b);
size_t TypeSize(hid_t type);
std::string DescribeType(hid_t type);  // "float64 big-endian", "string", "compound" ...

// --- dataspaces ----------------------------------------------------------------------------
Handle SimpleSpace(const std::vector<uint64_t>& dims);  // empty dims: a scalar space
Handle DatasetSpace(hid_t dataset);
std::vector<uint64_t> SpaceDims(hid_t space);
void SelectHyperslab(hid_t space, const std::vector<uint64_t>& start,
                     const std::vector<uint64_t>& count);

// --- property lists ------------------------------------------------------------------------
// A dataset creation list with object timestamps off, so equal specs give equal bytes.
Handle CreateDatasetPlist();
void SetContiguous(hid_t dcpl);
void SetChunked(hid_t dcpl, const std::vector<uint64_t>& chunk_dims);
void SetDeflate(hid_t dcpl, unsigned level);
// Storage allocated when the dataset is created, at its final offset, but never written by
// HDF5: its bytes are the file's holes (zeros) until someone writes them. *fill (of mem_type),
// unless null, is recorded as the dataset's fill value for readers. Creation is then O(1) in the
// data's size.
void SetEarlyUnfilled(hid_t dcpl, hid_t mem_type, const void* fill);
Handle DatasetCreatePlist(hid_t dataset);
H5D_layout_t Layout(hid_t dcpl);
int ExternalFileCount(hid_t dcpl);

// --- datasets ------------------------------------------------------------------------------
Handle CreateDataset(hid_t loc, const std::string& name, hid_t file_type, hid_t space, hid_t dcpl);
Handle OpenDataset(hid_t loc, const std::string& name);
// The dataset's contiguous storage: absolute byte offset in the file (the files sweep reads and
// writes have no user block) or nullopt when it has none (not contiguous, not yet allocated).
std::optional<uint64_t> DatasetOffset(hid_t dataset);
uint64_t StorageSize(hid_t dataset);
// Writes/reads buf (of mem_type) to/from the selection file_space (H5S_ALL for everything).
void Write(hid_t dataset, hid_t mem_type, hid_t mem_space, hid_t file_space, const void* buf);
void Read(hid_t dataset, hid_t mem_type, hid_t mem_space, hid_t file_space, void* buf);

// --- attributes ----------------------------------------------------------------------------
bool AttributeExists(hid_t loc, const std::string& name);
// A text attribute as netCDF writes NC_CHAR: a fixed-length string of the text's bytes (UTF-8,
// no terminating NUL; an empty text is one NUL). CF and NCO expect text attributes of this type:
// NCO ignores a `coordinates` attribute of variable-length strings (NC_STRING).
void WriteAttribute(hid_t loc, const std::string& name, const std::string& value);
void WriteAttribute(hid_t loc, const std::string& name, uint64_t value);
void WriteAttribute(hid_t loc, const std::string& name, uint32_t value);
// A scalar attribute of `type` (a native type) holding *value.
void WriteAttribute(hid_t loc, const std::string& name, hid_t type, const void* value);
// A one-dimensional attribute of `count` values of `type` (a native type) at `values`.
void WriteAttribute(hid_t loc, const std::string& name, hid_t type, const void* values,
                    size_t count);
// A one-dimensional attribute of variable-length UTF-8 strings; none: an empty attribute (a null
// dataspace, as netCDF-4 writes one), which ReadStringsAttribute reads as none.
void WriteAttribute(hid_t loc, const std::string& name, const std::vector<std::string>& values);
// THROWS: Error when absent or not of the asked kind (a string of either storage; an integer).
std::string ReadStringAttribute(hid_t loc, const std::string& name);
uint64_t ReadUnsignedAttribute(hid_t loc, const std::string& name);
// A scalar numeric attribute converted to `mem_type` (a native type) into *value.
// THROWS: Error when absent or not a number.
void ReadAttribute(hid_t loc, const std::string& name, hid_t mem_type, void* value);
// A string attribute, scalar or one-dimensional, as its elements.
std::vector<std::string> ReadStringsAttribute(hid_t loc, const std::string& name);

// --- dimension scales (HDF5 high-level library) ---------------------------------------------
void MakeDimensionScale(hid_t dataset, const std::string& dimension_name);
void AttachDimensionScale(hid_t dataset, hid_t scale, unsigned index);

}  // namespace hdf5
}  // namespace sweep
