#include "io/workdirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "io/clock.h"
#include "io/error.h"
#include "io/file_bytes.h"

namespace sweep {
namespace {

constexpr int kMaxDepth = 256;
constexpr int kDirectoryFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

[[noreturn]] void Fail(const std::string& what, int error) {
  throw Error(what + ": " + std::strerror(error));
}

// The parts of a relative name; throws on a part that could lead elsewhere.
std::vector<std::string> Parts(const std::string& name) {
  std::vector<std::string> parts;
  for (size_t begin = 0; begin <= name.size();) {
    size_t end = name.find('/', begin);
    if (end == std::string::npos) end = name.size();
    parts.push_back(name.substr(begin, end - begin));
    const std::string& part = parts.back();
    if (part.empty() || part == "." || part == "..")
      throw Error(name + ": not a plain relative name (an empty, `.` or `..` part)");
    begin = end + 1;
  }
  return parts;
}

// The folder holding the last part of `name` under `dir` (made when `make`), and that part.
// Returns an invalid descriptor when a folder on the way is missing and not `make`.
ScopedFd OpenParent(int dir, const std::string& name, bool make, std::string* leaf) {
  std::vector<std::string> parts = Parts(name);
  *leaf = parts.back();
  parts.pop_back();
  ScopedFd at(fcntl(dir, F_DUPFD_CLOEXEC, 0));
  if (!at.valid()) Fail(name + ": fcntl", errno);
  for (const std::string& part : parts) {
    if (make && mkdirat(at.get(), part.c_str(), 0777) != 0 && errno != EEXIST)
      Fail(name + ": mkdir " + part, errno);
    ScopedFd next(openat(at.get(), part.c_str(), kDirectoryFlags));
    if (!next.valid()) {
      if (errno == ENOENT && !make) return ScopedFd();
      Fail(name + ": " + part + (errno == ELOOP || errno == ENOTDIR ? " is not a folder" : ""),
           errno);
    }
    at = std::move(next);
  }
  return at;
}

void RemoveBelow(int dir, const std::string& name, const std::string& path, int depth) {
  if (unlinkat(dir, name.c_str(), 0) == 0 || errno == ENOENT) return;
  // Linux says EISDIR for a folder, POSIX allows EPERM, which may also be a real refusal.
  const int unlink_error = errno;
  if (unlink_error != EISDIR && unlink_error != EPERM) Fail("remove " + path, unlink_error);
  if (depth >= kMaxDepth) throw Error("remove " + path + ": folders nested deeper than 256");
  ScopedFd fd(openat(dir, name.c_str(), kDirectoryFlags));
  if (!fd.valid()) {
    if (errno == ENOENT) return;
    Fail("remove " + path, errno == ENOTDIR || errno == ELOOP ? unlink_error : errno);
  }
  struct stat st {};
  // Entries of a folder the program made read-only cannot be removed until it is writable.
  if (fstat(fd.get(), &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU)
    fchmod(fd.get(), st.st_mode | S_IRWXU);
  std::vector<std::string> entries;
  {
    // fdopendir takes the descriptor it is given: hand it a copy, keep ours for unlinkat.
    DIR* listing = fdopendir(fcntl(fd.get(), F_DUPFD_CLOEXEC, 0));
    if (!listing) Fail("remove " + path, errno);
    errno = 0;
    while (dirent* e = readdir(listing)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        entries.emplace_back(e->d_name);
    }
    const int error = errno;
    closedir(listing);
    if (error != 0) Fail("remove " + path, error);
  }
  for (const std::string& entry : entries)
    RemoveBelow(fd.get(), entry, path + "/" + entry, depth + 1);
  if (unlinkat(dir, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
    Fail("remove " + path, errno);
}

// ---- Claims on a named root ----

// What a root's marker says.
struct Marker {
  std::string output;  // "" when it names none (empty: its maker died before writing it)
  long pid = 0;        // of its exclusive holder; 0 when a shard holds it, or none
  std::string host;
};

Marker ReadMarker(int fd) {
  char text[8192];
  const ssize_t n = pread(fd, text, sizeof text, 0);
  Marker marker;
  if (n <= 0) return marker;
  const nlohmann::json j = nlohmann::json::parse(text, text + n, nullptr, false);
  if (!j.is_object()) return marker;
  if (j.contains("output") && j["output"].is_string()) marker.output = j["output"];
  if (j.contains("pid") && j["pid"].is_number_integer()) marker.pid = j["pid"];
  if (j.contains("host") && j["host"].is_string()) marker.host = j["host"];
  return marker;
}

bool SameOutput(const std::string& a, const std::string& b) {
  return !a.empty() &&
         std::filesystem::path(a).lexically_normal() == std::filesystem::path(b).lexically_normal();
}

// The entries of `root` named `point-<digits>`, by name: what sweep's work directories are called.
std::vector<std::string> PointEntries(const std::string& root) {
  std::vector<std::string> points;
  DIR* listing = opendir(root.c_str());
  if (!listing) return points;
  while (dirent* e = readdir(listing)) {
    const char* name = e->d_name;
    if (std::strncmp(name, "point-", 6) == 0 && name[6] != '\0' &&
        std::strspn(name + 6, "0123456789") == std::strlen(name + 6))
      points.emplace_back(name);
  }
  closedir(listing);
  std::sort(points.begin(), points.end());
  return points;
}

std::string RootName(const std::string& root) { return root + " (kernel.workdir.root)"; }

[[noreturn]] void ThrowInUse(const std::string& root, const Marker& holder) {
  std::string by = "another sweep";
  if (!holder.output.empty()) by = "the sweep writing " + holder.output;
  if (holder.pid > 0) {
    by += " (pid " + std::to_string(holder.pid) +
          (holder.host.empty() ? "" : " on " + holder.host) + ")";
  } else if (!holder.output.empty()) {
    by += " (its shards)";
  }
  throw Error(RootName(root) + " is in use by " + by +
                  "; a work root holds one output's work directories at a time: name another "
                  "root",
              ExitCode::kLocked);
}

// Whether `output` may put its work directories in `root`, whose marker names `marker` (nullopt:
// none, or none readable) and no live sweep holds. THROWS: Error (exit code 2) when not.
void Judge(const std::string& root, const std::string& output,
           const std::optional<Marker>& marker) {
  if (marker && SameOutput(marker->output, output)) return;
  const std::vector<std::string> points = PointEntries(root);
  if (points.empty()) return;
  const std::string more =
      points.size() > 1 ? " and " + std::to_string(points.size() - 1) + " more" : "";
  if (!marker || marker->output.empty()) {
    struct stat st {};
    const std::string path = root + "/" + points[0];
    const bool folder = lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    throw Error(path + ": sweep did not make this " + (folder ? "folder" : "file") +
                    ", and point " + points[0].substr(6) + "'s work directory would replace it" +
                    (points.size() > 1 ? " (" + std::to_string(points.size() - 1) +
                                             " more named like a point's in the root)"
                                       : "") +
                    "; sweep removes only what it made in a work root of yours "
                    "(kernel.workdir.root): move them, or name another root",
                ExitCode::kUsage);
  }
  struct stat st {};
  if (stat(marker->output.c_str(), &st) != 0) return;  // their output is gone: they are no one's
  throw Error(RootName(root) + " holds work directories of " + marker->output + " (" + points[0] +
                  more + "), kept by its runs: name another root, or remove them once " +
                  marker->output + " needs them no more",
              ExitCode::kUsage);
}

// A sweep that finds a root's lock taken by a probe (Check) waits this long for it.
constexpr double kClaimGraceSeconds = 0.5;

}  // namespace

void WorkdirRootClaim::Check(const std::string& root, const std::string& output) {
  struct stat st {};
  if (stat(root.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    Fail(RootName(root), errno);
  }
  if (!S_ISDIR(st.st_mode)) throw Error(RootName(root) + ": is not a folder", ExitCode::kUsage);
  const std::string path = root + "/" + kMarker;
  const ScopedFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return Judge(root, output, std::nullopt);
    if (errno == ELOOP)
      throw Error(path + ": is a symbolic link, which sweep does not follow", ExitCode::kUsage);
    Fail(path, errno);
  }
  const Marker marker = ReadMarker(fd.get());
  if (SameOutput(marker.output, output)) return;
  // A probe: held by anyone, in either mode, means a live sweep; released as fd closes.
  if (flock(fd.get(), LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) ThrowInUse(root, marker);
  Judge(root, output, marker);
}

WorkdirRootClaim::WorkdirRootClaim(const std::string& root, const std::string& output,
                                   OutputLock::Mode mode) {
  std::error_code ec;
  std::filesystem::create_directories(root, ec);
  if (ec) throw Error("cannot create " + RootName(root) + ": " + ec.message());
  const std::string path = root + "/" + kMarker;
  bool created = true;
  fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0 && errno == EEXIST) {
    created = false;
    fd_ = open(path.c_str(), O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  }
  if (fd_ < 0) Fail("cannot open " + path, errno);
  try {
    struct stat st {};
    if (fstat(fd_, &st) != 0) Fail(path, errno);
    if (!S_ISREG(st.st_mode)) throw Error(path + ": is not a regular file", ExitCode::kUsage);
    const double give_up = SteadySeconds() + kClaimGraceSeconds;
    for (;;) {
      if (flock(fd_, LOCK_EX | LOCK_NB) == 0) {
        const Marker marker = ReadMarker(fd_);
        Judge(root, output, marker.output.empty() ? std::nullopt : std::optional<Marker>(marker));
        nlohmann::json text = {{"output", output}};
        if (mode == OutputLock::Mode::kExclusive) {
          text["pid"] = long(getpid());
          text["host"] = HostName();
        }
        const std::string bytes = text.dump() + "\n";
        if (ftruncate(fd_, 0) != 0) Fail("write " + path, errno);
        WriteBytesAt(fd_, bytes.data(), bytes.size(), 0, "write " + path);
        if (mode == OutputLock::Mode::kExclusive) return;
        // The other shards of the output join in; another sweep may have slipped in while the
        // lock changed mode, and then holds it.
        while (flock(fd_, LOCK_SH) != 0 && errno == EINTR) {
        }
        const Marker now = ReadMarker(fd_);
        if (!SameOutput(now.output, output)) ThrowInUse(root, now);
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) Fail("cannot lock " + path, errno);
      if (mode == OutputLock::Mode::kShared && flock(fd_, LOCK_SH | LOCK_NB) == 0) {
        const Marker marker = ReadMarker(fd_);
        if (SameOutput(marker.output, output)) return;  // a shard of the same output holds it
        ThrowInUse(root, marker);
      }
      if (SteadySeconds() >= give_up) ThrowInUse(root, ReadMarker(fd_));
      usleep(20'000);
    }
  } catch (...) {
    // A marker made just now for a root refused stays no one's: it goes, and the root is left
    // as it was found but for the folders on its way.
    if (created) unlink(path.c_str());
    close(fd_);
    fd_ = -1;
    throw;
  }
}

WorkdirRootClaim::~WorkdirRootClaim() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

Workdirs::Workdirs(std::string root, bool follow_root_link, std::string prefix)
    : root_(std::move(root)), follow_root_link_(follow_root_link), prefix_(std::move(prefix)) {}

std::string Workdirs::NameOf(uint64_t point) { return "point-" + std::to_string(point); }

std::string Workdirs::Name(uint64_t point) const { return prefix_ + std::to_string(point); }

std::string Workdirs::PathOf(uint64_t point) const { return root_ + "/" + Name(point); }

ScopedFd Workdirs::OpenRoot() const {
  // The root's own name is made with mkdir, which never follows a link; its parents may be.
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(root_).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) throw Error("cannot create " + parent.string() + ": " + ec.message());
  if (mkdir(root_.c_str(), 0777) != 0 && errno != EEXIST) Fail("cannot create " + root_, errno);
  ScopedFd fd(open(root_.c_str(), kDirectoryFlags & ~(follow_root_link_ ? O_NOFOLLOW : 0)));
  if (!fd.valid()) {
    struct stat st {};
    if (!follow_root_link_ && lstat(root_.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
      throw Error(root_ + ": is a symbolic link; sweep does not follow links beside its output");
    Fail(root_, errno);
  }
  return fd;
}

ScopedFd Workdirs::MakeFresh(uint64_t point) const {
  const std::string name = Name(point);
  // Another process may remove the root when it finds it empty (RemoveRootIfEmpty) between our
  // opening it and making the point's folder in it: then the root is made again.
  for (int attempt = 1;; ++attempt) {
    const ScopedFd root = OpenRoot();
    RemoveBelow(root.get(), name, PathOf(point), 0);
    if (mkdirat(root.get(), name.c_str(), 0777) != 0) {
      if (errno == ENOENT && attempt < 3) continue;
      Fail("cannot create " + PathOf(point), errno);
    }
    ScopedFd fd(openat(root.get(), name.c_str(), kDirectoryFlags));
    if (!fd.valid()) Fail(PathOf(point), errno);
    return fd;
  }
}

void Workdirs::Remove(uint64_t point) const {
  ScopedFd root(open(root_.c_str(), kDirectoryFlags & ~(follow_root_link_ ? O_NOFOLLOW : 0)));
  if (!root.valid()) {
    if (errno == ENOENT) return;
    Fail(root_, errno);
  }
  RemoveBelow(root.get(), Name(point), PathOf(point), 0);
}

void Workdirs::RemoveRootIfEmpty() const { rmdir(root_.c_str()); }

void WriteFileBelow(int dir, const std::string& name, const std::string& bytes, mode_t mode) {
  std::string leaf;
  const ScopedFd parent = OpenParent(dir, name, true, &leaf);
  ScopedFd fd(openat(parent.get(), leaf.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) Fail("write " + name, errno);
  WriteBytesAt(fd.get(), bytes.data(), bytes.size(), 0, "write " + name);
}

std::optional<std::string> ReadFileBelow(int dir, const std::string& name, size_t max_bytes) {
  std::string leaf;
  const ScopedFd parent = OpenParent(dir, name, false, &leaf);
  if (!parent.valid()) return std::nullopt;
  // O_NONBLOCK: a FIFO left under that name must not block the read.
  ScopedFd fd(openat(parent.get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::nullopt;
    if (errno == ELOOP) throw Error(name + ": is a symbolic link, which sweep does not follow");
    Fail(name, errno);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) Fail(name, errno);
  if (!S_ISREG(st.st_mode)) throw Error(name + ": is not a regular file");
  if (uint64_t(st.st_size) > max_bytes)
    throw Error(name + ": is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                std::to_string(max_bytes));
  std::string bytes(size_t(st.st_size), '\0');
  ReadBytesAt(fd.get(), bytes.data(), bytes.size(), 0, "read " + name);
  return bytes;
}

void RemoveTree(int dir, const std::string& name) { RemoveBelow(dir, name, name, 0); }

}  // namespace sweep
