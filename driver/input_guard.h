// InputGuard: holds a run to the input bytes it started with.
//
// Every input is hashed by content (XXH3-64 of the array's bytes, as the kernel sees them) when the
// run starts; those hashes go into the run's fingerprint (driver/fingerprint.h), so `sweep resume`
// compares content, not size and modification time: `touch` or a copy with the same bytes is no
// change, and a change that restores size and mtime is one.
//
// Inputs copied into sealed memfds at publication (raw files, chunked or compressed HDF5,
// generated arrays; io/inputs.h) cannot change under a run. Inputs mapped straight from their
// files (npy, contiguous HDF5) can, so for those the guard also:
//   - watches them with inotify from before the start hash: a write to the file (IN_MODIFY, which
//     truncation also raises) and a rename or removal of its name (the directory's events for that
//     name, and IN_MOVE_SELF on the file) are changes. Changed() reads the events; it costs one
//     read(2), so the run asks it before recording every chunk done and on every tick;
//   - hashes them again when the run ends (ChangedContent()): writes through a shared mapping of
//     the file (numpy's mmap_mode="r+") raise no inotify event, and only the bytes tell.
// When inotify cannot be had (its limits reached), the guard says so once on stderr and the end
// hash is the only check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/inputs.h"

namespace sweep {

class InputGuard {
 public:
  // `published` and `mapped` list the same inputs in the same order (Config::inputs order).
  // Starts the watches, then hashes every input through `mapped`, which must outlive the guard.
  InputGuard(const std::vector<PublishedInput>& published, const MappedInputs& mapped);
  InputGuard(const InputGuard&) = delete;
  InputGuard& operator=(const InputGuard&) = delete;
  ~InputGuard();

  // Whether any input is mapped from a file (and so can change under the run).
  bool watches_files() const { return !watched_.empty(); }

  // XXH3-64 of each input's bytes at the start, in input order.
  const std::vector<uint64_t>& start_hashes() const { return start_hashes_; }

  // What changed in the watched inputs since the start, as one sentence naming the input and its
  // file ("input `field` (/data/field.npy) was written to"); "" when nothing did. Once it has
  // reported a change it reports it again on every call.
  const std::string& Changed();

  // Hashes the inputs mapped from files again: the inputs whose bytes differ from the start, as
  // one sentence; "" when none does. Reads every such input whole.
  std::string ChangedContent() const;

 private:
  struct Watched {
    size_t input = 0;       // index into the inputs
    std::string name;       // the input's name in the config
    std::string path;       // its file
    std::string leaf;       // the file's name in its folder
    int file_watch = -1;    // inotify watch descriptor of the file
    int folder_watch = -1;  // of its folder (shared by the inputs of one folder)
  };
  void Watch(size_t input, const PublishedInput& published);
  void Describe(const Watched& input, const std::string& what);

  const MappedInputs& mapped_;
  std::vector<uint64_t> start_hashes_;
  std::vector<Watched> watched_;
  int inotify_fd_ = -1;
  std::string change_;
};

// XXH3-64 of an array's bytes (0 bytes: the hash of nothing).
uint64_t ContentHash(const sweep_array& array);

}  // namespace sweep
