// Worker: what one worker process does between starting and exiting.
//
// It initialises the kernel once (init() with read-only views of the shared inputs), says
// Ready, then for every assigned chunk computes each point into a block buffer, writes the
// block's rows straight into the output file at their fixed offsets (pwrite, so a full disk is
// an error we see rather than a SIGBUS), and reports the chunk Done with its checksum
// (driver/checksum.h), when it began and the worker's peak memory at its end. Before each point
// it publishes the point's index in the scoreboard, so the driver can name the point even when
// the worker dies without a word. A kernel error fails the chunk (Failed) and the worker goes on
// with the next; an I/O error is Fatal.
//
// Peak memory (`max_rss` of a Done, kept per chunk in the output's /chunks): the largest resident
// set, in bytes, that the worker process had, or any program it ran and waited for (a command
// kernel's), from the worker's start to the chunk's end: the process's VmHWM (/proc/self/status)
// and its children's ru_maxrss, whichever is larger. Not the process's own ru_maxrss: Linux keeps
// that across exec, so a spawned worker would inherit its driver's peak (a driver of 10^7
// chunks, half a gigabyte, made every chunk report it). It is a high-water mark over the worker's
// life, not the chunk's own: it never falls from one chunk to the next of a worker, and the chunk
// where it rises is the one that needed more memory than any before it on that worker. It counts
// the pages of the shared inputs the worker touched (they are resident in it too), which
// execution.memory_limit does not; a `start: fork` worker starts with the pages it shares with
// the driver.
//
// With a reuse plan (`sweep run --reuse`, driver/reuse.h), a block's points that earlier outputs
// hold are copied from them (ReusedRows) and only the others computed, in runs of consecutive
// points; the rows are written and checksummed as one block all the same, and Done says how many
// points were copied.
//
// A block's parameter values and seeds are made as columns in bulk (driver/point_batch.h). A
// kernel with compute_batch() (kernels/kernel.h, ABI 2) gets the whole block in one call, and the
// scoreboard names the block's first point during it; SWEEP_FORCE_PER_POINT=1 in the environment
// (for tests) makes the worker call compute() per point anyway.
//
// Every start method ends in WorkerLoop(): `fork` calls it in the child with the driver's objects
// (the mapped inputs are inherited, not mapped again); `spawn` runs `sweep-worker` (or
// `sweep __worker`), which rebuilds the same objects from the job the driver passes
// (SpawnedWorkerMain); `forkserver` calls it in a child of the zygote (driver/zygote.h), which
// rebuilt them once and initialised the kernel once, so the worker adopts the kernel's state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/checksum.h"
#include "driver/plan.h"
#include "driver/point_batch.h"
#include "driver/reuse.h"
#include "driver/space.h"
#include "driver/worker_set.h"
#include "io/inputs.h"
#include "io/output_file.h"

namespace sweep {

// Rows are gathered into blocks of about this many bytes per output before one write: large
// enough that cheap kernels are not dominated by system calls, small enough that a block and its
// parameter columns stay in a core's L2 cache (1 MiB here: with 1 MiB blocks, the columns and
// rows of a batched `square` streamed through L3, and its run took a tenth more CPU). A block is
// also the run of points one compute_batch() call gets.
inline constexpr uint64_t kWorkerBlockBytes = uint64_t{256} << 10;

// Points per block: kWorkerBlockBytes of the widest output's rows, at least 1, at most a chunk.
uint64_t WorkerBlockPoints(const std::vector<sweep_output_decl>& outputs, uint64_t chunk_size);
// What a worker holds besides its kernel's own memory: a block of rows of every output, and the
// block's parameter columns and seeds (driver/point_batch.h). `sweep plan` reports it.
uint64_t WorkerBlockBytes(const Space& space, const KernelBinding& binding, uint64_t chunk_size);

struct WorkerSetup {
  const Space* space = nullptr;
  const KernelBinding* binding = nullptr;
  const std::vector<sweep_array>* inputs = nullptr;  // in the order of Config::inputs
  // Where those inputs are, in the same order (KernelBinding::place_inputs).
  const std::vector<PublishedInput>* places = nullptr;
  std::string output_path;
  const OutputLayout* layout = nullptr;
  Scoreboard* scoreboard = nullptr;
  // The points to copy instead of computing, or nullptr. With copy_reused false (the workers of
  // an MPI rank other than 0) they are skipped, their rows left missing for rank 0 to fill.
  const ReusePlan* reuse = nullptr;
  bool copy_reused = true;
};

// The kernel of `setup` initialised for this process: init() with the inputs' views, then the
// binding's place_inputs, if any. Returns the kernel's state, for finish().
// THROWS: Error with the kernel's message.
void* InitKernel(const WorkerSetup& setup);

// Computes chunks for one worker rank: owns the kernel's state and the block buffers.
// Used by WorkerLoop and by `sweep rerun --inline` in the driver's own process.
class ChunkComputer {
 public:
  // Opens the output for writing its rows. THROWS: Error.
  ChunkComputer(const WorkerSetup& setup, int rank);
  ~ChunkComputer();  // finishes the kernel if it was initialised
  ChunkComputer(const ChunkComputer&) = delete;
  ChunkComputer& operator=(const ChunkComputer&) = delete;

  // THROWS: Error with the kernel's message.
  void InitKernel();
  // Takes a state InitKernel() made in this process or in the one it was forked from: it is
  // this computer's to finish.
  void AdoptKernel(void* state);
  void FinishKernel();
  // Computes one chunk and writes its rows. Returns the Done or Failed message for it.
  // THROWS: Error when the rows cannot be written (a full disk).
  Message Compute(uint64_t chunk_index);

 private:
  // The points [first, first + n), rows from `at` on in the block's buffers, through compute()
  // per point or compute_batch() once. Returns the Failed message if a point failed.
  std::optional<Message> ComputeRun(uint64_t chunk_index, uint64_t first, uint64_t n, uint64_t at);
  std::optional<Message> ComputePoints(uint64_t chunk_index, uint64_t first, uint64_t n,
                                       uint64_t at);
  std::optional<Message> ComputeBatch(uint64_t chunk_index, uint64_t first, uint64_t at,
                                      const sweep_batch& batch);
  // The block [first, first + n): its reused points copied, the others computed.
  std::optional<Message> ComputeBlock(uint64_t chunk_index, uint64_t first, uint64_t n,
                                      uint64_t* reused);

  const WorkerSetup& setup_;
  const int rank_;
  const sweep_kernel& kernel_;
  const Plan plan_;
  const uint64_t block_points_;  // points per block: the rows gathered before one write
  PointBatch batch_;             // the block's parameter columns and seeds
  const bool batched_;           // compute_batch() per block, not compute() per point
  std::vector<sweep_value> params_;
  std::vector<uint64_t> bytes_per_point_;
  std::vector<std::vector<char>> buffers_;
  std::vector<sweep_array> views_;
  ChunkChecksum checksum_;
  std::optional<ReusedRows> reused_rows_;  // with a reuse plan
  std::vector<uint8_t> taken_;             // by point of the block: copied, not to compute
  void* state_ = nullptr;
  bool initialised_ = false;
  OutputFile file_;
};

// Runs the protocol on socket_fd until Shutdown or the driver goes. Returns the exit code.
// `kernel_state`: the kernel initialised already (a zygote's, inherited), else nullptr to
// initialise it here.
int WorkerLoop(const WorkerSetup& setup, int rank, int socket_fd, void* kernel_state = nullptr);

// The job a spawned worker reads from its descriptor kWorkerFirstPassedFd + 1: JSON with the
// sweep's description (io/config_json.h, output.path included), the path the rows go to, the
// offsets of the /results datasets and the published inputs. Never the config's YAML: parsing that
// again would cost every worker as long as it cost the driver, seconds for a large config. With the
// job a worker needs neither HDF5, nor a YAML parser, nor the driver's memory.
// `seeds`: the rule of the output's seeds (driver/space.h), which the config does not say;
// `reuse`: the points to copy from earlier outputs (nullptr: none), and whether to copy them.
std::string EncodeWorkerJob(const Config& config, SeedRule seeds, const std::string& rows_path,
                            const OutputLayout& layout, const std::string& inputs_json,
                            const ReusePlan* reuse = nullptr, bool copy_reused = true);

// What a spawned process (a worker, or a zygote) rebuilds from its job: the sweep, the kernel
// bound, the inputs mapped, the layout, and the WorkerSetup that points into them. Never moved.
class SpawnedJob {
 public:
  // `text`: the job (EncodeWorkerJob). THROWS: Error when it is malformed, a kernel that does
  // not bind or an input that does not map.
  SpawnedJob(const std::string& text, Scoreboard* scoreboard);
  SpawnedJob(const SpawnedJob&) = delete;
  SpawnedJob& operator=(const SpawnedJob&) = delete;

  const WorkerSetup& setup() const { return setup_; }

 private:
  std::vector<PublishedInput> published_;
  Config config_;
  std::optional<Space> space_;
  KernelBinding binding_;
  std::optional<MappedInputs> inputs_;
  OutputLayout layout_;
  ReusePlan reuse_;
  WorkerSetup setup_;
};

// Spawned side: the job text from its descriptor (a memfd the driver shares with every worker).
// THROWS: Error.
std::string ReadSpawnedJob(int fd);

// The entry of a spawned worker: the `sweep-worker` executable (driver/worker_main.cc, linked
// without HDF5, so it starts fast), or `sweep __worker`. Returns its exit code.
int SpawnedWorkerMain();

}  // namespace sweep
