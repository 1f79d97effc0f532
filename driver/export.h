// Export: `sweep export OUT.h5`, the done points of an output as one tidy table, CSV or JSON
// lines, for pandas, R, spreadsheets and jq.
//
// Rows: one per point of every chunk whose /chunks status is done when the export starts, in
// point order; the points of pending and failed chunks are left out (a chunk journaled done whose
// status byte is not written yet counts as not done: its bytes are only trusted once it is). A
// live run's output may be exported: the file is only read, and what is done at that instant is
// what comes out.
//
// Columns, in order: `point`; `sample` (point / repeat) for a sampled sweep; every parameter in the
// order of the config's `parameters` (swept, zipped, sampled and constants); `replicate` (point %
// repeat) when repeat > 1; `seed` (the point's seed, an unsigned 64-bit integer); then every scalar
// kernel output in the kernel's order. Outputs with a per-point shape do not fit a table and are
// left out, said once on stderr. An output named like an earlier column (a command kernel may
// output `point` or `seed`) is named `output_<name>`, also said on stderr.
//
// Parameter values are rebuilt from the config stored in the file (driver/space.h), never read
// from per-point datasets; results are read through OutputFile (io/output_file.h) a block of
// points at a time, so memory does not grow with the number of points.
//
// Values: integers (int64, int32, uint8, integer parameters, seeds) in decimal; floats (float64,
// float32, number parameters) as the shortest text that reads back as the same value of their
// type, with ".0" added when that text looks like an integer (so a float column stays a float
// column); strings as they are. CSV (RFC 4180, "\n" line ends): a header line of the column
// names; a field containing `,`, `"`, CR or LF, and the empty string, is quoted, `"` doubled; NaN
// is `nan`, infinities `inf` and `-inf` (what pandas.read_csv reads as such). JSON lines: one
// object a line with the columns as keys, strings escaped, NaN and infinities null (JSON has
// neither).
//
// `--chunks`: one row per chunk instead, every chunk in order, with its provenance as /chunks and
// the journals record it together (driver/chunk_history.h: so the states agree with `sweep
// status`). Columns: `chunk`; `first_point` and `points` (the points it holds); `status`
// (pending, done or failed); `attempts` (tries it took to be done or to fail for good, 0 before);
// `host` and `worker` (where it was computed, or failed for good); `start_time` (when its worker
// began it: Unix seconds, a float; pandas.to_datetime(df.start_time, unit="s")); `seconds` (its
// worker's wall time on it); `max_rss` (its worker's peak resident memory at its end, bytes:
// driver/worker.h says what it counts); `failure` (the reason its latest failed attempt gave,
// kept when a later one is done) and `failure_point` (the point that attempt failed on). A value
// not recorded (a pending chunk's host, an output from before provenance) is an empty CSV field,
// JSON null.
//
// Destination: `-o FILE` writes FILE.tmp-<pid> beside FILE and renames it over FILE at the end,
// so a failed or interrupted export leaves FILE as it was and no temporary behind. Without it, the
// table goes to stdout; a reader that goes away (`| head`) ends the export quietly with success.
#pragma once

#include <cstdint>
#include <string>

namespace sweep {

enum class ExportFormat { kCsv, kJsonl };

struct ExportRequest {
  std::string output_path;  // the sweep's HDF5 output
  ExportFormat format = ExportFormat::kCsv;
  std::string destination;  // -o; empty: stdout
  bool chunks = false;      // --chunks: the chunk table instead of the points
};

// Writes the table; returns the exit code (0). Notes (outputs left out, renamed columns, points
// not done) go to stderr, one line each.
// THROWS: Error with exit code 2 when the output is missing or not a sweep output file, or when
// -o names the output itself; ConfigError (exit code 2) when the config stored in it no longer
// reads; nothing is written in those cases. Error with 130 on SIGINT or SIGTERM; with 1 on any
// other failure (a stored config that no longer gives the file's points, a read or write error).
int ExportCommand(const ExportRequest& request);

// The value texts above, exposed for tests.
namespace internal {

// The float rules above: "0.5", "2.0", "1e+300", "-0.0"; non-finite ones as "nan", "inf", "-inf".
std::string FloatText(double value);
std::string FloatText(float value);
// `text` as one CSV field: quoted when it must be.
std::string CsvField(const std::string& text);

}  // namespace internal
}  // namespace sweep
