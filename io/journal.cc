#include "io/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/error.h"

namespace sweep {
namespace {

const std::string kHeader = R"({"journal":"sweep","version":1})";

[[noreturn]] void ThrowIo(const std::string& what, const std::string& path) {
  throw Error("journal " + path + ": " + what + ": " + std::strerror(errno));
}

void WriteLine(int fd, const std::string& line, const std::string& path) {
  const std::string bytes = line + '\n';
  for (;;) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n == ssize_t(bytes.size())) return;
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) errno = ENOSPC;  // a short write to a regular file: the disk is full
    ThrowIo("write", path);
  }
}

std::string ReadAll(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    throw Error("journal " + path + ": " + std::strerror(errno),
                errno == ENOENT ? ExitCode::kUsage : ExitCode::kFailure);
  }
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      ThrowIo("read", path);
    }
    if (n == 0) break;
    text.append(buffer, size_t(n));
  }
  close(fd);
  return text;
}

}  // namespace

std::string EncodeJournalRecord(const JournalRecord& r) {
  nlohmann::json j;
  j["type"] = r.type;
  j["time"] = r.time;
  if (r.type == "started") {
    j["pid"] = r.pid;
    j["command"] = r.command;
    j["workers"] = r.workers;
  } else if (r.type == "done") {
    j["chunk"] = r.chunk;
    j["checksum"] = fmt::format("{:016x}", r.checksum);
    j["seconds"] = r.seconds;
    j["worker"] = r.worker;
    j["attempt"] = r.attempt;
  } else if (r.type == "failed") {
    j["chunk"] = r.chunk;
    j["attempt"] = r.attempt;
    j["final"] = r.final;
    j["kind"] = r.kind;
    j["reason"] = r.reason;
    j["point"] = r.point ? nlohmann::json(*r.point) : nlohmann::json(nullptr);
    j["params"] =
        r.params_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(r.params_json);
    j["stderr"] = r.stderr_tail;
    j["worker"] = r.worker;
  } else if (r.type == "stopped") {
    j["reason"] = r.reason;
    j["message"] = r.message;
  }
  // Invalid UTF-8 in a kernel's stderr must not make the record unwritable.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<JournalRecord> DecodeJournalRecord(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("type") || !j["type"].is_string()) {
    return std::nullopt;
  }
  JournalRecord r;
  try {
    r.type = j["type"].get<std::string>();
    r.time = j.value("time", 0.0);
    r.chunk = j.value("chunk", uint64_t{0});
    if (j.contains("checksum"))
      r.checksum = std::stoull(j["checksum"].get<std::string>(), nullptr, 16);
    r.seconds = j.value("seconds", 0.0);
    r.worker = j.value("worker", -1);
    r.attempt = j.value("attempt", 0);
    r.final = j.value("final", true);
    r.kind = j.value("kind", "");
    r.reason = j.value("reason", "");
    if (j.contains("point") && j["point"].is_number_unsigned())
      r.point = j["point"].get<uint64_t>();
    if (j.contains("params")) r.params_json = j["params"].dump();
    r.stderr_tail = j.value("stderr", "");
    r.command = j.value("command", "");
    r.pid = j.value("pid", int64_t{0});
    r.workers = j.value("workers", 0);
    r.message = j.value("message", "");
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return r;
}

std::vector<std::string> JournalsOf(const std::string& output_path) {
  std::vector<std::string> paths;
  const size_t slash = output_path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : output_path.substr(0, slash);
  const std::string base =
      (slash == std::string::npos ? output_path : output_path.substr(slash + 1)) + ".journal";
  DIR* dir = opendir(folder.empty() ? "/" : folder.c_str());
  if (!dir) return paths;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == base || name.rfind(base + ".shard-", 0) == 0) {
      paths.push_back(slash == std::string::npos ? name : folder + "/" + name);
    }
  }
  closedir(dir);
  std::sort(paths.begin(), paths.end());
  return paths;
}

Journal Journal::Create(const std::string& path) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) ThrowIo("create", path);
  Journal journal(path, fd);
  WriteLine(fd, kHeader, path);
  journal.dirty_ = true;  // synced with the first batch of records
  return journal;
}

Journal Journal::OpenForAppend(const std::string& path) {
  const JournalContents contents = Read(path);
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) ThrowIo("open", path);
  if (contents.truncated && ftruncate(fd, off_t(contents.valid_bytes)) != 0) {
    close(fd);
    ThrowIo("truncate", path);
  }
  Journal journal(path, fd);
  if (contents.valid_bytes == 0) WriteLine(fd, kHeader, path);
  return journal;
}

JournalContents Journal::Read(const std::string& path) {
  const std::string text = ReadAll(path);
  JournalContents contents;
  size_t pos = 0;
  bool header = true;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    const bool last = end == std::string::npos || end + 1 == text.size();
    if (end == std::string::npos) {  // no newline: a record cut by a kill
      contents.truncated = true;
      break;
    }
    const std::string line = text.substr(pos, end - pos);
    if (header) {
      const nlohmann::json h = nlohmann::json::parse(line, nullptr, false);
      if (h.is_discarded() || !h.is_object() || h.value("journal", "") != "sweep") {
        if (last) {
          contents.truncated = true;
          break;
        }
        throw Error("journal " + path + ": not a sweep journal", ExitCode::kUsage);
      }
      const int version = h.value("version", 0);
      if (version != kJournalVersion) {
        throw Error("journal " + path + ": version " + std::to_string(version) +
                        ", but this sweep reads version " + std::to_string(kJournalVersion),
                    ExitCode::kUsage);
      }
      header = false;
    } else {
      std::optional<JournalRecord> record = DecodeJournalRecord(line);
      if (!record) {
        if (last) {
          contents.truncated = true;
          break;
        }
        throw Error("journal " + path + ": line " + std::to_string(contents.records.size() + 2) +
                    " is damaged");
      }
      contents.records.push_back(std::move(*record));
    }
    pos = end + 1;
    contents.valid_bytes = pos;
  }
  if (text.empty()) contents.truncated = true;  // killed before its header was written
  return contents;
}

Journal::Journal(Journal&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), dirty_(other.dirty_) {}

Journal::~Journal() {
  if (fd_ >= 0) {
    Sync();
    close(fd_);
  }
}

void Journal::Append(const JournalRecord& record) {
  WriteLine(fd_, EncodeJournalRecord(record), path_);
  dirty_ = true;
}

void Journal::Sync() {
  if (!dirty_ || fd_ < 0) return;
  fdatasync(fd_);
  dirty_ = false;
}

}  // namespace sweep
