// End-to-end tests of what makes results trustworthy: the journal, `status`, `resume`, `rerun`,
// the lock, live reading, and byte-identical recomputation after a kill.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <thread>

#include "io/output_file.h"
#include "io/output_lock.h"
#include "kernels/dtype.h"
#include "tests/e2e.h"
#include "tests/seeds.h"

namespace sweep {
namespace {

using namespace sweep::testing;

std::string FaultyConfig(const TempDir& dir, const std::string& options, int points = 40) {
  const std::string path = dir / "faulty.yaml";
  WriteFile(
      path,
      "name: faulty\nkernel: {name: faulty, options: {" + options +
          "}}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
          "parameters:\n  i: {range: [0, " +
          std::to_string(points) +
          "]}\n  label: {values: [only]}\nexecution: {workers: 2, chunk_size: 4, retries: 1}\n"
          "output: {path: out.h5}\n");
  return path;
}

bool HaveH5py() { return Shell(std::string(kPython) + " -c 'import h5py' 2>/dev/null") == 0; }

// The chunks the run with this driver pid has journaled as done (0 before it starts its journal;
// the one a previous run left is not counted).
int ChunksDoneBy(const TempDir& dir, pid_t pid) {
  bool started = false;
  int done = 0;
  for (const JournalRecord& r : JournalRecords(dir / "out.h5.journal", "")) {
    started = started || (r.type == "started" && r.pid == pid);
    done += started && r.type == "done";
  }
  return done;
}

TEST(ResumeTest, AKilledRunIsResumedToTheBytesOfACleanRun) {
  TempDir dir;
  const Gate gate(dir.path());
  // 1500 x 2 replicates in 125 chunks of 24 points (12 values of i).
  ASSERT_EQ(RunSweep({"run", HeldConfig(dir, gate, 1500, 24, -1, "", "repeat: 2\n"), "-q", "-o",
                      "clean.h5"},
                     dir.path())
                .code,
            0);
  const auto clean = ResultsAndParams(dir / "clean.h5");
  ASSERT_EQ(clean.size(), 3u);  // y and the coordinates i and replicate

  // Killed once the run has done a number of its chunks and holds the next two, from i = 12 k on;
  // the gate keeps it from finishing first, however fast the machine.
  for (int done_before_kill : {1, 8, 32}) {
    SCOPED_TRACE("killed after " + std::to_string(done_before_kill) + " chunks");
    gate.Close();
    const std::string config =
        HeldConfig(dir, gate, 1500, 24, 12 * done_before_kill, "", "repeat: 2\n");
    SweepProcess run({"run", config, "-q", "--force"}, dir.path());
    ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
    ASSERT_TRUE(WaitUntil([&] { return ChunksDoneBy(dir, run.pid()) >= done_before_kill; }))
        << run.err();
    ASSERT_TRUE(WaitForPendingMissing(dir, 2)) << "pending rows never read as missing";
    EXPECT_EQ(ChunksDoneBy(dir, run.pid()), done_before_kill);
    run.Signal(SIGKILL);
    EXPECT_EQ(run.Wait(), 128 + SIGKILL);
    // Workers die with the driver.
    EXPECT_TRUE(LeftoversAfter(run.tag()).empty()) << "workers outlived the driver";
    // The file is valid HDF5 as it stands.
    EXPECT_EQ(Shell("h5dump -H " + dir / "out.h5" + " > /dev/null"), 0);
    // xarray opens it as it stands: the points of done chunks hold results, every other point
    // reads as missing (NaN), but those of the chunks in flight (at most one a worker), whose
    // rows may be written before they were reported. (scripts/setup installs the readers.)
    {
      WriteFile(
          dir / "killed.py",
          "import sys, h5py, numpy as np, xarray as xr\n"
          "ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')\n"
          "e = ds.y.values.reshape(-1)\n"
          "f = h5py.File(sys.argv[1], 'r')\n"
          "status, first, count = (f['chunks/' + k][...] for k in ('status', 'first', 'count'))\n"
          "done = np.zeros(e.size, bool)\n"
          "for c in np.flatnonzero(status == 1): done[first[c]:first[c] + count[c]] = True\n"
          "assert not np.isnan(e[done]).any(), 'a done point reads as missing'\n"
          "pending_with_values = int((~np.isnan(e[~done])).sum())\n"
          "assert pending_with_values <= 2 * count.max(), pending_with_values\n"
          "print('ok', int(done.sum()), int(np.isnan(e).sum()))\n");
      EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "killed.py" + " " + dir / "out.h5"), 0);
    }
    const nlohmann::json status = StatusJson(dir);
    EXPECT_GT(status["done"].get<int>(), 0) << status.dump();
    EXPECT_GT(status["pending"].get<int>(), 0) << status.dump();
    EXPECT_FALSE(status["live"].get<bool>());
    gate.Open();
    const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_TRUE(LeftoversAfter(resumed.tag).empty());
    EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
    const nlohmann::json after = StatusJson(dir);
    EXPECT_EQ(after["pending"].get<int>(), 0);
    EXPECT_EQ(after["done"], after["chunks"]);
  }
}

// -j and --chunk-size shape one invocation only: the stored config is the file's text, and a
// resume with other settings goes on (the output keeps its chunk size).
TEST(ResumeTest, AResumeWithOtherWorkersFinishesARunMadeWithOtherSettings) {
  TempDir dir;
  const Gate gate(dir.path());
  // 3000 points; in chunks of 500, chunk 4 on is held until the resume.
  const std::string config = HeldConfig(dir, gate, 1500, 24, 1000, "", "repeat: 2\n");
  gate.Open();
  ASSERT_EQ(RunSweep({"run", config, "-q", "-o", "clean.h5"}, dir.path()).code, 0);
  const auto clean = ResultsAndParams(dir / "clean.h5");
  gate.Close();
  SweepProcess run({"run", config, "-q", "-j", "1", "--chunk-size", "500"}, dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 1)) << run.err();
  run.Signal(SIGKILL);
  run.Wait();
  gate.Open();
  const OutputLayout layout = ReadOutputLayout(dir / "out.h5");
  EXPECT_EQ(layout.config_text, ReadFile(config));
  EXPECT_EQ(layout.chunk_size, 500u);
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q", "-j", "3"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["pending"], 0);
  EXPECT_EQ(status["chunks"], 6);
}

TEST(ResumeTest, TornRowsOfAChunkRecordedDoneAreRecomputed) {
  TempDir dir;
  const std::string config = SeededIsingConfig(dir);
  ASSERT_EQ(
      RunSweep({"run", config, "-q", "--set", "parameters.T.linspace=[1.5, 3.5, 100]"}, dir.path())
          .code,
      0);
  const auto clean = ResultsAndParams(dir / "out.h5");
  // Damage one row of a done chunk behind sweep's back, as a crash mid-write would.
  const OutputLayout layout = ReadOutputLayout(dir / "out.h5");
  const int fd = open(std::string(dir / "out.h5").c_str(), O_WRONLY);
  const double garbage = 12345.0;
  ASSERT_EQ(pwrite(fd, &garbage, 8, off_t(layout.results[0].region.offset + 8 * 17)), 8);
  close(fd);
  EXPECT_NE(ResultsAndParams(dir / "out.h5"), clean);
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("1 chunks recorded done had damaged rows"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
}

// A damaged journal record does not stop `status` or `resume`: it is skipped and reported, and the
// chunk it concerned is verified by checksum like every done chunk (here its rows are torn too).
TEST(ResumeTest, ADamagedJournalRecordIsSkippedReportedAndItsChunkVerified) {
  TempDir dir;
  const std::string config = dir / "square.yaml";
  WriteFile(config,
            "name: square\nkernel: {name: square}\nparameters:\n  x: {range: [0, 40]}\n"
            "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  const auto clean = ResultsAndParams(dir / "out.h5");
  // Chunk 17's done record (io/journal.h: magic, 'D', length 52, time, chunk...): one bit off.
  std::string journal = ReadFile(dir / "out.h5.journal");
  size_t at = 0;
  const std::string done_frame(
      "\xc1"
      "D\x34\x00",
      4);
  while ((at = journal.find(done_frame, at + 1)) != std::string::npos && journal[at + 12] != 17) {
  }
  ASSERT_NE(at, std::string::npos);
  journal[at + 20] ^= 1;
  WriteFile(dir / "out.h5.journal", journal);
  const OutputLayout layout = ReadOutputLayout(dir / "out.h5");
  const int fd = open(std::string(dir / "out.h5").c_str(), O_WRONLY);
  const double garbage = 12345.0;
  ASSERT_EQ(pwrite(fd, &garbage, 8, off_t(layout.results[0].region.offset + 8 * 17)), 8);
  close(fd);

  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["journal_damaged_records"], 1);
  EXPECT_EQ(status["done"], 40);
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("1 damaged journal record skipped"), std::string::npos) << text.out;
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("1 damaged records skipped"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find("1 chunks recorded done had damaged rows"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
}

TEST(ResumeTest, RerunOfDoneChunksAndInlineRerunGiveTheSameBytes) {
  TempDir dir;
  const std::string config = SeededIsingConfig(dir);
  ASSERT_EQ(
      RunSweep({"run", config, "-q", "--set", "parameters.T.linspace=[1.5, 3.5, 200]"}, dir.path())
          .code,
      0);
  const auto clean = ResultsAndParams(dir / "out.h5");
  const RunResult rerun = RunSweep({"rerun", "out.h5", "--chunks", "0,2-4", "-q"}, dir.path());
  ASSERT_EQ(rerun.code, 0) << rerun.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
  const RunResult points =
      RunSweep({"rerun", "out.h5", "--points", "5,399", "--inline", "-q"}, dir.path());
  ASSERT_EQ(points.code, 0) << points.err;
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), clean);
  // The journal holds both reruns: 4 + 2 chunks done after the run's.
  const std::string journal = ReadFile(dir / "out.h5.journal");
  EXPECT_NE(journal.find("\"command\":\"rerun\""), std::string::npos);
  const RunResult bad = RunSweep({"rerun", "out.h5", "--chunks", "99999"}, dir.path());
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("chunk 99999 does not exist"), std::string::npos) << bad.err;
  const RunResult nothing = RunSweep({"rerun", "out.h5"}, dir.path());
  EXPECT_EQ(nothing.code, 2);
}

// A rerun's attempt never leaves the output worse than before it: a done chunk whose rerun fails,
// whether its program exits non-zero or its worker is killed after the chunk's first point was
// written, keeps its earlier rows and its status as done. The failure is journaled, shown by
// `sweep status` (and its --json), and `rerun --failed` tries it again once the cause is fixed.
// Each point's `trace` is a block of its own (256 KiB, the worker's block), so the first point of
// a two-point chunk is written before the second kills the worker.
TEST(RerunTest, AFailedRerunOfADoneChunkKeepsItsResultsAndItsStatus) {
  TempDir dir;
  const std::string mode = dir / "mode";
  WriteFile(dir / "sim.sh",
            "#!/bin/sh\nv=$1\ncase $(cat '" + mode +
                "') in\n"
                "  exit) echo 'licence server down' >&2; exit 7 ;;\n"
                "  kill) if [ $(($1 % 2)) = 1 ]; then kill -9 $PPID; sleep 60; fi; v=-100 ;;\n"
                "esac\n"
                "echo \"y $v\"\nawk -v v=$v 'BEGIN { printf \"trace\"; "
                "for (i = 0; i < 32768; i++) printf \" %d\", v; print \"\" }'\n");
  chmod((dir / "sim.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [./sim.sh, '{x}']\n"
            "  outputs: {y: float64, trace: [float64, 32768]}\n"
            "parameters:\n  x: {values: [0, 1, 2, 3]}\n"
            "execution: {workers: 1, chunk_size: 2, retries: 0}\noutput: {path: out.h5}\n");
  WriteFile(mode, "good");
  ASSERT_EQ(RunSweep({"run", "c.yaml", "-q"}, dir.path()).code, 0);
  const auto results = ResultsAndParams(dir / "out.h5");
  const std::vector<uint8_t> all_done = {1, 1};
  ASSERT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status"), all_done);

  WriteFile(mode, "exit");
  const RunResult exited = RunSweep({"rerun", "out.h5", "--chunks", "0", "-q"}, dir.path());
  EXPECT_EQ(exited.code, 3) << exited.err;
  WriteFile(mode, "kill");
  const RunResult killed = RunSweep({"rerun", "out.h5", "--chunks", "1", "-q"}, dir.path());
  EXPECT_EQ(killed.code, 3) << killed.err;
  EXPECT_NE(killed.err.find("their earlier results are kept"), std::string::npos) << killed.err;

  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), results) << "a failed rerun changed the results";
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/chunks/status"), all_done);
  std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_TRUE(failed[0].final);
  EXPECT_EQ(failed[0].point, 0u);
  EXPECT_NE(failed[0].reason.find("failed with exit code 7"), std::string::npos);
  EXPECT_EQ(failed[1].point, 3u);
  EXPECT_EQ(failed[1].kind, "killed");

  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["done"], 2);
  EXPECT_EQ(status["failed"], 0);
  ASSERT_EQ(status["failed_reruns"].size(), 2u) << status.dump(2);
  EXPECT_EQ(status["failed_reruns"][0]["chunk"], 0);
  EXPECT_EQ(status["failed_reruns"][1]["chunk"], 1);
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("  rerun of done chunk 0 failed, point 0 (x=0): command `./sim.sh`: "
                          "failed with exit code 7"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("; its earlier results are kept\n"), std::string::npos) << text.out;

  // Fixed, `rerun --failed` takes the chunks whose rerun failed, and they are plainly done again.
  WriteFile(mode, "good");
  const RunResult fixed = RunSweep({"rerun", "out.h5", "--failed", "-q"}, dir.path());
  ASSERT_EQ(fixed.code, 0) << fixed.err;
  EXPECT_EQ(JournalRecords(dir / "out.h5.journal", "done").size(), 2u + 2u);
  EXPECT_EQ(ResultsAndParams(dir / "out.h5"), results);
  EXPECT_EQ(StatusJson(dir)["failed_reruns"].size(), 0u);
}

TEST(ResumeTest, FailuresAreRecordedWithPointParametersAndReason) {
  TempDir dir;
  const std::string config = FaultyConfig(dir, "error_at: 7, segfault_at: 21");
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  EXPECT_NE(r.err.find("chunk 1, point 7 (i=7, label=only): faulty: error at i=7"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("chunk 5, point 21 (i=21, label=only): SIGSEGV"), std::string::npos)
      << r.err;
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["failed"].get<int>(), 2);
  EXPECT_EQ(status["done"].get<int>(), 8);
  ASSERT_EQ(status["failures"].size(), 2u);
  const nlohmann::json& error = status["failures"][0];
  EXPECT_EQ(error["chunk"], 1);
  EXPECT_EQ(error["point"], 7);
  EXPECT_EQ(error["params"]["i"], 7);
  EXPECT_EQ(error["params"]["label"], "only");
  EXPECT_EQ(error["kind"], "kernel-error");
  EXPECT_EQ(error["attempt"], 1);
  const nlohmann::json& crash = status["failures"][1];
  EXPECT_EQ(crash["point"], 21);
  EXPECT_EQ(crash["kind"], "crashed");
  EXPECT_NE(crash["reason"].get<std::string>().find("SIGSEGV (Segmentation fault)"),
            std::string::npos);
  // The rows of the chunks that did not fail are there; the failed chunk's stay missing.
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 40u);
  EXPECT_EQ(y[3], 3.0);
  double missing = 0;
  NetcdfFillValue(SWEEP_FLOAT64, &missing);
  EXPECT_EQ(y[7], missing);
  EXPECT_EQ(y[39], 39.0);
  // Text status names them too.
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_NE(text.out.find("failed chunk 1, point 7 (i=7, label=only): faulty: error at i=7"),
            std::string::npos)
      << text.out;
  // Deterministic failures fail again on rerun, and are recorded again.
  const RunResult rerun = RunSweep({"rerun", "out.h5", "--failed", "-q"}, dir.path());
  EXPECT_EQ(rerun.code, 3);
  EXPECT_EQ(StatusJson(dir)["failed"].get<int>(), 2);
}

TEST(ResumeTest, ASecondRunOnAnOutputInUseExitsFourNamingTheHolder) {
  TempDir dir;
  const Gate gate(dir.path());
  const std::string config = HeldConfig(dir, gate, 40, 4, 8);
  SweepProcess first({"run", config, "-q"}, dir.path());
  // The first run holds the lock, and is kept computing until it is interrupted.
  ASSERT_TRUE(gate.WaitHeld(1)) << first.err();
  const RunResult second = RunSweep({"run", config, "-q", "--force"}, dir.path());
  EXPECT_EQ(second.code, 4) << second.err;
  EXPECT_NE(second.err.find("in use by another sweep (pid " + std::to_string(first.pid()) + " on " +
                            HostName() + ")"),
            std::string::npos)
      << second.err;
  const RunResult resume = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(resume.code, 4) << resume.err;
  const nlohmann::json status = StatusJson(dir);
  EXPECT_TRUE(status["live"].get<bool>());
  EXPECT_EQ(status["pid"].get<int>(), first.pid());
  EXPECT_EQ(status["host"], HostName());
  first.Signal(SIGINT);
  EXPECT_EQ(first.Wait(), 130) << first.err();
  EXPECT_TRUE(LeftoversAfter(first.tag()).empty());
  EXPECT_NE(ReadFile(dir / "out.h5.journal").find("\"reason\":\"interrupted\""), std::string::npos);
}

// h5py and xarray both open the file while workers write it: some points done, the rest missing.
TEST(ResumeTest, H5pyReadsTheOutputWhileARunWrites) {
  ASSERT_TRUE(HaveH5py()) << "no h5py in " << kPython << " (scripts/setup installs it)";
  TempDir dir;
  const Gate gate(dir.path());
  SweepProcess run({"run", HeldConfig(dir, gate, 1500, 24, 750, "", "repeat: 2\n"), "-q"},
                   dir.path());
  ASSERT_TRUE(WaitForRecords(dir / "out.h5.journal", "done", 1)) << run.err();
  ASSERT_TRUE(WaitForPendingMissing(dir, 2)) << "pending rows never read as missing";
  const std::string script = dir / "read.py";
  WriteFile(script,
            "import h5py, numpy as np, sys, xarray as xr\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "s = f['chunks/status'][...]\n"
            "e = f['y'][...]\n"
            "e[e == f['y'].attrs['_FillValue']] = np.nan  # the README's h5py reading\n"
            "ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')\n"
            "assert ds.y.dims == ('i', 'replicate'), ds.y.dims\n"
            "x = ds.y.values\n"
            "print(int((s == 1).sum()), int((s == 0).sum()), int(np.isnan(e).sum()), e.size,\n"
            "      int(np.isnan(x).sum()))\n");
  const std::string out_file = dir / "read.txt";
  ASSERT_EQ(Shell(std::string(kPython) + " " + script + " " + dir / "out.h5" + " > " + out_file),
            0);
  std::istringstream in(ReadFile(out_file));
  long done = -1, pending = -1, nans = -1, size = -1, xarray_nans = -1;
  in >> done >> pending >> nans >> size >> xarray_nans;
  EXPECT_GT(done, 0);
  EXPECT_GT(pending, 0);
  EXPECT_GT(nans, 0);
  EXPECT_LT(nans, size);
  EXPECT_GT(xarray_nans, 0);
  EXPECT_LT(xarray_nans, size);
  gate.Open();
  EXPECT_EQ(run.Wait(), 0) << run.err();
}

// Sets a file's access and modification times to `seconds` since the epoch.
void SetMtime(const std::string& path, time_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

// Inputs are judged by their bytes: `touch` and a copy with the same bytes are no change; an edit
// that keeps the size and restores the time is one. `--force` goes on with the new bytes and
// records them, so the next resume compares with those.
TEST(ResumeTest, ResumeComparesInputsByContentAndForceRecordsTheNewBytes) {
  TempDir dir;
  WriteFile(dir / "data.npy", Npy({1, 2, 3, 4}));
  SetMtime(dir / "data.npy", 1'500'000'000);
  const std::string config = dir / "sum.yaml";
  WriteFile(config,
            "name: sum\nkernel: {name: array_sum}\ninputs:\n  data: {npy: data.npy}\n"
            "parameters:\n  scale: {linspace: [1, 10, 10]}\nexecution: {chunk_size: 2}\noutput: "
            "{path: out.h5}\n");
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);

  SetMtime(dir / "data.npy", 1'600'000'000);  // touched
  const RunResult touched = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(touched.code, 0) << touched.err;
  std::filesystem::copy_file(dir / "data.npy", dir / "copy.npy");
  std::filesystem::rename(dir / "copy.npy", dir / "data.npy");
  const RunResult copied = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(copied.code, 0) << copied.err;

  // The same size, the time put back: only the bytes tell.
  WriteFile(dir / "data.npy", Npy({1, 2, 3, 5}));
  SetMtime(dir / "data.npy", 1'600'000'000);
  const RunResult refused = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("an input changed"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("inputs.data: its bytes changed"), std::string::npos) << refused.err;
  const RunResult rerun_refused = RunSweep({"rerun", "out.h5", "--chunks", "0", "-q"}, dir.path());
  EXPECT_EQ(rerun_refused.code, 2) << rerun_refused.err;

  const RunResult forced =
      RunSweep({"rerun", "out.h5", "--chunks", "0", "--force", "-q"}, dir.path());
  EXPECT_EQ(forced.code, 0) << forced.err;
  const std::vector<double> sums = ReadDataset<double>(dir / "out.h5", "/sum");
  EXPECT_EQ(sums[0], 11.0);  // recomputed from the new input
  EXPECT_EQ(sums[2], 30.0);  // still from the old one

  // What --force went on with is what later runs compare with.
  const RunResult after = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(after.code, 0) << after.err;
  WriteFile(dir / "data.npy", Npy({1, 2, 3, 4}));  // back to the bytes the file was made with
  const RunResult back = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  EXPECT_EQ(back.code, 2) << back.err;
}

// Overwrites value k of the float64 variable `name` of an output, as damage or an edit would.
void CorruptVariable(const std::string& output, const std::string& name, uint64_t k, double value) {
  const OutputLayout layout = ReadOutputLayout(output);
  for (const OutputVariableInfo& v : layout.variables) {
    if (v.name != name) continue;
    const int fd = open(output.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(pwrite(fd, &value, 8, off_t(v.region.offset + k * 8)), 8);
    close(fd);
    return;
  }
  FAIL() << "no variable " << name;
}

// The parameter values in the file are the config's, recomputed on resume: a damaged one, written
// at creation (a grid axis) or with its chunk (a sampled parameter, deferred), is found and
// written back.
TEST(ResumeTest, DamagedParameterValuesAreRecomputedOnResume) {
  TempDir dir;
  WriteFile(dir / "grid.yaml",
            "name: g\nkernel: {name: square}\nparameters:\n  x: {linspace: [0, 1, 11]}\n"
            "output: {path: grid.h5}\n");
  ASSERT_EQ(RunSweep({"run", "grid.yaml", "-q"}, dir.path()).code, 0);
  const std::vector<double> grid = ReadDataset<double>(dir / "grid.h5", "/x");
  CorruptVariable(dir / "grid.h5", "x", 3, 99.0);
  const RunResult grid_resume = RunSweep({"resume", "grid.h5", "-q"}, dir.path());
  EXPECT_EQ(grid_resume.code, 0) << grid_resume.err;
  EXPECT_NE(grid_resume.err.find("/x held 1 values that are not the config's"), std::string::npos)
      << grid_resume.err;
  EXPECT_EQ(ReadDataset<double>(dir / "grid.h5", "/x"), grid);

  // 70,000 samples: /x is deferred, each value written by the chunk of its point.
  WriteFile(dir / "sampled.yaml",
            "name: s\nkernel: {name: square}\nparameters:\n  x: {uniform: [0, 1]}\n"
            "sampling: {method: sobol, n: 70000}\noutput: {path: sampled.h5}\n");
  ASSERT_EQ(RunSweep({"run", "sampled.yaml", "-q"}, dir.path()).code, 0);
  const std::vector<double> sampled = ReadDataset<double>(dir / "sampled.h5", "/x");
  CorruptVariable(dir / "sampled.h5", "x", 0, -1.0);
  CorruptVariable(dir / "sampled.h5", "x", 69999, -1.0);
  const RunResult sampled_resume = RunSweep({"resume", "sampled.h5", "-q"}, dir.path());
  EXPECT_EQ(sampled_resume.code, 0) << sampled_resume.err;
  EXPECT_NE(sampled_resume.err.find("/x held 2 values"), std::string::npos) << sampled_resume.err;
  EXPECT_EQ(ReadDataset<double>(dir / "sampled.h5", "/x"), sampled);
  const RunResult clean = RunSweep({"resume", "sampled.h5", "-q"}, dir.path());
  EXPECT_EQ(clean.err, "");
}

TEST(ResumeTest, StatusOfAFinishedRun) {
  TempDir dir;
  ASSERT_EQ(
      RunSweep({"run", SeededIsingConfig(dir), "-q", "--set", "parameters.T.linspace=[1, 2, 10]"},
               dir.path())
          .code,
      0);
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("20 of 20 points done (100.0%)"), std::string::npos) << text.out;
  const RunResult missing = RunSweep({"status", "nope.h5"}, dir.path());
  EXPECT_EQ(missing.code, 2);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
}

// Makes `out.h5` an output of an earlier sweep: its fingerprint without "seeds" (as sweeps before
// seeds by value wrote it), no journal, and every chunk pending, so its resume computes it all.
void MakeOlderOutput(const TempDir& dir) {
  const std::string script =
      "import h5py, json\n"
      "f = h5py.File('out.h5', 'r+')\n"
      "fp = json.loads(f.attrs['fingerprint'])\n"
      "del fp['seeds']\n"
      "f.attrs['fingerprint'] = json.dumps(fp)\n"
      "f['chunks/status'][...] = 0\n"
      "f.close()\n";
  WriteFile(dir / "older.py", script);
  ASSERT_EQ(Shell("cd " + dir.path() + " && " + kPython + " older.py"), 0);
  std::filesystem::remove(dir / "out.h5.journal");
}

TEST(ResumeTest, AnOutputOfAnEarlierSweepResumesRerunsAndExportsWithSeedsByIndex) {
  TempDir dir;
  Gate gate(dir.path());
  gate.Open();
  const std::string config = HeldConfig(dir, gate, 12, 4, -1, "", "repeat: 2\n");
  ASSERT_EQ(RunSweep({"run", config, "-q"}, dir.path()).code, 0);
  MakeOlderOutput(dir);
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  // faulty's y = i + the seed as a fraction: each point's seed is the index rule's.
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 24u);
  for (uint64_t p = 0; p < 24; ++p)
    EXPECT_EQ(y[p], double(p / 2) + double(IndexSeed(5, p / 2, p % 2) >> 11) * 0x1p-53) << p;
  // A rerun keeps it, and export says the seeds the points were computed with.
  ASSERT_EQ(RunSweep({"rerun", "out.h5", "-q", "--chunks", "1"}, dir.path()).code, 0);
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), y);
  const RunResult exported = RunSweep({"export", "out.h5", "--format", "jsonl"}, dir.path());
  ASSERT_EQ(exported.code, 0) << exported.err;
  std::istringstream lines(exported.out);
  std::string line;
  uint64_t p = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(nlohmann::json::parse(line)["seed"].get<uint64_t>(), IndexSeed(5, p / 2, p % 2));
    ++p;
  }
  EXPECT_EQ(p, 24u);
}

TEST(ResumeTest, ANewOutputSeedsByParameterValues) {
  TempDir dir;
  Gate gate(dir.path());
  gate.Open();
  ASSERT_EQ(RunSweep({"run", HeldConfig(dir, gate, 6, 4, -1), "-q"}, dir.path()).code, 0);
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 6u);
  for (uint64_t i = 0; i < 6; ++i) {
    const uint64_t seed = DocumentedSeed(5, {IntegerParam("i", int64_t(i))}, 0);
    EXPECT_EQ(y[i], double(i) + double(seed >> 11) * 0x1p-53) << i;
  }
}

}  // namespace
}  // namespace sweep
