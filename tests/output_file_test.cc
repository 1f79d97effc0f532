#include "io/output_file.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>

#include "io/error.h"
#include "io/hdf5.h"
#include "io/sha256.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

sweep_value Number(double v) { return {SWEEP_VALUE_NUMBER, v, 0, nullptr}; }
sweep_value Integer(int64_t v) { return {SWEEP_VALUE_INTEGER, double(v), v, nullptr}; }
sweep_value String(const char* v) { return {SWEEP_VALUE_STRING, 0, 0, v}; }

const char* const kLabels[] = {"a", "bb"};

// A 3 x 2 grid: rho (numbers) crossed with the zip group label_n of label (strings) and n
// (integers); a constant dt; three outputs of different dtypes and ranks; chunks of 4 points.
OutputLayoutSpec SmallSpec() {
  OutputLayoutSpec spec;
  spec.config_text = "name: small\nkernel: {name: fake}\n";
  spec.kernel_name = "fake";
  spec.seed = 42;
  spec.points = 6;
  spec.chunk_size = 4;
  spec.chunks = 2;
  spec.dimensions = {{"rho", 3}, {"label_n", 2}};
  spec.variables = {{"rho", 0, SWEEP_VALUE_NUMBER, [](uint64_t k) { return Number(0.5 * k); }},
                    {"label", 1, SWEEP_VALUE_STRING, [](uint64_t k) { return String(kLabels[k]); }},
                    {"n", 1, SWEEP_VALUE_INTEGER, [](uint64_t k) { return Integer(100 + k); }},
                    {"dt", -1, SWEEP_VALUE_NUMBER, [](uint64_t) { return Number(0.001); }}};
  spec.outputs = {{"energy", SWEEP_FLOAT64, 0, {}},
                  {"trajectory", SWEEP_FLOAT32, 2, {4, 3}},
                  {"count", SWEEP_INT32, 0, {}}};
  return spec;
}

template <typename T>
std::vector<T> ReadAll(const std::string& path, const std::string& name, hid_t type) {
  hdf5::ErrorSilencer quiet;
  hdf5::Handle file = hdf5::OpenFileReadOnly(path);
  hdf5::Handle dataset = hdf5::OpenDataset(file.id(), name);
  hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
  uint64_t n = 1;
  for (uint64_t d : hdf5::SpaceDims(space.id())) n *= d;
  std::vector<T> values(n);
  hdf5::Read(dataset.id(), type, H5S_ALL, H5S_ALL, values.data());
  return values;
}

// A string variable's values: the rows of its char table, NUL padding cut.
std::vector<std::string> ReadStrings(const std::string& path, const std::string& name) {
  hdf5::ErrorSilencer quiet;
  hdf5::Handle file = hdf5::OpenFileReadOnly(path);
  hdf5::Handle dataset = hdf5::OpenDataset(file.id(), name);
  hdf5::Handle type = hdf5::CharType();
  hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
  const std::vector<uint64_t> dims = hdf5::SpaceDims(space.id());
  const uint64_t rows = dims.size() == 2 ? dims[0] : 1, width = dims.back();
  std::string bytes(rows * width, '\0');
  hdf5::Read(dataset.id(), type.id(), H5S_ALL, H5S_ALL, bytes.data());
  std::vector<std::string> values;
  for (uint64_t r = 0; r < rows; ++r) {
    std::string row = bytes.substr(r * width, width);
    values.push_back(row.substr(0, row.find('\0')));
  }
  return values;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void PwriteAt(int fd, const void* data, size_t bytes, uint64_t offset) {
  ASSERT_EQ(pwrite(fd, data, bytes, static_cast<off_t>(offset)), static_cast<ssize_t>(bytes));
}

TEST(OutputFileTest, LayoutReadsBackWhatWasCreated) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  OutputLayoutSpec spec = SmallSpec();
  CreateOutputFile(path, spec);

  OutputLayout layout = ReadOutputLayout(path);
  EXPECT_EQ(layout.format, "sweep/3");
  EXPECT_EQ(layout.sweep_version, SWEEP_VERSION);
  EXPECT_EQ(layout.config_text, spec.config_text);
  EXPECT_EQ(layout.config_sha256, Sha256Hex(spec.config_text));
  EXPECT_EQ(layout.kernel_name, "fake");
  EXPECT_EQ(layout.kernel_abi, uint32_t{SWEEP_KERNEL_ABI});
  EXPECT_EQ(layout.seed, 42u);
  EXPECT_EQ(layout.points, 6u);
  EXPECT_EQ(layout.chunk_size, 4u);
  EXPECT_EQ(layout.chunks, 2u);
  ASSERT_EQ(layout.dimensions.size(), 2u);
  EXPECT_EQ(layout.dimensions[0].name, "rho");
  EXPECT_EQ(layout.dimensions[0].size, 3u);
  EXPECT_EQ(layout.dimensions[1].name, "label_n");
  EXPECT_EQ(layout.dimensions[1].size, 2u);

  // The numeric one-dimensional variables (strings and scalars are never written again).
  ASSERT_EQ(layout.variables.size(), 2u);
  EXPECT_EQ(layout.variables[0].name, "rho");
  EXPECT_EQ(layout.variables[0].dtype, SWEEP_FLOAT64);
  EXPECT_EQ(layout.variables[0].size, 3u);
  EXPECT_EQ(layout.variables[1].name, "n");
  EXPECT_EQ(layout.variables[1].dtype, SWEEP_INT64);

  ASSERT_EQ(layout.results.size(), 3u);
  // Each output's _FillValue, which FillRows() writes: netCDF's default fill.
  double energy_fill = 0;
  std::memcpy(&energy_fill, layout.results[0].fill, 8);
  EXPECT_EQ(energy_fill, 9.9692099683868690e+36);
  int32_t count_fill = 0;
  std::memcpy(&count_fill, layout.results[2].fill, 4);
  EXPECT_EQ(count_fill, -2147483647);
  EXPECT_EQ(layout.results[0].name, "energy");
  EXPECT_EQ(layout.results[0].dtype, SWEEP_FLOAT64);
  EXPECT_TRUE(layout.results[0].point_shape.empty());
  EXPECT_EQ(layout.results[0].bytes_per_point, 8u);
  EXPECT_EQ(layout.results[0].region.bytes, 48u);
  EXPECT_EQ(layout.results[1].name, "trajectory");
  EXPECT_EQ(layout.results[1].dtype, SWEEP_FLOAT32);
  EXPECT_EQ(layout.results[1].point_shape, (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(layout.results[1].bytes_per_point, 48u);
  EXPECT_EQ(layout.results[1].region.bytes, 288u);
  EXPECT_EQ(layout.results[2].name, "count");
  EXPECT_EQ(layout.results[2].dtype, SWEEP_INT32);
  EXPECT_EQ(layout.results[2].bytes_per_point, 4u);

  EXPECT_EQ(layout.chunk_status.bytes, 2u);
  EXPECT_EQ(layout.chunk_attempts.bytes, 8u);
  EXPECT_EQ(layout.chunk_seconds.bytes, 16u);
  EXPECT_EQ(layout.chunk_checksum.bytes, 16u);
  // Every region lies inside the file and no two overlap.
  std::vector<RawRegion> regions = {layout.chunk_status, layout.chunk_attempts,
                                    layout.chunk_seconds, layout.chunk_checksum};
  for (const OutputDatasetInfo& info : layout.results) regions.push_back(info.region);
  uint64_t file_size = Slurp(path).size();
  for (size_t i = 0; i < regions.size(); ++i) {
    EXPECT_LE(regions[i].offset + regions[i].bytes, file_size);
    for (size_t j = 0; j < i; ++j) {
      bool apart = regions[i].offset + regions[i].bytes <= regions[j].offset ||
                   regions[j].offset + regions[j].bytes <= regions[i].offset;
      EXPECT_TRUE(apart) << "regions " << i << " and " << j << " overlap";
    }
  }
}

// The CF-1.8 metadata (io/output_file.h), as netCDF's own ncdump reads it: global Conventions,
// title, history and source; every text attribute NC_CHAR (ncdump prints NC_STRING ones with a
// `string` prefix), so that NCO reads `coordinates`; units and long names given in the spec, read
// back for the report; string parameters as char tables; the status flags and the /chunks units.
TEST(OutputFileTest, CarriesCfMetadataAsNetcdfText) {
  TempDir dir;
  const std::string path = dir.File("out.h5");
  OutputLayoutSpec spec = SmallSpec();
  spec.title = "small";
  spec.history = "2026-12-07T06:30:00Z: sweep run /tmp/small.yaml";
  spec.attributes["rho"] = {{"units", "1"}, {"long_name", "Rayleigh number"}};
  spec.attributes["energy"] = {{"units", "J"}};
  spec.attributes["label"] = {{"long_name", "a label"}};
  CreateOutputFile(path, spec);
  const OutputLayout layout = ReadOutputLayout(path);
  EXPECT_EQ(layout.attributes.at("rho"),
            (VariableAttributes{{"units", "1"}, {"long_name", "Rayleigh number"}}));
  EXPECT_EQ(layout.attributes.at("energy"), (VariableAttributes{{"units", "J"}}));
  EXPECT_EQ(layout.attributes.count("n"), 0u);

  ASSERT_EQ(std::system(("ncdump -h " + path + " > " + dir.File("cdl.txt")).c_str()), 0);
  const std::string cdl = Slurp(dir.File("cdl.txt"));
  for (const char* line :
       {":Conventions = \"CF-1.8\" ;", ":title = \"small\" ;",
        ":history = \"2026-12-07T06:30:00Z: sweep run /tmp/small.yaml\" ;",
        ":source = \"sweep " SWEEP_VERSION "\" ;", ":format = \"sweep/3\" ;",
        "energy:coordinates = \"label n dt\" ;", "energy:units = \"J\" ;",
        "rho:long_name = \"Rayleigh number\" ;", "char label(label_n, label_strlen) ;",
        "label:_Encoding = \"utf-8\" ;", "label:long_name = \"a label\" ;",
        "energy:_FillValue = 9.96920996838687e+36 ;", "status:flag_values = 0UB, 1UB, 2UB ;",
        "status:flag_meanings = \"pending done failed\" ;",
        "start_time:units = \"seconds since 1970-01-01T00:00:00Z\" ;", "max_rss:units = \"byte\" ;",
        "seconds:units = \"s\" ;"}) {
    EXPECT_NE(cdl.find(line), std::string::npos) << line << "\n" << cdl;
  }
  // Only the lists of names stay NC_STRING: netCDF has no other attribute of several strings.
  size_t strings = 0;
  for (size_t at = cdl.find("string "); at != std::string::npos; at = cdl.find("string ", at + 1))
    ++strings;
  EXPECT_EQ(strings, 2u) << cdl;  // sweep_dims, outputs
}

TEST(OutputFileTest, VariablesAndChunkTableHoldTheirValues) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());

  // Each parameter once per value of its dimension, never once per point.
  EXPECT_EQ(ReadAll<double>(path, "/rho", H5T_NATIVE_DOUBLE), (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(ReadStrings(path, "/label"), (std::vector<std::string>{"a", "bb"}));
  EXPECT_EQ(ReadAll<int64_t>(path, "/n", H5T_NATIVE_INT64), (std::vector<int64_t>{100, 101}));
  EXPECT_EQ(ReadAll<double>(path, "/dt", H5T_NATIVE_DOUBLE), (std::vector<double>{0.001}));
  EXPECT_EQ(ReadAll<double>(path, "/label_n", H5T_NATIVE_DOUBLE).size(), 2u);

  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/first", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0, 4}));
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/count", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(ReadAll<uint8_t>(path, "/chunks/status", H5T_NATIVE_UINT8),
            (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(ReadAll<uint32_t>(path, "/chunks/attempts", H5T_NATIVE_UINT32),
            (std::vector<uint32_t>{0, 0}));
  EXPECT_EQ(ReadAll<double>(path, "/chunks/seconds", H5T_NATIVE_DOUBLE),
            (std::vector<double>{0, 0}));
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/checksum", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0, 0}));
}

// Results are allocated but not written at creation (O(1) in the points); FillRows writes the
// declared _FillValue, which is what a reader then sees for a pending point.
TEST(OutputFileTest, FillRowsWritesTheDeclaredFillValue) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  {
    OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
    for (size_t o = 0; o < 3; ++o) file.FillRows(o, 0, 6);
  }
  std::vector<double> energy = ReadAll<double>(path, "/energy", H5T_NATIVE_DOUBLE);
  ASSERT_EQ(energy.size(), 6u);
  // netCDF's default fill, which NCO and CDO take for missing (a NaN they would average).
  for (double e : energy) EXPECT_EQ(e, 9.9692099683868690e+36);
  std::vector<float> trajectory = ReadAll<float>(path, "/trajectory", H5T_NATIVE_FLOAT);
  ASSERT_EQ(trajectory.size(), 6u * 12);
  for (float t : trajectory) EXPECT_EQ(t, 9.96920996838686905e+36f);
  EXPECT_EQ(ReadAll<int32_t>(path, "/count", H5T_NATIVE_INT32),
            (std::vector<int32_t>(6, -2147483647)));
  hdf5::ErrorSilencer quiet;
  hdf5::Handle file = hdf5::OpenFileReadOnly(path);
  hdf5::Handle count = hdf5::OpenDataset(file.id(), "count");
  const hid_t fill = H5Aopen(count.id(), "_FillValue", H5P_DEFAULT);
  ASSERT_GE(fill, 0);
  int32_t declared = 0;
  EXPECT_GE(H5Aread(fill, H5T_NATIVE_INT32, &declared), 0);
  H5Aclose(fill);
  EXPECT_EQ(declared, -2147483647);
}

// The contract workers rely on: raw bytes at region.offset + point * bytes_per_point are that
// point's row, as HDF5 sees it, with no HDF5 call by the writer.
TEST(OutputFileTest, RawWritesAtTheOffsetsAreWhatHdf5Reads) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  OutputLayout layout = ReadOutputLayout(path);

  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const OutputDatasetInfo& energy = layout.results[0];
  const OutputDatasetInfo& trajectory = layout.results[1];
  for (uint64_t p : {1u, 4u, 5u}) {
    double value = 1.5 * p;
    PwriteAt(fd, &value, 8, energy.region.offset + p * energy.bytes_per_point);
  }
  float row[12];
  for (int i = 0; i < 12; ++i) row[i] = 10.0f * i;
  PwriteAt(fd, row, sizeof row, trajectory.region.offset + 3 * trajectory.bytes_per_point);
  uint8_t done = 1;
  PwriteAt(fd, &done, 1, layout.chunk_status.offset + 1);
  uint32_t attempts = 3;
  PwriteAt(fd, &attempts, 4, layout.chunk_attempts.offset + 4);
  uint64_t checksum = 0xfeedfacecafebeefull;
  PwriteAt(fd, &checksum, 8, layout.chunk_checksum.offset);
  close(fd);

  // Rows nobody wrote are holes, zeros (driver/output_filler.h writes the missing value there).
  std::vector<double> energies = ReadAll<double>(path, "/energy", H5T_NATIVE_DOUBLE);
  EXPECT_EQ(energies[0], 0.0);
  EXPECT_EQ(energies[1], 1.5);
  EXPECT_EQ(energies[3], 0.0);
  EXPECT_EQ(energies[4], 6.0);
  EXPECT_EQ(energies[5], 7.5);
  std::vector<float> rows = ReadAll<float>(path, "/trajectory", H5T_NATIVE_FLOAT);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(rows[3 * 12 + i], 10.0f * i);
  EXPECT_EQ(rows[2 * 12 + 11], 0.0f);
  EXPECT_EQ(rows[4 * 12], 0.0f);
  EXPECT_EQ(ReadAll<uint8_t>(path, "/chunks/status", H5T_NATIVE_UINT8),
            (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(ReadAll<uint32_t>(path, "/chunks/attempts", H5T_NATIVE_UINT32),
            (std::vector<uint32_t>{0, 3}));
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/checksum", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0xfeedfacecafebeefull, 0}));
}

// The same contract through OutputFile: rows and chunk rows written by offset are what HDF5 reads,
// and a worker given the layout as JSON (no HDF5) writes to the same places.
TEST(OutputFileTest, OutputFileWritesRowsAndChunkRowsWhereHdf5ReadsThem) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  {
    OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
    EXPECT_EQ(file.Rows(1, 2, 3).bytes, 3u * 12 * 4);
    EXPECT_EQ(file.Rows(1, 2, 3).offset, file.layout().results[1].region.offset + 2 * 48);
    const double energies[] = {2.5, 3.5};
    file.WriteRows(0, 4, 2, energies);
    file.WriteChunkRow(1, {ChunkStatus::kDone, 2, 0.5, 77});
    OutputFile worker(path, DecodeRowLayout(EncodeRowLayout(file.layout())),
                      OutputFile::Access::kReadWrite);
    EXPECT_EQ(worker.Rows(2, 5, 1).offset, file.Rows(2, 5, 1).offset);
    const int32_t count = 9;
    worker.WriteRows(2, 5, 1, &count);
    double back[2];
    worker.ReadRows(0, 4, 2, back);
    EXPECT_EQ(back[0], 2.5);
    const ChunkTable table = file.ReadChunkTable();
    EXPECT_EQ(table.status, (std::vector<ChunkStatus>{ChunkStatus::kPending, ChunkStatus::kDone}));
    EXPECT_EQ(table.attempts[1], 2u);
    EXPECT_EQ(table.seconds[1], 0.5);
    EXPECT_EQ(table.checksum[1], 77u);
  }
  std::vector<double> energies = ReadAll<double>(path, "/energy", H5T_NATIVE_DOUBLE);
  EXPECT_EQ(energies[3], 0.0);
  EXPECT_EQ(energies[4], 2.5);
  EXPECT_EQ(energies[5], 3.5);
  EXPECT_EQ(ReadAll<int32_t>(path, "/count", H5T_NATIVE_INT32)[5], 9);
  EXPECT_EQ(ReadAll<uint8_t>(path, "/chunks/status", H5T_NATIVE_UINT8),
            (std::vector<uint8_t>{0, 1}));
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/checksum", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0, 77}));
  EXPECT_THROW(OutputFile(dir.File("missing.h5"), OutputLayout{}, OutputFile::Access::kRead),
               Error);
}

// Provenance: the chunk row's host, worker, start and peak memory and the failure reason land in
// their /chunks columns, strings as rows of netCDF text tables that HDF5 reads as such.
TEST(OutputFileTest, ProvenanceColumnsAndStringTablesHoldWhatWasWritten) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  {
    OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
    ASSERT_TRUE(file.layout().has_provenance());
    EXPECT_EQ(file.layout().host_names.rows, StringTableRows(2));
    EXPECT_EQ(file.layout().host_names.width, kHostNameBytes);
    EXPECT_EQ(file.layout().failure_reasons.width, kFailureReasonBytes);
    const ChunkProvenance fresh = file.ReadChunkProvenance();
    EXPECT_EQ(fresh.host, (std::vector<uint16_t>{0, 0}));
    EXPECT_EQ(fresh.max_rss, (std::vector<uint64_t>{0, 0}));
    EXPECT_EQ(fresh.host_names[0], "");
    EXPECT_EQ(fresh.host_names.back(), "(another host: this table was full)");
    ChunkRow row{ChunkStatus::kDone, 1, 0.5, 77};
    row.host = file.HostRow("node-1.cluster");
    row.worker = 7;
    row.start_time = 1.7e9 + 0.25;
    row.max_rss = uint64_t{5} << 30;
    file.WriteChunkRow(1, row);
    file.WriteChunkFailure(1, file.FailureReasonRow("exit code 3: ünïcode"));
    file.WriteChunkFailure(0, file.FailureReasonRow(""));
  }
  const OutputFile file = OutputFile::Open(path, OutputFile::Access::kRead);
  const ChunkProvenance p = file.ReadChunkProvenance();
  EXPECT_EQ(p.host_names.at(p.host[1]), "node-1.cluster");
  EXPECT_EQ(p.host[0], 0);
  EXPECT_EQ(p.worker[1], 7);
  EXPECT_EQ(p.start_time[1], 1.7e9 + 0.25);
  EXPECT_EQ(p.max_rss[1], uint64_t{5} << 30);
  EXPECT_EQ(p.failure_reasons.at(p.failure[1]), "exit code 3: ünïcode");
  EXPECT_EQ(p.failure_reasons.at(p.failure[0]), "?");  // an empty reason is not "none"
  EXPECT_EQ(ReadAll<uint16_t>(path, "/chunks/host", H5T_NATIVE_UINT16),
            (std::vector<uint16_t>{0, 1}));
  EXPECT_EQ(ReadAll<int32_t>(path, "/chunks/worker", H5T_NATIVE_INT32),
            (std::vector<int32_t>{0, 7}));
  hdf5::Handle chars = hdf5::CharType();
  const std::vector<char> names = ReadAll<char>(path, "/chunks/host_names", chars.id());
  ASSERT_EQ(names.size(), StringTableRows(2) * kHostNameBytes);
  EXPECT_EQ(std::string(names.data() + kHostNameBytes), "node-1.cluster");
  EXPECT_EQ(names[0], '\0');
}

// A table keeps each text once, in the order first recorded, cut at a character boundary; the
// rows another writer added are found, not added again; a full table answers its last row.
TEST(OutputFileTest, StringTablesKeepEachTextOnceAndSayWhenFull) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());  // 2 chunks: rows "", 2 texts, "full"
  OutputFile a = OutputFile::Open(path, OutputFile::Access::kReadWrite);
  OutputFile b = OutputFile::Open(path, OutputFile::Access::kReadWrite);
  EXPECT_EQ(a.HostRow("x"), 1);
  EXPECT_EQ(a.HostRow("x"), 1);
  EXPECT_EQ(b.HostRow("x"), 1);  // another writer's row
  EXPECT_EQ(b.HostRow("y"), 2);
  EXPECT_EQ(a.HostRow("y"), 2);
  EXPECT_EQ(a.HostRow("z"), 3);  // the last row: full
  EXPECT_EQ(a.ReadChunkProvenance().host_names,
            (std::vector<std::string>{"", "x", "y", "(another host: this table was full)"}));
  // 63 ASCII bytes and a 2-byte character: the character does not fit and is left out whole.
  const std::string long_name = std::string(63, 'h') + "é";
  EXPECT_EQ(FitTableText(long_name, 64), std::string(63, 'h'));
  EXPECT_EQ(FitTableText(std::string("ab\0cd", 5), 64), "ab");
  EXPECT_EQ(FitTableText("€uro", 2), "");
  EXPECT_EQ(FitTableText("€uro", 3), "€");
  EXPECT_EQ(a.FailureReasonRow(std::string(300, 'r')), 1);
  EXPECT_EQ(a.ReadChunkProvenance().failure_reasons[1], std::string(kFailureReasonBytes, 'r'));
}

// Shards add strings at once from their own processes: under the tables' lock no row is taken
// twice and none is lost.
// Adds, in `writers` processes started together, each writer's own texts and texts every writer
// adds, to the host table of the output at `path`. Returns whether every process succeeded.
bool AddHostNamesAtOnce(const std::string& path, int writers, int texts) {
  int start[2];
  if (pipe(start) != 0) return false;  // closed once every writer is forked: they start together
  std::vector<pid_t> children;
  for (int w = 0; w < writers; ++w) {
    const pid_t pid = fork();
    if (pid == 0) {
      close(start[1]);
      char byte;
      while (read(start[0], &byte, 1) < 0 && errno == EINTR) {
      }
      int code = 0;
      try {
        OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
        for (int i = 0; i < texts; ++i) {
          const uint16_t own = file.HostRow("w" + std::to_string(w) + "-" + std::to_string(i));
          const uint16_t shared = file.HostRow("shared-" + std::to_string(i));
          if (own == 0 || shared == 0) code = 1;
        }
      } catch (...) {
        code = 2;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  close(start[0]);
  close(start[1]);
  bool ok = true;
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}

// Shards add strings at once from their own processes: under the tables' lock no row is taken
// twice and none is lost. (Without the lock, about every other round takes a row twice.)
TEST(OutputFileTest, WritersAtOnceShareTheStringTables) {
  TempDir dir;
  OutputLayoutSpec spec = SmallSpec();
  spec.dimensions = {{"rho", 600}, {"label_n", 2}};
  spec.variables = {spec.variables[0], spec.variables[1], spec.variables[2]};
  spec.points = 1200;
  spec.chunk_size = 2;
  spec.chunks = 600;
  constexpr int kWriters = 4, kTexts = 100;
  for (int round = 0; round < 6; ++round) {
    const std::string path = dir.File("out" + std::to_string(round) + ".h5");
    CreateOutputFile(path, spec);
    ASSERT_TRUE(AddHostNamesAtOnce(path, kWriters, kTexts));
    const OutputFile file = OutputFile::Open(path, OutputFile::Access::kRead);
    std::vector<std::string> names = file.ReadChunkProvenance().host_names;
    ASSERT_EQ(names.size(), StringTableRows(600));
    names.erase(names.begin());  // ""
    names.pop_back();            // "full"
    std::map<std::string, int> seen;
    for (const std::string& n : names)
      if (!n.empty()) ++seen[n];
    EXPECT_EQ(seen.size(), size_t(kWriters * kTexts + kTexts)) << "round " << round;
    for (const auto& [text, times] : seen) ASSERT_EQ(times, 1) << text << ", round " << round;
  }
}

// The reuse columns of /chunks hold what a chunk's row says was copied and from where; an output
// made before they existed reads as nothing reused and runs on.
TEST(OutputFileTest, ReuseColumnsHoldWhereAChunksPointsWereCopiedFrom) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  {
    OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
    ASSERT_TRUE(file.layout().has_reuse_provenance());
    EXPECT_EQ(file.layout().reused_files.rows, kReusedFileRows);
    EXPECT_EQ(file.layout().reused_files.width, kReusedFileBytes);
    const ChunkProvenance fresh = file.ReadChunkProvenance();
    EXPECT_EQ(fresh.reused, (std::vector<uint64_t>{0, 0}));
    EXPECT_EQ(fresh.reused_files.back(),
              "(another output: this table was full; the journal has it)");
    ChunkRow row{ChunkStatus::kDone, 1, 0.5, 77};
    row.reused = 3;
    row.reused_from = file.ReusedFileRow("/data/old.h5");
    row.reused_first_chunk = 12;
    row.reused_last_chunk = 13;
    file.WriteChunkRow(1, row);
    EXPECT_EQ(file.ReadChunkTable().reused, (std::vector<uint64_t>{0, 3}));
  }
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/reused", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0, 3}));
  EXPECT_EQ(ReadAll<uint16_t>(path, "/chunks/reused_from", H5T_NATIVE_UINT16),
            (std::vector<uint16_t>{0, 1}));
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/reused_first_chunk", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0, 12}));
  EXPECT_EQ(ReadAll<uint64_t>(path, "/chunks/reused_last_chunk", H5T_NATIVE_UINT64),
            (std::vector<uint64_t>{0, 13}));
  hdf5::Handle chars = hdf5::CharType();
  const std::vector<char> files = ReadAll<char>(path, "/chunks/reused_files", chars.id());
  ASSERT_EQ(files.size(), kReusedFileRows * kReusedFileBytes);
  EXPECT_EQ(std::string(files.data() + kReusedFileBytes), "/data/old.h5");
  // An output made before the columns existed reads as nothing reused, and runs on.
  {
    hdf5::ErrorSilencer quiet;
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    for (const char* name : {"reused", "reused_from", "reused_first_chunk", "reused_last_chunk",
                             "reused_files", "reused_file_row", "reused_file_char"}) {
      EXPECT_GE(H5Ldelete(f, (std::string("/chunks/") + name).c_str(), H5P_DEFAULT), 0) << name;
    }
    H5Fclose(f);
  }
  OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
  EXPECT_FALSE(file.layout().has_reuse_provenance());
  ChunkRow row{ChunkStatus::kDone, 1, 0.5, 78};
  row.reused = 3;
  row.reused_from = file.ReusedFileRow("/data/old.h5");
  EXPECT_EQ(row.reused_from, 0);
  file.WriteChunkRow(0, row);
  EXPECT_EQ(file.ReadChunkTable().reused, (std::vector<uint64_t>{0, 0}));
  EXPECT_EQ(file.ReadChunkTable().checksum[0], 78u);
  EXPECT_EQ(file.ReadChunkProvenance().reused_files, (std::vector<std::string>{""}));
}

// An output made before provenance existed (format sweep/2 without those datasets) still opens:
// nothing is recorded and writing a row leaves the missing columns alone.
TEST(OutputFileTest, AnOutputWithoutProvenanceColumnsStillWorks) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  {
    hdf5::ErrorSilencer quiet;
    const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    ASSERT_GE(f, 0);
    for (const char* name :
         {"host", "worker", "start_time", "max_rss", "failure", "host_names", "failure_reasons",
          "host_row", "host_name_char", "failure_row", "failure_reason_char"}) {
      EXPECT_GE(H5Ldelete(f, (std::string("/chunks/") + name).c_str(), H5P_DEFAULT), 0) << name;
    }
    H5Fclose(f);
  }
  OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
  EXPECT_FALSE(file.layout().has_provenance());
  ChunkRow row{ChunkStatus::kDone, 1, 0.5, 77};
  row.host = file.HostRow("node");
  EXPECT_EQ(row.host, 0);
  file.WriteChunkRow(1, row);
  file.WriteChunkFailure(1, file.FailureReasonRow("why"));
  EXPECT_EQ(file.ReadChunkTable().checksum[1], 77u);
  const ChunkProvenance p = file.ReadChunkProvenance();
  EXPECT_EQ(p.host, (std::vector<uint16_t>{0, 0}));
  EXPECT_EQ(p.host_names, (std::vector<std::string>{""}));
}

TEST(OutputFileTest, H5pySeesValuesAndDimensionScales) {
  ASSERT_EQ(std::system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1"), 0)
      << "/usr/bin/python3 with h5py is not available (scripts/setup installs it)";
  TempDir dir;
  std::string path = dir.File("out.h5");
  CreateOutputFile(path, SmallSpec());
  OutputLayout layout = ReadOutputLayout(path);
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  double value = 6.25;
  PwriteAt(fd, &value, 8, layout.results[0].region.offset + 4 * 8);
  uint8_t done = 1;
  PwriteAt(fd, &done, 1, layout.chunk_status.offset + 1);
  close(fd);

  std::string script = dir.File("check.py");
  std::ofstream(script) << R"(import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], 'r')
# Text attributes are netCDF's NC_CHAR, fixed-length strings: h5py reads bytes.
assert f.attrs['format'] == b'sweep/3', f.attrs['format']
assert f.attrs['kernel'] == b'fake'
assert f.attrs['Conventions'] == b'CF-1.8'
assert int(f.attrs['points']) == 6 and int(f.attrs['seed']) == 42
assert list(f.attrs['sweep_dims']) == ['rho', 'label_n'], f.attrs['sweep_dims']
e = f['energy']
assert e.shape == (3, 2), e.shape
assert e.dims[0][0].name == '/rho', e.dims[0][0].name
assert e.dims[1][0].name == '/label_n', e.dims[1][0].name
t = f['trajectory']
assert t.shape == (3, 2, 4, 3) and t.dtype == np.float32, (t.shape, t.dtype)
assert t.dims[1][0].name == '/label_n'
assert t.dims[2][0].name == '/trajectory_0' and t.dims[3][0].name == '/trajectory_1'
assert list(f['rho'][:]) == [0.0, 0.5, 1.0]
# Strings are netCDF text: a char table [values, label_strlen], a value a NUL-padded row.
assert [r.tobytes().rstrip(b'\0').decode() for r in f['label'][:]] == ['a', 'bb']
assert f['label'].dims[0][0].name == '/label_n'
assert f['label'].dims[1][0].name == '/label_strlen'
flat = e[...].reshape(-1)
assert flat[4] == 6.25, flat
assert e[2, 0] == 6.25
assert list(f['chunks/status'][:]) == [0, 1]
assert f['count'].dtype == np.int32
print('h5py ok')
)";
  std::string command = "/usr/bin/python3 " + script + " " + path + " 2>&1";
  int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "h5py check failed; see output above";
}

herr_t CollectTimes(hid_t object, const char* name, const H5O_info_t* info, void* data) {
  (void)object;
  if (info->atime || info->mtime || info->ctime || info->btime) {
    static_cast<std::vector<std::string>*>(data)->push_back(name);
  }
  return 0;
}

// Timestamps have a resolution of one second, so two files made within one second would be
// equal even with them: check that no object carries any, then that the bytes agree.
TEST(OutputFileTest, SameSpecGivesSameBytes) {
  TempDir dir;
  CreateOutputFile(dir.File("a.h5"), SmallSpec());
  CreateOutputFile(dir.File("b.h5"), SmallSpec());
  {
    hdf5::ErrorSilencer quiet;
    hdf5::Handle file = hdf5::OpenFileReadOnly(dir.File("a.h5"));
    std::vector<std::string> stamped;
    ASSERT_GE(
        H5Ovisit2(file.id(), H5_INDEX_NAME, H5_ITER_INC, CollectTimes, &stamped, H5O_INFO_TIME), 0);
    EXPECT_TRUE(stamped.empty()) << stamped.size() << " objects carry timestamps, first "
                                 << stamped[0];
  }
  std::string a = Slurp(dir.File("a.h5")), b = Slurp(dir.File("b.h5"));
  ASSERT_GT(a.size(), 1000u);
  EXPECT_TRUE(a == b) << "files differ";
}

// 200000 points cross the 64Ki-point write blocks three times.
// A variable longer than kValuesWrittenAtCreation is deferred: allocated, not written at creation
// (driver/output_filler.h writes it with the chunks), and WriteVariable puts values where HDF5
// reads them.
TEST(OutputFileTest, LongColumnsAreWrittenAcrossBlocks) {
  TempDir dir;
  std::string path = dir.File("long.h5");
  OutputLayoutSpec spec;
  spec.kernel_name = "fake";
  spec.points = 200000;
  spec.chunk_size = 1000;
  spec.chunks = 200;
  spec.dimensions = {{"sample", 200000}};
  spec.variables = {{"sample", 0, SWEEP_VALUE_INTEGER, [](uint64_t k) { return Integer(k); }},
                    {"x", 0, SWEEP_VALUE_NUMBER, [](uint64_t k) { return Number(0.25 * k); }}};
  spec.outputs = {{"y", SWEEP_FLOAT64, 0, {}}};
  CreateOutputFile(path, spec);
  const OutputLayout layout = ReadOutputLayout(path);
  ASSERT_EQ(layout.variables.size(), 2u);
  EXPECT_EQ(layout.variables[1].name, "x");
  EXPECT_EQ(layout.variables[1].size, 200000u);
  EXPECT_EQ(layout.variables[1].region.bytes, 200000u * 8);
  {
    OutputFile file = OutputFile::Open(path, OutputFile::Access::kReadWrite);
    const double values[] = {1.5, 2.5};
    file.WriteVariable(1, 199998, 2, values);
  }
  std::vector<double> x = ReadAll<double>(path, "/x", H5T_NATIVE_DOUBLE);
  ASSERT_EQ(x.size(), 200000u);
  EXPECT_EQ(x[199998], 1.5);
  EXPECT_EQ(x[199999], 2.5);
  EXPECT_EQ(x[0], 0.0);  // not written yet: a hole
  std::vector<uint64_t> count = ReadAll<uint64_t>(path, "/chunks/count", H5T_NATIVE_UINT64);
  EXPECT_EQ(count, std::vector<uint64_t>(200, 1000));
  EXPECT_EQ(ReadOutputLayout(path).results[0].region.bytes, 1600000u);
}

TEST(OutputFileTest, ReplacesAnExistingFileAndLeavesNoTemporary) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  std::ofstream(path) << "old";
  CreateOutputFile(path, SmallSpec());
  EXPECT_EQ(ReadOutputLayout(path).points, 6u);
  EXPECT_TRUE(Slurp(path + ".tmp-" + std::to_string(getpid())).empty());
}

TEST(OutputFileTest, FailureLeavesTheOldFileAlone) {
  TempDir dir;
  std::string path = dir.File("out.h5");
  std::ofstream(path) << "old";
  OutputLayoutSpec spec = SmallSpec();
  spec.outputs.push_back(spec.outputs[0]);  // two datasets named "energy"
  try {
    CreateOutputFile(path, spec);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("energy"), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), ExitCode::kFailure);
  }
  EXPECT_EQ(Slurp(path), "old");
  EXPECT_NE(access((path + ".tmp-" + std::to_string(getpid())).c_str(), F_OK), 0);
}

ExitCode CodeOfReading(const std::string& path, std::string* message) {
  try {
    ReadOutputLayout(path);
  } catch (const Error& e) {
    *message = e.what();
    return e.code();
  }
  return ExitCode::kOk;
}

TEST(OutputFileTest, RefusesFilesThatAreNotSweepFiles) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(CodeOfReading(dir.File("missing.h5"), &message), ExitCode::kUsage);
  EXPECT_NE(message.find("missing.h5"), std::string::npos) << message;

  std::ofstream(dir.File("text.h5")) << "not hdf5 at all";
  EXPECT_EQ(CodeOfReading(dir.File("text.h5"), &message), ExitCode::kUsage);
  EXPECT_NE(message.find("not a sweep output file"), std::string::npos) << message;

  {
    hdf5::ErrorSilencer quiet;
    hdf5::Handle file = hdf5::CreateFile(dir.File("plain.h5"));
  }
  EXPECT_EQ(CodeOfReading(dir.File("plain.h5"), &message), ExitCode::kUsage);
  EXPECT_NE(message.find("no 'format' attribute"), std::string::npos) << message;

  {
    hdf5::ErrorSilencer quiet;
    hdf5::Handle file = hdf5::CreateFile(dir.File("future.h5"));
    hdf5::WriteAttribute(file.id(), "format", std::string("sweep/4"));
  }
  EXPECT_EQ(CodeOfReading(dir.File("future.h5"), &message), ExitCode::kUsage);
  EXPECT_NE(message.find("'sweep/4'"), std::string::npos) << message;
  EXPECT_NE(message.find("'sweep/3'"), std::string::npos) << message;

  // A file of the previous format is refused with what to do about it.
  {
    hdf5::ErrorSilencer quiet;
    hdf5::Handle file = hdf5::CreateFile(dir.File("old.h5"));
    hdf5::WriteAttribute(file.id(), "format", std::string("sweep/1"));
  }
  EXPECT_EQ(CodeOfReading(dir.File("old.h5"), &message), ExitCode::kUsage);
  EXPECT_NE(message.find("'sweep/1'"), std::string::npos) << message;
  EXPECT_NE(message.find("sweep run CONFIG --force"), std::string::npos) << message;
}

}  // namespace
}  // namespace sweep
