#include "driver/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace sweep {
namespace {

std::string Contents(FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string text;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  return text;
}

ProgressSnapshot Halfway() {
  ProgressSnapshot s;
  s.points_total = 1000;
  s.points_done = 500;
  s.chunks_total = 10;
  s.chunks_done = 5;
  s.chunks_failed = 1;
  s.elapsed_seconds = 10;
  s.busy_seconds = {9.0, 5.0};
  return s;
}

TEST(ProgressTest, TerminalRedrawsOneLineThenPrintsTheSummary) {
  FILE* f = std::tmpfile();
  auto progress = MakeProgress(ProgressMode::kTerminal, f);
  progress->Update(Halfway());
  ProgressSnapshot end = Halfway();
  end.points_done = 1000;
  end.chunks_done = 9;
  end.elapsed_seconds = 20;
  progress->Finish(end, false);
  const std::string text = Contents(f);
  std::fclose(f);
  EXPECT_EQ(text.substr(0, 1), "\r");
  EXPECT_NE(text.find("500/1000 points (50.0%) | chunks 5/10, 1 failed | 50 points/s | 10.0s "
                      "elapsed | ETA 10.0s"),
            std::string::npos)
      << text;
  // Only the summary ends lines: the status line is redrawn in place.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(text.find("done: 1000 of 1000 points in 20.0s (50 points/s), 1 chunks failed; workers "
                      "busy 0:45% 1:25%"),
            std::string::npos)
      << text;
}

TEST(ProgressTest, LogPrintsTimestampedLinesAtItsInterval) {
  FILE* f = std::tmpfile();
  auto progress = MakeProgress(ProgressMode::kLog, f, /*log_interval=*/3600);
  progress->Update(Halfway());  // within the interval: nothing
  progress->Finish(Halfway(), true);
  const std::string text = Contents(f);
  std::fclose(f);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text[4], '-');  // 2026-11-25T...
  EXPECT_EQ(text[10], 'T');
  EXPECT_NE(text.find("interrupted after 500 of 1000 points"), std::string::npos) << text;
}

TEST(ProgressTest, JsonIsOneObjectALine) {
  FILE* f = std::tmpfile();
  auto progress = MakeProgress(ProgressMode::kJson, f);
  progress->Update(Halfway());
  progress->Finish(Halfway(), false);
  const std::string text = Contents(f);
  std::fclose(f);
  std::istringstream lines(text);
  std::string line;
  std::vector<nlohmann::json> events;
  while (std::getline(lines, line)) events.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["event"], "progress");
  EXPECT_EQ(events[0]["points_done"], 500);
  EXPECT_EQ(events[1]["event"], "finished");
  EXPECT_EQ(events[1]["worker_busy_seconds"][1], 5.0);
}

TEST(ProgressTest, QuietPrintsNothing) {
  FILE* f = std::tmpfile();
  auto progress = MakeProgress(ProgressMode::kQuiet, f);
  progress->Update(Halfway());
  progress->Finish(Halfway(), false);
  EXPECT_EQ(Contents(f), "");
  std::fclose(f);
}

TEST(ProgressTest, FormatsDurations) {
  EXPECT_EQ(FormatDuration(12.34), "12.3s");
  EXPECT_EQ(FormatDuration(185), "3m05s");
  EXPECT_EQ(FormatDuration(3725), "1h02m");
  EXPECT_EQ(FormatDuration(-1), "-");
}

}  // namespace
}  // namespace sweep
