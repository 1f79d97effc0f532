// `sweep report`: the page of real runs read back as text (and each chart parsed as XML by
// Python): a run with failures, a sweep of three axes, a live run, a command kernel's kept work
// directories, runs at once, bad usage. The same pages rendered in headless Chromium:
// tests/report_browser_test.cc.
#include "driver/report.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <string>

#include "io/output_lock.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

const char* kPython = "/usr/bin/python3";

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The outputs the page plots, one entry a figure, in order.
std::vector<std::string> FigureOutputs(const std::string& html) {
  static const std::regex figure("<figure class=\"result\" data-output=\"([^\"]*)\"");
  std::vector<std::string> outputs;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), figure);
       it != std::sregex_iterator(); ++it)
    outputs.push_back((*it)[1]);
  return outputs;
}

// Every <svg> of the page parses as XML (Python's ElementTree); returns how many there are.
int WellFormedCharts(const TempDir& dir, const std::string& page) {
  WriteFile(dir / "charts.py", R"(import re, sys, xml.etree.ElementTree as ET
html = open(sys.argv[1], encoding='utf-8').read()
charts = re.findall(r'<svg .*?</svg>', html, re.S)
for chart in charts:
    ET.fromstring(chart)
print(len(charts))
)");
  const int code = Shell(std::string(kPython) + " " + dir / "charts.py" + " " + page + " > " +
                         dir / "charts.out" + " 2>&1");
  const std::string out = ReadFile(dir / "charts.out");
  EXPECT_EQ(code, 0) << out;
  return code == 0 ? std::stoi(out) : -1;
}

// 40 points in chunks of 4 on 2 workers; point 7 reports an error and point 21 crashes its
// worker, so chunks 1 and 5 fail.
std::string FaultyConfig(const TempDir& dir) {
  WriteFile(dir / "faulty.yaml",
            "name: faulty\n"
            "kernel: {name: faulty, options: {error_at: 7, segfault_at: 21, sleep_ms: 2}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, 40]}\n"
            "execution: {workers: 2, chunk_size: 4}\noutput: {path: out.h5}\n");
  return dir / "faulty.yaml";
}

TEST(ReportTest, ARunWithFailuresHasItsSummaryPlotTimelineAndFailures) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", FaultyConfig(dir), "-q"}, dir.path()).code, 3);
  const RunResult r = RunSweep({"report", "out.h5"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "report: out.h5.report.html\n");  // beside the output by default
  const std::string html = ReadFile(dir / "out.h5.report.html");
  ASSERT_FALSE(html.empty());
  // Self-contained: nothing is fetched from anywhere.
  EXPECT_EQ(html.find("http://", html.find("<body")), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  // The summary.
  EXPECT_NE(html.find("finished with 2 failed chunks"), std::string::npos);
  EXPECT_NE(html.find("32 done of 40 (80.0%)"), std::string::npos);
  EXPECT_NE(html.find("8 done, 2 failed, 0 pending, of 10"), std::string::npos);
  EXPECT_NE(html.find("points/s over the wall time"), std::string::npos);
  EXPECT_NE(html.find("<tr><th>threads per worker</th><td>1 (execution.threads: OMP_NUM_THREADS, "
                      "OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, NUMEXPR_NUM_THREADS, each unless set "
                      "in the environment of the run)</td></tr>"),
            std::string::npos);
  // The one scalar output over the one axis, named and labelled, its failed points missing.
  EXPECT_EQ(FigureOutputs(html), std::vector<std::string>{"y"});
  EXPECT_NE(html.find("<figcaption>y over i</figcaption>"), std::string::npos);
  EXPECT_NE(html.find("<title>i = 3: y = 3</title>"), std::string::npos);
  EXPECT_NE(html.find("<title>i = 8: y = 8</title>"), std::string::npos);
  // The points of failed chunks 1 and 5 are not values but crosses, said to be failed.
  EXPECT_NE(html.find("<title>i = 6: failed</title>"), std::string::npos);
  EXPECT_EQ(Count(html, ": failed</title>"), 8u);
  EXPECT_EQ(Count(html, "<circle"), 32u);
  EXPECT_NE(html.find("class=\"legend-failed\">failed</text>"), std::string::npos);
  // A timeline row per worker on this machine, and the chunk times.
  const std::string timeline = html.substr(html.find("<svg class=\"plot timeline\""));
  EXPECT_NE(timeline.find(">" + HostName() + " worker 0</text>"), std::string::npos);
  EXPECT_NE(timeline.find(">" + HostName() + " worker 1</text>"), std::string::npos);
  EXPECT_GE(Count(timeline.substr(0, timeline.find("</svg>")), "class=\"bar\""), 2u);
  EXPECT_NE(html.find("<svg class=\"plot histogram\""), std::string::npos);
  // The failures: each chunk with its point, the point's parameters and the reason.
  EXPECT_NE(html.find("<tr class=\"failure\" data-chunk=\"1\" data-point=\"7\">"),
            std::string::npos);
  EXPECT_NE(html.find("<tr class=\"failure\" data-chunk=\"5\" data-point=\"21\">"),
            std::string::npos);
  EXPECT_NE(html.find("<code>i</code> = 7"), std::string::npos);
  EXPECT_NE(html.find("<code>i</code> = 21"), std::string::npos);
  EXPECT_NE(html.find("faulty: error at i=7"), std::string::npos);
  EXPECT_NE(html.find("SIGSEGV (Segmentation fault)"), std::string::npos);
  EXPECT_EQ(WellFormedCharts(dir, dir / "out.h5.report.html"), 3);  // line, timeline, histogram
}

// Three axes: a heatmap per scalar output over the first two, in slices over the third, each
// labelled with the third's value; an output with a shape per point is listed, not plotted.
TEST(ReportTest, ASweepOfThreeAxesIsPlottedInSlicesOverTheFirstTwo) {
  TempDir dir;
  WriteFile(dir / "lorenz.yaml",
            "name: cube\nseed: 1\n"
            "kernel: {name: lorenz, options: {steps: 200, dt: 0.005, transient: 0.1}}\n"
            "parameters:\n  rho: {linspace: [0, 50, 6]}\n  sigma: {values: [10, 14]}\n"
            "  beta: {values: [2, 2.5, 3, 3.5, 4]}\n"
            "execution: {workers: 2}\noutput: {path: out.h5}\n"
            "attributes: {sigma: {long_name: the Prandtl number}, z_mean: {units: m}}\n");
  ASSERT_EQ(RunSweep({"run", "lorenz.yaml", "-q"}, dir.path()).code, 0);
  const RunResult r = RunSweep({"report", "out.h5", "-o", "cube.html"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string html = ReadFile(dir / "cube.html");
  // Axes and colour scales are labelled with the long names and units the kernel declares, as
  // the config's `attributes:` replaces them.
  EXPECT_NE(html.find(">rho: Rayleigh number (relative) [1]<"), std::string::npos);
  EXPECT_NE(html.find(">sigma: the Prandtl number [1]<"), std::string::npos);
  EXPECT_EQ(Count(html, ">lyapunov: largest Lyapunov exponent [1]</text>"), 4u);
  EXPECT_EQ(Count(html, ">z_mean: time mean of z [m]</text>"), 4u);
  // beta has 5 values: its first, then 3 more spread evenly to its last (kReportSlices).
  EXPECT_EQ(FigureOutputs(html),
            (std::vector<std::string>{"z_mean", "z_mean", "z_mean", "z_mean", "lyapunov",
                                      "lyapunov", "lyapunov", "lyapunov"}));
  for (const char* beta : {"2", "2.5", "3.5", "4"}) {
    EXPECT_NE(html.find(std::string("<figcaption>lyapunov over rho and sigma at beta = ") + beta +
                        "</figcaption>"),
              std::string::npos)
        << beta;
  }
  EXPECT_EQ(html.find("at beta = 3<"), std::string::npos);
  EXPECT_EQ(Count(html, "<svg class=\"plot heatmap\""), 8u);
  EXPECT_EQ(Count(html, "class=\"missing "), 0u);
  EXPECT_NE(html.find("<title>rho = 10, sigma = 14: "), std::string::npos);
  EXPECT_NE(html.find("Not plotted, a shape per point: state [3]."), std::string::npos);
  EXPECT_NE(html.find("No chunk is failed now."), std::string::npos);
  EXPECT_EQ(WellFormedCharts(dir, dir / "cube.html"), 10);
}

// A live run is reported as it stands, from the file and journal alone, and goes on undisturbed.
TEST(ReportTest, ALiveRunIsReportedWithoutDisturbingIt) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 1500, 24, 750, "", "repeat: 2\n");
  SweepProcess run({"run", config, "-q"}, dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 10)) << run.err();
  const RunResult live = RunSweep({"report", "out.h5", "-o", "live.html"}, dir.path());
  ASSERT_EQ(live.code, 0) << live.err;
  gate.Open();
  ASSERT_EQ(run.Wait(), 0) << run.err();
  const std::string during = ReadFile(dir / "live.html");
  EXPECT_NE(during.find("running now (pid " + std::to_string(run.pid()) + " on " + HostName()),
            std::string::npos)
      << during.substr(0, 4000);
  EXPECT_NE(during.find("<td>running</td>"), std::string::npos);
  EXPECT_GT(Count(during, "class=\"missing pending\""), 0u);  // not done yet
  EXPECT_EQ(FigureOutputs(during), (std::vector<std::string>{"y"}));

  ASSERT_EQ(RunSweep({"report", "out.h5", "-o", "after.html"}, dir.path()).code, 0);
  const std::string after = ReadFile(dir / "after.html");
  EXPECT_NE(after.find("finished: every point done"), std::string::npos);
  EXPECT_EQ(Count(after, "class=\"missing "), 0u);
}

// A command kernel whose program fails for one parameter value: the failed points' work
// directories, which it keeps, are shown with their failures; its array output is not plotted.
TEST(ReportTest, ACommandsFailedPointsShowTheirKeptWorkDirectories) {
  TempDir dir;
  WriteFile(dir / "command.yaml",
            std::string("name: command\nkernel:\n  command: [") + SWEEP_FAKE_SIM +
                ", \"{mode}\", \"{x}\"]\n  outputs: {y: float64, v: [float64, 3]}\n"
                "parameters:\n  x: {values: [1, 2, 3]}\n  mode: {values: [json, exit]}\n"
                "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "command.yaml", "-q"}, dir.path()).code, 3);
  ASSERT_EQ(RunSweep({"report", "out.h5"}, dir.path()).code, 0);
  const std::string html = ReadFile(dir / "out.h5.report.html");
  EXPECT_EQ(FigureOutputs(html), std::vector<std::string>{"y"});
  // Mode exit, every x: failed, said so in each cell's title and in the legend, not "pending".
  EXPECT_EQ(Count(html, "class=\"missing failed\""), 3u);
  EXPECT_EQ(Count(html, "class=\"missing pending\""), 0u);
  EXPECT_NE(html.find("<title>x = 2, mode = exit: failed</title>"), std::string::npos);
  EXPECT_NE(html.find("class=\"legend-failed\">failed</text>"), std::string::npos);
  EXPECT_NE(html.find("Not plotted, a shape per point: v [3]."), std::string::npos);
  EXPECT_EQ(Count(html, "<tr class=\"failure\""), 3u);
  for (uint64_t point : {1, 3, 5}) {  // x in C order first: (x, mode) = (1, exit), ...
    ASSERT_TRUE(std::filesystem::is_directory(dir / "out.h5.work/point-" + std::to_string(point)));
    const std::string kept = dir / "out.h5.work/point-" + std::to_string(point);
    EXPECT_NE(html.find("<td class=\"workdir\"><code>" + kept +
                        "</code><br><span class=\"stream\">its output in full: <code>" + kept +
                        "/stdout.txt</code></span><br><span class=\"stream\">its output in full: "
                        "<code>" +
                        kept + "/stderr.txt</code></span></td>"),
              std::string::npos)
        << point;
  }
  EXPECT_NE(html.find("<code>x</code> = 2</span> <span class=\"param\"><code>mode</code> = exit"),
            std::string::npos);
  EXPECT_NE(html.find("failed with exit code 2"), std::string::npos);
}

// Wall time is the time some run was running: shards run at once, and count once.
TEST(ReportTest, RunsAtOnceCountOnceInTheWallTime) {
  TempDir dir;
  ASSERT_EQ(RunSweep({"run", FaultyConfig(dir), "-q"}, dir.path()).code, 3);
  const auto wall_time = [&]() {
    EXPECT_EQ(RunSweep({"report", "out.h5"}, dir.path()).code, 0);
    const std::string html = ReadFile(dir / "out.h5.report.html");
    static const std::regex row("<th>wall time</th><td>([^<]*)</td>");
    std::smatch m;
    return std::regex_search(html, m, row) ? std::string(m[1]) : std::string("none");
  };
  const std::string alone = wall_time();
  EXPECT_NE(alone.find(" in 1 run"), std::string::npos) << alone;
  // A shard that ran within the run's time, and one that ran a minute after it for 10 s.
  const std::vector<JournalRecord> records = JournalRecords(dir / "out.h5.journal", "");
  const double start = records.front().time, end = records.back().time;
  const auto shard = [&](const std::string& name, double from, double to) {
    Journal journal = Journal::Create(dir / name);
    JournalRecord r;
    r.type = "started";
    r.time = from;
    r.command = "run --shard 0/2";
    journal.Append(r);
    r.type = "stopped";
    r.time = to;
    r.reason = "finished";
    journal.Append(r);
  };
  shard("out.h5.journal.shard-0-of-2", start + (end - start) / 4, end - (end - start) / 4);
  EXPECT_EQ(wall_time(), alone.substr(0, alone.find(" in ")) + " in 2 runs");
  shard("out.h5.journal.shard-1-of-2", end + 60, end + 70);
  const std::string three = wall_time();
  EXPECT_NE(three.find(" in 3 runs"), std::string::npos);
  EXPECT_NEAR(std::stod(three), std::stod(alone) + 10, 0.01) << three << " vs " << alone;
}

TEST(ReportTest, BadUsageExitsTwoAndLeavesTheOutputAlone) {
  TempDir dir;
  const RunResult missing = RunSweep({"report", "missing.h5"}, dir.path());
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(Count(missing.err, "\n"), 1u) << missing.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "missing.h5.report.html"));
  ASSERT_EQ(RunSweep({"run", FaultyConfig(dir), "-q"}, dir.path()).code, 3);
  const std::string before = ReadFile(dir / "out.h5");
  const RunResult itself = RunSweep({"report", "out.h5", "-o", "out.h5"}, dir.path());
  EXPECT_EQ(itself.code, 2);
  EXPECT_NE(itself.err.find("is the output file itself"), std::string::npos) << itself.err;
  EXPECT_EQ(ReadFile(dir / "out.h5"), before);
  const RunResult no_folder = RunSweep({"report", "out.h5", "-o", "nowhere/r.html"}, dir.path());
  EXPECT_EQ(no_folder.code, 1);
  EXPECT_NE(no_folder.err.find("cannot write nowhere/r.html"), std::string::npos) << no_folder.err;
}

}  // namespace
}  // namespace sweep
