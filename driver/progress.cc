#include "driver/progress.h"
#include "io/clock.h"

#include <unistd.h>

#include <fmt/format.h>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>

namespace sweep {
namespace {

double Rate(const ProgressSnapshot& s) {
  return s.elapsed_seconds > 0 ? double(s.points_done) / s.elapsed_seconds : 0;
}

std::string Eta(const ProgressSnapshot& s) {
  const double rate = Rate(s);
  if (rate <= 0 || s.points_done >= s.points_total) return "-";
  return FormatDuration(double(s.points_total - s.points_done) / rate);
}

std::string StatusLine(const ProgressSnapshot& s) {
  const double percent =
      s.points_total ? 100.0 * double(s.points_done) / double(s.points_total) : 100.0;
  std::string line = fmt::format("{}/{} points ({:.1f}%) | chunks {}/{}", s.points_done,
                                 s.points_total, percent, s.chunks_done, s.chunks_total);
  if (s.chunks_failed) line += fmt::format(", {} failed", s.chunks_failed);
  if (s.retries) line += fmt::format(", {} retried", s.retries);
  line += fmt::format(" | {:.4g} points/s | {} elapsed | ETA {}", Rate(s),
                      FormatDuration(s.elapsed_seconds), Eta(s));
  return line;
}

std::string SummaryText(const ProgressSnapshot& s, bool interrupted) {
  std::string text = fmt::format("{} {} of {} points in {} ({:.4g} points/s)",
                                 interrupted ? "interrupted after" : "done:", s.points_done,
                                 s.points_total, FormatDuration(s.elapsed_seconds), Rate(s));
  if (s.points_reused)
    text += fmt::format(", {} computed, {} reused from earlier outputs",
                        s.points_done - s.points_reused, s.points_reused);
  if (s.chunks_failed) text += fmt::format(", {} chunks failed", s.chunks_failed);
  if (!s.busy_seconds.empty() && s.elapsed_seconds > 0) {
    text += "; workers busy";
    for (size_t r = 0; r < s.busy_seconds.size(); ++r) {
      text += fmt::format(" {}:{:.0f}%", r, 100.0 * s.busy_seconds[r] / s.elapsed_seconds);
    }
  }
  return text;
}

class TerminalProgress : public Progress {
 public:
  explicit TerminalProgress(FILE* out) : out_(out) {}
  void Update(const ProgressSnapshot& s) override {
    const double now = SteadySeconds();
    if (now - last_ < 0.1) return;
    last_ = now;
    // \x1b[K clears what a longer previous line left behind.
    std::fprintf(out_, "\r%s\x1b[K", StatusLine(s).c_str());
    std::fflush(out_);
  }
  void Finish(const ProgressSnapshot& s, bool interrupted) override {
    std::fprintf(out_, "\r%s\x1b[K\n%s\n", StatusLine(s).c_str(),
                 SummaryText(s, interrupted).c_str());
    std::fflush(out_);
  }

 private:
  FILE* out_;
  double last_ = 0;
};

class LogProgress : public Progress {
 public:
  LogProgress(FILE* out, double interval)
      : out_(out), interval_(interval), last_(SteadySeconds()) {}
  void Update(const ProgressSnapshot& s) override {
    const double now = SteadySeconds();
    if (now - last_ < interval_) return;
    last_ = now;
    Print(StatusLine(s));
  }
  void Finish(const ProgressSnapshot& s, bool interrupted) override {
    Print(StatusLine(s));
    Print(SummaryText(s, interrupted));
  }

 private:
  void Print(const std::string& line) {
    char stamp[32];
    const std::time_t t = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", std::localtime(&t));
    std::fprintf(out_, "%s %s\n", stamp, line.c_str());
    std::fflush(out_);
  }
  FILE* out_;
  double interval_;
  double last_;
};

class JsonProgress : public Progress {
 public:
  explicit JsonProgress(FILE* out) : out_(out) {}
  void Update(const ProgressSnapshot& s) override {
    const double now = SteadySeconds();
    if (now - last_ < 1.0) return;
    last_ = now;
    Print("progress", s);
  }
  void Finish(const ProgressSnapshot& s, bool interrupted) override {
    Print(interrupted ? "interrupted" : "finished", s);
  }

 private:
  void Print(const char* event, const ProgressSnapshot& s) {
    nlohmann::json j = {{"event", event},
                        {"points_done", s.points_done},
                        {"points_total", s.points_total},
                        {"points_reused", s.points_reused},
                        {"chunks_done", s.chunks_done},
                        {"chunks_total", s.chunks_total},
                        {"chunks_failed", s.chunks_failed},
                        {"retries", s.retries},
                        {"elapsed_seconds", s.elapsed_seconds},
                        {"points_per_second", Rate(s)},
                        {"worker_busy_seconds", s.busy_seconds}};
    std::fprintf(out_, "%s\n", j.dump().c_str());
    std::fflush(out_);
  }
  FILE* out_;
  double last_ = 0;
};

class QuietProgress : public Progress {
 public:
  void Update(const ProgressSnapshot&) override {}
  void Finish(const ProgressSnapshot&, bool) override {}
};

}  // namespace

std::string FormatDuration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "-";
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  const auto total = static_cast<uint64_t>(std::llround(seconds));
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

std::unique_ptr<Progress> MakeProgress(ProgressMode mode, FILE* out, double log_interval) {
  if (mode == ProgressMode::kAuto)
    mode = isatty(fileno(out)) ? ProgressMode::kTerminal : ProgressMode::kLog;
  switch (mode) {
    case ProgressMode::kTerminal:
      return std::make_unique<TerminalProgress>(out);
    case ProgressMode::kLog:
      return std::make_unique<LogProgress>(out, log_interval);
    case ProgressMode::kJson:
      return std::make_unique<JsonProgress>(out);
    default:
      return std::make_unique<QuietProgress>();
  }
}

}  // namespace sweep
