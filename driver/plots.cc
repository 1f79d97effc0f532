#include "driver/plots.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <iterator>

namespace sweep {
namespace {

// The frame every chart shares: the viewBox and the plotting area inside it.
struct Frame {
  double width = 640, height = 360;
  double left = 72, right = 20, top = 16, bottom = 52;
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; }  // the bottom of the area (SVG y grows down)
  double y1() const { return top; }
};

// A linear map of [lo, hi] onto [to_lo, to_hi]; a degenerate domain maps to its middle.
struct Scale {
  double lo, hi, to_lo, to_hi;
  double operator()(double v) const {
    if (hi <= lo) return (to_lo + to_hi) / 2;
    return to_lo + (v - lo) / (hi - lo) * (to_hi - to_lo);
  }
};

std::string Px(double v) { return fmt::format("{:.1f}", v); }

std::string Open(const char* kind, const Frame& f, const std::string& label) {
  return fmt::format(
      "<svg class=\"plot {}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" "
      "width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n",
      kind, Px(f.width), Px(f.height), Px(f.width), Px(f.height), EscapeXml(label));
}

void Text(std::string* out, double x, double y, const std::string& text, const char* anchor,
          const std::string& extra = "") {
  fmt::format_to(std::back_inserter(*out),
                 "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\"{}>{}</text>\n", Px(x), Px(y), anchor,
                 extra, EscapeXml(text));
}

std::string LabelOf(const PlotAxis& axis) { return axis.label.empty() ? axis.name : axis.label; }

// The two axis lines of the area, and the axis names below and left of it.
void Axes(std::string* out, const Frame& f, const std::string& x_name, const std::string& y_name) {
  fmt::format_to(std::back_inserter(*out),
                 "<path class=\"axis\" d=\"M{} {}V{}H{}\" fill=\"none\" stroke=\"#333\"/>\n",
                 Px(f.x0()), Px(f.y1()), Px(f.y0()), Px(f.x1()));
  Text(out, (f.x0() + f.x1()) / 2, f.y0() + 44, x_name, "middle", " class=\"axis-name\"");
  const double y = (f.y0() + f.y1()) / 2;
  Text(out, 14, y, y_name, "middle",
       fmt::format(" class=\"axis-name\" transform=\"rotate(-90 14 {})\"", Px(y)));
}

// Numeric ticks along the left axis, at y(value).
void LeftTicks(std::string* out, const Frame& f, const Scale& y, double lo, double hi) {
  for (double v : NiceTicks(lo, hi, 5)) {
    const double at = y(v);
    fmt::format_to(std::back_inserter(*out), "<path d=\"M{} {}h-4\" stroke=\"#333\"/>\n",
                   Px(f.x0()), Px(at));
    Text(out, f.x0() - 6, at + 4, ShortNumber(v), "end");
  }
}

// Ticks below the area at x positions `at`, labelled `labels`: at most about 8 of them, so that
// labels do not overlap.
void BottomTicks(std::string* out, const Frame& f, const std::vector<double>& at,
                 const std::vector<std::string>& labels) {
  const size_t step = std::max<size_t>(1, (at.size() + 7) / 8);
  for (size_t i = 0; i < at.size(); i += step) {
    fmt::format_to(std::back_inserter(*out), "<path d=\"M{} {}v4\" stroke=\"#333\"/>\n", Px(at[i]),
                   Px(f.y0()));
    Text(out, at[i], f.y0() + 16, labels[i], "middle");
  }
}

// Ticks left of the area at y positions `at` (categories): at most about 8.
void LeftCategoryTicks(std::string* out, const Frame& f, const std::vector<double>& at,
                       const std::vector<std::string>& labels) {
  const size_t step = std::max<size_t>(1, (at.size() + 7) / 8);
  for (size_t i = 0; i < at.size(); i += step) {
    fmt::format_to(std::back_inserter(*out), "<path d=\"M{} {}h-4\" stroke=\"#333\"/>\n",
                   Px(f.x0()), Px(at[i]));
    Text(out, f.x0() - 6, at[i] + 4, labels[i], "end");
  }
}

// Where each position of `axis` is along [from, to]: by value when numeric, else the centres
// of equal bands.
std::vector<double> Positions(const PlotAxis& axis, double from, double to) {
  const size_t n = axis.labels.size();
  std::vector<double> at(n);
  if (axis.numeric && n > 1) {
    const Scale s{axis.values.front(), axis.values.back(), from, to};
    for (size_t i = 0; i < n; ++i) at[i] = s(axis.values[i]);
  } else {
    const double band = (to - from) / double(std::max<size_t>(n, 1));
    for (size_t i = 0; i < n; ++i) at[i] = from + band * (double(i) + 0.5);
  }
  return at;
}

std::pair<double, double> FiniteRange(const std::vector<double>& values) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {lo, hi};
}

// A range that can be drawn: a single value gets room around it.
std::pair<double, double> Padded(std::pair<double, double> range) {
  if (range.first < range.second) return range;
  const double pad = range.first == 0 ? 1 : std::abs(range.first) * 0.1;
  return {range.first - pad, range.first + pad};
}

Missing MissingAt(const std::vector<Missing>& missing, size_t i) {
  return i < missing.size() ? missing[i] : Missing::kPending;
}

// How each kind of missing value is drawn, by Missing's value: its CSS class, its words in a
// tooltip and the legend, and its colour.
struct MissingStyle {
  const char* css_class;
  const char* title;
  const char* colour;
};
constexpr MissingStyle kMissingStyles[] = {
    {"pending", "pending: not computed yet", "#d9d9d9"},         // kPending
    {"failed", "failed", "#e06666"},                             // kFailed
    {"not-finite", "computed, not a finite number", "#ffffff"},  // kNotFinite
};

const MissingStyle& StyleOf(Missing m) {
  const size_t k = size_t(m);
  return kMissingStyles[k < std::size(kMissingStyles) ? k : 0];
}

const char* MissingClass(Missing m) { return StyleOf(m).css_class; }
const char* MissingTitle(Missing m) { return StyleOf(m).title; }
const char* MissingColour(Missing m) { return StyleOf(m).colour; }

// Room under a chart for its legend: a row below the axis name.
constexpr double kLegendRow = 20;

// The legend of the kinds of missing value in `shown`, in a row under the chart: a swatch for a
// heatmap's cells, a cross (failed) or a gap (pending) for a line.
void Legend(std::string* out, const Frame& f, const std::vector<Missing>& shown, bool line) {
  if (shown.empty()) return;
  double x = f.x0();
  const double y = f.y0() + 44 + kLegendRow;
  *out += "<g class=\"legend\">\n";
  for (Missing m : shown) {
    std::string label = MissingTitle(m);
    if (line && m == Missing::kFailed) {
      fmt::format_to(std::back_inserter(*out),
                     "<path class=\"legend-failed\" d=\"M{} {}l8 8m0 -8l-8 8\" stroke=\"#c00\" "
                     "stroke-width=\"1.5\"/>\n",
                     Px(x), Px(y - 8));
    } else if (line) {
      label = m == Missing::kPending ? "gap: pending, not computed yet"
                                     : "gap: computed, not a finite number";
      fmt::format_to(std::back_inserter(*out),
                     "<path d=\"M{} {}h3m5 0h3\" stroke=\"#21918c\" stroke-width=\"1.5\"/>\n",
                     Px(x - 1), Px(y - 4));
    } else {
      fmt::format_to(std::back_inserter(*out),
                     "<rect class=\"legend-{}\" x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" "
                     "fill=\"{}\" stroke=\"#999\"/>\n",
                     MissingClass(m), Px(x), Px(y - 9), MissingColour(m));
    }
    Text(out, x + 14, y, label, "start", std::string(" class=\"legend-") + MissingClass(m) + "\"");
    x += 24 + 6.2 * double(label.size());
  }
  *out += "</g>\n";
}

// The kinds of missing value at the positions where `values` are not finite, in a fixed order.
std::vector<Missing> KindsShown(const std::vector<double>& values,
                                const std::vector<Missing>& missing) {
  bool seen[3] = {false, false, false};
  for (size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) seen[size_t(MissingAt(missing, i))] = true;
  std::vector<Missing> kinds;
  for (Missing m : {Missing::kFailed, Missing::kPending, Missing::kNotFinite})
    if (seen[size_t(m)]) kinds.push_back(m);
  return kinds;
}

void NoValues(std::string* out, const Frame& f) {
  Text(out, (f.x0() + f.x1()) / 2, (f.y0() + f.y1()) / 2, "no value yet", "middle",
       " class=\"empty\" fill=\"#888\"");
}

std::string Duration(double seconds) {
  if (seconds < 120) return ShortNumber(seconds) + " s";
  if (seconds < 7200) return ShortNumber(seconds / 60) + " min";
  return ShortNumber(seconds / 3600) + " h";
}

}  // namespace

std::string EscapeXml(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters are not allowed in XML: a kernel's stderr may hold some.
        if (uint8_t(c) < 0x20 && c != '\n' && c != '\t' && c != '\r') {
          out += "\xEF\xBF\xBD";  // U+FFFD
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string ShortNumber(double value) {
  if (value == 0) return "0";  // not "-0"
  return fmt::format("{:.4g}", value);
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double rough = (hi - lo) / std::max(target, 1);
  // Values near the largest doubles (a damaged output) make the span infinite: the ends alone.
  if (!std::isfinite(rough)) return {lo, hi};
  const int exponent = int(std::floor(std::log10(rough)));
  // A tick is k * m * 10^exponent; dividing by 10^-exponent (exact) rather than multiplying by
  // 10^exponent (inexact) gives 0.6, not 0.6000000000000001.
  const double scale = std::pow(10.0, std::abs(exponent));
  const auto value = [&](double units) { return exponent < 0 ? units / scale : units * scale; };
  double m = 10;
  for (double candidate : {1.0, 2.0, 5.0}) {
    if (value(candidate) >= rough) {
      m = candidate;
      break;
    }
  }
  const double step = value(m);
  std::vector<double> ticks;
  // At most a few times the target: where k is beyond 2^53, k + 1 == k and the loop would not end.
  const size_t most = size_t(4 * std::max(target, 1) + 2);
  for (double k = std::ceil(lo / step); value(k * m) <= hi + step * 1e-9 && ticks.size() < most;
       k += 1)
    ticks.push_back(k == 0 ? 0.0 : value(k * m));
  return ticks;
}

std::string ViridisColour(double t) {
  static const int kAnchors[][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                    {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                    {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  constexpr int kLast = 8;
  t = std::isfinite(t) ? std::clamp(t, 0.0, 1.0) : 0.0;
  const double at = t * kLast;
  const int i = std::min(int(at), kLast - 1);
  const double f = at - i;
  int rgb[3];
  for (int k = 0; k < 3; ++k)
    rgb[k] = int(std::lround(kAnchors[i][k] + f * (kAnchors[i + 1][k] - kAnchors[i][k])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string LineSvg(const LinePlot& plot) {
  Frame f;
  const std::vector<Missing> kinds = KindsShown(plot.y, plot.missing);
  if (!kinds.empty()) f.height += kLegendRow;
  std::string out = Open("line", f, plot.y_name + " over " + plot.x.name);
  Axes(&out, f, LabelOf(plot.x), plot.y_label.empty() ? plot.y_name : plot.y_label);
  const std::vector<double> x = Positions(plot.x, f.x0() + 6, f.x1() - 6);
  BottomTicks(&out, f, x, plot.x.labels);
  Legend(&out, f, kinds, true);
  // A cross at the foot of the chart where points failed: a gap alone would read as pending.
  std::string crosses;
  for (size_t i = 0; i < plot.y.size() && i < x.size(); ++i) {
    if (std::isfinite(plot.y[i]) || MissingAt(plot.missing, i) != Missing::kFailed) continue;
    fmt::format_to(std::back_inserter(crosses),
                   "<path d=\"M{} {}l7 7m0 -7l-7 7\"><title>{} = {}: failed</title></path>\n",
                   Px(x[i] - 3.5), Px(f.y0() - 10), EscapeXml(plot.x.name),
                   EscapeXml(plot.x.labels[i]));
  }
  if (!crosses.empty())
    out += "<g class=\"failed\" stroke=\"#c00\" stroke-width=\"1.5\">\n" + crosses + "</g>\n";
  const auto range = FiniteRange(plot.y);
  if (!(range.first <= range.second)) {
    NoValues(&out, f);
    return out + "</svg>\n";
  }
  const auto [lo, hi] = Padded(range);
  const Scale y{lo, hi, f.y0() - 6, f.y1() + 6};
  LeftTicks(&out, f, y, lo, hi);
  // One path of segments, broken where a value is missing.
  if (!plot.scatter) {
    std::string d;
    bool pen_down = false;
    for (size_t i = 0; i < plot.y.size() && i < x.size(); ++i) {
      if (!std::isfinite(plot.y[i])) {
        pen_down = false;
        continue;
      }
      d += fmt::format("{}{} {}", pen_down ? "L" : "M", Px(x[i]), Px(y(plot.y[i])));
      pen_down = true;
    }
    fmt::format_to(std::back_inserter(out),
                   "<path class=\"series\" d=\"{}\" fill=\"none\" stroke=\"#21918c\" "
                   "stroke-width=\"1.5\"/>\n",
                   d);
  }
  // Points to hover: each one when they are few, else none (the path shows the shape); every one
  // in a scatter.
  if (plot.y.size() <= 200 || plot.scatter) {
    out += "<g class=\"points\" fill=\"#21918c\">\n";
    for (size_t i = 0; i < plot.y.size() && i < x.size(); ++i) {
      if (!std::isfinite(plot.y[i])) continue;
      fmt::format_to(std::back_inserter(out),
                     "<circle cx=\"{}\" cy=\"{}\" r=\"2.5\"><title>{} = {}: {} = {}</title>"
                     "</circle>\n",
                     Px(x[i]), Px(y(plot.y[i])), EscapeXml(plot.x.name),
                     EscapeXml(plot.x.labels[i]), EscapeXml(plot.y_name),
                     EscapeXml(ShortNumber(plot.y[i])));
    }
    out += "</g>\n";
  }
  return out + "</svg>\n";
}

std::string HeatmapSvg(const Heatmap& plot) {
  Frame f;
  f.right = 110;  // the colour scale and its name
  const std::vector<Missing> kinds = KindsShown(plot.values, plot.missing);
  if (!kinds.empty()) f.height += kLegendRow;
  std::string out =
      Open("heatmap", f, plot.value_name + " over " + plot.x.name + " and " + plot.y.name);
  const size_t nx = plot.x.labels.size(), ny = plot.y.labels.size();
  const double cell_w = (f.x1() - f.x0()) / double(std::max<size_t>(nx, 1));
  const double cell_h = (f.y0() - f.y1()) / double(std::max<size_t>(ny, 1));
  const auto range = FiniteRange(plot.values);
  const bool any = range.first <= range.second;
  const Scale colour{range.first, range.second, 0, 1};
  out += "<g class=\"cells\" shape-rendering=\"crispEdges\">\n";
  for (size_t iy = 0; iy < ny; ++iy) {
    for (size_t ix = 0; ix < nx; ++ix) {
      const size_t cell = iy * nx + ix;
      const double v = plot.values[cell];
      const bool missing = !std::isfinite(v);
      const Missing kind = MissingAt(plot.missing, cell);
      // Row 0 at the bottom: y grows upwards, as on the axis.
      fmt::format_to(
          std::back_inserter(out),
          "<rect{} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\">"
          "<title>{} = {}, {} = {}: {}</title></rect>\n",
          missing ? fmt::format(" class=\"missing {}\"", MissingClass(kind)) : "",
          Px(f.x0() + cell_w * double(ix)), Px(f.y0() - cell_h * double(iy + 1)), Px(cell_w + 0.05),
          Px(cell_h + 0.05), missing ? MissingColour(kind) : ViridisColour(colour(v)),
          EscapeXml(plot.x.name), EscapeXml(plot.x.labels[ix]), EscapeXml(plot.y.name),
          EscapeXml(plot.y.labels[iy]), missing ? MissingTitle(kind) : EscapeXml(ShortNumber(v)));
    }
  }
  out += "</g>\n";
  Axes(&out, f, LabelOf(plot.x), LabelOf(plot.y));
  Legend(&out, f, kinds, false);
  std::vector<double> x(nx), y(ny);
  for (size_t i = 0; i < nx; ++i) x[i] = f.x0() + cell_w * (double(i) + 0.5);
  for (size_t i = 0; i < ny; ++i) y[i] = f.y0() - cell_h * (double(i) + 0.5);
  BottomTicks(&out, f, x, plot.x.labels);
  LeftCategoryTicks(&out, f, y, plot.y.labels);
  // The colour scale, from the smallest value (bottom) to the largest (top): strips rather than
  // a gradient, which would need an id unique in the page.
  const double bar_x = f.x1() + 16, bar_w = 14;
  constexpr int kStrips = 48;
  const double strip = (f.y0() - f.y1()) / kStrips;
  out += "<g class=\"colour-scale\" shape-rendering=\"crispEdges\">\n";
  for (int s = 0; s < kStrips; ++s) {
    fmt::format_to(std::back_inserter(out),
                   "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n", Px(bar_x),
                   Px(f.y0() - strip * (s + 1)), Px(bar_w), Px(strip + 0.05),
                   ViridisColour((s + 0.5) / kStrips));
  }
  fmt::format_to(std::back_inserter(out),
                 "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" "
                 "stroke=\"#333\"/>\n",
                 Px(bar_x), Px(f.y1()), Px(bar_w), Px(f.y0() - f.y1()));
  if (any) {
    const Scale at{range.first, range.second, f.y0(), f.y1()};
    const std::vector<double> ticks = range.first < range.second
                                          ? NiceTicks(range.first, range.second, 4)
                                          : std::vector<double>{range.first};
    for (double v : ticks) {
      fmt::format_to(std::back_inserter(out), "<path d=\"M{} {}h4\" stroke=\"#333\"/>\n",
                     Px(bar_x + bar_w), Px(at(v)));
      Text(&out, bar_x + bar_w + 6, at(v) + 4, ShortNumber(v), "start");
    }
    // What the colours mean, along the scale, right of its ticks.
    const double name_x = bar_x + bar_w + 62, name_y = (f.y0() + f.y1()) / 2;
    Text(&out, name_x, name_y, plot.value_label.empty() ? plot.value_name : plot.value_label,
         "middle",
         fmt::format(" class=\"colour-name\" transform=\"rotate(90 {} {})\"", Px(name_x),
                     Px(name_y)));
  } else {
    NoValues(&out, f);
  }
  out += "</g>\n";
  return out + "</svg>\n";
}

std::string TimelineSvg(const Timeline& plot) {
  Frame f;
  f.left = 150;
  const double row_h = std::clamp(480.0 / double(std::max<size_t>(plot.rows.size(), 1)), 3.0, 18.0);
  f.height = f.top + f.bottom + row_h * double(plot.rows.size());
  std::string out = Open("timeline", f, "chunks by worker over time");
  double t0 = INFINITY, t1 = -INFINITY;
  for (const TimelineBar& b : plot.bars) {
    t0 = std::min(t0, b.start);
    t1 = std::max(t1, b.end);
  }
  Axes(&out, f, "time since the first chunk began", "");
  if (plot.bars.empty()) {
    NoValues(&out, f);
    return out + "</svg>\n";
  }
  const Scale x{t0, std::max(t1, t0 + 1e-3), f.x0(), f.x1()};
  for (double v : NiceTicks(0, std::max(t1 - t0, 1e-3), 6)) {
    fmt::format_to(std::back_inserter(out), "<path d=\"M{} {}v4\" stroke=\"#333\"/>\n",
                   Px(x(t0 + v)), Px(f.y0()));
    Text(&out, x(t0 + v), f.y0() + 16, Duration(v), "middle");
  }
  const size_t label_every = row_h >= 10 ? 1 : size_t(std::ceil(10 / row_h));
  for (size_t r = 0; r < plot.rows.size(); r += label_every)
    Text(&out, f.x0() - 6, f.y1() + row_h * (double(r) + 0.5) + 4, plot.rows[r], "end",
         " class=\"row-label\"");
  // Bars of a row closer than a pixel to each other are one bar: the drawing stays as large as
  // the chart, however many chunks there are.
  std::vector<const TimelineBar*> bars;
  for (const TimelineBar& b : plot.bars) bars.push_back(&b);
  std::sort(bars.begin(), bars.end(), [](const TimelineBar* a, const TimelineBar* b) {
    return std::make_pair(a->row, a->start) < std::make_pair(b->row, b->start);
  });
  const double pixel = (x.hi - x.lo) / (f.x1() - f.x0());
  out += "<g class=\"bars\" fill=\"#3b528b\" shape-rendering=\"crispEdges\">\n";
  for (size_t i = 0; i < bars.size();) {
    size_t j = i + 1;
    double end = bars[i]->end;
    while (j < bars.size() && bars[j]->row == bars[i]->row && bars[j]->start <= end + pixel) {
      end = std::max(end, bars[j]->end);
      ++j;
    }
    const std::string title =
        j - i == 1 ? bars[i]->title
                   : fmt::format("{} {}s from +{}, {} in all", j - i, plot.bar_name,
                                 Duration(bars[i]->start - t0), Duration(end - bars[i]->start));
    fmt::format_to(std::back_inserter(out),
                   "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{}"
                   "</title></rect>\n",
                   Px(x(bars[i]->start)), Px(f.y1() + row_h * double(bars[i]->row) + 1),
                   Px(std::max(x(end) - x(bars[i]->start), 1.0)), Px(std::max(row_h - 2, 1.0)),
                   EscapeXml(title));
    i = j;
  }
  out += "</g>\n";
  return out + "</svg>\n";
}

std::string HistogramSvg(const Histogram& plot) {
  const Frame f;
  std::string out = Open("histogram", f, "histogram of " + plot.x_name);
  Axes(&out, f, plot.x_name, "count");
  const auto range = FiniteRange(plot.values);
  if (!(range.first <= range.second)) {
    NoValues(&out, f);
    return out + "</svg>\n";
  }
  const auto [lo, hi] = Padded(range);
  const int bins = std::max(plot.bins, 1);
  std::vector<uint64_t> counts(size_t(bins), 0);
  for (double v : plot.values) {
    if (!std::isfinite(v)) continue;
    const int b = std::clamp(int((v - lo) / (hi - lo) * bins), 0, bins - 1);
    ++counts[size_t(b)];
  }
  const uint64_t most = *std::max_element(counts.begin(), counts.end());
  const Scale x{lo, hi, f.x0(), f.x1()};
  const Scale y{0, double(most), f.y0(), f.y1() + 6};
  for (double v : NiceTicks(lo, hi, 6)) {
    fmt::format_to(std::back_inserter(out), "<path d=\"M{} {}v4\" stroke=\"#333\"/>\n", Px(x(v)),
                   Px(f.y0()));
    Text(&out, x(v), f.y0() + 16, ShortNumber(v), "middle");
  }
  for (double v : NiceTicks(0, double(most), 5)) {
    if (v != std::floor(v)) continue;  // counts are whole
    fmt::format_to(std::back_inserter(out), "<path d=\"M{} {}h-4\" stroke=\"#333\"/>\n", Px(f.x0()),
                   Px(y(v)));
    Text(&out, f.x0() - 6, y(v) + 4, ShortNumber(v), "end");
  }
  const double width = (f.x1() - f.x0()) / bins;
  out += "<g class=\"bars\" fill=\"#21918c\">\n";
  for (int b = 0; b < bins; ++b) {
    if (counts[size_t(b)] == 0) continue;
    const double from = lo + (hi - lo) * b / bins, to = lo + (hi - lo) * (b + 1) / bins;
    fmt::format_to(std::back_inserter(out),
                   "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{} "
                   "from {} to {}</title></rect>\n",
                   Px(f.x0() + width * b + 0.5), Px(y(double(counts[size_t(b)]))),
                   Px(std::max(width - 1, 0.5)), Px(f.y0() - y(double(counts[size_t(b)]))),
                   counts[size_t(b)], EscapeXml(ShortNumber(from)), EscapeXml(ShortNumber(to)));
  }
  out += "</g>\n";
  return out + "</svg>\n";
}

}  // namespace sweep
