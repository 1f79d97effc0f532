// `sweep report` pages as a browser renders them: Debian's headless Chromium loads the page of a
// run with failures (and of a two-axis sweep), with console logging on stderr; the test asserts
// that nothing was logged to the console (an SVG attribute Chromium cannot read is logged as an
// error there), that the DOM Chromium built holds one chart per scalar output, the timeline and
// the failures table with the failing points' parameters (so the markup parsed as meant, texts
// escaped), and that a screenshot of the page is a real picture.
//
// They run only with SWEEP_BROWSER=1: scripts/test-browser installs Chromium (about 300 MB, so
// scripts/setup installs it only when asked: `scripts/setup --browser`) and sets it. Then a
// missing or failing Chromium is a failure, not a skip.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>

#include "io/output_lock.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

class ReportBrowserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* enabled = getenv("SWEEP_BROWSER");
    if (!enabled || std::string(enabled) != "1") {
      GTEST_SKIP() << "needs Chromium: run scripts/test-browser (it installs it), or "
                      "SWEEP_BROWSER=1 ctest -R ReportBrowserTest with `chromium` on PATH";
    }
    ASSERT_EQ(std::system("command -v chromium > /dev/null"), 0)
        << "SWEEP_BROWSER=1 but no `chromium` on PATH (scripts/setup --browser installs it)";
  }

  // Headless Chromium on `page` with `flags`; its stdout into `out`, its stderr returned.
  std::string Chromium(const std::string& page, const std::string& flags, const std::string& out) {
    const std::string log = dir_ / "chromium.log";
    const std::string command =
        "timeout 180 chromium --headless --disable-gpu --no-sandbox --user-data-dir=" +
        Quote(dir_ / "profile") + " --enable-logging=stderr --v=0 " + flags + " " +
        Quote("file://" + page) + " > " + Quote(out) + " 2> " + Quote(log);
    const int status = std::system(command.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << command << "\n" << ReadFile(log);
    return ReadFile(log);
  }

  // What the page logged to the console: Chromium's `CONSOLE` lines, uncaught errors.
  static std::string ConsoleMessages(const std::string& log) {
    std::string messages;
    std::istringstream in(log);
    for (std::string line; std::getline(in, line);)
      if (line.find(":CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos)
        messages += line + "\n";
    return messages;
  }

  // The DOM Chromium built from the page, serialized; no console message on the way.
  std::string RenderedDom(const std::string& page) {
    const std::string dom = dir_ / "dom.html";
    const std::string log = Chromium(page, "--dump-dom", dom);
    EXPECT_EQ(ConsoleMessages(log), "") << "console messages while loading " << page;
    return ReadFile(dom);
  }

  // A screenshot of the page, 1400 x 2400 pixels: a PNG of that size, and more than a blank
  // page's bytes.
  void ExpectScreenshot(const std::string& page) {
    const std::string png = dir_ / "report.png";
    std::filesystem::remove(png);
    const std::string log = Chromium(
        page, "--hide-scrollbars --window-size=1400,2400 --screenshot=" + Quote(png), "/dev/null");
    EXPECT_EQ(ConsoleMessages(log), "");
    ASSERT_TRUE(std::filesystem::exists(png)) << log;
    const std::string bytes = ReadFile(png);
    ASSERT_GT(bytes.size(), 24u);
    EXPECT_EQ(bytes.substr(0, 8), "\x89PNG\r\n\x1a\n");
    const auto big_endian = [&](size_t at) {
      return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
             (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
    };
    EXPECT_EQ(big_endian(16), 1400u);  // IHDR width
    EXPECT_EQ(big_endian(20), 2400u);  // IHDR height
    // A blank page compresses to a few KiB; charts, tables and text do not.
    EXPECT_GT(bytes.size(), 40000u) << "a nearly empty screenshot";
  }

  TempDir dir_;
};

TEST_F(ReportBrowserTest, ARunWithFailuresRendersItsChartsTimelineAndFailures) {
  WriteFile(dir_ / "faulty.yaml",
            "name: faulty\n"
            "kernel: {name: faulty, options: {error_at: 7, segfault_at: 21, sleep_ms: 5}}\n"
            "inputs:\n  data: {generate: zeros, shape: [4]}\n"
            "parameters:\n  i: {range: [0, 40]}\n  label: only\n"
            "execution: {workers: 2, chunk_size: 4}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "faulty.yaml", "-q"}, dir_.path()).code, 3);
  {
    // A later failure of chunk 5 whose texts a careless page would take for markup.
    JournalRecord nasty = JournalRecords(dir_ / "out.h5.journal", "failed").back();
    ASSERT_EQ(nasty.chunk, 5u);
    nasty.time += 1;
    nasty.reason = "exit code 3: <script>document.title='pwned'</script> & <b>bold</b>";
    nasty.stderr_tail = "</td></tr></table><h1>escaped</h1>";
    Journal journal = Journal::OpenForAppend(dir_ / "out.h5.journal");
    journal.Append(nasty);
  }
  const RunResult report = RunSweep({"report", "out.h5"}, dir_.path());
  ASSERT_EQ(report.code, 0) << report.err;
  const std::string page = dir_ / "out.h5.report.html";
  const std::string dom = RenderedDom(page);
  ASSERT_NE(dom.find("</html>"), std::string::npos) << dom.substr(0, 2000);

  // One chart per scalar output: y, a line over i.
  EXPECT_EQ(Count(dom, "<figure class=\"result\""), 1u);
  EXPECT_NE(dom.find("<figure class=\"result\" data-output=\"y\" data-slice=\"0\">"),
            std::string::npos);
  EXPECT_EQ(Count(dom, "<svg class=\"plot line\""), 1u);
  // The timeline: a row per worker, with bars.
  const size_t timeline = dom.find("<svg class=\"plot timeline\"");
  ASSERT_NE(timeline, std::string::npos);
  const std::string chart = dom.substr(timeline, dom.find("</svg>", timeline) - timeline);
  EXPECT_NE(chart.find(HostName() + " worker 0"), std::string::npos);
  EXPECT_NE(chart.find(HostName() + " worker 1"), std::string::npos);
  EXPECT_GE(Count(chart, "class=\"bar\""), 2u);
  EXPECT_EQ(Count(dom, "<svg class=\"plot histogram\""), 1u);
  // The failures table: both failed chunks with their points' parameters, the texts as text.
  const size_t table = dom.find("<table id=\"failures\">");
  ASSERT_NE(table, std::string::npos);
  const std::string failures = dom.substr(table, dom.find("</table>", table) - table);
  EXPECT_EQ(Count(failures, "<tr class=\"failure\""), 2u) << failures;
  EXPECT_NE(failures.find("data-point=\"7\""), std::string::npos);
  EXPECT_NE(failures.find("data-point=\"21\""), std::string::npos);
  EXPECT_NE(failures.find("<code>i</code> = 7"), std::string::npos) << failures;
  EXPECT_NE(failures.find("<code>label</code> = only"), std::string::npos);
  EXPECT_NE(failures.find("<code>i</code> = 21"), std::string::npos);
  EXPECT_NE(failures.find("&lt;script&gt;document.title='pwned'&lt;/script&gt; &amp; "
                          "&lt;b&gt;bold&lt;/b&gt;"),
            std::string::npos)
      << failures;
  EXPECT_NE(failures.find("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;escaped"),
            std::string::npos);
  EXPECT_EQ(dom.find("<script"), std::string::npos);
  EXPECT_NE(dom.find("<title>sweep report: out.h5</title>"), std::string::npos);
  ExpectScreenshot(page);
}

TEST_F(ReportBrowserTest, ATwoAxisSweepRendersAHeatmapPerScalarOutput) {
  ASSERT_EQ(RunSweep({"run", SourcePath("configs/quickstart.yaml"), "-q", "-o", dir_ / "q.h5"},
                     dir_.path())
                .code,
            0);
  ASSERT_EQ(RunSweep({"report", "q.h5", "-o", "q.html"}, dir_.path()).code, 0);
  const std::string dom = RenderedDom(dir_ / "q.html");
  EXPECT_EQ(Count(dom, "<figure class=\"result\""), 2u);
  EXPECT_NE(dom.find("data-output=\"z_mean\""), std::string::npos);
  EXPECT_NE(dom.find("data-output=\"lyapunov\""), std::string::npos);
  EXPECT_EQ(Count(dom, "<svg class=\"plot heatmap\""), 2u);
  EXPECT_EQ(Count(dom, "<g class=\"colour-scale\""), 2u);
  EXPECT_NE(dom.find("<title>rho = 28, sigma = 14: "), std::string::npos);
  EXPECT_NE(dom.find("No chunk is failed now."), std::string::npos);
  ExpectScreenshot(dir_ / "q.html");
}

}  // namespace
}  // namespace sweep
