// OutputLock: keeps runs that would conflict from writing one output (DESIGN.md "Output file").
//
// A flock(2) on a lock file beside the output, `OUT.h5.lock` (LockPath), held for the life of the
// object. flock locks die with their process, so a killed run never leaves a stale lock; the file
// itself stays, but for a run refused after making it (RemoveFile): a taker checks, once it has
// the lock, that the file it locked is still the one at the path, else opens it again.
//   - kExclusive: `run`, `resume`, `rerun`: no other run and no shard at the same time.
//   - kShared: `run --shard I/N`. Shards of one sweep write disjoint chunks and hold the lock
//     together, all at once; a plain run waiting for them, or they for it, is refused.
// Shards also take two more locks, by name (driver/run_prepare.cc): each its own
// `OUT.h5.shard-I-of-N.lock` exclusively (one shard cannot run twice, and `status` sees which are
// live), and the one that finds the output missing `OUT.h5.create.lock` exclusively while it
// creates it (the others wait on it, bounded, then find the file complete).
//
// An exclusive holder writes `<pid> <host>` into its lock file (a shared holder empties the
// shared file), so a refused run and `sweep status` can name it.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace sweep {

// Who holds a lock, as its lock file says.
struct LockHolder {
  long pid = 0;      // 0 when the file does not say (a shared holder)
  std::string host;  // empty when the file does not say
};

class OutputLock {
 public:
  enum class Mode { kExclusive, kShared };

  // Exclusive, not waiting. THROWS: Error with ExitCode::kLocked ("... is in use by another
  // sweep (pid N on HOST)", or for shards "... is in use by the shards of a sweep (shard 0/4:
  // pid N on HOST; ...)", from their shard locks) when another process holds the lock; Error
  // (exit code 1) when the lock file cannot be created.
  explicit OutputLock(const std::string& output_path);
  // `mode` waiting up to wait_seconds for conflicting holders. THROWS as above.
  OutputLock(const std::string& output_path, Mode mode, double wait_seconds);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  static std::string LockPath(const std::string& output_path) { return output_path + ".lock"; }

  // Removes the lock file, then releases the lock: for a run refused after it made the file, so
  // that a refusal leaves nothing. REQUIRES: held exclusively (a process that opened the old file
  // meanwhile finds, once it has the lock, that the path names another file, and opens again).
  void RemoveFile();

 private:
  // Takes the flock on fd_ with `operation`, trying until `give_up`. THROWS: as the constructor;
  // fd_ is closed then.
  void Lock(const std::string& output_path, int operation,
            std::chrono::steady_clock::time_point give_up);

  std::string output_path_;
  int fd_ = -1;
};

// InodeLock: the same exclusion on the output file itself, so every name of it is locked: a
// `resume` through a symlink or a hard link to a live output finds it locked, where its own
// `<name>.lock` would be free. It is an open-file-description lock (fcntl F_OFD_SETLK) on one
// byte far past the file's end, not a flock: HDF5 flocks the file when it opens it (readers such
// as h5py and xarray take a shared flock), and on Linux the two kinds never conflict, so live
// readers open the file as before; an OFD lock, unlike a classic fcntl lock, is not dropped when
// this process closes another descriptor of the file (as HDF5 does).
class InodeLock {
 public:
  // Locks the file at `output_path` (following symlinks: the file is what is locked).
  // THROWS: Error with ExitCode::kLocked when a conflicting holder has it under any name; Error
  // when the file cannot be opened or locked.
  InodeLock(const std::string& output_path, OutputLock::Mode mode);
  ~InodeLock();
  InodeLock(const InodeLock&) = delete;
  InodeLock& operator=(const InodeLock&) = delete;

 private:
  int fd_ = -1;
};

// Whether someone holds the lock of `output_path` (in either mode), without taking it: the holder
// as its lock file names it, or nullopt when the lock is free or its file does not exist.
std::optional<LockHolder> ProbeLock(const std::string& output_path);

// This machine's host name ("?" if it has none).
std::string HostName();

}  // namespace sweep
