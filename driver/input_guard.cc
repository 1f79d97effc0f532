#include "driver/input_guard.h"

#include <sys/inotify.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "driver/xxh3.h"
#include "kernels/dtype.h"

namespace sweep {

uint64_t ContentHash(const sweep_array& array) {
  uint64_t bytes = DtypeSize(array.dtype);
  for (int d = 0; d < array.rank; ++d) bytes *= uint64_t(array.shape[d]);
  if (!array.data || bytes == 0) return XXH3_64bits(nullptr, 0);
  return Xxh3(array.data, size_t(bytes));
}

InputGuard::InputGuard(const std::vector<PublishedInput>& published, const MappedInputs& mapped)
    : mapped_(mapped) {
  // The watches come first, so that a change made while the inputs are hashed is seen by one or
  // the other.
  for (size_t i = 0; i < published.size(); ++i) {
    if (!published[i].memfd && !published[i].path.empty()) Watch(i, published[i]);
  }
  for (const sweep_array& view : mapped_.views()) start_hashes_.push_back(ContentHash(view));
}

InputGuard::~InputGuard() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

void InputGuard::Watch(size_t input, const PublishedInput& published) {
  Watched w;
  w.input = input;
  w.name = published.name;
  w.path = published.path;
  const std::filesystem::path path(published.path);
  w.leaf = path.filename().string();
  if (inotify_fd_ < 0) {
    inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (inotify_fd_ < 0) {
      std::fprintf(stderr,
                   "sweep: warning: cannot watch the inputs (inotify: %s); a change to one "
                   "while the run reads it is found only when the run ends\n",
                   std::strerror(errno));
      inotify_fd_ = -2;  // tried, and failed: do not try again
    }
  }
  if (inotify_fd_ >= 0) {
    w.file_watch = inotify_add_watch(inotify_fd_, published.path.c_str(), IN_MODIFY | IN_MOVE_SELF);
    // The folder says when another file takes the input's name (`mv new.npy data.npy`): the
    // mapped file is then unchanged, but workers started later would map the new one.
    w.folder_watch = inotify_add_watch(inotify_fd_, path.parent_path().c_str(),
                                       IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
    if (w.file_watch < 0 || w.folder_watch < 0) {
      std::fprintf(stderr,
                   "sweep: warning: cannot watch input `%s` (%s: %s); a change to it while the "
                   "run reads it is found only when the run ends\n",
                   w.name.c_str(), published.path.c_str(), std::strerror(errno));
    }
  }
  watched_.push_back(std::move(w));
}

void InputGuard::Describe(const Watched& input, const std::string& what) {
  if (change_.empty()) change_ = "input `" + input.name + "` (" + input.path + ") " + what;
}

const std::string& InputGuard::Changed() {
  if (inotify_fd_ < 0 || !change_.empty()) return change_;
  alignas(inotify_event) char buffer[16 * (sizeof(inotify_event) + NAME_MAX + 1)];
  for (;;) {
    const ssize_t n = read(inotify_fd_, buffer, sizeof buffer);
    if (n <= 0) break;  // EAGAIN: no event pending
    for (ssize_t offset = 0; offset < n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(buffer + offset);
      offset += ssize_t(sizeof(inotify_event) + event->len);
      if (event->mask & IN_Q_OVERFLOW) {
        // Events were dropped: only the bytes can tell now.
        const std::string content = ChangedContent();
        if (!content.empty() && change_.empty()) change_ = content;
        continue;
      }
      for (const Watched& w : watched_) {
        if (event->wd == w.file_watch) {
          if (event->mask & IN_MODIFY) Describe(w, "was written to while the run read it");
          if (event->mask & IN_MOVE_SELF) Describe(w, "was moved or renamed while the run read it");
        } else if (event->wd == w.folder_watch && event->len > 0 && w.leaf == event->name &&
                   (event->mask & (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE))) {
          Describe(w, "was replaced or removed while the run read it");
        }
      }
    }
  }
  return change_;
}

std::string InputGuard::ChangedContent() const {
  std::string changed;
  for (const Watched& w : watched_) {
    const uint64_t now = ContentHash(mapped_.views()[w.input]);
    if (now == start_hashes_[w.input]) continue;
    changed += std::string(changed.empty() ? "" : "; ") + "input `" + w.name + "` (" + w.path +
               ") holds other bytes than when the run started";
  }
  return changed;
}

}  // namespace sweep
