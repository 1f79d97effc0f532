// Tests of the persistent kernel (kernels/persistent.h): a real program, started once per worker,
// serving points over stdin and stdout with stream/1, run by the real `sweep` binary under every
// start method. The programs are short Python servers (/usr/bin/python3, json only) and shell
// scripts; the careless ones misbehave in every way a user's first attempt does.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "driver/binding.h"
#include "driver/space.h"
#include "driver/worker_log.h"
#include "io/config.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A stream/1 server in Python. Per point: y = 1.5 x + seed % 1000, its pid, and the number of
// points it has answered. It logs a line at start and one per point on stdout (to be kept as
// log), and misbehaves where `faults` (Python statements run before each answer, with `x`, `p`,
// `hello` and `served` defined) says.
std::string Server(const TempDir& dir, const std::string& faults = "",
                   const std::string& name = "server.py") {
  WriteFile(dir / name,
            "import json, os, sys, time\n"
            "hello = json.loads(sys.stdin.readline())\n"
            "assert hello['sweep'] == 'stream/1', hello\n"
            "print('server up, pid', os.getpid(), 'hello', json.dumps(hello, sort_keys=True))\n"
            "served = 0\n"
            "for line in sys.stdin:\n"
            "    p = json.loads(line)\n"
            "    x = p['x']\n"
            "    print('log: computing point', p['point'])\n" +
                (faults.empty() ? "" : "    " + faults + "\n") +
                "    served += 1\n"
                "    print(json.dumps({'point': p['point'], 'y': 1.5 * x + p['seed'] % 1000,\n"
                "                      'pid': os.getpid(), 'served': served}))\n");
  return "[" + std::string(kPython) + ", '{config_dir}/" + name + "']";
}

std::string Yaml(const std::string& command, const std::string& persistent,
                 const std::string& execution, const std::string& more = "") {
  return "name: p\nseed: 3\nkernel:\n  command: " + command + "\n  persistent: " + persistent +
         "\n  outputs: {y: float64, pid: int64, served: int64}\n" + more +
         "parameters:\n  x: {range: [0, 12]}\nexecution: " + execution +
         "\noutput: {path: out.h5}\n";
}

class PersistentRun : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Execution(const std::string& more = "") const {
    return "{workers: 2, chunk_size: 1, start: " + GetParam() + more + "}";
  }
};

// The expected y of every point, from the seeds of the sweep.
std::vector<double> ExpectedY(const std::string& config) {
  const Space space(LoadConfig(config));
  std::vector<double> y;
  for (uint64_t p = 0; p < space.points(); ++p)
    y.push_back(1.5 * double(p) + double(space.Seed(p) % 1000));
  return y;
}

// The pids of the programs that answered points (failed points hold the outputs' fill values).
std::set<int64_t> Programs(const std::string& output) {
  const std::vector<int64_t> pids = ReadDataset<int64_t>(output, "/pid");
  const std::vector<double> y = ReadDataset<double>(output, "/y");
  std::set<int64_t> programs;
  for (size_t i = 0; i < pids.size(); ++i)
    if (y[i] != kMissingFloat64) programs.insert(pids[i]);
  return programs;
}

TEST_P(PersistentRun, OneProgramPerWorkerServesEveryPoint) {
  TempDir dir;
  WriteFile(dir / "p.yaml", Yaml(Server(dir), "true", Execution()));
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), ExpectedY(dir / "p.yaml"));
  // Two workers, one program each: at most two pids, and every point counted by its server.
  const std::vector<int64_t> pids = ReadDataset<int64_t>(dir / "out.h5", "/pid");
  EXPECT_LE(std::set<int64_t>(pids.begin(), pids.end()).size(), 2u);
  const std::vector<int64_t> served = ReadDataset<int64_t>(dir / "out.h5", "/served");
  int64_t total = 0;
  for (int64_t pid : std::set<int64_t>(pids.begin(), pids.end())) {
    int64_t most = 0;
    for (size_t i = 0; i < pids.size(); ++i)
      if (pids[i] == pid) most = std::max(most, served[i]);
    total += most;
  }
  EXPECT_EQ(total, 12);  // no point twice, none lost
  // Its log lines are in the workers' logs, the result lines are not.
  std::string logs;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out.h5.logs"))
    logs += ReadFile(e.path().string());
  EXPECT_TRUE(Contains(logs, "server up, pid")) << logs;
  EXPECT_TRUE(Contains(logs, "log: computing point 11\n")) << logs;
  EXPECT_FALSE(Contains(logs, "\"point\": 11, \"y\"")) << logs;
  // The work directories are gone with the programs, and their root with them.
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));
}

// The same sweep through a program per point gives the same bytes.
TEST_P(PersistentRun, GivesTheBytesOfTheSameModelRunPerPoint) {
  TempDir dir;
  WriteFile(dir / "once.py",
            "import json, sys\nx, seed = int(sys.argv[1]), int(sys.argv[2])\n"
            "print(json.dumps({'y': 1.5 * x + seed % 1000, 'pid': 0, 'served': 0}))\n");
  WriteFile(dir / "per_point.yaml",
            Yaml("[" + std::string(kPython) + ", '{config_dir}/once.py', '{x}', '{seed}']", "false",
                 Execution()));
  ASSERT_EQ(RunSweep({"run", "per_point.yaml", "-q", "-o", "a.h5"}, dir.path()).code, 0);
  WriteFile(dir / "p.yaml", Yaml(Server(dir), "true", Execution()));
  ASSERT_EQ(RunSweep({"run", "p.yaml", "-q", "-o", "b.h5"}, dir.path()).code, 0);
  EXPECT_EQ(ReadDataset<double>(dir / "a.h5", "/y"), ReadDataset<double>(dir / "b.h5", "/y"));
  EXPECT_EQ(ReadDataset<double>(dir / "b.h5", "/y"), ExpectedY(dir / "p.yaml"));
}

// The hello names the options, outputs and inputs; the program maps the inputs itself, from
// their files (npy) and from the memory sweep made them in (generated).
TEST_P(PersistentRun, TheHelloGivesOptionsOutputsAndInputsToMapInPlace) {
  TempDir dir;
  std::vector<double> a(1000);
  for (size_t i = 0; i < a.size(); ++i) a[i] = 0.25 * double(i);
  WriteFile(dir / "a.npy", Npy(a));
  WriteFile(dir / "maps.py",
            "import json, sys\nimport numpy as np\n"
            "hello = json.loads(sys.stdin.readline())\n"
            "arrays = {name: np.memmap(d['path'], dtype=d['dtype'], mode='r', offset=d['offset'],\n"
            "                          shape=tuple(d['shape']))\n"
            "          for name, d in hello['inputs'].items()}\n"
            "for line in sys.stdin:\n"
            "    p = json.loads(line)\n"
            "    print(json.dumps({'point': p['point'],\n"
            "        'a': float(arrays['A'][p['x']]), 'g': float(arrays['G'][p['x'] % 4, 1]),\n"
            "        'scale': hello['options']['scale'] * p['x'], 'label': "
            "len(hello['options']['label']),\n"
            "        'shape': hello['outputs']['trace']['shape'][0],\n"
            "        'trace': [p['x'], p['seed'] % 7, 1]}))\n");
  WriteFile(dir / "p.yaml",
            "name: p\nkernel:\n  command: [" + std::string(kPython) +
                ", '{config_dir}/maps.py']\n  persistent: {max_points: 1000000000000000000}\n"
                "  options: {scale: 0.5, label: \"a \\\"quoted\\\" label\"}\n"
                "  outputs: {a: float64, g: float64, scale: float64, label: int32, shape: int32,"
                " trace: [float64, 3]}\n"
                "inputs:\n  A: {npy: a.npy}\n  G: {generate: arange, shape: [4, 2], dtype: int32}\n"
                "parameters:\n  x: {range: [0, 8]}\nexecution: " +
                Execution() + "\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const Space space(LoadConfig(dir / "p.yaml"));
  const std::vector<double> got_a = ReadDataset<double>(dir / "out.h5", "/a");
  const std::vector<double> got_g = ReadDataset<double>(dir / "out.h5", "/g");
  const std::vector<double> scale = ReadDataset<double>(dir / "out.h5", "/scale");
  const std::vector<double> trace = ReadDataset<double>(dir / "out.h5", "/trace");
  ASSERT_EQ(got_a.size(), 8u);
  for (size_t x = 0; x < 8; ++x) {
    EXPECT_EQ(got_a[x], 0.25 * double(x));
    EXPECT_EQ(got_g[x], double((x % 4) * 2 + 1));
    EXPECT_EQ(scale[x], 0.5 * double(x));
    EXPECT_EQ(trace[3 * x + 1], double(space.Seed(x) % 7));
  }
  EXPECT_EQ(ReadDataset<int32_t>(dir / "out.h5", "/label"), std::vector<int32_t>(8, 16));
  EXPECT_EQ(ReadDataset<int32_t>(dir / "out.h5", "/shape"), std::vector<int32_t>(8, 3));
}

// A crash fails the point in flight, with the program's last words, and the next point starts
// the program again; the other points are computed.
TEST_P(PersistentRun, ACrashFailsThePointInFlightAndTheProgramStartsAgain) {
  TempDir dir;
  WriteFile(dir / "p.yaml", Yaml(Server(dir,
                                        "if x == 5: print('about to crash', file=sys.stderr); "
                                        "sys.stderr.flush(); os.abort()"),
                                 "true", "{workers: 1, chunk_size: 1, start: " + GetParam() + "}"));
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  const std::vector<double> expected = ExpectedY(dir / "p.yaml");
  for (size_t i = 0; i < 12; ++i) {
    if (i == 5) {
      EXPECT_EQ(y[i], kMissingFloat64);
    } else {
      EXPECT_EQ(y[i], expected[i]) << i;
    }
  }
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].point, 5u);
  EXPECT_EQ(failed[0].reason.rfind("command `" + std::string(kPython) +
                                       "`: was killed by SIGABRT (Aborted) while computing "
                                       "point 5 (it had answered 5 points since it started); "
                                       "stderr: about to crash",
                                   0),
            0u)
      << failed[0].reason;
  EXPECT_TRUE(failed[0].final);  // a crash at a point is that point's: not retried
  // The one worker started a second program for point 6, which counts from 1 again.
  EXPECT_EQ(Programs(dir / "out.h5").size(), 2u);
  const std::vector<int64_t> pids = ReadDataset<int64_t>(dir / "out.h5", "/pid");
  const std::vector<int64_t> served = ReadDataset<int64_t>(dir / "out.h5", "/served");
  EXPECT_NE(pids[6], pids[4]);
  EXPECT_EQ(served[4], 5);
  EXPECT_EQ(served[6], 1);
  EXPECT_EQ(served[11], 6);
  // The crashed program's work directory is kept (keep: failed), named by its first point.
  std::set<std::string> kept;
  for (const auto& e : std::filesystem::directory_iterator(dir / "out.h5.work"))
    kept.insert(e.path().filename().string());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept.begin()->rfind("program-", 0), 0u);
}

// An error line fails its point with the program's reason; the program stays.
TEST_P(PersistentRun, AnErrorLineFailsItsPointAndTheProgramStays) {
  TempDir dir;
  WriteFile(dir / "p.yaml",
            Yaml(Server(dir,
                        "if x in (3, 7): print(json.dumps({'point': p['point'], 'error': "
                        "'diverged at x=%d' % x})); continue"),
                 "true", "{workers: 1, chunk_size: 1, start: " + GetParam() + "}"));
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].reason, "diverged at x=3");
  EXPECT_EQ(failed[1].reason, "diverged at x=7");
  EXPECT_TRUE(failed[0].final);  // deterministic: not retried
  // One worker, one program for every point.
  EXPECT_EQ(Programs(dir / "out.h5").size(), 1u);
  EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", "/served")[11], 10);
}

// A program silent past the per-point limit is killed with its process group (a child it
// started too) and started again; the point is retried as any timeout is, and computed.
TEST_P(PersistentRun, ATimeoutKillsTheGroupAndThePointIsRetried) {
  TempDir dir;
  const std::string marker = dir / "slow-once";
  WriteFile(
      dir / "p.yaml",
      Yaml(Server(dir, "if x == 4 and not os.path.exists('" + marker + "'):\n        open('" +
                           marker + "', 'w').close(); os.system('sleep 300 &'); time.sleep(300)"),
           "true", Execution(", timeout: 5s, retries: 1")));
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << "the hung program or its child survived";
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), ExpectedY(dir / "p.yaml"));
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].point, 4u);
  EXPECT_EQ(failed[0].kind, "timeout");
  EXPECT_FALSE(failed[0].final);
  EXPECT_TRUE(Contains(failed[0].reason, std::string(SWEEP_TIMEOUT_PREFIX) + "command `"))
      << failed[0].reason;
  EXPECT_TRUE(Contains(failed[0].reason, "no answer for point 4 within")) << failed[0].reason;
}

// max_points retires a program after that many answers: every program serves at most N points.
TEST_P(PersistentRun, MaxPointsStartsTheProgramAgainAfterThatMany) {
  TempDir dir;
  WriteFile(dir / "p.yaml", Yaml(Server(dir), "{max_points: 3}",
                                 "{workers: 1, chunk_size: 2, start: " + GetParam() + "}"));
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), ExpectedY(dir / "p.yaml"));
  const std::vector<int64_t> pids = ReadDataset<int64_t>(dir / "out.h5", "/pid");
  const std::vector<int64_t> served = ReadDataset<int64_t>(dir / "out.h5", "/served");
  // One worker computes the points in order: programs of 3 points each, counted 1, 2, 3.
  for (size_t i = 0; i < 12; ++i) {
    EXPECT_EQ(served[i], int64_t(i % 3 + 1)) << i;
    if (i % 3) {
      EXPECT_EQ(pids[i], pids[i - 1]) << i;
    }
  }
  EXPECT_EQ(std::set<int64_t>(pids.begin(), pids.end()).size(), 4u);
}

INSTANTIATE_TEST_SUITE_P(Start, PersistentRun, ::testing::Values("spawn", "fork", "forkserver"),
                         [](const ::testing::TestParamInfo<std::string>& start) {
                           return start.param;
                         });

// ---- The careless user ----

// A config for a program `program` (a shell script written to dir/prog.sh), one worker.
std::string CarelessConfig(const TempDir& dir, const std::string& script,
                           const std::string& execution = "{workers: 1, chunk_size: 1}") {
  WriteFile(dir / "prog.sh", "#!/bin/sh\n" + script);
  chmod((dir / "prog.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [./prog.sh]\n  persistent: true\n"
            "  outputs: {y: float64}\nparameters:\n  x: {range: [0, 4]}\n"
            "execution: " +
                execution + "\noutput: {path: out.h5}\n");
  return dir / "c.yaml";
}

// A program that exits at once (a per-point script given `persistent: true`, a typo that ends the
// interpreter) fails each point, saying it ended before its first answer, and never hangs.
TEST(PersistentCareless, AProgramThatExitsAtOnce) {
  TempDir dir;
  CarelessConfig(dir, "echo 'usage: prog X' >&2\nexit 2\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 4u);
  EXPECT_EQ(failed[0].reason,
            "command `./prog.sh`: exited with exit code 2 before it answered its first point, 0; "
            "stderr: usage: prog X");
}

// A program that reads its points but never answers: the per-point limit ends each point. The
// limit is the timeout less a tenth (at most 1 s), and the driver's own deadline for the chunk
// runs from before the worker starts the program: at 10 s the program has a second to start, where
// at 1 s a loaded machine took more than its 0.1 s and the driver's kill came first.
TEST(PersistentCareless, AProgramThatNeverAnswers) {
  TempDir dir;
  CarelessConfig(dir, "while read line; do :; done\n",
                 "{workers: 2, chunk_size: 1, timeout: 10s, retries: 0}");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 4u);
  for (const JournalRecord& f : failed) {
    EXPECT_EQ(f.kind, "timeout");
    EXPECT_TRUE(Contains(f.reason, "no answer for point")) << f.reason;
  }
}

// A program that never reads its stdin and floods stdout with log (112 MB, the first 100 MB
// without a line break), with a result line after each flood: no deadlock, every point
// answered, and the worker's log kept to its last 8 to 16 MiB, ending with what it wrote last.
TEST(PersistentCareless, AProgramThatFloodsStdout) {
  TempDir dir;
  CarelessConfig(dir,
                 "head -c 100000000 /dev/zero | tr '\\0' 'a'\necho\n"
                 "read hello\ni=0\nwhile read line; do\n"
                 "  head -c 3000000 /dev/zero | tr '\\0' '\\n'\n"
                 "  echo \"{\\\"point\\\": $i, \\\"y\\\": $i}\"\n  echo \"after point $i\"\n"
                 "  i=$((i+1))\ndone\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), (std::vector<double>{0, 1, 2, 3}));
  const std::filesystem::path log = dir / "out.h5.logs/worker-0.log";
  const uintmax_t kept =
      std::filesystem::file_size(log) + std::filesystem::file_size(log.string() + ".1");
  EXPECT_GE(kept, kWorkerLogRotateBytes);
  EXPECT_LE(kept, 2 * kWorkerLogRotateBytes);
  EXPECT_TRUE(Contains(ReadLogTail(log.string(), 200), "after point 3"))
      << ReadLogTail(log.string(), 200);
}

// Answers for the wrong point, garbage between answers (not JSON, JSON without "point", binary),
// an output missing: each wrong answer fails its point, the garbage is log.
TEST(PersistentCareless, WrongPointsAndGarbage) {
  TempDir dir;
  CarelessConfig(dir,
                 "read hello\nwhile read line; do\n"
                 "  i=$(echo \"$line\" | sed 's/.*\"point\": \\([0-9]*\\).*/\\1/')\n"
                 "  printf 'garbage \\001\\377\\n{not json\\n{\"y\": 5}\\n[1, 2]\\n'\n"
                 "  case $i in\n"
                 "    1) echo '{\"point\": 7, \"y\": 1}' ;;\n"
                 "    2) echo '{\"point\": \"2\", \"y\": 1}' ;;\n"
                 "    3) echo '{\"point\": 3, \"z\": 1}' ;;\n"
                 "    *) echo \"{\\\"point\\\": $i, \\\"y\\\": NaN}\" ;;\n"
                 "  esac\ndone\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].point, 1u);
  EXPECT_TRUE(Contains(failed[0].reason, "answered {\"point\":7,\"y\":1} while point 1 was asked"))
      << failed[0].reason;
  EXPECT_EQ(failed[1].point, 2u);
  EXPECT_TRUE(Contains(failed[1].reason, "answered {\"point\":\"2\",\"y\":1} while point 2"))
      << failed[1].reason;
  EXPECT_EQ(failed[2].point, 3u);
  EXPECT_EQ(failed[2].reason,
            "command `./prog.sh`: point 3: no output `y` (its members: point, z)");
  std::string log = ReadFile(dir / "out.h5.logs/worker-0.log");
  EXPECT_TRUE(Contains(log, "{not json\n{\"y\": 5}\n[1, 2]\n")) << log;
  // Point 0 answered NaN: it is done, and holds the NaN, not the fill value of a failed point.
  EXPECT_TRUE(std::isnan(ReadDataset<double>(dir / "out.h5", "/y")[0]));
}

// ---- Config ----

std::vector<Diagnostic> BindErrors(const TempDir& dir, const std::string& yaml) {
  try {
    const Config config = ParseConfig(yaml, dir / "c.yaml");
    const Space space(config);
    BindKernel(config, space);
  } catch (const ConfigError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "accepted:\n" << yaml;
  return {};
}

// `env:` is set for a persistent program too, over the worker's environment, rendered once: a
// point's values come on stdin, so only {config_dir} may be in it.
TEST(PersistentConfig, EnvIsSetForTheProgramOnce) {
  TempDir dir;
  const std::string command = Server(dir, "x = x + float(os.environ['SHIFT'])");
  WriteFile(dir / "c.yaml", Yaml(command, "true", "{workers: 2, chunk_size: 1}",
                                 "  env: {SHIFT: '2', HERE: '{config_dir}'}\n"));
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> expected = ExpectedY(dir / "c.yaml");
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), expected.size());
  for (size_t p = 0; p < y.size(); ++p) EXPECT_EQ(y[p], expected[p] + 3.0) << p;
  const RunResult bad =
      RunSweep({"validate", "c.yaml", "--set", "kernel.env.SHIFT='{x}'"}, dir.path());
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(
      Contains(bad.err, "kernel.env.SHIFT: `{x}`: a persistent program is started once per worker"))
      << bad.err;
}

TEST(PersistentConfig, PlaceholdersResultsFileAndBadValuesAreConfigErrors) {
  TempDir dir;
  const std::string head = "name: c\nkernel:\n  command: [/bin/cat, '{x}']\n";
  std::vector<Diagnostic> errors = BindErrors(
      dir,
      head + "  persistent: true\n  outputs: {y: float64}\nparameters:\n  x: {range: [0, 2]}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key_path, "kernel.command[1]");
  EXPECT_TRUE(Contains(errors[0].message, "a persistent program is started once per worker"))
      << errors[0].message;
  for (const std::string& bad :
       {std::string("yes"), std::string("{max_points: 0}"), std::string("{max_point: 3}"),
        std::string("{max_points: 99999999999999999999}"), std::string("[1]")}) {
    errors = BindErrors(dir, "name: c\nkernel:\n  command: [/bin/cat]\n  persistent: " + bad +
                                 "\n  outputs: {y: float64}\nparameters:\n  x: 1\n");
    ASSERT_FALSE(errors.empty()) << bad;
    EXPECT_EQ(errors[0].where.line, 4) << bad;
    EXPECT_EQ(errors[0].key_path.rfind("kernel.persistent", 0), 0u) << bad << errors[0].key_path;
  }
  errors = BindErrors(dir,
                      "name: c\nkernel:\n  command: [/bin/cat]\n  persistent: true\n"
                      "  results_file: out.json\n  outputs: {y: float64}\nparameters:\n  x: 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(Contains(errors[0].message, "`results_file` is not for a persistent program"));
  errors =
      BindErrors(dir, "name: c\nkernel: {name: square, persistent: true}\nparameters:\n  x: 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(Contains(errors[0].message, "only for `command` kernels")) << errors[0].message;
}

TEST(PersistentConfig, TheKernelTakesEveryParameterOptionAndInput) {
  TempDir dir;
  const Config config = ParseConfig(
      "name: c\nkernel:\n  command: [/bin/cat, '{config_dir}/x']\n  persistent: true\n"
      "  options: {n: 3, s: text, f: 0.5}\n  outputs: {y: float64}\n"
      "inputs:\n  A: {generate: zeros, shape: [2], dtype: int32}\n"
      "parameters:\n  x: {range: [0, 2]}\n  k: 7\n",
      dir / "c.yaml");
  const Space space(config);
  const KernelBinding b = BindKernel(config, space);
  EXPECT_EQ(b.name, "persistent");
  ASSERT_EQ(b.kernel->n_params, 2);
  EXPECT_STREQ(b.kernel->params[0].name, "x");
  EXPECT_STREQ(b.kernel->params[1].name, "k");
  ASSERT_EQ(b.kernel->n_options, 3);
  EXPECT_STREQ(b.kernel->options[1].name, "n");  // a map: by name
  EXPECT_EQ(b.option_values[1].integer, 3);
  EXPECT_STREQ(b.option_values[2].string, "text");
  ASSERT_EQ(b.kernel->n_inputs, 1);
  EXPECT_EQ(b.kernel->inputs[0].dtype, 0);  // any
  EXPECT_NE(b.place_inputs, nullptr);
  EXPECT_NE(b.set_point, nullptr);
}

// The program's bytes, and a script it runs, are in the fingerprint: a resume refuses an edited
// server, naming it; --force goes on with it.
TEST(PersistentFingerprint, AnEditedServerIsRefusedOnResumeNamingIt) {
  TempDir dir;
  WriteFile(dir / "p.yaml", Yaml(Server(dir), "true", "{workers: 1, chunk_size: 1}"));
  ASSERT_EQ(RunSweep({"run", "p.yaml", "-q"}, dir.path()).code, 0);
  Server(dir, "x = x + 1");
  const RunResult refused = RunSweep({"rerun", "out.h5", "--points", "2", "-q"}, dir.path());
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_TRUE(Contains(refused.err, "kernel.command: `{config_dir}/server.py`: its bytes changed"))
      << refused.err;
  const RunResult forced =
      RunSweep({"rerun", "out.h5", "--points", "2", "--force", "-q"}, dir.path());
  ASSERT_EQ(forced.code, 0) << forced.err;
  const std::vector<double> expected = ExpectedY(dir / "p.yaml");
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y")[2], expected[2] + 1.5);
}

}  // namespace
}  // namespace sweep
