// Inputs: the arrays of a config's `inputs:` section, shared by every worker through mmap
// (DESIGN.md "Config", "Processes").
//
// The driver publishes each input once, before any worker starts; workers map what was published.
// Nothing is ever copied per worker and nothing is serialized:
//   - npy files and contiguous, uncompressed HDF5 datasets in native byte order are mapped
//     straight from their files (no load, no copy): a published input is then a path, a byte
//     offset and a length;
//   - chunked, compressed or foreign-byte-order HDF5 datasets, raw files and generated arrays are
//     materialised once into a memfd that is then sealed (F_SEAL_SHRINK | F_SEAL_GROW |
//     F_SEAL_WRITE | F_SEAL_SEAL): nobody, not even the driver, can change it afterwards.
//     Raw files could be mapped like npy files; they are copied instead (one copy, at
//     publication) so that a run is immune to a scratch file rewritten while it runs. The data
//     is written straight into the memfd's own pages, so a 1 GiB input never exists twice in
//     memory.
// Workers map every input PROT_READ and MAP_SHARED: all workers share the same physical pages (of
// the page cache or of the memfd), which therefore do not count as any worker's private memory,
// and a kernel that writes to an input faults (SIGSEGV) and fails its chunk.
//
// Inputs the driver checks, each problem a Diagnostic naming the input's config location and key
// `inputs.<name>`, all of them reported together in one ConfigError (exit code 2):
//   npy:      file readable; magic and version 1.0, 2.0 or 3.0; header a dict with descr '<f8',
//             '<f4', '<i8', '<i4' or '|u1', fortran_order False, shape of rank <= SWEEP_MAX_RANK;
//             file size == data offset + elements * item size
//   hdf5:     file is HDF5; dataset exists; its type is float64/32, int64/32 or uint8 (either byte
//             order); rank <= SWEEP_MAX_RANK
//   raw:      dtype known; shape non-negative; file size == elements * item size
//   generate: distribution normal | uniform | zeros | arange; normal and uniform need a float dtype
//
// Generated arrays are a pure function of (distribution, dtype, shape, seed), element by element
// in C order, from xoshiro256** seeded by splitmix64(seed):
//   uniform: (next() >> 11) * 2^-53 in [0, 1) (float32: (next() >> 40) * 2^-24);
//   normal:  Box-Muller on pairs, u1 = 1 - uniform, u2 = uniform:
//            sqrt(-2 ln u1) * cos(2 pi u2), then sqrt(-2 ln u1) * sin(2 pi u2);
//   arange:  0, 1, 2, ... converted to the dtype as C converts (uint8 wraps at 256);
//   zeros.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/config.h"
#include "kernels/kernel.h"

namespace sweep {

// How a worker finds one input's bytes.
struct PublishedInput {
  std::string name;
  int dtype = 0;               // sweep_dtype
  std::vector<int64_t> shape;  // C order; empty for a scalar
  std::string path;            // !memfd: the absolute path of the file to map; "" for a memfd
  bool memfd = false;
  int fd = -1;          // memfd: its descriptor number in the publishing process
  int pid = 0;          // memfd: the publishing process; /proc/<pid>/fd/<fd> reopens the memfd
  uint64_t inode = 0;   // memfd: its st_ino, so a worker can tell that an inherited fd is it
  uint64_t offset = 0;  // where the data starts in the file or memfd; need not be page aligned
  uint64_t bytes = 0;   // elements * item size
};

// The inputs of one run, published. Owns the memfds: they are closed (and their memory freed
// once no worker maps them) when this is destroyed. Their descriptors are opened close-on-exec;
// a launcher that execs workers either clears that flag in the child for inputs()[i].fd, or
// lets the worker reopen /proc/<pid>/fd/<fd>, which MappedInputs does by itself.
class PublishedInputs {
 public:
  PublishedInputs() = default;
  // Takes ownership of the memfd descriptors in `inputs`.
  explicit PublishedInputs(std::vector<PublishedInput> inputs) : inputs_(std::move(inputs)) {}
  PublishedInputs(PublishedInputs&& other) noexcept;
  PublishedInputs& operator=(PublishedInputs&& other) noexcept;
  PublishedInputs(const PublishedInputs&) = delete;
  PublishedInputs& operator=(const PublishedInputs&) = delete;
  ~PublishedInputs();

  const std::vector<PublishedInput>& inputs() const { return inputs_; }

 private:
  void CloseAll();
  std::vector<PublishedInput> inputs_;
};

// One input as its header (npy, HDF5) or its declaration (raw, generate) says it is, known
// without reading or generating any of its data.
struct InputHeader {
  int dtype = 0;               // sweep_dtype
  std::vector<int64_t> shape;  // C order
  uint64_t bytes = 0;          // elements * item size
  bool in_memory = false;      // publishing copies it into memory (a memfd) rather than mapping it
};

// Checks every input as the header says, reading headers and file sizes only: what `sweep
// validate` and `sweep plan` need, at the same cost for a never-written 800 GB chunked dataset
// as for a 1 KiB one. THROWS: ConfigError (exit code 2) listing every bad input.
std::vector<InputHeader> ReadInputHeaders(const std::vector<InputSpec>& inputs);

// The bytes of memory this process can still take: MemAvailable plus SwapFree (/proc/meminfo),
// and no more than its cgroup leaves below memory.max. UINT64_MAX when neither can be read.
uint64_t AvailableMemoryBytes();

// Checks every input as the header says, then publishes them, in the order given. Before
// anything is allocated, the inputs copied into memory, with `other_memory_bytes` (the caller's
// own need: the workers' result blocks), must fit AvailableMemoryBytes(): a memfd's pages are
// bounded by neither `ulimit -v` nor RLIMIT_DATA, so an input larger than the machine would be
// allocated until the OOM killer stepped in.
// THROWS: ConfigError (exit code 2) listing every bad input, or naming the largest input copied
// into memory and giving what the run needs and what the machine has; Error (exit code 1) when
// the machine fails anyway (no memory for a memfd).
PublishedInputs PublishInputs(const std::vector<InputSpec>& inputs,
                              uint64_t other_memory_bytes = 0);

// The published inputs as one line of JSON, to hand to a spawned worker, and back. Format
// "sweep-inputs/1": {"format": "sweep-inputs/1", "inputs": [{"name", "dtype" (1..5),
// "shape", "path", "memfd", "fd", "pid", "inode", "offset", "bytes"}, ...]}.
// THROWS (ParseInputs): Error when the text is not that format, naming what is wrong.
std::string DescribeInputs(const std::vector<PublishedInput>& inputs);
std::vector<PublishedInput> ParseInputs(const std::string& text);

// A worker's read-only views of the published inputs, in the same order. A memfd is mapped
// through the inherited descriptor when the worker has it (same inode), otherwise through
// /proc/<pid>/fd/<fd>. Descriptors opened here are closed once mapped; the mappings live until
// destruction. An input of zero bytes has data == nullptr.
// THROWS: Error (exit code 1) naming the input when it cannot be opened or mapped, or when its
// file is now shorter than when it was published (mapping it would fault on access).
class MappedInputs {
 public:
  explicit MappedInputs(const std::vector<PublishedInput>& inputs);
  MappedInputs(const MappedInputs&) = delete;
  MappedInputs& operator=(const MappedInputs&) = delete;
  ~MappedInputs();

  const std::vector<sweep_array>& views() const { return views_; }
  size_t size() const { return views_.size(); }
  // The view of the input called `name`, or nullptr.
  const sweep_array* Find(const std::string& name) const;

 private:
  struct Mapping {
    void* address;
    size_t length;
  };
  std::vector<std::string> names_;
  std::vector<sweep_array> views_;
  std::vector<Mapping> mappings_;
};

}  // namespace sweep
