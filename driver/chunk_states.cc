#include "driver/chunk_states.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "driver/checksum.h"
#include "io/error.h"
#include "io/file_bytes.h"
#include "io/journal.h"

namespace sweep {

ChunkStates ReadChunkStates(const std::string& output_path, const OutputLayout& layout) {
  ChunkStates s;
  s.status.resize(layout.chunks);
  s.checksum.resize(layout.chunks);
  const int fd = open(output_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + output_path + ": " + std::strerror(errno));
  ReadBytesAt(fd, s.status.data(), s.status.size(), layout.chunk_status.offset,
              "reading /chunks/status");
  ReadBytesAt(fd, s.checksum.data(), s.checksum.size() * 8, layout.chunk_checksum.offset,
              "reading /chunks/checksum");
  close(fd);
  // The journals are written before /chunks: a chunk one records as done may not be marked yet.
  for (const std::string& journal_path : JournalsOf(output_path)) {
    const JournalContents journal = Journal::Read(journal_path);
    if (journal.truncated) {
      std::fprintf(stderr,
                   "sweep: warning: %s: ignoring a partial last record (the run was killed while "
                   "writing it)\n",
                   journal_path.c_str());
    }
    for (const JournalRecord& r : journal.records) {
      if (r.chunk >= layout.chunks) continue;
      if (r.type == "done") {
        s.status[r.chunk] = kChunkDone;
        s.checksum[r.chunk] = r.checksum;
      } else if (r.type == "failed" && r.final) {
        s.status[r.chunk] = kChunkFailed;
      }
    }
  }
  return s;
}

uint64_t VerifyDoneChunks(const std::string& output_path, const OutputLayout& layout,
                          const Plan& plan, const std::function<bool(uint64_t)>& mine,
                          ChunkStates* states) {
  const int fd = open(output_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + output_path + ": " + std::strerror(errno));
  ChunkChecksum checksum(layout.results.size());
  std::vector<char> buffer;
  uint64_t torn = 0;
  for (uint64_t c = 0; c < plan.chunks(); ++c) {
    if (states->status[c] != kChunkDone || !mine(c)) continue;
    const Chunk chunk = plan.chunk(c);
    checksum.Reset();
    for (size_t o = 0; o < layout.results.size(); ++o) {
      const OutputDatasetInfo& out = layout.results[o];
      buffer.resize(chunk.count * out.bytes_per_point);
      ReadBytesAt(fd, buffer.data(), buffer.size(),
                  out.region.offset + chunk.first * out.bytes_per_point,
                  "reading /results/" + out.name);
      checksum.Add(o, buffer.data(), buffer.size());
    }
    if (checksum.Finish() != states->checksum[c]) {
      states->status[c] = kChunkPending;
      ++torn;
    }
  }
  close(fd);
  return torn;
}

}  // namespace sweep
