// ChunkChecksum: the checksum of a chunk's result bytes, as recorded in /chunks/checksum and
// the journal, and checked again by `sweep resume`.
//
// Definition (part of the file format: changing it needs a new format version): for each
// /results dataset in file order, XXH3-64 (seed 0) of the chunk's rows of that dataset (the bytes
// from first * bytes_per_point to (first + count) * bytes_per_point); then XXH3-64 (seed 0) of
// those digests as consecutive little-endian uint64. Rows may be added in pieces of any size.
#pragma once

#include <xxhash.h>

#include <cstdint>
#include <vector>

namespace sweep {

class ChunkChecksum {
 public:
  explicit ChunkChecksum(size_t outputs);
  ~ChunkChecksum();
  ChunkChecksum(const ChunkChecksum&) = delete;
  ChunkChecksum& operator=(const ChunkChecksum&) = delete;

  void Reset();
  void Add(size_t output, const void* bytes, size_t size);
  uint64_t Finish() const;

 private:
  std::vector<XXH3_state_t*> states_;
};

}  // namespace sweep
