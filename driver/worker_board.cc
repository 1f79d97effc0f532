#include "driver/worker_board.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/error.h"
#include "io/file_bytes.h"

namespace sweep {
namespace {

// A board is a few hundred bytes a worker: anything far larger is not one.
constexpr off_t kMaxBoardBytes = 64 << 20;

template <typename T>
nlohmann::json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

template <typename T>
std::optional<T> Optional(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return j[key].get<T>();
}

}  // namespace

std::string WorkerBoardPath(const std::string& output_path,
                            const std::optional<std::pair<uint64_t, uint64_t>>& shard) {
  if (!shard) return output_path + ".workers";
  return fmt::format("{}.workers.shard-{}-of-{}", output_path, shard->first, shard->second);
}

void WriteWorkerBoard(const std::string& path, const WorkerBoard& board) {
  nlohmann::json workers = nlohmann::json::array();
  for (const BoardWorker& w : board.workers) {
    workers.push_back({{"worker", w.worker},
                       {"node", w.node},
                       {"host", w.host},
                       {"pid", w.pid},
                       {"state", w.state},
                       {"chunk", OrNull(w.chunk)},
                       {"point", OrNull(w.point)},
                       {"since", OrNull(w.since)},
                       {"chunks_done", w.chunks_done},
                       {"points_done", w.points_done}});
  }
  const std::string text = nlohmann::json({{"board", "sweep"},
                                           {"version", kWorkerBoardVersion},
                                           {"pid", board.pid},
                                           {"host", board.host},
                                           {"command", board.command},
                                           {"started", board.started},
                                           {"updated", board.updated},
                                           {"workers", workers}})
                               .dump() +
                           "\n";
  const std::string temp = fmt::format("{}.tmp-{}", path, getpid());
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw Error("cannot write " + temp + ": " + std::strerror(errno));
  try {
    WriteBytesAt(fd, text.data(), text.size(), 0, "cannot write " + temp);
  } catch (const Error&) {
    close(fd);
    unlink(temp.c_str());
    throw;
  }
  close(fd);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(temp.c_str());
    throw Error("cannot rename " + temp + " to " + path + ": " + std::strerror(error));
  }
}

std::optional<WorkerBoard> ReadWorkerBoard(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::string text;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < kMaxBoardBytes) {
    text.resize(size_t(st.st_size));
    try {
      ReadBytesAt(fd, text.data(), text.size(), 0, path);
    } catch (const Error&) {
      text.clear();
    }
  }
  close(fd);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("board", "") != "sweep" ||
      j.value("version", 0) != kWorkerBoardVersion)
    return std::nullopt;
  try {
    WorkerBoard board;
    board.pid = j.at("pid").get<long>();
    board.host = j.at("host").get<std::string>();
    board.command = j.at("command").get<std::string>();
    board.started = j.at("started").get<double>();
    board.updated = j.at("updated").get<double>();
    for (const nlohmann::json& w : j.at("workers")) {
      BoardWorker worker;
      worker.worker = w.at("worker").get<int>();
      worker.node = w.at("node").get<int>();
      worker.host = w.at("host").get<std::string>();
      worker.pid = w.at("pid").get<long>();
      worker.state = w.at("state").get<std::string>();
      worker.chunk = Optional<uint64_t>(w, "chunk");
      worker.point = Optional<uint64_t>(w, "point");
      worker.since = Optional<double>(w, "since");
      worker.chunks_done = w.at("chunks_done").get<uint64_t>();
      worker.points_done = w.at("points_done").get<uint64_t>();
      board.workers.push_back(std::move(worker));
    }
    return board;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a field missing or of another type: not a board this sweep reads
  }
}

}  // namespace sweep
