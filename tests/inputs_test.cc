#include "io/inputs.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "io/error.h"
#include "io/hdf5.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

// Writes an npy file byte by byte as numpy does: magic, version, header length, the header dict
// padded with spaces to a multiple of 64 bytes and ended by '\n', then the data.
void WriteNpy(const std::string& path, const std::string& descr, const std::string& shape,
              const void* data, size_t bytes, int major = 1, bool fortran = false) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                     ", 'shape': " + shape + ", }";
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string file = "\x93NUMPY";
  file += static_cast<char>(major);
  file += '\0';
  uint32_t length = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < prefix - 8; ++i) file += static_cast<char>(length >> (8 * i));
  file += dict;
  file.append(static_cast<const char*>(data), bytes);
  std::ofstream(path, std::ios::binary) << file;
}

void WriteBytes(const std::string& path, const void* data, size_t bytes) {
  std::ofstream(path, std::ios::binary).write(static_cast<const char*>(data), bytes);
}

// Writes one dataset `name` of `file_type` holding `data` (of `memory_type`).
void WriteHdf5(const std::string& path, const std::string& name, hid_t file_type, hid_t memory_type,
               const std::vector<uint64_t>& dims, const void* data,
               const std::vector<uint64_t>& chunk = {}) {
  hdf5::ErrorSilencer quiet;
  hdf5::Handle file = hdf5::CreateFile(path);
  hdf5::Handle group = hdf5::CreateGroup(file.id(), "fields");
  hdf5::Handle dcpl = hdf5::CreateDatasetPlist();
  if (!chunk.empty()) {
    hdf5::SetChunked(dcpl.id(), chunk);
    hdf5::SetDeflate(dcpl.id(), 6);
  }
  hdf5::Handle space = hdf5::SimpleSpace(dims);
  hdf5::Handle dataset = hdf5::CreateDataset(group.id(), name, file_type, space.id(), dcpl.id());
  hdf5::Write(dataset.id(), memory_type, H5S_ALL, H5S_ALL, data);
}

InputSpec Spec(InputSpec::Kind kind, const std::string& name, int line) {
  InputSpec spec;
  spec.kind = kind;
  spec.name = name;
  spec.where = {"test.yaml", line, 5};
  return spec;
}

InputSpec Npy(const std::string& name, const std::string& path, int line = 1) {
  InputSpec spec = Spec(InputSpec::Kind::kNpy, name, line);
  spec.path = path;
  return spec;
}

InputSpec Hdf5(const std::string& name, const std::string& path, const std::string& dataset,
               int line = 1) {
  InputSpec spec = Spec(InputSpec::Kind::kHdf5, name, line);
  spec.path = path;
  spec.dataset = dataset;
  return spec;
}

InputSpec Raw(const std::string& name, const std::string& path, const std::string& dtype,
              std::vector<int64_t> shape, int line = 1) {
  InputSpec spec = Spec(InputSpec::Kind::kRaw, name, line);
  spec.path = path;
  spec.dtype = dtype;
  spec.shape = std::move(shape);
  return spec;
}

InputSpec Generate(const std::string& name, const std::string& distribution,
                   const std::string& dtype, std::vector<int64_t> shape, uint64_t seed,
                   int line = 1) {
  InputSpec spec = Spec(InputSpec::Kind::kGenerate, name, line);
  spec.distribution = distribution;
  spec.dtype = dtype;
  spec.shape = std::move(shape);
  spec.seed = seed;
  return spec;
}

// The file name /proc/self/maps gives for the mapping that holds `address`, or "".
std::string MappedFileOf(const void* address) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  auto target = reinterpret_cast<uintptr_t>(address);
  while (std::getline(maps, line)) {
    std::istringstream fields(line);
    std::string range, perms, offset, device, inode, path;
    fields >> range >> perms >> offset >> device >> inode;
    std::getline(fields >> std::ws, path);
    uintptr_t start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    uintptr_t end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    if (start <= target && target < end) return perms.substr(0, 2) == "r-" ? path : "writable";
  }
  return "";
}

template <typename T>
std::vector<T> Values(const sweep_array& view) {
  size_t n = 1;
  for (int d = 0; d < view.rank; ++d) n *= static_cast<size_t>(view.shape[d]);
  const T* data = static_cast<const T*>(view.data);
  return std::vector<T>(data, data + n);
}

std::vector<int64_t> Shape(const sweep_array& view) {
  return std::vector<int64_t>(view.shape, view.shape + view.rank);
}

TEST(InputsTest, NpyFilesAreMappedFromTheFileWithoutACopy) {
  TempDir dir;
  double a[12];
  for (int i = 0; i < 12; ++i) a[i] = 0.5 * i;
  WriteNpy(dir.File("a.npy"), "<f8", "(3, 4)", a, sizeof a);
  int32_t b[5] = {-2, -1, 0, 1, 2};
  WriteNpy(dir.File("b.npy"), "<i4", "(5,)", b, sizeof b, /*major=*/2);
  uint8_t c = 200;
  WriteNpy(dir.File("c.npy"), "|u1", "()", &c, 1, /*major=*/3);

  PublishedInputs published = PublishInputs(
      {Npy("a", dir.File("a.npy")), Npy("b", dir.File("b.npy")), Npy("c", dir.File("c.npy"))});
  ASSERT_EQ(published.inputs().size(), 3u);
  const PublishedInput& pa = published.inputs()[0];
  EXPECT_FALSE(pa.memfd);
  EXPECT_EQ(pa.path, dir.File("a.npy"));
  EXPECT_EQ(pa.offset, 128u);
  EXPECT_EQ(pa.bytes, 96u);
  EXPECT_EQ(published.inputs()[1].offset, 128u);

  MappedInputs mapped(published.inputs());
  ASSERT_EQ(mapped.size(), 3u);
  const sweep_array& va = mapped.views()[0];
  EXPECT_EQ(va.dtype, SWEEP_FLOAT64);
  EXPECT_EQ(Shape(va), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Values<double>(va), std::vector<double>(a, a + 12));
  EXPECT_EQ(Values<int32_t>(mapped.views()[1]), std::vector<int32_t>(b, b + 5));
  EXPECT_EQ(mapped.views()[2].rank, 0);
  EXPECT_EQ(Values<uint8_t>(mapped.views()[2]), std::vector<uint8_t>{200});
  EXPECT_EQ(mapped.Find("b"), &mapped.views()[1]);
  EXPECT_EQ(mapped.Find("nope"), nullptr);

  // Zero copy: the views point into read-only mappings of the files themselves.
  EXPECT_EQ(MappedFileOf(va.data), dir.File("a.npy"));
  EXPECT_EQ(MappedFileOf(mapped.views()[1].data), dir.File("b.npy"));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(va.data) % 4096, 128u);
}

TEST(InputsTest, ContiguousHdf5IsMappedFromTheFile) {
  TempDir dir;
  float t[6] = {1.5f, -2.5f, 3, 4, 5, 6.25f};
  WriteHdf5(dir.File("f.h5"), "T0", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {2, 3}, t);
  PublishedInputs published = PublishInputs({Hdf5("field", dir.File("f.h5"), "/fields/T0")});
  const PublishedInput& p = published.inputs()[0];
  EXPECT_FALSE(p.memfd);
  EXPECT_EQ(p.path, dir.File("f.h5"));
  EXPECT_EQ(p.bytes, 24u);
  MappedInputs mapped(published.inputs());
  EXPECT_EQ(mapped.views()[0].dtype, SWEEP_FLOAT32);
  EXPECT_EQ(Shape(mapped.views()[0]), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Values<float>(mapped.views()[0]), std::vector<float>(t, t + 6));
  EXPECT_EQ(MappedFileOf(mapped.views()[0].data), dir.File("f.h5"));
}

TEST(InputsTest, ChunkedCompressedOrBigEndianHdf5GoesToAMemfd) {
  TempDir dir;
  std::vector<int64_t> big(100 * 7);
  for (size_t i = 0; i < big.size(); ++i) big[i] = int64_t(i * i) - 1000;
  WriteHdf5(dir.File("z.h5"), "counts", H5T_STD_I64LE, H5T_NATIVE_INT64, {100, 7}, big.data(),
            /*chunk=*/{10, 7});
  double be[3] = {1.0, -2.0, 0.125};
  WriteHdf5(dir.File("be.h5"), "x", H5T_IEEE_F64BE, H5T_NATIVE_DOUBLE, {3}, be);

  PublishedInputs published = PublishInputs({Hdf5("counts", dir.File("z.h5"), "/fields/counts"),
                                             Hdf5("be", dir.File("be.h5"), "fields/x")});
  for (const PublishedInput& p : published.inputs()) {
    EXPECT_TRUE(p.memfd) << p.name;
    EXPECT_GE(p.fd, 0);
    EXPECT_EQ(p.pid, getpid());
    EXPECT_EQ(p.offset, 0u);
  }
  MappedInputs mapped(published.inputs());
  EXPECT_EQ(mapped.views()[0].dtype, SWEEP_INT64);
  EXPECT_EQ(Shape(mapped.views()[0]), (std::vector<int64_t>{100, 7}));
  EXPECT_EQ(Values<int64_t>(mapped.views()[0]), big);
  EXPECT_EQ(Values<double>(mapped.views()[1]), std::vector<double>(be, be + 3));
  EXPECT_EQ(MappedFileOf(mapped.views()[0].data).rfind("/memfd:sweep-input-counts", 0), 0u)
      << MappedFileOf(mapped.views()[0].data);
}

TEST(InputsTest, RawFilesAreFrozenInAMemfd) {
  TempDir dir;
  int32_t raw[6] = {10, 20, 30, 40, 50, 60};
  WriteBytes(dir.File("r.bin"), raw, sizeof raw);
  PublishedInputs published = PublishInputs({Raw("r", dir.File("r.bin"), "int32", {2, 3})});
  EXPECT_TRUE(published.inputs()[0].memfd);
  int32_t changed[6] = {};
  WriteBytes(dir.File("r.bin"), changed, sizeof changed);
  MappedInputs mapped(published.inputs());
  EXPECT_EQ(Shape(mapped.views()[0]), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(Values<int32_t>(mapped.views()[0]), std::vector<int32_t>(raw, raw + 6));
}

TEST(InputsTest, GeneratedNormalIsStandardAndDeterministic) {
  const int64_t n = 200000;
  PublishedInputs published = PublishInputs(
      {Generate("a", "normal", "float64", {n}, 7), Generate("b", "normal", "float64", {n}, 7),
       Generate("c", "normal", "float64", {n}, 8), Generate("d", "normal", "float32", {1001}, 7)});
  MappedInputs mapped(published.inputs());
  std::vector<double> a = Values<double>(mapped.views()[0]);
  // The first values, from an independent Python implementation of the header's algorithm.
  EXPECT_NEAR(a[0], -0.2790239910251981, 1e-15);
  EXPECT_NEAR(a[1], 1.5277231859624536, 1e-15);
  EXPECT_NEAR(a[2], 1.8997685786889567, 1e-15);
  EXPECT_NEAR(a[3], -0.2266957459968598, 1e-15);

  double sum = 0, sum2 = 0;
  int within_one = 0;
  for (double x : a) {
    sum += x;
    sum2 += x * x;
    within_one += std::abs(x) < 1;
  }
  double mean = sum / n, sd = std::sqrt(sum2 / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.01);  // standard error 0.0022
  EXPECT_NEAR(sd, 1.0, 0.01);    // standard error 0.0016
  EXPECT_NEAR(double(within_one) / n, 0.6827, 0.006);

  EXPECT_EQ(std::memcmp(mapped.views()[0].data, mapped.views()[1].data, n * 8), 0);
  EXPECT_NE(std::memcmp(mapped.views()[0].data, mapped.views()[2].data, n * 8), 0);
  std::vector<float> d = Values<float>(mapped.views()[3]);
  ASSERT_EQ(d.size(), 1001u);
  EXPECT_EQ(d[0], float(a[0]));
  EXPECT_EQ(d[1000], float(a[1000]));
}

TEST(InputsTest, GeneratedUniformZerosAndArange) {
  PublishedInputs published = PublishInputs(
      {Generate("u", "uniform", "float64", {100000}, 7), Generate("z", "zeros", "int32", {3, 4}, 0),
       Generate("i", "arange", "int64", {2, 5}, 0), Generate("w", "arange", "uint8", {300}, 0)});
  MappedInputs mapped(published.inputs());
  std::vector<double> u = Values<double>(mapped.views()[0]);
  EXPECT_EQ(u[0], 0.7005764821796896);
  EXPECT_EQ(u[1], 0.2787512294737843);
  EXPECT_EQ(u[2], 0.8396274618764198);
  double sum = 0;
  for (double x : u) {
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
    sum += x;
  }
  EXPECT_NEAR(sum / u.size(), 0.5, 0.005);
  EXPECT_EQ(Values<int32_t>(mapped.views()[1]), std::vector<int32_t>(12, 0));
  EXPECT_EQ(Values<int64_t>(mapped.views()[2]),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  std::vector<uint8_t> w = Values<uint8_t>(mapped.views()[3]);
  EXPECT_EQ(w[255], 255);
  EXPECT_EQ(w[299], 43);
}

TEST(InputsTest, MemfdsAreSealedAndCloseOnExec) {
  PublishedInputs published = PublishInputs({Generate("g", "arange", "float64", {1024}, 0)});
  int fd = published.inputs()[0].fd;
  ASSERT_GE(fd, 0);
  EXPECT_EQ(fcntl(fd, F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  double value = 1;
  EXPECT_EQ(pwrite(fd, &value, sizeof value, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(ftruncate(fd, 0), -1);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  EXPECT_EQ(fcntl(fd, F_ADD_SEALS, 0), -1);  // F_SEAL_SEAL: the seals are final
}

TEST(InputsTest, PublishedInputsCloseTheirMemfds) {
  int fd;
  {
    PublishedInputs published = PublishInputs({Generate("g", "zeros", "uint8", {10}, 0)});
    fd = published.inputs()[0].fd;
    EXPECT_NE(fcntl(fd, F_GETFD), -1);
  }
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

// A kernel that writes to an input dies with SIGSEGV, whether the input is a file or a memfd.
TEST(InputsTest, WritingToAViewFaults) {
  TempDir dir;
  double a[4] = {1, 2, 3, 4};
  WriteNpy(dir.File("a.npy"), "<f8", "(4,)", a, sizeof a);
  PublishedInputs published =
      PublishInputs({Npy("a", dir.File("a.npy")), Generate("g", "arange", "float64", {4}, 0)});
  MappedInputs mapped(published.inputs());
  for (const sweep_array& view : mapped.views()) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would turn the fault into an exit
      *static_cast<volatile double*>(view.data) = 99;
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the write did not fault";
    EXPECT_EQ(WTERMSIG(status), SIGSEGV);
    EXPECT_EQ(static_cast<const double*>(view.data)[0],
              view.data == mapped.views()[0].data ? 1 : 0);
  }
}

// A spawned worker that did not inherit the memfd reopens it through /proc/<pid>/fd/<fd>.
TEST(InputsTest, AWorkerWithoutTheDescriptorReopensTheMemfdThroughProc) {
  PublishedInputs published = PublishInputs({Generate("g", "arange", "int32", {5000}, 0)});
  std::string description = DescribeInputs(published.inputs());
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::vector<PublishedInput> inputs = ParseInputs(description);
    close(inputs[0].fd);
    MappedInputs mapped(inputs);
    const int32_t* data = static_cast<const int32_t*>(mapped.views()[0].data);
    _exit(data[0] == 0 && data[4999] == 4999 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(InputsTest, BadInputsAreUsageErrorsNamingTheirKeys) {
  TempDir dir;
  double a[4] = {1, 2, 3, 4};
  WriteNpy(dir.File("fortran.npy"), "<f8", "(2, 2)", a, sizeof a, 1, /*fortran=*/true);
  WriteNpy(dir.File("big.npy"), ">f8", "(4,)", a, sizeof a);
  WriteNpy(dir.File("short.npy"), "<f8", "(5,)", a, sizeof a);
  WriteBytes(dir.File("r.bin"), a, sizeof a);
  WriteHdf5(dir.File("f.h5"), "T0", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, {4}, a);
  std::vector<InputSpec> inputs = {Npy("missing", dir.File("missing.npy"), 3),
                                   Npy("fortran", dir.File("fortran.npy"), 4),
                                   Npy("bigendian", dir.File("big.npy"), 5),
                                   Npy("truncated", dir.File("short.npy"), 6),
                                   Npy("notnpy", dir.File("r.bin"), 7),
                                   Raw("raw", dir.File("r.bin"), "float64", {5}, 8),
                                   Hdf5("nodataset", dir.File("f.h5"), "/fields/T1", 9),
                                   Hdf5("nothdf5", dir.File("r.bin"), "/x", 10),
                                   Generate("intnormal", "normal", "int32", {4}, 0, 11),
                                   Generate("poisson", "poisson", "float64", {4}, 0, 12),
                                   Generate("rank5", "zeros", "float64", {1, 1, 1, 1, 1}, 0, 13),
                                   Generate("fine", "zeros", "float64", {4}, 0, 14)};
  try {
    PublishInputs(inputs);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    const std::vector<Diagnostic>& d = e.diagnostics();
    ASSERT_EQ(d.size(), 11u) << e.what();
    for (size_t i = 0; i < d.size(); ++i) {
      EXPECT_EQ(d[i].key_path, "inputs." + inputs[i].name);
      EXPECT_EQ(d[i].where.file, "test.yaml");
      EXPECT_EQ(d[i].where.line, inputs[i].where.line);
    }
    std::string text = e.what();
    EXPECT_NE(text.find("test.yaml:3:5: inputs.missing: cannot read"), std::string::npos) << text;
    EXPECT_NE(d[1].message.find("Fortran order"), std::string::npos) << d[1].message;
    EXPECT_NE(d[2].message.find("'>f8'"), std::string::npos) << d[2].message;
    EXPECT_NE(d[3].message.find("file is 160 bytes, its npy header promises 168"),
              std::string::npos)
        << d[3].message;
    EXPECT_NE(d[4].message.find("not an npy file"), std::string::npos) << d[4].message;
    EXPECT_NE(d[5].message.find("is 32 bytes; shape and float64 need 40"), std::string::npos)
        << d[5].message;
    EXPECT_NE(d[6].message.find("no dataset '/fields/T1'"), std::string::npos) << d[6].message;
    EXPECT_NE(d[7].message.find("not an HDF5 file"), std::string::npos) << d[7].message;
    EXPECT_NE(d[8].message.find("normal needs dtype float64 or float32"), std::string::npos);
    EXPECT_NE(d[9].message.find("unknown distribution 'poisson'"), std::string::npos);
    EXPECT_NE(d[10].message.find("rank 5"), std::string::npos) << d[10].message;
  }
}

TEST(InputsTest, DescriptionRoundTrips) {
  PublishedInput file_input;
  file_input.name = "A";
  file_input.dtype = SWEEP_FLOAT32;
  file_input.shape = {3, 4};
  file_input.path = "/data/a b/\"quoted\".npy";
  file_input.offset = 128;
  file_input.bytes = 48;
  PublishedInput memfd_input;
  memfd_input.name = "noise";
  memfd_input.dtype = SWEEP_UINT8;
  memfd_input.memfd = true;
  memfd_input.fd = 7;
  memfd_input.pid = 4242;
  memfd_input.inode = 9'000'000'000ull;
  memfd_input.bytes = 1;
  std::vector<PublishedInput> parsed = ParseInputs(DescribeInputs({file_input, memfd_input}));
  ASSERT_EQ(parsed.size(), 2u);
  EXPECT_EQ(parsed[0].name, "A");
  EXPECT_EQ(parsed[0].dtype, SWEEP_FLOAT32);
  EXPECT_EQ(parsed[0].shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(parsed[0].path, file_input.path);
  EXPECT_FALSE(parsed[0].memfd);
  EXPECT_EQ(parsed[0].offset, 128u);
  EXPECT_EQ(parsed[0].bytes, 48u);
  EXPECT_EQ(parsed[1].name, "noise");
  EXPECT_TRUE(parsed[1].memfd);
  EXPECT_EQ(parsed[1].fd, 7);
  EXPECT_EQ(parsed[1].pid, 4242);
  EXPECT_EQ(parsed[1].inode, 9'000'000'000ull);
  EXPECT_TRUE(parsed[1].shape.empty());

  EXPECT_THROW(ParseInputs("not json"), Error);
  EXPECT_THROW(ParseInputs(R"({"format": "sweep-inputs/2", "inputs": []})"), Error);
  EXPECT_THROW(ParseInputs(R"({"format": "sweep-inputs/1", "inputs": [{"name": "x"}]})"), Error);
  file_input.bytes = 47;  // does not match shape and dtype
  EXPECT_THROW(ParseInputs(DescribeInputs({file_input})), Error);
}

}  // namespace
}  // namespace sweep
