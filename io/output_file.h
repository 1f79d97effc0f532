// OutputFile: the HDF5 file a sweep writes its results into, and the only code that knows where
// its bytes are.
//
// CreateOutputFile() writes the whole file before any worker starts: every attribute, every
// variable, and every dataset that will ever be updated, already allocated at its final size and
// offset. After that nobody changes HDF5 metadata again: workers and the driver write raw bytes at
// the fixed offsets the layout reports, through an OutputFile (WriteRows, FillRows,
// WriteVariable, WriteChunkRow). So the file is a valid HDF5 file at every instant, readable live
// by h5py, xarray and netCDF tools, and a killed run cannot corrupt it. Object timestamps are off,
// so the same spec gives the same bytes.
//
// Creation costs O(1) in the number of points: the large datasets are allocated but not written
// (their bytes are holes until written, reserved with fallocate so that no write into them can
// fail for want of space), so the first chunk is handed out at once. The driver
// then writes each chunk's "not computed" values and its share of the large coordinates before
// handing it out, and a background pass does the same for the chunks not handed out yet
// (driver/output_filler.h).
//
// Two translation units implement this header: output_file.cc (creating the file and reading its
// layout, with HDF5) and output_file_bytes.cc (raw reads and writes at the layout's offsets,
// without HDF5), so that a spawned worker, which is given the layout, links no HDF5 at all.
//
// Format "sweep/3", a netCDF-4 file that follows CF-1.8 (bump kOutputFormat on any change below;
// ReadOutputLayout() reads this and "sweep/2" (below), and refuses others, "sweep/1" with a
// message saying how to get a current file):
//
//   /                   attributes (scalars unless said; text is netCDF's NC_CHAR, a fixed-length
//                         UTF-8 string, which NCO needs to honour `coordinates`; the two lists of
//                         names are 1-D variable-length strings, NC_STRING, netCDF's only attribute
//                         of several strings):
//                         Conventions "CF-1.8"; title (the sweep's name); history ("<UTC time>:
//                         sweep run <config file>"); source ("sweep <version>");
//                         format "sweep/3"; sweep_dims (1-D strings: the sweep dimensions in C
//                         order; empty, a null dataspace, for a sweep of one point, whose
//                         outputs and parameters are all scalars); outputs (1-D strings: the
//                         kernel's outputs in order); sweep_version; config (YAML text);
//                         config_sha256 (64 lowercase hex digits of config); config_file (absolute:
//                         relative paths in the config resolve against its folder); fingerprint
//                         (JSON: what the results depend on besides the config: kernel, options,
//                         inputs); seed (uint64, the master seed); kernel (name); kernel_abi
//                         (uint32); points, chunks, chunk_size (uint64)
//   /<dim>              [n] one netCDF dimension (an HDF5 dimension scale named <dim>) per sweep
//                         dimension, in C order: one per grid axis, named after its parameter and
//                         holding its values (the coordinate variable); one per zip group, named
//                         by its members joined with "_" (a dimension without a variable: its
//                         members are coordinates on it); `sample` for a sampled sweep and
//                         `replicate` when repeat > 1, holding 0..n-1 (int64). A numeric
//                         coordinate has no _FillValue, and its values are unique (the config
//                         reader refuses a value twice in a `values:` list)
//   /<param>            every other parameter: zipped ones [zip dim], sampled ones [sample],
//                         constants scalar. Values: float64, int64 (ranges, integer lists and
//                         constants) or text (`values:` lists of strings and string constants)
//   /<param> (text)     a string parameter is netCDF text, which NCO and CDO read: a char array
//                         [n, <param>_strlen] ([<param>_strlen] for a constant), a value a row,
//                         UTF-8, NUL-padded to the longest value's bytes; _Encoding "utf-8";
//                         <param>_strlen a dimension without a variable. A grid axis of strings
//                         is its own dimension's scale, its dimensions named by netCDF-4's
//                         _Netcdf4Coordinates ids; xarray decodes it to a string index. It is
//                         listed in its outputs' `coordinates` (CF calls it a label)
//   Every dimension's dataset has netCDF-4's _Netcdf4Dimid: the sweep dimensions 0..k-1 in C
//   order, the others numbered on as they are made.
//   Variables of parameters and outputs have the units, long_name, standard_name and comment
//   their kernel declares (kernels/kernel.h) or the config's `attributes:` gives, as text.
//   /<output>           [d1, ..., dk, i1, ...] each kernel output in the kernel's order, its dtype,
//                         over the sweep dimensions then its own: dimensions without variables,
//                         named as the config's `dims:` names them (a command kernel's), else
//                         <output>_0, <output>_1...; a name given to several outputs is one
//                         dimension, shared (of one size), so xarray lines their values up
//                         instead of crossing them; it holds its _FillValue, netCDF's default
//                         fill of its dtype (kernels/dtype.h: 9.969209968386869e+36 for floats),
//                         until its point is done: NCO and CDO take it for missing, where they
//                         would average a NaN, and xarray and netCDF4-python read it as missing;
//                         attribute coordinates (CF: the /<param> variables that are not a
//                         dimension's numeric coordinate, space separated, so xarray shows them
//                         as coordinates and NCO keeps them in a subset)
//   /chunks/chunk       [chunks] a dimension without a variable, for the datasets below
//   /chunks/first       [chunks] uint64   first point of chunk c  (c * chunk_size)
//   /chunks/count       [chunks] uint64   its number of points
//   /chunks/status      [chunks] uint8    0 pending, 1 done, 2 failed (CF flags: flag_values
//                                         0, 1, 2; flag_meanings "pending done failed")
//   /chunks/attempts    [chunks] uint32   tries it took to be done or to fail for good; 0 before
//   /chunks/seconds     [chunks] float64  its worker's wall time on it (done); 0 otherwise;
//                                         units "s"
//   /chunks/checksum    [chunks] uint64   of its rows (done, driver/checksum.h); 0 otherwise
//   Provenance: where, when and in how much memory each chunk was computed, and why it failed.
//   Each /chunks column has a long_name attribute saying what it is in a line.
//   /chunks/host        [chunks] uint16   its worker's host, as a row of host_names: the host of
//                                         its done or final failed attempt; 0 (the empty row)
//                                         while not recorded
//   /chunks/worker      [chunks] int32    that worker's index in its run, the journal's `worker`
//                                         (an MPI run numbers all ranks' workers together);
//                                         meaningful where host > 0
//   /chunks/start_time  [chunks] float64  when its worker began it (done), Unix seconds on that
//                                         worker's clock; units "seconds since
//                                         1970-01-01T00:00:00Z" and _FillValue 0, so xarray
//                                         reads a time, NaT where none
//   /chunks/max_rss     [chunks] uint64   its worker's peak resident memory at its end (done),
//                                         bytes: the high-water mark of the worker process (and
//                                         of the programs it ran) since it started, which
//                                         driver/worker.h details; 0 where not recorded; units
//                                         "byte" (UDUNITS' "B" is the bel)
//   /chunks/device      [chunks] uint16   its worker's GPU (execution.gpus, driver/gpus.h), as a
//                                         row of device_names: the device of its done or final
//                                         failed attempt; 0 (the empty row) when it had none or
//                                         nothing is recorded
//   /chunks/failure     [chunks] uint16   the reason its latest failed attempt gave, as a row of
//                                         failure_reasons, kept when a later attempt is done;
//                                         0 (the empty row) if it never failed
//   /chunks/host_names       [host_row, host_name_char] char: netCDF text, a string a row
//                                         (UTF-8, NUL-padded, cut to kHostNameBytes at a
//                                         character boundary; attribute _Encoding "utf-8")
//   /chunks/failure_reasons  [failure_row, failure_reason_char] char: likewise, cut to
//                                         kFailureReasonBytes (the journal keeps the whole text)
//   /chunks/device_names     [device_row, device_name_char] char: likewise, cut to
//                                         kHostNameBytes (a device is named as
//                                         CUDA_VISIBLE_DEVICES names it: "0", "GPU-8c3f...")
//     Each table has StringTableRows(chunks) rows: row 0 empty (none), then the strings in the
//     order they were first recorded, each once, and a last row, written at creation, that every
//     string that found the table full points to. Writers at once (shards) add a string under
//     an exclusive lock (an open-file-description lock on one byte far past the file's end),
//     so no two take one row. With xarray: ds = xr.open_dataset(OUT, group="chunks");
//     ds.host_names[ds.host] is each chunk's host.
//   An output made before the provenance datasets existed (they came within this format) has
//   none: it reads as nothing recorded, and runs on it record provenance in the journal only.
//   Reuse: which points of a chunk were copied from an earlier output by `sweep run --reuse`
//   (driver/reuse.h) rather than computed, and from where; written with the chunk's row when it
//   is done (a chunk done again by a resume or rerun computes all its points: 0).
//   /chunks/reused            [chunks] uint64  its points copied, not computed; 0: none
//   /chunks/reused_from       [chunks] uint16  the output they came from, as a row of
//                                              reused_files (the first that gave some, when
//                                              several did); 0: none
//   /chunks/reused_first_chunk, reused_last_chunk  [chunks] uint64  the first and last of that
//                                              output's chunks they came from
//   /chunks/reused_files      [reused_file_row, reused_file_char] char: the absolute paths of
//                                              the outputs reused, a row each, as host_names
//                                              (kReusedFileRows rows of kReusedFileBytes; the
//                                              journal keeps the whole path)
//   An output made before these existed (they came within this format) has none: it reads as
//   nothing reused, and a run on it records reuse in the journal only. Likewise one made before
//   /chunks/device and device_names (which came after the others).
//
// Format "sweep/2", before CF: no Conventions, title, history, source, units, long_name or flags;
// text attributes and string parameters variable-length strings (NC_STRING); NaN the floats'
// _FillValue. Such a file is read, resumed and reported as it is: FillRows() writes each output's
// own _FillValue (OutputDatasetInfo::fill), so a resumed file keeps its NaN.
//
// Outputs' own dimensions were named <output>_<i> only before `dims:`: a file made before it is
// one of its format as it stands (the names of those dimensions are not read back: an output's
// shape is), so it reads, resumes and reruns unchanged; no version bump.
//
// Nothing is stored once per point unless it varies per point: a grid parameter is its
// coordinate, and a point's seed follows from its parameter values (driver/space.h; by its index
// in an output whose fingerprint has no "seeds", made before seeds by value): it is not stored.
// Points are numbered in C order over the sweep dimensions, so an output is the same bytes as a
// flat [points, i1, ...] array: point p's row is at region.offset + p * bytes_per_point. The file
// has no user block, so offsets are absolute. Every group tracks link creation order.
//
// Written at creation: attributes, every string variable, every variable of at most
// kValuesWrittenAtCreation values, /chunks/first and /chunks/count, the last row of each string
// table. Allocated but left to be written: the outputs, the larger numeric variables ("deferred":
// value k of a variable on a dimension of stride s is written with the chunk holding point
// k * s), and the updatable /chunks columns and string tables, whose holes read as 0 (pending,
// not recorded, empty).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/kernel.h"

namespace sweep {

inline constexpr char kOutputFormat[] = "sweep/3";
// The earlier format this sweep still reads, writes into and resumes (above).
inline constexpr char kPreviousOutputFormat[] = "sweep/2";

// A numeric variable longer than this is deferred (above): writing it would cost O(points) for a
// one-dimensional sweep.
inline constexpr uint64_t kValuesWrittenAtCreation = uint64_t{1} << 16;

// The width of a row of /chunks/host_names (HOST_NAME_MAX) and of /chunks/failure_reasons.
inline constexpr uint64_t kHostNameBytes = 64;
inline constexpr uint64_t kFailureReasonBytes = 256;
// The strings a table holds at most, whatever the chunks.
inline constexpr uint64_t kStringTableStrings = 1022;
// /chunks/reused_files: its rows (the empty one, 30 paths, the full one) and their width.
inline constexpr uint64_t kReusedFileRows = 32;
inline constexpr uint64_t kReusedFileBytes = 512;

// The rows of each string table of an output of `chunks` chunks: the empty row, a row for each
// of up to min(chunks, kStringTableStrings) strings, and the row for those that found it full.
inline uint64_t StringTableRows(uint64_t chunks) {
  return 2 + (chunks < kStringTableStrings ? chunks : kStringTableStrings);
}

// CF attributes of one variable, as (name, text) in the order written: "units", "long_name", ...
using VariableAttributes = std::vector<std::pair<std::string, std::string>>;

// One sweep dimension, a netCDF dimension: its name (a Python identifier) and size.
struct OutputDimension {
  std::string name;
  uint64_t size = 0;
};

// A variable of the sweep's parameters: a scalar (dimension < 0) or one-dimensional over one sweep
// dimension. The variable named like its dimension is that dimension's coordinate variable.
struct OutputVariable {
  std::string name;
  int dimension = -1;                            // index into OutputLayoutSpec::dimensions, or -1
  int type = SWEEP_VALUE_NUMBER;                 // sweep_value_type: float64, int64 or strings
  std::function<sweep_value(uint64_t k)> value;  // its value at index k (k ignored for a scalar);
                                                 // a string needs live only until the next call
};

// What the driver knows before the run, independent of how it knows it (driver/run_prepare.cc
// adapts a Space).
struct OutputLayoutSpec {
  std::string config_text;
  std::string config_file;  // absolute
  std::string fingerprint;  // JSON text
  std::string kernel_name;
  uint64_t seed = 0;
  uint64_t points = 0, chunk_size = 0, chunks = 0;  // as driver/plan.h computes them
  std::vector<OutputDimension> dimensions;          // in C order; product of sizes == points
  std::vector<OutputVariable> variables;            // names distinct from each other, from the
                                                    // dimensions without variables and outputs
  std::vector<sweep_output_decl> outputs;           // per-point shape of each kernel output
  std::string title;                                // the sweep's name
  std::string history;  // "<UTC time>: <command line>", as NCO and CDO add theirs
  // Text attributes of variables, by the variable's name (a parameter, `sample`, `replicate` or
  // an output). REQUIRES: names among the variables and outputs; attribute names not among those
  // the layout writes itself (_FillValue, coordinates, _Encoding, _Netcdf4*).
  std::map<std::string, VariableAttributes> attributes;
  // The names of each output's own dimensions, by output (an output's rank of them); one missing
  // or empty: <output>_0, <output>_1, ... A name may be given to several outputs, with one size.
  std::vector<std::vector<std::string>> output_dims;
};

// Creates the complete file at `path`. It is written to "<path>.tmp-<pid>", then renamed
// over `path`, so a failure (or a kill) never leaves half a file at `path`; the temporary is
// removed on failure.
// REQUIRES: the caller checked that `path` may be replaced (--force); points > 0; chunks > 0.
// Before writing anything, and again once the temporary is written, the free space of the
// output's filesystem is checked against the file's size (its holes will be written): an output
// that cannot fit is refused with exit code 2 and nothing left behind.
// THROWS: Error (exit code 2) when the output cannot fit; Error (exit code 1) on any I/O or
// HDF5 failure.
void CreateOutputFile(const std::string& path, const OutputLayoutSpec& spec);

// The first of CreateOutputFile()'s checks, for callers that want it before they write anything
// of their own (a lock file): the file, of the size OutputFileBytes() says (and `sweep plan`
// shows), fits the filesystem of `path`.
// THROWS: Error (exit code 2) naming the bytes needed and free, as io/byte_count.h writes them.
void CheckOutputFits(const std::string& path, const OutputLayoutSpec& spec);

// The size in bytes of the file CreateOutputFile(path, spec) creates: it is created in /dev/shm
// (else $TMPDIR or /tmp), measured and removed; its large datasets are holes there, so this costs
// what its metadata costs. THROWS: Error as CreateOutputFile.
uint64_t OutputFileBytes(const OutputLayoutSpec& spec);

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
  // Its _FillValue (DtypeSize(dtype) bytes, the rest 0): what FillRows() writes. NaN for floats
  // in a file of format sweep/2, netCDF's default fill since sweep/3 (kernels/dtype.h).
  unsigned char fill[8] = {};
};

struct OutputAxis {
  std::string name;
  uint64_t size = 0;
};

// A one-dimensional numeric variable (float64 or int64) and where its values are.
struct OutputVariableInfo {
  std::string name;
  int dtype = 0;  // sweep_dtype: SWEEP_FLOAT64 or SWEEP_INT64
  uint64_t size = 0;
  RawRegion region;  // bytes == size * 8
};

// A string table of /chunks: `rows` rows of `width` bytes.
struct StringTableInfo {
  RawRegion region;  // bytes == rows * width; empty in a file without the table
  uint64_t rows = 0, width = 0;
};

// An existing output file, as ReadOutputLayout() finds it.
struct OutputLayout {
  std::string format;  // kOutputFormat
  std::string config_text, config_sha256, kernel_name, sweep_version;
  std::string config_file, fingerprint;
  uint32_t kernel_abi = 0;
  uint64_t seed = 0, points = 0, chunk_size = 0, chunks = 0;
  std::vector<OutputAxis> dimensions;         // sweep_dims, in C order
  std::vector<OutputDatasetInfo> results;     // the outputs, in the kernel's order
  std::vector<OutputVariableInfo> variables;  // the one-dimensional numeric variables
  // One element per chunk each: uint8, uint32, float64, uint64.
  RawRegion chunk_status, chunk_attempts, chunk_seconds, chunk_checksum;
  // Provenance, one element per chunk each: uint16, int32, float64, uint64, uint16; all empty
  // (bytes 0) in a file made before they existed, with the tables.
  RawRegion chunk_host, chunk_worker, chunk_start_time, chunk_max_rss, chunk_failure;
  StringTableInfo host_names, failure_reasons;
  RawRegion chunk_device;  // uint16; empty in a file made before it existed, with its table
  StringTableInfo device_names;
  bool has_provenance() const { return chunk_host.bytes > 0; }
  bool has_device() const { return chunk_device.bytes > 0; }
  // Reuse, one element per chunk each: uint64, uint16, uint64, uint64; all empty in a file made
  // before they existed, with the table.
  RawRegion chunk_reused, chunk_reused_from, chunk_reused_first, chunk_reused_last;
  StringTableInfo reused_files;
  bool has_reuse_provenance() const { return chunk_reused.bytes > 0; }
  // `units` and `long_name` of each output and parameter that has them, by name: what a report
  // labels its axes with.
  std::map<std::string, VariableAttributes> attributes;
};

// Opens `path` read-only and reads its layout; the file is closed again on return. Everything a
// reader sizes a table or computes an offset by is checked against the rest, so a damaged file
// is refused here rather than crashing a reader: points >= 1, chunk_size >= 1, chunks as the
// two make; the sweep dimensions' sizes multiply to points; every output spans them and its
// bytes fit 64 bits; a coordinate holds its dimension's size; /chunks/first and /chunks/count
// hold what chunk_size and points make, chunk by chunk (O(chunks), a block at a time); every
// /chunks column holds `chunks` elements and the string tables their rows and widths.
// THROWS: Error with exit code 2 when the file is missing, is not HDF5, is not a sweep output
// file, or has a different format version (naming both versions); exit code 1 when a sweep file
// is damaged: "<path>: damaged sweep output file: <what>", naming the attribute or dataset.
OutputLayout ReadOutputLayout(const std::string& path);

// /chunks/status values.
enum class ChunkStatus : uint8_t { kPending = 0, kDone = 1, kFailed = 2 };

// The updatable columns of /chunks, one element per chunk each.
struct ChunkTable {
  std::vector<ChunkStatus> status;
  std::vector<uint32_t> attempts;
  std::vector<double> seconds;
  std::vector<uint64_t> checksum;
  std::vector<uint64_t> reused;  // /chunks/reused; zeros in a file without it
};

// One chunk's row of those columns and of the provenance columns but /chunks/failure.
struct ChunkRow {
  ChunkStatus status = ChunkStatus::kPending;
  uint32_t attempts = 0;
  double seconds = 0;
  uint64_t checksum = 0;
  uint16_t host = 0;  // a row of /chunks/host_names (OutputFile::HostRow)
  int32_t worker = 0;
  double start_time = 0;
  uint64_t max_rss = 0;
  uint64_t reused = 0;
  uint16_t reused_from = 0;  // a row of /chunks/reused_files (OutputFile::ReusedFileRow)
  uint64_t reused_first_chunk = 0, reused_last_chunk = 0;
  uint16_t device = 0;  // a row of /chunks/device_names (OutputFile::DeviceRow)
};

// The provenance columns of /chunks, one element per chunk each, and the string tables whose
// rows `host` and `failure` name: as stored, or all zeros and {""} for a file without them.
struct ChunkProvenance {
  std::vector<uint16_t> host, failure, device;
  std::vector<int32_t> worker;
  std::vector<double> start_time;
  std::vector<uint64_t> max_rss;
  std::vector<std::string> host_names, failure_reasons, device_names;  // by row; row 0 is ""
  // Reuse: as stored, or zeros and {""} for a file without it.
  std::vector<uint64_t> reused, reused_first_chunk, reused_last_chunk;
  std::vector<uint16_t> reused_from;
  std::vector<std::string> reused_files;  // by row; row 0 is ""
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
  // What became of the file this object has open at its path: "" while path() still names it,
  // "deleted" when nothing is there, "replaced" when another file is (one renamed over its name).
  // A stat that fails for another reason than ENOENT says "": the file may well be there.
  std::string FateAtPath() const;

  // The bytes of `count` consecutive points' rows of output `output`, from point `first`.
  // REQUIRES: output < layout().results.size(), first + count <= layout().points.
  RawRegion Rows(size_t output, uint64_t first, uint64_t count) const;
  // Writes (reads) those rows whole: `data` holds Rows(...).bytes bytes.
  // THROWS: Error naming the dataset (a full disk reads as ENOSPC).
  void WriteRows(size_t output, uint64_t first, uint64_t count, const void* data);
  void ReadRows(size_t output, uint64_t first, uint64_t count, void* data) const;
  // Writes the missing value (kernels/dtype.h) over those rows. THROWS: as WriteRows.
  void FillRows(size_t output, uint64_t first, uint64_t count);
  // Writes values [first, first + count) of layout().variables[variable]: `data` holds count
  // values of its dtype. THROWS: Error naming the variable.
  void WriteVariable(size_t variable, uint64_t first, uint64_t count, const void* data);
  // Reads them. THROWS: Error naming the variable.
  void ReadVariable(size_t variable, uint64_t first, uint64_t count, void* data) const;

  // THROWS: Error when the table cannot be read.
  ChunkTable ReadChunkTable() const;
  // Writes one chunk's row: attempts, seconds, checksum and provenance first, the status byte
  // last, so a reader that sees a chunk done sees the rest. REQUIRES: Access::kReadWrite,
  // chunk < chunks. THROWS: Error when a write fails.
  void WriteChunkRow(uint64_t chunk, const ChunkRow& row);
  // The rows of chunks [first, first + count) at once, `rows` in that order: one write per
  // column, the status column last. REQUIRES and THROWS: as WriteChunkRow.
  void WriteChunkRows(uint64_t first, uint64_t count, const ChunkRow* rows);
  // Writes /chunks/failure of one chunk: a row of FailureReasonRow(). Nothing in a file without
  // provenance. REQUIRES and THROWS: as WriteChunkRow.
  void WriteChunkFailure(uint64_t chunk, uint16_t failure_reason_row);

  // The row of /chunks/host_names (/chunks/failure_reasons) holding `text` as the table keeps it
  // (cut to its width at a character boundary; an empty text as "?"), added in the first empty
  // row under the tables' lock if no row holds it yet; the table's last row if it is full; 0 in
  // a file without the table. Rows found are remembered, so a text costs the lock once.
  // REQUIRES: Access::kReadWrite. THROWS: Error when the table cannot be read, written or locked.
  uint16_t HostRow(const std::string& text);
  uint16_t FailureReasonRow(const std::string& text);
  uint16_t ReusedFileRow(const std::string& text);
  uint16_t DeviceRow(const std::string& text);  // 0 for "" (no device)
  // THROWS: Error when the columns or tables cannot be read.
  ChunkProvenance ReadChunkProvenance() const;

 private:
  uint16_t TableRow(const StringTableInfo& table, std::map<std::string, uint16_t>* known,
                    const std::string& text);

  std::string path_;
  OutputLayout layout_;
  int fd_ = -1;
  std::map<std::string, uint16_t> host_rows_, failure_reason_rows_, reused_file_rows_,
      device_rows_;  // as the file holds them
};

// `text` as a row of `width` bytes keeps it: cut at a UTF-8 character boundary to at most
// `width` bytes, and at its first NUL.
std::string FitTableText(const std::string& text, uint64_t width);

// What a spawned worker needs of a layout (points, chunk size, the /results datasets and their
// offsets), as JSON text, and back. THROWS (decoding): nlohmann::json errors on malformed text.
std::string EncodeRowLayout(const OutputLayout& layout);
OutputLayout DecodeRowLayout(const std::string& json_text);

}  // namespace sweep
