// The Python kernel (kernels/python.h), end to end: the real `sweep` on configs whose model is a
// Python file written by the test, its outputs read back, its failures read from `sweep status`,
// its workers' logs and the report. The interpreter is Debian's, with numpy.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "driver/binding.h"
#include "driver/space.h"
#include "io/config.h"
#include "io/process.h"
#include "kernels/python.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;
namespace fs = std::filesystem;

class PythonKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(PythonKernelsBuilt()) << "this build has no Python kernel: scripts/setup installs "
                                         "python3-dev and pybind11-dev";
  }
  // Writes `text` to a file of the test's folder; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string path = dir_ / name;
    fs::create_directories(fs::path(path).parent_path());
    WriteFile(path, text);
    return path;
  }
  // A config `sweep.yaml` writing out.h5, from the kernel's lines and the rest.
  std::string MakeConfig(const std::string& kernel, const std::string& rest) const {
    return Write("sweep.yaml",
                 "name: py\nseed: 5\nkernel:\n" + kernel + rest +
                     (rest.find("output:") == std::string::npos ? "output: {path: out.h5}\n" : ""));
  }
  RunResult Run(const std::vector<std::string>& args) const { return RunSweep(args, dir_.path()); }
  nlohmann::json Status() const { return StatusJson(dir_); }
  std::string Logs() const {
    std::string all;
    for (const auto& entry : fs::directory_iterator(dir_ / "out.h5.logs"))
      all += ReadFile(entry.path().string());
    return all;
  }

  TempDir dir_;
};

void ExpectNoLeftovers(const RunResult& r) {
  EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << "a worker outlived its run";
}

// ---- calls ---------------------------------------------------------------------------------

TEST_F(PythonKernelTest, TheFunctionGetsByNameTheParametersSeedAndOptionsItsSignatureNames) {
  Write("model.py", R"(
def simulate(x, k, name, seed, scale, n, tag, flag):
    return {"y": x * scale + k, "n_out": n + len(name), "seed_low": seed % 1000003,
            "tag_len": len(tag), "flag_is_bool": int(flag is True), "trace": [x, 2 * x, 3 * x]}

def everything(**kwargs):
    return float(len(kwargs))

def some(x, seed):
    return x + 1

if __name__ == "__main__":  # a script's own run, which importing the model must not start
    open("main-ran", "w").close()
)");
  const std::string config = MakeConfig(
      "  python: model.py:simulate\n"
      "  options: {scale: 2.5, n: 3, tag: abc, flag: true}\n"
      "  outputs: {y: float64, n_out: int64, seed_low: int64, tag_len: int32,\n"
      "            flag_is_bool: uint8, trace: [float64, 3]}\n",
      "parameters:\n  x: {linspace: [0, 1, 5]}\n  k: {values: [1, 2]}\n"
      "  name: {values: [aa, bbb]}\nzip: [[k, name]]\nexecution: {workers: 2}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectNoLeftovers(r);
  const Config loaded = LoadConfig(config);
  const Space space(loaded);
  ASSERT_EQ(space.points(), 10u);
  const auto y = ReadDataset<double>(dir_ / "out.h5", "/y");
  const auto n_out = ReadDataset<int64_t>(dir_ / "out.h5", "/n_out");
  const auto seed_low = ReadDataset<int64_t>(dir_ / "out.h5", "/seed_low");
  const auto tag_len = ReadDataset<int32_t>(dir_ / "out.h5", "/tag_len");
  const auto flag = ReadDataset<uint8_t>(dir_ / "out.h5", "/flag_is_bool");
  const auto trace = ReadDataset<double>(dir_ / "out.h5", "/trace");
  ASSERT_EQ(y.size(), 10u);
  ASSERT_EQ(trace.size(), 30u);
  for (uint64_t p = 0; p < 10; ++p) {
    const double x = (p / 2) * 0.25;
    const int k = int(p % 2) + 1;
    EXPECT_EQ(y[p], x * 2.5 + k) << p;
    EXPECT_EQ(n_out[p], 3 + (k == 1 ? 2 : 3)) << p;
    EXPECT_EQ(uint64_t(seed_low[p]), space.Seed(p) % 1000003) << p;
    EXPECT_EQ(tag_len[p], 3);
    EXPECT_EQ(flag[p], 1);  // `true` arrives as a Python bool
    EXPECT_EQ(trace[3 * p + 2], 3 * x);
  }

  // **kwargs gets every keyword: 3 parameters, seed, inputs, state and 4 options.
  ASSERT_EQ(Run({"run", config, "-q", "--force", "--set", "kernel.python=model.py:everything",
                 "--set", "kernel.outputs={y: float64}"})
                .code,
            0);
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y").at(7), 10.0);
  // A function that names fewer gets only those, and a single value is the one output.
  ASSERT_EQ(Run({"run", config, "-q", "--force", "--set", "kernel.python=model.py:some", "--set",
                 "kernel.outputs={y: float64}"})
                .code,
            0);
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y").at(9), 2.0);
  EXPECT_FALSE(fs::exists(dir_ / "main-ran"));
}

TEST_F(PythonKernelTest, ResultsAreADictATupleOrOneValueAndAnythingElseFailsItsPointSayingWhy) {
  Write("model.py", R"(
import numpy as np

def compute(how):
    return {
        "dict": lambda: {"y": 1.5, "v": [1, 2]},
        "tuple": lambda: (2.5, np.array([3, 4], dtype=np.int16)),
        "none": lambda: (None, (5, 6)),
        "numpy": lambda: (np.float32(3.5), np.arange(2)),
        "missing": lambda: {"y": 1.0},
        "extra": lambda: {"y": 1.0, "v": [1, 2], "w": 3},
        "shape": lambda: (1.0, [1, 2, 3]),
        "floatint": lambda: (1.0, [1.5, 2.5]),
        "text": lambda: ("1.0", [1, 2]),
        "range": lambda: (1.0, [1, 2**40]),
        "one": lambda: 1.0,
    }[how]()
)");
  const std::string config = MakeConfig(
      "  python: model.py\n  outputs: {y: float64, v: [int32, 2]}\n",
      "parameters:\n  how: {values: [dict, tuple, none, numpy, missing, extra, shape, floatint,\n"
      "                     text, range, one]}\nexecution: {workers: 2, chunk_size: 1, retries: "
      "0}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 3) << r.err;
  const auto y = ReadDataset<double>(dir_ / "out.h5", "/y");
  const auto v = ReadDataset<int32_t>(dir_ / "out.h5", "/v");
  EXPECT_EQ(y[0], 1.5);
  EXPECT_EQ(y[1], 2.5);
  // None: NaN, as a command's null; the point is done, so not the fill value of one not computed.
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], 3.5);
  EXPECT_EQ(std::vector<int32_t>(v.begin(), v.begin() + 8),
            (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 0, 1}));
  const nlohmann::json s = Status();
  std::map<std::string, std::string> reasons;
  for (const nlohmann::json& f : s["failures"])
    reasons[f["params"]["how"].get<std::string>()] = f["reason"].get<std::string>();
  EXPECT_EQ(reasons.size(), 7u) << s.dump(2);
  EXPECT_EQ(reasons["missing"], "returned no `v` (outputs: y, v)");
  EXPECT_EQ(reasons["extra"], "returned `w`, not a declared output (outputs: y, v)");
  EXPECT_EQ(reasons["shape"], "output `v`: expected shape (2,), got (3,)");
  EXPECT_EQ(reasons["floatint"], "output `v` is int32: cannot hold float64 values");
  EXPECT_EQ(reasons["text"], "output `y`: expected a number, got str");
  EXPECT_EQ(reasons["range"], "output `v` is int32: a value is out of its range");
  EXPECT_EQ(reasons["one"],
            "returned a float; with 2 outputs (y, v) return a dict, or a tuple in that order");
}

TEST_F(PythonKernelTest, SetupRunsOncePerWorkerAndWhatItReturnsIsEveryCallsState) {
  Write("model.py", R"(
import os

def setup(inputs, base, log):
    with open(log, "a") as f:
        f.write("%d\n" % os.getpid())
    return {"base": base, "pid": os.getpid(), "total": float(inputs["A"].sum())}

def compute(x, state):
    return {"y": state["base"] + x + state["total"], "pid": state["pid"]}
)");
  WriteFile(dir_ / "A.npy", Npy({1, 2, 3, 4}));
  const std::string config =
      MakeConfig("  python: model.py\n  options: {base: 100, log: " + dir_ / "setup.log" +
                     "}\n  outputs: {y: float64, pid: int64}\n",
                 "inputs:\n  A: {npy: A.npy}\nparameters:\n  x: {range: [0, 40]}\n"
                 "execution: {workers: 2, chunk_size: 1}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto y = ReadDataset<double>(dir_ / "out.h5", "/y");
  for (int x = 0; x < 40; ++x) EXPECT_EQ(y[size_t(x)], 110.0 + x);
  std::set<int64_t> pids;
  for (int64_t pid : ReadDataset<int64_t>(dir_ / "out.h5", "/pid")) pids.insert(pid);
  std::istringstream log(ReadFile(dir_ / "setup.log"));
  std::multiset<int64_t> setups;
  for (int64_t pid; log >> pid;) setups.insert(pid);
  // One setup per worker (both start, whether or not the first takes every chunk), and every
  // point's state is that of its worker's setup.
  EXPECT_EQ(setups.size(), 2u);
  EXPECT_EQ(std::set<int64_t>(setups.begin(), setups.end()).size(), 2u);
  for (int64_t pid : pids) EXPECT_EQ(setups.count(pid), 1u) << pid;
}

TEST_F(PythonKernelTest, InputsAreReadOnlyNumpyViewsOfTheSharedMappingNeverCopies) {
  Write("model.py", R"(
def compute(i, inputs):
    a = inputs["A"]
    address = a.ctypes.data
    mapped = 0
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            low, high = (int(v, 16) for v in fields[0].split("-"))
            if low <= address < high and len(fields) >= 6 and fields[5].endswith("/A.npy"):
                mapped = 1
    return {"mapped": mapped, "writeable": int(a.flags.writeable), "owndata": int(a.flags.owndata),
            "value": float(a[i]), "shape0": a.shape[0], "dtype_ok": int(a.dtype == "float64")}
)");
  std::vector<double> values(100000);
  for (size_t i = 0; i < values.size(); ++i) values[i] = double(i) * 0.5;
  WriteFile(dir_ / "A.npy", Npy(values));
  const std::string config = MakeConfig(
      "  python: model.py\n  outputs: {mapped: uint8, writeable: uint8, owndata: uint8, value: "
      "float64, shape0: int64, dtype_ok: uint8}\n",
      "inputs:\n  A: {npy: A.npy}\nparameters:\n  i: {range: [0, 8]}\nexecution: {workers: 2}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (uint8_t m : ReadDataset<uint8_t>(dir_ / "out.h5", "/mapped"))
    EXPECT_EQ(m, 1) << "the array's data is not in the mapping of A.npy";
  for (uint8_t w : ReadDataset<uint8_t>(dir_ / "out.h5", "/writeable")) EXPECT_EQ(w, 0);
  for (uint8_t o : ReadDataset<uint8_t>(dir_ / "out.h5", "/owndata")) EXPECT_EQ(o, 0);
  const auto value = ReadDataset<double>(dir_ / "out.h5", "/value");
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(value[i], 0.5 * double(i));
  EXPECT_EQ(ReadDataset<int64_t>(dir_ / "out.h5", "/shape0").at(3), 100000);
}

TEST_F(PythonKernelTest, AWriteToAnInputFailsItsPointAndTheInputStaysUnchanged) {
  Write("model.py", R"(
def compute(i, inputs):
    if i == 2:
        inputs["A"][0] = 1.0
    return float(inputs["A"][0])
)");
  WriteFile(dir_ / "A.npy", Npy({7, 8, 9}));
  const std::string before = ReadFile(dir_ / "A.npy");
  const std::string config =
      MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                 "inputs:\n  A: {npy: A.npy}\nparameters:\n  i: {range: [0, 6]}\n"
                 "execution: {workers: 2, chunk_size: 1}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 3) << r.err;
  const nlohmann::json s = Status();
  ASSERT_EQ(s["failures"].size(), 1u) << s.dump(2);
  const nlohmann::json& f = s["failures"][0];
  EXPECT_EQ(f["point"], 2);
  EXPECT_EQ(f["kind"], "kernel-error");
  EXPECT_EQ(f["reason"],
            "ValueError: assignment destination is read-only (at model.py:4 in compute)");
  EXPECT_EQ(ReadFile(dir_ / "A.npy"), before);
  const auto y = ReadDataset<double>(dir_ / "out.h5", "/y");
  for (size_t i : {0, 1, 3, 4, 5}) EXPECT_EQ(y[i], 7.0);
}

// ---- failures --------------------------------------------------------------------------------

TEST_F(PythonKernelTest, AnExceptionFailsItsPointWithTypeMessageUserFrameAndWholeTraceback) {
  Write("helper.py", "def divide(a, b):\n    return a / b\n");
  Write("model.py", "import helper\n\n\ndef compute(x):\n    return helper.divide(1.0, x - 0.5)\n");
  const std::string config = MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                                        "parameters:\n  x: {linspace: [0, 1, 5]}\n"
                                        "execution: {workers: 2, chunk_size: 1}\n");
  const RunResult r = Run({"run", config});
  ASSERT_EQ(r.code, 3) << r.err;
  const std::string reason = "ZeroDivisionError: float division by zero (at helper.py:2 in divide)";
  // The run says it at once, with the point and its parameters.
  EXPECT_NE(r.err.find("point 2 (x=0.5): " + reason), std::string::npos) << r.err;
  const nlohmann::json s = Status();
  ASSERT_EQ(s["failures"].size(), 1u) << s.dump(2);
  const nlohmann::json& f = s["failures"][0];
  EXPECT_EQ(f["point"], 2);
  EXPECT_EQ(f["params"]["x"], 0.5);
  EXPECT_EQ(f["reason"], reason);
  const std::string traceback = f["stderr"].get<std::string>();
  EXPECT_EQ(traceback.rfind("Traceback (most recent call last):", 0), 0u) << traceback;
  EXPECT_NE(traceback.find("model.py\", line 5, in compute"), std::string::npos) << traceback;
  EXPECT_NE(traceback.find("helper.py\", line 2, in divide"), std::string::npos) << traceback;
  // status in words, and the report, show the point, its parameters and the reason.
  const RunResult text = Run({"status", "out.h5"});
  EXPECT_NE(text.out.find("point 2 (x=0.5): " + reason), std::string::npos) << text.out;
  ASSERT_EQ(Run({"report", "out.h5", "-o", "report.html"}).code, 0);
  const std::string html = ReadFile(dir_ / "report.html");
  EXPECT_NE(html.find("ZeroDivisionError: float division by zero"), std::string::npos);
  EXPECT_NE(html.find("helper.py&quot;, line 2, in divide"), std::string::npos);
  // The worker's log holds the whole traceback after a line naming the point.
  const std::string logs = Logs();
  EXPECT_NE(logs.find("sweep worker: point 2 (x=0.5) failed: " + reason + "\nTraceback"),
            std::string::npos)
      << logs;
}

TEST_F(PythonKernelTest, ARaisingBatchIsRetriedPointByPointToNameItsPoint) {
  Write("model.py", R"(
import numpy as np

def compute(x, out):
    if np.any(x == 7):
        raise ValueError("x == 7 is not allowed")
    if len(x) > 1 and x[0] == 10:
        raise RuntimeError("a bug of blocks, not of points")
    out["y"][:] = 2 * x
)");
  const std::string config =
      MakeConfig("  python: model.py\n  batch: true\n  outputs: {y: float64}\n",
                 "parameters:\n  x: {range: [0, 30]}\nexecution: {workers: 2, chunk_size: 10}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 3) << r.err;
  const nlohmann::json s = Status();
  ASSERT_EQ(s["failures"].size(), 2u) << s.dump(2);
  std::map<int, nlohmann::json> by_point;
  for (const nlohmann::json& f : s["failures"]) by_point[f["point"].get<int>()] = f;
  ASSERT_TRUE(by_point.count(7)) << s.dump(2);
  EXPECT_EQ(by_point[7]["params"]["x"], 7);
  EXPECT_EQ(by_point[7]["reason"], "ValueError: x == 7 is not allowed (at model.py:6 in compute)");
  ASSERT_TRUE(by_point.count(10)) << s.dump(2);
  EXPECT_EQ(by_point[10]["reason"],
            "RuntimeError: a bug of blocks, not of points (at model.py:8 in compute) (the block "
            "of 10 points raised it; none of its points alone did)");
  EXPECT_NE(Logs().find("calling its points one by one"), std::string::npos);
  const auto y = ReadDataset<double>(dir_ / "out.h5", "/y");
  for (size_t x = 20; x < 30; ++x) EXPECT_EQ(y[x], 2.0 * double(x));
}

TEST_F(PythonKernelTest, ASegfaultInAnExtensionFailsTheChunkReplacesTheWorkerAndLogsTheStack) {
  Write("model.py", R"(
import ctypes

def compute(i):
    if i == 3:
        ctypes.memset(16, 0, 1)
    return float(i)
)");
  const std::string config =
      MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                 "parameters:\n  i: {range: [0, 12]}\nexecution: {workers: 2, chunk_size: 2}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 3) << r.err;
  ExpectNoLeftovers(r);
  const nlohmann::json s = Status();
  ASSERT_EQ(s["failures"].size(), 1u) << s.dump(2);
  const nlohmann::json& f = s["failures"][0];
  EXPECT_EQ(f["point"], 3);
  EXPECT_EQ(f["kind"], "crashed");
  EXPECT_NE(f["reason"].get<std::string>().find("SIGSEGV"), std::string::npos) << f.dump(2);
  // faulthandler's Python stack of the crash, from the worker's log.
  const std::string tail = f["stderr"].get<std::string>();
  EXPECT_NE(tail.find("Segmentation fault"), std::string::npos) << tail;
  EXPECT_NE(tail.find("model.py\", line 6 in compute"), std::string::npos) << tail;
  const auto y = ReadDataset<double>(dir_ / "out.h5", "/y");
  for (size_t i = 4; i < 12; ++i) EXPECT_EQ(y[i], double(i)) << "the other chunks go on";
}

TEST_F(PythonKernelTest, AHungPointIsKilledByTheTimeoutAndOnlyItsChunkFails) {
  Write("model.py",
        "import time\n\ndef compute(i):\n    if i == 3:\n        time.sleep(3600)\n"
        "    return float(i)\n");
  const std::string config =
      MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                 "parameters:\n  i: {range: [0, 8]}\n"
                 "execution: {workers: 2, chunk_size: 1, timeout: 3s, retries: 1}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 3) << r.err;
  ExpectNoLeftovers(r);
  const nlohmann::json s = Status();
  ASSERT_EQ(s["failures"].size(), 1u) << s.dump(2);
  EXPECT_EQ(s["failures"][0]["point"], 3);
  EXPECT_EQ(s["failures"][0]["kind"], "timeout");
  EXPECT_EQ(s["failures"][0]["attempt"], 2) << "a timeout is retried";
  EXPECT_EQ(s["done"], 7);
}

TEST_F(PythonKernelTest, AWorkerOverItsMemoryLimitIsKilledAndAMemoryErrorIsOutOfMemory) {
  Write("model.py", R"(
import time
import numpy as np

def compute(i):
    if i == 3:
        hog = np.ones(400 * 2**20 // 8)  # 400 MiB, touched: over the limit, under the backstop
        time.sleep(3600)
    if i == 5:
        np.empty(2**40)  # 8 TiB: refused by the backstop (RLIMIT_DATA), a MemoryError
    return float(i)
)");
  const std::string config =
      MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                 "parameters:\n  i: {range: [0, 8]}\n"
                 "execution: {workers: 2, chunk_size: 1, memory_limit: 256MiB, retries: 0}\n");
  // Under AddressSanitizer (scripts/test-sanitizers), its allocator aborts the process where
  // malloc would return NULL; this asks it for NULL, as the backstop gives without it.
  const char* asan = std::getenv("ASAN_OPTIONS");
  const std::string asan_before = asan ? asan : "";
  setenv("ASAN_OPTIONS", (asan_before + ":allocator_may_return_null=1").c_str(), 1);
  const RunResult r = Run({"run", config, "-q"});
  if (asan)
    setenv("ASAN_OPTIONS", asan_before.c_str(), 1);
  else
    unsetenv("ASAN_OPTIONS");
  ASSERT_EQ(r.code, 3) << r.err;
  ExpectNoLeftovers(r);
  const nlohmann::json s = Status();
  ASSERT_EQ(s["failures"].size(), 2u) << s.dump(2);
  for (const nlohmann::json& f : s["failures"]) {
    EXPECT_EQ(f["kind"], "out-of-memory") << f.dump(2);
    if (f["point"] == 3) {
      EXPECT_EQ(f["reason"], "out of memory: over execution.memory_limit, killed");
    } else {
      EXPECT_EQ(f["point"], 5);
      EXPECT_EQ(f["reason"].get<std::string>().rfind("out of memory: numpy.core._exceptions."
                                                     "_ArrayMemoryError: Unable to allocate",
                                                     0),
                0u)
          << f.dump(2);
    }
  }
  EXPECT_EQ(s["done"], 6);
}

// A model whose points from `hold_from` on wait for the gate (tests/e2e.h's Gate protocol), and
// which, should it ever get a KeyboardInterrupt, writes `caught` and carries on regardless.
const char kHeldModel[] = R"(
import os, time

def compute(i, hold_from, release, caught):
    if i >= hold_from:
        with open(release + ".held", "a") as f:
            f.write("%d %d\n" % (os.getpid(), i))
        try:
            while not os.path.exists(release):
                time.sleep(0.005)
        except KeyboardInterrupt:
            with open(caught, "a") as f:
                f.write("KeyboardInterrupt at %d\n" % i)
            while not os.path.exists(release):
                time.sleep(0.005)
    return float(i)
)";

TEST_F(PythonKernelTest, CtrlCStopsTheRunAndNeverRaisesKeyboardInterruptInTheModel) {
  Write("model.py", kHeldModel);
  const Gate gate(dir_.path());
  const std::string config =
      MakeConfig("  python: model.py\n  options: {hold_from: 2, release: " + dir_ / "gate-open" +
                     ", caught: " + dir_ / "caught" + "}\n  outputs: {y: float64}\n",
                 "parameters:\n  i: {range: [0, 8]}\nexecution: {workers: 2, chunk_size: 1}\n");
  // SIGINT straight to a worker (a whole terminal's process group would send it): the worker
  // dies of it, its chunk fails, and it is replaced.
  {
    SweepProcess run({"run", config, "-q"}, dir_.path());
    ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
    const pid_t worker = gate.Held()[0].first;
    kill(worker, SIGINT);
    ASSERT_TRUE(WaitUntil([&] { return kill(worker, 0) != 0; }));
    gate.Open();
    EXPECT_EQ(run.Wait(), 3) << run.err();
    EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
    const nlohmann::json s = Status();
    ASSERT_EQ(s["failures"].size(), 1u) << s.dump(2);
    EXPECT_NE(s["failures"][0]["reason"].get<std::string>().find("SIGINT"), std::string::npos);
  }
  // Ctrl-C of the driver stops the run as for any kernel: journaled, exit 130.
  fs::remove(dir_ / "gate-open");
  fs::remove(dir_ / "gate-open.held");
  {
    SweepProcess run({"run", config, "-q", "--force"}, dir_.path());
    ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
    run.Signal(SIGINT);
    EXPECT_EQ(run.Wait(), 130) << run.err();
    EXPECT_TRUE(LeftoversAfter(run.tag()).empty());
  }
  EXPECT_FALSE(fs::exists(dir_ / "caught")) << ReadFile(dir_ / "caught");
}

TEST_F(PythonKernelTest, AModelThatCannotBeImportedStopsTheRunSayingWhy) {
  Write("model.py", "def compute(x)\n    return x\n");
  const std::string config = MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                                        "parameters:\n  x: {values: [1, 2]}\n");
  RunResult r = Run({"run", config, "-q"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("SyntaxError"), std::string::npos) << r.err;
  Write("model.py", "import no_such_module_anywhere\n\ndef compute(x):\n    return x\n");
  r = Run({"run", config, "-q", "--force"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("ModuleNotFoundError: No module named 'no_such_module_anywhere' (at "
                       "model.py:1 in <module>)"),
            std::string::npos)
      << r.err;
  Write("model.py", "def compute(x, temperature):\n    return x\n");
  r = Run({"run", config, "-q", "--force"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("compute() needs `temperature`, which sweep does not pass"),
            std::string::npos)
      << r.err;
  Write("model.py", "def simulate(x):\n    return x\n");
  r = Run({"run", config, "-q", "--force"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("model.py defines no `compute` (name the function: `python: "
                       "model.py:simulate`)"),
            std::string::npos)
      << r.err;
}

TEST_F(PythonKernelTest, AnInlineRerunRunsTheModelInTheForegroundProcess) {
  // The model fails while `armed` exists, so the fix needs no edit of the model.
  Write("model.py",
        "import os\n\ndef compute(x, armed):\n    if x == 2 and os.path.exists(armed):\n"
        "        raise RuntimeError('armed')\n    return 10.0 * x\n");
  Write("armed", "");
  const std::string config = MakeConfig(
      "  python: model.py\n  options: {armed: " + dir_ / "armed" + "}\n  outputs: {y: float64}\n",
      "parameters:\n  x: {range: [0, 4]}\nexecution: {workers: 2, chunk_size: 1}\n");
  ASSERT_EQ(Run({"run", config, "-q"}).code, 3);
  RunResult r = Run({"rerun", "out.h5", "--failed", "--inline"});
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_NE(r.err.find("point 2 (x=2): RuntimeError: armed (at model.py:5 in compute)"),
            std::string::npos)
      << r.err;
  fs::remove(dir_ / "armed");
  r = Run({"rerun", "out.h5", "--failed", "--inline", "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y"), (std::vector<double>{0, 10, 20, 30}));
}

// ---- the fingerprint ------------------------------------------------------------------------

TEST_F(PythonKernelTest, ResumeRefusesAnEditedModelOrLocalModuleNamingItAndForceGoesOn) {
  Write("helper.py", "def check(x):\n    if x == 3:\n        raise ValueError('three')\n");
  Write("model.py", "import helper\n\ndef compute(x):\n    helper.check(x)\n    return 2.0 * x\n");
  const std::string config = MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                                        "parameters:\n  x: {range: [0, 6]}\n"
                                        "execution: {workers: 2, chunk_size: 1}\n");
  ASSERT_EQ(Run({"run", config, "-q"}).code, 3);
  // The user fixes the helper: its bytes differ, and resume says so.
  Write("helper.py", "def check(x):\n    pass\n");
  RunResult r = Run({"resume", "out.h5", "-q"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("kernel.python: helper.py changed (its bytes differ)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("model.py"), std::string::npos) << r.err;
  r = Run({"resume", "out.h5", "-q", "--force"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y").at(3), 6.0);
  // An edit of the model itself is named too, and a later run compares with what --force ran.
  Write("model.py", "import helper\n\ndef compute(x):\n    return 3.0 * x\n");
  r = Run({"rerun", "out.h5", "--points", "1", "-q"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("kernel.python: model.py changed (its bytes differ)"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("helper.py"), std::string::npos) << r.err;
  // A new local module the model imports is a change as well.
  Write("extra.py", "K = 1\n");
  Write("model.py", "import helper, extra\n\ndef compute(x):\n    return 2.0 * x\n");
  r = Run({"resume", "out.h5", "-q"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("kernel.python: extra.py is imported now"), std::string::npos) << r.err;
}

// ---- determinism ----------------------------------------------------------------------------

TEST_F(PythonKernelTest, SeedsStartMethodsWorkersAndBatchingGiveTheSameBytes) {
  Write("model.py", R"(
import numpy as np

def compute(mu, seed):
    rng = np.random.default_rng(seed)
    return {"draw": mu + rng.normal(), "walk": np.cumsum(rng.normal(size=4))}

def batched(mu, seed, out):
    for i in range(len(mu)):
        rng = np.random.default_rng(int(seed[i]))
        out["draw"][i] = mu[i] + rng.normal()
        out["walk"][i] = np.cumsum(rng.normal(size=4))
)");
  const std::string config =
      MakeConfig("  python: model.py\n  outputs: {draw: float64, walk: [float64, 4]}\n",
                 "parameters:\n  mu: {linspace: [0, 1, 25]}\nrepeat: 3\n");
  const auto run = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"run", config, "-q", "--force"};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = Run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return ResultsAndParams(dir_ / "out.h5");
  };
  const auto one = run({"-j", "1"});
  ASSERT_EQ(one.count("/draw"), 1u);
  EXPECT_EQ(one.at("/draw").size(), 75u * 8);
  EXPECT_EQ(run({"-j", "2", "--chunk-size", "7"}), one) << "2 spawned workers";
  EXPECT_EQ(run({"-j", "2", "--set", "execution.start=fork"}), one) << "2 forked workers";
  EXPECT_EQ(run({"-j", "2", "--set", "execution.start=forkserver"}), one)
      << "2 workers forked by the zygote";
  EXPECT_EQ(
      run({"-j", "2", "--set", "kernel.python=model.py:batched", "--set", "kernel.batch=true"}),
      one)
      << "batched";
  setenv("SWEEP_FORCE_PER_POINT", "1", 1);
  const auto per_point =
      run({"-j", "2", "--set", "kernel.python=model.py:batched", "--set", "kernel.batch=true"});
  unsetenv("SWEEP_FORCE_PER_POINT");
  EXPECT_EQ(per_point, one) << "a batch kernel called per point";
  // The seeds are the sweep's: other master seeds give other draws.
  EXPECT_NE(run({"--set", "seed=6"}).at("/draw"), one.at("/draw"));
}

// ---- processes and environments -------------------------------------------------------------

TEST_F(PythonKernelTest, OnlyWorkersLoadPythonNeitherSweepNorItsWorkerLinkIt) {
  for (const std::string binary : {SWEEP_BINARY, SWEEP_BUILD_DIR "/sweep-worker"})
    EXPECT_EQ(Shell("readelf -d '" + binary + "' | grep -q libpython"), 1) << binary;
  // validate and plan never run the model (it would leave `imported` behind).
  Write("model.py", std::string("open('") + dir_ / "imported" + "', 'w').close()\n" + kHeldModel);
  const Gate gate(dir_.path());
  const std::string config =
      MakeConfig("  python: model.py\n  options: {hold_from: 0, release: " + dir_ / "gate-open" +
                     ", caught: " + dir_ / "caught" + "}\n  outputs: {y: float64}\n",
                 "parameters:\n  i: {range: [0, 4]}\nexecution: {workers: 2, chunk_size: 1}\n");
  EXPECT_EQ(Run({"validate", config}).code, 0);
  EXPECT_EQ(Run({"plan", config}).code, 0);
  EXPECT_FALSE(fs::exists(dir_ / "imported"));
  // While it runs, the workers have libpython mapped, the driver not.
  SweepProcess run({"run", config, "-q"}, dir_.path());
  ASSERT_TRUE(gate.WaitHeld(2)) << run.err();
  const auto maps_python = [](pid_t pid) {
    return ReadFile("/proc/" + std::to_string(pid) + "/maps").find("libpython") !=
           std::string::npos;
  };
  EXPECT_FALSE(maps_python(run.pid()));
  for (const auto& [pid, point] : gate.Held()) EXPECT_TRUE(maps_python(pid)) << point;
  gate.Open();
  EXPECT_EQ(run.Wait(), 0) << run.err();
  EXPECT_TRUE(fs::exists(dir_ / "imported"));
}

TEST_F(PythonKernelTest, TheModelsAndTheConfigsFoldersAreFirstOnTheModulePath) {
  // The model lives in a folder of its own; it imports a module beside it and one beside the
  // config, whose name shadows a module of the standard library, as a script's folder would.
  Write("models/sibling.py", "VALUE = 1\n");
  Write("calendar.py", "VALUE = 20\n");
  Write("models/m.py",
        "import sibling, calendar\n\ndef compute(x):\n"
        "    return x + sibling.VALUE + calendar.VALUE\n");
  const std::string config = MakeConfig("  python: models/m.py\n  outputs: {y: float64}\n",
                                        "parameters:\n  x: {values: [100]}\n");
  const RunResult r = Run({"run", config, "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y"), (std::vector<double>{121}));
}

TEST_F(PythonKernelTest, TheActiveVirtualenvAndPythonpathAreOnTheModelsPath) {
  // A virtualenv of the Python sweep embeds, with a module in its site-packages and one more
  // folder named by a .pth file there, as an editable install makes.
  const std::string version = PythonVersionBuilt().substr(0, PythonVersionBuilt().rfind('.'));
  ASSERT_EQ(Shell(std::string(kPython) + " -m venv --without-pip " + dir_ / "venv"), 0);
  const std::string site = dir_ / ("venv/lib/python" + version + "/site-packages");
  Write(site.substr(dir_.path().size() + 1) + "/from_venv.py", "VALUE = 40\n");
  Write("editable/from_pth.py", "VALUE = 2\n");
  Write(site.substr(dir_.path().size() + 1) + "/editable.pth", dir_ / "editable" + "\n");
  Write("elsewhere/from_pythonpath.py", "VALUE = 100\n");
  Write("model.py", R"(
import from_venv, from_pth, from_pythonpath

def compute(x):
    return x + from_venv.VALUE + from_pth.VALUE + from_pythonpath.VALUE
)");
  const std::string config = MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                                        "parameters:\n  x: {values: [1, 2]}\n");
  setenv("VIRTUAL_ENV", (dir_ / "venv").c_str(), 1);
  setenv("PYTHONPATH", (dir_ / "elsewhere").c_str(), 1);
  const RunResult r = Run({"run", config, "-q"});
  unsetenv("VIRTUAL_ENV");
  unsetenv("PYTHONPATH");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y"), (std::vector<double>{143, 144}));
}

TEST_F(PythonKernelTest, AnInstalledSweepFindsItsPythonLibrary) {
  const TempDir prefix;
  ASSERT_EQ(Shell("'" + std::string(SWEEP_CMAKE) + "' --install '" + SWEEP_BUILD_DIR +
                  "' --prefix '" + prefix.path() + "' > /dev/null"),
            0);
  Write("model.py", "def compute(x):\n    return x / 2\n");
  const std::string config = MakeConfig("  python: model.py\n  outputs: {y: float64}\n",
                                        "parameters:\n  x: {values: [1, 3]}\n");
  ASSERT_EQ(
      Shell("cd '" + dir_.path() + "' && '" + prefix / "bin/sweep" + "' run '" + config + "' -q"),
      0);
  EXPECT_EQ(ReadDataset<double>(dir_ / "out.h5", "/y"), (std::vector<double>{0.5, 1.5}));
}

// What a forkserver's zygote does (kernels/python.h): init once, fork, compute in the child with
// the zygote's state. Done in a child of the test, so the test process never starts Python.
TEST_F(PythonKernelTest, AProcessThatForksAfterInitHandsItsChildrenAWorkingInterpreter) {
  Write("model.py", R"(
import numpy as np

def setup():
    return np.arange(3.0)

def compute(x, seed, state):
    return float(x * state.sum() + np.random.default_rng(seed).random())
)");
  const std::string config =
      MakeConfig("  python: model.py\n  outputs: {y: float64}\n", "parameters:\n  x: 1.5\n");
  const std::string results = dir_ / "results";
  const pid_t zygote = ForkChild({}, [&] {
    const sweep::Config loaded = LoadConfig(config);
    const Space space(loaded);
    const KernelBinding binding = BindKernel(loaded, space);
    const sweep_kernel& k = *binding.kernel;
    void* state = nullptr;
    char err[1024] = "";
    const sweep_options options = binding.options();
    if (k.init(&state, &options, nullptr, err, sizeof err) != 0) {
      std::fprintf(stderr, "init: %s\n", err);
      return 2;
    }
    sweep_value x{};
    space.Resolve(0, &x);
    const auto compute = [&](const char* who) {
      double y = 0;
      sweep_array out{&y, SWEEP_FLOAT64, 0, {}};
      if (k.compute(state, &x, space.Seed(0), &out, err, sizeof err) != 0) return false;
      std::ofstream(results, std::ios::app) << who << " " << y << "\n";
      return true;
    };
    if (!compute("zygote")) return 3;
    PythonBeforeFork();
    const pid_t child = fork();
    if (child == 0) {
      PythonAfterForkInChild();
      _exit(compute("child") ? 0 : 4);
    }
    PythonAfterForkInParent();
    int status = 0;
    waitpid(child, &status, 0);
    if (!compute("zygote-after")) return 5;
    k.finish(state);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 6;
  });
  int status = 0;
  ASSERT_EQ(waitpid(zygote, &status, 0), zygote);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::istringstream lines(ReadFile(results));
  std::map<std::string, double> y;
  for (std::string who; lines >> who;) lines >> y[who];
  ASSERT_EQ(y.size(), 3u) << ReadFile(results);
  EXPECT_EQ(y["child"], y["zygote"]);
  EXPECT_EQ(y["zygote-after"], y["zygote"]);
  EXPECT_GT(y["zygote"], 4.5);
}

// Only init() learns from the function's signature whether it reads `seed`: it says so in the
// kernel's flags (kernels/kernel.h), so that a worker derives no seeds for a function without one.
// Done in a child of the test, so the test process never starts Python.
TEST_F(PythonKernelTest, InitSaysInTheFlagsWhetherTheFunctionReadsSeeds) {
  Write("model.py", R"(
def unseeded(x):
    return x + 1.0

def seeded(x, seed):
    return x + seed % 2

def anything(**kwargs):
    return kwargs["x"] + kwargs["seed"] % 2
)");
  const pid_t child = ForkChild({}, [&] {
    int flags_seen = 0;
    const char* functions[] = {"unseeded", "seeded", "anything"};
    for (int f = 0; f < 3; ++f) {
      const std::string config = MakeConfig(
          "  python: model.py:" + std::string(functions[f]) + "\n  outputs: {y: float64}\n",
          "parameters:\n  x: 1.5\n");
      const sweep::Config loaded = LoadConfig(config);
      const Space space(loaded);
      const KernelBinding binding = BindKernel(loaded, space);
      const sweep_kernel& k = *binding.kernel;
      if (k.flags & SWEEP_KERNEL_IGNORES_SEED) return 10 + f;  // only init() can know
      void* state = nullptr;
      char err[1024] = "";
      const sweep_options options = binding.options();
      if (k.init(&state, &options, nullptr, err, sizeof err) != 0) {
        std::fprintf(stderr, "init %s: %s\n", functions[f], err);
        return 2;
      }
      if (k.flags & SWEEP_KERNEL_IGNORES_SEED) flags_seen |= 1 << f;
      k.finish(state);
    }
    return flags_seen == 1 ? 0 : 20 + flags_seen;
  });
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10+f: flagged before init; 20+bits: the functions flagged as ignoring seeds";
}

// ---- the config -----------------------------------------------------------------------------

TEST_F(PythonKernelTest, ConfigMistakesAreNamedAtTheirLineBeforeAnythingRuns) {
  Write("model.py", "def compute(x):\n    return x\n");
  const auto problem = [&](const std::string& kernel, const std::string& rest) {
    const std::string config = MakeConfig(kernel, rest);
    const RunResult r = Run({"run", config, "-q"});
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "out.h5"));
    return r.err;
  };
  EXPECT_NE(problem("  python: model.py\n", "parameters:\n  x: {values: [1]}\n")
                .find("sweep.yaml:3:1: kernel.outputs: a python kernel needs `outputs:`"),
            std::string::npos);
  EXPECT_NE(problem("  python: nowhere.py\n  outputs: {y: float64}\n",
                    "parameters:\n  x: {values: [1]}\n")
                .find("kernel.python: cannot read " + dir_ / "nowhere.py" +
                      ": No such file or directory"),
            std::string::npos);
  EXPECT_NE(problem("  python: model.py\n  options: {x: 1}\n  outputs: {y: float64}\n",
                    "parameters:\n  x: {values: [1]}\n")
                .find("sweep.yaml:5:13: kernel.options.x: `x` is also a parameter"),
            std::string::npos);
  EXPECT_NE(problem("  python: model.py\n  outputs: {y: float64}\n",
                    "parameters:\n  inputs: {values: [1]}\n")
                .find("parameters.inputs: the python kernel passes `inputs` itself"),
            std::string::npos);
  EXPECT_NE(problem("  python: 'model.py:'\n  outputs: {y: float64}\n",
                    "parameters:\n  x: {values: [1]}\n")
                .find("names no function after its `:`"),
            std::string::npos);
  EXPECT_NE(problem("  name: square\n  batch: true\n", "parameters:\n  x: {values: [1]}\n")
                .find("`batch` is only for `python` kernels"),
            std::string::npos);
  EXPECT_NE(problem("  python: model.py\n  batch: yes\n  outputs: {y: float64}\n",
                    "parameters:\n  x: {values: [1]}\n")
                .find("kernel.batch: expected whether the function takes a block of points at "
                      "once (true | false)"),
            std::string::npos);
}

TEST(PythonConfigTest, TheTextNamesAFileAndAFunctionComputeByDefault) {
  const auto read = [](const std::string& python) {
    const sweep::Config c = ParseConfig(
        "kernel: {python: '" + python + "', outputs: {y: float64}}\nparameters: {x: 1}\n",
        "/project/sweep.yaml");
    return c.kernel.python + " " + c.kernel.python_function;
  };
  EXPECT_EQ(read("model.py:simulate"), "/project/model.py simulate");
  EXPECT_EQ(read("models/sir.py"), "/project/models/sir.py compute");
  EXPECT_EQ(read("/abs/a:b/m.py:run_it"), "/abs/a:b/m.py run_it");
  EXPECT_EQ(read("/abs/a:b/m.py"), "/abs/a:b/m.py compute");
}

}  // namespace
}  // namespace sweep
