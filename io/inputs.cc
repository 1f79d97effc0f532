#include "io/inputs.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "io/byte_count.h"
#include "io/error.h"
#include "io/hdf5.h"
#include "kernels/dtype.h"
#include "kernels/random.h"

namespace sweep {
namespace {

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

// Elements * item size, or nullopt when a dimension is negative or the product overflows.
std::optional<uint64_t> ByteCount(const std::vector<int64_t>& shape, int dtype) {
  uint64_t bytes = DtypeSize(dtype);
  for (int64_t n : shape) {
    if (n < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(n), &bytes)) {
      return std::nullopt;
    }
  }
  return bytes;
}

// --- npy -----------------------------------------------------------------------------------

// The header of an npy file: the Python dict literal numpy writes, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;
};

class NpyDictParser {
 public:
  explicit NpyDictParser(const std::string& text) : text_(text) {}

  // Returns "" on success, else what is wrong.
  std::string Parse(NpyHeader& header) {
    Skip();
    if (!Eat('{')) return "header is not a dict";
    bool seen_descr = false, seen_order = false, seen_shape = false;
    while (Skip(), !Eat('}')) {
      std::optional<std::string> key = String();
      if (!key || (Skip(), !Eat(':'))) return "header dict is malformed";
      Skip();
      if (*key == "descr") {
        std::optional<std::string> descr = String();
        if (!descr) return "descr is not a simple dtype string";
        header.descr = *descr;
        seen_descr = true;
      } else if (*key == "fortran_order") {
        if (Word("True")) {
          header.fortran_order = true;
        } else if (Word("False")) {
          header.fortran_order = false;
        } else {
          return "fortran_order is not True or False";
        }
        seen_order = true;
      } else if (*key == "shape") {
        if (!Shape(header.shape)) return "shape is not a tuple of integers";
        seen_shape = true;
      } else {
        return "unknown header key '" + *key + "'";
      }
      Skip();
      if (!Eat(',')) {
        Skip();
        if (!Eat('}')) return "header dict is malformed";
        break;
      }
    }
    if (!seen_descr || !seen_order || !seen_shape) {
      return "header lacks descr, fortran_order or shape";
    }
    return "";
  }

 private:
  void Skip() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Word(const char* word) {
    size_t n = std::strlen(word);
    if (text_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }
  std::optional<std::string> String() {
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    char quote = text_[pos_++];
    size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) return std::nullopt;
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }
  bool Shape(std::vector<int64_t>& shape) {
    if (!Eat('(')) return false;
    while (Skip(), !Eat(')')) {
      size_t start = pos_;
      while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) ++pos_;
      if (pos_ == start || pos_ - start > 18) return false;
      shape.push_back(std::stoll(text_.substr(start, pos_ - start)));
      Skip();
      if (!Eat(',')) {
        Skip();
        return Eat(')');
      }
    }
    return true;
  }

  const std::string& text_;
  size_t pos_ = 0;
};

// Returns "" on success, else what is wrong with the file.
std::string ReadNpyHeader(int fd, NpyHeader& header) {
  unsigned char start[12];
  ssize_t got = pread(fd, start, sizeof start, 0);
  if (got < 10 || std::memcmp(start, "\x93NUMPY", 6) != 0) return "not an npy file (no magic)";
  int major = start[6], minor = start[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    return "npy version " + std::to_string(major) + "." + std::to_string(minor) +
           " is not 1.0, 2.0 or 3.0";
  }
  uint64_t header_length;
  uint64_t prefix;
  if (major == 1) {
    header_length = start[8] | uint64_t{start[9]} << 8;
    prefix = 10;
  } else {
    if (got < 12) return "npy header is truncated";
    header_length =
        start[8] | uint64_t{start[9]} << 8 | uint64_t{start[10]} << 16 | uint64_t{start[11]} << 24;
    prefix = 12;
  }
  if (header_length > (uint64_t{1} << 20)) return "npy header is absurdly long";
  std::string text(header_length, '\0');
  if (pread(fd, text.data(), header_length, static_cast<off_t>(prefix)) !=
      static_cast<ssize_t>(header_length)) {
    return "npy header is truncated";
  }
  header.data_offset = prefix + header_length;
  std::string problem = NpyDictParser(text).Parse(header);
  return problem.empty() ? "" : "npy " + problem;
}

std::optional<int> DtypeOfDescr(const std::string& descr) {
  if (descr == "<f8") return SWEEP_FLOAT64;
  if (descr == "<f4") return SWEEP_FLOAT32;
  if (descr == "<i8") return SWEEP_INT64;
  if (descr == "<i4") return SWEEP_INT32;
  if (descr == "|u1") return SWEEP_UINT8;
  return std::nullopt;
}

// --- generation ----------------------------------------------------------------------------

template <typename T>
void Generate(const InputSpec& spec, T* out, uint64_t n) {
  Xoshiro256 random(spec.seed);
  if (spec.distribution == "uniform") {
    for (uint64_t i = 0; i < n; ++i) {
      if constexpr (std::is_same_v<T, float>) {
        out[i] = random.UniformFloat();
      } else {
        out[i] = static_cast<T>(random.Uniform());
      }
    }
  } else if (spec.distribution == "normal") {
    for (uint64_t i = 0; i < n; i += 2) {
      const double u1 = 1.0 - random.Uniform();  // (0, 1]: log(u1) is finite
      const double u2 = random.Uniform();
      const NormalPair pair = BoxMuller(u1, u2);
      out[i] = static_cast<T>(pair.first);
      if (i + 1 < n) out[i + 1] = static_cast<T>(pair.second);
    }
  } else if (spec.distribution == "arange") {
    for (uint64_t i = 0; i < n; ++i) out[i] = static_cast<T>(i);
  }
  // zeros: a fresh memfd already reads as zeros.
}

void GenerateInto(const InputSpec& spec, int dtype, void* out, uint64_t n) {
  switch (dtype) {
    case SWEEP_FLOAT64:
      return Generate(spec, static_cast<double*>(out), n);
    case SWEEP_FLOAT32:
      return Generate(spec, static_cast<float*>(out), n);
    case SWEEP_INT64:
      return Generate(spec, static_cast<int64_t*>(out), n);
    case SWEEP_INT32:
      return Generate(spec, static_cast<int32_t*>(out), n);
    case SWEEP_UINT8:
      return Generate(spec, static_cast<uint8_t*>(out), n);
  }
}

// --- memfds --------------------------------------------------------------------------------

// A memfd of `bytes` bytes whose pages `fill` writes through a temporary writable mapping,
// then sealed. Returns its descriptor (close-on-exec) and inode.
std::pair<int, uint64_t> SealedMemfd(const std::string& name, uint64_t bytes,
                                     const std::function<void(void*)>& fill) {
  std::string label = ("sweep-input-" + name).substr(0, 249);
  int fd = memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) throw Error(SystemError("input '" + name + "': memfd_create"));
  try {
    // fallocate reserves the pages now: running out of memory is then an error here, not a
    // SIGBUS later in the middle of filling (or in a worker).
    if (bytes > 0 && fallocate(fd, 0, 0, static_cast<off_t>(bytes)) != 0) {
      throw Error(SystemError("input '" + name + "': cannot reserve " + std::to_string(bytes) +
                              " bytes of memory"));
    }
    if (bytes > 0) {
      void* data = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (data == MAP_FAILED) throw Error(SystemError("input '" + name + "': mmap"));
      try {
        fill(data);
      } catch (...) {
        munmap(data, bytes);
        throw;
      }
      // F_SEAL_WRITE is refused while a writable shared mapping exists.
      munmap(data, bytes);
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
      throw Error(SystemError("input '" + name + "': sealing its memfd"));
    }
    struct stat info;
    if (fstat(fd, &info) != 0) throw Error(SystemError("input '" + name + "': fstat"));
    return {fd, static_cast<uint64_t>(info.st_ino)};
  } catch (...) {
    close(fd);
    throw;
  }
}

// --- checking ------------------------------------------------------------------------------

// What publishing one input takes, decided while checking it.
struct Candidate {
  const InputSpec* spec = nullptr;
  PublishedInput published;
  bool read_hdf5 = false;  // materialise with H5Dread (else: generate, or copy a raw file)
};

class Checker {
 public:
  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

  std::optional<Candidate> Check(const InputSpec& spec) {
    spec_ = &spec;
    Candidate candidate;
    candidate.spec = &spec;
    candidate.published.name = spec.name;
    bool ok = false;
    switch (spec.kind) {
      case InputSpec::Kind::kNpy:
        ok = CheckNpy(candidate.published);
        break;
      case InputSpec::Kind::kHdf5:
        ok = CheckHdf5(candidate);
        break;
      case InputSpec::Kind::kRaw:
        ok = CheckRaw(candidate.published);
        break;
      case InputSpec::Kind::kGenerate:
        ok = CheckGenerate(candidate.published);
        break;
    }
    if (!ok) return std::nullopt;
    if (candidate.published.shape.size() > SWEEP_MAX_RANK) {
      return Problem("rank " + std::to_string(candidate.published.shape.size()) +
                     " exceeds the kernel interface's maximum of " +
                     std::to_string(SWEEP_MAX_RANK)),
             std::nullopt;
    }
    return candidate;
  }

 private:
  bool Problem(const std::string& message) {
    diagnostics_.push_back({spec_->where, "inputs." + spec_->name, message});
    return false;
  }

  // Opens the input's file and returns its absolute path and size, or reports why not.
  bool Stat(std::string& path, uint64_t& size) {
    char resolved[PATH_MAX];
    struct stat info;
    if (!realpath(spec_->path.c_str(), resolved) || stat(resolved, &info) != 0) {
      return Problem("cannot read '" + spec_->path + "': " + std::strerror(errno));
    }
    if (!S_ISREG(info.st_mode)) return Problem("'" + spec_->path + "' is not a regular file");
    path = resolved;
    size = static_cast<uint64_t>(info.st_size);
    return true;
  }

  bool CheckNpy(PublishedInput& published) {
    uint64_t size;
    if (!Stat(published.path, size)) return false;
    int fd = open(published.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Problem(SystemError("cannot open '" + spec_->path + "'"));
    NpyHeader header;
    std::string problem = ReadNpyHeader(fd, header);
    close(fd);
    if (!problem.empty()) return Problem("'" + spec_->path + "': " + problem);
    std::optional<int> dtype = DtypeOfDescr(header.descr);
    if (!dtype) {
      return Problem("'" + spec_->path + "': npy dtype '" + header.descr +
                     "' is not one of '<f8', '<f4', '<i8', '<i4', '|u1'");
    }
    if (header.fortran_order) {
      return Problem("'" + spec_->path +
                     "': npy array is in Fortran order; save it in C order "
                     "(numpy.ascontiguousarray)");
    }
    published.dtype = *dtype;
    published.shape = header.shape;
    std::optional<uint64_t> bytes = ByteCount(header.shape, *dtype);
    if (!bytes || header.data_offset + *bytes != size) {
      return Problem("'" + spec_->path + "': file is " + std::to_string(size) +
                     " bytes, its npy header promises " +
                     (bytes ? std::to_string(header.data_offset + *bytes) : "more"));
    }
    published.offset = header.data_offset;
    published.bytes = *bytes;
    return true;
  }

  bool CheckHdf5(Candidate& candidate) {
    PublishedInput& published = candidate.published;
    uint64_t size;
    if (!Stat(published.path, size)) return false;
    if (!hdf5::IsHdf5(published.path)) return Problem("'" + spec_->path + "' is not an HDF5 file");
    try {
      hdf5::Handle file = hdf5::OpenFileReadOnly(published.path);
      if (spec_->dataset.empty() || !hdf5::LinkExists(file.id(), spec_->dataset)) {
        return Problem("no dataset '" + spec_->dataset + "' in '" + spec_->path + "'");
      }
      hdf5::Handle dataset = hdf5::OpenDataset(file.id(), spec_->dataset);
      hdf5::Handle type = hdf5::DatasetType(dataset.id());
      std::optional<int> dtype = hdf5::SweepDtypeOf(type.id());
      if (!dtype) {
        return Problem("dataset '" + spec_->dataset + "' is " + hdf5::DescribeType(type.id()) +
                       "; inputs are float64, float32, int64, int32 or uint8");
      }
      published.dtype = *dtype;
      hdf5::Handle space = hdf5::DatasetSpace(dataset.id());
      for (uint64_t n : hdf5::SpaceDims(space.id())) {
        published.shape.push_back(static_cast<int64_t>(n));
      }
      std::optional<uint64_t> bytes = ByteCount(published.shape, *dtype);
      if (!bytes) return Problem("dataset '" + spec_->dataset + "' is too large");
      published.bytes = *bytes;
      // Map it from the file only if the file holds exactly the bytes a kernel expects.
      hdf5::Handle dcpl = hdf5::DatasetCreatePlist(dataset.id());
      std::optional<uint64_t> offset = hdf5::DatasetOffset(dataset.id());
      bool mappable =
          hdf5::Layout(dcpl.id()) == H5D_CONTIGUOUS && hdf5::ExternalFileCount(dcpl.id()) == 0 &&
          offset && hdf5::TypesEqual(type.id(), hdf5::NativeType(*dtype)) &&
          hdf5::StorageSize(dataset.id()) == published.bytes && *offset + published.bytes <= size;
      if (mappable) {
        published.offset = *offset;
      } else {
        candidate.read_hdf5 = true;
      }
      return true;
    } catch (const Error& e) {
      return Problem("'" + spec_->path + "': " + e.what());
    }
  }

  bool CheckRaw(PublishedInput& published) {
    const int dtype = DtypeFromName(spec_->dtype);
    if (dtype == 0) return Problem("unknown dtype '" + spec_->dtype + "'");
    uint64_t size;
    if (!Stat(published.path, size)) return false;
    published.dtype = dtype;
    published.shape = spec_->shape;
    std::optional<uint64_t> bytes = ByteCount(spec_->shape, dtype);
    if (!bytes) return Problem("shape has a negative or too large dimension");
    if (*bytes != size) {
      return Problem("'" + spec_->path + "' is " + std::to_string(size) + " bytes; shape and " +
                     spec_->dtype + " need " + std::to_string(*bytes));
    }
    published.bytes = *bytes;
    return true;
  }

  bool CheckGenerate(PublishedInput& published) {
    const int dtype = DtypeFromName(spec_->dtype);
    if (dtype == 0) return Problem("unknown dtype '" + spec_->dtype + "'");
    const std::string& d = spec_->distribution;
    if (d != "normal" && d != "uniform" && d != "zeros" && d != "arange") {
      return Problem("unknown distribution '" + d + "' (normal, uniform, zeros, arange)");
    }
    if ((d == "normal" || d == "uniform") && dtype != SWEEP_FLOAT64 && dtype != SWEEP_FLOAT32) {
      return Problem(d + " needs dtype float64 or float32, not " + spec_->dtype);
    }
    std::optional<uint64_t> bytes = ByteCount(spec_->shape, dtype);
    if (!bytes) return Problem("shape has a negative or too large dimension");
    published.dtype = dtype;
    published.shape = spec_->shape;
    published.bytes = *bytes;
    return true;
  }

  const InputSpec* spec_ = nullptr;
  std::vector<Diagnostic> diagnostics_;
};

// Fills a memfd with the input's bytes. Returns false after adding a Diagnostic when the input
// file cannot be read; THROWS Error when the machine fails (memory).
bool Materialise(Candidate& candidate, std::vector<Diagnostic>& diagnostics) {
  const InputSpec& spec = *candidate.spec;
  PublishedInput& published = candidate.published;
  std::function<void(void*)> fill;
  if (candidate.read_hdf5) {
    fill = [&](void* data) {
      hdf5::Handle file = hdf5::OpenFileReadOnly(published.path);
      hdf5::Handle dataset = hdf5::OpenDataset(file.id(), spec.dataset);
      hdf5::Read(dataset.id(), hdf5::NativeType(published.dtype), H5S_ALL, H5S_ALL, data);
    };
  } else if (spec.kind == InputSpec::Kind::kRaw) {
    fill = [&](void* data) {
      int fd = open(published.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw Error(SystemError("cannot open '" + spec.path + "'"));
      uint64_t done = 0;
      while (done < published.bytes) {
        ssize_t got = pread(fd, static_cast<char*>(data) + done, published.bytes - done,
                            static_cast<off_t>(done));
        if (got <= 0) {
          close(fd);
          throw Error(got < 0 ? SystemError("cannot read '" + spec.path + "'")
                              : "'" + spec.path + "' shrank while being read");
        }
        done += static_cast<uint64_t>(got);
      }
      close(fd);
    };
  } else {
    fill = [&](void* data) {
      GenerateInto(spec, published.dtype, data, published.bytes / DtypeSize(published.dtype));
    };
  }
  // A file that cannot be read is the config's problem; memory running out is not.
  auto read_file = [&](void* data) {
    try {
      fill(data);
    } catch (const Error& e) {
      throw Error(e.what(), ExitCode::kUsage);
    }
  };
  try {
    auto [fd, inode] = SealedMemfd(spec.name, published.bytes, read_file);
    published.memfd = true;
    published.path.clear();
    published.offset = 0;
    published.fd = fd;
    published.pid = getpid();
    published.inode = inode;
    return true;
  } catch (const Error& e) {
    if (e.code() != ExitCode::kUsage) throw;
    diagnostics.push_back({spec.where, "inputs." + spec.name, e.what()});
    return false;
  }
}

bool CopiedIntoMemory(const Candidate& candidate) {
  return candidate.read_hdf5 || candidate.spec->kind == InputSpec::Kind::kRaw ||
         candidate.spec->kind == InputSpec::Kind::kGenerate;
}

// Every input checked, before anything is read, generated or allocated: a typo in the last input
// must not cost a 1 GiB generation first. THROWS: ConfigError listing every bad input.
std::vector<Candidate> CheckAll(const std::vector<InputSpec>& inputs) {
  Checker checker;
  std::vector<Candidate> candidates;
  for (const InputSpec& spec : inputs) {
    if (std::optional<Candidate> candidate = checker.Check(spec)) {
      candidates.push_back(std::move(*candidate));
    }
  }
  if (!checker.diagnostics().empty()) throw ConfigError(checker.diagnostics());
  return candidates;
}

// How publishing copies an input into memory, for the message that refuses it.
std::string HowCopied(const Candidate& candidate) {
  switch (candidate.spec->kind) {
    case InputSpec::Kind::kGenerate:
      return "it is generated into memory";
    case InputSpec::Kind::kRaw:
      return "it is a raw file, copied into memory";
    default:
      return "it is an HDF5 dataset that cannot be mapped (chunked, compressed, or not in native "
             "byte order), read into memory";
  }
}

// THROWS: ConfigError at the largest input copied into memory when those inputs and `other`
// bytes exceed `available`.
void CheckFitsMemory(const std::vector<Candidate>& candidates, uint64_t other, uint64_t available) {
  uint64_t need = other;
  const Candidate* largest = nullptr;
  for (const Candidate& c : candidates) {
    if (!CopiedIntoMemory(c)) continue;
    if (__builtin_add_overflow(need, c.published.bytes, &need)) need = UINT64_MAX;
    if (!largest || c.published.bytes > largest->published.bytes) largest = &c;
  }
  if (!largest || need <= available) return;
  std::string message =
      "needs " + FormatBytes(largest->published.bytes) + " of memory (" + HowCopied(*largest) + ")";
  if (need != largest->published.bytes) {
    message +=
        "; with the other inputs copied into memory and the workers' result blocks the "
        "run needs " +
        FormatBytes(need);
  }
  message += ", but this machine has " + FormatBytes(available) +
             " available (free memory and swap, within its cgroup's limit)";
  throw ConfigError({{largest->spec->where, "inputs." + largest->spec->name, message}});
}

}  // namespace

PublishedInputs::PublishedInputs(PublishedInputs&& other) noexcept
    : inputs_(std::exchange(other.inputs_, {})) {}

PublishedInputs& PublishedInputs::operator=(PublishedInputs&& other) noexcept {
  if (this != &other) {
    CloseAll();
    inputs_ = std::exchange(other.inputs_, {});
  }
  return *this;
}

PublishedInputs::~PublishedInputs() { CloseAll(); }

void PublishedInputs::CloseAll() {
  for (PublishedInput& input : inputs_) {
    if (input.memfd && input.fd >= 0 && input.pid == getpid()) close(input.fd);
  }
  inputs_.clear();
}

std::vector<InputHeader> ReadInputHeaders(const std::vector<InputSpec>& inputs) {
  hdf5::ErrorSilencer quiet;
  const std::vector<Candidate> candidates = CheckAll(inputs);
  std::vector<InputHeader> headers;
  for (const Candidate& c : candidates) {
    headers.push_back(
        {c.published.dtype, c.published.shape, c.published.bytes, CopiedIntoMemory(c)});
  }
  return headers;
}

uint64_t AvailableMemoryBytes() {
  uint64_t available = UINT64_MAX;
  std::ifstream meminfo("/proc/meminfo");
  uint64_t mem_available = 0, swap_free = 0;
  bool known = false;
  for (std::string key; meminfo >> key;) {
    uint64_t kib = 0;
    meminfo >> kib;
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    if (key == "MemAvailable:") {
      mem_available = kib * 1024;
      known = true;
    }
    if (key == "SwapFree:") swap_free = kib * 1024;
  }
  if (known) available = mem_available + swap_free;
  // cgroup v2: "0::/the/group" in /proc/self/cgroup; its memory.max ("max" when unlimited).
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    const std::string folder = "/sys/fs/cgroup" + line.substr(3);
    uint64_t max = 0, current = 0;
    if ((std::ifstream(folder + "/memory.max") >> max) &&
        (std::ifstream(folder + "/memory.current") >> current)) {
      available = std::min(available, max > current ? max - current : 0);
    }
  }
  return available;
}

PublishedInputs PublishInputs(const std::vector<InputSpec>& inputs, uint64_t other_memory_bytes) {
  hdf5::ErrorSilencer quiet;
  std::vector<Candidate> candidates = CheckAll(inputs);
  CheckFitsMemory(candidates, other_memory_bytes, AvailableMemoryBytes());

  std::vector<PublishedInput> published;
  std::vector<Diagnostic> diagnostics;
  try {
    for (Candidate& candidate : candidates) {
      if (CopiedIntoMemory(candidate) && !Materialise(candidate, diagnostics)) continue;
      published.push_back(candidate.published);
    }
  } catch (...) {
    PublishedInputs discard(std::move(published));  // closes the memfds made so far
    throw;
  }
  PublishedInputs owner(std::move(published));
  if (!diagnostics.empty()) throw ConfigError(diagnostics);
  return owner;
}

}  // namespace sweep
