#include "driver/mpi_run.h"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

extern char** environ;

#include "driver/checksum.h"
#include "driver/gpus.h"
#include "driver/local_workers.h"
#include "driver/mpi_hydra_keeper.h"
#include "driver/mpi_mailbox.h"
#include "driver/protocol.h"
#include "driver/run_steps.h"
#include "driver/staged_rows.h"
#include "driver/worker_board.h"
#include "io/clock.h"
#include "io/config_json.h"
#include "io/error.h"
#include "io/output_lock.h"
#include "io/process.h"

namespace sweep {

double AggregateSeconds(int ranks) { return std::clamp(double(ranks) / 40000.0, 0.005, 0.25); }

namespace {

using namespace mpi;  // the wire (driver/mpi_mailbox.h)

// A rank sends what it gathered once this much of rows waits, whatever the period.
constexpr uint64_t kBatchRowBytes = 8 << 20;
// How long a rank has to answer a ping before it is recorded lost, once rank 0 is interrupted:
// short, as mpirun kills every rank soon after its TERM, and the stop record must be written by
// then. When a rank dies, Open MPI's mpirun sends every other rank a SIGCONT, then a SIGTERM
// odls_base_sigkill_timeout seconds later (1 by default), then a SIGKILL as long again. Rank 0
// pings on the SIGCONT already, so at the TERM the answers are in and it records the stop at
// once, with the whole second interval to spare. A ping of a CONT counts for a TERM that follows
// within kContPingSeconds; a TERM without one (a user's, srun's) pings then.
constexpr double kAnswerSeconds = 0.5;
constexpr double kContPingSeconds = 60;
// Under MPICH's mpiexec (hydra), which kills every rank the moment one dies
// (driver/mpi_hydra_keeper.h): how long rank 0 hears nothing from a rank before it journals it
// unheard. Every rank sends its workers' places at least every
// kBoardSeconds / 2 = 0.25 s while the run computes, so unheard is four of those missed; rank 0
// looks every kSilenceLookSeconds, so it journals a dead rank within 1.1 s of its last word, with
// nearly 4 s to spare (a loaded rank 0, a slow file system) before the keeper lets hydra kill the
// job. The other ranks' workers go on computing meanwhile, and their chunks are recorded.
constexpr double kUnheardSeconds = 1.0;
constexpr double kSilenceLookSeconds = 0.1;
constexpr double kAbortDelaySeconds = 5.0;

// The launcher (mpirun's daemon) that started this rank is gone: the job was killed.
class ParentWatch {
 public:
  ParentWatch() : parent_(getppid()) {}
  bool Gone() const { return getppid() != parent_; }

 private:
  pid_t parent_;
};

// A worker's events as a rank sends them to rank 0, in one kBatch message per period:
//   uint32 events, each: uint8 kind (0 message, 1 exited), int32 the rank's worker, then
//     message: the protocol message's bytes (string); exited: int32 wait status, uint8 exit
//     kind, uint8 has point, uint64 point, string log tail;
//   uint8 has places, then: uint32 workers, each int64 pid (0: none) and uint64 point
//     (Scoreboard::kIdle: none), for `sweep status`;
//   uint32 runs of consecutive chunks done, each: uint64 first chunk, uint64 chunks, then the
//     rows of those chunks of every output in order, contiguous as in the output.
// Every done chunk of the events has its rows in the runs, so rank 0 writes them before it
// hands the events on: a chunk is never recorded done before its rows are in the output.
struct BatchEvent {
  int worker = 0;
  WorkerEvent event;
  std::optional<uint64_t> point;  // exited: the point it was on
  std::string log_tail;           // exited
};

void PutEvent(Writer* w, const BatchEvent& b) {
  const WorkerEvent& e = b.event;
  w->Put(uint8_t(e.kind == WorkerEvent::Kind::kExited)).Put(int32_t(b.worker));
  if (e.kind == WorkerEvent::Kind::kExited) {
    w->Put(int32_t(e.wait_status)).Put(uint8_t(e.exit_kind));
    w->Put(uint8_t(b.point.has_value())).Put(b.point.value_or(0)).PutString(b.log_tail);
  } else {
    w->PutString(EncodeMessage(e.message));
  }
}

BatchEvent GetEvent(Reader* r) {
  BatchEvent b;
  const bool exited = r->Get<uint8_t>() != 0;
  b.worker = r->Get<int32_t>();
  if (exited) {
    b.event.kind = WorkerEvent::Kind::kExited;
    b.event.wait_status = r->Get<int32_t>();
    b.event.exit_kind = WorkerEvent::ExitKind(r->Get<uint8_t>());
    const bool has_point = r->Get<uint8_t>() != 0;
    const uint64_t point = r->Get<uint64_t>();
    if (has_point) b.point = point;
    b.log_tail = r->GetString();
  } else {
    const std::string bytes = r->GetString();
    std::optional<Message> m = DecodeMessage(bytes.data(), bytes.size());
    if (!m) throw Error("mpi: a worker message relayed by another rank is malformed");
    b.event.kind = WorkerEvent::Kind::kMessage;
    b.event.message = std::move(*m);
  }
  return b;
}

// The chunks [first, first + count) of `chunks` (ascending, no duplicates) as runs.
std::vector<std::pair<uint64_t, uint64_t>> Runs(std::vector<uint64_t> chunks) {
  std::sort(chunks.begin(), chunks.end());
  std::vector<std::pair<uint64_t, uint64_t>> runs;
  for (uint64_t c : chunks) {
    if (!runs.empty() && runs.back().first + runs.back().second == c) {
      ++runs.back().second;
    } else {
      runs.emplace_back(c, 1);
    }
  }
  return runs;
}

// A signalfd of SIGCONT (blocked in every thread since before MPI_Init: ExecuteMpiRun), or -1.
int ContinueSignals() {
  sigset_t cont;
  sigemptyset(&cont);
  sigaddset(&cont, SIGCONT);
  return signalfd(-1, &cont, SFD_NONBLOCK | SFD_CLOEXEC);
}

// ---------------------------------------------------------------------------------------------
// Rank 0: every rank's workers as one WorkerSet, so the scheduler runs unchanged.

struct RemoteWorker {
  int rank = 0;   // the MPI rank it lives on
  int local = 0;  // its index among that rank's workers
  bool running = false;
  // While running: the point as its rank last told; after its exit: as its rank read it then.
  std::optional<uint64_t> point;
  long pid = 0;          // while running, as its rank last told; 0: not known
  std::string log_tail;  // as its rank read it when it exited
};

// What a rank said of itself when it joined (kHello).
struct RankHello {
  int workers = 0;
  std::string host;
};

// How the job ended for the ranks (MpiWorkerSet::WrapUp): each one's CPU seconds (NaN when it
// sent none) and the ones lost.
struct RanksEnd {
  std::vector<double> cpu_seconds;
  std::vector<LostRank> lost;
};

class MpiWorkerSet : public WorkerSet {
 public:
  // `local`: rank 0's own workers, global indices [0, local.size()); then each other rank's.
  // `reuse` (`--reuse`, empty if none): the points the other ranks' workers leave to rank 0,
  // which copies them into each chunk's rows as they arrive (driver/reuse.h). `silences` (under
  // hydra, else null): where a rank unheard for kUnheardSeconds is journaled, and heard again.
  MpiWorkerSet(ProcessWorkerSet& local, const std::vector<RankHello>& ranks, OutputFile& output,
               Mailbox& mailbox, const ReusePlan& reuse, Journal* silences)
      : local_(local),
        output_(output),
        plan_(output.layout().points, output.layout().chunk_size),
        mailbox_(mailbox),
        ranks_(ranks),
        first_of_rank_(ranks.size(), 0),
        last_heard_(ranks.size(), WallSeconds()),
        heard_at_(ranks.size(), SteadySeconds()),
        unheard_(ranks.size(), false),
        silences_(silences),
        lost_(ranks.size(), false),
        goodbye_(ranks.size(), false),
        answered_(ranks.size(), 0),
        cpu_seconds_(ranks.size(), std::nan("")),
        reuse_(reuse) {
    if (!reuse_.empty()) {
      std::vector<uint64_t> bytes_per_point;
      for (const OutputDatasetInfo& r : output.layout().results)
        bytes_per_point.push_back(r.bytes_per_point);
      reused_rows_.emplace(reuse_, bytes_per_point);
    }
    int g = local_.size();
    for (size_t rank = 1; rank < ranks.size(); ++rank) {
      first_of_rank_[rank] = g;
      for (int i = 0; i < ranks[rank].workers; ++i, ++g) {
        RemoteWorker w;
        w.rank = int(rank);
        w.local = i;
        remote_.push_back(std::move(w));
      }
    }
  }

  int size() const override { return local_.size() + int(remote_.size()); }
  void Start(int g) override {
    if (g < local_.size()) return local_.Start(g);
    RemoteWorker& w = Remote(g);
    w.running = true;
    w.point.reset();
    w.pid = 0;
    w.log_tail.clear();
    if (lost_[size_t(w.rank)]) return LoseWorker(g);
    mailbox_.Send(w.rank, Writer(Wire::kStart).Put(int32_t(w.local)).bytes);
  }
  bool Running(int g) const override {
    return g < local_.size() ? local_.Running(g) : remote_[size_t(g - local_.size())].running;
  }
  bool Send(int g, const Message& message) override {
    if (g < local_.size()) return local_.Send(g, message);
    const RemoteWorker& w = Remote(g);
    if (!w.running) return false;
    mailbox_.Send(
        w.rank, Writer(Wire::kSend).Put(int32_t(w.local)).PutString(EncodeMessage(message)).bytes);
    return true;
  }
  void Kill(int g) override {
    if (g < local_.size()) return local_.Kill(g);
    const RemoteWorker& w = Remote(g);
    if (w.running && !lost_[size_t(w.rank)])
      mailbox_.Send(w.rank, Writer(Wire::kKill).Put(int32_t(w.local)).bytes);
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
  bool QueuesAhead(int g) const override { return g >= local_.size(); }
  void Reclaim(int g) override {
    const RemoteWorker& w = Remote(g);
    if (w.running && !lost_[size_t(w.rank)])
      mailbox_.Send(w.rank, Writer(Wire::kReclaim).Put(int32_t(w.local)).bytes);
  }
  bool EventsWaiting() const override { return !waiting_.empty(); }

  std::optional<WorkerEvent> Next(double timeout_seconds) override {
    const double deadline = timeout_seconds < 0 ? -1 : SteadySeconds() + timeout_seconds;
    for (;;) {
      if (std::optional<WorkerEvent> e = TakeWaiting()) return e;
      if (std::optional<WorkerEvent> e = local_.Next(0)) return Local(e);
      ReceiveAll();
      TakeContinue();
      CheckAnswers();
      LookForSilences();
      if (std::optional<WorkerEvent> e = TakeWaiting()) return e;
      if (parent_.Gone()) {
        WorkerEvent e;
        e.kind = WorkerEvent::Kind::kInterrupt;
        e.signal = SIGHUP;
        return Local(e);
      }
      const double left = deadline < 0 ? kNapCap : deadline - SteadySeconds();
      if (left <= 0) return std::nullopt;
      // Local events wake this at once; other ranks' are looked for between waits.
      if (std::optional<WorkerEvent> e = local_.Next(std::min(left, pacer_.Wait(kNapCap))))
        return Local(e);
    }
  }

  // After the scheduler's end: asks every rank still there for what it has left and its CPU
  // seconds, and takes the answers for up to `seconds` (a rank that died owes them for ever).
  // After an interrupt, only until the ranks' time to answer its ping is up: a rank that
  // answered is not lost, even if its goodbye is late (mpirun is about to kill it).
  RanksEnd WrapUp(double seconds) {
    silences_ = nullptr;  // the ranks stop sending their places; the stop record says who is lost
    for (size_t k = 1; k < ranks_.size(); ++k)
      if (!lost_[k]) mailbox_.Send(int(k), Writer(Wire::kWrapUp).bytes);
    if (answer_by_ > 0) seconds = std::max(0.0, answer_by_ - SteadySeconds());
    const double until = SteadySeconds() + seconds;
    Pacer pacer;
    auto owed = [&] {
      for (size_t k = 1; k < ranks_.size(); ++k)
        if (!lost_[k] && !goodbye_[k]) return true;
      return false;
    };
    while (owed() && SteadySeconds() < until) {
      if (!ReceiveAll())
        std::this_thread::sleep_for(std::chrono::duration<double>(pacer.Wait(kNapCap)));
    }
    RanksEnd end;
    end.cpu_seconds = cpu_seconds_;
    for (size_t k = 1; k < ranks_.size(); ++k) {
      const bool answered = judged_ping_ > 0 && answered_[k] >= judged_ping_;
      if (!lost_[k] && !goodbye_[k] && !answered) Lose(int(k));  // it never said goodbye
    }
    end.lost = lost_ranks_;
    return end;
  }

 private:
  RemoteWorker& Remote(int g) { return remote_.at(size_t(g - local_.size())); }
  const RemoteWorker& Remote(int g) const { return remote_.at(size_t(g - local_.size())); }

  int GlobalIndex(int rank, int local) const {
    if (local < 0 || local >= ranks_[size_t(rank)].workers)
      throw Error("mpi: rank " + std::to_string(rank) + " spoke of a worker it does not have");
    return first_of_rank_[size_t(rank)] + local;
  }

  // A local event passes through; an interrupt also has every rank judged by whether it answers
  // a ping: the one a SIGCONT just sent, or one sent now.
  std::optional<WorkerEvent> Local(std::optional<WorkerEvent> e) {
    if (e && e->kind == WorkerEvent::Kind::kInterrupt && answer_by_ == 0) {
      if (cont_ping_ == 0 || SteadySeconds() - cont_pinged_at_ > kContPingSeconds) {
        cont_ping_ = 0;
        Ping();
      }
      judged_ping_ = ping_;
      answer_by_ = pinged_at_ + kAnswerSeconds;
    }
    pacer_.Active();
    return e;
  }

  void Ping() {
    ++ping_;
    pinged_at_ = SteadySeconds();
    for (size_t k = 1; k < ranks_.size(); ++k)
      if (!lost_[k]) mailbox_.Send(int(k), Writer(Wire::kPing).Put(ping_).bytes);
  }

  // A SIGCONT (mpirun's first word when it aborts the job: see kAnswerSeconds) pings every rank,
  // so the answers are in by the TERM that follows. Looked for every few milliseconds.
  void TakeContinue() {
    const double now = SteadySeconds();
    if (cont_signals_.get() < 0 || now < next_cont_look_ || answer_by_ > 0) return;
    next_cont_look_ = now + 0.005;
    signalfd_siginfo info;
    bool continued = false;
    while (read(cont_signals_.get(), &info, sizeof info) == ssize_t(sizeof info)) continued = true;
    if (!continued) return;
    Ping();
    cont_ping_ = ping_;
    cont_pinged_at_ = pinged_at_;
  }

  // Under hydra (AbortDelay): a rank that has sent nothing for kUnheardSeconds is journaled
  // unheard (one record for all found at a look), so that if hydra kills the job, `sweep status`
  // names it; Accept journals it heard when it speaks again.
  void LookForSilences() {
    const double now = SteadySeconds();
    if (!silences_ || now < next_silence_look_) return;
    next_silence_look_ = now + kSilenceLookSeconds;
    JournalRecord unheard;
    unheard.type = "unheard";
    for (size_t k = 1; k < ranks_.size(); ++k) {
      if (lost_[k] || unheard_[k] || ranks_[k].workers == 0) continue;
      if (now - heard_at_[k] < kUnheardSeconds) continue;
      unheard_[k] = true;
      unheard.lost_ranks.push_back({int(k), ranks_[k].host, last_heard_[k]});
    }
    if (unheard.lost_ranks.empty()) return;
    unheard.time = WallSeconds();
    silences_->Append(unheard);
  }

  std::optional<WorkerEvent> TakeWaiting() {
    if (waiting_.empty()) return std::nullopt;
    WorkerEvent e = std::move(waiting_.front());
    waiting_.pop_front();
    return e;
  }

  // Takes every message that arrived; false if none.
  bool ReceiveAll() {
    letters_.clear();
    mailbox_.Poll(&letters_);
    for (Letter& letter : letters_) Accept(letter.from, letter.bytes);
    if (!letters_.empty()) pacer_.Active();
    return !letters_.empty();
  }

  // Once the ping's time is up, every rank that did not answer it is lost: its workers are gone
  // for the scheduler.
  void CheckAnswers() {
    if (answer_by_ == 0 || judged_ || SteadySeconds() < answer_by_) return;
    for (size_t k = 1; k < ranks_.size(); ++k)
      if (!lost_[k] && answered_[k] < judged_ping_) Lose(int(k));
    judged_ = true;  // asked once
  }

  void Lose(int rank) {
    lost_[size_t(rank)] = true;
    lost_ranks_.push_back({rank, ranks_[size_t(rank)].host, last_heard_[size_t(rank)]});
    for (int i = 0; i < ranks_[size_t(rank)].workers; ++i) {
      const int g = first_of_rank_[size_t(rank)] + i;
      if (Remote(g).running) LoseWorker(g);
    }
  }
  // The worker of a lost rank is gone: its exit, as from a SIGKILL.
  void LoseWorker(int g) {
    RemoteWorker& w = Remote(g);
    w.running = false;
    WorkerEvent e;
    e.kind = WorkerEvent::Kind::kExited;
    e.rank = g;
    e.wait_status = SIGKILL;
    waiting_.push_back(std::move(e));
  }

  // Rows are written before the events of their message are handed to the scheduler, which
  // then records their chunks: never recorded done before its rows are in the output. With
  // --reuse, rank 0 copies each chunk's reused points into its rows first (FillReused).
  void Accept(int from, std::string& bytes) {
    last_heard_[size_t(from)] = WallSeconds();
    heard_at_[size_t(from)] = SteadySeconds();
    if (unheard_[size_t(from)]) {
      unheard_[size_t(from)] = false;
      if (silences_) {
        JournalRecord heard;
        heard.type = "heard";
        heard.time = last_heard_[size_t(from)];
        heard.lost_ranks.push_back({from, ranks_[size_t(from)].host, heard.time});
        silences_->Append(heard);
      }
    }
    if (lost_[size_t(from)]) return;  // too late: its workers are accounted for
    Reader r{bytes};
    if (TypeOf(bytes) == Wire::kGoodbye) {
      cpu_seconds_[size_t(from)] = r.Get<double>();
      goodbye_[size_t(from)] = true;
      return;
    }
    if (TypeOf(bytes) == Wire::kPong) {
      answered_[size_t(from)] = std::max(answered_[size_t(from)], r.Get<uint32_t>());
      return;
    }
    if (TypeOf(bytes) != Wire::kBatch) throw Error("mpi: rank 0 got a message it does not take");
    std::vector<BatchEvent> events(r.Get<uint32_t>());
    for (BatchEvent& b : events) b = GetEvent(&r);
    if (r.Get<uint8_t>()) {
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
    }
    const uint32_t runs = r.Get<uint32_t>();
    for (uint32_t i = 0; i < runs; ++i) {
      const uint64_t first = r.Get<uint64_t>(), count = r.Get<uint64_t>();
      if (first >= plan_.chunks() || count > plan_.chunks() - first)
        throw Error("mpi: rank " + std::to_string(from) + " sent rows of chunks that do not exist");
      const uint64_t first_point = plan_.chunk(first).first;
      const uint64_t points = plan_.chunk(first + count - 1).end() - first_point;
      std::vector<char*> rows;  // by output: the run's rows
      for (size_t o = 0; o < output_.layout().results.size(); ++o) {
        const RawRegion region = output_.Rows(o, first_point, points);
        if (region.bytes > bytes.size() - r.at) throw Error("mpi: a chunk's rows are cut short");
        rows.push_back(bytes.data() + r.at);
        r.at += region.bytes;
      }
      if (reused_rows_) {
        for (uint64_t c = first; c < first + count; ++c) {
          const Chunk chunk = plan_.chunk(c);
          std::vector<char*> chunk_rows;
          for (size_t o = 0; o < rows.size(); ++o)
            chunk_rows.push_back(rows[o] + (chunk.first - first_point) *
                                               output_.layout().results[o].bytes_per_point);
          FillReused(chunk, chunk_rows);
        }
      }
      for (size_t o = 0; o < rows.size(); ++o) output_.WriteRows(o, first_point, points, rows[o]);
    }
    for (BatchEvent& b : events) {
      WorkerEvent& e = b.event;
      e.rank = GlobalIndex(from, b.worker);
      RemoteWorker& w = Remote(e.rank);
      if (e.kind == WorkerEvent::Kind::kExited) {
        w.running = false;
        w.point = b.point;
        w.log_tail = std::move(b.log_tail);
      } else if (e.message.type == MessageType::kDone) {
        TakeFilled(&e.message);
      } else if (e.message.type == MessageType::kReady && w.running) {
        w.pid = long(e.message.pid);  // before its rank's next places: `status` shows it busy
      }
      waiting_.push_back(std::move(e));
    }
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
    reuse_.ForEach(chunk.first, chunk.count, [&](size_t, const MatchRun& run) {
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
  Mailbox& mailbox_;
  std::vector<RankHello> ranks_;    // by MPI rank (0: this one, whose workers are local_)
  std::vector<int> first_of_rank_;  // the global index of each rank's first worker
  std::vector<RemoteWorker> remote_;
  std::deque<WorkerEvent> waiting_;  // taken from messages, not yet handed to the scheduler
  std::vector<Letter> letters_;
  // By rank: when it was last heard from (wall seconds; steady in heard_at_), whether it is
  // journaled unheard, whether it is lost, whether it said goodbye (WrapUp), the last ping it
  // answered and the CPU seconds it said at its goodbye.
  std::vector<double> last_heard_;
  std::vector<double> heard_at_;
  std::vector<bool> unheard_;
  Journal* silences_;
  double next_silence_look_ = 0;
  std::vector<bool> lost_;
  std::vector<bool> goodbye_;
  std::vector<uint32_t> answered_;
  std::vector<double> cpu_seconds_;
  std::vector<LostRank> lost_ranks_;
  // Pings, numbered from 1: the last one (ping_, sent at pinged_at_, steady seconds) and the one
  // a SIGCONT sent (cont_ping_, 0: none; at cont_pinged_at_). After an interrupt, the ranks that
  // have not answered judged_ping_ by answer_by_ (steady; 0: not interrupted) are lost; judged_:
  // that was done.
  uint32_t ping_ = 0, cont_ping_ = 0, judged_ping_ = 0;
  double pinged_at_ = 0, cont_pinged_at_ = 0;
  double answer_by_ = 0;
  bool judged_ = false;
  ScopedFd cont_signals_{ContinueSignals()};
  double next_cont_look_ = 0;
  ParentWatch parent_;
  Pacer pacer_;
  const ReusePlan& reuse_;
  std::optional<ReusedRows> reused_rows_;
  std::map<uint64_t, Filled> filled_;  // by chunk, from its rows to its Done
};

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
std::vector<RankHello> GatherHellos(Mailbox& mailbox, int ranks, int own_workers,
                                    const PreparedRun& run, WorkerHosts* hosts,
                                    std::map<int, std::map<std::string, std::string>>* paths) {
  const std::vector<std::string> own_hashes = HashTexts(*run.input_guard);
  std::vector<RankHello> hellos(static_cast<size_t>(ranks));
  hellos[0] = {own_workers, HostName()};
  *hosts = WorkerHosts{HostName(), {}, {}};
  bool any_device = !run.gpu_devices.empty();
  std::vector<std::string> devices;  // by global worker
  for (int w = 0; w < own_workers; ++w) devices.push_back(GpuOf(run.gpu_devices, w));
  int first = own_workers;  // the global index of rank k's first worker
  for (int k = 1; k < ranks; ++k) {
    const nlohmann::json hello = nlohmann::json::parse(mailbox.Receive(k).substr(1));
    const std::string host = hello.value("host", "?");
    if (hello.contains("error")) {
      throw Error("mpi: rank " + std::to_string(k) + " on " + host +
                      " cannot run: " + hello["error"].get<std::string>(),
                  ExitCode(hello.value("code", int(ExitCode::kFailure))));
    }
    if (hello.contains("paths") && !hello["paths"].empty())
      (*paths)[k] = hello["paths"].get<std::map<std::string, std::string>>();
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
    std::vector<std::string> theirs = hello.value("devices", std::vector<std::string>{});
    theirs.resize(size_t(hellos[size_t(k)].workers));
    for (const std::string& d : theirs) any_device = any_device || !d.empty();
    devices.insert(devices.end(), theirs.begin(), theirs.end());
  }
  if (any_device) hosts->devices = std::move(devices);
  return hellos;
}

// Tells every other rank to stop and exit with `code`.
void FinishAll(Mailbox& mailbox, int ranks, int code) {
  for (int k = 1; k < ranks; ++k) mailbox.Send(k, Writer(Wire::kFinish).Put(int32_t(code)).bytes);
}

int RunRankZero(const RunRequest& request, int ranks, Mailbox& mailbox) {
  std::unique_ptr<PreparedRun> run;
  try {
    run = PrepareRun(request);
  } catch (const Error& e) {
    FinishAll(mailbox, ranks, int(e.code()));  // the others wait in setup: release them
    throw;
  }
  // The description, not the YAML, which every rank would parse again. It carries the output's
  // path as the run set it, and the paths rank 0 reads its inputs from (`--input` may have moved
  // one), so every rank reads the same.
  const double aggregate = AggregateSeconds(ranks);
  nlohmann::json setup = {{"code", 0},
                          {"sweep", ConfigToJson(run->config)},
                          {"seeds_by_index", run->space->seed_rule() == SeedRule::kPointIndex},
                          {"layout", EncodeRowLayout(run->file->layout())},
                          {"aggregate_seconds", aggregate}};
  // Which points the other ranks leave to rank 0, which alone reads the outputs of --reuse.
  if (!run->reuse.empty()) setup["reuse"] = run->reuse.Encode();
  const std::string setup_bytes = Writer(Wire::kSetup).bytes + setup.dump();
  for (int k = 1; k < ranks; ++k) mailbox.Send(k, setup_bytes);

  std::unique_ptr<Progress> progress = MakeProgress(request.progress, stdout);
  std::optional<RunRecorder> recorder;
  bool interrupted = false;
  std::string stop_message;
  StopDetails details;
  try {
    WorkerHosts hosts;
    std::map<int, std::map<std::string, std::string>> paths;
    const std::vector<RankHello> workers =
        GatherHellos(mailbox, ranks, run->workers, *run, &hosts, &paths);
    int total = 0;
    for (const RankHello& rank : workers) total += rank.workers;
    JournalStart(*run, total, hosts, paths);
    recorder.emplace(*run->space, *run->ledger, *run->journal, *progress, run->PointsTodo(),
                     run->todo.size(), total, hosts, &*run->filler);
    recorder->GuardInputs(&*run->input_guard, run->output_path);
    recorder->RecordReuseFrom(&run->reuse);
    recorder->GuardOutput(&*run->file);
    recorder->ShowWorkersIn(WorkerBoardPath(run->output_path, run->shard), run->CommandName());
    LocalWorkers local(run->WorkerContextFor(run->output_path), run->workers);
    MpiWorkerSet set(local.set(), workers, *run->file, mailbox, run->reuse,
                     UnderHydra() ? &*run->journal : nullptr);
    if (!run->todo.empty()) {
      run->filler->StartBackground();
      SchedulerOptions options = OptionsFor(*run);
      // Rank 0's time is the whole job's: every worker gets runs of chunks, and each run lasts
      // several aggregation periods, so a worker's next run reaches it before it ends.
      options.batch = true;
      options.target_assignment_seconds =
          std::max(options.target_assignment_seconds, 4 * aggregate);
      Scheduler scheduler(set, *run->plan, run->todo, options, *recorder);
      interrupted = scheduler.Run() == Scheduler::Outcome::kInterrupted;
    }
    const RanksEnd end = set.WrapUp(10.0);
    details.cpu_seconds = end.cpu_seconds;
    details.lost_ranks = end.lost;
  } catch (const std::exception& e) {
    stop_message = e.what();
  }
  int code = int(ExitCode::kFailure);
  try {
    if (!recorder) {
      const WorkerHosts hosts{HostName(), {}, {}};
      recorder.emplace(*run->space, *run->ledger, *run->journal, *progress, 0, 0, 1, hosts);
      JournalStart(*run, run->workers, hosts);
    }
    code = FinishRun(*run, request, *recorder, *progress, interrupted, stop_message, details);
  } catch (const Error& e) {
    FinishAll(mailbox, ranks, int(e.code()));
    throw;
  }
  FinishAll(mailbox, ranks, code);
  return code;
}

// ---------------------------------------------------------------------------------------------
// Rank k > 0: setting up.

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
  std::vector<std::string> gpu_devices;  // this node's (driver/gpus.h)
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
  // The paths that name environment variables are this node's (`${TMPDIR}/sweep`).
  ExpandPaths(&node->config, kNodePaths);
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
  context.gpu_devices = NodeGpus(node->config.execution, environ);
  node->gpu_devices = context.gpu_devices;
  node->workers.emplace(context,
                        NodeWorkers(request.workers, node->config.execution, context.gpu_devices));
}

// ---------------------------------------------------------------------------------------------
// Rank k > 0.

// Relays between rank 0 and this rank's workers: holds each worker's next assignment until its
// current one ends, and gathers the workers' events into one message per period.
class Node {
 public:
  Node(NodeSweep& sweep, Mailbox& mailbox, double aggregate_seconds)
      : sweep_(sweep),
        set_(sweep.workers->set()),
        mailbox_(mailbox),
        plan_(sweep.layout.points, sweep.layout.chunk_size),
        aggregate_seconds_(aggregate_seconds),
        places_seconds_(std::max(kBoardSeconds / 2, aggregate_seconds)),
        workers_(size_t(set_.size())) {}

  // Until rank 0 says kFinish: returns 0. A rank whose launcher died returns kInterrupted.
  int Run() {
    for (;;) {
      letters_.clear();
      mailbox_.Poll(&letters_);
      for (const Letter& letter : letters_) {
        pacer_.Active();
        if (letter.from != 0) throw Error("mpi: a rank got a message from another than rank 0");
        if (std::optional<int> code = Obey(letter.bytes)) return *code;
      }
      if (parent_.Gone()) return int(ExitCode::kInterrupted);
      const double now = SteadySeconds();
      if (!events_.empty() && now >= send_by_) Flush();
      if (set_.size() > 0 && now >= next_places_ && !wrapped_up_) Flush();
      double wait = pacer_.Wait(Starving() ? kUrgentNapCap : kNapCap);
      if (!events_.empty()) wait = std::min(wait, std::max(0.0, send_by_ - now));
      if (std::optional<WorkerEvent> e = set_.Next(wait)) {
        pacer_.Active();
        Take(*e);
        // Whatever else is ready goes into the same message.
        for (int more = 0; more < 256; ++more) {
          std::optional<WorkerEvent> next = set_.Next(0);
          if (!next) break;
          Take(*next);
        }
        if (flush_now_ || row_bytes_ >= kBatchRowBytes) Flush();
      }
    }
  }

 private:
  struct Assignment {
    uint64_t first = 0, count = 0;
  };
  // Each worker's assignments: the one it computes (sent to it) and the one held behind it.
  struct Worker {
    std::optional<Assignment> current;
    uint64_t next = 0;  // of current: the chunk it computes
    std::optional<Assignment> held;
  };

  // A started worker with nothing to compute waits on rank 0: look for its orders often.
  bool Starving() const {
    for (int w = 0; w < set_.size(); ++w)
      if (set_.Running(w) && ready_.count(w) && !workers_[size_t(w)].current) return true;
    return false;
  }

  std::optional<int> Obey(const std::string& bytes) {
    Reader r{bytes};
    switch (TypeOf(bytes)) {
      case Wire::kStart: {
        const int w = Index(r.Get<int32_t>());
        workers_[size_t(w)] = Worker{};
        ready_.erase(w);
        set_.Start(w);
        return std::nullopt;
      }
      case Wire::kSend: {
        const int w = Index(r.Get<int32_t>());
        const std::string message = r.GetString();
        std::optional<Message> m = DecodeMessage(message.data(), message.size());
        if (!m) throw Error("mpi: a message from rank 0 is malformed");
        Worker& worker = workers_[size_t(w)];
        if (m->type == MessageType::kAssign) {
          if (!worker.current) {
            worker.current = Assignment{m->chunk, m->count};
            worker.next = m->chunk;
          } else if (!worker.held) {
            worker.held = Assignment{m->chunk, m->count};
            return std::nullopt;
          } else {
            throw Error("mpi: rank 0 sent a third assignment to a worker");
          }
        } else {
          worker.held.reset();
        }
        set_.Send(w, *m);  // a worker gone meanwhile: its exit event is on its way
        return std::nullopt;
      }
      case Wire::kKill: {
        const int w = Index(r.Get<int32_t>());
        workers_[size_t(w)].held.reset();
        set_.Kill(w);
        return std::nullopt;
      }
      case Wire::kReclaim: {
        const int w = Index(r.Get<int32_t>());
        Worker& worker = workers_[size_t(w)];
        if (worker.held) {
          BatchEvent b;
          b.worker = w;
          b.event.message = Message::Returned(worker.held->first, worker.held->count);
          worker.held.reset();
          Add(std::move(b));
          Flush();
        }
        return std::nullopt;
      }
      case Wire::kPing:
        Flush();
        mailbox_.Send(0, Writer(Wire::kPong).Put(r.Get<uint32_t>()).bytes);
        return std::nullopt;
      case Wire::kWrapUp:
        Flush();
        wrapped_up_ = true;
        mailbox_.Send(0, Writer(Wire::kGoodbye).Put(ProcessCpuSeconds()).bytes);
        return std::nullopt;
      case Wire::kFinish:
        return r.Get<int32_t>();
      default:
        throw Error("mpi: a rank got a message it does not take");
    }
  }

  int Index(int w) const {
    if (w < 0 || w >= set_.size())
      throw Error("mpi: rank 0 named a worker this rank does not have");
    return w;
  }

  void Take(const WorkerEvent& e) {
    if (e.kind == WorkerEvent::Kind::kInterrupt) return;  // rank 0 decides; mpirun tells it too
    BatchEvent b;
    b.worker = e.rank;
    b.event = e;
    Worker& worker = workers_[size_t(e.rank)];
    if (e.kind == WorkerEvent::Kind::kExited) {
      b.point = set_.CurrentPoint(e.rank);
      b.log_tail = set_.LogTail(e.rank, 2048);
      worker = Worker{};  // what it held goes back with its exit (driver/scheduler.h)
      ready_.erase(e.rank);
      flush_now_ = true;
    } else if (e.message.type == MessageType::kDone || e.message.type == MessageType::kFailed) {
      if (e.message.type == MessageType::kDone) {
        done_.push_back(e.message.chunk);
        const Chunk chunk = plan_.chunk(e.message.chunk);
        for (size_t o = 0; o < sweep_.layout.results.size(); ++o)
          row_bytes_ += sweep_.staging->file().Rows(o, chunk.first, chunk.count).bytes;
      } else {
        flush_now_ = true;
      }
      if (worker.current && ++worker.next == worker.current->first + worker.current->count) {
        worker.current.reset();
        if (worker.held) {
          // The worker goes straight on with the run held for it; rank 0 learns of it in time.
          worker.current = worker.held;
          worker.next = worker.held->first;
          worker.held.reset();
          set_.Send(e.rank, Message::Assign(worker.current->first, worker.current->count));
        } else {
          flush_now_ = true;  // it waits for rank 0 now
        }
      }
    } else {
      if (e.message.type == MessageType::kReady) ready_.insert(e.rank);
      flush_now_ = true;  // ready (rank 0 hands out its first run) or fatal
    }
    Add(std::move(b));
  }

  void Add(BatchEvent b) {
    if (events_.empty()) send_by_ = SteadySeconds() + aggregate_seconds_;
    events_.push_back(std::move(b));
  }

  // Sends what was gathered (maybe nothing: an answer, or the places alone).
  void Flush() {
    Writer w(Wire::kBatch);
    w.Put(uint32_t(events_.size()));
    for (const BatchEvent& b : events_) PutEvent(&w, b);
    const double now = SteadySeconds();
    const bool places = now >= next_places_;
    w.Put(uint8_t(places));
    if (places) {
      next_places_ = now + places_seconds_;
      w.Put(uint32_t(set_.size()));
      for (int i = 0; i < set_.size(); ++i) {
        w.Put(int64_t(set_.Running(i) ? set_.pid(i) : 0));
        w.Put(set_.CurrentPoint(i).value_or(Scoreboard::kIdle));
      }
    }
    const std::vector<std::pair<uint64_t, uint64_t>> runs = Runs(std::move(done_));
    w.Put(uint32_t(runs.size()));
    for (const auto& [first, count] : runs) {
      w.Put(first).Put(count);
      const uint64_t first_point = plan_.chunk(first).first;
      const uint64_t points = plan_.chunk(first + count - 1).end() - first_point;
      OutputFile& staged = sweep_.staging->file();
      for (size_t o = 0; o < sweep_.layout.results.size(); ++o) {
        const size_t at = w.bytes.size();
        w.bytes.resize(at + staged.Rows(o, first_point, points).bytes);
        staged.ReadRows(o, first_point, points, w.bytes.data() + at);
      }
      // Sent on: give the memory back (the run's points, as one span).
      sweep_.staging->Free(Chunk{first, first_point, points});
    }
    mailbox_.Send(0, std::move(w.bytes));
    events_.clear();
    done_.clear();
    row_bytes_ = 0;
    flush_now_ = false;
  }

  NodeSweep& sweep_;
  ProcessWorkerSet& set_;
  Mailbox& mailbox_;
  Plan plan_;
  double aggregate_seconds_;
  double places_seconds_;
  std::vector<Worker> workers_;
  std::set<int> ready_;             // started workers that said Ready
  std::vector<BatchEvent> events_;  // gathered, to send by send_by_ (steady seconds)
  double send_by_ = 0;
  std::vector<uint64_t> done_;  // the done chunks among them, whose rows go too
  uint64_t row_bytes_ = 0;
  bool flush_now_ = false;
  double next_places_ = 0;
  bool wrapped_up_ = false;
  std::vector<Letter> letters_;
  ParentWatch parent_;
  Pacer pacer_;
};

// Each of this node's workers' device, by worker ("" for none).
std::vector<std::string> WorkerDevices(NodeSweep& sweep) {
  std::vector<std::string> devices;
  for (int w = 0; w < sweep.workers->set().size(); ++w)
    devices.push_back(GpuOf(sweep.gpu_devices, w));
  return devices;
}

int RunNode(const RunRequest& request, Mailbox& mailbox) {
  const std::string first = mailbox.Receive(0);
  if (TypeOf(first) == Wire::kFinish) return 0;  // rank 0 stopped before the run: it says why
  const nlohmann::json setup = nlohmann::json::parse(first.substr(1));
  NodeSweep sweep;
  try {
    SetUpNode(request, setup, &sweep);
  } catch (const Error& e) {
    mailbox.Send(
        0, Writer(Wire::kHello).bytes +
               nlohmann::json({{"error", e.what()}, {"code", int(e.code())}, {"host", HostName()}})
                   .dump());
    const std::string finish = mailbox.Receive(0);
    return TypeOf(finish) == Wire::kFinish ? 0 : 1;
  } catch (const std::exception& e) {
    mailbox.Send(0, Writer(Wire::kHello).bytes +
                        nlohmann::json({{"error", e.what()}, {"host", HostName()}}).dump());
    const std::string finish = mailbox.Receive(0);
    return TypeOf(finish) == Wire::kFinish ? 0 : 1;
  }
  mailbox.Send(
      0, Writer(Wire::kHello).bytes + nlohmann::json({{"workers", sweep.workers->set().size()},
                                                      {"host", HostName()},
                                                      {"pid", getpid()},
                                                      {"input_xxh3", HashTexts(*sweep.input_guard)},
                                                      {"paths", ExpandedPaths(sweep.config)},
                                                      {"devices", WorkerDevices(sweep)}})
                                          .dump());
  Node node(sweep, mailbox, setup.value("aggregate_seconds", AggregateSeconds(2)));
  return node.Run();
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
  // SIGCONT likewise, for rank 0's signalfd (ContinueSignals): blocked, it still continues a
  // stopped process. SIGCHLD too: the worker set reaps its workers' orphans when the signal
  // comes through its signalfd, and one of MPI's threads would take it and drop it.
  const AbortDelay abort_delay;  // before MPI_Init's threads and the signals blocked below
  sigset_t stops;
  sigemptyset(&stops);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCONT, SIGCHLD}) sigaddset(&stops, s);
  sigprocmask(SIG_BLOCK, &stops, nullptr);
  MPI_Init(nullptr, nullptr);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  // Errors come back as codes where they can (a peer gone), rather than aborting the job.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int code = 0;
  try {
    RunRequest on_every_rank = request;
    on_every_rank.ranks = ranks;
    std::vector<int> peers;
    for (int k = 1; k < ranks; ++k) peers.push_back(k);
    if (rank > 0) peers = {0};
    Mailbox mailbox(peers);
    try {
      code =
          rank == 0 ? RunRankZero(on_every_rank, ranks, mailbox) : RunNode(on_every_rank, mailbox);
    } catch (...) {
      mailbox.Close(1.0);
      throw;
    }
    mailbox.Close(rank == 0 ? 5.0 : 1.0);
  } catch (...) {
    MPI_Finalize();
    throw;
  }
  MPI_Finalize();
  return code;
}

}  // namespace sweep
