#include "io/output_lock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>
#include <utility>

#include "io/error.h"

namespace sweep {
namespace {

LockHolder ReadHolder(int fd) {
  char text[320] = "";
  const ssize_t n = pread(fd, text, sizeof text - 1, 0);
  text[n > 0 ? n : 0] = '\0';
  LockHolder holder;
  char* end = nullptr;
  holder.pid = std::strtol(text, &end, 10);
  if (end && *end == ' ') {
    holder.host = end + 1;
    while (!holder.host.empty() && (holder.host.back() == '\n' || holder.host.back() == ' '))
      holder.host.pop_back();
  }
  return holder;
}

std::string Describe(const LockHolder& holder) {
  std::string text = "pid " + (holder.pid > 0 ? std::to_string(holder.pid) : std::string("?"));
  if (!holder.host.empty()) text += " on " + holder.host;
  return text;
}

// The live shards of `output_path`, from their own locks `<output>.shard-I-of-N.lock` (each held
// exclusively, so it names its holder): "shard 0/4: pid 12 on node1; shard 3/4: pid 40 on
// node2", in shard order; "" when none is live.
std::string DescribeShards(const std::string& output_path) {
  const size_t slash = output_path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : output_path.substr(0, slash + 1);
  const std::string prefix =
      output_path.substr(slash == std::string::npos ? 0 : slash + 1) + ".shard-";
  std::map<std::pair<unsigned long long, unsigned long long>, std::string> live;
  if (DIR* dir = opendir(folder.c_str())) {
    while (const dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      unsigned long long index = 0, count = 0;
      char end[8] = "";
      if (name.rfind(prefix, 0) != 0 ||
          std::sscanf(name.c_str() + prefix.size(), "%llu-of-%llu%7s", &index, &count, end) != 3 ||
          std::strcmp(end, ".lock") != 0)
        continue;
      const std::string shard =
          output_path + ".shard-" + std::to_string(index) + "-of-" + std::to_string(count);
      if (const std::optional<LockHolder> holder = ProbeLock(shard))
        live[{index, count}] = Describe(*holder);
    }
    closedir(dir);
  }
  std::string text;
  for (const auto& [shard, holder] : live) {
    text += (text.empty() ? "" : "; ") + std::string("shard ") + std::to_string(shard.first) + "/" +
            std::to_string(shard.second) + ": " + holder;
  }
  return text;
}

}  // namespace

std::string HostName() {
  char name[256] = "";
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "?";
  return name;
}

OutputLock::OutputLock(const std::string& output_path)
    : OutputLock(output_path, Mode::kExclusive, 0) {}

OutputLock::OutputLock(const std::string& output_path, Mode mode, double wait_seconds)
    : output_path_(output_path) {
  const std::string path = LockPath(output_path);
  const int operation = mode == Mode::kExclusive ? LOCK_EX : LOCK_SH;
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(wait_seconds));
  // A lock file is removed only by an exclusive holder (RemoveFile): one locked after that names
  // nothing, so it is opened again until the file locked is the one at the path.
  for (;;) {
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0) throw Error("cannot create lock " + path + ": " + std::strerror(errno));
    Lock(output_path, operation, give_up);
    struct stat held {
    }, named{};
    if (fstat(fd_, &held) == 0 && lstat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev)
      break;
    close(fd_);
  }
  // Exclusive: name this process. Shared: several hold the file, so none is named, and what an
  // earlier exclusive holder wrote must not be taken for one of them.
  const std::string me =
      mode == Mode::kExclusive ? std::to_string(getpid()) + " " + HostName() + "\n" : "";
  if (ftruncate(fd_, 0) != 0 ||
      (!me.empty() && pwrite(fd_, me.data(), me.size(), 0) != ssize_t(me.size()))) {
    // The lock holds without the record; only the message of a second run would lack it.
  }
}

void OutputLock::Lock(const std::string& output_path, int operation,
                      std::chrono::steady_clock::time_point give_up) {
  const std::string path = LockPath(output_path);
  while (flock(fd_, operation | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EINTR) continue;
    if (error == EWOULDBLOCK && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    const LockHolder holder = ReadHolder(fd_);
    close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) {
      // Shards hold the output's lock together and leave its file empty: name them from theirs.
      const std::string shards = holder.pid > 0 ? "" : DescribeShards(output_path);
      throw Error(output_path + " is in use by " +
                      (shards.empty() ? "another sweep (" + Describe(holder) + ")"
                                      : "the shards of a sweep (" + shards + ")"),
                  ExitCode::kLocked);
    }
    throw Error("cannot lock " + path + ": " + std::strerror(error));
  }
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) close(fd_);  // releases the flock
}

void OutputLock::RemoveFile() {
  if (fd_ < 0) return;
  unlink(LockPath(output_path_).c_str());
  close(fd_);
  fd_ = -1;
}

InodeLock::InodeLock(const std::string& output_path, OutputLock::Mode mode) {
  fd_ = open(output_path.c_str(), O_RDWR | O_CLOEXEC);  // a write lock needs a writable descriptor
  if (fd_ < 0) throw Error("cannot open " + output_path + ": " + std::strerror(errno));
  struct flock lock {};
  lock.l_type = mode == OutputLock::Mode::kExclusive ? F_WRLCK : F_RDLCK;
  lock.l_whence = SEEK_SET;
  lock.l_start = off_t{1} << 62;  // past any real file's end: no reader's range reaches it
  lock.l_len = 1;
  if (fcntl(fd_, F_OFD_SETLK, &lock) == 0) return;
  const int error = errno;
  close(fd_);
  fd_ = -1;
  if (error == EAGAIN || error == EACCES) {
    throw Error(output_path +
                    " is in use by another sweep (under another name: a symlink or a "
                    "hard link to the same file)",
                ExitCode::kLocked);
  }
  throw Error("cannot lock " + output_path + ": " + std::strerror(error));
}

InodeLock::~InodeLock() {
  if (fd_ >= 0) close(fd_);  // releases the lock: it belongs to this open file description
}

std::optional<LockHolder> ProbeLock(const std::string& output_path) {
  const std::string path = OutputLock::LockPath(output_path);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return std::nullopt;
  std::optional<LockHolder> holder;
  // Exclusive, so a shared holder counts too; a probe that wins releases at once.
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) holder = ReadHolder(fd);
  close(fd);
  return holder;
}

}  // namespace sweep
