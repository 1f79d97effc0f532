#include "driver/checksum.h"

#include <cstring>

#include "driver/xxh3.h"

namespace sweep {

ChunkChecksum::ChunkChecksum(size_t outputs) {
  for (size_t i = 0; i < outputs; ++i) states_.push_back(XXH3_createState());
  Reset();
}

ChunkChecksum::~ChunkChecksum() {
  for (XXH3_state_t* s : states_) XXH3_freeState(s);
}

void ChunkChecksum::Reset() {
  for (XXH3_state_t* s : states_) XXH3_64bits_reset(s);
}

void ChunkChecksum::Add(size_t output, const void* bytes, size_t size) {
  Xxh3Update(states_[output], bytes, size);
}

uint64_t ChunkChecksum::Finish() const {
  std::vector<unsigned char> digests(8 * states_.size());
  for (size_t i = 0; i < states_.size(); ++i) {
    const uint64_t d = XXH3_64bits_digest(states_[i]);
    for (int b = 0; b < 8; ++b)
      digests[8 * i + size_t(b)] = static_cast<unsigned char>(d >> (8 * b));
  }
  return XXH3_64bits(digests.data(), digests.size());
}

}  // namespace sweep
