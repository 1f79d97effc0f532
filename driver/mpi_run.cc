#include "driver/mpi_run.h"

#include <fcntl.h>
#include <linux/falloc.h>
// The C API only: the deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "driver/checksum.h"
#include "driver/local_workers.h"
#include "driver/protocol.h"
#include "driver/run_steps.h"
#include "driver/staged_rows.h"
#include "driver/worker_board.h"
#include "io/clock.h"
#include "io/config_json.h"
#include "io/error.h"
#include "io/output_lock.h"

namespace sweep {
namespace {

constexpr int kTag = 7;

// What travels between rank 0 and the other ranks (the first byte of every message).
enum class Wire : uint8_t {
  kSetup = 1,      // 0 -> k: JSON {"code": 0, the sweep's description, layout} or {"code"}
  kHello = 2,      // k -> 0: JSON {"workers", "host", "pid", "input_xxh3"} or {"error": "..."}
  kStart = 3,      // 0 -> k: worker
  kSend = 4,       // 0 -> k: worker, protocol message bytes
  kKill = 5,       // 0 -> k: worker
  kFinish = 6,     // 0 -> k: exit code; the rank stops its workers and exits with it
  kEvent = 7,      // k -> 0: worker, a WorkerEvent (message bytes, or exit status and its details)
  kRows = 8,       // k -> 0: chunk, then its rows of every output in order (sent before its Done)
  kAskPlaces = 9,  // 0 -> k: send kPlaces (twice per kBoardSeconds at most, one ask in flight)
  kPlaces = 10,    // k -> 0: count, then each worker's pid (int64, 0: none) and point (uint64,
                   // Scoreboard::kIdle: none), for `sweep status`
};

// Appends fixed-size values and length-prefixed strings; Reader takes them back in order.
struct Writer {
  std::string bytes;
  explicit Writer(Wire type) { bytes.push_back(char(type)); }
  template <typename T>
  Writer& Put(const T& value) {
    bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    return *this;
  }
  Writer& PutString(const std::string& s) {
    Put(uint64_t(s.size()));
    bytes += s;
    return *this;
  }
};

struct Reader {
  const std::string& bytes;
  size_t at = 1;
  template <typename T>
  T Get() {
    if (at + sizeof(T) > bytes.size()) throw Error("mpi: a message from another rank is cut short");
    T value;
    std::memcpy(&value, bytes.data() + at, sizeof value);
    at += sizeof value;
    return value;
  }
  std::string GetString() {
    const uint64_t n = Get<uint64_t>();
    if (at + n > bytes.size()) throw Error("mpi: a message from another rank is cut short");
    std::string s = bytes.substr(at, n);
    at += n;
    return s;
  }
};

void SendTo(int rank, const std::string& bytes) {
  if (bytes.size() > size_t(INT32_MAX)) throw Error("mpi: a chunk's rows exceed 2 GiB");
  MPI_Send(bytes.data(), int(bytes.size()), MPI_BYTE, rank, kTag, MPI_COMM_WORLD);
}

std::string ReceiveFrom(int source, int* from = nullptr) {
  MPI_Status status;
  MPI_Probe(source, kTag, MPI_COMM_WORLD, &status);
  int size = 0;
  MPI_Get_count(&status, MPI_BYTE, &size);
  std::string bytes(size_t(size), '\0');
  MPI_Recv(bytes.data(), size, MPI_BYTE, status.MPI_SOURCE, kTag, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  if (from) *from = status.MPI_SOURCE;
  if (bytes.empty()) throw Error("mpi: an empty message from another rank");
  return bytes;
}

// A message from `source` (any rank if MPI_ANY_SOURCE) if one is waiting.
std::optional<std::string> TryReceive(int source, int* from) {
  int waiting = 0;
  MPI_Iprobe(source, kTag, MPI_COMM_WORLD, &waiting, MPI_STATUS_IGNORE);
  if (!waiting) return std::nullopt;
  return ReceiveFrom(source, from);
}

Wire TypeOf(const std::string& bytes) { return Wire(uint8_t(bytes[0])); }

// MPI gives no descriptor to poll() along with the workers' sockets, so both ends look for
// messages in turns. Right after traffic they look without sleeping (a chunk's answer is likely
// microseconds away); after kBusyWindow without any, they sleep kIdleWait between looks, which
// keeps an idle rank off the CPUs its workers need.
constexpr double kBusyWindow = 0.002;
constexpr double kIdleWait = 0.002;

class Pacer {
 public:
  void Active() { last_ = SteadySeconds(); }
  double Wait() const { return SteadySeconds() - last_ < kBusyWindow ? 0 : kIdleWait; }

 private:
  double last_ = 0;
};

// The launcher (mpirun's daemon) that started this rank is gone: the job was killed.
class ParentWatch {
 public:
  ParentWatch() : parent_(getppid()) {}
  bool Gone() const { return getppid() != parent_; }

 private:
  pid_t parent_;
};

std::string EncodeEvent(int worker, const WorkerEvent& e, std::optional<uint64_t> point,
                        const std::string& log_tail) {
  Writer w(Wire::kEvent);
  w.Put(int32_t(worker)).Put(uint8_t(e.kind)).Put(int32_t(e.wait_status)).Put(uint8_t(e.exit_kind));
  w.Put(uint8_t(point.has_value())).Put(point.value_or(0));
  w.PutString(log_tail).PutString(e.kind == WorkerEvent::Kind::kMessage ? EncodeMessage(e.message)
                                                                        : "");
  return w.bytes;
}

// ---------------------------------------------------------------------------------------------
// Rank 0: every rank's workers as one WorkerSet, so the scheduler runs unchanged.

struct RemoteWorker {
  int rank = 0;   // the MPI rank it lives on
  int local = 0;  // its index among that rank's workers
  bool running = false;
  // While running: the point as its rank last told (kPlaces); after its exit: as its rank read
  // it then.
  std::optional<uint64_t> point;
  long pid = 0;          // while running, as its rank last told; 0: not known
  std::string log_tail;  // as its rank read it when it exited
};

// What a rank said of itself when it joined (kHello).
struct RankHello {
  int workers = 0;
  std::string host;
};

class MpiWorkerSet : public WorkerSet {
 public:
  // `local`: rank 0's own workers, global indices [0, local.size()); then each other rank's.
  // `reuse` (`--reuse`, empty if none): the points the other ranks' workers leave to rank 0,
  // which copies them into each chunk's rows as they arrive (driver/reuse.h).
  MpiWorkerSet(ProcessWorkerSet& local, const std::vector<RankHello>& ranks, OutputFile& output,
               const ReusePlan& reuse)
      : local_(local),
        output_(output),
        plan_(output.layout().points, output.layout().chunk_size),
        ranks_(ranks),
        asked_(ranks.size(), false),
        reuse_(reuse) {
    if (!reuse_.empty()) {
      std::vector<uint64_t> bytes_per_point;
      for (const OutputDatasetInfo& r : output.layout().results)
        bytes_per_point.push_back(r.bytes_per_point);
      reused_rows_.emplace(reuse_, bytes_per_point);
    }
    for (size_t rank = 1; rank < ranks.size(); ++rank)
      for (int i = 0; i < ranks[rank].workers; ++i) {
        RemoteWorker w;
        w.rank = int(rank);
        w.local = i;
        remote_.push_back(std::move(w));
      }
  }

  int size() const override { return local_.size() + int(remote_.size()); }
  void Start(int g) override {
    if (g < local_.size()) return local_.Start(g);
    RemoteWorker& w = Remote(g);
    SendTo(w.rank, Writer(Wire::kStart).Put(int32_t(w.local)).bytes);
    w.running = true;
    w.point.reset();
    w.pid = 0;
    w.log_tail.clear();
  }
  bool Running(int g) const override {
    return g < local_.size() ? local_.Running(g) : remote_[size_t(g - local_.size())].running;
  }
  bool Send(int g, const Message& message) override {
    if (g < local_.size()) return local_.Send(g, message);
    const RemoteWorker& w = Remote(g);
    if (!w.running) return false;
    SendTo(w.rank,
           Writer(Wire::kSend).Put(int32_t(w.local)).PutString(EncodeMessage(message)).bytes);
    return true;
  }
  void Kill(int g) override {
    if (g < local_.size()) return local_.Kill(g);
    const RemoteWorker& w = Remote(g);
    if (w.running) SendTo(w.rank, Writer(Wire::kKill).Put(int32_t(w.local)).bytes);
  }
  std::optional<uint64_t> CurrentPoint(int g) const override {
    return g < local_.size() ? local_.CurrentPoint(g) : Remote(g).point;
  }
  WorkerPlace Place(int g) const override {
    if (g < local_.size()) return local_.Place(g);
    const RemoteWorker& w = Remote(g);
    return {ranks_.at(size_t(w.rank)).host, w.running ? w.pid : 0, w.rank};
  }
  std::string LogTail(int g, size_t max_bytes) const override {
    if (g < local_.size()) return local_.LogTail(g, max_bytes);
    const std::string& tail = Remote(g).log_tail;
    return tail.size() > max_bytes ? tail.substr(tail.size() - max_bytes) : tail;
  }

  std::optional<WorkerEvent> Next(double timeout_seconds) override {
    AskPlaces();
    const double deadline = timeout_seconds < 0 ? -1 : SteadySeconds() + timeout_seconds;
    for (;;) {
      if (std::optional<WorkerEvent> e = local_.Next(0)) return Active(e);
      int from = 0;
      while (std::optional<std::string> bytes = TryReceive(MPI_ANY_SOURCE, &from)) {
        pacer_.Active();
        if (std::optional<WorkerEvent> e = Receive(from, *bytes)) return e;
      }
      if (parent_.Gone()) {
        WorkerEvent e;
        e.kind = WorkerEvent::Kind::kInterrupt;
        e.signal = SIGHUP;
        return e;
      }
      const double left = deadline < 0 ? kIdleWait : deadline - SteadySeconds();
      if (left <= 0) return std::nullopt;
      // Local events wake this at once; other ranks' are looked for between waits.
      if (std::optional<WorkerEvent> e = local_.Next(std::min(left, pacer_.Wait()))) {
        return Active(e);
      }
    }
  }

 private:
  std::optional<WorkerEvent> Active(std::optional<WorkerEvent> e) {
    pacer_.Active();
    return e;
  }
  // Where the other ranks' workers are and what point each is on is asked for, not pushed: so
  // each answer is awaited (CollectPlaces), and no rank is left sending to a rank 0 that stopped
  // receiving.
  void AskPlaces() {
    if (SteadySeconds() < next_ask_) return;
    // Twice per board: a point told is at most that old when the board is written.
    next_ask_ = SteadySeconds() + kBoardSeconds / 2;
    for (size_t k = 1; k < asked_.size(); ++k) {
      if (asked_[k]) continue;
      SendTo(int(k), Writer(Wire::kAskPlaces).bytes);
      asked_[k] = true;
    }
  }

 public:
  // After the scheduler's end: takes the answers still owed, for up to `seconds` (a rank that
  // died owes its answer for ever).
  void CollectPlaces(double seconds) {
    const double deadline = SteadySeconds() + seconds;
    while (std::find(asked_.begin(), asked_.end(), true) != asked_.end() &&
           SteadySeconds() < deadline) {
      int from = 0;
      if (std::optional<std::string> bytes = TryReceive(MPI_ANY_SOURCE, &from)) {
        Receive(from, *bytes);
      } else {
        std::this_thread::sleep_for(std::chrono::duration<double>(kIdleWait));
      }
    }
  }

 private:
  RemoteWorker& Remote(int g) { return remote_.at(size_t(g - local_.size())); }
  const RemoteWorker& Remote(int g) const { return remote_.at(size_t(g - local_.size())); }

  int GlobalIndex(int rank, int local) const {
    int g = local_.size();
    for (const RemoteWorker& w : remote_) {
      if (w.rank == rank && w.local == local) return g;
      ++g;
    }
    throw Error("mpi: rank " + std::to_string(rank) + " spoke of a worker it does not have");
  }

  // Rows are written before the Done that follows them is handed to the scheduler, which then
  // records the chunk: never recorded done before its rows are in the output.
  std::optional<WorkerEvent> Receive(int from, std::string& bytes) {
    Reader r{bytes};
    if (TypeOf(bytes) == Wire::kRows) {
      const Chunk chunk = plan_.chunk(r.Get<uint64_t>());
      std::vector<char*> rows;
      for (size_t o = 0; o < output_.layout().results.size(); ++o) {
        const RawRegion region = output_.Rows(o, chunk.first, chunk.count);
        if (r.at + region.bytes > bytes.size()) throw Error("mpi: a chunk's rows are cut short");
        rows.push_back(bytes.data() + r.at);
        r.at += region.bytes;
      }
      if (reused_rows_) FillReused(chunk, rows);
      for (size_t o = 0; o < rows.size(); ++o)
        output_.WriteRows(o, chunk.first, chunk.count, rows[o]);
      return std::nullopt;
    }
    if (TypeOf(bytes) == Wire::kPlaces) {
      asked_[size_t(from)] = false;
      const uint32_t count = r.Get<uint32_t>();
      for (uint32_t local = 0; local < count; ++local) {
        const int64_t pid = r.Get<int64_t>();
        const uint64_t point = r.Get<uint64_t>();
        RemoteWorker& w = Remote(GlobalIndex(from, int(local)));
        // A worker this rank has not (re)started yet may still show its predecessor's slot.
        if (!w.running || pid <= 0) continue;
        w.pid = long(pid);
        w.point = point == Scoreboard::kIdle ? std::nullopt : std::optional<uint64_t>(point);
      }
      return std::nullopt;
    }
    if (TypeOf(bytes) != Wire::kEvent) throw Error("mpi: rank 0 got a message it does not take");
    WorkerEvent e;
    const int local = r.Get<int32_t>();
    e.rank = GlobalIndex(from, local);
    e.kind = WorkerEvent::Kind(r.Get<uint8_t>());
    e.wait_status = r.Get<int32_t>();
    e.exit_kind = WorkerEvent::ExitKind(r.Get<uint8_t>());
    const bool has_point = r.Get<uint8_t>() != 0;
    const uint64_t point = r.Get<uint64_t>();
    const std::string tail = r.GetString();
    const std::string message = r.GetString();
    if (e.kind == WorkerEvent::Kind::kExited) {
      RemoteWorker& w = Remote(e.rank);
      w.running = false;
      w.point = has_point ? std::optional<uint64_t>(point) : std::nullopt;
      w.log_tail = tail;
    } else if (e.kind == WorkerEvent::Kind::kMessage) {
      std::optional<Message> m = DecodeMessage(message.data(), message.size());
      if (!m)
        throw Error("mpi: a worker message relayed by rank " + std::to_string(from) +
                    " is malformed");
      e.message = std::move(*m);
      if (e.message.type == MessageType::kDone) TakeFilled(&e.message);
    } else {
      return std::nullopt;  // interrupts are rank 0's own business
    }
    return e;
  }

  // What rank 0 made of a chunk's rows by copying its reused points in: the checksum and count
  // its Done must carry instead of the worker's (which saw them missing), or why it cannot be
  // done.
  struct Filled {
    uint64_t checksum = 0, reused = 0, point = 0;
    std::string failure;
  };

  // Copies the reused points of `chunk` into its rows as a worker of another rank sent them,
  // which skipped those points (driver/worker.h).
  void FillReused(const Chunk& chunk, const std::vector<char*>& rows) {
    std::vector<uint8_t> taken(size_t(chunk.count), 0);
    Filled filled;
    filled.reused = reused_rows_->Take(chunk.first, chunk.count, rows, taken.data());
    uint64_t skipped = 0;
    reuse_.ForEach(chunk.first, chunk.count, [&](size_t, const MatchRun& run) {
      skipped += run.count;
      for (uint64_t j = 0; j < run.count && filled.failure.empty(); ++j) {
        const uint64_t p = run.new_first + j * run.new_step;
        if (taken[size_t(p - chunk.first)]) continue;
        filled.point = p;
        filled.failure =
            "a chunk of an output of --reuse no longer matches its checksum (it changed during "
            "the run): `sweep resume` computes this chunk";
      }
    });
    ChunkChecksum checksum(rows.size());
    for (size_t o = 0; o < rows.size(); ++o)
      checksum.Add(o, rows[o], output_.Rows(o, chunk.first, chunk.count).bytes);
    filled.checksum = checksum.Finish();
    filled_[chunk.index] = filled;
  }

  // A Done of a chunk rank 0 filled: its checksum and count, or its failure.
  void TakeFilled(Message* done) {
    const auto it = filled_.find(done->chunk);
    if (it == filled_.end()) return;
    const Filled filled = it->second;
    filled_.erase(it);
    if (!filled.failure.empty()) {
      *done = Message::Failed(done->chunk, filled.point, filled.failure);
      return;
    }
    done->checksum = filled.checksum;
    done->reused = filled.reused;
  }

  ProcessWorkerSet& local_;
  OutputFile& output_;
  Plan plan_;
  std::vector<RankHello> ranks_;  // by MPI rank (0: this one, whose workers are local_)
  // Which ranks were asked for their places and have not answered; when to ask again.
  std::vector<bool> asked_;
  double next_ask_ = 0;
  std::vector<RemoteWorker> remote_;
  ParentWatch parent_;
  Pacer pacer_;
  const ReusePlan& reuse_;
  std::optional<ReusedRows> reused_rows_;
  std::map<uint64_t, Filled> filled_;  // by chunk, from its rows to its Done
};

// Tells every other rank to stop and exit with `code`.
void FinishAll(int ranks, int code) {
  for (int k = 1; k < ranks; ++k) SendTo(k, Writer(Wire::kFinish).Put(int32_t(code)).bytes);
}

// The inputs' start hashes as hello carries them.
std::vector<std::string> HashTexts(const InputGuard& guard) {
  std::vector<std::string> texts;
  for (uint64_t h : guard.start_hashes()) texts.push_back(fmt::format("{:016x}", h));
  return texts;
}

// The other ranks' workers, after setup: how many each has and its host (index 0: rank 0), and in
// *hosts the host of each worker by its global index (MpiWorkerSet's numbering). Each rank read
// its own copy of the inputs (another node, another file system): one whose bytes differ from
// rank 0's would mix results, so the run stops before it starts.
std::vector<RankHello> GatherHellos(int ranks, int own_workers, const PreparedRun& run,
                                    WorkerHosts* hosts) {
  const std::vector<std::string> own_hashes = HashTexts(*run.input_guard);
  std::vector<RankHello> hellos(static_cast<size_t>(ranks));
  hellos[0] = {own_workers, HostName()};
  *hosts = WorkerHosts{HostName(), {}};
  int first = own_workers;  // the global index of rank k's first worker
  for (int k = 1; k < ranks; ++k) {
    const nlohmann::json hello = nlohmann::json::parse(ReceiveFrom(k).substr(1));
    const std::string host = hello.value("host", "?");
    if (hello.contains("error")) {
      throw Error("mpi: rank " + std::to_string(k) + " on " + host +
                  " cannot run: " + hello["error"].get<std::string>());
    }
    hellos[size_t(k)] = {hello.at("workers").get<int>(), hello.value("host", "")};
    const std::vector<std::string> hashes = hello.value("input_xxh3", std::vector<std::string>{});
    for (size_t i = 0; i < run.config.inputs.size() && i < hashes.size(); ++i) {
      if (hashes[i] == own_hashes[i]) continue;
      throw Error(fmt::format(
          "mpi: rank {} on {} reads input `{}` ({}) with other bytes than rank 0 "
          "(xxh3 {}, rank 0 {}); every node must see the same inputs",
          k, host, run.config.inputs[i].name, run.config.inputs[i].path, hashes[i], own_hashes[i]));
    }
    if (host != hosts->Of(first)) hosts->ranges.emplace_back(first, host);
    first += hellos[size_t(k)].workers;
  }
  return hellos;
}

int RunRankZero(const RunRequest& request, int ranks) {
  std::unique_ptr<PreparedRun> run;
  try {
    run = PrepareRun(request);
  } catch (const Error& e) {
    FinishAll(ranks, int(e.code()));  // the others wait in setup: release them
    throw;
  }
  // The description, not the YAML, which every rank would parse again. It carries the output's
  // path as the run set it, and the paths rank 0 reads its inputs from (`--input` may have moved
  // one), so every rank reads the same.
  nlohmann::json setup = {{"code", 0},
                          {"sweep", ConfigToJson(run->config)},
                          {"seeds_by_index", run->space->seed_rule() == SeedRule::kPointIndex},
                          {"layout", EncodeRowLayout(run->file->layout())}};
  // Which points the other ranks leave to rank 0, which alone reads the outputs of --reuse.
  if (!run->reuse.empty()) setup["reuse"] = run->reuse.Encode();
  for (int k = 1; k < ranks; ++k) SendTo(k, Writer(Wire::kSetup).bytes + setup.dump());

  std::vector<RankHello> workers;
  std::unique_ptr<Progress> progress = MakeProgress(request.progress, stdout);
  std::optional<RunRecorder> recorder;
  bool interrupted = false;
  std::string stop_message;
  try {
    WorkerHosts hosts;
    workers = GatherHellos(ranks, run->workers, *run, &hosts);
    int total = 0;
    for (const RankHello& rank : workers) total += rank.workers;
    JournalStart(*run, total, hosts);
    recorder.emplace(*run->space, *run->ledger, *run->journal, *progress, run->PointsTodo(),
                     run->todo.size(), total, hosts, &*run->filler);
    recorder->GuardInputs(&*run->input_guard, run->output_path);
    recorder->RecordReuseFrom(&run->reuse);
    recorder->GuardOutput(&*run->file);
    recorder->ShowWorkersIn(WorkerBoardPath(run->output_path, run->shard), run->CommandName());
    if (!run->todo.empty()) {
      run->filler->StartBackground();
      LocalWorkers local(run->WorkerContextFor(run->output_path), run->workers);
      MpiWorkerSet set(local.set(), workers, *run->file, run->reuse);
      Scheduler scheduler(set, *run->plan, run->todo, OptionsFor(*run), *recorder);
      interrupted = scheduler.Run() == Scheduler::Outcome::kInterrupted;
      set.CollectPlaces(interrupted ? 0.2 : 2.0);
    }
  } catch (const std::exception& e) {
    stop_message = e.what();
  }
  int code = int(ExitCode::kFailure);
  try {
    if (!recorder) {
      const WorkerHosts hosts{HostName(), {}};
      recorder.emplace(*run->space, *run->ledger, *run->journal, *progress, 0, 0, 1, hosts);
      JournalStart(*run, run->workers, hosts);
    }
    code = FinishRun(*run, request, *recorder, *progress, interrupted, stop_message);
  } catch (const Error& e) {
    FinishAll(ranks, int(e.code()));
    throw;
  }
  FinishAll(ranks, code);
  return code;
}

// ---------------------------------------------------------------------------------------------
// Rank k > 0.

// The sweep as rank 0 described it, rebuilt on this node: config, kernel, inputs, workers.
struct NodeSweep {
  Config config;
  std::optional<Space> space;
  KernelBinding binding;
  std::optional<PublishedInputs> published;
  std::optional<MappedInputs> inputs;
  std::optional<InputGuard> input_guard;  // hashes this node's inputs for rank 0 to compare
  OutputLayout layout;
  ReusePlan reuse;                    // the points its workers skip: rank 0 copies them (--reuse)
  std::optional<StagedRows> staging;  // the workers' rows, until sent to rank 0
  std::string log_dir;                // this rank's worker logs, removed with it
  std::optional<LocalWorkers> workers;

  ~NodeSweep() {
    workers.reset();
    staging.reset();
    std::error_code ignored;
    if (!log_dir.empty()) std::filesystem::remove_all(log_dir, ignored);
  }
};

void SetUpNode(const RunRequest& request, const nlohmann::json& setup, NodeSweep* node) {
  node->config = ConfigFromJson(setup.at("sweep"));
  node->space.emplace(node->config, setup.at("seeds_by_index").get<bool>()
                                        ? SeedRule::kPointIndex
                                        : SeedRule::kParameterValues);
  node->binding = BindKernel(node->config, *node->space);
  node->published.emplace(PublishInputs(node->config.inputs));
  node->inputs.emplace(node->published->inputs());
  node->input_guard.emplace(node->published->inputs(), *node->inputs);
  node->layout = DecodeRowLayout(setup.at("layout").get<std::string>());
  if (setup.contains("reuse")) node->reuse = ReusePlan::Decode(setup.at("reuse"));
  node->staging.emplace(node->layout);
  WorkerContext context;
  context.config = &node->config;
  context.space = &*node->space;
  context.binding = &node->binding;
  context.published = &*node->published;
  context.inputs = &*node->inputs;
  context.layout = &node->layout;
  context.rows_path = node->staging->path();
  context.reuse = &node->reuse;
  context.copy_reused = false;
  // The output's folder may not exist on this node: logs go to a folder of its own, and the
  // tail of a failed worker's log travels to rank 0 with its exit.
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/sweep-rank-logs-XXXXXX";
  if (!mkdtemp(dir.data())) throw Error("mkdtemp " + dir + ": " + std::strerror(errno));
  node->log_dir = context.log_dir = dir;
  node->workers.emplace(context, WorkerCount(request.workers, node->config.execution.workers));
}

// Sends a worker's event to rank 0: for a chunk done, its rows first.
void Relay(NodeSweep& node, const WorkerEvent& e) {
  ProcessWorkerSet& set = node.workers->set();
  if (e.kind == WorkerEvent::Kind::kInterrupt) return;  // rank 0 decides; mpirun tells it too
  if (e.kind == WorkerEvent::Kind::kMessage && e.message.type == MessageType::kDone) {
    const Plan plan(node.layout.points, node.layout.chunk_size);
    const Chunk chunk = plan.chunk(e.message.chunk);
    Writer rows(Wire::kRows);
    rows.Put(uint64_t(chunk.index));
    OutputFile& staged = node.staging->file();
    for (size_t o = 0; o < node.layout.results.size(); ++o) {
      const size_t at = rows.bytes.size();
      rows.bytes.resize(at + staged.Rows(o, chunk.first, chunk.count).bytes);
      staged.ReadRows(o, chunk.first, chunk.count, rows.bytes.data() + at);
    }
    node.staging->Free(chunk);  // sent on: give the memory back
    SendTo(0, rows.bytes);
  }
  std::optional<uint64_t> point;
  std::string tail;
  if (e.kind == WorkerEvent::Kind::kExited) {
    point = set.CurrentPoint(e.rank);
    tail = set.LogTail(e.rank, 2048);
  }
  SendTo(0, EncodeEvent(e.rank, e, point, tail));
}

// Tells rank 0 each worker's pid and point, for `sweep status`.
void SendPlaces(NodeSweep& node) {
  ProcessWorkerSet& set = node.workers->set();
  Writer places(Wire::kPlaces);
  places.Put(uint32_t(set.size()));
  for (int w = 0; w < set.size(); ++w) {
    places.Put(int64_t(set.Running(w) ? set.pid(w) : 0));
    places.Put(set.CurrentPoint(w).value_or(Scoreboard::kIdle));
  }
  SendTo(0, places.bytes);
}

// Obeys one order of rank 0; returns rank 0's exit code when it is kFinish.
std::optional<int> Obey(NodeSweep& node, const std::string& bytes) {
  Reader r{bytes};
  ProcessWorkerSet& set = node.workers->set();
  switch (TypeOf(bytes)) {
    case Wire::kStart:
      set.Start(r.Get<int32_t>());
      return std::nullopt;
    case Wire::kSend: {
      const int worker = r.Get<int32_t>();
      const std::string message = r.GetString();
      std::optional<Message> m = DecodeMessage(message.data(), message.size());
      if (!m) throw Error("mpi: a message from rank 0 is malformed");
      set.Send(worker, *m);  // a worker gone meanwhile: its exit event is on its way
      return std::nullopt;
    }
    case Wire::kKill:
      set.Kill(r.Get<int32_t>());
      return std::nullopt;
    case Wire::kAskPlaces:
      SendPlaces(node);
      return std::nullopt;
    case Wire::kFinish:
      return r.Get<int32_t>();
    default:
      throw Error("mpi: a rank got a message it does not take");
  }
}

int RunNode(const RunRequest& request) {
  const std::string first = ReceiveFrom(0);
  if (TypeOf(first) == Wire::kFinish) return 0;  // rank 0 stopped before the run: it says why
  const nlohmann::json setup = nlohmann::json::parse(first.substr(1));
  NodeSweep node;
  try {
    SetUpNode(request, setup, &node);
  } catch (const std::exception& e) {
    SendTo(0, Writer(Wire::kHello).bytes +
                  nlohmann::json({{"error", e.what()}, {"host", HostName()}}).dump());
    const std::string finish = ReceiveFrom(0);
    return TypeOf(finish) == Wire::kFinish ? 0 : 1;
  }
  SendTo(0,
         Writer(Wire::kHello).bytes + nlohmann::json({{"workers", node.workers->set().size()},
                                                      {"host", HostName()},
                                                      {"pid", getpid()},
                                                      {"input_xxh3", HashTexts(*node.input_guard)}})
                                          .dump());
  const ParentWatch parent;
  Pacer pacer;
  for (;;) {
    int from = 0;
    while (std::optional<std::string> order = TryReceive(0, &from)) {
      pacer.Active();
      if (Obey(node, *order)) return 0;
    }
    if (parent.Gone()) return int(ExitCode::kInterrupted);
    if (std::optional<WorkerEvent> e = node.workers->set().Next(pacer.Wait())) {
      pacer.Active();
      Relay(node, *e);
    }
  }
}

}  // namespace

int ExecuteMpiRun(const RunRequest& request) {
  if (request.shard || request.inline_compute) {
    throw Error("--mpi: runs one sweep over every rank; it does not go with --shard or --inline",
                ExitCode::kUsage);
  }
  // The stop signals are taken by the worker set's signalfd (driver/worker_set.h), which sees
  // only signals that no thread takes first. MPI_Init starts threads of its own: blocked now,
  // the signals stay blocked in those threads too, so a SIGTERM from mpirun (or Slurm) stops the
  // run the journaled way rather than in one of MPI's threads.
  sigset_t stops;
  sigemptyset(&stops);
  for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stops, s);
  sigprocmask(SIG_BLOCK, &stops, nullptr);
  MPI_Init(nullptr, nullptr);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int code = 0;
  try {
    RunRequest on_every_rank = request;
    on_every_rank.ranks = ranks;
    code = rank == 0 ? RunRankZero(on_every_rank, ranks) : RunNode(on_every_rank);
  } catch (...) {
    MPI_Finalize();
    throw;
  }
  MPI_Finalize();
  return code;
}

}  // namespace sweep
