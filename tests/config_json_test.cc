// Tests of the job description (io/config_json.h): a config read from YAML, encoded, decoded and
// encoded again gives the same JSON, and the Space and KernelBinding built from the decoded config
// equal the original's, for every shipped config and for configs that use what those do not.
// A field added to a Config struct but not to the description fails the build of this file.
#include "io/config_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "driver/binding.h"
#include "driver/command_binding.h"
#include "driver/space.h"
#include "io/config.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;
using json = nlohmann::json;

// --- a forgotten field fails the build --------------------------------------------------------

// Converts to any type, so T{AnyField{}, ...} compiles for up to as many fields as T has.
struct AnyField {
  template <typename T>
  operator T() const;  // never called: only used unevaluated
};

template <typename T, typename... Fields>
constexpr auto Initialisable(int) -> decltype(T{std::declval<Fields>()...}, true) {
  return true;
}
template <typename T, typename... Fields>
constexpr bool Initialisable(...) {
  return false;
}

// The number of fields of the aggregate T.
template <typename T, typename... Fields>
constexpr size_t FieldCount() {
  if constexpr (Initialisable<T, Fields..., AnyField>(0)) {
    return FieldCount<T, Fields..., AnyField>();
  } else {
    return sizeof...(Fields);
  }
}

// When one of these fails, a struct of io/config.h has gained (or lost) a field: carry it in
// io/config_json.cc, a Put line in its Encode and a Take line in its Decode, then count it here.
static_assert(FieldCount<Value>() == 4, "Value: carry the new field in io/config_json.cc");
static_assert(FieldCount<SourceLocation>() == 3, "SourceLocation: see io/config_json.cc");
static_assert(FieldCount<AxisSpec>() == 10, "AxisSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<KernelSpec::CommandOutput>() == 5,
              "KernelSpec::CommandOutput: carry the new field in io/config_json.cc");
static_assert(FieldCount<KernelSpec::CommandFile>() == 3,
              "KernelSpec::CommandFile: carry the new field in io/config_json.cc");
static_assert(FieldCount<KernelSpec::CommandEnv>() == 3,
              "KernelSpec::CommandEnv: carry the new field in io/config_json.cc");
static_assert(FieldCount<KernelSpec::Workdir>() == 2,
              "KernelSpec::Workdir: carry the new field in io/config_json.cc");
static_assert(FieldCount<KernelSpec>() == 17,
              "KernelSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<InputSpec>() == 9, "InputSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<SamplingSpec>() == 3,
              "SamplingSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<ExecutionSpec>() == 11,
              "ExecutionSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<OutputSpec>() == 1,
              "OutputSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<AttributesSpec>() == 3,
              "AttributesSpec: carry the new field in io/config_json.cc");
static_assert(FieldCount<PathTemplate>() == 3,
              "PathTemplate: carry the new field in io/config_json.cc");
// Config: the 14 carried, and text, name and notes, which only the driver reads.
static_assert(FieldCount<Config>() == 17, "Config: carry the new field in io/config_json.cc");

// --- the same sweep on both sides -------------------------------------------------------------

uint64_t Bits(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

void ExpectSameValue(const sweep_value& a, const sweep_value& b, const std::string& what) {
  EXPECT_EQ(a.type, b.type) << what;
  EXPECT_EQ(Bits(a.number), Bits(b.number)) << what << ": " << a.number << " vs " << b.number;
  EXPECT_EQ(a.integer, b.integer) << what;
  EXPECT_EQ(a.string == nullptr, b.string == nullptr) << what;
  if (a.string && b.string) {
    EXPECT_STREQ(a.string, b.string) << what;
  }
}

// The first, second, middle and last points and a spread of others.
std::vector<uint64_t> SamplePoints(uint64_t points) {
  std::set<uint64_t> chosen = {0, points / 2, points - 1, 1 % points};
  for (uint64_t k = 1; k <= 24; ++k) chosen.insert(k * 0x9E3779B97F4A7C15ull % points);
  return {chosen.begin(), chosen.end()};
}

void ExpectSameSpace(const Space& a, const Space& b) {
  ASSERT_EQ(a.points(), b.points());
  EXPECT_EQ(a.repeat(), b.repeat());
  EXPECT_EQ(a.seed(), b.seed());
  ASSERT_EQ(a.parameter_names(), b.parameter_names());
  ASSERT_EQ(a.dimensions().size(), b.dimensions().size());
  for (size_t d = 0; d < a.dimensions().size(); ++d) {
    const Dimension& x = a.dimensions()[d];
    const Dimension& y = b.dimensions()[d];
    EXPECT_EQ(x.name, y.name);
    EXPECT_EQ(x.size, y.size);
    EXPECT_EQ(x.parameters, y.parameters);
    for (uint64_t k : {uint64_t{0}, x.size - 1})
      ExpectSameValue(a.Coordinate(d, k), b.Coordinate(d, k), "coordinate of " + x.name);
  }
  const size_t n = a.parameter_names().size();
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(a.parameter_type(int(i)), b.parameter_type(int(i)));
    EXPECT_EQ(a.dimension_of(int(i)), b.dimension_of(int(i)));
  }
  std::vector<sweep_value> x(n), y(n);
  for (uint64_t point : SamplePoints(a.points())) {
    a.Resolve(point, x.data());
    b.Resolve(point, y.data());
    for (size_t i = 0; i < n; ++i)
      ExpectSameValue(x[i], y[i], a.parameter_names()[i] + " at point " + std::to_string(point));
    EXPECT_EQ(a.Seed(point), b.Seed(point)) << "point " << point;
  }
}

void ExpectSameTemplate(const CommandTemplate& a, const CommandTemplate& b,
                        const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t p = 0; p < a.size(); ++p) {
    EXPECT_EQ(a[p].kind, b[p].kind) << what;
    EXPECT_EQ(a[p].text, b[p].text) << what;
    EXPECT_EQ(a[p].param, b[p].param) << what;
  }
}

void ExpectSameCommand(const CommandSpec& a, const CommandSpec& b) {
  EXPECT_EQ(a.program, b.program);
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.param_names, b.param_names);
  EXPECT_EQ(Bits(a.limit_seconds), Bits(b.limit_seconds));
  ASSERT_EQ(a.args.size(), b.args.size());
  for (size_t i = 0; i < a.args.size(); ++i)
    ExpectSameTemplate(a.args[i], b.args[i], "argument " + std::to_string(i + 1));
  ASSERT_EQ(a.files.size(), b.files.size());
  for (size_t f = 0; f < a.files.size(); ++f) {
    EXPECT_EQ(a.files[f].name, b.files[f].name);
    EXPECT_EQ(a.files[f].mode, b.files[f].mode);
    ExpectSameTemplate(a.files[f].text, b.files[f].text, "file " + a.files[f].name);
  }
  ASSERT_EQ(a.env.size(), b.env.size());
  for (size_t e = 0; e < a.env.size(); ++e) {
    EXPECT_EQ(a.env[e].name, b.env[e].name);
    ExpectSameTemplate(a.env[e].value, b.env[e].value, "env " + a.env[e].name);
  }
  EXPECT_EQ(a.results_file, b.results_file);
  EXPECT_EQ(a.workdir_root, b.workdir_root);
  EXPECT_EQ(a.workdir_root_is_default, b.workdir_root_is_default);
  EXPECT_EQ(a.keep, b.keep);
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t o = 0; o < a.outputs.size(); ++o) {
    EXPECT_EQ(a.outputs[o].name, b.outputs[o].name);
    EXPECT_EQ(a.outputs[o].dtype, b.outputs[o].dtype);
    EXPECT_EQ(a.outputs[o].shape, b.outputs[o].shape);
  }
}

void ExpectSameBinding(const KernelBinding& a, const KernelBinding& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_STREQ(a.kernel->name, b.kernel->name);
  EXPECT_EQ(a.set_point == nullptr, b.set_point == nullptr);
  ASSERT_EQ(a.option_values.size(), b.option_values.size());
  for (size_t i = 0; i < a.option_values.size(); ++i)
    ExpectSameValue(a.option_values[i], b.option_values[i],
                    std::string("option ") + a.kernel->options[i].name);
  EXPECT_EQ(a.parameter_source, b.parameter_source);
  EXPECT_EQ(a.input_source, b.input_source);
  EXPECT_EQ(a.output_dims, b.output_dims);
  ASSERT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t o = 0; o < a.outputs.size(); ++o) {
    EXPECT_STREQ(a.outputs[o].name, b.outputs[o].name);
    EXPECT_EQ(a.outputs[o].dtype, b.outputs[o].dtype);
    ASSERT_EQ(a.outputs[o].rank, b.outputs[o].rank);
    for (int d = 0; d < a.outputs[o].rank; ++d)
      EXPECT_EQ(a.outputs[o].shape[d], b.outputs[o].shape[d]);
  }
}

// YAML -> Config -> JSON text -> Config -> JSON: the same JSON, Space and binding on both sides.
void ExpectRoundTrip(const Config& original) {
  const json encoded = ConfigToJson(original);
  // Through text, as a worker gets it.
  const Config decoded = ConfigFromJson(json::parse(encoded.dump()));
  EXPECT_EQ(ConfigToJson(decoded).dump(1), encoded.dump(1));
  EXPECT_TRUE(decoded.text.empty());
  const Space space(original);
  const Space decoded_space(decoded);
  ExpectSameSpace(space, decoded_space);
  ExpectSameBinding(BindKernel(original, space), BindKernel(decoded, decoded_space));
  if (!original.kernel.command.empty())
    ExpectSameCommand(ReadCommandSpec(original, space), ReadCommandSpec(decoded, decoded_space));
}

TEST(ConfigJsonTest, EveryShippedConfigRoundTrips) {
  int tested = 0;
  for (const auto& entry : std::filesystem::directory_iterator(SourcePath("configs"))) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    std::vector<std::string> overrides;
    // configs/plugin.yaml names the library in ../build; the tests' build may be elsewhere.
    if (entry.path().stem() == "plugin")
      overrides.push_back(std::string("kernel.plugin=") + SWEEP_EXAMPLE_PLUGIN);
    ExpectRoundTrip(LoadConfig(entry.path().string(), overrides));
    ++tested;
  }
  EXPECT_GE(tested, 13);
}

// What the shipped configs leave out: command kernels, every sampling method, zip groups of
// strings, every value type, every input kind, every execution setting, options of every type.
TEST(ConfigJsonTest, ConfigsOfEveryFeatureRoundTrip) {
  const TempDir dir;
  const std::string sim = SWEEP_FAKE_SIM;
  const std::string lhs =
      "seed: 5\nkernel: {name: lorenz, options: {steps: 10, dt: 0.01}}\nparameters:\n"
      "  rho: {uniform: [0, 50]}\n  sigma: {loguniform: [1, 30]}\n  beta: 2.5\n"
      "  tag: label\n  n: 12\nsampling: {method: lhs, n: 1000}\nrepeat: 3\n";
  std::filesystem::create_directories(dir / "templates");
  WriteFile(dir / "templates/in.nml", "&run x = {x}, seed = {seed} /\n{{literal}}\n");
  WriteFile(dir / "templates/run.sh", "#!/bin/sh\necho {point} {name}\n");
  WriteFile(dir / "model.py", "def run(x, out):\n    out['y'][:] = x\n");
  std::filesystem::permissions(dir / "templates/run.sh", std::filesystem::perms::owner_all);
  const std::vector<std::string> configs = {
      // A command kernel for a real code: template files, a results file, a work folder kept.
      "kernel:\n  command: [" + sim +
          ", json, '{x}']\n  outputs: {y: float64}\n"
          "  files: {input.nml: templates/in.nml, bin/run.sh: templates/run.sh}\n"
          "  results_file: results/out.json\n  workdir: {root: scratch, keep: always}\n"
          "parameters:\n  x: {linspace: [0, 1, 3]}\n  name: {values: [a, b]}\n"
          "output: {path: elsewhere/out.h5}\n",
      "kernel:\n  command: [" + sim +
          ", json, '{x}']\n  outputs: {y: float64}\n  workdir: {keep: never}\n"
          "parameters:\n  x: {values: [1]}\n",
      // A command kernel: placeholders, escaped braces, shaped outputs, a timeout.
      "seed: 11\nkernel:\n  command: [" + sim +
          ", json, '{x}', '--tag={{{name}}}', '{seed}', '{point}', '']\n"
          "  outputs: {y: float64, v: [float64, 3], n: int64, m: [float32, 2, 2]}\n"
          "parameters:\n  x: {linspace: [-1, 1, 7]}\n  name: {values: [a, 'b c', '7']}\n"
          "  k: 3\nrepeat: 2\nexecution: {timeout: 90s}\n",
      // A command kernel found in PATH.
      "kernel:\n  command: [env, '{x}']\n  outputs: {y: float64}\nparameters:\n"
      "  x: {values: [1, 2.5, -0.0]}\n",
      // A command kernel with `env:`, every placeholder, and outputs naming their dimensions.
      "kernel:\n  command: [" + sim +
          ", json, '{x}', '{seed31}', '{config_dir}/a', '{workdir}']\n"
          "  env: {OMP_NUM_THREADS: 1, SEED: '{seed31}', AT: '{workdir}/{x}', EMPTY: ''}\n"
          "  outputs:\n    y: float64\n    v: {dtype: float64, shape: [3], dims: [xyz]}\n"
          "    w: {dtype: int32, shape: [3, 2], dims: [xyz, pair]}\n"
          "parameters:\n  x: {values: [1, 2]}\n",
      // Sampling, each method, with constants of every type.
      lhs,
      "kernel: {name: lorenz}\nparameters:\n  rho: {uniform: [0, 50]}\n"
      "  sigma: {uniform: [-1e300, 1e300]}\n  beta: 2\nsampling: {method: uniform, n: 77}\n",
      "seed: 18446744073709551615\nkernel: {name: lorenz}\nparameters:\n"
      "  rho: {loguniform: [1e-300, 1e300]}\n  sigma: {uniform: [0.1, 0.3]}\n"
      "  beta: {uniform: [1, 2]}\nsampling: {method: sobol, n: 4097}\n",
      // Zip groups, of strings too, crossed with grid axes of every kind.
      "seed: 3\nkernel: {name: faulty, options: {sleep_ms: 0.5, only_if_exists: /x y, "
      "error_at: -7}}\ninputs:\n  data: {generate: uniform, shape: [4, 2], dtype: float32, "
      "seed: 9}\nparameters:\n  i: {range: [100, -100, -7]}\n  s: {values: [x, y, z]}\n"
      "  t: {values: [p, q, r]}\n  u: {values: [1, 2, 3]}\n  f: {logspace: [-3, 3, 4]}\n"
      "  g: {values: [1e-320, 0.1, -0.0, 1.7976931348623157e308]}\n  big: {values: "
      "[9007199254740993, "
      "-9223372036854775808]}\nzip: [[t, s, u]]\n",
      // Every input kind, and every execution setting away from its default.
      "kernel: {name: faulty}\ninputs:\n  data: {hdf5: in.h5, dataset: /group/d}\n"
      "parameters:\n  i: {range: [0, 10]}\nexecution: {workers: 3, chunk_size: 7, "
      "schedule: static, start: fork, threads: 3, timeout: 1.5h, retries: 5, memory_limit: 1GiB, "
      "max_failures: 7}\n",
      // Options JSON cannot spell.
      "kernel: {name: faulty, options: {sleep_ms: .nan}}\ninputs:\n  data: {npy: sub/a.npy}\n"
      "parameters:\n  i: 4\n",
      "kernel: {name: faulty, options: {sleep_ms: -.inf}}\ninputs:\n  data: {npy: a.npy}\n"
      "parameters:\n  i: 4\n",
      "kernel: {name: faulty}\ninputs:\n  data: {raw: /abs/r.bin, dtype: float64, "
      "shape: [2, 3]}\nparameters:\n  i: {values: [1]}\n",
      // A string option, a plugin (its path resolved against the config).
      "kernel: {name: heat2d, options: {boundary: fixed, steps: 3}}\ninputs:\n"
      "  field: {generate: normal, shape: [8, 8], seed: 1}\nparameters:\n"
      "  alpha: {linspace: [0.1, 0.2, 2]}\n",
      std::string("kernel: {plugin: ") + SWEEP_EXAMPLE_PLUGIN +
          ", options: {omega0: 2}}\nparameters:\n  omega: {linspace: [0.2, 2.0, 5]}\n"
          "  zeta: 0.5\n",
      // A Python kernel, batched, with options of every type and an input.
      "kernel:\n  python: model.py:run\n  batch: true\n  options: {a: 1, b: 2.5, c: text}\n"
      "  outputs: {y: float64, v: [int32, 3]}\ninputs:\n  data: {generate: zeros, shape: [4]}\n"
      "parameters:\n  x: {linspace: [0, 1, 3]}\n",
  };
  for (const std::string& yaml : configs) {
    SCOPED_TRACE(yaml);
    ExpectRoundTrip(ParseConfig("name: t\n" + yaml, dir / "c.yaml"));
  }
  // Overrides are applied before encoding: the description holds what the driver runs.
  SCOPED_TRACE("--set");
  const Config overridden =
      ParseConfig("name: t\n" + lhs, dir / "c.yaml", {"sampling.n=9", "seed=4"});
  ExpectRoundTrip(overridden);
  const Config decoded = ConfigFromJson(ConfigToJson(overridden));
  EXPECT_EQ(decoded.sampling.n, 9);
  EXPECT_EQ(decoded.seed, 4u);
}

// Numbers come back bit for bit and keep their type, those JSON cannot spell too.
TEST(ConfigJsonTest, ValuesKeepTheirTypeAndBits) {
  Config config;
  AxisSpec axis;
  axis.name = "x";
  axis.kind = AxisSpec::Kind::kValues;
  const double inf = std::numeric_limits<double>::infinity();
  for (double x :
       {0.1, -0.0, 5.0, 1e300, 4.9e-324, inf, -inf, std::numeric_limits<double>::quiet_NaN(),
        -std::numeric_limits<double>::quiet_NaN()})
    axis.values.push_back(Value::Number(x));
  for (int64_t i : {int64_t{0}, int64_t{-5}, std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()})
    axis.values.push_back(Value::Integer(i));
  for (const char* s : {"", "7", "1.5", "inf", "a\"b\\c\n", "\xc3\xa9t\xc3\xa9"})
    axis.values.push_back(Value::String(s));
  axis.start = -inf;
  axis.stop = std::numeric_limits<double>::quiet_NaN();
  config.parameters.push_back(axis);
  config.execution.timeout_seconds = inf;
  config.seed = std::numeric_limits<uint64_t>::max();

  const Config back = ConfigFromJson(json::parse(ConfigToJson(config).dump()));
  ASSERT_EQ(back.parameters.size(), 1u);
  const AxisSpec& got = back.parameters[0];
  ASSERT_EQ(got.values.size(), axis.values.size());
  for (size_t i = 0; i < axis.values.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(int(got.values[i].type), int(axis.values[i].type));
    EXPECT_EQ(Bits(got.values[i].number), Bits(axis.values[i].number));
    EXPECT_EQ(got.values[i].integer, axis.values[i].integer);
    EXPECT_EQ(got.values[i].string, axis.values[i].string);
  }
  EXPECT_EQ(Bits(got.start), Bits(axis.start));
  EXPECT_EQ(Bits(got.stop), Bits(axis.stop));
  EXPECT_EQ(back.execution.timeout_seconds, inf);
  EXPECT_EQ(back.seed, config.seed);
}

// The point of it: the description holds what the YAML says, not the YAML.
TEST(ConfigJsonTest, CarriesNoYamlText) {
  const TempDir dir;
  const Config config = ParseConfig(
      "# a comment only the YAML has\nname: marked\nkernel: {name: square}\n"
      "parameters:\n  x: {values: [1, 2, 3]}   # another\noutput: {path: out.h5}\n",
      dir / "c.yaml");
  const std::string text = ConfigToJson(config).dump();
  EXPECT_EQ(text.find("comment"), std::string::npos) << text;
  EXPECT_EQ(text.find("another"), std::string::npos) << text;
  EXPECT_EQ(text.find("marked"), std::string::npos) << text;  // the name is the driver's
  EXPECT_NE(text.find(kConfigJsonFormat), std::string::npos) << text;
}

TEST(ConfigJsonTest, RefusesAnotherFormatAndNamesWhatIsMissing) {
  json job =
      ConfigToJson(ParseConfig("name: t\nkernel: {name: square}\nparameters:\n  x: 1\n", "c.yaml"));
  json other = job;
  other["format"] = "sweep-job/0";
  try {
    ConfigFromJson(other);
    FAIL() << "another format was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sweep-job/0"), std::string::npos) << e.what();
  }
  json lacking = job;
  lacking["kernel"].erase("plugin");
  try {
    ConfigFromJson(lacking);
    FAIL() << "a job without kernel.plugin was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("kernel: no `plugin`"), std::string::npos) << e.what();
  }
  json mistyped = job;
  mistyped["parameters"][0]["kind"] = "spiral";
  try {
    ConfigFromJson(mistyped);
    FAIL() << "an unknown axis kind was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parameters: kind: unknown `spiral`"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace sweep
