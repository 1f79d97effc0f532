#include "io/journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/error.h"

namespace sweep {
namespace {

const std::string kHeader = R"({"journal":"sweep","version":3})";
// The framing of versions 2 and 3 (io/journal.h).
constexpr unsigned char kMagic = 0xC1;
constexpr size_t kFrameHead = 4, kFrameCheck = 4;
constexpr size_t kDonePayload = 52, kVersion2DonePayload = 40;
constexpr size_t kMaxPayload = 0xFFFF;
// A header line longer than this is not a sweep journal's.
constexpr size_t kMaxHeader = 4096;

[[noreturn]] void ThrowIo(const std::string& what, const std::string& path) {
  throw Error("journal " + path + ": " + what + ": " + std::strerror(errno));
}

void WriteBytes(int fd, const std::string& bytes, const std::string& path) {
  for (;;) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n == ssize_t(bytes.size())) return;
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) errno = ENOSPC;  // a short write to a regular file: the disk is full
    ThrowIo("write", path);
  }
}

// Appends records with one write. A short write (a full disk) is cut off again, so that none of
// the records is in the journal, as Append promises: a batch would otherwise leave its first
// records whole, recorded for a reader while the caller takes them for not recorded.
void AppendRecords(int fd, const std::string& bytes, const std::string& path) {
  const off_t before = lseek(fd, 0, SEEK_END);  // the journal's one writer is this process
  try {
    WriteBytes(fd, bytes, path);
  } catch (const Error&) {
    if (before >= 0 && ftruncate(fd, before) != 0) {
      // Left as it is: a reader takes what is whole, as after a kill.
    }
    throw;
  }
}

void PutLe(std::string* out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(char(uint8_t(value >> (8 * i))));
}

uint64_t GetLe(const char* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t(uint8_t(p[i])) << (8 * i);
  return value;
}

uint64_t BitsOf(double d) {
  uint64_t u;
  std::memcpy(&u, &d, 8);
  return u;
}

double DoubleOf(uint64_t u) {
  double d;
  std::memcpy(&d, &u, 8);
  return d;
}

std::string DonePayload(const JournalRecord& r) {
  std::string p;
  p.reserve(kDonePayload);
  PutLe(&p, BitsOf(r.time), 8);
  PutLe(&p, r.chunk, 8);
  PutLe(&p, r.checksum, 8);
  PutLe(&p, BitsOf(r.seconds), 8);
  PutLe(&p, uint32_t(int32_t(r.worker)), 4);
  PutLe(&p, uint32_t(r.attempt), 4);
  PutLe(&p, BitsOf(r.start_time), 8);
  PutLe(&p, std::min<uint64_t>(r.max_rss / 1024, UINT32_MAX), 4);
  return p;
}

// A 'D' payload of `length` bytes: kDonePayload, or version 2's kVersion2DonePayload.
void DecodeDone(const char* p, size_t length, JournalRecord* r) {
  *r = JournalRecord{};
  r->type = "done";
  r->time = DoubleOf(GetLe(p, 8));
  r->chunk = GetLe(p + 8, 8);
  r->checksum = GetLe(p + 16, 8);
  r->seconds = DoubleOf(GetLe(p + 24, 8));
  r->worker = int32_t(uint32_t(GetLe(p + 32, 4)));
  r->attempt = int(GetLe(p + 36, 4));
  if (length < kDonePayload) return;
  r->start_time = DoubleOf(GetLe(p + 40, 8));
  r->max_rss = GetLe(p + 48, 4) * 1024;
}

// The record's JSON, its longest texts halved until it fits a frame (the stderr tail keeps its
// end, the others their start; the parameters go last, whole).
std::string FittedJson(JournalRecord r) {
  for (;;) {
    std::string json = EncodeJournalRecord(r);
    if (json.size() <= kMaxPayload) return json;
    std::string* longest = &r.stderr_tail;
    for (std::string* s : {&r.reason, &r.message, &r.kind, &r.command, &r.type, &r.hosts.host})
      if (s->size() > longest->size()) longest = s;
    if (longest->size() > 64) {
      if (longest == &r.stderr_tail) {
        longest->erase(0, longest->size() / 2);
      } else {
        longest->resize(longest->size() / 2);
      }
    } else if (!r.hosts.ranges.empty()) {
      r.hosts.ranges.clear();
    } else if (!r.hosts.devices.empty()) {
      r.hosts.devices.clear();
    } else if (r.paths.size() > 1) {
      r.paths.erase(std::next(r.paths.begin()), r.paths.end());
    } else if (!r.params_json.empty()) {
      r.params_json.clear();
    } else if (r.cpu_seconds.size() > 1) {
      r.cpu_seconds.resize(1);
    } else if (r.lost_ranks.size() > 16) {
      r.lost_ranks.resize(16);
    } else {
      throw Error("journal: a record of " + std::to_string(json.size()) + " bytes does not fit");
    }
  }
}

int OpenToRead(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    throw Error("journal " + path + ": " + std::strerror(errno),
                errno == ENOENT ? ExitCode::kUsage : ExitCode::kFailure);
  }
  return fd;
}

}  // namespace

const std::string& WorkerHosts::DeviceOf(int worker) const {
  static const std::string none;
  return worker >= 0 && size_t(worker) < devices.size() ? devices[size_t(worker)] : none;
}

const std::string& WorkerHosts::Of(int worker) const {
  // The last range that starts at or before `worker`: a binary search, as an MPI run over
  // thousands of nodes has a range each.
  const auto after = std::upper_bound(
      ranges.begin(), ranges.end(), worker,
      [](int w, const std::pair<int, std::string>& range) { return w < range.first; });
  return after == ranges.begin() ? host : std::prev(after)->second;
}

std::string EncodeJournalRecord(const JournalRecord& r) {
  nlohmann::json j;
  j["type"] = r.type;
  j["time"] = r.time;
  if (r.type == "started") {
    j["pid"] = r.pid;
    j["command"] = r.command;
    j["workers"] = r.workers;
    if (!r.fingerprint_json.empty()) j["fingerprint"] = nlohmann::json::parse(r.fingerprint_json);
    j["host"] = r.hosts.host;
    if (!r.hosts.ranges.empty()) j["worker_hosts"] = r.hosts.ranges;
    if (!r.reuse_json.empty()) j["reuse"] = nlohmann::json::parse(r.reuse_json);
    if (!r.hosts.devices.empty()) j["worker_devices"] = r.hosts.devices;
    if (!r.paths.empty()) {
      nlohmann::json paths = nlohmann::json::object();
      for (const auto& [rank, by_key] : r.paths) paths[std::to_string(rank)] = by_key;
      j["paths"] = paths;
    }
  } else if (r.type == "reused") {
    j["chunk"] = r.chunk;
    j["points"] = r.points;
    j["from"] = r.from;
    j["first_chunk"] = r.first_chunk;
    j["last_chunk"] = r.last_chunk;
  } else if (r.type == "done") {
    j["chunk"] = r.chunk;
    j["checksum"] = fmt::format("{:016x}", r.checksum);
    j["seconds"] = r.seconds;
    j["worker"] = r.worker;
    j["attempt"] = r.attempt;
    j["start_time"] = r.start_time;
    j["max_rss"] = r.max_rss;
  } else if (r.type == "failed") {
    j["chunk"] = r.chunk;
    j["attempt"] = r.attempt;
    j["final"] = r.final;
    if (r.kept) j["kept"] = true;
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
    if (!r.cpu_seconds.empty()) {
      nlohmann::json cpu = nlohmann::json::array();
      for (double s : r.cpu_seconds)
        cpu.push_back(std::isfinite(s) ? nlohmann::json(std::round(s * 1e4) / 1e4)
                                       : nlohmann::json(nullptr));
      j["cpu_seconds"] = cpu;
    }
  }
  if ((r.type == "stopped" || r.type == "unheard" || r.type == "heard") && !r.lost_ranks.empty()) {
    nlohmann::json lost = nlohmann::json::array();
    for (const LostRank& l : r.lost_ranks)
      lost.push_back({{"rank", l.rank}, {"host", l.host}, {"last_heard", l.last_heard}});
    j["lost_ranks"] = lost;
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
    r.start_time = j.value("start_time", 0.0);
    r.max_rss = j.value("max_rss", uint64_t{0});
    r.worker = j.value("worker", -1);
    r.attempt = j.value("attempt", 0);
    r.final = j.value("final", true);
    r.kept = j.value("kept", false);
    r.kind = j.value("kind", "");
    r.reason = j.value("reason", "");
    if (j.contains("point") && j["point"].is_number_unsigned())
      r.point = j["point"].get<uint64_t>();
    if (j.contains("params")) r.params_json = j["params"].dump();
    r.stderr_tail = j.value("stderr", "");
    r.command = j.value("command", "");
    r.pid = j.value("pid", int64_t{0});
    r.workers = j.value("workers", 0);
    if (j.contains("fingerprint") && j["fingerprint"].is_object())
      r.fingerprint_json = j["fingerprint"].dump();
    r.message = j.value("message", "");
    if (j.contains("reuse") && j["reuse"].is_array()) r.reuse_json = j["reuse"].dump();
    r.points = j.value("points", uint64_t{0});
    r.from = j.value("from", "");
    r.first_chunk = j.value("first_chunk", uint64_t{0});
    r.last_chunk = j.value("last_chunk", uint64_t{0});
    r.hosts.host = j.value("host", "");
    if (j.contains("worker_hosts"))
      r.hosts.ranges = j["worker_hosts"].get<std::vector<std::pair<int, std::string>>>();
    if (j.contains("worker_devices"))
      r.hosts.devices = j["worker_devices"].get<std::vector<std::string>>();
    if (j.contains("paths") && j["paths"].is_object()) {
      for (const auto& [rank, by_key] : j["paths"].items())
        r.paths[std::stoi(rank)] = by_key.get<std::map<std::string, std::string>>();
    }
    if (j.contains("cpu_seconds") && j["cpu_seconds"].is_array()) {
      for (const nlohmann::json& s : j["cpu_seconds"])
        r.cpu_seconds.push_back(s.is_number() ? s.get<double>() : std::nan(""));
    }
    if (j.contains("lost_ranks") && j["lost_ranks"].is_array()) {
      for (const nlohmann::json& l : j["lost_ranks"])
        r.lost_ranks.push_back(
            {l.value("rank", 0), l.value("host", ""), l.value("last_heard", 0.0)});
    }
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return r;
}

std::string EncodeJournalFrame(const JournalRecord& r) {
  const bool done = r.type == "done";
  const std::string payload = done ? DonePayload(r) : FittedJson(r);
  std::string frame;
  frame.reserve(kFrameHead + payload.size() + kFrameCheck);
  frame.push_back(char(kMagic));
  frame.push_back(done ? 'D' : 'J');
  PutLe(&frame, payload.size(), 2);
  frame += payload;
  PutLe(&frame, XXH32(frame.data(), frame.size(), 0), 4);
  return frame;
}

// --- reading ------------------------------------------------------------------------------------

JournalReader::JournalReader(std::string path, size_t buffer_bytes)
    : path_(std::move(path)), buffer_bytes_(std::max<size_t>(buffer_bytes, 64)) {
  ReadHeader();
}

// Opens the journal, refusing another file than the one read so far: a journal of an earlier
// version is replaced when it is rewritten (Journal::OpenForAppend), and its offsets mean nothing
// in the new.
int JournalReader::OpenSameFile() {
  const int fd = OpenToRead(path_);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    ThrowIo("stat", path_);
  }
  const std::pair<uint64_t, uint64_t> id(st.st_dev, st.st_ino);
  if (file_id_ && *file_id_ != id) {
    close(fd);
    throw Error("journal " + path_ +
                ": replaced while being read (rewritten by a resume); try again");
  }
  file_id_ = id;
  return fd;
}

// Makes n bytes from the cursor readable, fewer only at the end of the file; returns how many are.
size_t JournalReader::Ensure(size_t n) {
  const size_t have = buffer_.size() - cursor_;
  if (have >= n || eof_) return std::min(have, n);
  buffer_.erase(0, cursor_);
  base_ += cursor_;
  cursor_ = 0;
  const int fd = OpenSameFile();
  while (buffer_.size() < n && !eof_) {
    const size_t old = buffer_.size(), want = std::max(buffer_bytes_, n - old);
    buffer_.resize(old + want);
    const ssize_t got = pread(fd, &buffer_[old], want, off_t(base_ + old));
    buffer_.resize(old + size_t(std::max<ssize_t>(got, 0)));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      close(fd);
      ThrowIo("read", path_);
    }
    eof_ = got == 0;
  }
  close(fd);
  return std::min(buffer_.size(), n);
}

void JournalReader::ReadHeader() {
  const size_t have = Ensure(kMaxHeader);
  const char* start = buffer_.data();
  const char* newline = static_cast<const char*>(std::memchr(start, '\n', have));
  const bool last = eof_ && (!newline || size_t(newline - start) + 1 == have);
  nlohmann::json h;
  if (newline) h = nlohmann::json::parse(start, newline, nullptr, false);
  if (!newline || !h.is_object() || h["journal"] != "sweep") {
    if (last) {  // killed before (or while) writing its header
      truncated_ = true;
      cursor_ = buffer_.size();
      return;
    }
    // Most likely the output's own journal, overwritten: say how to go on without it.
    throw Error("journal " + path_ +
                    ": not a sweep journal (damaged or overwritten); move it aside (mv " + path_ +
                    " " + path_ +
                    ".damaged) and `sweep resume` goes on, verifying every done "
                    "chunk of the output against its checksum",
                ExitCode::kUsage);
  }
  const int version = h["version"].is_number_integer() ? h["version"].get<int>() : 0;
  if (version < kOldestJournalVersion || version > kJournalVersion) {
    throw Error(fmt::format("journal {}: version {}, but this sweep reads version {} (and the "
                            "older version {})",
                            path_, version, kJournalVersion, kOldestJournalVersion),
                ExitCode::kUsage);
  }
  version_ = version;
  cursor_ = size_t(newline - start) + 1;
  valid_bytes_ = Offset();
}

bool JournalReader::Next(JournalRecord* record) {
  if (version_ >= 2) return NextFramed(record);
  if (version_ == 1) return NextVersion1(record);
  return false;
}

// Versions 2 and 3: a frame at the cursor, checked and decoded; false (record untouched) if there
// is none.
bool JournalReader::DecodeFrame(JournalRecord* record, size_t* size) {
  if (Ensure(kFrameHead) < kFrameHead) return false;
  const char* p = buffer_.data() + cursor_;
  const char kind = p[1];
  const size_t length = GetLe(p + 2, 2);
  const size_t done_length = version_ == 2 ? kVersion2DonePayload : kDonePayload;
  if (uint8_t(p[0]) != kMagic || !(kind == 'J' || (kind == 'D' && length == done_length)))
    return false;
  const size_t total = kFrameHead + length + kFrameCheck;
  if (Ensure(total) < total) return false;
  p = buffer_.data() + cursor_;
  if (XXH32(p, total - kFrameCheck, 0) != GetLe(p + total - kFrameCheck, 4)) return false;
  if (kind == 'D') {
    DecodeDone(p + kFrameHead, length, record);
  } else {
    std::optional<JournalRecord> r = DecodeJournalRecord(std::string(p + kFrameHead, length));
    if (!r) return false;
    *record = std::move(*r);
  }
  *size = total;
  return true;
}

// Moves the cursor past the byte it is on, to the next magic byte (or the end).
void JournalReader::SkipToNextMagic() {
  ++cursor_;
  while (Ensure(1) > 0) {
    const char* start = buffer_.data() + cursor_;
    const void* magic = std::memchr(start, kMagic, buffer_.size() - cursor_);
    if (magic) {
      cursor_ += size_t(static_cast<const char*>(magic) - start);
      return;
    }
    cursor_ = buffer_.size();
  }
}

bool JournalReader::NextFramed(JournalRecord* record) {
  for (;;) {
    size_t size = 0;
    if (DecodeFrame(record, &size)) {
      damaged_records_ += skipping_;  // the stretch skipped to get here
      skipping_ = false;
      cursor_ += size;
      valid_bytes_ = Offset();
      return true;
    }
    if (Ensure(1) == 0) {  // the end: a stretch skipped up to here is the partial last record
      truncated_ = skipping_;
      return false;
    }
    skipping_ = true;
    SkipToNextMagic();
  }
}

// Version 1: the length of the line at the cursor with its '\n'; 0 if no whole line is left.
size_t JournalReader::LineLength() {
  size_t scanned = 0;
  for (;;) {
    const size_t have = buffer_.size() - cursor_;
    const char* start = buffer_.data() + cursor_;
    if (const void* newline = std::memchr(start + scanned, '\n', have - scanned))
      return size_t(static_cast<const char*>(newline) - start) + 1;
    if (eof_) return 0;
    scanned = have;
    Ensure(have + buffer_bytes_);
  }
}

bool JournalReader::NextVersion1(JournalRecord* record) {
  for (;;) {
    const size_t length = LineLength();
    if (length == 0) {  // the last line, if bad or cut, is the partial last record
      const bool cut = buffer_.size() > cursor_;
      truncated_ = cut || skipped_lines_ > 0;
      damaged_records_ += cut ? skipped_lines_ : std::max<uint64_t>(skipped_lines_, 1) - 1;
      skipped_lines_ = 0;
      return false;
    }
    std::optional<JournalRecord> r = DecodeJournalRecord(buffer_.substr(cursor_, length - 1));
    cursor_ += length;
    if (!r) {
      ++skipped_lines_;
      continue;
    }
    damaged_records_ += skipped_lines_;
    skipped_lines_ = 0;
    valid_bytes_ = Offset();
    *record = std::move(*r);
    return true;
  }
}

MergedJournals::MergedJournals(const std::vector<std::string>& paths) {
  // 16 MiB of buffers at most, however many shards wrote journals.
  const size_t buffer =
      std::clamp<size_t>((size_t(16) << 20) / std::max<size_t>(paths.size(), 1), 4096, 1 << 16);
  readers_.reserve(paths.size());
  for (const std::string& path : paths) readers_.emplace_back(path, buffer);
  heads_.resize(readers_.size());
  for (size_t i = 0; i < readers_.size(); ++i) Advance(i);
}

void MergedJournals::Advance(size_t i) {
  if (!readers_[i].Next(&heads_[i])) return;
  const double time = heads_[i].time;
  queue_.push({std::isnan(time) ? 0.0 : time, i});  // a NaN would break the heap's order
}

bool MergedJournals::Next(JournalRecord* record, size_t* journal) {
  if (queue_.empty()) return false;
  const size_t i = queue_.top().second;
  queue_.pop();
  if (journal) *journal = i;
  *record = std::move(heads_[i]);
  Advance(i);
  return true;
}

// --- writing ------------------------------------------------------------------------------------

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

JournalContents Journal::Read(const std::string& path) {
  JournalReader reader(path);
  JournalContents contents;
  JournalRecord record;
  while (reader.Next(&record)) contents.records.push_back(std::move(record));
  contents.truncated = reader.truncated();
  contents.damaged_records = reader.damaged_records();
  contents.valid_bytes = reader.valid_bytes();
  contents.version = reader.version();
  return contents;
}

Journal Journal::Create(const std::string& path) {
  const int fd =
      open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) ThrowIo("create", path);
  Journal journal(path, fd);
  WriteBytes(fd, kHeader + '\n', path);
  journal.dirty_ = true;  // synced with the first batch of records
  return journal;
}

namespace {

// `.NAME.rewrite` beside `path`: a name JournalsOf() never lists.
std::string RewritePath(const std::string& path) {
  const size_t slash = path.rfind('/');
  const size_t name = slash == std::string::npos ? 0 : slash + 1;
  return path.substr(0, name) + "." + path.substr(name) + ".rewrite";
}

void SyncFolderOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  const int fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) ThrowIo("open folder", path);
  const int synced = fsync(fd);
  close(fd);
  if (synced != 0) ThrowIo("sync folder", path);
}

// Rewrites a journal in the current version, its whole records kept: into a file beside it,
// synced, renamed over it (atomic), the folder synced (so the appends that follow land in the
// file a crash keeps).
void RewriteInCurrentVersion(const std::string& path) {
  const std::string temp = RewritePath(path);
  unlink(temp.c_str());  // left by a kill during an earlier rewrite
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) ThrowIo("create", temp);
  try {
    JournalReader reader(path);
    JournalRecord record;
    std::string bytes = kHeader + '\n';
    while (reader.Next(&record)) {
      bytes += EncodeJournalFrame(record);
      if (bytes.size() < (1 << 20)) continue;
      WriteBytes(fd, bytes, temp);
      bytes.clear();
    }
    WriteBytes(fd, bytes, temp);
    if (fdatasync(fd) != 0) ThrowIo("sync", temp);
    if (rename(temp.c_str(), path.c_str()) != 0) ThrowIo("rename", temp);
  } catch (...) {
    close(fd);
    unlink(temp.c_str());
    throw;
  }
  close(fd);
  SyncFolderOf(path);
}

}  // namespace

Journal Journal::OpenForAppend(const std::string& path) {
  JournalReader scan(path);  // its header tells the version
  const bool rewritten = scan.version() != 0 && scan.version() != kJournalVersion;
  if (rewritten) {
    RewriteInCurrentVersion(path);
  } else {
    JournalRecord record;
    while (scan.Next(&record)) {
    }
  }
  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) ThrowIo("open", path);
  if (!rewritten && scan.truncated() && ftruncate(fd, off_t(scan.valid_bytes())) != 0) {
    close(fd);
    ThrowIo("truncate", path);
  }
  Journal journal(path, fd);
  if (!rewritten && scan.valid_bytes() == 0) WriteBytes(fd, kHeader + '\n', path);
  return journal;
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
  AppendRecords(fd_, EncodeJournalFrame(record), path_);
  dirty_ = true;
}

void Journal::Append(const std::vector<JournalRecord>& records) {
  if (records.empty()) return;
  std::string bytes;
  for (const JournalRecord& record : records) bytes += EncodeJournalFrame(record);
  AppendRecords(fd_, bytes, path_);
  dirty_ = true;
}

void Journal::Sync() {
  if (!dirty_ || fd_ < 0) return;
  fdatasync(fd_);
  dirty_ = false;
}

}  // namespace sweep
