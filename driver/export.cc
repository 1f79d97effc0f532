#include "driver/export.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "driver/chunk_history.h"
#include "driver/plan.h"
#include "driver/space.h"
#include "driver/stored_sweep.h"
#include "io/config.h"
#include "io/error.h"
#include "io/output_file.h"

namespace sweep {
namespace {

// Points read and written per block: a few KiB of results per scalar output.
constexpr uint64_t kBlockPoints = 4096;
// The table is written in pieces of about this size.
constexpr size_t kFlushBytes = size_t{1} << 20;

// ---- Values as text ----

template <typename T>
void AppendFloat(T value, bool json, std::string* out) {
  if (std::isnan(value)) {
    // Not fmt's text: a NaN with its sign bit set would print as "-nan".
    *out += json ? "null" : "nan";
  } else if (std::isinf(value)) {
    *out += json ? "null" : value > 0 ? "inf" : "-inf";
  } else {
    const size_t start = out->size();
    fmt::format_to(std::back_inserter(*out), "{}", value);
    if (out->find_first_not_of("-0123456789", start) == std::string::npos) *out += ".0";
  }
}

void AppendCsvField(const char* text, std::string* out) {
  if (*text != '\0' && std::strpbrk(text, ",\"\r\n") == nullptr) {
    *out += text;
    return;
  }
  *out += '"';
  for (const char* c = text; *c; ++c) {
    if (*c == '"') *out += '"';
    *out += *c;
  }
  *out += '"';
}

void AppendJsonString(const char* text, std::string* out) {
  // Invalid UTF-8 (possible only in a string parameter) becomes U+FFFD rather than an error.
  *out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---- Columns ----

struct Column {
  enum class Kind { kPoint, kSample, kParameter, kReplicate, kSeed, kResult };
  Kind kind;
  std::string name;
  size_t index = 0;  // kParameter: into Space::parameter_names(); kResult: into layout().results
};

struct Table {
  std::vector<Column> columns;
  std::vector<std::string> notes;  // for stderr, one line each
};

std::string ShapeText(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

// The columns of the header's order; outputs that cannot be a column, or must be renamed, noted.
Table PlanTable(const Space& space, const OutputLayout& layout) {
  Table table;
  table.columns.push_back({Column::Kind::kPoint, "point"});
  // A sampled sweep's points are labelled by their sample index, as its file's `sample` dimension.
  const bool sampled = std::any_of(space.dimensions().begin(), space.dimensions().end(),
                                   [](const Dimension& d) { return d.name == "sample"; });
  if (sampled) table.columns.push_back({Column::Kind::kSample, "sample"});
  for (size_t i = 0; i < space.parameter_names().size(); ++i)
    table.columns.push_back({Column::Kind::kParameter, space.parameter_names()[i], i});
  if (space.repeat() > 1) table.columns.push_back({Column::Kind::kReplicate, "replicate"});
  table.columns.push_back({Column::Kind::kSeed, "seed"});
  std::set<std::string> taken;
  for (const Column& c : table.columns) taken.insert(c.name);
  std::vector<std::string> left_out, renamed;
  for (size_t o = 0; o < layout.results.size(); ++o) {
    const OutputDatasetInfo& result = layout.results[o];
    if (!result.point_shape.empty()) {
      left_out.push_back(result.name + " " + ShapeText(result.point_shape));
      continue;
    }
    std::string name = result.name;
    if (taken.count(name)) {
      name = "output_" + name;
      renamed.push_back(result.name + " as " + name);
    }
    taken.insert(name);
    table.columns.push_back({Column::Kind::kResult, name, o});
  }
  if (!left_out.empty())
    table.notes.push_back(
        fmt::format("export: left out non-scalar outputs: {}", fmt::join(left_out, ", ")));
  if (!renamed.empty())
    table.notes.push_back(fmt::format("export: outputs named like a column before them: {}",
                                      fmt::join(renamed, ", ")));
  return table;
}

// ---- Rows ----

// How one format lays out a row: each column's text before its value, and the row's end.
class RowFormat {
 public:
  RowFormat(ExportFormat format, const std::vector<std::string>& names)
      : json_(format == ExportFormat::kJsonl) {
    for (size_t i = 0; i < names.size(); ++i) {
      std::string before = json_ ? (i ? "," : "{") : (i ? "," : "");
      if (json_) {
        AppendJsonString(names[i].c_str(), &before);
        before += ':';
      } else {
        AppendCsvField(names[i].c_str(), &header_);
        header_ += i + 1 < names.size() ? "," : "\n";
      }
      before_.push_back(std::move(before));
    }
    end_ = json_ ? "}\n" : "\n";
  }

  const std::string& header() const { return header_; }  // empty for JSON lines
  const std::string& before(size_t column) const { return before_[column]; }
  const std::string& end() const { return end_; }

  void Value(const sweep_value& v, std::string* out) const {
    if (v.type == SWEEP_VALUE_INTEGER) {
      fmt::format_to(std::back_inserter(*out), "{}", v.integer);
    } else if (v.type == SWEEP_VALUE_STRING) {
      String(v.string ? v.string : "", out);
    } else {
      AppendFloat(v.number, json_, out);
    }
  }
  void String(const char* text, std::string* out) const {
    json_ ? AppendJsonString(text, out) : AppendCsvField(text, out);
  }
  template <typename T>
  void Float(T v, std::string* out) const {
    AppendFloat(v, json_, out);
  }
  // A value not recorded: an empty CSV field (not the quoted empty string), JSON's null.
  void Missing(std::string* out) const {
    if (json_) *out += "null";
  }

 private:
  bool json_;
  std::string header_;
  std::vector<std::string> before_;
  std::string end_;
};

// The scalar outputs' rows of a block of consecutive points, read with one ReadRows each.
class ResultBlock {
 public:
  explicit ResultBlock(const OutputFile& file) : file_(file), rows_(file.layout().results.size()) {}

  // THROWS: Error when a read fails.
  void Read(const Table& table, uint64_t first, uint64_t count) {
    first_ = first;
    for (const Column& c : table.columns) {
      if (c.kind != Column::Kind::kResult) continue;
      rows_[c.index].resize(count * file_.layout().results[c.index].bytes_per_point);
      file_.ReadRows(c.index, first, count, rows_[c.index].data());
    }
  }

  // Output `output`'s value at `point` (within the block) as text.
  void Append(const RowFormat& format, size_t output, uint64_t point, std::string* out) const {
    const unsigned char* at = rows_[output].data() + (point - first_) * Size(output);
    switch (file_.layout().results[output].dtype) {
      case SWEEP_FLOAT64:
        return format.Float(Load<double>(at), out);
      case SWEEP_FLOAT32:
        return format.Float(Load<float>(at), out);
      case SWEEP_INT64:
        return Integer(Load<int64_t>(at), out);
      case SWEEP_INT32:
        return Integer(Load<int32_t>(at), out);
      case SWEEP_UINT8:
        return Integer(Load<uint8_t>(at), out);
    }
    throw Error(fmt::format("export: output `{}` has an unknown dtype",
                            file_.layout().results[output].name));
  }

 private:
  template <typename T>
  static T Load(const unsigned char* at) {
    T v;
    std::memcpy(&v, at, sizeof v);
    return v;
  }
  template <typename T>
  static void Integer(T v, std::string* out) {
    fmt::format_to(std::back_inserter(*out), "{}", v);
  }
  uint64_t Size(size_t output) const { return file_.layout().results[output].bytes_per_point; }

  const OutputFile& file_;
  std::vector<std::vector<unsigned char>> rows_;
  uint64_t first_ = 0;
};

// ---- Stopping ----

volatile sig_atomic_t stop_signal = 0;

void OnStop(int sig) { stop_signal = sig; }

// While alive: SIGINT and SIGTERM end the export between blocks, or interrupt a blocked write,
// so that -o removes its temporary. No SA_RESTART, so that write() returns EINTR.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction action = {};
    action.sa_handler = OnStop;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // THROWS: Error (exit code 130) once a stop signal came.
  static void Check() {
    if (stop_signal) throw Error("export: interrupted", ExitCode::kInterrupted);
  }

 private:
  struct sigaction old_int_, old_term_;
};

// ---- Where the bytes go ----

// Thrown when the reader of stdout went away: the end of the export, not a failure.
struct ReaderGone {};

// A descriptor written through a buffer.
class Sink {
 public:
  Sink(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  std::string* buffer() { return &buffer_; }
  void MaybeFlush() {
    if (buffer_.size() >= kFlushBytes) Flush();
  }
  // THROWS: ReaderGone on EPIPE; Error on any other write error.
  void Flush() {
    for (size_t done = 0; done < buffer_.size();) {
      const ssize_t n = write(fd_, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR) {
        StopSignals::Check();  // a reader that stopped reading must not hold off Ctrl-C
        continue;
      }
      if (n < 0 && errno == EPIPE) throw ReaderGone{};
      if (n < 0) throw Error("export: cannot write " + name_ + ": " + std::strerror(errno));
      done += size_t(n);
    }
    buffer_.clear();
  }

 private:
  int fd_;
  std::string name_;
  std::string buffer_;
};

// -o FILE: FILE.tmp-<pid>, renamed over FILE by Commit(); removed if never committed.
class TemporaryFile {
 public:
  // THROWS: Error when the temporary cannot be created.
  explicit TemporaryFile(std::string path)
      : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(getpid())) {
    fd_ = open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) throw Error("export: cannot create " + temp_ + ": " + std::strerror(errno));
  }
  ~TemporaryFile() {
    if (fd_ >= 0) close(fd_);
    if (!committed_) unlink(temp_.c_str());
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;

  int fd() const { return fd_; }
  // THROWS: Error when the bytes cannot be made durable or the rename fails.
  void Commit() {
    const bool synced = fsync(fd_) == 0;
    const int closed = close(fd_);
    fd_ = -1;
    if (!synced || closed != 0 || rename(temp_.c_str(), path_.c_str()) != 0)
      throw Error("export: cannot write " + path_ + ": " + std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_, temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// ---- The export ----

// THROWS: Error (exit code 2) when `destination` is the output file itself.
void CheckNotTheOutput(const std::string& output, const std::string& destination) {
  struct stat a, b;
  if (stat(output.c_str(), &a) == 0 && stat(destination.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
      a.st_ino == b.st_ino) {
    throw Error("export: -o " + destination + " is the output file itself", ExitCode::kUsage);
  }
}

// The done points, as runs [first, end) of consecutive done chunks.
std::vector<std::pair<uint64_t, uint64_t>> DoneRanges(const OutputFile& file) {
  const ChunkTable table = file.ReadChunkTable();
  const Plan plan(file.layout().points, file.layout().chunk_size);
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (uint64_t c = 0; c < plan.chunks() && c < table.status.size(); ++c) {
    if (table.status[c] != ChunkStatus::kDone) continue;
    const Chunk chunk = plan.chunk(c);
    if (!ranges.empty() && ranges.back().second == chunk.first) {
      ranges.back().second = chunk.end();
    } else {
      ranges.emplace_back(chunk.first, chunk.end());
    }
  }
  return ranges;
}

struct Exporter {
  const OutputFile& file;
  const Space& space;
  const Table& table;
  const RowFormat& format;

  void AppendRow(uint64_t point, const ResultBlock& block, sweep_value* values,
                 std::string* out) const {
    space.Resolve(point, values);
    for (size_t i = 0; i < table.columns.size(); ++i) {
      const Column& c = table.columns[i];
      *out += format.before(i);
      switch (c.kind) {
        case Column::Kind::kPoint:
          fmt::format_to(std::back_inserter(*out), "{}", point);
          break;
        case Column::Kind::kParameter:
          format.Value(values[c.index], out);
          break;
        case Column::Kind::kSample:
          fmt::format_to(std::back_inserter(*out), "{}", point / space.repeat());
          break;
        case Column::Kind::kReplicate:
          fmt::format_to(std::back_inserter(*out), "{}", point % space.repeat());
          break;
        case Column::Kind::kSeed:
          fmt::format_to(std::back_inserter(*out), "{}", space.Seed(point));
          break;
        case Column::Kind::kResult:
          block.Append(format, c.index, point, out);
          break;
      }
    }
    *out += format.end();
  }

  // Points [first, end), a block at a time.
  void WriteRange(uint64_t first, uint64_t end, Sink* sink) const {
    ResultBlock block(file);
    std::vector<sweep_value> values(space.parameter_names().size());
    for (uint64_t at = first; at < end; at += kBlockPoints) {
      StopSignals::Check();
      const uint64_t count = std::min(kBlockPoints, end - at);
      block.Read(table, at, count);
      for (uint64_t p = at; p < at + count; ++p) AppendRow(p, block, values.data(), sink->buffer());
      sink->MaybeFlush();
    }
  }
};

void PrintNotes(const Table& table, uint64_t done, uint64_t points) {
  for (const std::string& note : table.notes) std::fprintf(stderr, "sweep: %s\n", note.c_str());
  if (done < points) {
    std::fprintf(stderr, "sweep: export: %llu of %llu points are done; the table holds those\n",
                 (unsigned long long)done, (unsigned long long)points);
  }
}

// ---- The chunk table (--chunks) ----

const char* StatusName(ChunkStatus status) {
  switch (status) {
    case ChunkStatus::kDone:
      return "done";
    case ChunkStatus::kFailed:
      return "failed";
    default:
      return "pending";
  }
}

const std::vector<std::string> kChunkColumns = {"chunk",
                                                "first_point",
                                                "points",
                                                "status",
                                                "attempts",
                                                "host",
                                                "worker",
                                                "device",
                                                "start_time",
                                                "seconds",
                                                "max_rss",
                                                "failure",
                                                "failure_point",
                                                "reused",
                                                "reused_from",
                                                "reused_first_chunk",
                                                "reused_last_chunk"};

// Chunk c's row, in kChunkColumns' order.
void AppendChunkRow(const ChunkHistory& history, const Plan& plan, uint64_t c,
                    const RowFormat& format, std::string* out) {
  const Chunk chunk = plan.chunk(c);
  size_t column = 0;
  const auto next = [&]() -> std::string* {
    *out += format.before(column++);
    return out;
  };
  const auto unsigned_or_missing = [&](uint64_t value, bool recorded) {
    recorded ? void(fmt::format_to(std::back_inserter(*next()), "{}", value))
             : format.Missing(next());
  };
  const auto float_or_missing = [&](double value) {
    value != 0 ? format.Float(value, next()) : format.Missing(next());
  };
  const auto text_or_missing = [&](const std::string& text) {
    !text.empty() ? format.String(text.c_str(), next()) : format.Missing(next());
  };
  fmt::format_to(std::back_inserter(*next()), "{}", c);
  fmt::format_to(std::back_inserter(*next()), "{}", chunk.first);
  fmt::format_to(std::back_inserter(*next()), "{}", chunk.count);
  format.String(StatusName(history.ledger().status(c)), next());
  fmt::format_to(std::back_inserter(*next()), "{}", history.attempts(c));
  text_or_missing(history.host(c));
  unsigned_or_missing(uint64_t(history.worker(c)), history.worker(c) >= 0);
  text_or_missing(history.device(c));
  float_or_missing(history.start_time(c));
  float_or_missing(history.seconds(c));
  unsigned_or_missing(history.max_rss(c), history.max_rss(c) > 0);
  text_or_missing(history.failure(c));
  const std::optional<uint64_t> point = history.failure_point(c);
  unsigned_or_missing(point.value_or(0), point.has_value());
  const bool done = history.ledger().status(c) == ChunkStatus::kDone;
  const bool reused = done && history.reused(c) > 0;
  unsigned_or_missing(history.reused(c), done);
  text_or_missing(reused ? history.reused_from(c) : std::string());
  unsigned_or_missing(history.reused_first_chunk(c), reused);
  unsigned_or_missing(history.reused_last_chunk(c), reused);
  *out += format.end();
}

int ExportChunks(const ExportRequest& request) {
  OutputFile file = OutputFile::Open(request.output_path, OutputFile::Access::kRead);
  if (!request.destination.empty()) CheckNotTheOutput(request.output_path, request.destination);
  const StopSignals stop;
  const ChunkHistory history = ChunkHistory::Read(file);
  const Plan plan(file.layout().points, file.layout().chunk_size);
  const RowFormat format(request.format, kChunkColumns);
  std::optional<TemporaryFile> temporary;
  if (!request.destination.empty()) temporary.emplace(request.destination);
  Sink sink(temporary ? temporary->fd() : STDOUT_FILENO,
            temporary ? request.destination : std::string("stdout"));
  try {
    *sink.buffer() += format.header();
    for (uint64_t c = 0; c < plan.chunks(); ++c) {
      if (c % kBlockPoints == 0) StopSignals::Check();
      AppendChunkRow(history, plan, c, format, sink.buffer());
      sink.MaybeFlush();
    }
    sink.Flush();
  } catch (const ReaderGone&) {
    return 0;
  }
  StopSignals::Check();  // a stop during the last block leaves FILE as it was, too
  if (temporary) temporary->Commit();
  return 0;
}

}  // namespace

int ExportCommand(const ExportRequest& request) {
  if (request.chunks) return ExportChunks(request);
  const OutputFile file = OutputFile::Open(request.output_path, OutputFile::Access::kRead);
  const Space space = StoredSpace(file);
  const Table table = PlanTable(space, file.layout());
  std::vector<std::string> names;
  for (const Column& c : table.columns) names.push_back(c.name);
  const RowFormat format(request.format, names);
  if (!request.destination.empty()) CheckNotTheOutput(request.output_path, request.destination);
  const StopSignals stop;
  const std::vector<std::pair<uint64_t, uint64_t>> ranges = DoneRanges(file);
  uint64_t done = 0;
  for (const auto& [first, end] : ranges) done += end - first;
  std::optional<TemporaryFile> temporary;
  if (!request.destination.empty()) temporary.emplace(request.destination);
  PrintNotes(table, done, file.layout().points);
  Sink sink(temporary ? temporary->fd() : STDOUT_FILENO,
            temporary ? request.destination : std::string("stdout"));
  const Exporter exporter{file, space, table, format};
  try {
    *sink.buffer() += format.header();
    for (const auto& [first, end] : ranges) exporter.WriteRange(first, end, &sink);
    sink.Flush();
  } catch (const ReaderGone&) {
    return 0;  // `| head` has what it wanted
  }
  StopSignals::Check();  // a stop during the last block leaves FILE as it was, too
  if (temporary) temporary->Commit();
  return 0;
}

namespace internal {

std::string FloatText(double value) {
  std::string text;
  AppendFloat(value, false, &text);
  return text;
}

std::string FloatText(float value) {
  std::string text;
  AppendFloat(value, false, &text);
  return text;
}

std::string CsvField(const std::string& text) {
  std::string field;
  AppendCsvField(text.c_str(), &field);
  return field;
}

}  // namespace internal
}  // namespace sweep
