// The worker's side of a reuse plan, which a spawned worker links (without HDF5 or a YAML
// parser); ReusePlan::Open, which reads the OLD outputs and configs, is in reuse_open.cc.
#include "driver/reuse.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "driver/checksum.h"
#include "driver/chunk_ledger.h"
#include "driver/command_binding.h"
#include "driver/fingerprint.h"
#include "io/config_json.h"
#include "io/error.h"

namespace sweep {
namespace {

// With several sources, points are claimed in windows of this many.
constexpr uint64_t kClaimWindow = uint64_t{1} << 16;

// Old chunk `c`'s run of `run` from its j-th point on: how many of its points stay in chunk c.
uint64_t PointsInChunk(const MatchRun& run, uint64_t j, uint64_t chunk_size) {
  const uint64_t q = run.old_first + j * run.old_step;
  const uint64_t c = q / chunk_size, left = run.count - j;
  const int64_t step = int64_t(run.old_step);
  if (step == 0) return left;
  if (step > 0)
    return std::min(left, ((c + 1) * chunk_size - q + uint64_t(step) - 1) / uint64_t(step));
  return std::min(left, (q - c * chunk_size) / uint64_t(-step) + 1);
}

}  // namespace

ReusePlan::ReusePlan() = default;
ReusePlan::~ReusePlan() {
  for (int fd : descriptors_) close(fd);
}
ReusePlan::ReusePlan(ReusePlan&&) noexcept = default;
ReusePlan& ReusePlan::operator=(ReusePlan&&) noexcept = default;

void ReusePlan::ForEach(uint64_t first, uint64_t n,
                        const std::function<void(size_t, const MatchRun&)>& visit) const {
  // The runs of source s among [from, from + count) whose OLD chunks are done, cut at OLD chunk
  // boundaries.
  const auto done_runs = [this](size_t s, uint64_t from, uint64_t count,
                                const std::function<void(const MatchRun&)>& take) {
    const ReuseSource& source = sources_[s];
    const uint64_t chunk_size = source.layout.chunk_size;
    source.match.ForEach(from, count, [&](const MatchRun& run) {
      for (uint64_t j = 0; j < run.count;) {
        const uint64_t q = run.old_first + j * run.old_step;
        const uint64_t in_chunk = PointsInChunk(run, j, chunk_size);
        if (source.done[size_t(q / chunk_size)])
          take({run.new_first + j * run.new_step, run.new_step, q, run.old_step, in_chunk});
        j += in_chunk;
      }
    });
  };
  if (sources_.size() == 1) {
    done_runs(0, first, n, [&](const MatchRun& run) { visit(0, run); });
    return;
  }
  // A point goes to the first source that holds it: later sources see only what is left.
  std::vector<uint8_t> claimed;
  for (uint64_t window = first; window < first + n; window += kClaimWindow) {
    const uint64_t size = std::min(kClaimWindow, first + n - window);
    claimed.assign(size_t(size), 0);
    for (size_t s = 0; s < sources_.size(); ++s) {
      done_runs(s, window, size, [&](const MatchRun& run) {
        for (uint64_t j = 0; j < run.count;) {
          while (j < run.count && claimed[size_t(run.new_first + j * run.new_step - window)]) ++j;
          uint64_t end = j;
          while (end < run.count && !claimed[size_t(run.new_first + end * run.new_step - window)])
            claimed[size_t(run.new_first + end++ * run.new_step - window)] = 1;
          if (end > j)
            visit(s, {run.new_first + j * run.new_step, run.new_step,
                      run.old_first + j * run.old_step, run.old_step, end - j});
          j = end;
        }
      });
    }
  }
}

ReuseCounts ReusePlan::Count(const Plan& plan, const std::vector<uint64_t>& chunks) const {
  ReuseCounts counts;
  counts.points.assign(sources_.size(), 0);
  if (sources_.empty()) return counts;
  for (uint64_t c : chunks) {
    const Chunk chunk = plan.chunk(c);
    ForEach(chunk.first, chunk.count,
            [&](size_t s, const MatchRun& run) { counts.points[s] += run.count; });
  }
  for (uint64_t points : counts.points) counts.total += points;
  return counts;
}

ChunkReuse ReusePlan::Provenance(const Chunk& chunk) const {
  ChunkReuse reuse;
  bool any = false;
  ForEach(chunk.first, chunk.count, [&](size_t s, const MatchRun& run) {
    reuse.points += run.count;
    const uint64_t chunk_size = sources_[s].layout.chunk_size;
    const uint64_t a = run.old_first / chunk_size,
                   b = (run.old_first + (run.count - 1) * run.old_step) / chunk_size;
    if (!any || s < reuse.source) {
      any = true;
      reuse.source = s;
      reuse.first_chunk = std::min(a, b);
      reuse.last_chunk = std::max(a, b);
    } else if (s == reuse.source) {
      reuse.first_chunk = std::min({reuse.first_chunk, a, b});
      reuse.last_chunk = std::max({reuse.last_chunk, a, b});
    }
  });
  return reuse;
}

nlohmann::json ReusePlan::Encode() const {
  nlohmann::json sources = nlohmann::json::array();
  for (const ReuseSource& s : sources_) {
    // Done chunks as [first, end) ranges with their checksums: a finished OLD is one range.
    nlohmann::json done = nlohmann::json::array(), checksums = nlohmann::json::array();
    for (uint64_t c = 0; c < s.done.size();) {
      if (!s.done[size_t(c)]) {
        ++c;
        continue;
      }
      uint64_t end = c;
      while (end < s.done.size() && s.done[size_t(end)])
        checksums.push_back(s.checksums[size_t(end++)]);
      done.push_back({c, end});
      c = end;
    }
    sources.push_back({{"path", s.path},
                       {"read_as", s.read_as},
                       {"layout", EncodeRowLayout(s.layout)},
                       {"match", s.match.Encode()},
                       {"done", done},
                       {"checksums", checksums}});
  }
  return {{"sources", sources}};
}

ReusePlan ReusePlan::Decode(const nlohmann::json& j) {
  ReusePlan plan;
  for (const nlohmann::json& s : j.at("sources")) {
    ReuseSource source;
    source.path = s.at("path").get<std::string>();
    source.read_as = s.at("read_as").get<std::string>();
    source.layout = DecodeRowLayout(s.at("layout").get<std::string>());
    source.match = PointMatch::Decode(s.at("match"));
    source.done.assign(size_t(source.layout.chunks), 0);
    source.checksums.assign(size_t(source.layout.chunks), 0);
    const std::vector<uint64_t> checksums = s.at("checksums").get<std::vector<uint64_t>>();
    size_t next = 0;
    for (const nlohmann::json& range : s.at("done")) {
      const uint64_t begin = range.at(0).get<uint64_t>(), end = range.at(1).get<uint64_t>();
      if (end > source.layout.chunks || next + (end - begin) > checksums.size())
        throw nlohmann::json::other_error::create(501, "a reuse plan's done chunks disagree", &s);
      for (uint64_t c = begin; c < end; ++c) {
        source.done[size_t(c)] = 1;
        source.checksums[size_t(c)] = checksums[next++];
        ++source.done_chunks;
      }
    }
    plan.sources_.push_back(std::move(source));
  }
  return plan;
}

std::string ReuseSummary(const ReusePlan& plan, const ReuseCounts& counts, uint64_t points,
                         const Config& config) {
  const size_t sources = plan.sources().size();
  std::string text =
      fmt::format("reuse: {} of {} points copied from {} earlier output{}, {} computed\n",
                  counts.total, points, sources, sources == 1 ? "" : "s", points - counts.total);
  for (size_t s = 0; s < sources; ++s) {
    const ReuseSource& source = plan.sources()[s];
    if (source.match.none()) {
      text += fmt::format("  {}: none, {}\n", source.path, source.match.why_none());
      continue;
    }
    text += fmt::format(
        "  {}: {} points ({} of this sweep's points are points of it; {} of its {} chunks are "
        "done)\n",
        source.path, counts.points[s], source.match.matches(), source.done_chunks,
        source.layout.chunks);
  }
  if (config.sampling.method == SamplingSpec::Method::kLhs) {
    text +=
        "  (a Latin hypercube's samples change with sampling.n: only samples identical in both "
        "are reused)\n";
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// ReusedRows

struct ReusedRows::Cached {
  size_t source = SIZE_MAX;
  uint64_t chunk = 0;
  uint64_t first = 0;                   // its first point
  bool good = false;                    // its rows match its checksum
  std::vector<std::vector<char>> rows;  // by output; empty when the chunk is too large to hold
};

ReusedRows::ReusedRows(const ReusePlan& plan, std::vector<uint64_t> bytes_per_point, bool copy)
    : plan_(plan),
      bytes_per_point_(std::move(bytes_per_point)),
      copy_(copy),
      cached_(std::make_unique<Cached>()) {
  for (const ReuseSource& s : plan_.sources()) {
    files_.push_back(
        copy_ ? std::make_unique<OutputFile>(s.read_as, s.layout, OutputFile::Access::kRead)
              : nullptr);
    verified_.emplace_back(size_t(s.layout.chunks), 0);
  }
}

ReusedRows::~ReusedRows() = default;

void ReusedRows::ReadOld(size_t s, size_t output, uint64_t first, uint64_t count,
                         char* into) const {
  try {
    files_[s]->ReadRows(output, first, count, into);
  } catch (const Error& e) {
    throw Error("--reuse " + plan_.sources()[s].path + ": " + e.what());
  }
}

const ReusedRows::Cached& ReusedRows::Load(size_t s, uint64_t chunk) {
  Cached& cached = *cached_;
  if (cached.source == s && cached.chunk == chunk) return cached;
  const ReuseSource& source = plan_.sources()[s];
  const Plan old_plan(source.layout.points, source.layout.chunk_size);
  const Chunk c = old_plan.chunk(chunk);
  cached.source = s;
  cached.chunk = chunk;
  cached.first = c.first;
  uint64_t bytes = 0;
  for (uint64_t bpp : bytes_per_point_) bytes += c.count * bpp;
  const bool hold = bytes <= kReuseCacheBytes;
  cached.rows.assign(hold ? bytes_per_point_.size() : 0, {});
  uint8_t& state = verified_[s][size_t(chunk)];
  if (state == 0 || hold) {
    // The whole chunk, output by output, hashed as /chunks/checksum was (driver/checksum.h).
    ChunkChecksum checksum(bytes_per_point_.size());
    constexpr uint64_t kPiece = uint64_t{4} << 20;
    for (size_t o = 0; o < bytes_per_point_.size(); ++o) {
      const uint64_t bpp = bytes_per_point_[o];
      if (hold) {
        cached.rows[o].resize(size_t(c.count * bpp));
        ReadOld(s, o, c.first, c.count, cached.rows[o].data());
        checksum.Add(o, cached.rows[o].data(), cached.rows[o].size());
        continue;
      }
      const uint64_t per_piece = std::max<uint64_t>(1, kPiece / bpp);
      for (uint64_t at = 0; at < c.count; at += per_piece) {
        const uint64_t n = std::min(per_piece, c.count - at);
        scratch_.resize(size_t(n * bpp));
        ReadOld(s, o, c.first + at, n, scratch_.data());
        checksum.Add(o, scratch_.data(), scratch_.size());
      }
    }
    state = checksum.Finish() == source.checksums[size_t(chunk)] ? 1 : 2;
  }
  cached.good = state == 1;
  return cached;
}

uint64_t ReusedRows::Take(uint64_t first, uint64_t n, const std::vector<char*>& rows,
                          uint8_t* taken) {
  uint64_t count = 0;
  plan_.ForEach(first, n, [&](size_t s, const MatchRun& run) {
    if (copy_) {
      const uint64_t chunk = run.old_first / plan_.sources()[s].layout.chunk_size;
      const Cached& cached = Load(s, chunk);
      if (!cached.good) return;  // computed instead
      for (size_t o = 0; o < bytes_per_point_.size(); ++o) {
        const uint64_t bpp = bytes_per_point_[o];
        char* into = rows[o] + (run.new_first - first) * bpp;
        if (!cached.rows.empty()) {
          const char* from = cached.rows[o].data() + (run.old_first - cached.first) * bpp;
          if (run.new_step == 1 && run.old_step == 1) {
            std::memcpy(into, from, size_t(run.count * bpp));
          } else {
            for (uint64_t j = 0; j < run.count; ++j)
              // old_step is modulo 2^64 (an axis reversed in NEW walks OLD backwards): the
              // distance is signed.
              std::memcpy(into + j * run.new_step * bpp,
                          from + int64_t(j * run.old_step) * int64_t(bpp), size_t(bpp));
          }
        } else if (run.old_step == 1) {
          scratch_.resize(size_t(run.count * bpp));
          ReadOld(s, o, run.old_first, run.count, scratch_.data());
          for (uint64_t j = 0; j < run.count; ++j)
            std::memcpy(into + j * run.new_step * bpp, scratch_.data() + j * bpp, size_t(bpp));
        } else {
          for (uint64_t j = 0; j < run.count; ++j)
            ReadOld(s, o, run.old_first + j * run.old_step, 1, into + j * run.new_step * bpp);
        }
      }
    }
    uint8_t* mark = taken + (run.new_first - first);
    if (run.new_step == 1) {
      std::memset(mark, 1, size_t(run.count));  // a copy of 10^8 points marks them by the run
    } else {
      for (uint64_t j = 0; j < run.count; ++j) mark[j * run.new_step] = 1;
    }
    count += run.count;
  });
  return count;
}

}  // namespace sweep
