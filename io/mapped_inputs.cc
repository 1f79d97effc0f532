// The worker's side of io/inputs.h: the published inputs as text, and their read-only mappings.
// Kept apart from publishing (io/inputs.cc) so that a worker needs no HDF5 at all.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "io/error.h"
#include "io/inputs.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

constexpr char kDescribeFormat[] = "sweep-inputs/1";

std::string SystemError(const std::string& what) { return what + ": " + std::strerror(errno); }

std::optional<uint64_t> ByteCount(const std::vector<int64_t>& shape, int dtype) {
  uint64_t bytes = DtypeSize(dtype);
  for (int64_t n : shape) {
    if (n < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(n), &bytes)) {
      return std::nullopt;
    }
  }
  return bytes;
}

}  // namespace

std::string DescribeInputs(const std::vector<PublishedInput>& inputs) {
  nlohmann::json list = nlohmann::json::array();
  for (const PublishedInput& input : inputs) {
    list.push_back({{"name", input.name},
                    {"dtype", input.dtype},
                    {"shape", input.shape},
                    {"path", input.path},
                    {"memfd", input.memfd},
                    {"fd", input.fd},
                    {"pid", input.pid},
                    {"inode", input.inode},
                    {"offset", input.offset},
                    {"bytes", input.bytes}});
  }
  return nlohmann::json{{"format", kDescribeFormat}, {"inputs", list}}.dump();
}

std::vector<PublishedInput> ParseInputs(const std::string& text) {
  std::vector<PublishedInput> inputs;
  try {
    nlohmann::json json = nlohmann::json::parse(text);
    std::string format = json.at("format").get<std::string>();
    if (format != kDescribeFormat) {
      throw Error("input description format '" + format + "' differs from this sweep's '" +
                  kDescribeFormat + "'");
    }
    for (const nlohmann::json& item : json.at("inputs")) {
      PublishedInput input;
      input.name = item.at("name").get<std::string>();
      input.dtype = item.at("dtype").get<int>();
      input.shape = item.at("shape").get<std::vector<int64_t>>();
      input.path = item.at("path").get<std::string>();
      input.memfd = item.at("memfd").get<bool>();
      input.fd = item.at("fd").get<int>();
      input.pid = item.at("pid").get<int>();
      input.inode = item.at("inode").get<uint64_t>();
      input.offset = item.at("offset").get<uint64_t>();
      input.bytes = item.at("bytes").get<uint64_t>();
      std::optional<uint64_t> bytes = ByteCount(input.shape, input.dtype);
      if (DtypeSize(input.dtype) == 0 || input.shape.size() > SWEEP_MAX_RANK || !bytes ||
          *bytes != input.bytes) {
        throw Error("input description of '" + input.name + "' is inconsistent");
      }
      inputs.push_back(std::move(input));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed input description: ") + e.what());
  }
  return inputs;
}

// --- mapping -------------------------------------------------------------------------------

namespace {

// A descriptor to map `input` from: the inherited memfd itself when this process has it, else a
// fresh one (owned: *close_after set).
int OpenForMapping(const PublishedInput& input, bool* close_after) {
  if (input.memfd) {
    struct stat info;
    if (input.fd >= 0 && fstat(input.fd, &info) == 0 &&
        static_cast<uint64_t>(info.st_ino) == input.inode && S_ISREG(info.st_mode)) {
      *close_after = false;
      return input.fd;
    }
    std::string proc = "/proc/" + std::to_string(input.pid) + "/fd/" + std::to_string(input.fd);
    int fd = open(proc.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(SystemError("input '" + input.name + "': cannot reopen " + proc));
    if (fstat(fd, &info) != 0 || static_cast<uint64_t>(info.st_ino) != input.inode) {
      close(fd);
      throw Error("input '" + input.name + "': " + proc + " is no longer its memfd");
    }
    *close_after = true;
    return fd;
  }
  int fd = open(input.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error(SystemError("input '" + input.name + "': cannot open '" + input.path + "'"));
  *close_after = true;
  return fd;
}

}  // namespace

MappedInputs::MappedInputs(const std::vector<PublishedInput>& inputs) {
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  try {
    for (const PublishedInput& input : inputs) {
      sweep_array view{};
      view.dtype = input.dtype;
      view.rank = static_cast<int>(input.shape.size());
      for (int d = 0; d < view.rank && d < SWEEP_MAX_RANK; ++d) view.shape[d] = input.shape[d];
      if (input.bytes > 0) {
        bool close_after = false;
        int fd = OpenForMapping(input, &close_after);
        struct stat info;
        if (fstat(fd, &info) != 0 ||
            static_cast<uint64_t>(info.st_size) < input.offset + input.bytes) {
          if (close_after) close(fd);
          throw Error("input '" + input.name + "': '" + input.path +
                      "' is shorter than when the run started");
        }
        // mmap wants a page-aligned file offset; npy and HDF5 data rarely start on one.
        uint64_t start = input.offset / page * page;
        size_t length = static_cast<size_t>(input.bytes + (input.offset - start));
        void* address = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(start));
        int error = errno;
        if (close_after) close(fd);
        if (address == MAP_FAILED) {
          errno = error;
          throw Error(SystemError("input '" + input.name + "': mmap"));
        }
        mappings_.push_back({address, length});
        view.data = static_cast<char*>(address) + (input.offset - start);
      }
      names_.push_back(input.name);
      views_.push_back(view);
    }
  } catch (...) {
    for (const Mapping& mapping : mappings_) munmap(mapping.address, mapping.length);
    throw;
  }
}

MappedInputs::~MappedInputs() {
  for (const Mapping& mapping : mappings_) munmap(mapping.address, mapping.length);
}

const sweep_array* MappedInputs::Find(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return &views_[i];
  }
  return nullptr;
}

}  // namespace sweep
