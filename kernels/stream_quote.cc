#include "kernels/stream_quote.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "kernels/program.h"

namespace sweep {
namespace {

// A stream's lines that are not blank, each one line already, and where its quote starts.
struct Stream {
  std::string label;
  std::vector<std::string> lines;
  size_t marked = 0;  // the last line that says what went wrong; lines.size() when none does
  bool has_mark() const { return marked < lines.size(); }
};

// How much of the end of a stream is looked at: a program's last words, not its whole log (a
// stdout that holds the outputs may be 64 MiB).
constexpr size_t kWindow = 16384;

Stream Split(std::string label, const std::string& text) {
  Stream s;
  s.label = std::move(label);
  size_t from = text.size() > kWindow ? text.size() - kWindow : 0;
  if (from > 0) {  // from a line start, when the window holds one
    const size_t newline = text.find('\n', from - 1);
    if (newline != std::string::npos) from = newline + 1;
  }
  for (size_t begin = from; begin < text.size();) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    size_t last = end;
    while (last > begin && std::isspace(static_cast<unsigned char>(text[last - 1]))) --last;
    size_t first = begin;
    while (first < last && std::isspace(static_cast<unsigned char>(text[first]))) ++first;
    if (first < last) s.lines.push_back(Printable(text.substr(begin, last - begin)));
    begin = end + 1;
  }
  s.marked = s.lines.size();
  for (size_t i = s.lines.size(); i-- > 0;) {
    if (SaysWhatWentWrong(s.lines[i])) {
      s.marked = i;
      break;
    }
  }
  return s;
}

// The longest prefix of `text` of at most `bytes` that ends on a character boundary.
std::string Head(const std::string& text, size_t bytes) {
  if (bytes >= text.size()) return text;
  while (bytes > 0 && (static_cast<unsigned char>(text[bytes]) & 0xc0) == 0x80) --bytes;
  return text.substr(0, bytes);
}

// The longest suffix of at most `bytes` that starts on a character boundary.
std::string Tail(const std::string& text, size_t bytes) {
  if (bytes >= text.size()) return text;
  size_t from = text.size() - bytes;
  while (from < text.size() && (static_cast<unsigned char>(text[from]) & 0xc0) == 0x80) ++from;
  return text.substr(from);
}

// The quote of one stream in at most `room` bytes (room >= 3).
std::string Fit(const Stream& s, size_t room) {
  if (s.has_mark()) {
    std::string text;
    for (size_t i = s.marked; i < s.lines.size(); ++i)
      text += (text.empty() ? "" : " | ") + s.lines[i];
    return text.size() <= room ? text : Head(text, room - 3) + "...";
  }
  // The tail, whole lines from the last back, "..." before it when lines are left out.
  std::string text;
  size_t i = s.lines.size();
  while (i > 0) {
    const std::string& line = s.lines[i - 1];
    const size_t grown = text.size() + line.size() + (text.empty() ? 0 : 3) + (i > 1 ? 3 : 0);
    if (grown > room) break;
    text = line + (text.empty() ? "" : " | ") + text;
    --i;
  }
  if (text.empty()) return "..." + Tail(s.lines.back(), room - 3);
  return (i > 0 ? "..." : "") + text;
}

}  // namespace

bool SaysWhatWentWrong(const std::string& line) {
  std::string lower(line);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* word : {"error", "fatal", "exception", "abort"})
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

std::string QuoteStreams(const std::string& out, const std::string& err, size_t room) {
  std::vector<Stream> streams;
  for (Stream s : {Split("stdout", out), Split("stderr", err)})
    if (!s.lines.empty()) streams.push_back(std::move(s));
  std::stable_sort(streams.begin(), streams.end(),
                   [](const Stream& a, const Stream& b) { return a.has_mark() && !b.has_mark(); });
  constexpr size_t kLabel = 8;  // "stdout: "
  if (streams.empty() || room < 32) return "";
  if (streams.size() == 1) return streams[0].label + ": " + Fit(streams[0], room - kLabel);
  const size_t left = room - 2 * kLabel - 2;  // and "; " between them
  const size_t first = Fit(streams[0], left).size(), second = Fit(streams[1], left).size();
  size_t share = first;
  if (first + second > left) share = std::min(first, std::max(left / 2, left - second));
  std::string quote = streams[0].label + ": " + Fit(streams[0], share);
  if (left - share >= std::min<size_t>(16, second))
    quote += "; " + streams[1].label + ": " + Fit(streams[1], left - share);
  return quote;
}

}  // namespace sweep
