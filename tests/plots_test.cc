// Plots: the SVG of each chart, read back as text: what is drawn (segments, cells, bars), that
// missing values stay missing, that nearby bars merge, that every text is escaped, and that no
// degenerate input (no values, one value, NaN) puts a non-number into an attribute.
#include "driver/plots.h"

#include <gtest/gtest.h>

#include <cmath>
#include <regex>
#include <string>

namespace sweep {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Every attribute value that should be a number is one: no "nan", "inf" or "-nan" anywhere in
// the markup (titles and labels hold text, and "none yet" where a value is missing).
void ExpectNoNonNumbers(const std::string& svg) {
  static const std::regex bad("=\"[^\"]*(nan|inf)[^\"]*\"", std::regex::icase);
  EXPECT_FALSE(std::regex_search(svg, bad)) << svg.substr(0, 2000);
}

PlotAxis Numbers(const std::string& name, std::vector<double> values) {
  PlotAxis axis;
  axis.name = name;
  axis.numeric = true;
  for (double v : values) axis.labels.push_back(ShortNumber(v));
  axis.values = std::move(values);
  return axis;
}

PlotAxis Categories(const std::string& name, std::vector<std::string> labels) {
  PlotAxis axis;
  axis.name = name;
  axis.labels = std::move(labels);
  return axis;
}

TEST(PlotsTest, TextsAreEscaped) {
  EXPECT_EQ(EscapeXml("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(EscapeXml(std::string("bell\x07") + "\n"), "bell\xEF\xBF\xBD\n");
  const std::string svg = LineSvg({Categories("<x>", {"a&b", "</svg>"}), "y\"", {1, 2}, false, {}});
  EXPECT_EQ(Count(svg, "</svg>"), 1u);
  EXPECT_NE(svg.find("&lt;/svg&gt;"), std::string::npos);
  EXPECT_NE(svg.find("a&amp;b"), std::string::npos);
  EXPECT_EQ(svg.find("<x>"), std::string::npos);
}

TEST(PlotsTest, NumbersAndTicksAreShortAndRound) {
  EXPECT_EQ(ShortNumber(0.5), "0.5");
  EXPECT_EQ(ShortNumber(-0.0), "0");
  EXPECT_EQ(ShortNumber(1234567), "1.235e+06");
  EXPECT_EQ(NiceTicks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_EQ(NiceTicks(-3, 47, 5), (std::vector<double>{0, 10, 20, 30, 40}));
  EXPECT_EQ(NiceTicks(2, 2, 5), (std::vector<double>{2}));
  // A damaged output's values: a span beyond the doubles gives its ends; one too fine for the
  // doubles near it (k + 1 == k) stops at a few ticks instead of filling memory.
  EXPECT_EQ(NiceTicks(-1e308, 1e308, 5), (std::vector<double>{-1e308, 1e308}));
  EXPECT_LE(NiceTicks(1e300, 1e300 * (1 + 1e-15), 5).size(), 22u);
  EXPECT_EQ(ViridisColour(0), "#440154");
  EXPECT_EQ(ViridisColour(1), "#fde725");
  EXPECT_EQ(ViridisColour(7), "#fde725");
  EXPECT_EQ(ViridisColour(NAN), "#440154");
}

// A line stops where a value is missing and goes on after it; each value is a point to hover.
TEST(PlotsTest, ALineBreaksWhereValuesAreMissing) {
  const std::string svg =
      LineSvg({Numbers("rho", {0, 1, 2, 3, 4, 5}), "energy", {1, 2, NAN, 4, 5, NAN}, false, {}});
  std::smatch path;
  ASSERT_TRUE(std::regex_search(svg, path, std::regex("class=\"series\" d=\"([^\"]*)\"")));
  EXPECT_EQ(Count(path[1], "M"), 2u) << path[1];
  EXPECT_EQ(Count(path[1], "L"), 2u) << path[1];
  EXPECT_EQ(Count(svg, "<circle"), 4u);
  EXPECT_NE(svg.find("<title>rho = 3: energy = 4</title>"), std::string::npos);
  EXPECT_NE(svg.find("class=\"plot line\""), std::string::npos);
  ExpectNoNonNumbers(svg);
}

// A scatter (a sampled sweep) draws a dot for each value and no line between them.
TEST(PlotsTest, AScatterHasADotPerValueAndNoLine) {
  std::vector<double> y(500, 1.5);
  y[3] = NAN;
  PlotAxis x = Numbers("sample", {});
  for (int i = 0; i < 500; ++i) {
    x.values.push_back(i);
    x.labels.push_back(std::to_string(i));
  }
  const std::string svg = LineSvg({x, "energy", y, /*scatter=*/true, {}});
  EXPECT_EQ(svg.find("class=\"series\""), std::string::npos);
  EXPECT_EQ(Count(svg, "<circle"), 499u);
  ExpectNoNonNumbers(svg);
}

TEST(PlotsTest, AHeatmapHasACellPerValueColouredFromTheSmallestToTheLargest) {
  const std::string svg = HeatmapSvg({Numbers("rho", {0, 10, 20}),
                                      Categories("label", {"a", "b"}),
                                      "lyapunov",
                                      {-1, 0, 1, 2, NAN, 3},
                                      {}});
  // The cells, the colour scale's strips, its frame, and the legend's swatch of pending.
  EXPECT_EQ(Count(svg, "<rect"), 6u + 48 + 1 + 1);
  EXPECT_EQ(Count(svg, "class=\"missing pending\""), 1u);
  EXPECT_NE(svg.find("fill=\"#440154\"><title>rho = 0, label = a: -1</title>"), std::string::npos)
      << svg;
  EXPECT_NE(svg.find("fill=\"#fde725\"><title>rho = 20, label = b: 3</title>"), std::string::npos);
  EXPECT_NE(svg.find("<title>rho = 10, label = b: pending: not computed yet</title>"),
            std::string::npos);
  ExpectNoNonNumbers(svg);
}

// Failed points are not "not computed yet": a heatmap colours them apart, a line marks them with
// a cross, and the legend names each kind a chart shows.
TEST(PlotsTest, FailedPointsAreDrawnApartFromPendingOnesWithALegend) {
  const std::string heatmap =
      HeatmapSvg({Numbers("R", {1, 2, 3}),
                  Categories("C", {"a", "b"}),
                  "f3db",
                  {1, NAN, 3, NAN, NAN, 6},
                  "",
                  {Missing::kPending, Missing::kFailed, Missing::kPending, Missing::kPending,
                   Missing::kNotFinite, Missing::kPending}});
  EXPECT_EQ(Count(heatmap, "class=\"missing failed\""), 1u);
  EXPECT_EQ(Count(heatmap, "class=\"missing pending\""), 1u);
  EXPECT_EQ(Count(heatmap, "class=\"missing not-finite\""), 1u);
  EXPECT_NE(heatmap.find("<title>R = 2, C = a: failed</title>"), std::string::npos) << heatmap;
  EXPECT_NE(heatmap.find("<title>R = 1, C = b: pending: not computed yet</title>"),
            std::string::npos);
  const std::string legend = heatmap.substr(heatmap.find("<g class=\"legend\">"));
  EXPECT_LT(legend.find(">failed</text>"), legend.find(">pending: not computed yet</text>"));
  EXPECT_NE(legend.find(">computed, not a finite number</text>"), std::string::npos);
  ExpectNoNonNumbers(heatmap);

  const std::string line =
      LineSvg({Numbers("R", {1, 2, 3, 4}),
               "f3db",
               {1, NAN, NAN, 4},
               false,
               "",
               {Missing::kPending, Missing::kFailed, Missing::kPending, Missing::kPending}});
  EXPECT_NE(line.find("<title>R = 2: failed</title>"), std::string::npos) << line;
  EXPECT_EQ(line.find("<title>R = 3: failed</title>"), std::string::npos);
  const std::string line_legend = line.substr(line.find("<g class=\"legend\">"));
  EXPECT_NE(line_legend.find(">failed</text>"), std::string::npos);
  EXPECT_NE(line_legend.find(">gap: pending, not computed yet</text>"), std::string::npos);
  ExpectNoNonNumbers(line);
  // Nothing missing, no legend.
  EXPECT_EQ(LineSvg({Numbers("R", {1, 2}), "f3db", {1, 2}, false, {}}).find("legend"),
            std::string::npos);
}

// Bars of a row within a pixel of each other are drawn as one: the chart's size is bounded by
// rows x width, not by the number of chunks.
TEST(PlotsTest, TimelineBarsWithinAPixelMerge) {
  Timeline timeline;
  timeline.rows = {"host-a worker 0", "host-a worker 1"};
  timeline.bar_name = "chunk";
  for (int i = 0; i < 10000; ++i)  // back to back on row 0 for 100 s
    timeline.bars.push_back({0, 1000.0 + i * 0.01, 1000.0 + (i + 1) * 0.01, "c"});
  timeline.bars.push_back({1, 1000, 1010, "alone at the start"});
  timeline.bars.push_back({1, 1090, 1100, "alone at the end"});
  const std::string svg = TimelineSvg(timeline);
  EXPECT_EQ(Count(svg, "class=\"bar\""), 3u);
  EXPECT_NE(svg.find("10000 chunks from +0 s, 100 s in all"), std::string::npos);
  EXPECT_NE(svg.find("<title>alone at the end</title>"), std::string::npos);
  EXPECT_NE(svg.find(">host-a worker 1</text>"), std::string::npos);
  ExpectNoNonNumbers(svg);
}

TEST(PlotsTest, AHistogramCountsEveryFiniteValueOnce) {
  std::vector<double> values;
  for (int i = 0; i < 100; ++i) values.push_back(i % 10);
  values.push_back(NAN);
  const std::string svg = HistogramSvg({"seconds", values, 10});
  static const std::regex bar("<title>(\\d+) from");
  int total = 0;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), bar); it != std::sregex_iterator();
       ++it)
    total += std::stoi((*it)[1]);
  EXPECT_EQ(total, 100);
  EXPECT_EQ(Count(svg, "class=\"bar\""), 10u);
  ExpectNoNonNumbers(svg);
}

// Nothing to draw yet (a live run's first seconds), one value, one position: each chart still
// draws, saying so, with numbers in every attribute.
TEST(PlotsTest, DegenerateInputsDrawWithoutNonNumbers) {
  for (const std::string& svg :
       {LineSvg({Numbers("x", {1}), "y", {NAN}, false, {}}),
        LineSvg({Numbers("x", {1}), "y", {3}, false, {}}),
        LineSvg({Categories("x", {}), "y", {}, false, {}}),
        HeatmapSvg({Numbers("x", {1}), Numbers("y", {2}), "v", {NAN}, {}}),
        HeatmapSvg({Numbers("x", {1, 2}), Numbers("y", {2}), "v", {5, 5}, {}}),
        TimelineSvg({{}, {}, "chunk"}), TimelineSvg({{"r"}, {{0, 5, 5, "instant"}}, "chunk"}),
        HistogramSvg({"s", {}, 30}), HistogramSvg({"s", {0.25, 0.25}, 30})}) {
    EXPECT_EQ(Count(svg, "<svg"), 1u);
    EXPECT_EQ(Count(svg, "</svg>"), 1u);
    ExpectNoNonNumbers(svg);
  }
  EXPECT_NE(LineSvg({Numbers("x", {1}), "y", {NAN}, false, {}}).find("no value yet"),
            std::string::npos);
}

}  // namespace
}  // namespace sweep
