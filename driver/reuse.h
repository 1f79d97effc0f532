// Reuse: the earlier outputs (OLD) whose done points `sweep run NEW.yaml --reuse OLD.h5` copies
// instead of computing, and `sweep plan NEW.yaml --reuse OLD.h5` counts (DESIGN.md "Command line",
// "Determinism").
//
// A point of NEW is copied from OLD when OLD holds it done and OLD computed it with what NEW
// computes with: then a fresh run of NEW would give the same bytes for it (its seed follows its
// parameter values, driver/space.h), and the grown output equals a fresh run's. ReusePlan::Open()
// checks, for each OLD, and refuses (exit 2, naming each difference; `--force` does not apply):
//   - its seeds follow the parameter values (an output of an earlier sweep, seeded by point
//     index, matches nothing);
//   - the same master seed;
//   - the same kernel (a built-in at the same revision, a plugin library of the same bytes, a
//     command kernel with the same command, templates of the same bytes, the same results file),
//     the same options, the same outputs, inputs of the same bytes (driver/fingerprint.h): the
//     fingerprint of OLD's latest run against NEW's, and the kernel's keys in the two configs;
//   - not this run's own output (under any name), and a sweep output at all (not a config, not
//     another HDF5 file);
//   - a command kernel that does not pass `{point}`, the point's index, to its program (in an
//     argument or a template): a grown sweep numbers its points otherwise, so such a program's
//     results would not be this sweep's. (A program that reads SWEEP_POINT from its environment
//     is taken at its word that it computes from the parameters and seed only.)
// The same file named twice is read once. Chunks OLD recorded done under an earlier fingerprint
// (before a `resume --force` changed its kernel or inputs) are not used.
//
// Which points: PointMatch (driver/point_match.h) gives the NEW points that are OLD points;
// those whose OLD chunk is done (in /chunks and OLD's journals, as `sweep status` folds them,
// read once when the run starts: a live OLD gives what was done then) are reused, each from the
// first OLD in the order given that holds it. A point whose OLD chunk turns out not to match its
// checksum when a worker reads it is computed instead (ReusedRows), so a damaged OLD never gets
// into NEW.
//
// OLD is only read. The driver opens each OLD once, read-only, and keeps it open; workers read
// it through the driver's descriptor (/proc/<driver pid>/fd/<n>), so an OLD deleted, renamed or
// replaced during the run is still the file the run started with.
//
// Cost: opening reads OLD's /chunks and journals (O(OLD chunks)); matching is O(axis lengths)
// (driver/point_match.h); counting walks runs of matched points, not points. Rows are copied by
// the workers, in parallel, as part of computing a chunk (ReusedRows): each OLD chunk a worker
// draws from is read whole once (its checksum verified), and its rows copied out of memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "driver/plan.h"
#include "driver/point_match.h"
#include "driver/space.h"
#include "io/config.h"
#include "io/output_file.h"

namespace sweep {

// One OLD output a run reuses.
struct ReuseSource {
  std::string path;     // absolute, as named on the command line
  std::string read_as;  // where workers open it: /proc/<driver pid>/fd/<n>
  OutputLayout layout;  // OLD's: its rows' offsets and chunk size
  PointMatch match;
  // By OLD chunk: usable (done, under what NEW computes with) and its recorded checksum.
  std::vector<uint8_t> done;
  std::vector<uint64_t> checksums;
  uint64_t done_chunks = 0;
  uint64_t stale_chunks = 0;  // done under an earlier fingerprint, not used
};

// What the sources give one chunk of NEW: its provenance in /chunks (io/output_file.h).
struct ChunkReuse {
  uint64_t points = 0;                       // reused, from all sources
  size_t source = 0;                         // the first source that gave some
  uint64_t first_chunk = 0, last_chunk = 0;  // of that source's chunks it drew from
};

// Points reused by source over some chunks of NEW.
struct ReuseCounts {
  std::vector<uint64_t> points;  // by source
  uint64_t total = 0;
};

class ReusePlan {
 public:
  // Nothing reused.
  ReusePlan();
  ~ReusePlan();
  ReusePlan(ReusePlan&&) noexcept;
  ReusePlan& operator=(ReusePlan&&) noexcept;

  // Opens and checks each of `paths` (as given; relative to the working folder) for a run of
  // `config` (`space`, its fingerprint JSON text `fingerprint`, computed from the inputs' bytes)
  // into `output_path`. Warnings (a file named twice, stale chunks, a source that matches no
  // point, and why) go to stderr.
  // THROWS: Error (exit code 2) naming the path and what is wrong, as above.
  static ReusePlan Open(const std::vector<std::string>& paths, const Config& config,
                        const Space& space, const std::string& fingerprint,
                        const std::string& output_path);

  bool empty() const { return sources_.empty(); }
  const std::vector<ReuseSource>& sources() const { return sources_; }

  // Calls visit(source, run) for every NEW point among [first, first + n) that some source holds
  // done, from the first source that holds it; each run's OLD points lie in one OLD chunk.
  void ForEach(uint64_t first, uint64_t n,
               const std::function<void(size_t source, const MatchRun& run)>& visit) const;

  // The points reused from each source among the chunks `chunks` of `plan`.
  ReuseCounts Count(const Plan& plan, const std::vector<uint64_t>& chunks) const;
  // What the sources give `chunk` (points 0 when nothing).
  ChunkReuse Provenance(const Chunk& chunk) const;

  // For workers: the sources with their layouts, done chunks and matches, each read as
  // /proc/<this process>/fd/<n> (Encode), and back (Decode; such a plan holds no descriptor).
  // THROWS (Decode): nlohmann::json errors on malformed JSON.
  nlohmann::json Encode() const;
  static ReusePlan Decode(const nlohmann::json& j);

 private:
  std::vector<ReuseSource> sources_;
  std::vector<std::unique_ptr<OutputFile>> files_;  // the driver's open OLDs (none when decoded)
  std::vector<int> descriptors_;  // what sources' read_as name, closed with the plan
};

// What `sweep plan --reuse` and the start of `sweep run --reuse` print: of `points` points to
// compute, how many each source gives and how many are computed, a line each, with why a source
// gives none and, for a Latin hypercube (`config`'s sampling), that its samples do not grow.
std::string ReuseSummary(const ReusePlan& plan, const ReuseCounts& counts, uint64_t points,
                         const Config& config);

// A worker's side of a reuse plan: reads the rows of reused points into its block buffers.
// Each OLD chunk it draws from is read whole once (when it is at most kReuseCacheBytes) and its
// checksum verified; a chunk that does not match gives nothing, and its points are computed.
class ReusedRows {
 public:
  // `bytes_per_point[o]`: output o's (NEW's and OLD's are the same: the fingerprints say so).
  // With `copy` false (an MPI rank other than 0, which reaches no OLD), points are only marked
  // taken; their rows are left to rank 0 (driver/mpi_run.cc).
  ReusedRows(const ReusePlan& plan, std::vector<uint64_t> bytes_per_point, bool copy = true);
  ~ReusedRows();
  ReusedRows(const ReusedRows&) = delete;
  ReusedRows& operator=(const ReusedRows&) = delete;

  // For each reused point p among [first, first + n): copies its rows into
  // rows[o] + (p - first) * bytes_per_point[o] and sets taken[p - first] = 1. Returns how many
  // points it took. REQUIRES: taken holds n zeros. THROWS: Error when an OLD cannot be read.
  uint64_t Take(uint64_t first, uint64_t n, const std::vector<char*>& rows, uint8_t* taken);

 private:
  struct Cached;
  // OLD chunk `chunk` of source s, read and verified (rows empty when it is too large to hold).
  const Cached& Load(size_t s, uint64_t chunk);
  void ReadOld(size_t s, size_t output, uint64_t first, uint64_t count, char* into) const;

  const ReusePlan& plan_;
  std::vector<uint64_t> bytes_per_point_;
  bool copy_;
  std::vector<std::unique_ptr<OutputFile>> files_;  // by source
  std::vector<std::vector<uint8_t>> verified_;      // by source, chunk: 0 unknown, 1 good, 2 bad
  std::unique_ptr<Cached> cached_;
  std::vector<char> scratch_;
};

// An OLD chunk is held whole for copying when its rows take at most this many bytes.
inline constexpr uint64_t kReuseCacheBytes = uint64_t{64} << 20;

}  // namespace sweep
