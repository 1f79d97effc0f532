// Report: `sweep report OUT.h5 [-o report.html]`, one self-contained HTML page about an output,
// finished or live: what was computed, what it gave, where and how long it took, what failed.
//
// The page needs nothing but itself: no script, no style sheet, font or image from elsewhere, no
// network; its charts are inline SVG drawn by driver/plots.h. It holds, in this order:
//   - a summary: the state (finished, finished with failures, incomplete, running now and by
//     whom), points done of all, chunks done / failed / pending, the runs (command, host, start,
//     duration, how each ended), their wall time and the throughput over it, chunk times, the
//     largest peak memory of a worker, retried chunks; and the notes `sweep status` gives of a
//     damaged journal;
//   - every scalar output over the sweep's axes, each in one <figure class="result"> with
//     data-output=<its name>: a line over a one-dimensional sweep (dots over `sample`, whose
//     neighbours are not neighbours in the parameters); a heatmap with its colour
//     scale over the first two axes of a larger one, as one slice at the first value of every
//     other axis, plus up to kReportSlices slices spread over their values (one figure a slice,
//     labelled with the values of the other axes). Axes are named after their dimensions and
//     labelled with their coordinate values (a zip group's first member's, the index for
//     `sample` and `replicate`). A point not done reads as missing (a gap, a grey cell). An axis
//     longer than kReportLineCells (line) or kReportHeatmapCells (heatmap) is cut into at most
//     that many bins of equally many consecutive values, each showing their mean, as a note
//     above the charts says.
//     Outputs with a shape per point are listed, not plotted;
//   - a timeline (Gantt chart) of the done chunks: a row per host and worker, a bar per chunk
//     from its worker's start time for its seconds (chunks within a pixel merge);
//   - a histogram of the done chunks' times;
//   - the chunks failed now, in a table with id "failures": chunk, point, its parameter values,
//     kind and reason, tries, host and worker, when, the point's work directory when a command
//     kernel kept it (as `sweep status` finds it, driver/status.h), and the tail of the worker's
//     stderr;
//   - the stored config.
// It is made from the output's layout and stored config (driver/stored_sweep.h), the chunk
// history (driver/chunk_history.h: /chunks and every journal, as `sweep status` reads them) and
// the results of the done chunks, read a block at a time. Like status, it only reads and takes
// no lock, so a live run is reported as it stands; the lock is probed to say who runs it.
//
// Destination: -o FILE, else DefaultReportPath(OUT): written whole or not at all (a temporary
// beside it, renamed over it), never the output itself.
#pragma once

#include <cstdint>
#include <string>

namespace sweep {

// Charts' sizes: the bins of a line, of each axis of a heatmap, the slices beyond the first.
inline constexpr uint64_t kReportLineCells = 1000;
inline constexpr uint64_t kReportHeatmapCells = 128;
inline constexpr uint64_t kReportSlices = 3;
// The failures table lists at most this many chunks (`sweep status --json` lists all).
inline constexpr uint64_t kReportFailures = 500;

struct ReportRequest {
  std::string output_path;
  std::string destination;  // -o; empty: DefaultReportPath(output_path)
};

// Where the report of an output goes by default: beside it, OUT.h5 -> OUT.h5.report.html.
std::string DefaultReportPath(const std::string& output_path);

// The page. `now`: Unix seconds, the end of a live run's time so far and the page's date.
// THROWS: Error (exit code 2) when the output is missing or not a sweep output; ConfigError when
// its stored config no longer reads; Error when the output or a journal cannot be read.
std::string ReportHtml(const std::string& output_path, double now);

// Writes the page and says where on stdout; returns the exit code (0).
// THROWS: as ReportHtml; Error (exit code 2) when the destination is the output itself; Error
// when the destination cannot be written (it is then left as it was).
int ReportCommand(const ReportRequest& request);

}  // namespace sweep
