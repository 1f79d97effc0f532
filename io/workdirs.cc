#include "io/workdirs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

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

}  // namespace

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
