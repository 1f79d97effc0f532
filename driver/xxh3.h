// Xxh3: XXH3-64 (xxHash) of large inputs at the machine's speed.
//
// Debian's libxxhash is built for baseline x86-64, where XXH3_64bits hashes about 5 GB/s here.
// The same library's x86 dispatch (SSE2, AVX2 or AVX-512, chosen at run time) gives the same
// hashes, as XXH3 defines them, at memory speed: 512 MiB in 16 ms instead of 115. For the inputs'
// content hashes (driver/input_guard.h), taken when a run starts and again when it ends, and for
// the chunk checksums (driver/checksum.h). Elsewhere, or without the dispatch, plain XXH3.
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <cstdint>

#if defined(__x86_64__) && __has_include(<xxh_x86dispatch.h>)
#define XXH_DISPATCH_DISABLE_REPLACE  // call the dispatch by name, never through a macro
#include <xxh_x86dispatch.h>
#define SWEEP_XXH3_DISPATCH 1
#endif

namespace sweep {

inline uint64_t Xxh3(const void* data, size_t size) {
#ifdef SWEEP_XXH3_DISPATCH
  return XXH3_64bits_dispatch(data, size);
#else
  return XXH3_64bits(data, size);
#endif
}

// XXH3_64bits_update, dispatched the same way.
inline void Xxh3Update(XXH3_state_t* state, const void* data, size_t size) {
#ifdef SWEEP_XXH3_DISPATCH
  XXH3_64bits_update_dispatch(state, data, size);
#else
  XXH3_64bits_update(state, data, size);
#endif
}

}  // namespace sweep
