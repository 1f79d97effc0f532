// ChunkStates: which chunks of an existing output are done, failed or pending.
//
// The truth is the union of /chunks/status (written in place as chunks finish) and every journal
// of the output (`OUT.h5.journal`, and each shard's): a journal record is written before the
// status byte, so a chunk a journal calls done may not be marked yet, never the other way round.
// VerifyDoneChunks() then recomputes each done chunk's checksum from the bytes in the file, so a
// torn write after a crash sends the chunk back to pending.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "driver/plan.h"
#include "io/output_file.h"

namespace sweep {

inline constexpr uint8_t kChunkPending = 0, kChunkDone = 1, kChunkFailed = 2;

struct ChunkStates {
  std::vector<uint8_t> status;     // kChunk*, per chunk
  std::vector<uint64_t> checksum;  // as recorded, for done chunks
};

// THROWS: Error when the file or a journal cannot be read (a damaged journal included).
ChunkStates ReadChunkStates(const std::string& output_path, const OutputLayout& layout);

// Checks the chunks recorded done for which mine(chunk) holds; those whose bytes do not match
// their checksum become pending. Returns how many did not match.
uint64_t VerifyDoneChunks(const std::string& output_path, const OutputLayout& layout,
                          const Plan& plan, const std::function<bool(uint64_t)>& mine,
                          ChunkStates* states);

}  // namespace sweep
