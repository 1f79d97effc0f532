// SHA-256 (FIPS 180-4), for the config digest an output file stores (io/output_file.h).
//
// Small and dependency-free on purpose: the digest only identifies a config's text, so speed
// does not matter and a crypto library would be one more thing to find at build time.
#pragma once

#include <string>

namespace sweep {

// The digest of `data` as 64 lowercase hex digits.
std::string Sha256Hex(const std::string& data);

}  // namespace sweep
