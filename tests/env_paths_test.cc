// Tests of config paths that name environment variables (io/config.h, ExpandPaths): `${NAME}` in
// output.path, kernel.workdir.root and the inputs' files, expanded where they are used and
// recorded as expanded in the journal; an unset variable is a located error naming it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "io/config.h"
#include "io/error.h"
#include "io/journal.h"
#include "kernels/python.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;
namespace fs = std::filesystem;

// The message of the ConfigError that expanding `yaml`'s paths throws; "" when none.
std::string ExpandError(const std::string& yaml, const std::string& file = "/cfg/c.yaml") {
  try {
    Config c = ParseConfig(yaml, file);
    ExpandPaths(&c, kAllPaths);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(EnvPathsTest, PathsAreExpandedFromTheEnvironmentWhereTheyAreUsed) {
  setenv("SWEEP_TEST_SCRATCH", "/scratch/job7", 1);
  setenv("SWEEP_TEST_SUB", "sub", 1);
  Config c = ParseConfig(
      "kernel:\n  command: [echo, '{x}']\n  outputs: {x: float64}\n"
      "  workdir: {root: '${SWEEP_TEST_SCRATCH}/w'}\n"
      "inputs:\n  a: {npy: '${SWEEP_TEST_SUB}/a.npy'}\n"
      "parameters:\n  x: 1\noutput: {path: 'out-${SWEEP_TEST_SUB}.h5'}\n",
      "/cfg/c.yaml");
  // Until expanded, a field holds its template, and the config remembers where it came from.
  EXPECT_EQ(c.kernel.workdir.root, "${SWEEP_TEST_SCRATCH}/w");
  EXPECT_EQ(c.path_templates.size(), 3u);
  ExpandPaths(&c, kInputPaths);                   // the inputs alone
  EXPECT_EQ(c.inputs[0].path, "/cfg/sub/a.npy");  // relative: the config's folder
  EXPECT_EQ(c.kernel.workdir.root, "${SWEEP_TEST_SCRATCH}/w");
  ExpandPaths(&c, kAllPaths);
  EXPECT_EQ(c.kernel.workdir.root, "/scratch/job7/w");
  EXPECT_EQ(c.output.path, "/cfg/out-sub.h5");
  const std::map<std::string, std::string> expanded = ExpandedPaths(c);
  EXPECT_EQ(expanded.at("kernel.workdir.root"), "/scratch/job7/w");
  EXPECT_EQ(expanded.at("inputs.a.npy"), "/cfg/sub/a.npy");
  EXPECT_EQ(expanded.at("output.path"), "/cfg/out-sub.h5");
  // Another node, another value: the template is kept.
  setenv("SWEEP_TEST_SCRATCH", "/local/node12", 1);
  ExpandPaths(&c, kWorkdirPath);
  EXPECT_EQ(c.kernel.workdir.root, "/local/node12/w");
}

TEST(EnvPathsTest, AnUnsetVariableOrAShellDollarIsALocatedError) {
  unsetenv("SWEEP_TEST_UNSET");
  const std::string unset = ExpandError(
      "kernel: {name: lorenz}\noutput: {path: '${SWEEP_TEST_UNSET}/o.h5'}\nparameters: {rho: "
      "28}\n");
  EXPECT_NE(unset.find("/cfg/c.yaml:2:"), std::string::npos) << unset;
  EXPECT_NE(unset.find("output.path"), std::string::npos) << unset;
  EXPECT_NE(unset.find("${SWEEP_TEST_UNSET} is not set"), std::string::npos) << unset;
  // Read, not expanded: a config may be checked where the variable is not set.
  EXPECT_NO_THROW(ParseConfig(
      "kernel: {name: lorenz}\noutput: {path: '${SWEEP_TEST_UNSET}/o.h5'}\nparameters: {rho: 28}\n",
      "c.yaml"));
  for (const char* bad : {"$HOME/o.h5", "${}/o.h5", "${1X}/o.h5", "${HOME/o.h5"}) {
    try {
      ParseConfig(std::string("kernel: {name: lorenz}\noutput: {path: '") + bad +
                      "'}\nparameters: {rho: 28}\n",
                  "/cfg/c.yaml");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const ConfigError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("/cfg/c.yaml:2:"), std::string::npos) << what;
      EXPECT_NE(what.find("${NAME}"), std::string::npos) << what;
    }
  }
}

// The kernel's files are paths too: the Python model (its file, not its function), the plugin,
// the program and the `files:` templates. The program's expansion is used as written (a bare
// name is looked up in PATH); the arguments are the program's own text, never expanded.
TEST(EnvPathsTest, TheKernelsFilesAreExpandedAndItsArgumentsAreNot) {
  setenv("SWEEP_TEST_MODELS", "/models/v2", 1);
  setenv("SWEEP_TEST_PROG", "lmp", 1);
  Config py = ParseConfig(
      "kernel:\n  python: '${SWEEP_TEST_MODELS}/model.py:simulate'\n  outputs: {y: float64}\n"
      "parameters:\n  x: 1\n",
      "/cfg/c.yaml");
  EXPECT_EQ(py.kernel.python, "${SWEEP_TEST_MODELS}/model.py");
  EXPECT_EQ(py.kernel.python_function, "simulate");
  ExpandPaths(&py, kNodePaths & ~kKernelPaths);  // not the kernel's: kept
  EXPECT_EQ(py.kernel.python, "${SWEEP_TEST_MODELS}/model.py");
  ExpandPaths(&py, kKernelPaths);
  EXPECT_EQ(py.kernel.python, "/models/v2/model.py");
  EXPECT_EQ(ExpandedPaths(py).at("kernel.python"), "/models/v2/model.py");
  UnexpandPaths(&py, kKernelPaths);
  EXPECT_EQ(py.kernel.python, "${SWEEP_TEST_MODELS}/model.py");

  Config plugin = ParseConfig(
      "kernel: {plugin: 'lib/${SWEEP_TEST_PROG}.so'}\nparameters:\n  x: 1\n", "/cfg/c.yaml");
  ExpandPaths(&plugin, kAllPaths);
  EXPECT_EQ(plugin.kernel.plugin, "/cfg/lib/lmp.so");

  Config command = ParseConfig(
      "kernel:\n  command: ['${SWEEP_TEST_PROG}', '${{T}}', 'a$b', '$', '$$', '{x}']\n"
      "  files: {in.nml: '${SWEEP_TEST_MODELS}/in.nml', b/c.txt: 'tpl/${SWEEP_TEST_PROG}'}\n"
      "  outputs: {y: float64}\nparameters:\n  x: 1\n",
      "/cfg/c.yaml");
  ASSERT_EQ(command.path_templates.size(), 3u);  // the program and two templates
  ExpandPaths(&command, kAllPaths);
  EXPECT_EQ(command.kernel.command,
            (std::vector<std::string>{"lmp", "${{T}}", "a$b", "$", "$$", "{x}"}));
  ASSERT_EQ(command.kernel.command_files.size(), 2u);
  EXPECT_EQ(command.kernel.command_files[0].template_path, "/models/v2/in.nml");
  EXPECT_EQ(command.kernel.command_files[1].template_path, "/cfg/tpl/lmp");
  EXPECT_EQ(ExpandedPaths(command).at("kernel.files.b/c.txt"), "/cfg/tpl/lmp");
  // A program with a `/` stays relative too: the binding takes it against the config's folder.
  setenv("SWEEP_TEST_PROG", "bin/sim", 1);
  ExpandPaths(&command, kKernelPaths);
  EXPECT_EQ(command.kernel.command[0], "bin/sim");
}

// What a careless environment holds: a value with spaces or `..` is a path like any other, taken
// once (a `${...}` in a value stays as it is); an empty value is refused as an unset one, since
// `${X}/sweep` would be `/sweep`. A `..` written after a variable undoes its value.
TEST(EnvPathsTest, ValuesAreTakenAsTheyAreButEmptyOnesAreRefused) {
  setenv("SWEEP_TEST_VALUE", "/data/my models/../v1", 1);
  setenv("SWEEP_TEST_NESTED", "${HOME}", 1);
  setenv("SWEEP_TEST_DEEP", "x/y", 1);
  Config c = ParseConfig(
      "kernel:\n  python: '${SWEEP_TEST_VALUE}/m.py'\n  outputs: {y: float64}\n"
      "inputs:\n  a: {npy: '${SWEEP_TEST_NESTED}/a.npy'}\n  b: {npy: "
      "'in/${SWEEP_TEST_DEEP}/../b.npy'}\n"
      "parameters:\n  x: 1\n",
      "/cfg/c.yaml");
  ExpandPaths(&c, kAllPaths);
  EXPECT_EQ(c.kernel.python, "/data/v1/m.py");
  EXPECT_EQ(c.inputs[0].path, "/cfg/${HOME}/a.npy");
  EXPECT_EQ(c.inputs[1].path, "/cfg/in/x/b.npy");
  EXPECT_EQ(c.kernel.python_function, "compute");

  setenv("SWEEP_TEST_EMPTY", "", 1);
  for (const std::string kernel :
       {"python: '${SWEEP_TEST_EMPTY}/m.py:f'\n  outputs: {y: float64}",
        "plugin: '${SWEEP_TEST_EMPTY}/k.so'",
        "command: ['${SWEEP_TEST_EMPTY}/sim', '{x}']\n  outputs: {y: float64}"}) {
    const std::string what = ExpandError("kernel:\n  " + kernel + "\nparameters: {x: 1}\n");
    EXPECT_NE(what.find("/cfg/c.yaml:2:"), std::string::npos) << what;
    EXPECT_NE(what.find("${SWEEP_TEST_EMPTY} is empty"), std::string::npos) << what;
  }
}

// Each new key refuses what output.path refuses: `$$`, a lone `$` and a shell's `$NAME` are not
// literal dollars in a path but mistakes, named at the key's line and column.
TEST(EnvPathsTest, AShellDollarInAKernelPathIsALocatedError) {
  for (const std::string bad : {"$$", "$", "$HOME", "${}", "${1X}"}) {
    for (const std::string& kernel :
         {"python: '" + bad + "/m.py:f'\n  outputs: {y: float64}", "plugin: '" + bad + "/k.so'",
          "command: ['" + bad + "/sim', '{x}']\n  outputs: {y: float64}",
          "command: [sim]\n  outputs: {y: float64}\n  files: {a: '" + bad + "/t'}"}) {
      try {
        ParseConfig("kernel:\n  " + kernel + "\nparameters: {x: 1}\n", "/cfg/c.yaml");
        ADD_FAILURE() << kernel << " was accepted";
      } catch (const ConfigError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("/cfg/c.yaml:"), std::string::npos) << what;
        EXPECT_NE(what.find("${NAME}"), std::string::npos) << what;
        EXPECT_NE(what.find("kernel."), std::string::npos) << what;
      }
    }
  }
}

// A command kernel's work folders under `${SWEEP_TEST_SCRATCH}`: where the variable says when the
// run starts, recorded so in the journal; a rerun in another environment works where its own
// says. Unset, the run stops before writing anything, naming the variable and where it is used.
TEST(EnvPathsTest, WorkFoldersGoWhereTheVariableSaysOnTheNodeThatUsesThem) {
  TempDir dir;
  const std::string config = dir / "c.yaml";
  WriteFile(config, "name: c\nkernel:\n  command: [" + std::string(SWEEP_FAKE_SIM) +
                        ", lines, '{x}']\n  outputs: {y: float64, v: [float64, 3]}\n"
                        "  workdir: {root: '${SWEEP_TEST_SCRATCH}/work', keep: always}\n"
                        "parameters:\n  x: {range: [0, 4]}\n"
                        "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  const std::vector<std::string> unset = {"/usr/bin/env", "-u", "SWEEP_TEST_SCRATCH"};
  const RunResult refused = RunSweep({"run", config, "-q"}, dir.path(), unset);
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_NE(refused.err.find(config + ":5:"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("kernel.workdir.root"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("${SWEEP_TEST_SCRATCH} is not set"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.journal"));

  const RunResult r = RunSweep({"run", config, "-q"}, dir.path(),
                               {"/usr/bin/env", "SWEEP_TEST_SCRATCH=" + (dir / "node-a")});
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> folders;
  for (const auto& e : std::filesystem::directory_iterator(dir / "node-a/work"))
    folders.insert(e.path().filename().string());
  // The root is claimed for this output by its marker (configs/README.md, `workdir.root`).
  EXPECT_EQ(folders,
            (std::set<std::string>{".sweep-workdirs", "point-0", "point-1", "point-2", "point-3"}));
  std::vector<JournalRecord> started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  ASSERT_EQ(started[0].paths.count(0), 1u);
  EXPECT_EQ(started[0].paths.at(0).at("kernel.workdir.root"), dir / "node-a/work");

  // A rerun elsewhere: the stored config is expanded in the rerun's environment.
  const RunResult again = RunSweep({"rerun", "out.h5", "--chunks", "2", "-q"}, dir.path(),
                                   {"/usr/bin/env", "SWEEP_TEST_SCRATCH=" + (dir / "node-b")});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(std::filesystem::is_directory(dir / "node-b/work/point-2"));
  started = JournalRecords(dir / "out.h5.journal", "started");
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].paths.at(0).at("kernel.workdir.root"), dir / "node-b/work");
}

// Every file and folder under `dir` with a digest of each file's bytes, but the streams the tests'
// `sweep` processes are saved to (SweepProcess): what a refused run must leave as it was.
std::map<std::string, size_t> Tree(const std::string& dir) {
  std::map<std::string, size_t> tree;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("stdout-", 0) == 0 || name.rfind("stderr-", 0) == 0) continue;
    tree[e.path().string()] =
        e.is_regular_file() ? std::hash<std::string>()(ReadFile(e.path().string())) : 0;
  }
  return tree;
}

// `sweep run CONFIG` with `variable` unset, then set to "": refused each time with exit 2 and one
// line naming the config's file:line:col, `key` and the variable, and nothing under `dir` made or
// changed (no output, journal, logs or work folder).
void ExpectRefusedWithout(const TempDir& dir, const std::string& config, int line,
                          const std::string& key, const std::string& variable) {
  const std::map<std::string, size_t> before = Tree(dir.path());
  for (const std::string how : {"-u", "empty"}) {
    const std::vector<std::string> env =
        how == "-u" ? std::vector<std::string>{"/usr/bin/env", "-u", variable}
                    : std::vector<std::string>{"/usr/bin/env", variable + "="};
    const RunResult r = RunSweep({"run", config, "-q"}, dir.path(), env);
    EXPECT_EQ(r.code, 2) << key << " " << how << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(config + ":" + std::to_string(line) + ":"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(key + ": "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("${" + variable + "} is " + (how == "-u" ? "not set" : "empty")),
              std::string::npos)
        << r.err;
    EXPECT_EQ(Tree(dir.path()), before) << key << " " << how << ": the refused run wrote";
  }
}

// The model file named through `${SWEEP_TEST_MODELS}`, a folder with a space in its name: the run
// gives the bytes of the same model named by its literal path, the journal records where the model
// was read, and a `--reuse` in the same environment finds the same sweep. Unset or empty, the
// variable stops the run before anything is written.
TEST(EnvPathsTest, APythonModelNamedThroughAVariableGivesTheBytesOfItsLiteralPath) {
  ASSERT_TRUE(PythonKernelsBuilt()) << "this build has no Python kernel: scripts/setup installs "
                                       "python3-dev and pybind11-dev";
  TempDir dir;
  fs::create_directories(dir / "my models");
  WriteFile(dir / "my models/model.py",
            "def simulate(x, seed):\n    return {'y': 2.0 * x + seed % 1000}\n");
  const auto config = [&](const std::string& name, const std::string& model) {
    WriteFile(dir / name, "name: m\nseed: 7\nkernel:\n  python: '" + model +
                              ":simulate'\n  outputs: {y: float64}\n"
                              "parameters:\n  x: {linspace: [0, 1, 9]}\n"
                              "execution: {workers: 2, chunk_size: 2}\noutput: {path: " +
                              name + ".h5}\n");
    return dir / name;
  };
  const std::string literal = config("literal.yaml", "my models/model.py");
  const std::string named = config("named.yaml", "${SWEEP_TEST_MODELS}/model.py");
  const std::vector<std::string> env = {"/usr/bin/env", "SWEEP_TEST_MODELS=" + (dir / "my models")};
  ExpectRefusedWithout(dir, named, 4, "kernel.python", "SWEEP_TEST_MODELS");

  ASSERT_EQ(RunSweep({"run", literal, "-q"}, dir.path()).code, 0);
  const RunResult r = RunSweep({"run", named, "-q"}, dir.path(), env);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ResultsAndParams(dir / "named.yaml.h5"), ResultsAndParams(dir / "literal.yaml.h5"));
  EXPECT_EQ(ReadDataset<double>(dir / "named.yaml.h5", "/y").size(), 9u);
  const std::vector<JournalRecord> started =
      JournalRecords(dir / "named.yaml.h5.journal", "started");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0].paths.at(0).at("kernel.python"), dir / "my models/model.py");

  fs::copy_file(dir / "named.yaml.h5", dir / "earlier.h5");
  const RunResult plan =
      RunSweep({"plan", named, "--reuse", "earlier.h5", "--json"}, dir.path(), env);
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_EQ(nlohmann::json::parse(plan.out)["reuse"]["points"], 9) << plan.out;
}

// A command kernel whose program and `files:` template are named through variables runs per point
// with the bytes of its literal config: the arguments reach the program as written (`a$b`, `$`,
// `$$`: no shell reads them), the template is rendered, the journal records both paths. A bare
// name from a variable is looked up in PATH. A rerun expands them in its own environment.
TEST(EnvPathsTest, AProgramAndATemplateNamedThroughVariablesRun) {
  TempDir dir;
  fs::create_directories(dir / "tpl dir");
  WriteFile(dir / "tpl dir/in.tpl", "x={x}\n");
  const std::string bin = fs::path(SWEEP_FAKE_SIM).parent_path().string();
  const std::string sim = fs::path(SWEEP_FAKE_SIM).filename().string();
  const auto config = [&](const std::string& name, const std::string& program,
                          const std::string& tpl) {
    WriteFile(dir / name, "name: c\nkernel:\n  command: ['" + program +
                              "', argv, '{x}', args.txt, 'a$b', '$', '$$']\n"
                              "  files: {in.txt: '" +
                              tpl +
                              "'}\n  outputs: {y: float64, v: [float64, 3]}\n"
                              "  workdir: {root: '" +
                              name +
                              ".work', keep: always}\n"
                              "parameters:\n  x: {range: [0, 4]}\n"
                              "execution: {workers: 2, chunk_size: 1}\noutput: {path: " +
                              name + ".h5}\n");
    return dir / name;
  };
  const std::string literal = config("literal.yaml", SWEEP_FAKE_SIM, "tpl dir/in.tpl");
  const std::string named =
      config("named.yaml", "${SWEEP_TEST_BIN}/" + sim, "${SWEEP_TEST_TPL}/in.tpl");
  const std::string bare = config("bare.yaml", "${SWEEP_TEST_PROG}", "${SWEEP_TEST_TPL}/in.tpl");
  const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
  const std::vector<std::string> env = {"/usr/bin/env", "SWEEP_TEST_BIN=" + bin,
                                        "SWEEP_TEST_TPL=" + (dir / "tpl dir"),
                                        "SWEEP_TEST_PROG=" + sim, "PATH=" + bin + ":" + path};
  {
    // Each variable alone missing: the other is set.
    std::vector<std::string> no_tpl = env;
    no_tpl.erase(no_tpl.begin() + 2);
    std::vector<std::string> no_bin = env;
    no_bin.erase(no_bin.begin() + 1);
    const std::map<std::string, size_t> before = Tree(dir.path());
    for (const auto& [launcher, line, key, variable] :
         {std::make_tuple(no_bin, 3, std::string("kernel.command[0]"), "SWEEP_TEST_BIN"),
          std::make_tuple(no_tpl, 4, std::string("kernel.files.in.txt"), "SWEEP_TEST_TPL")}) {
      const RunResult r = RunSweep({"run", named, "-q"}, dir.path(), launcher);
      EXPECT_EQ(r.code, 2) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_NE(r.err.find(named + ":" + std::to_string(line) + ":"), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(key + ": ${" + variable + "} is not set"), std::string::npos) << r.err;
    }
    EXPECT_EQ(Tree(dir.path()), before);
  }

  ASSERT_EQ(RunSweep({"run", literal, "-q"}, dir.path()).code, 0);
  for (const std::string name : {"named.yaml", "bare.yaml"}) {
    const RunResult r = RunSweep({"run", dir / name, "-q"}, dir.path(), env);
    ASSERT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_EQ(ResultsAndParams(dir / (name + ".h5")), ResultsAndParams(dir / "literal.yaml.h5"))
        << name;
    const std::string work = dir / (name + ".work/point-2/");
    EXPECT_EQ(ReadFile(work + "in.txt"), "x=2\n") << name;
    // argv[0], as the program was named after expansion, then its arguments as written.
    const std::string args = ReadFile(work + "args.txt");
    EXPECT_NE(args.find("\nargs.txt\na$b\n$\n$$\n"), std::string::npos) << args;
    const std::vector<JournalRecord> started =
        JournalRecords(dir / (name + ".h5.journal"), "started");
    ASSERT_EQ(started.size(), 1u);
    EXPECT_EQ(started[0].paths.at(0).at("kernel.command[0]"),
              name == "bare.yaml" ? sim : std::string(SWEEP_FAKE_SIM));
    EXPECT_EQ(started[0].paths.at(0).at("kernel.files.in.txt"), dir / "tpl dir/in.tpl");
  }

  // A rerun reads the stored config in its own environment: refused without the program's
  // variable, at work with it.
  const std::string journal = dir / "named.yaml.h5.journal";
  const size_t records = JournalRecords(journal, "").size();
  const RunResult refused = RunSweep({"rerun", "named.yaml.h5", "--chunks", "1", "-q"}, dir.path(),
                                     {"/usr/bin/env", "-u", "SWEEP_TEST_BIN"});
  EXPECT_EQ(refused.code, 2) << refused.err;
  EXPECT_NE(refused.err.find("${SWEEP_TEST_BIN} is not set"), std::string::npos) << refused.err;
  EXPECT_EQ(JournalRecords(journal, "").size(), records);
  const RunResult again =
      RunSweep({"rerun", "named.yaml.h5", "--chunks", "1", "-q"}, dir.path(), env);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(ResultsAndParams(dir / "named.yaml.h5"), ResultsAndParams(dir / "literal.yaml.h5"));
}

// A persistent program named through a variable is started from where the variable says, once
// per worker; the plugin's path takes variables too. Each, unset or empty, stops the run before
// anything is written.
TEST(EnvPathsTest, APersistentProgramAndAPluginNamedThroughVariablesRun) {
  TempDir dir;
  fs::create_directories(dir / "bin dir");
  WriteFile(dir / "bin dir/server.py",
            std::string("#!") + kPython +
                "\nimport json, sys\n"
                "sys.stdin.readline()\n"
                "for line in sys.stdin:\n"
                "    p = json.loads(line)\n"
                "    print(json.dumps({'point': p['point'], 'y': 3.0 * p['x']}), flush=True)\n");
  fs::permissions(dir / "bin dir/server.py", fs::perms::owner_all);
  WriteFile(dir / "p.yaml",
            "name: p\nkernel:\n  command: ['${SWEEP_TEST_BIN}/server.py']\n  persistent: true\n"
            "  outputs: {y: float64}\nparameters:\n  x: {range: [0, 6]}\n"
            "execution: {workers: 2, chunk_size: 1}\noutput: {path: p.h5}\n");
  ExpectRefusedWithout(dir, dir / "p.yaml", 3, "kernel.command[0]", "SWEEP_TEST_BIN");
  const RunResult r = RunSweep({"run", "p.yaml", "-q"}, dir.path(),
                               {"/usr/bin/env", "SWEEP_TEST_BIN=" + (dir / "bin dir")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir / "p.h5", "/y"), (std::vector<double>{0, 3, 6, 9, 12, 15}));

  const std::string lib = fs::path(SWEEP_EXAMPLE_PLUGIN).filename().string();
  WriteFile(dir / "k.yaml", "name: k\nkernel:\n  plugin: '${SWEEP_TEST_LIBS}/" + lib +
                                "'\nparameters:\n  omega: {linspace: [0.5, 2, 4]}\n  zeta: 0.1\n"
                                "output: {path: k.h5}\n");
  ExpectRefusedWithout(dir, dir / "k.yaml", 3, "kernel.plugin", "SWEEP_TEST_LIBS");
  const RunResult k = RunSweep(
      {"run", "k.yaml", "-q"}, dir.path(),
      {"/usr/bin/env", "SWEEP_TEST_LIBS=" + fs::path(SWEEP_EXAMPLE_PLUGIN).parent_path().string()});
  ASSERT_EQ(k.code, 0) << k.err;
  EXPECT_EQ(JournalRecords(dir / "k.h5.journal", "started").at(0).paths.at(0).at("kernel.plugin"),
            SWEEP_EXAMPLE_PLUGIN);
}

}  // namespace
}  // namespace sweep
