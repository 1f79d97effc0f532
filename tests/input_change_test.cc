// An input that changes while a run reads it: the run stops (or, for a change only the bytes can
// show, revokes what it computed), and no chunk computed from changed data stays recorded done.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>

#include "io/clock.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

constexpr int kValues = 1000;
constexpr int kChunks = 50;  // 200 points, 4 a chunk

std::vector<double> Values(double first) {
  std::vector<double> v(kValues);
  std::iota(v.begin(), v.end(), first);
  return v;
}

// `faulty` over `data.npy` (y = i + data[0]), its points from i = 80 (chunk 20) on held at
// `gate`: the input is changed while the run is live, however fast the machine.
std::string HeldInputConfig(const TempDir& dir, const Gate& gate) {
  WriteFile(dir / "data.npy", Npy(Values(0)));
  const std::string path = dir / "held.yaml";
  WriteFile(path, "name: held\nkernel: {name: faulty, options: {" + gate.Options(80) +
                      "}}\ninputs:\n  data: {npy: data.npy}\nparameters:\n  i: {range: [0, 200]}\n"
                      "execution: {workers: 2, chunk_size: 4}\noutput: {path: out.h5}\n");
  return path;
}

// Waits until the run has recorded `n` chunks done.
void WaitForDoneChunks(const TempDir& dir, size_t n) {
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", n));
}

TEST(InputChangeTest, AnInputWrittenMidRunStopsItAndNoLaterChunkIsRecordedDone) {
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", HeldInputConfig(dir, gate), "-q"}, dir.path());
  WaitForDoneChunks(dir, 4);
  WriteFile(dir / "data.npy", Npy(Values(1)));  // rewritten in place, as numpy.save does
  const double written = WallSeconds();
  ASSERT_EQ(run.Wait(), 1) << run.err();
  EXPECT_NE(run.err().find("input `data` (" + (dir / "data.npy") + ") was written to"),
            std::string::npos)
      << run.err();

  const std::vector<JournalRecord> done = JournalRecords(dir / "out.h5.journal", "done");
  EXPECT_GE(done.size(), 4u);
  EXPECT_LT(done.size(), size_t(kChunks));
  for (const JournalRecord& r : done) EXPECT_LT(r.time, written) << "chunk " << r.chunk;
  const std::vector<JournalRecord> stopped = JournalRecords(dir / "out.h5.journal", "stopped");
  ASSERT_EQ(stopped.size(), 1u);
  EXPECT_EQ(stopped[0].reason, "error");

  // A resume compares bytes: refused; --force goes on with the new bytes.
  const RunResult refused = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("inputs.data: its bytes changed"), std::string::npos) << refused.err;
  gate.Open();
  const RunResult forced = RunSweep({"resume", "out.h5", "--force", "-q"}, dir.path());
  ASSERT_EQ(forced.code, 0) << forced.err;
  // y = i + data[0]: 0 before the write, 1 after.
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  std::vector<bool> chunk_done_first(kChunks, false);
  for (const JournalRecord& r : done) chunk_done_first[r.chunk] = true;
  for (size_t k = 0; k < y.size(); ++k)
    EXPECT_EQ(y[k], double(k) + (chunk_done_first[k / 4] ? 0.0 : 1.0)) << "point " << k;
}

TEST(InputChangeTest, AWriteThroughAMappingIsFoundWhenTheRunEndsAndRevokesItsChunks) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldInputConfig(dir, gate);
  gate.Open();
  const RunResult clean = RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path());
  ASSERT_EQ(clean.code, 0) << clean.err;

  // A mapping written to (numpy's mmap_mode="r+") raises no inotify event.
  const int fd = open((dir / "data.npy").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const size_t bytes = size_t(lseek(fd, 0, SEEK_END));
  auto* file = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  close(fd);
  ASSERT_NE(file, MAP_FAILED);
  double* values = reinterpret_cast<double*>(file + bytes - kValues * sizeof(double));

  gate.Close();
  SweepProcess run({"run", config, "-q"}, dir.path());
  WaitForDoneChunks(dir, 4);
  values[3] += 1;
  gate.Open();  // the run goes on to its end, where the bytes are hashed again
  ASSERT_EQ(run.Wait(), 1) << run.err();
  EXPECT_NE(run.err().find("input `data` (" + (dir / "data.npy") + ") holds other bytes"),
            std::string::npos)
      << run.err();
  // Every chunk the run recorded done is now recorded failed, for that reason.
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["done"], 0) << status.dump();
  const size_t done = JournalRecords(dir / "out.h5.journal", "done").size();
  EXPECT_EQ(status["failed"], done) << status.dump();
  size_t revoked = 0;
  for (const JournalRecord& r : JournalRecords(dir / "out.h5.journal", "failed"))
    revoked += r.kind == "input-changed";
  EXPECT_EQ(revoked, done);

  // The bytes back as they were: a resume computes everything again, to a clean run's bytes.
  values[3] -= 1;
  munmap(file, bytes);
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), ReadDataset<double>(dir / "clean.h5", "/y"));
}

TEST(InputChangeTest, AnotherFileRenamedOverTheInputStopsTheRun) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldInputConfig(dir, gate);
  SweepProcess run({"run", config, "-q"}, dir.path());
  WaitForDoneChunks(dir, 2);
  WriteFile(dir / "new.npy", Npy(Values(1)));
  std::filesystem::rename(dir / "new.npy", dir / "data.npy");
  ASSERT_EQ(run.Wait(), 1) << run.err();
  EXPECT_NE(run.err().find("was replaced or removed"), std::string::npos) << run.err();
}

// Only the bytes count: a touch, or a copy of the same bytes put in its place, is no change.
TEST(InputChangeTest, ATouchOrTheSameBytesWrittenAgainIsNoChangeForResume) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldInputConfig(dir, gate);
  const std::string data = dir / "data.npy";
  {
    // Touched while live: the run goes on through every later chunk and finishes.
    SweepProcess run({"run", config, "-q"}, dir.path());
    WaitForDoneChunks(dir, 2);
    ASSERT_EQ(utimensat(AT_FDCWD, data.c_str(), nullptr, 0), 0);  // touch: attributes only
    gate.Open();
    ASSERT_EQ(run.Wait(), 0) << "the run stopped after a touch: " << run.err();
  }
  // The same bytes written while live: the run cannot tell, so it stops; a resume compares the
  // bytes, finds them the same, and finishes.
  gate.Close();
  SweepProcess run({"run", config, "-q", "--force"}, dir.path());
  ASSERT_TRUE(gate.WaitHeld(1)) << run.err();  // live and watching its input
  WriteFile(data, Npy(Values(0)));
  ASSERT_EQ(run.Wait(), 1) << run.err();
  gate.Open();
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(StatusJson(dir)["pending"], 0);
}

// A project moved as a whole (config, inputs and output): the output remembers where its inputs
// were; `--input NAME=PATH` says where one is now, and its bytes are still checked.
TEST(InputChangeTest, AMovedProjectIsResumedWithInputPointingToTheMovedFile) {
  TempDir root;
  const Gate gate(root.path());  // beside the project, so that it does not move with it
  const std::string project = root / "project";
  std::filesystem::create_directory(project);
  WriteFile(project + "/data.npy", Npy(Values(0)));
  WriteFile(project + "/sum.yaml",
            "name: sum\nkernel: {name: faulty, options: {" + gate.Options(80) +
                "}}\ninputs:\n  data: {npy: data.npy}\nparameters:\n  i: {range: [0, 200]}\n"
                "execution: {workers: 2, chunk_size: 4}\noutput: {path: out.h5}\n");
  gate.Open();
  ASSERT_EQ(RunSweep({"run", "sum.yaml", "-q", "-o", "clean.h5"}, project).code, 0);
  gate.Close();
  {
    SweepProcess run({"run", "sum.yaml", "-q"}, project);
    ASSERT_TRUE(WaitForRecords(project + "/out.h5.journal", "done", 3)) << run.err();
    run.Signal(SIGINT);
    ASSERT_EQ(run.Wait(), 130) << run.err();
  }
  gate.Open();
  const std::string moved = root / "moved";
  std::filesystem::rename(project, moved);

  const RunResult gone = RunSweep({"resume", "out.h5", "-q"}, moved);
  EXPECT_EQ(gone.code, 2);
  EXPECT_NE(gone.err.find("input `data` was read from " + project + "/data.npy, which is gone"),
            std::string::npos)
      << gone.err;
  EXPECT_NE(gone.err.find("--input data=NEW_PATH"), std::string::npos) << gone.err;
  const RunResult unknown = RunSweep({"resume", "out.h5", "-q", "--input", "datum=x.npy"}, moved);
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("no input `datum` (its inputs: data)"), std::string::npos)
      << unknown.err;
  WriteFile(moved + "/other.npy", Npy(Values(1)));
  const RunResult other = RunSweep({"resume", "out.h5", "-q", "--input", "data=other.npy"}, moved);
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.err.find("inputs.data: its bytes changed"), std::string::npos) << other.err;

  const RunResult resumed = RunSweep({"resume", "out.h5", "-q", "--input", "data=data.npy"}, moved);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(ReadDataset<double>(moved + "/out.h5", "/y"),
            ReadDataset<double>(moved + "/clean.h5", "/y"));
}

}  // namespace
}  // namespace sweep
