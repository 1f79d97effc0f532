// WorkerBoard: what each worker of a live run is doing, published beside the output for
// `sweep status` (and `status --watch`), which runs in another process, maybe on another host.
//
// File `OUT.h5.workers` (a shard's: `OUT.h5.workers.shard-I-of-N`), one JSON object, version 1:
//   {"board":"sweep","version":1,"pid":<the run's pid>,"host":"..","command":"run",
//    "started":<wall>,"updated":<wall>,
//    "workers":[{"worker":0,"node":0,"host":"..","pid":..,"state":"busy",
//                "chunk":41,"point":1302,"since":<wall>,"chunks_done":12,"points_done":380},..]}
// Times are Unix seconds (UTC). `state` is starting, idle, busy or stopped; `chunk`, `point` and
// `since` (when the chunk was begun) are null unless busy, and `point` also while the worker has
// not published one yet; `node` is the MPI rank the worker lives on (0 without MPI); a worker's
// counts are of this run only.
//
// The run (driver/run_recorder.h) rewrites it at most every kBoardSeconds while it computes and
// removes it when it stops. Each write goes to a temporary file beside it, opened without
// following links, then renamed over the board: a reader sees one whole board, never a torn one,
// and a link planted at the board's name is replaced, not followed. A killed run leaves its last
// board behind: a reader trusts a board only while its `pid` holds the output's lock
// (driver/status.h). Another version is not read (status then shows no workers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sweep {

inline constexpr int kWorkerBoardVersion = 1;
// How often a run rewrites its board, at most: a watcher's refresh is coarser.
inline constexpr double kBoardSeconds = 0.5;

struct BoardWorker {
  int worker = 0;
  int node = 0;
  std::string host;
  long pid = 0;                   // 0 when not running
  std::string state = "stopped";  // starting | idle | busy | stopped
  std::optional<uint64_t> chunk, point;
  std::optional<double> since;
  uint64_t chunks_done = 0, points_done = 0;
};

struct WorkerBoard {
  long pid = 0;
  std::string host, command;
  double started = 0, updated = 0;
  std::vector<BoardWorker> workers;
};

// `OUT.h5.workers`, or `OUT.h5.workers.shard-I-of-N` for shard (I, N).
std::string WorkerBoardPath(const std::string& output_path,
                            const std::optional<std::pair<uint64_t, uint64_t>>& shard);

// THROWS: Error when the board cannot be written (then the old one, if any, stays whole).
void WriteWorkerBoard(const std::string& path, const WorkerBoard& board);
// nullopt when there is none, or it is not a board of this version. Never follows a link.
std::optional<WorkerBoard> ReadWorkerBoard(const std::string& path);

}  // namespace sweep
