#include "io/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "io/error.h"

namespace sweep {
namespace {

namespace fs = std::filesystem;

Config Parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return ParseConfig(text, "t.yaml", overrides);
}

// The diagnostics of a config that must fail; an empty list (and a test failure) if it parses.
std::vector<Diagnostic> Problems(const std::string& text,
                                 const std::vector<std::string>& overrides = {}) {
  try {
    Parse(text, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ExitCode::kUsage);
    return e.diagnostics();
  }
  ADD_FAILURE() << "parsed without error:\n" << text;
  return {};
}

std::string Describe(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& d : diagnostics) text += "\n  " + d.ToString();
  return text;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "config_test.XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }
  void Write(const std::string& name, const std::string& text) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
  }

 private:
  fs::path path_;
};

const char kMinimal[] =
    "name: t\n"
    "kernel: {name: lorenz}\n"
    "parameters:\n"
    "  rho: {linspace: [0, 1, 3]}\n";

TEST(ConfigValueTest, ToStringIsWhatAUserWouldType) {
  EXPECT_EQ(Value::Number(0.1).ToString(), "0.1");
  EXPECT_EQ(Value::Number(0.5).ToString(), "0.5");
  EXPECT_EQ(Value::Number(-2.25).ToString(), "-2.25");
  EXPECT_EQ(Value::Number(1.0 / 3).ToString(), "0.3333333333333333");
  EXPECT_EQ(Value::Number(1e-300).ToString(), "1e-300");
  EXPECT_EQ(Value::Integer(3).ToString(), "3");
  EXPECT_EQ(Value::Integer(-9007199254740993).ToString(), "-9007199254740993");
  EXPECT_EQ(Value::String("abc").ToString(), "abc");
}

TEST(ConfigValueTest, EqualityComparesTypeAndValue) {
  EXPECT_EQ(Value::Integer(3), Value::Integer(3));
  EXPECT_NE(Value::Integer(3), Value::Number(3));
  EXPECT_NE(Value::String("3"), Value::Integer(3));
  EXPECT_EQ(Value::Number(0.25), Value::Number(0.25));
  EXPECT_NE(Value::Number(0.25), Value::Number(0.5));
  EXPECT_EQ(Value::Integer(7).number, 7.0);
}

TEST(ConfigParseTest, EverySectionOfTheSampleConfig) {
  std::string file = std::string(SWEEP_SOURCE_DIR) + "/tests/data/configs/lorenz.yaml";
  Config c = LoadConfig(file);
  fs::path folder = fs::path(SWEEP_SOURCE_DIR) / "tests/data/configs";
  EXPECT_EQ(c.file, file);
  EXPECT_EQ(fs::path(c.folder), folder.lexically_normal());
  std::ifstream in(file);
  EXPECT_EQ(c.text, std::string(std::istreambuf_iterator<char>(in), {}));  // byte for byte
  EXPECT_EQ(c.name, "lorenz-chaos");
  EXPECT_EQ(c.seed, 42u);

  EXPECT_EQ(c.kernel.name, "lorenz");
  EXPECT_TRUE(c.kernel.plugin.empty());
  EXPECT_TRUE(c.kernel.command.empty());
  ASSERT_EQ(c.kernel.options.size(), 3u);
  EXPECT_EQ(c.kernel.options.at("steps"), Value::Integer(20000));
  EXPECT_EQ(c.kernel.options.at("dt"), Value::Number(0.001));
  EXPECT_EQ(c.kernel.options.at("method"), Value::String("rk4"));
  EXPECT_EQ(c.kernel.option_where.at("dt").line, 6);
  EXPECT_EQ(c.kernel.option_where.at("dt").column, 27);
  EXPECT_EQ(c.kernel.where.line, 4);

  ASSERT_EQ(c.inputs.size(), 4u);
  EXPECT_EQ(c.inputs[0].name, "field");
  EXPECT_EQ(c.inputs[0].kind, InputSpec::Kind::kHdf5);
  EXPECT_EQ(c.inputs[0].path, (folder / "data/field.h5").string());
  EXPECT_EQ(c.inputs[0].dataset, "/T0");
  EXPECT_EQ(c.inputs[0].where.line, 8);
  EXPECT_EQ(c.inputs[1].kind, InputSpec::Kind::kNpy);
  EXPECT_EQ(c.inputs[1].path, (folder / "data/A.npy").string());
  EXPECT_EQ(c.inputs[2].kind, InputSpec::Kind::kGenerate);
  EXPECT_EQ(c.inputs[2].distribution, "normal");
  EXPECT_EQ(c.inputs[2].shape, (std::vector<int64_t>{2048, 2048}));
  EXPECT_EQ(c.inputs[2].seed, 7u);
  EXPECT_EQ(c.inputs[2].dtype, "float64");
  EXPECT_EQ(c.inputs[3].kind, InputSpec::Kind::kRaw);
  EXPECT_EQ(c.inputs[3].path, "/srv/table.bin");
  EXPECT_EQ(c.inputs[3].dtype, "int32");
  EXPECT_EQ(c.inputs[3].shape, (std::vector<int64_t>{4, 5}));

  ASSERT_EQ(c.parameters.size(), 5u);
  const AxisSpec& rho = c.parameters[0];
  EXPECT_EQ(rho.name, "rho");
  EXPECT_EQ(rho.kind, AxisSpec::Kind::kLinspace);
  EXPECT_EQ(rho.start, 0);
  EXPECT_EQ(rho.stop, 50);
  EXPECT_EQ(rho.count, 201);
  EXPECT_EQ(rho.where.line, 13);
  EXPECT_EQ(rho.where.column, 3);
  const AxisSpec& beta = c.parameters[1];
  EXPECT_EQ(beta.kind, AxisSpec::Kind::kLogspace);
  EXPECT_EQ(beta.start, -1);
  EXPECT_EQ(beta.stop, 1);
  EXPECT_EQ(beta.count, 5);
  const AxisSpec& sigma = c.parameters[2];
  EXPECT_EQ(sigma.kind, AxisSpec::Kind::kValues);
  EXPECT_EQ(sigma.values, (std::vector<Value>{Value::Integer(10), Value::Integer(14)}));
  const AxisSpec& n = c.parameters[3];
  EXPECT_EQ(n.kind, AxisSpec::Kind::kRange);
  EXPECT_EQ(n.range_start, 0);
  EXPECT_EQ(n.range_stop, 100);
  EXPECT_EQ(n.range_step, 50);
  const AxisSpec& dt = c.parameters[4];
  EXPECT_EQ(dt.kind, AxisSpec::Kind::kConstant);
  EXPECT_EQ(dt.values, std::vector<Value>{Value::Number(0.001)});
  EXPECT_EQ(c.FindParameter("n"), &c.parameters[3]);
  EXPECT_EQ(c.FindParameter("nope"), nullptr);

  EXPECT_EQ(c.zip, (std::vector<std::vector<std::string>>{{"sigma", "n"}}));
  ASSERT_EQ(c.zip_where.size(), 1u);
  EXPECT_EQ(c.zip_where[0].line, 18);
  EXPECT_EQ(c.repeat, 3);
  EXPECT_EQ(c.sampling.method, SamplingSpec::Method::kNone);

  EXPECT_EQ(c.execution.workers, 0);
  EXPECT_EQ(c.execution.chunk_size, 64);
  EXPECT_EQ(c.execution.schedule, ExecutionSpec::Schedule::kStatic);
  EXPECT_EQ(c.execution.start, ExecutionSpec::Start::kFork);
  EXPECT_EQ(c.execution.timeout_seconds, 90);
  EXPECT_EQ(c.execution.retries, 5);
  EXPECT_EQ(c.execution.memory_limit_bytes, uint64_t{4} << 30);
  EXPECT_EQ(c.output.path, (folder / "out/lorenz.h5").string());
}

TEST(ConfigParseTest, DefaultsOfAMinimalConfig) {
  Config c = Parse(kMinimal);
  EXPECT_EQ(c.text, kMinimal);
  EXPECT_EQ(c.seed, 0u);
  EXPECT_EQ(c.repeat, 1);
  EXPECT_TRUE(c.inputs.empty());
  EXPECT_TRUE(c.zip.empty());
  EXPECT_TRUE(c.kernel.options.empty());
  EXPECT_EQ(c.sampling.method, SamplingSpec::Method::kNone);
  EXPECT_EQ(c.execution.workers, 0);
  EXPECT_EQ(c.execution.chunk_size, 0);
  EXPECT_EQ(c.execution.schedule, ExecutionSpec::Schedule::kDynamic);
  EXPECT_EQ(c.execution.start, ExecutionSpec::Start::kSpawn);
  EXPECT_EQ(c.execution.timeout_seconds, 0);
  EXPECT_EQ(c.execution.retries, 2);
  EXPECT_EQ(c.execution.memory_limit_bytes, 0u);
  EXPECT_EQ(c.execution.max_failures, 100u);
  // "t.yaml" has no folder: paths resolve against the working directory.
  EXPECT_EQ(c.folder, fs::current_path().lexically_normal().string());
  EXPECT_EQ(c.output.path, (fs::current_path() / "results/t.h5").string());
}

// Without `name:`, a config is named after its file, and so is its default output; a stem that
// cannot name a file is refused, asking for `name:`.
TEST(ConfigParseTest, TheNameDefaultsToTheFilesStem) {
  const std::string nameless = "kernel: {name: lorenz}\nparameters: {x: 1}\n";
  const Config c = ParseConfig(nameless, "/data/sweeps/chaos-2.v1.yaml");
  EXPECT_EQ(c.name, "chaos-2.v1");
  EXPECT_EQ(c.output.path, "/data/sweeps/results/chaos-2.v1.h5");
  EXPECT_EQ(ParseConfig("name: given\n" + nameless, "/data/sweeps/chaos.yaml").name, "given");
  EXPECT_EQ(ParseConfig(nameless, "relative/lorenz.yml").name, "lorenz");
  try {
    ParseConfig(nameless, "/data/my sweep.yaml");
    FAIL() << "parsed";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.diagnostics().size(), 1u) << Describe(e.diagnostics());
    EXPECT_EQ(e.diagnostics()[0].ToString(),
              "/data/my sweep.yaml:1:1: no `name`, and the file's stem `my sweep` cannot name a "
              "file: give `name:` (letters, digits, `_`, `-` and `.`)");
  }
}

// configs/README.md is the reference of every key: each key of each table the reader checks
// against has its row there, `| `path.to.key` | type | default | example | meaning |`.
TEST(ConfigKeysTest, EveryKeyTheReaderAcceptsIsDocumented) {
  std::ifstream in(std::string(SWEEP_SOURCE_DIR) + "/configs/README.md");
  std::map<std::string, std::string> rows;  // key path -> its row
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    rows[line.substr(3, end - 3)] = line;
  }
  ASSERT_FALSE(rows.empty());
  size_t keys = 0;
  for (const ConfigKeys& table : KnownConfigKeys()) {
    for (const std::string& key : table.keys) {
      const std::string path = table.map.empty() ? key : table.map + "." + key;
      ++keys;
      const auto row = rows.find(path);
      if (row == rows.end()) {
        ADD_FAILURE() << "`" << path << "` is accepted but has no row in configs/README.md";
        continue;
      }
      // Five cells, none empty.
      EXPECT_EQ(std::count(row->second.begin(), row->second.end(), '|'), 6) << row->second;
      EXPECT_EQ(row->second.find("|  |"), std::string::npos) << row->second;
    }
  }
  EXPECT_GE(keys, 43u);  // the tables as of this test: none is lost
}

// `attributes:` gives variables CF text attributes, as written; which names exist is checked with
// the kernel (driver/binding.h), so any identifier parses here.
TEST(ConfigParseTest, AttributesKeepTheirTextInOrder) {
  const Config c = Parse(std::string(kMinimal) +
                         "attributes:\n"
                         "  rho: {units: \"1\", long_name: Rayleigh number}\n"
                         "  lyapunov: {units: s-1, comment: per unit time, standard_name: x}\n");
  ASSERT_EQ(c.attributes.size(), 2u);
  EXPECT_EQ(c.attributes[0].name, "rho");
  EXPECT_EQ(c.attributes[0].values, (std::vector<std::pair<std::string, std::string>>{
                                        {"units", "1"}, {"long_name", "Rayleigh number"}}));
  EXPECT_EQ(c.attributes[0].where.line, 6);
  EXPECT_EQ(c.attributes[1].values[0].second, "s-1");
  EXPECT_EQ(c.attributes[1].values.size(), 3u);
}

// A grid axis's `values:` are its coordinate: each once; an order that is not sorted is kept,
// with a note (not an error) at the list.
TEST(ConfigParseTest, ValuesOutOfOrderAreKeptWithANote) {
  const Config c = Parse(
      "name: t\nkernel: {name: k}\nparameters:\n  x: {values: [3, 1, 2]}\n"
      "  y: {values: [1, 2.5, 4]}\n  z: {values: [b, a]}\n");
  EXPECT_EQ(c.FindParameter("x")->values[0], Value::Integer(3));
  ASSERT_EQ(c.notes.size(), 1u) << Describe(c.notes);
  EXPECT_EQ(c.notes[0].key_path, "parameters.x.values");
  EXPECT_EQ(c.notes[0].where.line, 4);
  EXPECT_NE(c.notes[0].message.find("not sorted"), std::string::npos);
  EXPECT_NE(c.notes[0].message.find("ds.sortby(\"x\")"), std::string::npos);
  // Zipped values are not a coordinate: they may repeat and go in any order.
  const Config zipped = Parse(
      "name: t\nkernel: {name: k}\nparameters:\n  x: {values: [3, 1, 3]}\n"
      "  y: {values: [1, 2, 3]}\nzip: [[x, y]]\n");
  EXPECT_TRUE(zipped.notes.empty()) << Describe(zipped.notes);
}

TEST(ConfigParseTest, EveryAxisKind) {
  Config c = Parse(
      "name: axes\n"
      "seed: 18446744073709551615\n"
      "kernel: {name: k}\n"
      "parameters:\n"
      "  a: {linspace: [-1.5, 2.5e1, 1]}\n"
      "  b: {logspace: [-3, 0.5, 4]}\n"
      "  c: {values: [1, 2.5, -3]}\n"
      "  d: {values: [x, \"2\", 'y z']}\n"
      "  e: {values: [-7, 0, 9]}\n"
      "  f: {range: [10, 0, -3]}\n"
      "  g: {range: [-2, 2]}\n"
      "  h: abc\n"
      "  i: \"12\"\n"
      "  j: -4\n"
      "  k: 1e3\n");
  EXPECT_EQ(c.seed, UINT64_MAX);
  ASSERT_EQ(c.parameters.size(), 11u);
  EXPECT_EQ(c.parameters[0].kind, AxisSpec::Kind::kLinspace);
  EXPECT_EQ(c.parameters[0].start, -1.5);
  EXPECT_EQ(c.parameters[0].stop, 25);
  EXPECT_EQ(c.parameters[0].count, 1);
  EXPECT_EQ(c.parameters[1].kind, AxisSpec::Kind::kLogspace);
  EXPECT_EQ(c.parameters[1].start, -3);
  EXPECT_EQ(c.parameters[1].stop, 0.5);
  EXPECT_EQ(c.parameters[1].count, 4);
  // One float makes every value a number.
  EXPECT_EQ(c.parameters[2].values,
            (std::vector<Value>{Value::Number(1), Value::Number(2.5), Value::Number(-3)}));
  // Quoted numbers are strings.
  EXPECT_EQ(c.parameters[3].values,
            (std::vector<Value>{Value::String("x"), Value::String("2"), Value::String("y z")}));
  EXPECT_EQ(c.parameters[4].values,
            (std::vector<Value>{Value::Integer(-7), Value::Integer(0), Value::Integer(9)}));
  EXPECT_EQ(c.parameters[5].kind, AxisSpec::Kind::kRange);
  EXPECT_EQ(c.parameters[5].range_start, 10);
  EXPECT_EQ(c.parameters[5].range_stop, 0);
  EXPECT_EQ(c.parameters[5].range_step, -3);
  EXPECT_EQ(c.parameters[6].range_start, -2);
  EXPECT_EQ(c.parameters[6].range_stop, 2);
  EXPECT_EQ(c.parameters[6].range_step, 1);
  EXPECT_EQ(c.parameters[7].values, std::vector<Value>{Value::String("abc")});
  EXPECT_EQ(c.parameters[8].values, std::vector<Value>{Value::String("12")});
  EXPECT_EQ(c.parameters[9].values, std::vector<Value>{Value::Integer(-4)});
  EXPECT_EQ(c.parameters[10].values, std::vector<Value>{Value::Number(1000)});
  for (const AxisSpec& axis : c.parameters) {
    if (axis.kind == AxisSpec::Kind::kConstant) {
      EXPECT_EQ(axis.values.size(), 1u);
    }
  }
}

TEST(ConfigParseTest, ZipGroupsOfEqualLength) {
  Config c = Parse(
      "name: z\n"
      "kernel: {name: k}\n"
      "parameters:\n"
      "  a: {linspace: [0, 1, 3]}\n"
      "  b: {values: [x, y, z]}\n"
      "  c: {range: [0, 9, 3]}\n"
      "  d: {logspace: [0, 2, 2]}\n"
      "  e: {range: [5, 3, -1]}\n"
      "zip:\n"
      "  - [a, b, c]\n"
      "  - [d, e]\n");
  EXPECT_EQ(c.zip, (std::vector<std::vector<std::string>>{{"a", "b", "c"}, {"d", "e"}}));
  ASSERT_EQ(c.zip_where.size(), 2u);
  EXPECT_EQ(c.zip_where[0].line, 10);
  EXPECT_EQ(c.zip_where[0].column, 5);
  EXPECT_EQ(c.zip_where[1].line, 11);
}

TEST(ConfigParseTest, SampledSweep) {
  Config c = Parse(
      "name: s\n"
      "kernel: {name: k}\n"
      "parameters:\n"
      "  x: {uniform: [-1, 1]}\n"
      "  y: {loguniform: [1e-3, 10]}\n"
      "  c: 3\n"
      "sampling: {method: lhs, n: 4096}\n");
  EXPECT_EQ(c.sampling.method, SamplingSpec::Method::kLhs);
  EXPECT_EQ(c.sampling.n, 4096);
  EXPECT_EQ(c.sampling.where.line, 7);
  ASSERT_EQ(c.parameters.size(), 3u);
  EXPECT_EQ(c.parameters[0].kind, AxisSpec::Kind::kUniform);
  EXPECT_EQ(c.parameters[0].start, -1);
  EXPECT_EQ(c.parameters[0].stop, 1);
  EXPECT_EQ(c.parameters[1].kind, AxisSpec::Kind::kLogUniform);
  EXPECT_EQ(c.parameters[1].start, 1e-3);
  EXPECT_EQ(c.parameters[1].stop, 10);
  EXPECT_EQ(c.parameters[2].kind, AxisSpec::Kind::kConstant);
  for (auto [text, method] : {std::pair{"uniform", SamplingSpec::Method::kUniform},
                              std::pair{"sobol", SamplingSpec::Method::kSobol}}) {
    Config d = Parse(std::string("name: s\nkernel: {name: k}\nparameters: {x: {uniform: [0, 1]}}\n"
                                 "sampling: {method: ") +
                     text + ", n: 1}\n");
    EXPECT_EQ(d.sampling.method, method);
    EXPECT_EQ(d.sampling.n, 1);
  }
}

TEST(ConfigParseTest, CommandKernelKeepsPlaceholdersVerbatim) {
  Config c = Parse(
      "name: cmd\n"
      "kernel:\n"
      "  command: [./sim, --rho, \"{rho}\", '{seed}', --steps, 100, \"\", '{point}.out']\n"
      "  outputs:\n"
      "    energy: float64\n"
      "    traj: [float32, 100, 3]\n"
      "    flags: [uint8]\n"
      "parameters: {rho: {values: [1, 2]}}\n");
  EXPECT_EQ(c.kernel.command, (std::vector<std::string>{"./sim", "--rho", "{rho}", "{seed}",
                                                        "--steps", "100", "", "{point}.out"}));
  ASSERT_EQ(c.kernel.command_outputs.size(), 3u);
  EXPECT_EQ(c.kernel.command_outputs[0].name, "energy");
  EXPECT_EQ(c.kernel.command_outputs[0].dtype, "float64");
  EXPECT_TRUE(c.kernel.command_outputs[0].shape.empty());
  EXPECT_EQ(c.kernel.command_outputs[1].name, "traj");
  EXPECT_EQ(c.kernel.command_outputs[1].dtype, "float32");
  EXPECT_EQ(c.kernel.command_outputs[1].shape, (std::vector<int64_t>{100, 3}));
  EXPECT_EQ(c.kernel.command_outputs[2].dtype, "uint8");
  EXPECT_TRUE(c.kernel.command_outputs[2].shape.empty());
}

TEST(ConfigParseTest, CommandKernelWorkDirectoryKeys) {
  Config c = Parse(
      "name: cmd\n"
      "kernel:\n"
      "  command: [./sim, input.nml]\n"
      "  files: {input.nml: templates/input.nml, conf/run.sh: /abs/run.sh}\n"
      "  results_file: out/results.json\n"
      "  outputs: {energy: float64}\n"
      "  workdir: {root: scratch/work, keep: always}\n"
      "parameters: {rho: {values: [1, 2]}}\n"
      "execution: {max_failures: 7}\n");
  ASSERT_EQ(c.kernel.command_files.size(), 2u);
  EXPECT_EQ(c.kernel.command_files[0].name, "input.nml");
  EXPECT_EQ(c.kernel.command_files[0].template_path,
            (fs::current_path() / "templates/input.nml").string());
  EXPECT_EQ(c.kernel.command_files[0].where.line, 4);
  EXPECT_EQ(c.kernel.command_files[1].name, "conf/run.sh");
  EXPECT_EQ(c.kernel.command_files[1].template_path, "/abs/run.sh");
  EXPECT_EQ(c.kernel.results_file, "out/results.json");
  EXPECT_EQ(c.kernel.workdir.root, (fs::current_path() / "scratch/work").string());
  EXPECT_EQ(c.kernel.workdir.keep, KernelSpec::Workdir::Keep::kAlways);
  EXPECT_EQ(c.execution.max_failures, 7u);
  // The defaults: outputs on stdout, the work folder beside the output, failed points kept.
  Config d = Parse(
      "name: cmd\nkernel: {command: [./sim], outputs: {e: float64}}\n"
      "parameters: {x: 1}\nexecution: {max_failures: none}\n");
  EXPECT_TRUE(d.kernel.command_files.empty());
  EXPECT_TRUE(d.kernel.results_file.empty());
  EXPECT_TRUE(d.kernel.workdir.root.empty());
  EXPECT_EQ(d.kernel.workdir.keep, KernelSpec::Workdir::Keep::kFailed);
  EXPECT_EQ(d.execution.max_failures, 0u);
}

TEST(ConfigParseTest, CommandKernelEnvDimsAndWhereEachArgumentIs) {
  Config c = Parse(
      "name: cmd\n"
      "kernel:\n"
      "  command: [python3,\n"
      "            '{config_dir}/sim.py', --T, '{T}']\n"
      "  env: {OMP_NUM_THREADS: 1, SEED: '{seed31}', EMPTY: ''}\n"
      "  outputs:\n"
      "    f3db: float64\n"
      "    gain_db: {dtype: float64, shape: [61], dims: [freq_point]}\n"
      "    freq: {dtype: float32, shape: [61], dims: [freq_point]}\n"
      "    table: {dtype: int32, shape: [2, 3]}\n"
      "parameters: {T: {values: [1, 2]}}\n");
  ASSERT_EQ(c.kernel.command_where.size(), 4u);
  EXPECT_EQ(c.kernel.command_where[0].line, 3);
  EXPECT_EQ(c.kernel.command_where[0].column, 13);
  EXPECT_EQ(c.kernel.command_where[1].line, 4);
  EXPECT_EQ(c.kernel.command_where[1].column, 13);
  EXPECT_EQ(c.kernel.command_where[3].line, 4);
  ASSERT_EQ(c.kernel.command_env.size(), 3u);
  EXPECT_EQ(c.kernel.command_env[0].name, "OMP_NUM_THREADS");
  EXPECT_EQ(c.kernel.command_env[0].value, "1");
  EXPECT_EQ(c.kernel.command_env[1].value, "{seed31}");
  EXPECT_EQ(c.kernel.command_env[1].where.line, 5);
  EXPECT_EQ(c.kernel.command_env[2].value, "");
  ASSERT_EQ(c.kernel.command_outputs.size(), 4u);
  EXPECT_TRUE(c.kernel.command_outputs[0].dims.empty());
  EXPECT_EQ(c.kernel.command_outputs[1].shape, (std::vector<int64_t>{61}));
  EXPECT_EQ(c.kernel.command_outputs[1].dims, (std::vector<std::string>{"freq_point"}));
  EXPECT_EQ(c.kernel.command_outputs[2].dtype, "float32");
  EXPECT_EQ(c.kernel.command_outputs[2].dims, (std::vector<std::string>{"freq_point"}));
  EXPECT_EQ(c.kernel.command_outputs[3].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(c.kernel.command_outputs[3].dims.empty());
}

TEST(ConfigParseTest, RelativePathsResolveAgainstTheConfigFolder) {
  TempDir dir;
  dir.Write("sub/c.yaml",
            "name: rel\n"
            "kernel: {plugin: ../lib/libmine.so}\n"
            "inputs:\n"
            "  a: {npy: data/a.npy}\n"
            "  b: {hdf5: /abs/b.h5, dataset: /x}\n"
            "  c: {raw: ./c.bin, dtype: uint8, shape: [3]}\n"
            "parameters: {x: 1}\n");
  fs::path sub = dir.path() / "sub";
  Config c = LoadConfig((sub / "c.yaml").string());
  EXPECT_EQ(c.folder, sub.string());
  EXPECT_EQ(c.kernel.plugin, (dir.path() / "lib/libmine.so").string());
  ASSERT_EQ(c.inputs.size(), 3u);
  EXPECT_EQ(c.inputs[0].path, (sub / "data/a.npy").string());
  EXPECT_EQ(c.inputs[1].path, "/abs/b.h5");
  EXPECT_EQ(c.inputs[2].path, (sub / "c.bin").string());
  EXPECT_EQ(c.output.path, (sub / "results/rel.h5").string());

  // A relative config path resolves against the working directory first.
  char* old = getcwd(nullptr, 0);
  ASSERT_EQ(chdir(dir.path().c_str()), 0);
  Config relative = LoadConfig("sub/c.yaml");
  EXPECT_EQ(chdir(old), 0);
  free(old);
  EXPECT_EQ(relative.file, "sub/c.yaml");
  EXPECT_EQ(relative.inputs[0].path, (sub / "data/a.npy").string());
  EXPECT_EQ(relative.output.path, (sub / "results/rel.h5").string());
}

TEST(ConfigParseTest, UnreadableFile) {
  TempDir dir;
  std::string missing = (dir.path() / "nope.yaml").string();
  try {
    LoadConfig(missing);
    FAIL() << "loaded a missing file";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + missing + ": No such file or directory");
    EXPECT_EQ(e.code(), ExitCode::kUsage);
  }
  try {
    LoadConfig(dir.path().string());
    FAIL() << "loaded a directory";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), dir.path().string() + ": is a directory, not a config file");
  }
}

TEST(ConfigDurationTest, Table) {
  const std::pair<const char*, double> good[] = {
      {"90s", 90},  {"5m", 300},    {"1h", 3600},  {"250ms", 0.25}, {"1.5h", 5400}, {"42", 42},
      {"0.5", 0.5}, {"2 min", 120}, {"1d", 86400}, {".5s", 0.5},    {"0", 0},       {" 10s ", 10}};
  for (auto [text, seconds] : good) {
    std::optional<double> d = ParseDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_DOUBLE_EQ(*d, seconds) << text;
  }
  for (const char* text :
       {"", "10 parsecs", "-5s", "s", "1.2.3s", "5 m s", "abc", "1e3s", "5S", "inf", "."}) {
    EXPECT_FALSE(ParseDuration(text).has_value()) << text;
  }
}

TEST(ConfigSizeTest, Table) {
  const std::pair<const char*, uint64_t> good[] = {{"512MiB", 536870912},
                                                   {"4GiB", 4294967296},
                                                   {"1.5GB", 1500000000},
                                                   {"1000", 1000},
                                                   {"64KiB", 65536},
                                                   {"1kB", 1000},
                                                   {"1KB", 1000},
                                                   {"10B", 10},
                                                   {"1.5KiB", 1536},
                                                   {"16TiB", 17592186044416},
                                                   {"2 MB", 2000000},
                                                   {"0", 0},
                                                   {"18446744073709551615", UINT64_MAX},
                                                   {"16777215TiB", 18446742974197923840u}};
  for (auto [text, bytes] : good) {
    std::optional<uint64_t> s = ParseSize(text);
    ASSERT_TRUE(s.has_value()) << text;
    EXPECT_EQ(*s, bytes) << text;
  }
  for (const char* text : {"", "lots", "-1", "5 XB", "1e3", "20000000000000000000",
                           "18446744073709551616", "16777216TiB", "GiB", "4gib", "1.5.1MB"}) {
    EXPECT_FALSE(ParseSize(text).has_value()) << text;
  }
}

TEST(ConfigOverrideTest, EachKindOfOverrideIsTypedByYaml) {
  Config c = Parse(
      kMinimal,
      {"execution.workers=3", "parameters.rho.linspace=[0,10,5]", "kernel.options.steps=100",
       "kernel.options.dt=0.5", "kernel.options.method=rk4", "kernel.options.tag=\"7\"", "seed=7",
       "parameters.beta={values: [a, b]}", "execution.timeout = 5m", "output.path=/tmp/o.h5"});
  EXPECT_EQ(c.execution.workers, 3);
  ASSERT_EQ(c.parameters.size(), 2u);
  EXPECT_EQ(c.parameters[0].count, 5);
  EXPECT_EQ(c.parameters[0].stop, 10);
  EXPECT_EQ(c.parameters[1].name, "beta");
  EXPECT_EQ(c.parameters[1].values, (std::vector<Value>{Value::String("a"), Value::String("b")}));
  EXPECT_EQ(c.kernel.options.at("steps"), Value::Integer(100));
  EXPECT_EQ(c.kernel.options.at("dt"), Value::Number(0.5));
  EXPECT_EQ(c.kernel.options.at("method"), Value::String("rk4"));
  EXPECT_EQ(c.kernel.options.at("tag"), Value::String("7"));
  EXPECT_EQ(c.kernel.option_where.at("steps").file, "--set");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.execution.timeout_seconds, 300);
  EXPECT_EQ(c.output.path, "/tmp/o.h5");

  // The stored text carries the overrides and reads back as the same config.
  Config again = Parse(c.text);
  EXPECT_EQ(again.text, c.text);
  EXPECT_EQ(again.execution.workers, 3);
  EXPECT_EQ(again.parameters[0].count, 5);
  EXPECT_EQ(again.parameters[1].values, c.parameters[1].values);
  EXPECT_EQ(again.kernel.options, c.kernel.options);
  EXPECT_EQ(again.seed, 7u);
  EXPECT_EQ(again.execution.timeout_seconds, 300);
}

TEST(ConfigOverrideTest, ReplacesListItemsAndKeepsQuotedStrings) {
  const std::string text =
      "name: t\n"
      "kernel: {command: [./sim, \"{x}\", \"1\"], outputs: {y: float64}}\n"
      "parameters:\n"
      "  x: {values: [1, 2]}\n"
      "  y: {values: [\"3\", \"4\"]}\n"
      "  z: {values: [5, 6]}\n"
      "zip: [[x, y]]\n";
  Config c = Parse(text, {"zip[0]=[x, z]", "kernel.command[2]=--fast"});
  EXPECT_EQ(c.zip, (std::vector<std::vector<std::string>>{{"x", "z"}}));
  EXPECT_EQ(c.kernel.command, (std::vector<std::string>{"./sim", "{x}", "--fast"}));
  Config again = Parse(c.text);
  EXPECT_EQ(again.parameters[1].values,
            (std::vector<Value>{Value::String("3"), Value::String("4")}));
  EXPECT_EQ(again.zip, c.zip);
  EXPECT_EQ(again.kernel.command, c.kernel.command);
}

TEST(ConfigOverrideTest, FillsAnEmptySection) {
  Config c = Parse(std::string(kMinimal) + "execution:\n", {"execution.workers=3"});
  EXPECT_EQ(c.execution.workers, 3);
  Config d = Parse(kMinimal, {"execution.schedule=static"});
  EXPECT_EQ(d.execution.schedule, ExecutionSpec::Schedule::kStatic);
  EXPECT_EQ(Parse(d.text).execution.schedule, ExecutionSpec::Schedule::kStatic);
}

TEST(ConfigOverrideTest, CanWriteAWholeConfig) {
  Config c = Parse("", {"name=t", "kernel.name=k", "parameters.x={range: [0, 3]}"});
  EXPECT_EQ(c.name, "t");
  EXPECT_EQ(c.kernel.name, "k");
  ASSERT_EQ(c.parameters.size(), 1u);
  EXPECT_EQ(c.parameters[0].range_stop, 3);
  EXPECT_EQ(Parse(c.text).parameters[0].range_stop, 3);
}

TEST(ConfigOverrideTest, AnOverriddenValueIsCheckedAndBlamedOnSet) {
  std::vector<Diagnostic> d = Problems(kMinimal, {"execution.workers=0"});
  ASSERT_EQ(d.size(), 1u) << Describe(d);
  EXPECT_EQ(d[0].where.file, "--set");
  EXPECT_EQ(d[0].key_path, "execution.workers");
  EXPECT_NE(d[0].message.find("positive integer or `auto`"), std::string::npos);
}

// A malformed config, the line its first diagnostic names, its key path, and a fragment of its
// message. Every case must give exactly `count` diagnostics (no cascades).
struct BadConfig {
  const char* label;
  std::string text;
  int line;
  std::string key_path;
  std::string fragment;
  std::vector<std::string> overrides = {};
  size_t count = 1;
  int column = 0;  // 0: not checked
};

std::string WithParameters(const std::string& parameters, const std::string& extra = "") {
  return "name: t\nkernel: {name: k}\nparameters:\n" + parameters + extra;
}

std::string WithExecution(const std::string& execution) {
  return std::string(kMinimal) + "execution:\n" + execution;
}

// A command kernel with more keys from line 4 on.
std::string CommandOutputs(const std::string& outputs) {
  return "name: t\nkernel:\n  command: [./sim]\n  outputs: " + outputs + "\nparameters: {x: 1}\n";
}

std::string Command(const std::string& keys) {
  return "name: t\nkernel:\n  command: [./sim]\n" + keys +
         "  outputs: {e: float64}\nparameters: {x: 1}\n";
}

TEST(ConfigErrorTest, TableOfMalformedConfigs) {
  const std::vector<BadConfig> cases = {
      {"a value twice",
       WithParameters("  x: {values: [3, 1, 2, 1]}\n"),
       4,
       "parameters.x.values[3]",
       "`1` is also item 1 of the list",
       {},
       1,
       25},
      {"a string twice", WithParameters("  m: {values: [a, b, a]}\n"), 4, "parameters.m.values[2]",
       "`a` is also item 0"},
      {"a number twice, as written differently", WithParameters("  x: {values: [0.5, 5e-1]}\n"), 4,
       "parameters.x.values[1]", "`0.5` is also item 0"},
      {"an unknown attribute", std::string(kMinimal) + "attributes: {rho: {unit: m}}\n", 5,
       "attributes.rho.unit", "did you mean `units`?"},
      {"an empty attribute", std::string(kMinimal) + "attributes: {rho: {units: \"\"}}\n", 5,
       "attributes.rho.units", "got an empty string"},
      {"attributes not a map", std::string(kMinimal) + "attributes: {rho: m}\n", 5,
       "attributes.rho", "expected a map like {units: m"},
      {"unclosed bracket", WithParameters("  rho: {linspace: [0, 1, 3}\n"), 4, "",
       "YAML syntax error"},
      {"bad indentation", "name: t\nkernel:\n  name: k\n options: {}\nparameters: {x: 1}\n", 4, "",
       "YAML syntax error"},
      {"tab indentation", "name: t\nkernel:\n\tname: k\nparameters: {x: 1}\n", 3, "",
       "YAML syntax error"},
      {"10000-deep nesting", "a: " + std::string(10000, '['), 1, "",
       "nesting deeper than 256 levels"},
      {"10000-deep maps",
       "a: " +
           [] {
             std::string s;
             for (int i = 0; i < 10000; ++i) s += "{a: ";
             return s;
           }(),
       1, "", "nesting deeper than 256 levels"},
      // yaml-cpp alone loops forever on these (tests/fuzz/regressions/stray-comma).
      {"a stray comma",
       ",",
       1,
       "",
       "YAML syntax error: unexpected `,` outside a flow collection",
       {},
       1,
       1},
      {"a comma after a list",
       "- 1\n,\n",
       2,
       "",
       "YAML syntax error: unexpected `,` outside a flow collection",
       {},
       1,
       1},
      {"a comma after a flow map",
       "{name: t}\n  ,\n",
       2,
       "",
       "YAML syntax error: unexpected `,`",
       {},
       1,
       3},
      {"override with a stray comma",
       kMinimal,
       0,
       "seed=,",
       "bad value: YAML syntax error: unexpected `,`",
       {"seed=,"}},
      {"empty file", "", 1, "", "the config is empty"},
      {"only comments", "# nothing\n", 1, "", "the config is empty"},
      {"a list", "- name: t\n- kernel: k\n", 1, "", "expected a map", {}, 1, 1},
      {"a scalar", "hello\n", 1, "", "expected a map"},
      {"two documents", std::string(kMinimal) + "---\nname: u\n", 5, "",
       "more than one YAML document"},
      {"duplicate key",
       WithParameters("  rho: 1\n  rho: 2\n"),
       5,
       "parameters.rho",
       "duplicate key `rho` (first at line 4)",
       {},
       1,
       3},
      {"duplicate key in flow map", "name: t\nkernel: {name: k, name: j}\nparameters: {x: 1}\n", 2,
       "kernel.name", "duplicate key `name`"},
      {"unknown top-level key",
       std::string(kMinimal) + "paramters: {}\n",
       5,
       "paramters",
       "unknown key `paramters` (did you mean `parameters`?)",
       {},
       1,
       1},
      {"unknown key far from any", std::string(kMinimal) + "colour: red\n", 5, "colour",
       "unknown key `colour` (expected one of `name`"},
      {"unknown kernel key",
       "name: t\nkernel:\n  name: k\n  optoins: {a: 1}\nparameters: {x: 1}\n",
       4,
       "kernel.optoins",
       "unknown key `optoins` (did you mean `options`?)",
       {},
       1,
       3},
      {"kernel with name and command",
       "name: t\nkernel: {name: k, command: [./a]}\nparameters: {x: 1}\n", 2, "kernel",
       "exactly one of `name`, `plugin`, `command` or `python`, got `name`, `command`"},
      {"kernel without a source", "name: t\nkernel: {options: {a: 1}}\nparameters: {x: 1}\n", 2,
       "kernel", "missing `name`, `plugin`, `command` or `python`"},
      {"missing kernel", "name: t\nparameters: {x: 1}\n", 1, "", "missing required key `kernel`"},
      {"missing parameters", "name: t\nkernel: {name: k}\n", 1, "",
       "missing required key `parameters`"},
      {"name with a slash", "name: a/b\nkernel: {name: k}\nparameters: {x: 1}\n", 1, "name",
       "cannot name a file"},
      {"empty parameters", "name: t\nkernel: {name: k}\nparameters: {}\n", 3, "parameters",
       "no parameters"},
      {"empty values list", WithParameters("  rho: {values: []}\n"), 4, "parameters.rho.values",
       "expected a non-empty list of values, got 0 items"},
      {"linspace with 2 numbers",
       WithParameters("  rho: {linspace: [0, 1]}\n"),
       4,
       "parameters.rho.linspace",
       "expected 3 numbers [start, stop, count], got 2 items",
       {},
       1,
       19},
      {"linspace count 0",
       WithParameters("  rho: {linspace: [0, 1, 0]}\n"),
       4,
       "parameters.rho.linspace[2]",
       "expected an integer count >= 1, got 0",
       {},
       1,
       26},
      {"non-integer count", WithParameters("  rho: {linspace: [0, 1, 2.5]}\n"), 4,
       "parameters.rho.linspace[2]", "expected an integer count >= 1, got 2.5"},
      {"linspace of a string", WithParameters("  rho:\n    linspace: [0, x, 3]\n"), 5,
       "parameters.rho.linspace[1]", "expected a number (stop), got `x`"},
      {"range with step 0", WithParameters("  n: {range: [0, 10, 0]}\n"), 4,
       "parameters.n.range[2]", "step must not be 0"},
      {"empty range", WithParameters("  n: {range: [5, 0]}\n"), 4, "parameters.n.range",
       "empty range: no integers from 5 to 0 (excluded) by step 1"},
      {"range of floats", WithParameters("  n: {range: [0, 1.5]}\n"), 4, "parameters.n.range[1]",
       "expected an integer (stop), got 1.5"},
      {"logspace with a string", WithParameters("  b: {logspace: [a, 1, 3]}\n"), 4,
       "parameters.b.logspace[0]", "expected a number (start), got `a`"},
      {"logspace overflow", WithParameters("  b: {logspace: [1, 400, 3]}\n"), 4,
       "parameters.b.logspace", "10^400 overflows"},
      {"linspace spanning more than a double",
       WithParameters("  b: {linspace: [-1e308, 1e308, 3]}\n"), 4, "parameters.b.linspace",
       "stop - start overflows a double, got [-1e+308, 1e+308]"},
      {"uniform spanning more than a double",
       WithParameters("  x: {uniform: [-1.7e308, 1.7e308]}\n", "sampling: {method: lhs, n: 8}\n"),
       4, "parameters.x.uniform", "high - low overflows a double"},
      {"unknown axis kind", WithParameters("  b: {linspce: [0, 1, 3]}\n"), 4,
       "parameters.b.linspce", "did you mean `linspace`?"},
      {"two axis kinds", WithParameters("  b: {linspace: [0, 1, 3], values: [1]}\n"), 4,
       "parameters.b", "got `linspace`, `values`"},
      {"a bare list", WithParameters("  b: [1, 2]\n"), 4, "parameters.b", "write {values: [...]}"},
      {"zip of unequal lengths",
       WithParameters("  sigma: {values: [10, 14]}\n  n: {range: [0, 100, 5]}\n",
                      "zip: [[sigma, n]]\n"),
       6,
       "zip[0]",
       "zip group [sigma, n]: lengths differ (2 vs 20)",
       {},
       1,
       7},
      {"zip with unknown name",
       WithParameters("  sigma: {values: [10, 14]}\n  n: {values: [1, 2]}\n",
                      "zip:\n  - [sgima, n]\n"),
       7,
       "zip[0][0]",
       "unknown parameter `sgima` (did you mean `sigma`?)",
       {},
       1,
       6},
      {"zip with a constant",
       WithParameters("  sigma: {values: [10, 14]}\n  dt: 0.1\n", "zip: [[sigma, dt]]\n"), 6,
       "zip[0][1]", "`dt` is a constant"},
      {"parameter in two zip groups",
       WithParameters("  a: {values: [1, 2]}\n  b: {values: [3, 4]}\n  c: {values: [5, 6]}\n",
                      "zip:\n  - [a, b]\n  - [c, a]\n"),
       9, "zip[1][1]", "`a` is already in zip group 0"},
      {"zip of a broken parameter",
       WithParameters("  a: {values: [1, 2]}\n  b:\n", "zip: [[a, b]]\n"), 5, "parameters.b",
       "got nothing"},
      {"zip group of one", WithParameters("  a: {values: [1, 2]}\n", "zip: [[a]]\n"), 5, "zip[0]",
       "at least 2 parameter names, got 1 item"},
      {"uniform without sampling",
       WithParameters("  x: {uniform: [0, 1]}\n"),
       4,
       "parameters.x.uniform",
       "need `sampling:`",
       {},
       1,
       7},
      {"linspace with sampling",
       WithParameters("  x: {uniform: [0, 1]}\n  y: {linspace: [0, 1, 3]}\n",
                      "sampling: {method: sobol, n: 8}\n"),
       5, "parameters.y.linspace", "grid axis cannot be combined with `sampling:`"},
      {"sampling without sampled parameters",
       WithParameters("  x: 1\n", "sampling: {method: sobol, n: 8}\n"), 5, "sampling",
       "nothing to sample"},
      {"zip with sampling",
       WithParameters("  x: {uniform: [0, 1]}\n  y: {uniform: [0, 1]}\n",
                      "sampling: {method: sobol, n: 8}\nzip: [[x, y]]\n"),
       7, "zip", "not allowed with `sampling:`"},
      {"loguniform from 0",
       WithParameters("  x: {loguniform: [0, 1]}\n", "sampling: {method: lhs, n: 8}\n"), 4,
       "parameters.x.loguniform", "loguniform needs 0 < low"},
      {"uniform low above high",
       WithParameters("  x: {uniform: [2, 1]}\n", "sampling: {method: lhs, n: 8}\n"), 4,
       "parameters.x.uniform", "low must be below high"},
      {"sampling bad method",
       WithParameters("  x: {uniform: [0, 1]}\n", "sampling: {method: sobel, n: 8}\n"), 5,
       "sampling.method", "(did you mean `sobol`?)"},
      {"sampling n 0",
       WithParameters("  x: {uniform: [0, 1]}\n", "sampling: {method: sobol, n: 0}\n"), 5,
       "sampling.n", "expected an integer >= 1, got 0"},
      {"sampling without n",
       WithParameters("  x: {uniform: [0, 1]}\n", "sampling: {method: lhs}\n"), 5, "sampling",
       "missing `n`"},
      {"repeat 0", std::string(kMinimal) + "repeat: 0\n", 5, "repeat",
       "expected an integer >= 1, got 0"},
      {"negative seed", "name: t\nseed: -1\nkernel: {name: k}\nparameters: {x: 1}\n", 2, "seed",
       "expected a non-negative integer, got -1"},
      {"seed beyond 64 bits",
       "name: t\nseed: 18446744073709551616\nkernel: {name: k}\nparameters: {x: 1}\n", 2, "seed",
       "expected a non-negative integer"},
      {"workers 0",
       WithExecution("  workers: 0\n"),
       6,
       "execution.workers",
       "expected a positive integer or `auto`, got 0",
       {},
       1,
       12},
      {"workers many", WithExecution("  workers: many\n"), 6, "execution.workers",
       "expected a positive integer or `auto`, got `many`"},
      {"chunk_size negative", WithExecution("  chunk_size: -4\n"), 6, "execution.chunk_size",
       "expected a positive integer or `auto`, got -4"},
      {"bad schedule", WithExecution("  schedule: dynamc\n"), 6, "execution.schedule",
       "expected a schedule (dynamic | static), got `dynamc` (did you mean `dynamic`?)"},
      {"bad start", WithExecution("  start: thread\n"), 6, "execution.start",
       "expected a start method (spawn | fork | forkserver), got `thread`"},
      {"malformed timeout", WithExecution("  timeout: 10 parsecs\n"), 6, "execution.timeout",
       "expected a duration like 90s, 5m, 1.5h, 250ms or `none`, got `10 parsecs`"},
      {"negative retries", WithExecution("  retries: -1\n"), 6, "execution.retries",
       "expected an integer >= 0, got -1"},
      {"too many retries", WithExecution("  retries: 101\n"), 6, "execution.retries",
       "at most 100 retries (each waits up to 30 s after the one before)"},
      {"retries beyond 32 bits", WithExecution("  retries: 4294967297\n"), 6, "execution.retries",
       "at most 100 retries"},
      {"malformed memory_limit", WithExecution("  memory_limit: 4 gigs\n"), 6,
       "execution.memory_limit", "expected a size like 512MiB"},
      {"max_failures 0", WithExecution("  max_failures: 0\n"), 6, "execution.max_failures",
       "expected a number of failed chunks >= 1 or `none`, got 0"},
      {"max_failures many", WithExecution("  max_failures: many\n"), 6, "execution.max_failures",
       "expected a number of failed chunks >= 1 or `none`"},
      {"files without a command", "name: t\nkernel: {name: k, files: {a: b}}\nparameters: {x: 1}\n",
       2, "kernel.files", "`files` is only for `command` kernels"},
      {"absolute file name", Command("  files: {/etc/passwd: t.txt}\n"), 4,
       "kernel.files./etc/passwd",
       "`/etc/passwd` is absolute; give a name inside the work directory"},
      {"file name leading out", Command("  files: {../up.nml: t.txt}\n"), 4,
       "kernel.files.../up.nml", "no empty, `.` or `..` part"},
      {"file name with an empty part", Command("  files: {'a//b': t.txt}\n"), 4,
       "kernel.files.a//b", "no empty, `.` or `..` part"},
      {"a file under a file", Command("  files: {a: t.txt, a/b: u.txt}\n"), 4, "kernel.files.a/b",
       "`a` is a file, so `a/b` cannot be under it"},
      {"template not a path", Command("  files: {a: [1]}\n"), 4, "kernel.files.a",
       "expected the path of a template file, got a list"},
      {"results_file leading out", Command("  results_file: ../out.json\n"), 4,
       "kernel.results_file", "no empty, `.` or `..` part"},
      {"results_file also rendered", Command("  files: {out.json: t}\n  results_file: out.json\n"),
       5, "kernel.results_file", "`out.json` is also rendered by `files:`"},
      {"a file named like a saved stream", Command("  files: {stdout.txt: t}\n"), 4,
       "kernel.files.stdout.txt",
       "`stdout.txt` is where sweep saves the program's stdout in the work directory"},
      {"results_file named like a saved stream", Command("  results_file: stderr.txt\n"), 4,
       "kernel.results_file", "is where sweep saves the program's stderr"},
      {"env without a command", "name: t\nkernel: {name: k, env: {A: b}}\nparameters: {x: 1}\n", 2,
       "kernel.env", "`env` is only for `command` kernels"},
      {"env not a map", Command("  env: [A]\n"), 4, "kernel.env",
       "expected a map of variable name: value, got a list"},
      {"env name not a name",
       Command("  env: {'A-B': 1}\n"),
       4,
       "kernel.env.A-B",
       "`A-B` cannot name an environment variable here",
       {},
       1,
       9},
      {"env sets the point", Command("  env: {SWEEP_SEED: 1}\n"), 4, "kernel.env.SWEEP_SEED",
       "`SWEEP_SEED` is set by sweep for each point"},
      {"env value missing", Command("  env:\n    OMP_NUM_THREADS:\n"), 5,
       "kernel.env.OMP_NUM_THREADS", "expected the variable's value"},
      {"env value a list", Command("  env: {A: [1, 2]}\n"), 4, "kernel.env.A",
       "expected the variable's value (a string; \"\" for an empty one), got a list"},
      {"output map without dtype", CommandOutputs("{g: {shape: [3]}}"), 4, "kernel.outputs.g",
       "missing `dtype`"},
      {"output map unknown key", CommandOutputs("{g: {dtype: float64, dim: [a]}}"), 4,
       "kernel.outputs.g.dim", "did you mean `dims`?"},
      {"dims without shape", CommandOutputs("{g: {dtype: float64, dims: [f]}}"), 4,
       "kernel.outputs.g.dims", "names 1 dimension for a shape of 0"},
      {"dims fewer than the shape",
       CommandOutputs("{g: {dtype: float64, shape: [3, 4], dims: [f]}}"), 4,
       "kernel.outputs.g.dims", "names 1 dimension for a shape of 2"},
      {"dims not a name", CommandOutputs("{g: {dtype: float64, shape: [3], dims: [2f]}}"), 4,
       "kernel.outputs.g.dims[0]", "dimension name `2f` is not an identifier"},
      {"dims reserved", CommandOutputs("{g: {dtype: float64, shape: [3], dims: [sample]}}"), 4,
       "kernel.outputs.g.dims[0]", "`sample` is reserved"},
      {"dims twice in an output",
       CommandOutputs("{g: {dtype: float64, shape: [3, 3], dims: [f, f]}}"), 4,
       "kernel.outputs.g.dims[1]", "`f` is named twice"},
      {"shared dims of two sizes",
       CommandOutputs("{g: {dtype: float64, shape: [61], dims: [freq]},\n"
                      "             f: {dtype: float64, shape: [60], dims: [freq]}}"),
       5, "kernel.outputs.f",
       "dimension `freq` has size 60 here but 61 in output `g`: outputs that share a dimension "
       "share its size"},
      {"bad keep", Command("  workdir: {keep: faild}\n"), 4, "kernel.workdir.keep",
       "expected which work directories to keep (failed | always | never), got `faild` (did "
       "you mean `failed`?)"},
      {"unknown workdir key", Command("  workdir: {rot: w}\n"), 4, "kernel.workdir.rot",
       "did you mean `root`?"},
      {"unknown execution key", WithExecution("  worker: 4\n"), 6, "execution.worker",
       "unknown key `worker` (did you mean `workers`?)"},
      {"execution not a map", std::string(kMinimal) + "execution: fast\n", 5, "execution",
       "expected a map of execution settings, got `fast`"},
      {"unknown output key", std::string(kMinimal) + "output: {pth: a.h5}\n", 5, "output.pth",
       "did you mean `path`?"},
      {"input with two sources",
       std::string(kMinimal) + "inputs:\n  a: {npy: a.npy, hdf5: b.h5, dataset: /x}\n", 6,
       "inputs.a", "give exactly one source, got `hdf5`, `npy`"},
      {"generate with negative shape",
       std::string(kMinimal) + "inputs:\n  a: {generate: normal, shape: [10, -2]}\n", 6,
       "inputs.a.shape[1]", "expected a positive dimension, got -2"},
      {"generate unknown distribution",
       std::string(kMinimal) + "inputs:\n  a: {generate: gauss, shape: [3]}\n", 6,
       "inputs.a.generate", "expected a distribution (normal | uniform | zeros | arange)"},
      {"hdf5 without dataset", std::string(kMinimal) + "inputs:\n  a: {hdf5: b.h5}\n", 6,
       "inputs.a", "a `hdf5` input needs `dataset`"},
      {"npy with a shape", std::string(kMinimal) + "inputs:\n  a: {npy: a.npy, shape: [3]}\n", 6,
       "inputs.a.shape", "`shape` does not apply to a `npy` input"},
      {"raw with a bad dtype",
       std::string(kMinimal) + "inputs:\n  a: {raw: a.bin, dtype: float16, shape: [3]}\n", 6,
       "inputs.a.dtype", "expected a dtype (float64 | float32 | int64 | int32 | uint8)"},
      {"bad parameter name", WithParameters("  rho-1: {values: [1, 2]}\n"), 4, "parameters.rho-1",
       "parameter name `rho-1` is not an identifier"},
      {"reserved name", WithParameters("  seed: {values: [1, 2]}\n"), 4, "parameters.seed",
       "parameter name `seed` is reserved"},
      {"values mixing numbers and strings", WithParameters("  v: {values: [1, two, 3]}\n"), 4,
       "parameters.v.values", "values mix numbers and strings"},
      {"values with a list inside", WithParameters("  v: {values: [1, [2]]}\n"), 4,
       "parameters.v.values[1]", "expected a number or a string, got a list"},
      {"outputs without command",
       "name: t\nkernel: {name: k, outputs: {y: float64}}\nparameters: {x: 1}\n", 2,
       "kernel.outputs", "only for `command` and `python` kernels"},
      {"command output with zero dim",
       "name: t\nkernel: {command: [./a], outputs: {y: [float64, 0]}}\nparameters: {x: 1}\n", 2,
       "kernel.outputs.y[1]", "expected a positive dimension, got 0"},
      {"empty command", "name: t\nkernel: {command: []}\nparameters: {x: 1}\n", 2, "kernel.command",
       "expected a non-empty list"},
      {"option that is a map",
       "name: t\nkernel: {name: k, options: {a: {b: 1}}}\nparameters: {x: 1}\n", 2,
       "kernel.options.a", "expected a number or a string, got a map"},
      {"kernel with no value",
       "name: t\nkernel:\nparameters: {x: 1}\n",
       2,
       "kernel",
       "expected a map with one of `name`, `plugin`, `command` or `python`, got nothing",
       {},
       1,
       1},
      {"parameter with no value", WithParameters("  x:\n  y: 1\n"), 4, "parameters.x",
       "got nothing"},
      {"override without =",
       kMinimal,
       0,
       "execution.workers",
       "expected key.path=value",
       {"execution.workers"}},
      {"override with empty path", kMinimal, 0, "=3", "empty key path", {"=3"}},
      {"override with bad YAML",
       kMinimal,
       0,
       "parameters.rho.linspace=[0, 1",
       "bad value",
       {"parameters.rho.linspace=[0, 1"}},
      {"override with a 10000-deep value",
       kMinimal,
       0,
       "seed=" + std::string(10000, '['),
       "nesting deeper than 256 levels",
       {"seed=" + std::string(10000, '[')}},
      {"override into a list",
       kMinimal,
       0,
       "parameters.rho.linspace.x=1",
       "`parameters.rho.linspace` is not a map",
       {"parameters.rho.linspace.x=1"}},
      {"override of a missing item",
       kMinimal,
       0,
       "zip[0]=[a, b]",
       "`zip` has no item 0",
       {"zip[0]=[a, b]"}},
      {"override into a scalar", kMinimal, 0, "name.x=1", "`name` is not a map", {"name.x=1"}},
      {"override with a cyclic alias",
       kMinimal,
       0,
       "name=&a [*a]",
       "bad value: an alias inside the node its anchor names",
       {"name=&a [*a]"}},
      {"a cyclic alias in the file",
       WithParameters("  x: {values: &v [1, *v]}\n"),
       4,
       "parameters.x.values[1]",
       "an alias inside the node its anchor names",
       {},
       1,
       22},
      {"aliases that expand beyond any config",
       "a: &a [1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e]\n"
       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g]\n",
       8, "h[3]", "aliases expand the document beyond 8388608 values"},
  };
  ASSERT_GE(cases.size(), 32u);
  for (const BadConfig& bad : cases) {
    SCOPED_TRACE(bad.label);
    std::vector<Diagnostic> d = Problems(bad.text, bad.overrides);
    ASSERT_EQ(d.size(), bad.count) << Describe(d);
    EXPECT_EQ(d[0].where.file, bad.overrides.empty() ? "t.yaml" : "--set");
    EXPECT_EQ(d[0].where.line, bad.line) << Describe(d);
    if (bad.column) {
      EXPECT_EQ(d[0].where.column, bad.column) << Describe(d);
    }
    EXPECT_EQ(d[0].key_path, bad.key_path) << Describe(d);
    EXPECT_NE(d[0].message.find(bad.fragment), std::string::npos)
        << "message: " << d[0].message << "\nwanted: " << bad.fragment;
  }
}

TEST(ConfigErrorTest, ReportsEveryProblemAtOnce) {
  const std::string text =
      "name: t\n"
      "kernel: {name: k, optoins: {}}\n"
      "parameters:\n"
      "  rho: {linspace: [0, 1]}\n"
      "  n: {range: [0, 10]}\n"
      "execution: {workers: 0}\n";
  try {
    Parse(text);
    FAIL() << "parsed";
  } catch (const ConfigError& e) {
    const std::vector<Diagnostic>& d = e.diagnostics();
    ASSERT_EQ(d.size(), 3u) << Describe(d);
    EXPECT_EQ(d[0].ToString(),
              "t.yaml:2:19: kernel.optoins: unknown key `optoins` (did you "
              "mean `options`?)");
    EXPECT_EQ(d[1].ToString(),
              "t.yaml:4:19: parameters.rho.linspace: expected 3 numbers "
              "[start, stop, count], got 2 items");
    EXPECT_EQ(d[2].ToString(),
              "t.yaml:6:22: execution.workers: expected a positive integer or "
              "`auto`, got 0");
    EXPECT_EQ(std::string(e.what()),
              d[0].ToString() + "\n" + d[1].ToString() + "\n" + d[2].ToString());
  }
}

}  // namespace
}  // namespace sweep
