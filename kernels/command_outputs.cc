#include "kernels/command_outputs.h"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <streambuf>

#include "kernels/dtype.h"

namespace sweep {
namespace {

// A value for one element of an output, before its dtype is applied.
struct Number {
  bool integral = false;  // `integer` holds it exactly
  int64_t integer = 0;
  double number = 0;     // -0.0 for a written `-0`
  std::string overflow;  // a finite number as written, beyond any double (1e999); else ""
};

// Whether `token` is a decimal number as JSON writes one, but for an optional `+` and digits
// that may start or end at the point (`.5`, `5.`): no hex, no `1_000`, no trailing text.
bool IsDecimal(const std::string& token) {
  size_t i = token[0] == '+' || token[0] == '-' ? 1 : 0;
  size_t digits = 0;
  while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i]))) ++i, ++digits;
  if (i < token.size() && token[i] == '.') {
    ++i;
    while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    const size_t start = i;
    while (i < token.size() && std::isdigit(static_cast<unsigned char>(token[i]))) ++i;
    if (i == start) return false;
  }
  return i == token.size();
}

// A decimal number, or nan, inf or infinity (any case, with a sign). A finite number beyond a
// double's range is kept as written in `overflow`: its output's dtype cannot hold it.
std::optional<Number> ParseNumber(const std::string& token) {
  if (token.empty()) return std::nullopt;
  Number n;
  std::string word = token.substr(token[0] == '+' || token[0] == '-' ? 1 : 0);
  for (char& c : word) c = char(std::tolower(static_cast<unsigned char>(c)));
  const double sign = token[0] == '-' ? -1.0 : 1.0;
  if (word == "nan") return n.number = std::numeric_limits<double>::quiet_NaN(), n;
  if (word == "inf" || word == "infinity")
    return n.number = sign * std::numeric_limits<double>::infinity(), n;
  if (!IsDecimal(token)) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long i = std::strtoll(token.c_str(), &end, 10);
  if (*end == '\0' && errno == 0) {
    n.integral = true;
    n.integer = i;
    n.number = i == 0 ? sign * 0.0 : double(i);  // `-0` keeps its sign in a float output
    return n;
  }
  errno = 0;
  n.number = std::strtod(token.c_str(), nullptr);
  if (std::isinf(n.number)) n.overflow = token;
  return n;
}

// Writes element i of an output; returns what is wrong, or "". One rule for every dtype: a
// value the dtype cannot hold is an error, never rounded to an infinity or wrapped around.
std::string Store(const sweep_output_decl& decl, sweep_array& view, uint64_t i, const Number& v) {
  if (!v.overflow.empty()) return v.overflow + " is out of range for " + DtypeName(decl.dtype);
  switch (decl.dtype) {
    case SWEEP_FLOAT64:
      static_cast<double*>(view.data)[i] = v.number;
      return "";
    case SWEEP_FLOAT32: {
      const float f = float(v.number);
      if (std::isinf(f) && std::isfinite(v.number))
        return fmt::format("{} is out of range for float32", v.number);
      static_cast<float*>(view.data)[i] = f;
      return "";
    }
  }
  int64_t x = v.integer;
  if (!v.integral) {
    if (std::trunc(v.number) != v.number) return fmt::format("{} is not an integer", v.number);
    // 2^63 is exact in a double, so this bound keeps the cast defined.
    if (!(std::fabs(v.number) < 9223372036854775808.0))
      return fmt::format("{} is out of range for {}", v.number, DtypeName(decl.dtype));
    x = int64_t(v.number);
  }
  const auto in = [&](int64_t lo, int64_t hi) { return x >= lo && x <= hi; };
  switch (decl.dtype) {
    case SWEEP_INT64:
      static_cast<int64_t*>(view.data)[i] = x;
      return "";
    case SWEEP_INT32:
      if (!in(INT32_MIN, INT32_MAX)) return std::to_string(x) + " is out of range for int32";
      static_cast<int32_t*>(view.data)[i] = int32_t(x);
      return "";
    case SWEEP_UINT8:
      if (!in(0, 255)) return std::to_string(x) + " is out of range for uint8";
      static_cast<uint8_t*>(view.data)[i] = uint8_t(x);
      return "";
  }
  return "unknown dtype";
}

uint64_t Elements(const sweep_output_decl& decl) {
  uint64_t n = 1;
  for (int d = 0; d < decl.rank; ++d) n *= uint64_t(decl.shape[d]);
  return n;
}

std::string Plural(uint64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

int FindOutput(const std::vector<sweep_output_decl>& decls, const std::string& name) {
  for (size_t i = 0; i < decls.size(); ++i)
    if (name == decls[i].name) return int(i);
  return -1;
}

// Markers for the infinities and the numbers beyond a double of AcceptNonFiniteTokens(): strings
// no JSON output may hold, since outputs are numbers.
const char kPositiveInfinity[] = "\x01+Infinity";
const char kNegativeInfinity[] = "\x01-Infinity";
const char kOverflow[] = "\x01overflow:";  // followed by the number as written

bool NumberChar(char c) {
  return std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' || c == '.' ||
         c == 'e' || c == 'E';
}

// JSON has no NaN nor infinities, but Python's json.dumps writes them bare (NaN, Infinity,
// -Infinity), as do JavaScript and many codes: outside strings they become null (NaN) and
// marker strings that FlattenJson reads as the infinities. Numbers are made to follow the text
// rule (ParseNumber) too: `-0`, which the JSON parser would read as the integer 0, becomes `-0.0`
// so it keeps its sign, and a finite number beyond a double (1e999), which it would refuse
// (making the object a log line), becomes a marker string that FlattenJson reads as out of
// range. Line for line: a JSON string never holds a raw line break, so each line starts outside
// strings, whatever a log line before held.
std::string AcceptNonFiniteTokens(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') {
      in_string = false;
      out += c;
      continue;
    }
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') out += text[++i];
      if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    const auto at = [&](const char* token) {
      return text.compare(i, std::strlen(token), token) == 0;
    };
    if (at("NaN")) {
      out += "null";
      i += 2;
    } else if (at("-Infinity")) {
      out += "\"\\u0001-Infinity\"";
      i += 8;
    } else if (at("Infinity")) {
      out += "\"\\u0001+Infinity\"";
      i += 7;
    } else if ((std::isdigit(static_cast<unsigned char>(c)) || c == '-') &&
               (i == 0 || !(NumberChar(text[i - 1]) ||
                            std::isalpha(static_cast<unsigned char>(text[i - 1]))))) {
      size_t end = i + 1;
      while (end < text.size() && NumberChar(text[end])) ++end;
      const std::string token = text.substr(i, end - i);
      const double value = std::strtod(token.c_str(), nullptr);
      if (token == "-0") {
        out += "-0.0";
      } else if (std::isinf(value) && IsDecimal(token)) {
        out += "\"\\u0001overflow:" + token + "\"";
      } else {
        out += token;
      }
      i = end - 1;
    } else {
      out += c;
    }
  }
  return out;
}

// Flattens a JSON number or (nested) array of numbers in C order.
std::string FlattenJson(const nlohmann::json& j, std::vector<Number>* out) {
  if (j.is_array()) {
    for (const nlohmann::json& item : j) {
      std::string error = FlattenJson(item, out);
      if (!error.empty()) return error;
    }
    return "";
  }
  Number n;
  if (j.is_number_unsigned()) {
    const uint64_t u = j.get<uint64_t>();
    n.integral = u <= uint64_t(std::numeric_limits<int64_t>::max());
    n.integer = int64_t(u);
    n.number = double(u);
  } else if (j.is_number_integer()) {
    n.integral = true;
    n.integer = j.get<int64_t>();
    n.number = double(n.integer);
  } else if (j.is_number_float()) {
    n.number = j.get<double>();
  } else if (j.is_null()) {
    n.number = std::numeric_limits<double>::quiet_NaN();
  } else if (j.is_string() && (j == kPositiveInfinity || j == kNegativeInfinity)) {
    // Python's json.dumps and JavaScript print these bare; AcceptNonFiniteTokens quoted them.
    n.number = j == kPositiveInfinity ? std::numeric_limits<double>::infinity()
                                      : -std::numeric_limits<double>::infinity();
  } else if (j.is_string() && j.get_ref<const std::string&>().rfind(kOverflow, 0) == 0) {
    n.overflow = j.get<std::string>().substr(sizeof kOverflow - 1);
    n.number = std::numeric_limits<double>::infinity();
  } else {
    return std::string("expected numbers, got ") + j.type_name();
  }
  out->push_back(n);
  return "";
}

std::string StoreAll(const sweep_output_decl& decl, sweep_array& view,
                     const std::vector<Number>& values) {
  const uint64_t expected = Elements(decl);
  if (values.size() != expected) {
    return "output `" + std::string(decl.name) + "`: expected " + Plural(expected, "value") +
           ", got " + std::to_string(values.size());
  }
  for (uint64_t i = 0; i < expected; ++i) {
    const std::string error = Store(decl, view, i, values[i]);
    if (!error.empty()) return "output `" + std::string(decl.name) + "`: " + error;
  }
  return "";
}

// The members of a JSON object (not those of objects inside it) that it holds more than once.
struct TopLevelKeys : nlohmann::json_sax<nlohmann::json> {
  int depth = 0;
  std::set<std::string> seen, repeated;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth, true; }
  bool end_object() override { return --depth, true; }
  bool start_array(std::size_t) override { return ++depth, true; }
  bool end_array() override { return --depth, true; }
  bool key(string_t& name) override {
    if (depth == 1 && !seen.insert(name).second) repeated.insert(name);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }
};

// Reads a stream straight from memory, and says how much of it was read.
class MemoryBuffer : public std::streambuf {
 public:
  MemoryBuffer(const char* begin, const char* end) {
    char* b = const_cast<char*>(begin);
    setg(b, b, const_cast<char*>(end));
  }
  size_t consumed() const { return size_t(gptr() - eback()); }
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 7: what", or
// "[json.exception.out_of_range.406] what": `what`.
std::string ParseErrorText(std::string message) {
  const size_t bracket = message.find("] ");
  if (message.rfind("[json.exception", 0) == 0 && bracket != std::string::npos)
    message.erase(0, bracket + 2);
  if (message.rfind("parse error", 0) == 0) {
    const size_t column = message.find("column ");
    const size_t colon = column == std::string::npos ? column : message.find(": ", column);
    if (colon != std::string::npos) message.erase(0, colon + 2);
  }
  return message;
}

std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  for (size_t i = 0; i < line.size();) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    size_t j = i;
    while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    if (j > i) words.push_back(line.substr(i, j - i));
    i = j;
  }
  return words;
}

std::string Shown(const std::string& word) {
  return word.size() > 40 ? word.substr(0, 40) + "..." : word;
}

// Words separated by blanks or commas: a table's header and rows (CSV too).
std::vector<std::string> Fields(const std::string& line) {
  std::string spaced = line;
  std::replace(spaced.begin(), spaced.end(), ',', ' ');
  return Words(spaced);
}

// One pass over the text, line by line.
class OutputReader {
 public:
  OutputReader(const std::string& text, const std::string& source,
               const std::vector<sweep_output_decl>& decls, sweep_array* outputs)
      : text_(text),
        json_text_(AcceptNonFiniteTokens(text)),
        source_(source),
        decls_(decls),
        outputs_(outputs),
        json_on_(decls.size(), 0),
        last_(decls.size()),
        hints_(decls.size()) {
    for (size_t at = 0; at < text_.size(); at = NextLine(text_, at)) starts_.push_back(at);
  }

  std::string Read() {
    size_t json_at = 0;  // the current line's start in json_text_
    for (size_t i = 0; i < starts_.size();) {
      const size_t line = i + 1;
      const size_t at = starts_[i];
      const size_t first = text_.find_first_not_of(" \t\r", at);
      std::string error;
      size_t spanned = 0;  // further lines a JSON object or a column took
      if (first != std::string::npos && text_[first] == '{') {
        error = ReadObject(line, json_at + (first - at), &spanned);
      } else if (!ReadColumns(i, &spanned)) {
        ReadLine(line, LineText(i));
      }
      if (!error.empty()) return error;
      for (size_t skip = 0; skip <= spanned; ++skip) json_at = NextLine(json_text_, json_at);
      i += 1 + spanned;
    }
    for (size_t o = 0; o < decls_.size(); ++o) {
      if (json_on_[o] != 0) continue;  // a JSON object is the whole answer for what it holds
      const Candidate& c = last_[o];
      if (c.line == 0) return Missing(o);
      std::string error = StoreAll(decls_[o], outputs_[o], c.values);
      if (!error.empty()) {
        const std::string where = c.rows == 0
                                      ? Where(c.line)
                                      : source_ + " lines " + std::to_string(c.line) + "-" +
                                            std::to_string(c.line + c.rows) + " (a column): ";
        return where + error;
      }
    }
    return "";
  }

 private:
  // The last `name value...` line of an output, or the last column under its name: the one that
  // counts (codes print progress).
  struct Candidate {
    size_t line = 0;  // of the line, or of the column's header; 0: none
    size_t rows = 0;  // a column's rows; 0 for a line
    std::vector<Number> values;
  };

  static size_t NextLine(const std::string& text, size_t at) {
    const size_t end = text.find('\n', at);
    return end == std::string::npos ? text.size() : end + 1;
  }

  std::string LineText(size_t i) const {
    const size_t end = NextLine(text_, starts_[i]);
    return text_.substr(starts_[i], end - starts_[i]);
  }

  std::string Where(size_t line) const { return source_ + " line " + std::to_string(line) + ": "; }

  std::string ReadObject(size_t line, size_t start, size_t* spanned) {
    MemoryBuffer buffer(json_text_.data() + start, json_text_.data() + json_text_.size());
    std::istream in(&buffer);
    nlohmann::json j;
    try {
      in >> j;
    } catch (const nlohmann::json::exception& e) {  // a parse error, or a number out of range
      if (json_hint_.empty()) {
        json_hint_ = "line " + std::to_string(line) +
                     " starts with `{` but is not JSON: " + ParseErrorText(e.what());
      }
      return "";  // a log line
    }
    *spanned =
        size_t(std::count(json_text_.begin() + std::ptrdiff_t(start),
                          json_text_.begin() + std::ptrdiff_t(start + buffer.consumed()), '\n'));
    // The parser keeps the last of a member given twice without a word; the rule is that an
    // output is given once in JSON, so the object's text is read again for its own members.
    TopLevelKeys keys;
    nlohmann::json::sax_parse(json_text_.begin() + std::ptrdiff_t(start),
                              json_text_.begin() + std::ptrdiff_t(start + buffer.consumed()),
                              &keys);
    for (const std::string& name : keys.repeated) {
      if (FindOutput(decls_, name) >= 0)
        return Where(line) + "output `" + name + "` given twice in one JSON object";
    }
    for (const auto& [name, value] : j.items()) {
      const int o = FindOutput(decls_, name);
      if (o < 0) {
        unknown_members_ += (unknown_members_.empty() ? "`" : ", `") + Shown(name) + "`";
        continue;
      }
      if (json_on_[size_t(o)] != 0) {
        return Where(line) + "output `" + name + "` given twice in JSON (first on line " +
               std::to_string(json_on_[size_t(o)]) + "): a result object is the whole answer";
      }
      json_on_[size_t(o)] = line;
      const sweep_output_decl& decl = decls_[size_t(o)];
      if (decl.rank == 0 && value.is_array())
        return Where(line) + "output `" + decl.name + "`: expected a number, got an array";
      std::vector<Number> values;
      std::string error = FlattenJson(value, &values);
      if (error.empty()) error = StoreAll(decl, outputs_[o], values);
      if (!error.empty())
        return Where(line) + (error.rfind("output `", 0) == 0 ? "" : "output `" + name + "`: ") +
               error;
    }
    return "";
  }

  // A header of outputs' names (`freq gain_db`, `# freq,gain_db`, or one name alone) on line i,
  // with rows of as many numbers below it: each column is the output its header names. Returns
  // false when line i is not such a header with at least one row.
  bool ReadColumns(size_t i, size_t* spanned) {
    std::string header = LineText(i);
    const size_t first = header.find_first_not_of(" \t\r");
    if (first != std::string::npos && header[first] == '#') header.erase(0, first + 1);
    const std::vector<std::string> names = Fields(header);
    if (names.empty()) return false;
    std::vector<int> columns;
    for (const std::string& name : names) {
      const int o = FindOutput(decls_, name);
      if (o < 0 || std::find(columns.begin(), columns.end(), o) != columns.end()) return false;
      columns.push_back(o);
    }
    std::vector<std::vector<Number>> values(columns.size());
    size_t rows = 0;
    for (size_t r = i + 1; r < starts_.size(); ++r, ++rows) {
      const std::vector<std::string> fields = Fields(LineText(r));
      if (fields.size() != columns.size()) break;
      std::vector<Number> row;
      for (const std::string& f : fields) {
        const std::optional<Number> n = ParseNumber(f);
        if (!n) break;
        row.push_back(*n);
      }
      if (row.size() != columns.size()) break;
      for (size_t c = 0; c < columns.size(); ++c) values[c].push_back(row[c]);
    }
    if (rows == 0) return false;
    for (size_t c = 0; c < columns.size(); ++c)
      last_[size_t(columns[c])] = Candidate{i + 1, rows, std::move(values[c])};
    *spanned = rows;
    return true;
  }

  void ReadLine(size_t line, const std::string& text) {
    const std::vector<std::string> words = Words(text);
    if (words.empty()) return;
    const int o = FindOutput(decls_, words[0]);
    if (o < 0) return;  // a log line
    std::vector<Number> values;
    for (size_t w = 1; w < words.size(); ++w) {
      const std::optional<Number> n = ParseNumber(words[w]);
      if (!n) {
        if (hints_[size_t(o)].empty())
          hints_[size_t(o)] = "line " + std::to_string(line) + " names it, but `" +
                              Shown(words[w]) + "` is not a number";
        return;
      }
      values.push_back(*n);
    }
    if (values.empty()) {
      if (hints_[size_t(o)].empty())
        hints_[size_t(o)] = "line " + std::to_string(line) + " names it, with no value";
      return;
    }
    last_[size_t(o)] = Candidate{line, 0, std::move(values)};
  }

  std::string Missing(size_t o) const {
    std::string message = "missing output `" + std::string(decls_[o].name) + "` " +
                          (source_ == "stdout" ? "on stdout" : "in " + source_);
    if (!hints_[o].empty()) return message + ": " + hints_[o];
    if (!unknown_members_.empty())
      return message + " (its JSON has members that are not outputs: " + unknown_members_ + ")";
    if (!json_hint_.empty()) return message + ": " + json_hint_;
    return message + " (expected `" + decls_[o].name +
           " value...` lines, a column under its name, or a JSON object; outputs: " +
           OutputList(decls_) + ")";
  }

  const std::string& text_;
  const std::string json_text_;  // text_ with NaN and the infinities made JSON, line for line
  const std::string& source_;
  const std::vector<sweep_output_decl>& decls_;
  sweep_array* outputs_;
  std::vector<size_t> starts_;      // where each line of text_ starts
  std::vector<size_t> json_on_;     // the line of the JSON object that gave each output; 0: none
  std::vector<Candidate> last_;     // each output's last line or column
  std::vector<std::string> hints_;  // why a line naming an output was not read
  std::string json_hint_;           // the first `{` line that is not JSON, and why
  std::string unknown_members_;     // of the JSON objects read
};

}  // namespace

std::string OutputList(const std::vector<sweep_output_decl>& decls) {
  std::string names;
  for (const sweep_output_decl& d : decls)
    names += (names.empty() ? "" : ", ") + std::string(d.name);
  return names;
}

std::optional<nlohmann::json> JsonObjectLine(const std::string& line) {
  const size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos || line[first] != '{') return std::nullopt;
  // One line: a JSON string holds no raw line break, so the marker text cannot run past it.
  const std::string json_text = AcceptNonFiniteTokens(line);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // not JSON, or more than one value: a log line
  }
  if (!j.is_object()) return std::nullopt;
  return j;
}

std::string ReadOutputsFromJson(const nlohmann::json& object,
                                const std::vector<sweep_output_decl>& decls, sweep_array* outputs) {
  for (size_t o = 0; o < decls.size(); ++o) {
    const sweep_output_decl& decl = decls[o];
    const auto member = object.find(decl.name);
    if (member == object.end()) {
      std::string members;
      for (const auto& item : object.items())
        members += (members.empty() ? "" : ", ") + Shown(item.key());
      return "no output `" + std::string(decl.name) + "` (its members: " + members + ")";
    }
    if (decl.rank == 0 && member->is_array())
      return "output `" + std::string(decl.name) + "`: expected a number, got an array";
    std::vector<Number> values;
    std::string error = FlattenJson(*member, &values);
    if (error.empty()) error = StoreAll(decl, outputs[o], values);
    if (!error.empty())
      return error.rfind("output `", 0) == 0 ? error
                                             : "output `" + std::string(decl.name) + "`: " + error;
  }
  return "";
}

std::string ReadCommandOutputs(const std::string& text, const std::string& source,
                               const std::vector<sweep_output_decl>& decls, sweep_array* outputs) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    return source == "stdout" ? "nothing on stdout" : source + " is empty";
  return OutputReader(text, source, decls, outputs).Read();
}

}  // namespace sweep
