// End-to-end tests of the command line: exit codes, one-line errors, `plan`, `validate`,
// `kernels`, that a bad config writes nothing, suggestions for misspelt commands and options,
// `sweep help`, and the bash completion script.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>

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

// Files in `dir` besides the captured stdout and stderr of the runs.
size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    n += name.rfind("stdout-", 0) != 0 && name.rfind("stderr-", 0) != 0;
  }
  return n;
}

struct BadConfig {
  const char* yaml;
  const char* where;     // "bad.yaml:LINE:" or "bad.yaml:LINE:COL:"
  const char* fragment;  // part of the message
};

// A sample through the real binary: the library's table (config_test.cc) has many more.
const BadConfig kBadConfigs[] = {
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {linspace: [0, 1]}\n",
     "bad.yaml:4:", "parameters.x.linspace"},
    {"name: x\nkernel: {name: square, optoins: {}}\nparameters:\n  x: 1\n",
     "bad.yaml:2:", "did you mean `options`"},
    {"name: x\nkernel: {name: nope}\nparameters:\n  x: 1\n",
     "bad.yaml:2:", "unknown kernel `nope`"},
    {"name: x\nkernel: {name: square}\nparameters:\n  y: 1\n",
     "bad.yaml:2:", "reads parameter `x`"},
    {"name: x\nkernel: {name: lorenz, options: {steps: many}}\nparameters:\n  sigma: 1\n  rho: 1\n "
     " beta: 1\n",
     "bad.yaml:2:", "kernel.options.steps"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {values: [1, 2]\n",
     "bad.yaml:5:1:", "YAML syntax error"},
    {"", "bad.yaml:1:", "empty"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {range: [0, 10]}\n  a: {range: [0, "
     "65536]}\n"
     "  b: {range: [0, 65536]}\n  c: {range: [0, 65536]}\n  d: {range: [0, 65536]}\n",
     "bad.yaml:", "more than 2^64 points"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {values: [1, 2]}\n  y: {values: "
     "[1]}\nzip: [[x, y]]\n",
     "bad.yaml:6:", "lengths differ"},
    {"name: x\nkernel: {name: array_sum}\nparameters:\n  scale: 1\n",
     "bad.yaml:2:", "needs input `data`"},
    {"name: x\nkernel: {name: array_sum}\ninputs:\n  data: {npy: missing.npy}\nparameters:\n  "
     "scale: 1\n",
     "bad.yaml:4:", "inputs.data"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: 1\nexecution: {workers: 0}\n",
     "bad.yaml:5:", "execution.workers"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: {values: [3, 1, 2, 1]}\n",
     "bad.yaml:4:25:", "`1` is also item 1 of the list"},
    {"name: x\nkernel: {name: square}\nparameters:\n  x: 1\nattributes:\n  y: {units: m}\n"
     "  lyapunov: {units: s-1}\n",
     "bad.yaml:7:3:", "attributes.lyapunov: no parameter or output named `lyapunov`"},
};

TEST(CliTest, BadConfigsExitTwoWithOneLineEachAndWriteNothing) {
  for (const BadConfig& bad : kBadConfigs) {
    SCOPED_TRACE(bad.yaml);
    TempDir dir;
    WriteFile(dir / "bad.yaml", bad.yaml);
    for (const char* command : {"validate", "run", "plan"}) {
      const RunResult r = RunSweep({command, "bad.yaml"}, dir.path());
      EXPECT_EQ(r.code, 2) << command << ": " << r.err;
      const std::vector<std::string> lines = Lines(r.err);
      ASSERT_FALSE(lines.empty());
      for (const std::string& line : lines) EXPECT_EQ(line.rfind("sweep: ", 0), 0u) << line;
      EXPECT_NE(r.err.find(std::string("sweep: ") + bad.where), std::string::npos)
          << command << ": " << r.err;
      EXPECT_NE(r.err.find(bad.fragment), std::string::npos) << command << ": " << r.err;
      // Nothing but the config itself is in the folder.
      EXPECT_EQ(FilesIn(dir.path()), 1u) << command;
      EXPECT_FALSE(std::filesystem::exists(dir / "results")) << command;
    }
  }
}

// A `--set` value is YAML like the file, with the file's guards: a cyclic alias is refused
// (exit 2, one line naming the --set), as is one that expands beyond any config, and a file
// whose aliases expand beyond any config is refused before --set would write it out.
TEST(CliTest, SetValuesWithCyclicOrExplodingAliasesAreRefusedAsInAFile) {
  TempDir dir;
  WriteFile(dir / "ok.yaml",
            "name: ok\nkernel: {name: square}\nparameters: {x: {linspace: [0, 1, 3]}}\n");
  std::string laughs = "l0: &l0 [a, a, a, a, a, a, a, a, a]\n";
  for (int i = 1; i < 9; ++i) {
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 9; ++k) laughs += (k ? ", *l" : "*l") + std::to_string(i - 1);
    laughs += "]\n";
  }
  WriteFile(dir / "laughs.yaml", laughs + "kernel: {name: square}\nparameters: {x: 1}\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"ok.yaml", "--set", "name=&a [*a]"},
       "sweep: --set: name=&a [*a]: bad value: an alias inside the node its anchor names (as in "
       "`&a [*a]`): the value never ends"},
      {{"ok.yaml", "--set", "parameters.x={values: &v [1, *v]}"},
       "bad value: an alias inside the node its anchor names"},
      {{"laughs.yaml", "--set", "name=x"},
       "sweep: laughs.yaml:8:15: l7[1]: aliases expand the document beyond 8388608 values, more "
       "than any config holds"}};
  for (const auto& [args, message] : cases) {
    for (const char* command : {"validate", "plan", "run"}) {
      std::vector<std::string> argv = {command};
      argv.insert(argv.end(), args.begin(), args.end());
      const RunResult r = RunSweep(argv, dir.path());
      EXPECT_EQ(r.code, 2) << command << " " << args[2] << ": " << r.err;
      EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
      EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    }
  }
  EXPECT_EQ(FilesIn(dir.path()), 2u);
}

TEST(CliTest, ValidateReportsEveryProblemNotOnlyTheFirst) {
  TempDir dir;
  WriteFile(dir / "bad.yaml",
            "name: x\nkernel: {name: square}\nparameters:\n  x: {linspace: [0, 1]}\n"
            "execution: {workers: 0, schedule: sideways}\nrepeat: 0\n");
  const RunResult r = RunSweep({"validate", "bad.yaml"}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(Lines(r.err).size(), 4u) << r.err;
  const RunResult ok = RunSweep({"validate", SourcePath("configs/quickstart.yaml")}, dir.path());
  EXPECT_EQ(ok.code, 0) << ok.err;
  EXPECT_EQ(ok.out, "ok\n");
}

// A `values:` list that is not sorted is kept in its order: valid, with a note saying where.
TEST(CliTest, ValidateNotesValuesThatAreNotSorted) {
  TempDir dir;
  WriteFile(dir / "unsorted.yaml",
            "name: x\nkernel: {name: square}\nparameters:\n  x: {values: [3, 1, 2]}\n");
  const RunResult r = RunSweep({"validate", "unsorted.yaml"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find("sweep: note: unsorted.yaml:4:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("parameters.x.values"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("not sorted"), std::string::npos) << r.err;
}

TEST(CliTest, ATrillionPointSweepPlansInstantly) {
  TempDir dir;
  WriteFile(
      dir / "huge.yaml",
      "name: huge\nkernel: {name: lorenz}\nparameters:\n  sigma: {linspace: [0, 999, 1000]}\n"
      "  rho: {range: [0, 1000]}\n  beta: {logspace: [0, 3, 1000]}\n  extra: {values: [a, b]}\n"
      "repeat: 500\n");
  // At most 10 s of CPU (SIGXCPU past it), whatever else the machine does: a plan is
  // arithmetic, and enumerating 10^12 points would take hours.
  const RunResult r =
      RunSweep({"plan", "huge.yaml", "--json"}, dir.path(), {"/usr/bin/prlimit", "--cpu=10"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json plan = nlohmann::json::parse(r.out);
  EXPECT_EQ(plan["points"].get<uint64_t>(), 1'000'000'000'000u);
  EXPECT_LE(plan["chunks"].get<uint64_t>(), uint64_t{1} << 24);
  EXPECT_EQ(plan["dimensions"].size(), 5u);
  EXPECT_EQ(plan["outputs"][0]["bytes"].get<uint64_t>(), 24'000'000'000'000u);  // state: 3 doubles
  EXPECT_EQ(FilesIn(dir.path()), 1u);
}

// What is not a config file is refused at once, in one line, exit 2: a device that never ends,
// a folder, a file too large to be a config (rather than minutes of parsing and gigabytes).
TEST(CliTest, DevicesFoldersAndHugeFilesAreNotConfigs) {
  TempDir dir;
  WriteFile(dir / "huge.yaml", std::string((16 << 20) + 1, '#'));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/dev/zero", "/dev/zero: is not a regular file"},
      {"/dev/null", "/dev/null: is not a regular file"},
      {dir.path(), ": is a directory, not a config file"},
      {dir / "huge.yaml", "huge.yaml: is 16.0 MiB, over the limit of 16 MiB for a config"}};
  for (const auto& [path, message] : cases) {
    for (const char* command : {"validate", "plan", "run"}) {
      const RunResult r = RunSweep({command, path}, dir.path());
      EXPECT_EQ(r.code, 2) << command << " " << path << ": " << r.err;
      EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
  }
  EXPECT_EQ(FilesIn(dir.path()), 1u);
}

// Limits found by validate, not at file creation: the 32 dimensions an HDF5 dataset can have;
// a NUL inside a string, which C strings downstream would cut silently; and bytes that are not
// UTF-8, which the workers' JSON and the output's text could not carry.
TEST(CliTest, ValidateFindsWhatTheOutputFileCouldNotHold) {
  TempDir dir;
  std::string many = "name: many\nkernel: {name: square}\nparameters:\n  x: {values: [1]}\n";
  for (int i = 0; i < 33; ++i) many += "  a" + std::to_string(i) + ": {values: [1]}\n";
  WriteFile(dir / "many.yaml", many);
  WriteFile(dir / "nul.yaml",
            "name: nul\nkernel: {name: square}\nparameters:\n  x: {range: [0, 2]}\n"
            "  s: {values: [\"a\\0b\", c]}\n");
  WriteFile(dir / "latin1.yaml",
            "name: latin1\nkernel: {name: square}\nparameters:\n  x: {range: [0, 2]}\n"
            "  s: {values: [caf\xe9, c]}\n");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"many.yaml",
       "many.yaml:36:3: parameters.a31: output `y` would have 34 dimensions (34 of the sweep, 0 "
       "its own), over the limit of 32"},
      {"nul.yaml",
       "nul.yaml:5:16: parameters.s.values[0]: a NUL character inside a string is not supported"},
      {"latin1.yaml",
       "latin1.yaml:5:16: parameters.s.values[0]: not UTF-8 text (save the config as UTF-8)"}};
  for (const auto& [file, message] : cases) {
    for (const char* command : {"validate", "run"}) {
      const RunResult r = RunSweep({command, file}, dir.path());
      EXPECT_EQ(r.code, 2) << command << " " << file << ": " << r.err;
      EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(FilesIn(dir.path()), 3u);
}

// A command's outputs the file could not hold are located errors at `validate`: a point's bytes
// or all points' beyond 64 bits (`plan` said "0 B"), a name the file or `sweep export` gives to
// something else (`chunks`, `sample` and `replicate` where those dimensions exist, another
// output's own dimension).
TEST(CliTest, OutputsTheFileCouldNotHoldAreLocatedErrors) {
  TempDir dir;
  const auto config = [](const std::string& outputs, const std::string& rest) {
    return "name: c\nkernel:\n  command: [echo]\n  outputs: " + outputs +
           "\nparameters:\n  x: {linspace: [0, 1, 3000000]}\n" + rest;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {config("{y: [float64, 4294967296, 4294967296]}", ""),
       "c.yaml:4:13: kernel.outputs.y: output `y`: [4294967296, 4294967296] float64 values a "
       "point take more than 2^64 bytes"},
      {config("{a: float64, y: [float64, 1000000, 1000000]}", ""),
       "c.yaml:4:25: kernel.outputs.y: output `y`: 3000000 points of 8000000000000 bytes (with "
       "the outputs before it) take more than 2^64 bytes"},
      {config("{chunks: float64}", ""),
       "c.yaml:4:13: kernel.outputs.chunks: output `chunks`: the name of the output file's chunk "
       "table; rename the output"},
      {config("{replicate: float64}", "repeat: 2\n"),
       "c.yaml:4:13: kernel.outputs.replicate: output `replicate`: the name of a dimension of the "
       "sweep; rename the output"},
      {"name: c\nkernel:\n  command: [echo]\n  outputs: {sample: float64}\n"
       "parameters:\n  x: {uniform: [0, 1]}\nsampling: {method: sobol, n: 8}\n",
       "c.yaml:4:13: kernel.outputs.sample: output `sample`: the name of a dimension of the sweep"},
      {config("{y: [float64, 2], y_0: float64}", ""),
       "c.yaml:4:30: kernel.outputs.y_0: output `y_0`: the name of a dimension of output `y`"}};
  for (const auto& [text, message] : cases) {
    WriteFile(dir / "c.yaml", text);
    for (const char* command : {"validate", "plan"}) {
      const RunResult r = RunSweep({command, "c.yaml"}, dir.path());
      EXPECT_EQ(r.code, 2) << command << ": " << r.err;
      EXPECT_NE(r.err.find("sweep: " + message), std::string::npos) << command << ": " << r.err;
      EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    }
  }
  // `sample` and `replicate` are free where those dimensions do not exist.
  WriteFile(dir / "c.yaml", config("{sample: float64, replicate: float64}", ""));
  EXPECT_EQ(RunSweep({"validate", "c.yaml"}, dir.path()).code, 0);
}

TEST(CliTest, UsageErrorsExitTwo) {
  TempDir dir;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{},
                                             {"frobnicate"},
                                             {"run"},
                                             {"run", "a.yaml", "-j", "zero"},
                                             {"run", "a.yaml", "--bogus"},
                                             {"rerun", "out.h5", "--chunks", "3-x"},
                                             {"kernels", "nope"},
                                             {"status", "missing.h5"}}) {
    const RunResult r = RunSweep(args, dir.path());
    std::string label;
    for (const auto& a : args) label += a + " ";
    EXPECT_EQ(r.code, 2) << label << r.err;
    EXPECT_EQ(r.err.rfind("sweep: ", 0), 0u) << label << r.err;
  }
  const RunResult missing = RunSweep({"run", "nope.yaml"}, dir.path());
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("cannot read nope.yaml"), std::string::npos) << missing.err;
}

TEST(CliTest, KernelsListsEveryBuiltinAndDescribesOne) {
  TempDir dir;
  const RunResult all = RunSweep({"kernels", "--json"}, dir.path());
  ASSERT_EQ(all.code, 0) << all.err;
  const nlohmann::json kernels = nlohmann::json::parse(all.out);
  std::vector<std::string> names;
  for (const auto& k : kernels) names.push_back(k["name"]);
  for (const char* expected :
       {"lorenz", "heat2d", "ising2d", "ridge", "blur", "option_mc", "square", "faulty"})
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  const RunResult one = RunSweep({"kernels", "lorenz"}, dir.path());
  ASSERT_EQ(one.code, 0);
  for (const char* fragment : {"parameters:", "sigma", "options:", "steps", "outputs", "lyapunov"})
    EXPECT_NE(one.out.find(fragment), std::string::npos) << fragment << "\n" << one.out;
}

TEST(CliTest, PlanShowsAxesChunksBytesAndMemory) {
  TempDir dir;
  const RunResult r = RunSweep({"plan", SourcePath("configs/heat2d.yaml"), "-j", "2"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* fragment : {"heat2d: kernel heat2d, 9 points", "axis alpha",
                               "chunks: 9 of 1 points (auto), for 2 workers", "/field_small",
                               "inputs: 512.0 KiB", "memory per worker: 2.0 KiB"})
    EXPECT_NE(r.out.find(fragment), std::string::npos) << fragment << "\n" << r.out;
}

// The memory a worker needs besides its kernel: a block of rows of every output and of parameter
// columns (8 bytes a point per number, 16 per integer) and seeds (8 bytes, if the kernel reads
// them), a block being as many points as fit in 256 KiB of the widest output's rows, but never more
// than a chunk.
TEST(CliTest, PlanGivesTheWorkersBlockMemoryByTheBlockRule) {
  TempDir dir;
  const auto private_bytes = [&](const std::vector<std::string>& args) {
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 0) << r.err;
    return nlohmann::json::parse(r.out)["worker_private_bytes"].get<uint64_t>();
  };
  // heat2d: chunks of one point; 4 scalars and a 16 x 16 field of float64 a point, its number
  // parameter alpha; no seed.
  EXPECT_EQ(private_bytes({"plan", SourcePath("configs/heat2d.yaml"), "-j", "2", "--json"}),
            4 * 8 + 16 * 16 * 8 + 8);
  // square: one float64 a point and an integer x, chunks of 10^6 points: 2^15 points fill the
  // 256 KiB block.
  WriteFile(dir / "sq.yaml",
            "name: sq\nkernel: {name: square}\nparameters:\n  x: {range: [0, 1000000]}\n"
            "output: {path: sq.h5}\n");
  EXPECT_EQ(private_bytes({"plan", "sq.yaml", "--chunk-size", "1000000", "--json"}),
            (uint64_t{1} << 15) * (8 + 16));
  EXPECT_EQ(private_bytes({"plan", "sq.yaml", "--chunk-size", "1000", "--json"}), 1000u * (8 + 16));
}

// A misspelt command or option is named with the one meant, in one line, exit 2; one too far
// from any gets the list to choose from.
TEST(CliTest, UnknownCommandsAndOptionsGetADidYouMean) {
  TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"statsu", "out.h5"}, "sweep: unknown command `statsu`; did you mean `status`?"},
      {{"rnu", "a.yaml"}, "sweep: unknown command `rnu`; did you mean `run`?"},
      {{"frobnicate"},
       "sweep: unknown command `frobnicate`; the commands are run, plan, validate, status, "
       "export, report, resume, rerun, kernels, help, completion"},
      {{"run", "a.yaml", "--forse"},
       "sweep: run: unknown option `--forse`; did you mean `--force`?"},
      {{"run", "a.yaml", "-J", "2"}, "sweep: run: unknown option `-J`; did you mean `-j`?"},
      {{"export", "out.h5", "--fromat=csv"},
       "sweep: export: unknown option `--fromat`; did you mean `--format`?"},
      {{"rerun", "out.h5", "--faild"},
       "sweep: rerun: unknown option `--faild`; did you mean `--failed`?"},
      {{"status", "out.h5", "--bogus"},
       "sweep: status: unknown option `--bogus` (see `sweep status --help`)"},
      {{"run", "a.yaml", "b.yaml"},
       "sweep: run: unexpected argument `b.yaml` (see `sweep run --help`)"},
      {{"help", "statsu"}, "sweep: unknown command `statsu`; did you mean `status`?"},
  };
  for (const auto& [args, message] : cases) {
    const RunResult r = RunSweep(args, dir.path());
    EXPECT_EQ(r.code, 2) << args[0] << ": " << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_EQ(r.err.rfind(message, 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(FilesIn(dir.path()), 0u);
}

// `sweep run` alone says what is missing and where the usage is, in one line.
TEST(CliTest, RunWithoutAConfigPointsToItsHelp) {
  TempDir dir;
  const RunResult r = RunSweep({"run"}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "sweep: run: missing CONFIG (see `sweep run --help`)\n");
  const RunResult resume = RunSweep({"resume"}, dir.path());
  EXPECT_EQ(resume.code, 2);
  EXPECT_EQ(resume.err, "sweep: resume: missing OUT.h5 (see `sweep resume --help`)\n");
  const RunResult none = RunSweep({}, dir.path());
  EXPECT_EQ(none.code, 2);
  EXPECT_EQ(Lines(none.err).size(), 1u) << none.err;
  EXPECT_NE(none.err.find("a command is needed: run, plan"), std::string::npos) << none.err;
}

// `sweep help CMD` is `sweep CMD --help`, and `sweep help` is `sweep --help`.
TEST(CliTest, HelpCommandPrintsACommandsHelp) {
  TempDir dir;
  for (const char* command : {"run", "status", "export", "rerun", "kernels"}) {
    const RunResult help = RunSweep({"help", command}, dir.path());
    const RunResult flag = RunSweep({command, "--help"}, dir.path());
    ASSERT_EQ(help.code, 0) << help.err;
    EXPECT_EQ(help.out, flag.out);
    EXPECT_NE(help.out.find(std::string("Usage: sweep ") + command + " [OPTIONS]"),
              std::string::npos)
        << help.out;
  }
  const RunResult run = RunSweep({"help", "run"}, dir.path());
  for (const char* option : {"--output OUT.h5", "--workers N", "--set KEY=VALUE", "--shard I/N"})
    EXPECT_NE(run.out.find(option), std::string::npos) << option << "\n" << run.out;
  const RunResult top = RunSweep({"help"}, dir.path());
  ASSERT_EQ(top.code, 0);
  EXPECT_EQ(top.out, RunSweep({"--help"}, dir.path()).out);
  for (const char* command : {"run", "status", "resume", "help", "completion"})
    EXPECT_NE(top.out.find(std::string("\n  ") + command + " "), std::string::npos) << command;
}

// Runs `script` with bash; its stdout, and its exit code in *code.
std::string Bash(const std::string& script, int* code) {
  TempDir dir;
  WriteFile(dir / "script.sh", script);
  FILE* pipe = popen(("bash " + (dir / "script.sh") + " 2>&1").c_str(), "r");
  std::string out;
  char buffer[4096];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
  const int status = pclose(pipe);
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

// The completion script (generated at build time, installed by cmake --install), sourced into a
// plain bash and called as bash calls it: COMP_WORDS and COMP_CWORD set, COMPREPLY read back.
TEST(CliTest, BashCompletionCompletesCommandsOptionsAndFiles) {
  TempDir dir;
  for (const char* file : {"a.yaml", "b.yml", "out.h5", "notes.txt", "libk.so"})
    WriteFile(dir / file, "");
  std::filesystem::create_directory(dir / "sub");
  // Each case: the words (the last is the one completed) and the sorted completions.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"sweep ''", "completion export help kernels plan report rerun resume run status validate"},
      {"sweep r", "report rerun resume run"},
      {"sweep --v", "--version"},
      {"sweep run --f", "--force"},
      {"sweep run --s", "--set --shard"},
      {"sweep rerun out.h5 --",
       "--chunks --failed --force --help --inline --input --json --points "
       "--quiet --workers"},
      {"sweep run ''", "a.yaml b.yml sub"},
      {"sweep run -j 4 ''", "a.yaml b.yml sub"},
      {"sweep run -j 4 a.yaml ''", ""},
      {"sweep run a.yaml -o ''", "out.h5 sub"},
      {"sweep status ''", "out.h5 sub"},
      {"sweep export out.h5 --format ''", "csv jsonl"},
      {"sweep export out.h5 --format = j", "jsonl"},
      {"sweep export out.h5 -o ''", "a.yaml b.yml libk.so notes.txt out.h5 sub"},
      {"sweep kernels l", "libk.so lorenz"},
      {"sweep help st", "status"},
      {"sweep plan --set x=1 ''", "a.yaml b.yml sub"},
  };
  std::string script =
      "set -u\nsource '" + std::string(SWEEP_BASH_COMPLETION) + "'\ncd '" + dir.path() + "'\n";
  script += "complete -p sweep\n";
  for (const auto& [words, expected] : cases) {
    script += "COMP_WORDS=(" + words + "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _sweep\n";
    script += "printf '%s\\n' \"${COMPREPLY[@]}\" | sort | tr '\\n' ' '; echo\n";
  }
  int code = 0;
  const std::vector<std::string> lines = Lines(Bash(script, &code));
  ASSERT_EQ(code, 0);
  ASSERT_EQ(lines.size(), cases.size() + 1) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0], "complete -F _sweep sweep");
  for (size_t i = 0; i < cases.size(); ++i) {
    std::string got = lines[i + 1];
    while (!got.empty() && got.back() == ' ') got.pop_back();
    EXPECT_EQ(got, cases[i].second) << cases[i].first;
  }
}

// Every command and every option of its --help is offered: the script is generated from the
// command line, so none is forgotten.
TEST(CliTest, BashCompletionOffersEveryOptionOfEveryCommand) {
  TempDir dir;
  const RunResult top = RunSweep({"--help"}, dir.path());
  std::string script = "source '" + std::string(SWEEP_BASH_COMPLETION) + "'\n";
  std::vector<std::string> commands;
  std::istringstream in(top.out.substr(top.out.find("Subcommands:")));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("  ", 0) == 0) commands.push_back(line.substr(2, line.find(' ', 2) - 2));
  ASSERT_GE(commands.size(), 10u) << top.out;
  for (const std::string& command : commands) {
    script += "COMP_WORDS=(sweep " + command + " -); COMP_CWORD=2; _sweep; echo \"" + command +
              ": ${COMPREPLY[*]}\"\n";
  }
  int code = 0;
  const std::string out = Bash(script, &code);
  ASSERT_EQ(code, 0) << out;
  for (const std::string& command : commands) {
    const std::string help = RunSweep({command, "--help"}, dir.path()).out;
    const size_t at = out.find(command + ": ");
    ASSERT_NE(at, std::string::npos) << command;
    const std::string offered = " " + out.substr(at, out.find('\n', at) - at) + " ";
    // Each option line of --help starts with its names: `  -o,--output OUT.h5  ...`.
    std::istringstream options(help.substr(help.find("Options:")));
    for (std::string line; std::getline(options, line);) {
      if (line.rfind("  -", 0) != 0) continue;
      std::istringstream names(line.substr(2, line.find(' ', 2) - 2));
      for (std::string name; std::getline(names, name, ',');)
        EXPECT_NE(offered.find(" " + name + " "), std::string::npos) << command << " " << name;
    }
  }
}

// `cmake --install` puts the script where bash-completion loads it from, by command name.
TEST(CliTest, CmakeInstallPutsTheCompletionScriptWhereBashCompletionLooks) {
  TempDir prefix;
  int code = 0;
  const std::string out = Bash("'" + std::string(SWEEP_CMAKE) + "' --install '" + SWEEP_BUILD_DIR +
                                   "' --prefix '" + prefix.path() + "'\n",
                               &code);
  ASSERT_EQ(code, 0) << out;
  const std::string installed = prefix / "share/bash-completion/completions/sweep";
  ASSERT_TRUE(std::filesystem::exists(installed)) << out;
  EXPECT_EQ(ReadFile(installed), RunSweep({"completion"}, prefix.path()).out);
  EXPECT_TRUE(std::filesystem::exists(prefix / "bin/sweep"));
}

// scripts/demo builds only what it runs: a build folder configured as `scripts/setup --demo`
// configures it (no tests, no Python kernel), asked for `sweep` and `sweep-worker`, compiles no
// test, no plugin and not the Python kernel's library.
TEST(CliTest, TheDemosBuildNeedsNoTest) {
  TempDir build;
  int code = 0;
  const std::string configure =
      Bash("'" + std::string(SWEEP_CMAKE) + "' -S '" + SWEEP_SOURCE_DIR + "' -B '" + build.path() +
               "' -DSWEEP_BUILD_TESTS=OFF -DSWEEP_PYTHON=OFF -G 'Unix Makefiles' 2>&1\n",
           &code);
  ASSERT_EQ(code, 0) << configure;
  // Make's dry run: the commands the build would run, nothing run (-k: past the links, whose
  // libraries a dry run does not make).
  const std::string commands = Bash("'" + std::string(SWEEP_CMAKE) + "' --build '" + build.path() +
                                        "' --target sweep sweep-worker -- -n -k 2>&1\n",
                                    &code);
  EXPECT_NE(commands.find("driver/worker_main.cc"), std::string::npos) << commands;
  EXPECT_NE(commands.find("kernels/command.cc"), std::string::npos) << commands;
  EXPECT_EQ(commands.find("tests/"), std::string::npos) << "a test is built for the demo";
  EXPECT_EQ(commands.find("gtest"), std::string::npos);
  EXPECT_EQ(commands.find("kernels/examples/"), std::string::npos);
  EXPECT_EQ(commands.find("kernels/python/"), std::string::npos);
}

}  // namespace
}  // namespace sweep
