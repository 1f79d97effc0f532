#include "driver/report.h"

#include <sys/stat.h>
#include <time.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "driver/chunk_history.h"
#include "driver/plan.h"
#include "driver/plots.h"
#include "driver/point_values.h"
#include "driver/progress.h"
#include "driver/space.h"
#include "driver/status.h"
#include "driver/stored_sweep.h"
#include "driver/thread_limits.h"
#include "io/byte_count.h"
#include "io/clock.h"
#include "io/error.h"
#include "io/file_bytes.h"
#include "io/output_file.h"
#include "io/output_lock.h"
#include "kernels/dtype.h"

namespace sweep {
namespace {

// Points read at a time from each output.
constexpr uint64_t kBlockPoints = 4096;

std::string H(const std::string& text) { return EscapeXml(text); }

// A damaged file's time may be no time at all: it is shown as the number it is.
std::string LocalTime(double unix_seconds) {
  struct tm local {};
  const bool representable = std::isfinite(unix_seconds) && std::fabs(unix_seconds) < 1e15;
  const time_t t = representable ? time_t(unix_seconds) : 0;
  if (!representable || localtime_r(&t, &local) == nullptr)
    return std::to_string(unix_seconds) + " s (not a time)";
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S %z", &local);
  return text;
}

// A coordinate as an axis label: numbers to 4 significant digits, integers and strings whole.
std::string LabelText(const sweep_value& v) {
  if (v.type == SWEEP_VALUE_STRING) return v.string ? v.string : "";
  if (v.type == SWEEP_VALUE_INTEGER) return std::to_string(v.integer);
  return ShortNumber(v.number);
}

// A duration to 4 significant digits below a minute ("0.003521 s"), else as progress prints it.
std::string Seconds(double seconds) {
  return seconds < 60 ? ShortNumber(seconds) + " s" : FormatDuration(seconds);
}

double NumberOf(const sweep_value& v) {
  return v.type == SWEEP_VALUE_INTEGER ? double(v.integer) : v.number;
}

// ---- What the page is made of ----

// The output read once: its layout and file, its stored sweep, its chunks' history, and whether
// a run holds it now. Built in place: the history's ledger refers to the file.
struct Sweep {
  Sweep(const std::string& path, double at)
      : output(path),
        file(OutputFile::Open(path, OutputFile::Access::kRead)),
        config(StoredConfig(file)),
        space(StoredSpace(file, config)),
        history(ChunkHistory::Read(file)),
        holder(ProbeLock(path)),
        now(at) {}
  Sweep(const Sweep&) = delete;
  Sweep& operator=(const Sweep&) = delete;

  std::string output;
  OutputFile file;
  Config config;  // the stored one
  Space space;
  ChunkHistory history;
  std::optional<LockHolder> holder;  // who runs it now, if anyone
  double now = 0;
};

// ---- Results: every scalar output binned over the chart's axes ----

// One sweep axis as a chart draws it: its `size` coordinates cut into bins of `group`
// consecutive ones (the last may hold fewer; group 1: a bin each).
struct BinnedAxis {
  size_t dimension = 0;
  uint64_t size = 1, group = 1, bins = 1;
  uint64_t Bin(uint64_t index) const { return index / group; }
  uint64_t First(uint64_t bin) const { return bin * group; }
  uint64_t Last(uint64_t bin) const { return std::min(size, (bin + 1) * group) - 1; }
};

// At most `most` bins of equal size.
BinnedAxis Binned(const Space& space, size_t d, uint64_t most) {
  const uint64_t size = space.dimensions()[d].size;
  const uint64_t group = (size + most - 1) / most;
  return {d, size, group, (size + group - 1) / group};
}

// The positions of a binned axis: each bin labelled by its coordinates (their middle, for
// numbers), on a numeric scale when every coordinate is a number and they ascend.
PlotAxis AxisOf(const Space& space, const BinnedAxis& axis) {
  PlotAxis a;
  a.name = space.dimensions()[axis.dimension].name;
  a.numeric = true;
  for (uint64_t b = 0; b < axis.bins; ++b) {
    const sweep_value first = space.Coordinate(axis.dimension, axis.First(b));
    const sweep_value last = space.Coordinate(axis.dimension, axis.Last(b));
    const bool number = first.type != SWEEP_VALUE_STRING;
    a.numeric = a.numeric && number;
    const double middle = number ? (NumberOf(first) + NumberOf(last)) / 2 : 0;
    if (a.numeric && !a.values.empty() && !(middle > a.values.back())) a.numeric = false;
    a.values.push_back(middle);
    a.labels.push_back(number && axis.group > 1 ? ShortNumber(middle) : LabelText(first));
  }
  if (!a.numeric) a.values.clear();
  return a;
}

// How the points of the sweep land in a chart's cells: the first axis (x), the second (y; one
// bin of one for a one-dimensional sweep), and the slices over the other axes shown.
struct ChartPlan {
  BinnedAxis x, y;
  uint64_t rest = 1;             // points per (x, y) coordinate pair: the other axes' product
  std::vector<uint64_t> slices;  // indices over the other axes (point % rest), ascending
  bool line = true;

  uint64_t cells() const { return x.bins * y.bins; }
  // The slice and cell of `point`; false when its slice is not shown.
  bool Locate(uint64_t point, size_t* slice, uint64_t* cell) const {
    const uint64_t r = point % rest;
    const auto it = std::lower_bound(slices.begin(), slices.end(), r);
    if (it == slices.end() || *it != r) return false;
    *slice = size_t(it - slices.begin());
    const uint64_t ix = point / (y.size * rest), iy = (point / rest) % y.size;
    *cell = y.Bin(iy) * x.bins + x.Bin(ix);
    return true;
  }
};

ChartPlan PlanCharts(const Space& space) {
  const std::vector<Dimension>& dims = space.dimensions();
  ChartPlan plan;
  plan.line = dims.size() == 1;
  plan.x = Binned(space, 0, plan.line ? kReportLineCells : kReportHeatmapCells);
  if (!plan.line) plan.y = Binned(space, 1, kReportHeatmapCells);
  for (size_t d = 2; d < dims.size(); ++d) plan.rest *= dims[d].size;
  // The first slice, then up to kReportSlices more spread evenly to the last (rounded).
  const uint64_t more = std::min(kReportSlices, plan.rest - 1);
  for (uint64_t k = 0; k <= more; ++k)
    plan.slices.push_back(more ? (k * (plan.rest - 1) + more / 2) / more : 0);
  plan.slices.erase(std::unique(plan.slices.begin(), plan.slices.end()), plan.slices.end());
  return plan;
}

// "beta = 2.5, replicate = 1": where slice r lies on the axes beyond the first two.
std::string SliceText(const Space& space, uint64_t r) {
  const std::vector<Dimension>& dims = space.dimensions();
  std::vector<std::string> parts;
  for (size_t d = dims.size(); d-- > 2;) {
    parts.push_back(dims[d].name + " = " + LabelText(space.Coordinate(d, r % dims[d].size)));
    r /= dims[d].size;
  }
  std::reverse(parts.begin(), parts.end());
  return fmt::format("{}", fmt::join(parts, ", "));
}

double ValueAt(const unsigned char* at, int dtype) {
  switch (dtype) {
    case SWEEP_FLOAT64: {
      double v;
      std::memcpy(&v, at, 8);
      return v;
    }
    case SWEEP_FLOAT32: {
      float v;
      std::memcpy(&v, at, 4);
      return double(v);
    }
    case SWEEP_INT64: {
      int64_t v;
      std::memcpy(&v, at, 8);
      return double(v);
    }
    case SWEEP_INT32: {
      int32_t v;
      std::memcpy(&v, at, 4);
      return double(v);
    }
    case SWEEP_UINT8:
      return double(*at);
  }
  return NAN;
}

// The sums and counts of one output's finite values in every shown slice's cells, and what the
// cells without one stand for.
struct Cells {
  size_t output = 0;
  std::vector<std::vector<double>> sum;  // [slice][cell]
  std::vector<std::vector<uint64_t>> count;
  std::vector<std::vector<uint64_t>> not_finite;  // done points whose value is NaN or infinite
  std::vector<std::vector<uint64_t>> failed;      // points of failed chunks (of every output)
  std::vector<double> Means(size_t slice) const {
    std::vector<double> means(sum[slice].size(), NAN);
    for (size_t c = 0; c < means.size(); ++c)
      if (count[slice][c]) means[c] = sum[slice][c] / double(count[slice][c]);
    return means;
  }
  // A cell with no finite value: failed when a point of it failed, else not finite when one was
  // computed, else pending.
  std::vector<Missing> MissingKinds(size_t slice) const {
    std::vector<Missing> kinds(sum[slice].size(), Missing::kPending);
    for (size_t c = 0; c < kinds.size(); ++c) {
      if (failed[slice][c]) {
        kinds[c] = Missing::kFailed;
      } else if (not_finite[slice][c]) {
        kinds[c] = Missing::kNotFinite;
      }
    }
    return kinds;
  }
};

// Reads the done chunks' rows of every scalar output once, a block at a time, into their cells.
std::vector<Cells> ReadCells(const Sweep& s, const ChartPlan& plan) {
  const OutputLayout& layout = s.file.layout();
  std::vector<Cells> all;
  for (size_t o = 0; o < layout.results.size(); ++o) {
    if (!layout.results[o].point_shape.empty()) continue;
    Cells cells;
    cells.output = o;
    cells.sum.assign(plan.slices.size(), std::vector<double>(plan.cells(), 0.0));
    cells.count.assign(plan.slices.size(), std::vector<uint64_t>(plan.cells(), 0));
    cells.not_finite = cells.count;
    cells.failed = cells.count;
    all.push_back(std::move(cells));
  }
  if (all.empty()) return all;
  const Plan chunks(layout.points, layout.chunk_size);
  std::vector<unsigned char> rows;
  for (uint64_t c = 0; c < chunks.chunks(); ++c) {
    const ChunkStatus status = s.history.ledger().status(c);
    const Chunk chunk = chunks.chunk(c);
    if (status == ChunkStatus::kFailed) {
      for (uint64_t point = chunk.first; point < chunk.end(); ++point) {
        size_t slice = 0;
        uint64_t cell = 0;
        if (!plan.Locate(point, &slice, &cell)) continue;
        for (Cells& cells : all) ++cells.failed[slice][cell];
      }
    }
    if (status != ChunkStatus::kDone) continue;
    for (uint64_t first = chunk.first; first < chunk.end(); first += kBlockPoints) {
      const uint64_t n = std::min(kBlockPoints, chunk.end() - first);
      for (Cells& cells : all) {
        const OutputDatasetInfo& info = layout.results[cells.output];
        rows.resize(n * info.bytes_per_point);
        s.file.ReadRows(cells.output, first, n, rows.data());
        for (uint64_t i = 0; i < n; ++i) {
          size_t slice = 0;
          uint64_t cell = 0;
          if (!plan.Locate(first + i, &slice, &cell)) continue;
          const double v = ValueAt(rows.data() + i * info.bytes_per_point, info.dtype);
          if (!std::isfinite(v)) {
            ++cells.not_finite[slice][cell];
            continue;
          }
          cells.sum[slice][cell] += v;
          ++cells.count[slice][cell];
        }
      }
    }
  }
  return all;
}

// What a chart calls a variable: its name, with the long_name and units the file gives it
// ("lyapunov: largest Lyapunov exponent [1]").
std::string LabelOf(const OutputLayout& layout, const std::string& name) {
  std::string long_name, units;
  const auto it = layout.attributes.find(name);
  if (it != layout.attributes.end()) {
    for (const auto& [key, text] : it->second) {
      if (key == "long_name") long_name = text;
      if (key == "units") units = text;
    }
  }
  std::string label = name;
  if (!long_name.empty()) label += ": " + long_name;
  if (!units.empty()) label += " [" + units + "]";
  return label;
}

std::string BinNote(const PlotAxis& axis, const BinnedAxis& binned) {
  if (binned.group == 1) return "";
  return fmt::format("{}: {} values in bins of {}, each showing the mean of its points", axis.name,
                     binned.size, binned.group);
}

// A sweep of one point has no axis to plot over: its scalar outputs are listed as values.
void OnePointResults(const Sweep& s, std::string* out) {
  const OutputLayout& layout = s.file.layout();
  const bool done = s.history.ledger().status(0) == ChunkStatus::kDone;
  *out += "<table class=\"one-point\">\n<tr><th>output</th><th>value</th></tr>\n";
  std::vector<unsigned char> row;
  for (size_t o = 0; o < layout.results.size(); ++o) {
    const OutputDatasetInfo& info = layout.results[o];
    if (!info.point_shape.empty()) continue;
    std::string value = "not computed";
    if (done) {
      row.resize(info.bytes_per_point);
      s.file.ReadRows(o, 0, 1, row.data());
      value = ShortNumber(ValueAt(row.data(), info.dtype));
    }
    *out += "<tr><td>" + H(info.name) + "</td><td>" + H(value) + "</td></tr>\n";
  }
  *out += "</table>\n";
}

void ResultsSection(const Sweep& s, std::string* out) {
  const OutputLayout& layout = s.file.layout();
  *out += "<section id=\"results\">\n<h2>Results</h2>\n";
  if (s.space.dimensions().empty()) {
    OnePointResults(s, out);
    *out += "</section>\n";
    return;
  }
  const ChartPlan plan = PlanCharts(s.space);
  const std::vector<Cells> all = ReadCells(s, plan);
  PlotAxis x = AxisOf(s.space, plan.x);
  PlotAxis y = plan.line ? PlotAxis{} : AxisOf(s.space, plan.y);
  x.label = LabelOf(layout, x.name);
  if (!plan.line) y.label = LabelOf(layout, y.name);
  std::vector<std::string> notes;
  for (const std::string& note : {BinNote(x, plan.x), plan.line ? "" : BinNote(y, plan.y)})
    if (!note.empty()) notes.push_back(note);
  if (!plan.line && plan.rest > 1) {
    notes.push_back(
        fmt::format("{} of the {} slices over the other axes", plan.slices.size(), plan.rest));
  }
  if (!notes.empty())
    *out += "<p class=\"note\">" + H(fmt::format("{}.", fmt::join(notes, "; "))) + "</p>\n";
  *out += "<div class=\"figures\">\n";
  for (const Cells& cells : all) {
    const std::string& name = layout.results[cells.output].name;
    for (size_t k = 0; k < plan.slices.size(); ++k) {
      std::string caption =
          plan.line ? name + " over " + x.name : name + " over " + x.name + " and " + y.name;
      const std::string where = plan.rest > 1 ? SliceText(s.space, plan.slices[k]) : "";
      if (!where.empty()) caption += " at " + where;
      fmt::format_to(std::back_inserter(*out),
                     "<figure class=\"result\" data-output=\"{}\" data-slice=\"{}\">\n"
                     "<figcaption>{}</figcaption>\n",
                     H(name), k, H(caption));
      if (plan.line) {
        *out += LineSvg({x, name, cells.Means(k), x.name == "sample", LabelOf(layout, name),
                         cells.MissingKinds(k)});
      } else {
        *out +=
            HeatmapSvg({x, y, name, cells.Means(k), LabelOf(layout, name), cells.MissingKinds(k)});
      }
      *out += "</figure>\n";
    }
  }
  *out += "</div>\n";
  std::vector<std::string> shaped;
  for (const OutputDatasetInfo& r : layout.results) {
    if (r.point_shape.empty()) continue;
    shaped.push_back(fmt::format("{} [{}]", r.name, fmt::join(r.point_shape, ", ")));
  }
  if (!shaped.empty()) {
    *out += "<p class=\"not-plotted\">Not plotted, a shape per point: " +
            H(fmt::format("{}", fmt::join(shaped, ", "))) + ".</p>\n";
  }
  *out += "</section>\n";
}

// ---- Summary ----

std::string StateText(const Sweep& s, const LedgerCounts& c) {
  if (s.holder) {
    return s.holder->pid > 0
               ? fmt::format("running now (pid {} on {})", s.holder->pid, s.holder->host)
               : std::string("running now (shards)");
  }
  if (c.pending == 0 && c.failed == 0) return "finished: every point done";
  const std::string hint = FinishHint(s.output, c.pending, c.failed);
  if (c.pending == 0)
    return fmt::format("finished with {} failed chunk{}: {}", c.failed, c.failed == 1 ? "" : "s",
                       hint);
  return fmt::format("incomplete: {} chunk{} pending; {}", c.pending, c.pending == 1 ? "" : "s",
                     hint);
}

// When run i ended, or now for the live one: the latest run when a run holds the output and it
// recorded no stop.
double RunEnd(const Sweep& s, size_t i) {
  const std::vector<RecordedRun>& runs = s.history.runs();
  const bool live = s.holder && i + 1 == runs.size() && runs[i].stop_reason.empty();
  return live ? std::max(s.now, runs[i].end) : runs[i].end;
}

void Row(std::string* out, const std::string& name, const std::string& value) {
  *out += "<tr><th>" + H(name) + "</th><td>" + H(value) + "</td></tr>\n";
}

// The thread settings every worker started with (driver/thread_limits.h), from the stored config:
// the run's environment, which could override them, is not recorded.
std::string ThreadsText(const Sweep& s) {
  std::string names;
  for (const char* name : kThreadVariables)
    names += (names.empty() ? "" : ", ") + std::string(name);
  return fmt::format("{} (execution.threads: {}, each unless set in the environment of the run)",
                     s.config.execution.threads, names);
}

void SummarySection(const Sweep& s, std::string* out) {
  const LedgerCounts c = s.history.ledger().Count();
  const OutputLayout& layout = s.file.layout();
  *out += "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"summary\">\n";
  Row(out, "state", StateText(s, c));
  Row(out, "points",
      fmt::format("{} done of {} ({:.1f}%)", c.points_done, layout.points,
                  layout.points ? 100.0 * double(c.points_done) / layout.points : 100.0));
  if (c.points_reused > 0) {
    // Which earlier outputs the reused points came from (`sweep run --reuse`), by chunk.
    std::map<std::string, uint64_t> by_file;
    for (uint64_t k = 0; k < layout.chunks; ++k)
      if (s.history.ledger().status(k) == ChunkStatus::kDone && s.history.reused(k) > 0)
        by_file[s.history.reused_from(k)] += s.history.reused(k);
    std::string from;
    for (const auto& [file_name, points] : by_file)
      from += fmt::format("{}{} from {}", from.empty() ? "" : ", ", points, file_name);
    Row(out, "computed", fmt::format("{} points", c.points_done - c.points_reused));
    Row(out, "reused",
        fmt::format("{} points copied from earlier outputs (--reuse): {}", c.points_reused, from));
  }
  Row(out, "chunks",
      fmt::format("{} done, {} failed, {} pending, of {} ({} points each)", c.done, c.failed,
                  c.pending, layout.chunks, layout.chunk_size));
  // Wall time: the time any run was running, each from its start to its end (a live one: to
  // now); shards run at once, so their times overlap and count once.
  const std::vector<RecordedRun>& runs = s.history.runs();  // by start
  double wall = 0, covered_to = -INFINITY;
  for (size_t i = 0; i < runs.size(); ++i) {
    const double end = RunEnd(s, i);
    wall += std::max(0.0, end - std::max(runs[i].start, covered_to));
    covered_to = std::max(covered_to, end);
  }
  if (!runs.empty()) {
    Row(out, "wall time",
        fmt::format("{} in {} run{}", Seconds(wall), runs.size(), runs.size() == 1 ? "" : "s"));
  }
  if (wall > 0) {
    Row(out, "throughput",
        fmt::format("{:.4g} points/s over the wall time", double(c.points_done) / wall));
  }
  std::vector<double> seconds;
  double busy = 0;
  uint64_t retried = 0, peak = 0, peak_chunk = 0;
  for (uint64_t k = 0; k < layout.chunks; ++k) {
    retried += s.history.attempts(k) > 1;
    if (s.history.ledger().status(k) != ChunkStatus::kDone) continue;
    seconds.push_back(s.history.seconds(k));
    busy += s.history.seconds(k);
    if (s.history.max_rss(k) > peak) {
      peak = s.history.max_rss(k);
      peak_chunk = k;
    }
  }
  if (!seconds.empty()) {
    std::sort(seconds.begin(), seconds.end());
    Row(out, "chunk time",
        fmt::format("median {}, mean {}, longest {}; {} of worker time in all",
                    Seconds(seconds[seconds.size() / 2]), Seconds(busy / double(seconds.size())),
                    Seconds(seconds.back()), Seconds(busy)));
  }
  if (peak > 0) {
    Row(out, "peak memory",
        fmt::format("{}: a worker's largest resident set, at chunk {} ({} worker {})",
                    FormatBytes(peak), peak_chunk, s.history.host(peak_chunk),
                    s.history.worker(peak_chunk)));
  }
  if (retried > 0) Row(out, "retried", fmt::format("{} chunks took more than one try", retried));
  Row(out, "kernel", layout.kernel_name);
  Row(out, "threads per worker", ThreadsText(s));
  Row(out, "output", s.output);
  *out += "</table>\n";
  const ChunkLedger& ledger = s.history.ledger();
  if (!ledger.truncated_journals().empty())
    *out +=
        "<p class=\"note\">The journal's last record is incomplete (a kill or a full disk stopped "
        "its write) and is ignored.</p>\n";
  if (ledger.damaged_records() > 0) {
    *out += "<p class=\"note\">" +
            H(fmt::format("{} damaged journal records were skipped; `sweep resume` verifies "
                          "every done chunk against its checksum.",
                          ledger.damaged_records())) +
            "</p>\n";
  }
  if (!runs.empty()) {
    *out +=
        "<table class=\"runs\">\n<thead><tr><th>run</th><th>host</th><th>workers</th>"
        "<th>started</th><th>took</th><th>ended</th></tr></thead>\n<tbody>\n";
    for (size_t i = 0; i < runs.size(); ++i) {
      const RecordedRun& r = runs[i];
      const bool live = s.holder && i + 1 == runs.size() && r.stop_reason.empty();
      const double end = RunEnd(s, i);
      const std::string ended = live ? "running" : r.stop_reason.empty() ? "killed" : r.stop_reason;
      fmt::format_to(std::back_inserter(*out),
                     "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                     "</tr>\n",
                     H(r.command), H(r.host), r.workers, H(LocalTime(r.start)),
                     H(Seconds(end - r.start)), H(ended));
    }
    *out += "</tbody>\n</table>\n";
  }
  *out += "</section>\n";
}

// ---- Timeline and chunk times ----

void TimelineSection(const Sweep& s, std::string* out) {
  const OutputLayout& layout = s.file.layout();
  const Plan plan(layout.points, layout.chunk_size);
  std::map<std::pair<std::string, int>, size_t> rows;          // (host, worker) -> row
  std::map<std::pair<std::string, int>, std::string> devices;  // (host, worker) -> its GPU
  std::vector<uint64_t> timed;
  std::vector<double> seconds;
  for (uint64_t c = 0; c < layout.chunks; ++c) {
    if (s.history.ledger().status(c) != ChunkStatus::kDone) continue;
    seconds.push_back(s.history.seconds(c));
    if (s.history.start_time(c) <= 0) continue;  // an output from before provenance
    rows.emplace(std::make_pair(s.history.host(c), s.history.worker(c)), 0);
    if (!s.history.device(c).empty())
      devices[{s.history.host(c), s.history.worker(c)}] = s.history.device(c);
    timed.push_back(c);
  }
  Timeline timeline;
  timeline.bar_name = "chunk";
  for (auto& [key, row] : rows) {
    row = timeline.rows.size();
    const auto device = devices.find(key);
    timeline.rows.push_back(fmt::format("{} worker {}{}", key.first.empty() ? "?" : key.first,
                                        key.second,
                                        device == devices.end() ? "" : " GPU " + device->second));
  }
  // A title a bar: short when there are very many (the chart merges them anyway).
  const bool brief = timed.size() > 20000;
  for (uint64_t c : timed) {
    TimelineBar bar;
    bar.row = rows.at({s.history.host(c), s.history.worker(c)});
    bar.start = s.history.start_time(c);
    bar.end = bar.start + s.history.seconds(c);
    const Chunk chunk = plan.chunk(c);
    bar.title =
        brief ? fmt::format("chunk {}", c)
              : fmt::format("chunk {} (points {} to {}): {} from {}{}", c, chunk.first,
                            chunk.end() - 1, Seconds(s.history.seconds(c)), LocalTime(bar.start),
                            s.history.device(c).empty() ? "" : " on GPU " + s.history.device(c));
    timeline.bars.push_back(std::move(bar));
  }
  *out += "<section id=\"timeline\">\n<h2>Timeline</h2>\n";
  if (!timed.empty()) {
    double first = INFINITY;
    for (const TimelineBar& b : timeline.bars) first = std::min(first, b.start);
    *out += "<p class=\"note\">" +
            H(fmt::format("The done chunks, a row per worker, from {} (each worker's clock).",
                          LocalTime(first))) +
            "</p>\n";
  }
  *out += "<figure class=\"timeline\">\n" + TimelineSvg(timeline) + "</figure>\n</section>\n";
  *out += "<section id=\"chunk-times\">\n<h2>Chunk times</h2>\n<figure class=\"histogram\">\n" +
          HistogramSvg({"seconds a chunk", seconds, 30}) + "</figure>\n</section>\n";
}

// ---- Failures ----

// A failing point's parameters, in the order of the config's `parameters` (the journal keeps
// them by name), as `run` and `status` print them.
std::string ParamsHtml(const Space& space, const std::string& params_json) {
  if (params_json.empty()) return "";
  const std::vector<std::pair<std::string, std::string>> params =
      ParamsInOrder(space.parameter_names(), params_json);
  if (params.empty()) return H(params_json);
  std::string html;
  for (const auto& [name, value] : params)
    html += fmt::format("<span class=\"param\"><code>{}</code> = {}</span> ", H(name), H(value));
  return html;
}

// A kept work directory, and the files in it with the program's whole stdout and stderr.
std::string WorkdirHtml(const KeptWorkdir& kept) {
  std::string html = "<code>" + H(kept.path) + "</code>";
  for (const std::string& stream : kept.streams)
    html += "<br><span class=\"stream\">" + H("its output in full: ") + "<code>" + H(stream) +
            "</code></span>";
  return html;
}

void FailuresSection(const Sweep& s, std::string* out) {
  const std::map<uint64_t, JournalRecord>& failures = s.history.ledger().failures();
  *out += "<section id=\"failed-chunks\">\n<h2>Failures</h2>\n";
  if (failures.empty()) {
    *out += "<p class=\"note\">No chunk is failed now.</p>\n</section>\n";
    return;
  }
  *out +=
      "<table id=\"failures\">\n<thead><tr><th>chunk</th><th>point</th><th>parameters</th>"
      "<th>reason</th><th>tries</th><th>where</th><th>when</th><th>work directory</th>"
      "</tr></thead>\n<tbody>\n";
  const std::map<uint64_t, KeptWorkdir> kept = KeptWorkdirs(
      s.file, std::filesystem::absolute(s.output).lexically_normal().string(), failures);
  uint64_t listed = 0;
  for (const auto& [chunk, f] : failures) {
    if (listed++ == kReportFailures) break;
    std::string reason = "<span class=\"kind\">" + H(f.kind) + "</span> " + H(f.reason);
    if (!f.stderr_tail.empty()) {
      reason += "<details><summary>stderr</summary><pre>" + H(f.stderr_tail) + "</pre></details>";
    }
    const int worker = s.history.worker(chunk);
    const auto workdir = kept.find(chunk);
    fmt::format_to(
        std::back_inserter(*out),
        "<tr class=\"failure\" data-chunk=\"{}\"{}><td>{}</td><td>{}</td><td class=\"params\">{}"
        "</td><td class=\"reason\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"workdir\">"
        "{}</td></tr>\n",
        chunk, f.point ? fmt::format(" data-point=\"{}\"", *f.point) : "", chunk,
        f.point ? std::to_string(*f.point) : "?", ParamsHtml(s.space, f.params_json), reason,
        f.attempt,
        H(worker >= 0 ? fmt::format("{} worker {}", s.history.host(chunk), worker) : "?"),
        H(LocalTime(f.time)), workdir == kept.end() ? "-" : WorkdirHtml(workdir->second));
  }
  *out += "</tbody>\n</table>\n";
  if (failures.size() > kReportFailures) {
    *out += "<p class=\"note\">" +
            H(fmt::format("{} more failed chunks are not listed: `sweep status {} --json` lists "
                          "them all.",
                          failures.size() - kReportFailures, s.output)) +
            "</p>\n";
  }
  *out += "</section>\n";
}

const char kStyle[] = R"(body { font: 14px/1.45 sans-serif; color: #222; margin: 0 auto;
  max-width: 1320px; padding: 0 24px 48px; }
h1 { font-size: 22px; margin: 24px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px;
  border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.subtitle, .note { color: #555; }
table { border-collapse: collapse; } th, td { text-align: left; vertical-align: top;
  padding: 3px 10px 3px 0; border-bottom: 1px solid #eee; }
table.summary th { color: #555; font-weight: normal; width: 10em; }
.figures { display: flex; flex-wrap: wrap; gap: 12px 24px; }
figure { margin: 0; } figcaption { font-weight: bold; margin: 4px 0; }
svg.plot { max-width: 100%; height: auto; }
#failures td.reason { max-width: 40em; white-space: pre-wrap; }
.kind { color: #a00; font-weight: bold; } .param { white-space: nowrap; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; }
)";

}  // namespace

std::string DefaultReportPath(const std::string& output_path) {
  return output_path + ".report.html";
}

std::string ReportHtml(const std::string& output_path, double now) {
  const Sweep s(output_path, now);
  std::string name = s.file.layout().config_file;
  name = name.substr(name.find_last_of('/') + 1);
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"generator\" content=\"sweep " SWEEP_VERSION "\">\n";
  out += "<title>" + H("sweep report: " + output_path) + "</title>\n<style>\n" + kStyle +
         "</style>\n</head>\n<body>\n";
  out += "<h1>" + H(output_path) + "</h1>\n<p class=\"subtitle\">" +
         H(fmt::format("kernel {}, config {}; {} points over {}; report of {}",
                       s.file.layout().kernel_name, name, s.file.layout().points,
                       s.space.dimensions().size() == 1
                           ? "one axis"
                           : fmt::format("{} axes", s.space.dimensions().size()),
                       LocalTime(now))) +
         "</p>\n";
  SummarySection(s, &out);
  ResultsSection(s, &out);
  TimelineSection(s, &out);
  FailuresSection(s, &out);
  out += "<section id=\"config\">\n<h2>Config</h2>\n<pre>" + H(s.file.layout().config_text) +
         "</pre>\n</section>\n</body>\n</html>\n";
  return out;
}

int ReportCommand(const ReportRequest& request) {
  const std::string destination =
      request.destination.empty() ? DefaultReportPath(request.output_path) : request.destination;
  struct stat a {
  }, b{};
  if (stat(request.output_path.c_str(), &a) == 0 && stat(destination.c_str(), &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    throw Error("report: -o " + destination + " is the output file itself", ExitCode::kUsage);
  }
  WriteWholeFile(destination, ReportHtml(request.output_path, WallSeconds()));
  std::printf("report: %s\n", destination.c_str());
  return 0;
}

}  // namespace sweep
