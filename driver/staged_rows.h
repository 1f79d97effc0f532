// StagedRows: where workers write the rows they compute when those must not reach the output yet:
// a memfd laid out like the output (the same byte offsets, io/output_file.h), whose rows of a
// chunk are taken out only once the chunk is done.
//   - `sweep rerun` computes into one, and the driver copies a chunk's rows into the output just
//     before recording it done (MoveInto). A rerun of a done chunk that fails, however its
//     attempt ended (a kernel error, a worker killed between two blocks of rows), thus leaves the
//     output's rows as they were.
//   - Each MPI rank but 0 computes into one, and sends a done chunk's rows on to rank 0
//     (driver/mpi_run.h).
// The memfd is sparse: only the rows of chunks in flight take memory, and Free() gives a
// chunk's back once they are taken out (or its attempt failed).
#pragma once

#include <optional>
#include <string>

#include "driver/plan.h"
#include "io/output_file.h"

namespace sweep {

class StagedRows {
 public:
  // THROWS: Error when the memfd cannot be made.
  explicit StagedRows(const OutputLayout& layout);
  ~StagedRows();
  StagedRows(const StagedRows&) = delete;
  StagedRows& operator=(const StagedRows&) = delete;

  // The name by which workers open it, spawned ones too: /proc/<pid>/fd/<fd> of this process.
  const std::string& path() const { return path_; }
  // The staged rows, read and written at the output's offsets.
  OutputFile& file() { return *file_; }

  // Copies the chunk's rows of every output into `output`, then frees them here.
  // THROWS: Error when a read or a write fails (a full disk).
  void MoveInto(OutputFile& output, const Chunk& chunk);
  // Gives the memory of the chunk's rows back; they read as zeros after.
  void Free(const Chunk& chunk);

 private:
  int fd_ = -1;
  std::string path_;
  std::optional<OutputFile> file_;
};

}  // namespace sweep
