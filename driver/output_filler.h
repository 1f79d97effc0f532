// OutputFiller: what a pending chunk's bytes must hold before it is computed, written off the
// critical path.
//
// An output is created with its large datasets allocated but unwritten (io/output_file.h): holes,
// which read as zeros. Before a chunk is computed, its rows must read "not computed" (the
// missing value of kernels/dtype.h, NaN for floats) and the deferred coordinate values its points
// are the first of must be written. The filler does both for every chunk of this run that is
// pending: synchronously for a chunk about to be handed out (BeforeHandout(), on the scheduler's
// thread), and in a background thread for the others, from the last chunk backwards. So the
// first chunk is handed out at once whatever the size of the sweep, within seconds every pending
// point of the file reads as missing (live readers and a killed run included), and the chunks
// prepared at hand-out cost only their own size.
//
// Each chunk is prepared at most once: a per-chunk state makes the hand-out and the background
// never both write one, and never write one after it was handed out (that would overwrite the
// worker's rows). A chunk whose preparation the background has begun is waited for.
//
// Chunks of another shard are never touched here: each shard prepares its own.
//
// The parameter variables are a function of the config, so a resume recomputes them rather than
// trusting the file: RepairVariables() compares every numeric one-dimensional variable (written
// at creation, or deferred and written by a chunk already computed) with its values from the
// config and writes back those that differ.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "driver/plan.h"
#include "driver/space.h"
#include "io/output_file.h"

namespace sweep {

class OutputFiller {
 public:
  // `chunks`: those to prepare (this run's pending ones), in hand-out order. `file` (opened for
  // writing) and `space` (the file's sweep) must outlive the filler.
  OutputFiller(OutputFile& file, const Space& space, const Plan& plan,
               const std::vector<uint64_t>& chunks);
  ~OutputFiller();  // Stop()
  OutputFiller(const OutputFiller&) = delete;
  OutputFiller& operator=(const OutputFiller&) = delete;

  // Starts preparing the chunks in the background, the last first.
  void StartBackground();
  // Prepares chunks [first, first + count) that are not prepared yet, waiting for those the
  // background is on. THROWS: Error when a write fails (a full disk).
  void BeforeHandout(uint64_t first, uint64_t count);
  // Stops the background (between two chunks) and waits for it. A background write error only
  // stops the background: the chunks it left are prepared at hand-out, where errors are thrown.
  void Stop();

  // One variable whose values the file held wrong, and how many.
  struct Repair {
    std::string variable;
    uint64_t values = 0;
  };
  // Checks the parameter variables against the config, as above; `written(c)` says whether
  // chunk c has written its deferred values (it was computed or failed). Call before any worker
  // starts. Returns the variables repaired. THROWS: Error when the file cannot be read or written.
  std::vector<Repair> RepairVariables(const std::function<bool(uint64_t chunk)>& written);

  // Chunks prepared so far (both paths); for tests.
  uint64_t prepared() const { return prepared_.load(); }

 private:
  enum State : uint8_t { kNotOurs, kUnprepared, kPreparing, kPrepared };
  struct Variable {   // a numeric one-dimensional variable of the layout
    size_t variable;  // index into the layout's variables
    uint64_t stride;  // points per step of its dimension
    uint64_t size;    // its length
    int parameter;    // its Space parameter, or -1 for `sample` / `replicate` (value = k)
    bool integer;
    bool deferred;  // written with the chunks, not at creation
  };

  // Claims the chunk if nobody has and prepares it; false if it was claimed already.
  // THROWS: as Prepare(), the chunk left unclaimed.
  bool PrepareIfUnclaimed(uint64_t chunk);
  void Prepare(uint64_t chunk);
  void WriteDeferred(const Variable& d, uint64_t first_point, uint64_t end_point);
  // Values [k0, k0 + n) of `d`, 8 bytes each (its int64 or float64 bits), into `out`.
  void ValuesInto(const Variable& d, uint64_t k0, uint64_t n, uint64_t* out) const;
  void Background();

  OutputFile& file_;
  const Space& space_;
  const Plan& plan_;
  std::vector<uint64_t> order_;  // the chunks to prepare, in hand-out order
  std::unique_ptr<std::atomic<uint8_t>[]> state_;
  std::vector<Variable> variables_;
  // Waits while a fork is under way; false once Stop() was called.
  bool ParkWhilePaused();

  // A forked child (`start: fork` workers, a command kernel's program in inline mode) inherits
  // every lock as it was at the fork, and one another thread held then (the allocator's, while
  // the background made a string or was starting or ending) stays held in the child for good: it
  // hangs at its next allocation of that size. So a fork (pthread_atfork handlers) waits until the
  // background is parked, holding no lock: between two chunks, or for good once every chunk is
  // prepared. The thread never ends by itself: only Stop() ends it, joining it, on the thread that
  // forks. Its start is covered too: a fork right after StartBackground() waits until it parks.
  friend void PauseFillerForFork();
  friend void ResumeFillerAfterFork();
  std::mutex park_mutex_;
  std::condition_variable park_changed_;
  bool pause_requested_ = false;  // under park_mutex_
  bool parked_ = false;           // under park_mutex_
  bool stop_requested_ = false;   // under park_mutex_
  std::atomic<uint64_t> prepared_{0};
  std::thread background_;
};

}  // namespace sweep
