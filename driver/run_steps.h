// The steps of a run (driver/run.h): PrepareRun, ComputeChunks, FinishRun. ExecuteRun() calls
// them in order; each is small enough to read at once, and the state they pass along is owned by
// one PreparedRun.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/chunk_ledger.h"
#include "driver/input_guard.h"
#include "driver/local_workers.h"
#include "driver/output_filler.h"
#include "driver/plan.h"
#include "driver/reuse.h"
#include "driver/run.h"
#include "driver/run_recorder.h"
#include "driver/scheduler.h"
#include "driver/space.h"
#include "driver/staged_rows.h"
#include "io/config.h"
#include "io/inputs.h"
#include "io/journal.h"
#include "io/output_file.h"
#include "io/output_lock.h"
#include "io/workdirs.h"

namespace sweep {

// Everything a run holds from preparation to its end. Built in place and never moved: the space,
// the binding and the ledger refer to the config, the file and each other.
struct PreparedRun {
  RunRequest::Mode mode = RunRequest::Mode::kRun;
  bool mpi = false;  // --mpi: this is rank 0 of an MPI run (driver/mpi_run.h)
  std::optional<std::pair<uint64_t, uint64_t>> shard;  // --shard I/N as (I, N)
  Config config;
  std::optional<Space> space;
  KernelBinding binding;
  std::optional<Plan> plan;
  int workers = 1;  // -j, else execution.workers, else one per GPU, else the cores
  std::vector<std::string> gpu_devices;  // this node's (driver/gpus.h); empty: none
  bool batch = false;                    // chunk size auto: the scheduler hands out runs of chunks
  std::string output_path;               // absolute
  std::optional<PublishedInputs> published;
  std::optional<MappedInputs> inputs;     // the driver's own mapping (fork workers, --inline)
  std::optional<InputGuard> input_guard;  // holds the run to the inputs' bytes at its start
  std::string fingerprint;                // JSON text, driver/fingerprint.h
  ReusePlan reuse;                        // --reuse: the earlier outputs points are copied from
  ReuseCounts reused;                     // of todo's points, those reuse gives, by source
  std::optional<OutputLock> shard_lock;
  std::optional<OutputLock> lock;
  std::optional<InodeLock> inode_lock;  // the same, on the output file under every name
  // A command kernel's work root the config names, held for this output (io/workdirs.h).
  std::optional<WorkdirRootClaim> workdir_claim;
  std::optional<OutputFile> file;
  std::optional<Journal> journal;
  std::optional<ChunkLedger> ledger;
  std::vector<uint64_t> todo;  // the chunks to compute, in order
  // A rerun's: where its workers write rows, moved into the file as each chunk is done
  // (driver/staged_rows.h). Made by ComputeChunks; it outlives the recorder that moves them.
  std::optional<StagedRows> staged_rows;
  // Prepares todo's pending chunks (driver/output_filler.h); its background starts with
  // ComputeChunks and stops in FinishRun.
  std::optional<OutputFiller> filler;

  uint64_t PointsTodo() const;
  // What workers computing into `rows_path` need (driver/local_workers.h).
  WorkerContext WorkerContextFor(const std::string& rows_path) const;
  // The journal's `command` of the started record: "run", "run --shard 1/4", "resume", "rerun".
  std::string CommandName() const;
};

// What the output file of this sweep holds (io/output_file.h): `sweep plan` and a new run create
// it from the same spec, so the plan's byte count is the file's size.
OutputLayoutSpec LayoutSpecFor(const Config& config, const Space& space,
                               const KernelBinding& binding, const Plan& plan,
                               const std::string& fingerprint);

// Prepare: loads, checks and opens everything, writes the output and the journal when new, and
// lists the chunks to compute. Nothing is written before every check of config, kernel and
// inputs passed. THROWS: Error / ConfigError.
std::unique_ptr<PreparedRun> PrepareRun(const RunRequest& request);

// Compute: every chunk of run.todo, in this process (request.inline_compute) or with worker
// processes. Returns true when interrupted. THROWS: Error when the run cannot go on (workers
// that keep failing to start, a journal or output that cannot be written).
bool ComputeChunks(PreparedRun& run, const RunRequest& request, RunRecorder& recorder);

// How many workers ComputeChunks() starts: -j, but no more than there are chunks to compute.
int WorkerRanks(const PreparedRun& run, const RunRequest& request);

// The scheduler's rules for this run's config and settings.
SchedulerOptions OptionsFor(const PreparedRun& run);

// The journal's record that this run started: its command, worker count, fingerprint, the
// workers' hosts, and the config's paths that named environment variables as this process
// expanded them, with those of `other_ranks` (an MPI run's ranks > 0, by rank).
void JournalStart(PreparedRun& run, int workers, const WorkerHosts& hosts,
                  const std::map<int, std::map<std::string, std::string>>& other_ranks = {});

// What the stop record says of an MPI run's ranks (io/journal.h): each one's driver CPU
// seconds, by rank (empty: this process's alone, a plain run), and the ranks lost.
struct StopDetails {
  std::vector<double> cpu_seconds;
  std::vector<LostRank> lost_ranks;
};

// Finish: the inputs checked against their start (RunRecorder::CheckInputsAtEnd), the stop
// record, the summary and the exit code. THROWS: Error carrying `stop_message` when the run
// stopped on an error, or what changed when an input did.
int FinishRun(PreparedRun& run, const RunRequest& request, RunRecorder& recorder,
              Progress& progress, bool interrupted, std::string stop_message,
              StopDetails details = {});

// This process's user and system CPU seconds so far, every thread's.
double ProcessCpuSeconds();

}  // namespace sweep
