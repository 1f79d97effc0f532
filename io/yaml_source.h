// YAML text read for a checker that reports problems instead of stopping at them (io/config.cc).
//
// ParseYaml() turns every way a YAML text can be unreadable into Diagnostics with 1-based line
// and column: syntax errors (yaml-cpp's own message and mark), nesting deeper than
// kMaxYamlDepth (checked before yaml-cpp's own recursion guard so a hostile file can neither
// overflow the stack nor get the guard's unhelpful "bad file"), more than one document,
// duplicate keys in any map, an alias inside the node its anchor names (`&a [*a]`, a tree that
// never ends), and aliases that expand the tree beyond kMaxYamlValues nodes (a "billion laughs"):
// so every tree it accepts can be walked and written out whole (EmitYaml, for `--set`). yaml-cpp
// keeps a duplicate key of a block map and drops one of a flow map without a word, so duplicates
// are found on the parser's event stream, where both show.
//
// EmitYaml() writes a node tree back as YAML that reads as the same typed values: a scalar that
// was quoted in its source stays quoted, so "1" stays a string after a round trip. yaml-cpp's own
// `Emitter << Node` drops the quotes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "io/error.h"

namespace sweep {

// Deeper than any config needs, far below what recursion over the tree can survive.
inline constexpr int kMaxYamlDepth = 256;
// Nodes of a document with its aliases expanded: a config of 16 MiB (the most sweep reads)
// written without aliases holds at most this many values ("1," each).
inline constexpr uint64_t kMaxYamlValues = uint64_t{1} << 23;

struct YamlSource {
  YAML::Node root;  // Null (and no map) when the text is empty, or unreadable (see diagnostics)
  bool readable = false;  // false after a syntax error or too deep a nesting: root is unusable
  std::vector<Diagnostic> diagnostics;
};

// `file` only names the source in diagnostics.
YamlSource ParseYaml(const std::string& text, const std::string& file);

// REQUIRES: root nests at most kMaxYamlDepth levels (true of anything ParseYaml() accepted
// and of trees built from such parts).
std::string EmitYaml(const YAML::Node& root);

// True if a scalar was written plainly (no quotes, no tag): only then does its text decide its
// type (1 is an integer, "1" a string).
bool IsPlainScalar(const YAML::Node& scalar);

// The candidate closest to `word` by edit distance (transpositions count as one edit), if close
// enough to be a plausible typo; "" otherwise.
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace sweep
