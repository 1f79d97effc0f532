// OutputLock: keeps runs that would conflict from writing one output (DESIGN.md "Output file").
//
// A flock(2) on `OUT.h5.lock`, held for the life of the object. flock locks die with their
// process, so a killed run never leaves a stale lock; the file itself stays (removing it would
// race with a run that just opened it).
//   - kExclusive: `run`, `resume`, `rerun`. The holder's pid is written into the file so a loser
//     can name it.
//   - kShared: `run --shard I/N`. Shards of one sweep write disjoint chunks and hold the lock
//     together; each also holds `OUT.h5.lock.shard-I` exclusively, so one shard cannot run twice.
//     A shard takes the lock exclusively first (waiting for other shards, at most `wait_seconds`)
//     to create the output if it is missing, then Downgrade()s to shared.
#pragma once

#include <string>

namespace sweep {

class OutputLock {
 public:
  enum class Mode { kExclusive, kShared };

  // Exclusive, not waiting. THROWS: Error with ExitCode::kLocked ("... is in use by another
  // sweep (pid N)") when another process holds the lock; Error (exit code 1) when the lock file
  // cannot be created.
  explicit OutputLock(const std::string& output_path);
  // `mode` waiting up to wait_seconds for conflicting holders. THROWS as above.
  OutputLock(const std::string& output_path, Mode mode, double wait_seconds);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  // Exclusive -> shared, letting the other shards in. flock converts by releasing and re-taking,
  // so another shard may get the lock in between (harmless); if a plain run got it instead, this
  // THROWS Error with ExitCode::kLocked.
  void Downgrade();

  static std::string LockPath(const std::string& output_path) { return output_path + ".lock"; }

 private:
  std::string output_path_;
  int fd_ = -1;
};

}  // namespace sweep
