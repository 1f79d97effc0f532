#include "io/yaml_source.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

namespace sweep {
namespace {

struct TooDeep {
  YAML::Mark mark;
};

// yaml-cpp 0.7 does not consume a token it cannot start a node with (a `,` outside a flow
// collection): the document comes out null and the next one starts at the same token, forever
// (jbeder/yaml-cpp#1040). A document starting where the previous one did is that loop.
struct Stuck {
  YAML::Mark mark;
};

// An alias inside the node its anchor names (`&a [*a]`): the tree it makes never ends.
struct Cycle {
  YAML::Mark mark;
  std::string path;
};

// Aliases that expand the tree beyond kMaxYamlValues nodes (a "billion laughs").
struct Expands {
  YAML::Mark mark;
  std::string path;
};

// Follows the parser's events with a stack of open collections, to know the key path of every
// node, the nesting depth, the keys each map has seen so far, and how many nodes the tree has
// once every alias is expanded (each anchor's count is known when its node closes).
class KeyScanner : public YAML::EventHandler {
 public:
  KeyScanner(const std::string& file, std::vector<Diagnostic>* diagnostics)
      : file_(file), diagnostics_(diagnostics) {}

  int documents = 0;
  YAML::Mark second_document;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents > 0 && mark.pos == last_document_.pos) throw Stuck{mark};
    last_document_ = mark;
    if (++documents == 2) second_document = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Leaf(mark, nullptr, anchor, 1);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Begin(mark, nullptr);
    for (const Frame& f : stack_)
      if (f.anchor == anchor && anchor != YAML::NullAnchor) throw Cycle{mark, Path()};
    const auto it = anchored_nodes_.find(anchor);
    Count(mark, it == anchored_nodes_.end() ? 1 : it->second);
    End();
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    Leaf(mark, &value, anchor, 1);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, false, anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, true, anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Frame {
    bool is_map = false;
    bool expect_key = true;  // a map's next node is a key
    bool key_known = false;  // the current key is a scalar (complex keys are not checked)
    std::string key;
    int64_t index = -1;                     // a sequence's current item
    std::map<std::string, int> first_line;  // a map's keys so far, 1-based line
    YAML::anchor_t anchor = YAML::NullAnchor;
    uint64_t nodes = 1;  // itself and what it holds so far, aliases expanded
    YAML::Mark mark;
  };

  // Called when a node starts: it is a key, a value or an item of the innermost collection.
  void Begin(const YAML::Mark& mark, const std::string* scalar) {
    if (stack_.empty()) return;
    Frame& top = stack_.back();
    if (!top.is_map) {
      ++top.index;
      return;
    }
    if (!top.expect_key) return;
    top.key_known = scalar != nullptr;
    top.key = scalar ? *scalar : std::string();
    if (!scalar) return;
    auto [it, fresh] = top.first_line.emplace(*scalar, mark.line + 1);
    if (!fresh) {
      diagnostics_->push_back(
          {{file_, mark.line + 1, mark.column + 1},
           Path(),
           "duplicate key `" + *scalar + "` (first at line " + std::to_string(it->second) + ")"});
    }
  }

  // Called when a node is complete: a map alternates between keys and values.
  void End() {
    if (!stack_.empty() && stack_.back().is_map) stack_.back().expect_key ^= true;
  }

  void Leaf(const YAML::Mark& mark, const std::string* scalar, YAML::anchor_t anchor,
            uint64_t nodes) {
    Begin(mark, scalar);
    if (anchor != YAML::NullAnchor) anchored_nodes_[anchor] = nodes;
    Count(mark, nodes);
    End();
  }
  void Open(const YAML::Mark& mark, bool is_map, YAML::anchor_t anchor) {
    Begin(mark, nullptr);
    if (int(stack_.size()) >= kMaxYamlDepth) throw TooDeep{mark};
    stack_.emplace_back();
    stack_.back().is_map = is_map;
    stack_.back().anchor = anchor;
    stack_.back().mark = mark;
  }
  void Close() {
    const Frame closed = std::move(stack_.back());
    stack_.pop_back();
    if (closed.anchor != YAML::NullAnchor) anchored_nodes_[closed.anchor] = closed.nodes;
    Count(closed.mark, closed.nodes);
    End();
  }
  // Adds a finished node of `nodes` nodes to its parent (or to the document).
  void Count(const YAML::Mark& mark, uint64_t nodes) {
    uint64_t& total = stack_.empty() ? document_nodes_ : stack_.back().nodes;
    total += nodes;
    if (total > kMaxYamlValues) throw Expands{mark, Path()};
  }

  std::string Path() const {
    std::string path;
    for (const Frame& f : stack_) {
      if (f.is_map) {
        if (!f.key_known) break;
        path += (path.empty() ? "" : ".") + f.key;
      } else {
        path += "[" + std::to_string(f.index) + "]";
      }
    }
    return path;
  }

  const std::string& file_;
  std::vector<Diagnostic>* diagnostics_;
  std::vector<Frame> stack_;
  YAML::Mark last_document_;
  std::map<YAML::anchor_t, uint64_t> anchored_nodes_;  // each closed anchor's node count
  uint64_t document_nodes_ = 0;
};

void Emit(YAML::Emitter& out, const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      out << YAML::Null;
      break;
    case YAML::NodeType::Scalar:
      if (!IsPlainScalar(node)) out << YAML::DoubleQuoted;
      out << node.Scalar();
      break;
    case YAML::NodeType::Sequence:
      out << (node.Style() == YAML::EmitterStyle::Flow ? YAML::Flow : YAML::Block);
      out << YAML::BeginSeq;
      for (const YAML::Node& item : node) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Map:
      out << (node.Style() == YAML::EmitterStyle::Flow ? YAML::Flow : YAML::Block);
      out << YAML::BeginMap;
      for (const auto& pair : node) {
        out << YAML::Key;
        Emit(out, pair.first);
        out << YAML::Value;
        Emit(out, pair.second);
      }
      out << YAML::EndMap;
      break;
  }
}

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("optoins").
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

YamlSource ParseYaml(const std::string& text, const std::string& file) {
  YamlSource source;
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    KeyScanner scanner(file, &source.diagnostics);
    while (parser.HandleNextDocument(scanner)) {
    }
    if (scanner.documents > 1) {
      const YAML::Mark& m = scanner.second_document;
      source.diagnostics.push_back({{file, m.line + 1, m.column + 1},
                                    "",
                                    "more than one YAML document (a config is one document)"});
    }
    source.root = YAML::Load(text);
    source.readable = true;
  } catch (const TooDeep& e) {
    source.diagnostics.push_back(
        {{file, e.mark.line + 1, e.mark.column + 1},
         "",
         "nesting deeper than " + std::to_string(kMaxYamlDepth) + " levels"});
  } catch (const Stuck& e) {
    const char c = size_t(e.mark.pos) < text.size() ? text[size_t(e.mark.pos)] : '?';
    source.diagnostics.push_back({{file, e.mark.line + 1, e.mark.column + 1},
                                  "",
                                  std::string("YAML syntax error: unexpected `") + c + "`" +
                                      (c == ',' ? " outside a flow collection" : "")});
  } catch (const Cycle& e) {
    source.diagnostics.push_back(
        {{file, e.mark.line + 1, e.mark.column + 1},
         e.path,
         "an alias inside the node its anchor names (as in `&a [*a]`): the value never ends"});
  } catch (const Expands& e) {
    source.diagnostics.push_back({{file, e.mark.line + 1, e.mark.column + 1},
                                  e.path,
                                  "aliases expand the document beyond " +
                                      std::to_string(kMaxYamlValues) +
                                      " values, more than any config holds"});
  } catch (const YAML::DeepRecursion& e) {
    source.diagnostics.push_back(
        {{file, e.mark.line + 1, e.mark.column + 1}, "", "nesting too deep for the YAML parser"});
  } catch (const YAML::Exception& e) {
    source.diagnostics.push_back(
        {{file, e.mark.line + 1, e.mark.column + 1}, "", "YAML syntax error: " + e.msg});
  }
  if (!source.readable) source.root = YAML::Node();
  return source;
}

std::string EmitYaml(const YAML::Node& root) {
  YAML::Emitter out;
  Emit(out, root);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

bool IsPlainScalar(const YAML::Node& scalar) { return scalar.IsScalar() && scalar.Tag() == "?"; }

std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 0;
  // One edit in a short word, two in a longer one: beyond that a suggestion is a guess.
  size_t limit = word.size() <= 4 ? 1 : 2;
  for (const std::string& c : candidates) {
    size_t distance = Lower(word) == Lower(c) ? 0 : EditDistance(word, c);
    if (distance <= limit && distance < c.size() && (best.empty() || distance < best_distance)) {
      best = c;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace sweep
