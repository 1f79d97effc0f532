// Plots: the charts of `sweep report` as inline SVG text, drawn here so that the report needs no
// plotting library, no script and no network: a line over one axis, a heatmap over two with its
// colour scale, a timeline of bars in rows, a histogram.
//
// Each function returns one <svg> element, sized in CSS pixels by its viewBox (it scales with
// the page), with class "plot" and the kind ("line", "heatmap", "timeline", "histogram"),
// role="img" and an aria-label. Every text in it is escaped, so names and labels may hold any
// character. A value that is not finite stands for a point not computed yet (pending), one that
// failed, or one computed as NaN: each chart says which. A line stops there (its segments end),
// with a red cross at the foot of the chart where points failed; a heatmap draws such a cell grey
// (pending, class "missing pending"), red (failed, class "missing failed") or white (not finite,
// class "missing not-finite"). A legend under the chart names each kind it shows. Each point,
// cross, cell and bar carries a <title>: the browser shows its values on hover ("failed",
// "pending: not computed yet").
//
// The charts draw what they are given: callers bin large data first (at most a few thousand
// points a line, 10^4 cells a heatmap), and a timeline merges the bars of a row that lie within
// a pixel of each other, so its size is bounded by rows x width, not by the number of bars.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sweep {

// An axis of positions 0..n-1 and what to call each: its values, numeric or not. With
// `numeric`, `values` places the positions on a linear scale (they must be ascending); else they
// are evenly spaced categories labelled by `labels`.
struct PlotAxis {
  std::string name;
  std::vector<std::string> labels;  // one per position
  std::vector<double> values;       // one per position when numeric
  bool numeric = false;
  std::string label;  // drawn along the axis ("rho: Rayleigh number [1]"); "": name
};

// What a position or cell without a finite value stands for.
enum class Missing : uint8_t { kPending = 0, kFailed = 1, kNotFinite = 2 };

// y over the positions of x: a line through the values, or with `scatter` a dot for each (the
// positions of a sampled sweep are not neighbours: a line between them would mean nothing).
struct LinePlot {
  PlotAxis x;
  std::string y_name;
  std::vector<double> y;  // one per position of x; NaN: none
  bool scatter = false;
  std::string y_label{};           // drawn along the y axis; "": y_name
  std::vector<Missing> missing{};  // one per position (read where y is not finite); empty: pending
};

// values[iy * nx + ix] over the positions of x (horizontal) and y (vertical, upwards).
struct Heatmap {
  PlotAxis x, y;
  std::string value_name;
  std::vector<double> values;  // NaN: none
  std::string value_label{};   // drawn along the colour scale; "": value_name
  std::vector<Missing>
      missing{};  // one per cell (read where the value is not finite); empty: pending
};

// Bars in rows over time.
struct TimelineBar {
  size_t row = 0;
  double start = 0, end = 0;  // Unix seconds
  std::string title;          // what hovering says of it alone
};
struct Timeline {
  std::vector<std::string> rows;  // top to bottom
  std::vector<TimelineBar> bars;
  std::string bar_name;  // "chunk": what a merged bar says it holds several of
};

struct Histogram {
  std::string x_name;
  std::vector<double> values;  // finite ones are counted
  int bins = 30;
};

std::string LineSvg(const LinePlot& plot);
std::string HeatmapSvg(const Heatmap& plot);
std::string TimelineSvg(const Timeline& plot);
std::string HistogramSvg(const Histogram& plot);

// `text` with &, <, >, " and ' escaped, for XML and HTML text and attributes.
std::string EscapeXml(const std::string& text);
// A number as a short label: at most 4 significant digits ("0.5", "1.235e+06", "-3").
std::string ShortNumber(double value);
// About `target` round tick values (steps of 1, 2 or 5 times a power of ten) within [lo, hi].
// REQUIRES: lo <= hi, both finite.
std::vector<double> NiceTicks(double lo, double hi, int target);
// The viridis colour map at t in [0, 1] (clamped), as "#rrggbb".
std::string ViridisColour(double t);

}  // namespace sweep
