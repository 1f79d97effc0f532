// Workdirs: the work directories of the command kernel's points (kernels/command.h), one per
// point under one root folder, named `point-<index>`: a deterministic name, so that a point run
// again (a retry, a resume, a rerun) finds its old directory and replaces it. The persistent
// kernel's programs (kernels/persistent.h) have theirs under another prefix, `program-<index>`,
// named after the first point each program served.
//
// Below the root, every operation goes through directory descriptors (openat, mkdirat,
// unlinkat) and never follows a symbolic link: a program that leaves a link to /data in its
// directory has the link removed, never /data, and a name from the config cannot lead out of the
// point's directory (the config refuses absolute names and `..` too; this is the second lock).
// The root is made with its parents when missing. The default root, beside the output, is never
// followed through a symbolic link either (like every file sweep keeps there); a root the config
// names may be one (a link to a scratch disk).
//
// Every function that throws throws Error naming the path and the failed call's errno text.
//
// A root the config names (`kernel.workdir.root`) may be a folder of the user's, and may be named
// by several sweeps' configs, so it is claimed before anything runs (WorkdirRootClaim): sweep
// removes only what it made, and a root holds the work directories of one output at a time.
//   - The marker `<root>/.sweep-workdirs` names the output whose work directories the root
//     holds (one line of JSON: {"output": "/abs/out.h5", "pid": .., "host": ".."}, pid and host
//     those of the exclusive holder while it runs). Without it, the root is the user's folder:
//     one holding an entry named `point-<i>` is refused (exit 2, naming it: sweep did not make
//     it, and would replace it), one without is adopted and marked.
//   - A flock on the marker, held by the driver for its run: exclusive for run, resume and
//     rerun, shared among the shards of one output. A second sweep writing another output is
//     refused while it is held (exit 4, naming the output and pid that hold it).
//   - A root marked as another output's that is not running is taken over when it holds none of
//     that output's `point-<i>` directories (or that output is gone); otherwise it is refused
//     (exit 2, naming that output): they are its kept failures.
// The default root beside the output is named after it: it needs no marker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "io/output_lock.h"
#include "io/process.h"

namespace sweep {

// The files of a point's work directory that hold the program's stdout and stderr
// (kernels/command.h): names `files:` and `results_file:` may not take.
inline constexpr char kStdoutFile[] = "stdout.txt";
inline constexpr char kStderrFile[] = "stderr.txt";

class Workdirs {
 public:
  // `root`: absolute. `follow_root_link`: whether the root may be a symbolic link. `prefix`:
  // what the directories' names start with, before the index.
  Workdirs(std::string root, bool follow_root_link, std::string prefix = "point-");

  const std::string& root() const { return root_; }
  static std::string NameOf(uint64_t point);  // "point-<index>", the command kernel's
  std::string Name(uint64_t point) const;     // "<prefix><index>"
  std::string PathOf(uint64_t point) const;   // root/<prefix><index>

  // The point's directory, empty: made after removing whatever was there under its name.
  // Returns a descriptor of it (close-on-exec). THROWS: Error.
  ScopedFd MakeFresh(uint64_t point) const;
  // Removes the point's directory with all it holds; nothing when it is not there. THROWS: Error.
  void Remove(uint64_t point) const;
  // Removes the root when it is empty (kept directories, or other workers' points, leave it).
  // Never throws.
  void RemoveRootIfEmpty() const;

 private:
  ScopedFd OpenRoot() const;

  std::string root_;
  bool follow_root_link_;
  std::string prefix_;
};

// The claim of a driver on a named work root for one output (see above), held until destroyed.
class WorkdirRootClaim {
 public:
  static constexpr const char* kMarker = ".sweep-workdirs";

  // Checks, writing nothing, that `root` may hold the work directories of `output` (both
  // absolute). THROWS: Error with ExitCode::kUsage for a `point-<i>` sweep did not make, a root
  // holding another output's directories, or a root that is not a folder; ExitCode::kLocked when
  // a sweep writing another output holds it.
  static void Check(const std::string& root, const std::string& output);
  // Makes the root (with its parents) and its marker when missing, checks as Check() does, then
  // names `output` in the marker and holds its lock in `mode`. THROWS: as Check(); Error when the
  // root or the marker cannot be made.
  WorkdirRootClaim(const std::string& root, const std::string& output, OutputLock::Mode mode);
  ~WorkdirRootClaim();
  WorkdirRootClaim(const WorkdirRootClaim&) = delete;
  WorkdirRootClaim& operator=(const WorkdirRootClaim&) = delete;

 private:
  int fd_ = -1;  // the marker, locked
};

// Writes `bytes` as the file `name` under the directory `dir`, making the folders on the way;
// `name` is a relative path with no empty, `.` or `..` part, and the file must not exist yet.
// `mode`: permission bits (less the umask). THROWS: Error.
void WriteFileBelow(int dir, const std::string& name, const std::string& bytes, mode_t mode);

// The bytes of the file `name` under `dir` (a name as above); nullopt when it does not exist.
// THROWS: Error when it is a symbolic link, not a regular file, longer than `max_bytes`, or
// cannot be read.
std::optional<std::string> ReadFileBelow(int dir, const std::string& name, size_t max_bytes);

// Removes the entry `name` of `dir` with everything below it, never following a symbolic link
// (a link is removed itself). Folders a program made read-only are made writable first, as they
// must be for their entries to go. Nothing when there is no such entry. THROWS: Error, also for
// folders nested deeper than 256.
void RemoveTree(int dir, const std::string& name);

}  // namespace sweep
