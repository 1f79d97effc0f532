// End-to-end tests of `sweep status` on live runs: each worker's row (from the run's worker board),
// and `--watch`, through a pipe and on a real terminal (a pty).
#include "driver/status.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <regex>
#include <set>

#include "io/clock.h"
#include "io/journal.h"
#include "io/output_file.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A worker's row of the status text: `worker pid state chunk point on-chunk points/s ETA`.
struct Row {
  int worker = -1;
  long pid = 0;
  std::string state;
  std::string chunk, point;
};

// The worker rows of a block of status text.
std::vector<Row> WorkerRows(const std::string& block) {
  std::vector<Row> rows;
  bool table = false;
  for (const std::string& line : Lines(block)) {
    if (line.find("worker      pid  state") != std::string::npos) {
      table = true;
      continue;
    }
    std::istringstream in(line);
    Row row;
    if (!table || !(in >> row.worker >> row.pid >> row.state >> row.chunk >> row.point)) {
      table = false;
      continue;
    }
    rows.push_back(row);
  }
  return rows;
}

// The blocks of a `--watch` through a pipe: each starts with a `--- HH:MM:SS` line.
std::vector<std::string> Blocks(const std::string& out) {
  std::vector<std::string> blocks;
  for (const std::string& line : Lines(out)) {
    if (line.rfind("--- ", 0) == 0) {
      blocks.emplace_back();
    } else if (!blocks.empty()) {
      blocks.back() += line + "\n";
    }
  }
  return blocks;
}

// Each busy worker's point lies in the chunk it is said to compute.
void ExpectPointsInTheirChunks(const std::vector<Row>& rows, uint64_t chunk_size) {
  for (const Row& row : rows) {
    if (row.state != "busy" || row.point == "-") continue;
    EXPECT_EQ(std::stoull(row.point) / chunk_size, std::stoull(row.chunk))
        << "point " << row.point << " in chunk " << row.chunk;
  }
}

// The sweep these tests watch: 3000 points in 125 chunks, the second half held at `gate` until the
// watch has shown what the test looks for.
std::string WatchedConfig(const TempDir& dir, const Gate& gate) {
  return HeldConfig(dir, gate, 1500, 24, 750, "sleep_ms: 1", "repeat: 2\n");
}

TEST(StatusWatchTest, ThroughAPipeItPrintsABlockPerRefreshWithWorkerRowsUntilTheRunEnds) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", WatchedConfig(dir, gate), "-q"}, dir.path());
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir / "out.h5.workers"); }))
      << run.err();
  SweepProcess watching({"status", "out.h5", "--watch", "--interval", "0.1"}, dir.path());
  const auto blocks_with_workers = [&] {
    size_t n = 0;
    for (const std::string& block : Blocks(watching.out())) n += !WorkerRows(block).empty();
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return blocks_with_workers() >= 3; })) << watching.out();
  gate.Open();
  const int watch_code = watching.Wait();
  const std::string watch_out = watching.out();
  // It returned once the run had ended: the run had journaled its stop by then.
  EXPECT_FALSE(JournalRecords(dir / "out.h5.journal", "stopped").empty());
  EXPECT_EQ(run.Wait(), 0) << run.err();
  EXPECT_EQ(watch_code, 0) << watching.err();
  EXPECT_EQ(watch_out.find('\x1b'), std::string::npos) << "escape codes in a pipe";

  const uint64_t chunk_size = ReadOutputLayout(dir / "out.h5").chunk_size;
  const std::vector<std::string> blocks = Blocks(watch_out);
  ASSERT_GE(blocks.size(), 4u) << watch_out;
  size_t with_workers = 0;
  std::set<std::string> chunks_seen;
  for (size_t b = 0; b + 1 < blocks.size(); ++b) {
    const std::vector<Row> rows = WorkerRows(blocks[b]);
    if (rows.empty()) continue;
    ++with_workers;
    EXPECT_NE(blocks[b].find("running now (pid " + std::to_string(run.pid())), std::string::npos)
        << blocks[b];
    for (const Row& row : rows) {
      EXPECT_TRUE(row.worker == 0 || row.worker == 1) << blocks[b];
      EXPECT_GT(row.pid, 0);
      EXPECT_NE(row.pid, run.pid());
      if (row.state == "busy") chunks_seen.insert(row.chunk);
    }
    ExpectPointsInTheirChunks(rows, chunk_size);
  }
  EXPECT_GE(with_workers, 3u) << watch_out;
  EXPECT_GE(chunks_seen.size(), 2u) << "the rows did not move on";
  // The last block is the final state: all done, nothing running, no workers.
  const std::string& last = blocks.back();
  EXPECT_NE(last.find("done 125, pending 0, failed 0 chunks"), std::string::npos) << last;
  EXPECT_EQ(last.find("running now"), std::string::npos) << last;
  EXPECT_TRUE(WorkerRows(last).empty()) << last;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.workers")) << "the run left its board";

  // On a run that is over, --watch prints the state once and returns at once.
  const RunResult after = RunSweep({"status", "out.h5", "--watch"}, dir.path());
  EXPECT_EQ(after.code, 0);
  EXPECT_EQ(Blocks(after.out).size(), 1u) << after.out;
}

// Runs `sweep ARGS` in `dir` on the slave side of a pty of 40 rows and 150 columns (Python's pty
// module, the /usr/bin/python3 of the system); returns what the terminal received. Once the
// terminal has received `redraws` redraws (`ESC[J`), it opens `gate`.
std::string RunOnATerminal(const TempDir& dir, const std::vector<std::string>& args, int* code,
                           const Gate& gate, int redraws) {
  WriteFile(dir / "on_a_pty.py", R"(import fcntl, os, struct, subprocess, sys, termios
master, slave = os.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 150, 0, 0))
gate, redraws = sys.argv[2], int(sys.argv[3])
child = subprocess.Popen(sys.argv[4:], stdin=slave, stdout=slave, stderr=slave)
os.close(slave)
received = b""
while True:
    try:
        data = os.read(master, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not data:
        break
    received += data
    if received.count(b"\x1b[J") >= redraws and not os.path.exists(gate):
        open(gate, "w").close()
code = child.wait()
open(sys.argv[1], "wb").write(received)
sys.exit(code)
)");
  std::string command = "cd '" + dir.path() + "' && /usr/bin/python3 on_a_pty.py received '" +
                        gate.file() + "' " + std::to_string(redraws) + " '" +
                        std::string(SWEEP_BINARY) + "'";
  for (const std::string& a : args) command += " '" + a + "'";
  const int status = std::system(command.c_str());
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return ReadFile(dir / "received");
}

TEST(StatusWatchTest, OnATerminalEachRefreshRedrawsThePreviousInPlace) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", WatchedConfig(dir, gate), "-q"}, dir.path());
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir / "out.h5.workers"); }))
      << run.err();
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();  // both workers busy in every frame until it opens
  int code = -1;
  const std::string received =
      RunOnATerminal(dir, {"status", "out.h5", "--watch", "--interval", "0.1"}, &code, gate, 3);
  EXPECT_EQ(code, 0) << received;
  EXPECT_EQ(run.Wait(), 0);

  // Frames between redraws: `ESC[nF` (to the start of the line n lines up) then `ESC[J` (erase
  // to the end of the screen), where n must be the previous frame's line count.
  const std::regex redraw("\x1b\\[(\\d+)F\x1b\\[J");
  std::vector<std::string> frames;
  std::vector<int> ups;
  size_t at = 0;
  for (auto it = std::sregex_iterator(received.begin(), received.end(), redraw);
       it != std::sregex_iterator(); ++it) {
    frames.push_back(received.substr(at, size_t(it->position()) - at));
    ups.push_back(std::stoi((*it)[1]));
    at = size_t(it->position() + it->length());
  }
  frames.push_back(received.substr(at));
  ASSERT_GE(ups.size(), 3u) << received;
  for (size_t i = 0; i < ups.size(); ++i) {
    EXPECT_EQ(ups[i], std::count(frames[i].begin(), frames[i].end(), '\n'))
        << "redraw " << i << " does not go back to the start of the frame before:\n"
        << frames[i];
  }
  size_t with_workers = 0;
  for (const std::string& frame : frames) {
    EXPECT_EQ(frame.rfind("sweep status --watch, every 0.1s", 0), 0u) << frame;
    EXPECT_EQ(frame.find("\x1b"), std::string::npos) << "other escapes in a frame";
    std::string plain = frame;
    plain.erase(std::remove(plain.begin(), plain.end(), '\r'), plain.end());
    with_workers += !WorkerRows(plain).empty();
  }
  EXPECT_GE(with_workers, 3u) << received;
  EXPECT_NE(frames.back().find("done 125, pending 0, failed 0 chunks"), std::string::npos)
      << frames.back();
  EXPECT_EQ(frames.back().find("running now"), std::string::npos) << frames.back();
  EXPECT_EQ(received.find("--- "), std::string::npos) << "a pipe's block headers on a terminal";
}

// A killed run leaves its last board; status does not believe it, since no run holds the lock.
TEST(StatusTest, ABoardLeftByAKilledRunIsNotBelieved) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", WatchedConfig(dir, gate), "-q"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  nlohmann::json live;
  ASSERT_TRUE(WaitUntil([&] {
    live = nlohmann::json::parse(RunSweep({"status", "out.h5", "--json"}, dir.path()).out);
    return live["workers"].size() == 2;
  })) << live.dump();
  EXPECT_EQ(live["live"], true);
  run.Signal(SIGKILL);
  run.Wait();
  ASSERT_TRUE(LeftoversAfter(run.tag()).empty());
  ASSERT_TRUE(std::filesystem::exists(dir / "out.h5.workers"));
  const RunResult status = RunSweep({"status", "out.h5", "--json"}, dir.path());
  const nlohmann::json after = nlohmann::json::parse(status.out);
  EXPECT_EQ(after["live"], false);
  EXPECT_TRUE(after["workers"].empty()) << after.dump();
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_EQ(text.out.find("worker"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("not running; `sweep resume out.h5` finishes it"), std::string::npos)
      << text.out;
}

// Each live shard has its own board: its row lists its own workers, on its own chunks.
TEST(StatusTest, EachLiveShardShowsItsWorkers) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = WatchedConfig(dir, gate);
  SweepProcess shard0({"run", config, "-q", "--shard", "0/2", "-j", "1"}, dir.path());
  SweepProcess shard1({"run", config, "-q", "--shard", "1/2", "-j", "1"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << shard0.err() << shard1.err();
  nlohmann::json status;
  const bool both = WaitUntil([&] {
    const RunResult r = RunSweep({"status", "out.h5", "--json"}, dir.path());
    if (r.code != 0) return false;
    status = nlohmann::json::parse(r.out);
    if (status["shards"].size() != 2) return false;
    for (const auto& shard : status["shards"])
      if (shard["workers"].empty() || shard["workers"][0]["chunk"].is_null()) return false;
    return true;
  });
  ASSERT_TRUE(both) << status.dump(2);
  for (const auto& shard : status["shards"]) {
    EXPECT_EQ(shard["live"], true);
    ASSERT_EQ(shard["workers"].size(), 1u);
    const auto& worker = shard["workers"][0];
    EXPECT_EQ(worker["state"], "busy");
    EXPECT_EQ(worker["chunk"].get<uint64_t>() % 2, shard["index"].get<uint64_t>()) << shard;
    EXPECT_GT(worker["pid"].get<long>(), 0);
  }
  EXPECT_TRUE(status["workers"].empty());  // no plain run
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("shard 0/2: done"), std::string::npos) << text.out;
  gate.Open();
  EXPECT_EQ(shard0.Wait(), 0);
  EXPECT_EQ(shard1.Wait(), 0);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.workers.shard-0-of-2"));
}

// A journal's incomplete last record is named as such, not blamed on a kill: a full disk cuts one
// too (the note said "cut by a kill" after ENOSPC).
TEST(StatusTest, AnIncompleteLastJournalRecordIsNotBlamedOnAKill) {
  TempDir dir;
  WriteFile(dir / "c.yaml",
            "name: c\nkernel: {name: square}\nparameters: {x: {range: [0, 40]}}\n"
            "execution: {chunk_size: 10}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "c.yaml", "-q"}, dir.path()).code, 0);
  std::ofstream(dir / "out.h5.journal", std::ios::app | std::ios::binary) << "\xC1\x44\x34";
  const RunResult status = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_EQ(status.code, 0) << status.err;
  EXPECT_NE(status.out.find("  note: the journal's last record is incomplete (a kill or a full "
                            "disk stopped its write) and is ignored\n"),
            std::string::npos)
      << status.out;
  ASSERT_EQ(RunSweep({"report", "out.h5", "-o", "r.html"}, dir.path()).code, 0);
  EXPECT_NE(ReadFile(dir / "r.html")
                .find("The journal's last record is incomplete (a kill or a full disk stopped its "
                      "write) and is ignored."),
            std::string::npos);
}

// An MPI job that MPICH's mpiexec killed leaves no stop record: the ranks its journal still says
// unheard at its end are the ones lost, and stopped is its last record's time. A rank heard again
// is not named, nor is one unheard in a job that then wrote its stop, nor in an earlier run.
TEST(StatusTest, AJobKilledWithoutAStopRecordLostTheRanksStillUnheard) {
  TempDir dir;
  WriteFile(dir / "c.yaml",
            "name: c\nkernel: {name: square}\nparameters: {x: {range: [0, 40]}}\n"
            "execution: {chunk_size: 10}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "c.yaml", "-q"}, dir.path()).code, 0);
  const auto append = [&](const std::string& type, double time, std::vector<LostRank> ranks) {
    JournalRecord r;
    r.type = type;
    r.time = time;
    r.lost_ranks = std::move(ranks);
    Journal::OpenForAppend(dir / "out.h5.journal").Append(r);
  };
  const auto lost = [&] {
    std::set<int> ranks;
    const nlohmann::json status = StatusJson(dir);
    for (const nlohmann::json& l : status["lost_ranks"]) ranks.insert(l["rank"].get<int>());
    return ranks;
  };
  const double t = WallSeconds();
  append("started", t, {});
  append("unheard", t + 1, {{3, "node-3", t + 0.5}, {5, "node-5", t + 0.25}});
  append("heard", t + 2, {{5, "node-5", t + 2}});
  append("unheard", t + 3, {{7, "node-7", t + 2.5}});
  append("heard", t + 4, {{7, "node-7", t + 4}});
  EXPECT_EQ(lost(), std::set<int>{3});
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["lost_ranks"][0]["host"], "node-3");
  EXPECT_EQ(status["lost_ranks"][0]["last_heard"], t + 0.5);
  EXPECT_EQ(status["lost_ranks"][0]["stopped"], t + 4);
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("  lost: MPI rank 3 on node-3, last heard from "), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("; the job was killed after "), std::string::npos) << text.out;
  append("stopped", t + 5, {});
  EXPECT_EQ(lost(), std::set<int>{}) << "the job wrote its stop: none was lost";
  append("started", t + 6, {});
  append("unheard", t + 7, {{2, "node-2", t + 6.5}});
  EXPECT_EQ(lost(), std::set<int>{2});
  append("started", t + 8, {});
  EXPECT_EQ(lost(), std::set<int>{}) << "a later run started";
}

// A journal overwritten with foreign bytes: every reader names the file and says how to go on,
// and doing what it says finishes the sweep from /chunks, every done chunk verified.
TEST(StatusTest, AForeignJournalIsNamedWithTheWayForward) {
  TempDir dir;
  WriteFile(dir / "c.yaml",
            "name: c\nkernel: {name: square}\nparameters: {x: {range: [0, 40]}}\n"
            "execution: {chunk_size: 10}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", "c.yaml", "-q"}, dir.path()).code, 0);
  WriteFile(dir / "out.h5.journal", "\\documentclass{article}\n% not a journal\n");
  const std::string journal = dir / "out.h5.journal";
  // The journal by the name the command was given its output (resume makes it absolute).
  const auto expected = [](const std::string& name) {
    return "journal " + name +
           ": not a sweep journal (damaged or overwritten); move it aside (mv " + name + " " +
           name +
           ".damaged) and `sweep resume` goes on, verifying every done chunk of the output "
           "against its checksum\n";
  };
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"status", "out.h5"}, {"report", "out.h5"}, {"resume", "out.h5", "-q"}}) {
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 2) << args[0];
    EXPECT_TRUE(r.err.find(expected("out.h5.journal")) != std::string::npos ||
                r.err.find(expected(journal)) != std::string::npos)
        << args[0] << ": " << r.err;
  }
  ASSERT_EQ(Shell("mv " + journal + " " + journal + ".damaged"), 0);
  const RunResult resume = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(resume.code, 0) << resume.err;
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["done"], 4) << status.dump();
  EXPECT_EQ(ReadFile(dir / "out.h5.journal.damaged"),
            "\\documentclass{article}\n% not a journal\n");
}

}  // namespace
}  // namespace sweep
