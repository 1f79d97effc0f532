// ByteCount text: the one way sweep writes a number of bytes for people, so that `plan`, a run
// that refuses an output or an input, and the report say the same size the same way.
#pragma once

#include <cstdint>
#include <string>

namespace sweep {

// 1024-based with one decimal in the largest unit that keeps the number at least 1: "512 B",
// "1.5 KiB", "29.7 MiB", "14.6 TiB". Never "0.0 GiB" for a size that is not zero.
std::string FormatBytes(uint64_t bytes);

}  // namespace sweep
