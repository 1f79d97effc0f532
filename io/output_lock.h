// OutputLock: keeps two runs from writing one output (DESIGN.md "Output file").
//
// An exclusive flock(2) on `OUT.h5.lock`, held for the life of the object, with the holder's
// pid written into the file so the loser can name it. flock locks die with their process, so a
// killed run never leaves a stale lock; the file itself stays (removing it would race with a
// run that just opened it).
#pragma once

#include <string>

namespace sweep {

class OutputLock {
 public:
  // THROWS: Error with ExitCode::kLocked ("... is in use by pid N") when another process holds
  // the lock; Error (exit code 1) when the lock file cannot be created.
  explicit OutputLock(const std::string& output_path);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

  static std::string LockPath(const std::string& output_path) { return output_path + ".lock"; }

 private:
  int fd_ = -1;
};

}  // namespace sweep
