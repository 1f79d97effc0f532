// Tests of the command kernel (kernels/command.h): binding and its config errors, reading outputs,
// one point run through the kernel table as a worker runs it, and end-to-end runs of the real
// binary with both start methods. The programs are tests/plugins/fake_sim.c (built by CMake) and
// /bin/echo; no shell is involved anywhere.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <thread>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "driver/binding.h"
#include "driver/space.h"
#include "io/config.h"
#include "kernels/command.h"
#include "kernels/command_outputs.h"
#include "kernels/command_template.h"
#include "tests/e2e.h"

namespace sweep {
namespace {

using namespace sweep::testing;

const std::string kFakeSim = SWEEP_FAKE_SIM;

double Seconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// A config with fake_sim's outputs y (scalar) and v (3 values).
std::string SimConfig(const std::string& command, const std::string& parameters,
                      const std::string& execution = "{workers: 2, chunk_size: 1}") {
  return "name: sim\nseed: 11\nkernel:\n  command: " + command +
         "\n  outputs: {y: float64, v: [float64, 3]}\nparameters:\n" + parameters +
         "execution: " + execution + "\noutput: {path: out.h5}\n";
}

// One worker's life with a command kernel, in this process: bind, init, then points.
class BoundCommand {
 public:
  BoundCommand(const TempDir& dir, const std::string& yaml)
      : config_(ParseConfig(yaml, dir / "c.yaml")),
        space_(config_),
        binding_(BindKernel(config_, space_)),
        kernel_(*binding_.kernel) {
    char err[256] = "";
    const sweep_options options = binding_.options();
    EXPECT_EQ(kernel_.init(&state_, &options, nullptr, err, sizeof err), 0) << err;
  }
  ~BoundCommand() { kernel_.finish(state_); }

  const KernelBinding& binding() const { return binding_; }
  const Space& space() const { return space_; }

  // Runs a point; returns compute()'s message ("" on success) and fills outputs (float64 only).
  std::string Point(uint64_t point, std::vector<std::vector<double>>* outputs) {
    std::vector<sweep_value> values(space_.parameter_names().size());
    space_.Resolve(point, values.data());
    std::vector<sweep_value> params;
    for (int source : binding_.parameter_source) params.push_back(values[size_t(source)]);
    outputs->clear();
    std::vector<sweep_array> views;
    for (const sweep_output_decl& o : binding_.outputs) {
      EXPECT_EQ(o.dtype, SWEEP_FLOAT64);
      outputs->emplace_back(OutputBytesPerPoint(o) / 8, std::numeric_limits<double>::quiet_NaN());
    }
    for (size_t i = 0; i < outputs->size(); ++i) {
      sweep_array view{};
      view.data = (*outputs)[i].data();
      view.dtype = SWEEP_FLOAT64;
      views.push_back(view);
    }
    binding_.set_point(state_, point);
    char err[1024] = "";
    const int rc =
        kernel_.compute(state_, params.data(), space_.Seed(point), views.data(), err, sizeof err);
    EXPECT_EQ(rc != 0, err[0] != '\0') << "rc " << rc << ", message `" << err << "`";
    return err;
  }

 private:
  Config config_;
  Space space_;
  KernelBinding binding_;
  const sweep_kernel& kernel_;
  void* state_ = nullptr;
};

std::vector<Diagnostic> BindErrors(const TempDir& dir, const std::string& yaml) {
  const Config config = ParseConfig(yaml, dir / "c.yaml");
  const Space space(config);
  try {
    BindKernel(config, space);
  } catch (const ConfigError& e) {
    return e.diagnostics();
  }
  ADD_FAILURE() << "BindKernel accepted:\n" << yaml;
  return {};
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- Binding ----

TEST(CommandKernelBind, DeclaresThePlaceholdersThatAreParametersAndTheOutputs) {
  TempDir dir;
  const BoundCommand bound(
      dir,
      "name: b\nkernel:\n  command: [echo, '{b}-{a}', '{seed}', '{point}', '{a}{{x}}']\n"
      "  outputs: {energy: float64, counts: [int32, 2, 3], flag: uint8}\n"
      "parameters:\n  a: {values: [1, 2]}\n  b: 0.5\n  unused: {values: [x, y]}\n");
  const KernelBinding& b = bound.binding();
  EXPECT_EQ(b.name, "command");
  ASSERT_EQ(b.kernel->n_params, 2);
  EXPECT_STREQ(b.kernel->params[0].name, "b");  // in order of first use
  EXPECT_STREQ(b.kernel->params[1].name, "a");
  EXPECT_EQ(b.parameter_source, (std::vector<int>{1, 0}));
  EXPECT_EQ(b.kernel->n_options, 0);
  EXPECT_EQ(b.kernel->n_inputs, 0);
  EXPECT_EQ(b.kernel->abi_version, uint32_t(SWEEP_KERNEL_ABI));
  ASSERT_EQ(b.outputs.size(), 3u);
  EXPECT_STREQ(b.outputs[0].name, "energy");
  EXPECT_EQ(b.outputs[0].rank, 0);
  EXPECT_STREQ(b.outputs[1].name, "counts");
  EXPECT_EQ(b.outputs[1].dtype, SWEEP_INT32);
  EXPECT_EQ(b.outputs[1].rank, 2);
  EXPECT_EQ(b.outputs[1].shape[0], 2);
  EXPECT_EQ(b.outputs[1].shape[1], 3);
  EXPECT_EQ(b.outputs[2].dtype, SWEEP_UINT8);
  EXPECT_NE(b.set_point, nullptr);
  EXPECT_NE(b.owner, nullptr);
}

TEST(CommandKernelBind, BindingsOfTwoConfigsLiveSideBySide) {
  TempDir dir;
  BoundCommand one(dir, SimConfig("[" + kFakeSim + ", json, '{x}']", "  x: {values: [1.5]}\n"));
  BoundCommand two(dir, SimConfig("[" + kFakeSim + ", lines, '{x}']", "  x: {values: [-4]}\n"));
  std::vector<std::vector<double>> out;
  EXPECT_EQ(one.Point(0, &out), "");
  EXPECT_EQ(out[0][0], 1.5);
  EXPECT_EQ(two.Point(0, &out), "");
  EXPECT_EQ(out[1], (std::vector<double>{-4, -8, -12}));
}

TEST(CommandKernelBind, UnknownPlaceholderIsAConfigErrorWithItsLocation) {
  TempDir dir;
  const std::vector<Diagnostic> errors =
      BindErrors(dir,
                 "name: b\nkernel:\n  command: [echo, '{x}', '--n={nope}']\n"
                 "  outputs: {y: float64}\nparameters:\n  x: {values: [1]}\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key_path, "kernel.command[2]");
  EXPECT_EQ(errors[0].where.file, dir / "c.yaml");
  // At the argument itself, not at `kernel:`.
  EXPECT_EQ(errors[0].where.line, 3);
  EXPECT_EQ(errors[0].where.column, 26);
  EXPECT_TRUE(Contains(errors[0].message, "unknown placeholder `{nope}`")) << errors[0].message;
  EXPECT_TRUE(Contains(errors[0].message,
                       "{x}, {seed}, {seed31}, {point}, {config_dir}, "
                       "{workdir}"))
      << errors[0].message;
}

TEST(CommandKernelBind, UnmatchedBracesAndMissingOutputsAreConfigErrors) {
  TempDir dir;
  const std::vector<Diagnostic> errors =
      BindErrors(dir,
                 "name: b\nkernel:\n  command: [echo, '{x', 'a}b', '{{ok}}']\n"
                 "parameters:\n  x: {values: [1]}\n");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].key_path, "kernel.command[1]");
  EXPECT_TRUE(Contains(errors[0].message, "`{` without its `}`")) << errors[0].message;
  EXPECT_EQ(errors[1].key_path, "kernel.command[2]");
  EXPECT_TRUE(Contains(errors[1].message, "lone `}`")) << errors[1].message;
  EXPECT_EQ(errors[2].key_path, "kernel.outputs");
  EXPECT_TRUE(Contains(errors[2].message, "needs `outputs:`")) << errors[2].message;
}

TEST(CommandKernelBind, ProgramIsResolvedAgainstTheConfigFolderOrPath) {
  TempDir dir;
  const std::string outputs = "\n  outputs: {y: float64}\nparameters:\n  x: 1\n";
  std::vector<Diagnostic> errors =
      BindErrors(dir, "name: b\nkernel:\n  command: [./sim, '{x}']" + outputs);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key_path, "kernel.command[0]");
  EXPECT_TRUE(Contains(errors[0].message, "`./sim` (" + dir / "sim" + ") does not exist"))
      << errors[0].message;
  WriteFile(dir / "sim", "not executable");
  errors = BindErrors(dir, "name: b\nkernel:\n  command: [./sim, '{x}']" + outputs);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(Contains(errors[0].message, "is not an executable file")) << errors[0].message;
  errors = BindErrors(dir, "name: b\nkernel:\n  command: [no-such-program-xyz]" + outputs);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(Contains(errors[0].message, "`no-such-program-xyz` is not found in PATH"))
      << errors[0].message;
  // A bare name found in PATH runs; a relative path runs from the config's folder.
  std::filesystem::remove(dir / "sim");
  std::filesystem::create_symlink(kFakeSim, dir / "sim");
  BoundCommand path(dir, "name: b\nkernel:\n  command: [echo, y, '{x}']" + outputs);
  BoundCommand relative(dir,
                        "name: b\nkernel:\n  command: [./sim, lines, '{x}']\n"
                        "  outputs: {y: float64}\nparameters:\n  x: 7\n");
  std::vector<std::vector<double>> out;
  EXPECT_EQ(path.Point(0, &out), "");
  EXPECT_EQ(out[0][0], 1.0);
  // fake_sim prints v too, which this config does not declare: a line like any log line.
  EXPECT_EQ(relative.Point(0, &out), "");
  EXPECT_EQ(out[0][0], 7.0);
}

// ---- Reading outputs ----

struct Rows {
  std::vector<sweep_output_decl> decls;
  std::vector<std::vector<unsigned char>> bytes;
  std::vector<sweep_array> views;
  explicit Rows(std::vector<sweep_output_decl> d) : decls(std::move(d)) {
    for (const sweep_output_decl& o : decls) bytes.emplace_back(OutputBytesPerPoint(o), 0xff);
    for (auto& b : bytes) {
      sweep_array a{};
      a.data = b.data();
      views.push_back(a);
    }
  }
  std::string Read(const std::string& text) {
    return ReadCommandOutputs(text, "stdout", decls, views.data());
  }
  template <typename T>
  T At(size_t output, size_t i) const {
    T value;
    std::memcpy(&value, bytes[output].data() + i * sizeof(T), sizeof(T));
    return value;
  }
};

Rows EnergyTrace() {
  return Rows(
      {{"energy", SWEEP_FLOAT64, 0, {0, 0, 0, 0}}, {"trace", SWEEP_FLOAT64, 1, {4, 0, 0, 0}}});
}

TEST(CommandKernelOutputs, JsonAndLinesGiveTheSameValues) {
  for (const std::string text :
       {"{\"energy\": 1.5, \"trace\": [1, 2.5, -3e-2, 4]}",
        "  \n{\"trace\": [[1, 2.5], [-0.03, 4]],"
        " \"energy\": 1.5}\n",
        "energy 1.5\ntrace 1 2.5 -3e-2 4\n", "\n  trace\t1 2.5  -0.03 4 \r\n\nenergy 1.5"}) {
    Rows rows = EnergyTrace();
    EXPECT_EQ(rows.Read(text), "") << text;
    EXPECT_EQ(rows.At<double>(0, 0), 1.5) << text;
    EXPECT_EQ(rows.At<double>(1, 0), 1.0) << text;
    EXPECT_EQ(rows.At<double>(1, 1), 2.5) << text;
    EXPECT_EQ(rows.At<double>(1, 2), -0.03) << text;
    EXPECT_EQ(rows.At<double>(1, 3), 4.0) << text;
  }
}

// Real codes print a log on stdout: the outputs are read from among its lines.
TEST(CommandKernelOutputs, ACodesLogAroundTheOutputsIsIgnored) {
  Rows rows = EnergyTrace();
  EXPECT_EQ(rows.Read("Starting run 7\n  step 1: energy=3.2\n{not json}\n{\"status\": \"ok\"}\n"
                      "energy is converging\nenergy 1.5\ntrace: see below\n"
                      "{\"trace\":\n  [1, 2.5,\n   -3e-2, 4], \"code\": \"v2\"} and more\nDone.\n"),
            "");
  EXPECT_EQ(rows.At<double>(0, 0), 1.5);
  EXPECT_EQ(rows.At<double>(1, 0), 1.0);
  EXPECT_EQ(rows.At<double>(1, 2), -0.03);
  EXPECT_EQ(rows.At<double>(1, 3), 4.0);
  // A log line's stray quote does not reach the next line; bare NaN and infinities are read.
  Rows more = EnergyTrace();
  EXPECT_EQ(more.Read("He said \"NaN\nwarning: Infinity reached\n"
                      "{\"energy\": NaN, \"trace\": [Infinity, -Infinity, 1, 2]}\n"),
            "");
  EXPECT_TRUE(std::isnan(more.At<double>(0, 0)));
  EXPECT_EQ(more.At<double>(1, 0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(more.At<double>(1, 1), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(more.At<double>(1, 3), 2.0);
  // A results file is named in messages.
  Rows file = EnergyTrace();
  std::vector<sweep_array> views = file.views;
  EXPECT_EQ(ReadCommandOutputs("{\"energy\": 1}", "out.json", file.decls, views.data()),
            "missing output `trace` in out.json (expected `trace value...` lines, a column "
            "under its name, or a JSON object; outputs: energy, trace)");
  EXPECT_EQ(ReadCommandOutputs("\n", "out.json", file.decls, views.data()), "out.json is empty");
}

TEST(CommandKernelOutputs, NonFiniteValuesAndIntegerDtypes) {
  Rows rows({{"f", SWEEP_FLOAT32, 1, {3, 0, 0, 0}},
             {"i", SWEEP_INT64, 1, {2, 0, 0, 0}},
             {"u", SWEEP_UINT8, 0, {0, 0, 0, 0}}});
  EXPECT_EQ(rows.Read("f nan inf -0.5\ni 9007199254740993 -2e3\nu 255\n"), "");
  EXPECT_TRUE(std::isnan(rows.At<float>(0, 0)));
  EXPECT_EQ(rows.At<float>(0, 1), std::numeric_limits<float>::infinity());
  EXPECT_EQ(rows.At<float>(0, 2), -0.5f);
  EXPECT_EQ(rows.At<int64_t>(1, 0), 9007199254740993);  // beyond a double's integers: exact
  EXPECT_EQ(rows.At<int64_t>(1, 1), -2000);
  EXPECT_EQ(rows.At<uint8_t>(2, 0), 255);
  EXPECT_EQ(rows.Read("{\"f\": [null, 1, 2], \"i\": [9007199254740993, 0], \"u\": 0}"), "");
  EXPECT_TRUE(std::isnan(rows.At<float>(0, 0)));  // JSON has no NaN: null stands for it
  EXPECT_EQ(rows.At<int64_t>(1, 0), 9007199254740993);
  EXPECT_EQ(rows.Read("f 1 2 3\ni 1 2.5\nu 0\n"),
            "stdout line 2: output `i`: 2.5 is not an integer");
  EXPECT_EQ(rows.Read("f 1 2 3\ni 1 2\nu 256\n"),
            "stdout line 3: output `u`: 256 is out of range for uint8");
  EXPECT_EQ(rows.Read("{\"f\": [1, 2, 3], \"i\": [1, true], \"u\": 0}"),
            "stdout line 1: output `i`: expected numbers, got boolean");
  // Python's json.dumps writes NaN and the infinities bare; inside strings they stay text.
  EXPECT_EQ(rows.Read("{\"f\": [NaN, Infinity, -Infinity], \"i\": [1, 2], \"u\": 0}"), "");
  EXPECT_TRUE(std::isnan(rows.At<float>(0, 0)));
  EXPECT_EQ(rows.At<float>(0, 1), std::numeric_limits<float>::infinity());
  EXPECT_EQ(rows.At<float>(0, 2), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(rows.Read("{\"f\": [1, 2, 3], \"i\": [1, \"NaN\"], \"u\": 0}"),
            "stdout line 1: output `i`: expected numbers, got string");
  EXPECT_EQ(rows.Read("{\"f\": [1, 2, 3], \"i\": [1, Infinity], \"u\": 0}"),
            "stdout line 1: output `i`: inf is out of range for int64");
}

// One rule for a command's numbers, in text and JSON alike (configs/README.md): a value its
// dtype cannot hold is an error (1e300 into float32 as 256 into uint8; 1e999 anywhere, where
// JSON's parser made the object a log line and text gave inf), infinities and NaN are written
// as such, `-0` keeps its sign, an output is given once (a member twice in one JSON object as
// two lines), and a number is decimal (no hex).
TEST(CommandKernelOutputs, OneRuleForNumbersInTextAndJson) {
  Rows rows({{"f", SWEEP_FLOAT32, 0, {0, 0, 0, 0}}, {"d", SWEEP_FLOAT64, 0, {0, 0, 0, 0}}});
  for (const std::string& text :
       {std::string("f 1e300\nd 1\n"), std::string("{\"f\": 1e300, \"d\": 1}")}) {
    EXPECT_EQ(rows.Read(text), "stdout line 1: output `f`: 1e+300 is out of range for float32")
        << text;
  }
  for (const std::string& text :
       {std::string("f 1\nd 1e999\n"), std::string("{\"f\": 1, \"d\": 1e999}")}) {
    const std::string error = rows.Read(text);
    EXPECT_NE(error.find("output `d`: 1e999 is out of range for float64"), std::string::npos)
        << text << ": " << error;
  }
  EXPECT_EQ(rows.Read("{\"f\": -1e999, \"d\": 1}"),
            "stdout line 1: output `f`: -1e999 is out of range for float32");
  for (const std::string& text :
       {std::string("f -0\nd -0\n"), std::string("{\"f\": -0, \"d\": -0}"),
        std::string("{\"f\": -0.0, \"d\": -0e3}")}) {
    EXPECT_EQ(rows.Read(text), "") << text;
    EXPECT_TRUE(std::signbit(rows.At<float>(0, 0))) << text;
    EXPECT_TRUE(std::signbit(rows.At<double>(1, 0))) << text;
    EXPECT_EQ(rows.At<double>(1, 0), 0.0) << text;
  }
  // Infinities written as such, and what merely rounds (3.4e38 fits; 1e-50 is float32's 0).
  EXPECT_EQ(rows.Read("f -inf\nd Infinity\n"), "");
  EXPECT_EQ(rows.At<float>(0, 0), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(rows.Read("{\"f\": 3.4e38, \"d\": 1e-400}"), "");
  EXPECT_EQ(rows.At<float>(0, 0), 3.4e38f);
  EXPECT_EQ(rows.Read("f 1e-50\nd 2\n"), "");
  EXPECT_EQ(rows.At<float>(0, 0), 0.0f);
  // A column's numbers are a line's.
  EXPECT_EQ(rows.Read("f\n1e300\nd 1\n"),
            "stdout lines 1-2 (a column): output `f`: 1e+300 is out of range for float32");
  EXPECT_EQ(rows.Read("f\n-0\nd 1\n"), "");
  EXPECT_TRUE(std::signbit(rows.At<float>(0, 0)));
  // Given twice in one JSON object, an error; of two lines the last counts (codes print
  // progress: TheLastLineOfANameCounts).
  EXPECT_EQ(rows.Read("{\"f\": 1, \"d\": 2, \"f\": 3}"),
            "stdout line 1: output `f` given twice in one JSON object");
  EXPECT_EQ(rows.Read("f 1\nd 2\nf 3\n"), "");
  EXPECT_EQ(rows.At<float>(0, 0), 3.0f);
  EXPECT_EQ(rows.Read("{\"f\": 1, \"d\": 2, \"meta\": {\"f\": 1}, \"note\": 1, \"note\": 2}"), "")
      << "members inside a member, and non-outputs given twice, are not outputs";
  // Decimal only: hex is a log line's word.
  EXPECT_NE(rows.Read("f 0x10\nd 1\n").find("`0x10` is not a number"), std::string::npos);
}

// Codes print progress: `temp` after every segment. The last line of a name is its value.
TEST(CommandKernelOutputs, TheLastLineOfANameCounts) {
  Rows rows = EnergyTrace();
  EXPECT_EQ(rows.Read("energy 3\ntrace 1 1 1 1\nsegment 2\nenergy 2\ntrace 9 9\n"
                      "energy 1.5\ntrace 1 2.5 -0.03 4\n"),
            "");
  EXPECT_EQ(rows.At<double>(0, 0), 1.5);
  EXPECT_EQ(rows.At<double>(1, 1), 2.5);  // an earlier line of the wrong length is progress
  // A JSON result object is the whole answer for what it holds: lines naming it are log then.
  Rows json = EnergyTrace();
  EXPECT_EQ(json.Read("energy 7\n{\"energy\": 1.5,\n \"trace\": [1, 2, 3, 4]}\nenergy 8\n"), "");
  EXPECT_EQ(json.At<double>(0, 0), 1.5);
  EXPECT_EQ(json.At<double>(1, 3), 4.0);
}

// Codes write arrays one value a line, or as a table with a header of names (ngspice's wrdata,
// numpy.savetxt, CSV): a column under an output's name is its values, top to bottom.
TEST(CommandKernelOutputs, AColumnUnderAnOutputsNameIsItsValues) {
  const std::vector<sweep_output_decl> decls = {{"f3db", SWEEP_FLOAT64, 0, {0, 0, 0, 0}},
                                                {"frequency", SWEEP_FLOAT64, 1, {3, 0, 0, 0}},
                                                {"gain_db", SWEEP_FLOAT64, 1, {3, 0, 0, 0}},
                                                {"m", SWEEP_INT32, 2, {2, 2, 0, 0}}};
  for (const std::string text : {
           // A name line, then its values a line each; a table with a header; CSV.
           "frequency\n1e3\n1e4\n1e5\ngain_db\n-0.01\n-1\n-20\nf3db 15915.5\nm\n1\n2\n3\n4\n",
           " frequency       gain_db        \n 1.0e+03 -0.01 \n 1.0e+04 -1\n 1.0e+05 -20\n"
           "f3db 15915.5\nm 1 2 3 4\n",
           "# frequency,gain_db\n1e3,-0.01\n1e4,-1\n1e5,-20\nf3db\n15915.5\nm\n1\n2\n3\n4\n",
       }) {
    Rows rows(decls);
    EXPECT_EQ(rows.Read(text), "") << text;
    EXPECT_EQ(rows.At<double>(0, 0), 15915.5) << text;
    EXPECT_EQ(rows.At<double>(1, 0), 1e3) << text;
    EXPECT_EQ(rows.At<double>(1, 2), 1e5) << text;
    EXPECT_EQ(rows.At<double>(2, 0), -0.01) << text;
    EXPECT_EQ(rows.At<double>(2, 2), -20.0) << text;
    EXPECT_EQ(rows.At<int32_t>(3, 3), 4) << text;  // C order
  }
  // The rows end at the first line that is not one: a log line, a blank line.
  Rows log(decls);
  EXPECT_EQ(log.Read("frequency gain_db\n1 2\n3 4\n5 6\n\n7 8\nf3db 1\nm 1 2 3 4\n"), "");
  EXPECT_EQ(log.At<double>(1, 2), 5.0);
  EXPECT_EQ(log.At<double>(2, 2), 6.0);
  // A header with a name that is not an output is a log line; so is one without rows.
  Rows not_a_table(decls);
  EXPECT_EQ(not_a_table.Read("frequency gain_db phase\n1 2 3\nf3db 1\nm 1 2 3 4\n"),
            "missing output `frequency` on stdout: line 1 names it, but `gain_db` is not a "
            "number");
}

TEST(CommandKernelOutputs, EveryMistakeIsNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"energy 1\n", "missing output `trace` on stdout"},
      {"{\"energy\": 1}", "missing output `trace` on stdout"},
      {"energy 1\ntrace 1 2 3\n", "stdout line 2: output `trace`: expected 4 values, got 3"},
      {"{\"energy\": 1, \"trace\": [1, 2, 3, 4, 5]}", "output `trace`: expected 4 values, got 5"},
      {"energy 1\ntrace 1 2 x 4\n",
       "missing output `trace` on stdout: line 2 names it, but `x` is not a number"},
      {"energy 1\ntrace\n", "missing output `trace` on stdout: line 2 names it, with no value"},
      {"energy 1\ntrace 1 2 3 4\ntrace 1 2\n",
       "stdout line 3: output `trace`: expected 4 values, got 2"},
      {"energy 1\ntrace\n1\n2\n3\nDone\n",
       "stdout lines 2-5 (a column): output `trace`: expected 4 values, got 3"},
      {"Starting the simulation\n",
       "missing output `energy` on stdout (expected `energy value...` lines, a column under its "
       "name, or a JSON object; outputs: energy, trace)"},
      {"{\"energy\": 1, \"trace\": [1, 2, 3, 4], \"enrgy\": 2}\n{\"trace\": 1}",
       "stdout line 2: output `trace` given twice in JSON (first on line 1): a result object is "
       "the whole answer"},
      {"{\"trace\": [1, 2, 3, 4], \"enrgy\": 2}",
       "missing output `energy` on stdout (its JSON has members that are not outputs: `enrgy`)"},
      {"{\"energy\": [1], \"trace\": [1, 2, 3, 4]}",
       "stdout line 1: output `energy`: expected a number, got an array"},
      {"log\n{\"energy\": 1, \"trace\": [1, 2, 3, 4]",
       "missing output `energy` on stdout: line 2 starts with `{` but is not JSON: syntax error "
       "while parsing object - unexpected end of input"},
      {"{\"energy\": 1e999, \"trace\": [1, 2, 3, 4]}",
       "stdout line 1: output `energy`: 1e999 is out of range for float64"},
      {"energy 1e999\ntrace 1 2 3 4\n",
       "stdout line 1: output `energy`: 1e999 is out of range for float64"},
      {"[1, 2]", "missing output `energy` on stdout"},
      {" \n", "nothing on stdout"},
  };
  for (const auto& [text, expected] : cases) {
    Rows rows = EnergyTrace();
    const std::string error = rows.Read(text);
    EXPECT_TRUE(Contains(error, expected)) << text << "\n  gave: " << error;
  }
}

// ---- One point through the kernel table ----

TEST(CommandKernelPoint, EnvironmentStdinAndDescriptors) {
  TempDir dir;
  // A descriptor this process holds open without close-on-exec must not reach the program.
  const int leak = open("/dev/null", O_RDONLY);
  ASSERT_GT(leak, 2);
  BoundCommand bound(dir, SimConfig("[" + kFakeSim + ", env, '0']", "  x: {range: [0, 5]}\n"));
  std::vector<std::vector<double>> out;
  for (uint64_t point : {0u, 3u, 4u}) {
    EXPECT_EQ(bound.Point(point, &out), "");
    EXPECT_EQ(out[0][0], double(point));                                     // SWEEP_POINT
    EXPECT_EQ(out[1][0], double(bound.space().Seed(point) % 1000));          // SWEEP_SEED
    EXPECT_EQ(out[1][1], 0.0) << "descriptors above 2 reached the program";  // none inherited
    EXPECT_EQ(out[1][2], 0.0) << "stdin is not /dev/null";                   // read() gives EOF
  }
  close(leak);
}

TEST(CommandKernelPoint, FailuresNameTheReasonAndEndWithStderr) {
  TempDir dir;
  BoundCommand bound(
      dir, SimConfig("[" + kFakeSim + ", '{mode}', '3']",
                     "  mode: {values: [exit, abort, malformed, missing, short, loud, spew]}\n"));
  const std::string program = "command `" + kFakeSim + "`: ";
  const std::vector<std::string> expected = {
      program + "failed with exit code 3; stderr: noise | fake_sim: giving up at x=3",
      program + "killed by SIGABRT (Aborted); stderr: fake_sim: about to abort",
      program + "missing output `y` on stdout: line 1 starts with `{` but is not JSON",
      program + "missing output `v` on stdout",
      program + "stdout line 2: output `v`: expected 3 values, got 2",
      program + "failed with exit code 2; stderr: ...stderr line ",
      program + "wrote more than 64 MiB on stdout; killed",
  };
  std::vector<std::vector<double>> out;
  for (uint64_t point = 0; point < expected.size(); ++point) {
    std::string error = bound.Point(point, &out);
    EXPECT_EQ(error.rfind(expected[point], 0), 0u) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    if (point == 5) {
      // Only the tail of stderr, as much as the 1 KiB message holds, cut at a line start.
      EXPECT_TRUE(error.size() > 900 && error.size() < 1024) << error.size();
      EXPECT_TRUE(Contains(error, "stderr line 4998 | stderr line 4999")) << error;
      EXPECT_FALSE(Contains(error, "stderr line 1 |")) << error;
      EXPECT_TRUE(Contains(error, "stderr: ...stderr line ")) << error;
    }
  }
}

// Codes print progress, and the last line counts; but only from a program that has ended well:
// what a failing or killed one printed is never taken as its result.
TEST(CommandKernelPoint, OutputsAreReadOnlyFromAProgramThatEndedWell) {
  TempDir dir;
  WriteFile(dir / "md.sh",
            "#!/bin/sh\nfor t in 310 305 301; do echo \"temp $t\"; echo 'v 1 2 3'; done\n"
            "[ \"$1\" = crash ] && { echo 'ERROR: lost atoms' ; exit 1; }\n"
            "[ \"$1\" = hang ] && sleep 30\necho \"y $t\"\n");
  chmod((dir / "md.sh").c_str(), 0755);
  BoundCommand bound(dir,
                     "name: m\nkernel:\n  command: [./md.sh, '{mode}']\n"
                     "  outputs: {temp: float64, y: float64, v: [float64, 3]}\n"
                     "parameters:\n  mode: {values: [ok, crash, hang]}\n"
                     "execution: {timeout: 1s}\n");
  std::vector<std::vector<double>> out;
  EXPECT_EQ(bound.Point(0, &out), "");
  EXPECT_EQ(out[0][0], 301.0);  // the last of three
  EXPECT_EQ(out[1][0], 301.0);
  const std::string crash = bound.Point(1, &out);
  EXPECT_EQ(crash, "command `./md.sh`: failed with exit code 1; stdout: ERROR: lost atoms")
      << crash;
  EXPECT_TRUE(std::isnan(out[0][0])) << "a failed program's progress was taken as its result";
  const std::string hang = bound.Point(2, &out);
  EXPECT_EQ(hang.rfind(SWEEP_TIMEOUT_PREFIX, 0), 0u) << hang;
  EXPECT_TRUE(std::isnan(out[0][0])) << "a killed program's progress was taken as its result";
}

TEST(CommandKernelPoint, FloodingStderrDoesNotDeadlock) {
  TempDir dir;
  BoundCommand bound(dir, SimConfig("[" + kFakeSim + ", flood, '{x}']", "  x: {values: [8]}\n"));
  std::vector<std::vector<double>> out;
  EXPECT_EQ(bound.Point(0, &out), "");  // 8 MiB on stderr, far beyond a pipe's buffer
  EXPECT_EQ(out[1], (std::vector<double>{8, 16, 24}));
}

TEST(CommandKernelPoint, TimeoutKillsTheProgramsWholeProcessGroup) {
  TempDir dir;
  // Everything the program starts carries the tag, so leftovers can be looked for.
  const std::string tag = "command-timeout-" + std::to_string(getpid());
  setenv("SWEEP_TEST_TAG", tag.c_str(), 1);
  BoundCommand bound(dir, SimConfig("[" + kFakeSim + ", sleep, '{x}']", "  x: {values: [300]}\n",
                                    "{timeout: 1s}"));
  unsetenv("SWEEP_TEST_TAG");
  std::vector<std::vector<double>> out;
  const double start = Seconds();
  const std::string error = bound.Point(0, &out);
  const double seconds = Seconds() - start;
  EXPECT_EQ(error.rfind(std::string(SWEEP_TIMEOUT_PREFIX) + "command `", 0), 0u) << error;
  EXPECT_TRUE(Contains(error, "ran over 0.9 s")) << error;
  EXPECT_TRUE(Contains(error, "its process group was killed; stderr: fake_sim: sleeping 300 s"))
      << error;
  EXPECT_GT(seconds, 0.85);
  EXPECT_LT(seconds, 150.0) << "the program was not killed at its timeout";
  EXPECT_TRUE(std::isnan(out[0][0]));
  // fake_sim's own child sleeps 301 s: it went with the group.
  EXPECT_TRUE(LeftoversAfter(tag).empty());
}

// ---- End to end ----

nlohmann::json StatusJson(const TempDir& dir) {
  const RunResult r = RunSweep({"status", "out.h5", "--json"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

class CommandKernelRun : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Execution(const std::string& more = "") const {
    return "{workers: 2, chunk_size: 1, start: " + GetParam() + more + "}";
  }
};

TEST_P(CommandKernelRun, ValuesReachTheProgramAsLiteralArguments) {
  TempDir dir;
  const std::string pwned = dir / "pwned";
  const std::string config = dir / "c.yaml";
  WriteFile(config, SimConfig("[" + kFakeSim + ", argv, '{point}', '" + dir / "argv.txt" +
                                  "', '--label={label}', '{label}', '{{literal}}', '{n}{n}']",
                              "  label: {values: ['; touch " + pwned +
                                  " #', '$(id)', 'a b',"
                                  " '{n}', '`id`']}\n  n: {range: [7, 9]}\n",
                              Execution()));
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  EXPECT_FALSE(std::filesystem::exists(pwned));
  // Each run wrote its argv, one argument a line; points run in any order.
  const std::string written = ReadFile(dir / "argv.txt");
  const std::vector<std::string> labels = {"; touch " + pwned + " #", "$(id)", "a b", "{n}",
                                           "`id`"};
  for (size_t l = 0; l < labels.size(); ++l) {
    for (int n = 7; n < 9; ++n) {
      const uint64_t point = l * 2 + uint64_t(n - 7);
      const std::string argv = kFakeSim + "\nargv\n" + std::to_string(point) + "\n" +
                               dir / "argv.txt" + "\n--label=" + labels[l] + "\n" + labels[l] +
                               "\n{literal}\n" + std::to_string(n) + std::to_string(n) + "\n";
      EXPECT_TRUE(Contains(written, argv)) << argv << "\nnot in\n" << written;
    }
  }
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 10u);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], double(i));
  const std::vector<double> v = ReadDataset<double>(dir / "out.h5", "/v");
  ASSERT_EQ(v.size(), 30u);
  EXPECT_EQ(v[27], 9.0 * 1);
  EXPECT_EQ(v[29], 9.0 * 3);
}

TEST_P(CommandKernelRun, OutputsFromJsonAndLinesAndTheEnvironment) {
  TempDir dir;
  const std::string config = dir / "c.yaml";
  WriteFile(config, SimConfig("[" + kFakeSim + ", '{mode}', '{x}']",
                              "  mode: {values: [json, lines]}\n  x: {linspace: [-1, 1, 5]}\n",
                              Execution()));
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  const std::vector<double> v = ReadDataset<double>(dir / "out.h5", "/v");
  ASSERT_EQ(y.size(), 10u);
  ASSERT_EQ(v.size(), 30u);
  for (size_t i = 0; i < 10; ++i) {
    const double x = -1 + 0.5 * double(i % 5);
    EXPECT_EQ(y[i], x) << i;
    EXPECT_EQ(v[3 * i + 2], 3 * x) << i;
  }
  // The environment, through a spawned or forked worker.
  const std::string env = dir / "env.yaml";
  WriteFile(env, SimConfig("[" + kFakeSim + ", env, '0']", "  x: {range: [0, 6]}\n", Execution()));
  const RunResult e = RunSweep({"run", env, "-q", "-o", "env.h5"}, dir.path());
  ASSERT_EQ(e.code, 0) << e.err;
  const Config parsed = LoadConfig(env);
  const Space space(parsed);
  const std::vector<double> points = ReadDataset<double>(dir / "env.h5", "/y");
  const std::vector<double> ev = ReadDataset<double>(dir / "env.h5", "/v");
  ASSERT_EQ(points.size(), 6u);
  for (uint64_t p = 0; p < 6; ++p) {
    EXPECT_EQ(points[p], double(p));
    EXPECT_EQ(ev[3 * p], double(space.Seed(p) % 1000));
    EXPECT_EQ(ev[3 * p + 1], 0.0) << "a worker's descriptor reached the program";
    EXPECT_EQ(ev[3 * p + 2], 0.0);
  }
}

TEST_P(CommandKernelRun, FailuresAreRecordedWithReasonAndStderr) {
  TempDir dir;
  const std::string config = dir / "c.yaml";
  WriteFile(config,
            SimConfig("[" + kFakeSim + ", '{mode}', '3']",
                      "  mode: {values: [json, exit, abort, malformed, missing, short, sleep]}\n",
                      Execution(", timeout: 2s, retries: 0")));
  const RunResult r = RunSweep({"run", config, "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << "the sleeping program or its child survived";
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["done"], 1);
  EXPECT_EQ(status["failed"], 6);
  ASSERT_EQ(status["failures"].size(), 6u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"exit", "failed with exit code 3; stderr: noise | fake_sim: giving up at x=3"},
      {"abort", "killed by SIGABRT (Aborted); stderr: fake_sim: about to abort"},
      {"malformed", "missing output `y` on stdout: line 1 starts with `{` but is not JSON"},
      {"missing", "missing output `v` on stdout"},
      {"short", "output `v`: expected 3 values, got 2"},
      {"sleep",
       "ran over 1.8 s (execution.timeout less its margin); its process group "
       "was killed; stderr: fake_sim: sleeping 3 s"},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    const nlohmann::json& f = status["failures"][i];
    EXPECT_EQ(f["point"], i + 1);
    EXPECT_EQ(f["params"]["mode"], expected[i].first);
    // Out of time is the one transient failure of these: a timeout, like a chunk's.
    const bool sleep = expected[i].first == "sleep";
    EXPECT_EQ(f["kind"], sleep ? "timeout" : "kernel-error");
    const std::string reason = f["reason"];
    EXPECT_EQ(
        reason.rfind(
            std::string(sleep ? SWEEP_TIMEOUT_PREFIX : "") + "command `" + kFakeSim + "`: ", 0),
        0u)
        << reason;
    EXPECT_TRUE(Contains(reason, expected[i].second)) << reason;
  }
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 7u);
  EXPECT_EQ(y[0], 3.0);
  for (size_t i = 1; i < 7; ++i) EXPECT_EQ(y[i], kMissingFloat64) << i;
}

// A stand-in for a real code, written into `dir`: it logs 50 lines on stdout, reads its input
// from the namelist rendered into the folder it runs in, leaves a read-only folder and a link to
// `dir/precious` there, and writes out.json: energy = x * n, trace = [x, n, point]. x = 3
// diverges (exit 4, a word on stderr) while `dir/broken` exists.
void WriteChattyCode(const TempDir& dir) {
  WriteFile(dir / "chatty.sh",
            "#!/bin/sh\n"
            "i=1\n"
            "while [ $i -le 50 ]; do echo \"step $i: residual 1e-$i\"; i=$((i+1)); done\n"
            "value() { sed -n \"s/^ *$1 *= *\\([^ ,]*\\).*/\\1/p\" input.nml; }\n"
            "x=$(value x); n=$(value n); point=$(value point)\n"
            "if [ \"$x\" = 3 ] && [ -e '" +
                dir / "broken" +
                "' ]; then\n"
                "  echo \"error: x = 3 diverges\" >&2; exit 4\n"
                "fi\n"
                "mkdir -p scratch/ro && touch scratch/ro/f && chmod 555 scratch/ro\n"
                "ln -s '" +
                dir / "precious" +
                "' precious\n"
                "awk -v x=\"$x\" -v n=\"$n\" -v p=\"$point\" 'BEGIN { printf \"{\\\"energy\\\": "
                "%.17g, \\\"trace\\\": [%s, %s, %s]}\\n\", x * n, x, n, p }' > out.json\n"
                "echo 'run complete'\n");
  chmod((dir / "chatty.sh").c_str(), 0755);
  WriteFile(
      dir / "input.nml.in",
      "&params\n  x = {x}\n  n = {n}\n  point = {point}\n  seed = {seed}\n  label = '{{a}}'\n/\n");
  WriteFile(dir / "broken", "");
  std::filesystem::create_directory(dir / "precious");
  WriteFile(dir / "precious/data", "not to be removed");
}

// The chatty code over x in {1, 2, 3, 4} and n in {10, 20}: points 4 and 5 have x = 3.
std::string ChattyConfig(const std::string& execution) {
  return "name: chatty\nseed: 5\nkernel:\n  command: [./chatty.sh]\n"
         "  files: {input.nml: input.nml.in}\n  results_file: out.json\n"
         "  outputs: {energy: float64, trace: [float64, 3]}\n"
         "parameters:\n  x: {values: [1, 2, 3, 4]}\n  n: {values: [10, 20]}\n"
         "execution: " +
         execution + "\noutput: {path: out.h5}\n";
}

std::set<std::string> Entries(const std::string& folder) {
  std::set<std::string> names;
  if (!std::filesystem::exists(folder)) return names;
  for (const auto& e : std::filesystem::directory_iterator(folder))
    names.insert(e.path().filename().string());
  return names;
}

// A program that runs over its time is a timeout like any chunk's: transient, retried with
// backoff, so a point slow once (a busy file system, a licence server) is computed on its retry.
TEST_P(CommandKernelRun, AProgramOverItsTimeIsRetriedLikeAnyTimeout) {
  TempDir dir;
  WriteFile(dir / "slow_once.sh",
            "#!/bin/sh\n"
            "marker=\"" +
                dir / "slow-once-$1" +
                "\"\n"
                "if [ ! -e \"$marker\" ]; then touch \"$marker\"; sleep 600; fi\n"
                "echo \"y $(( $1 * 2 ))\"\n");
  chmod((dir / "slow_once.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [./slow_once.sh, '{x}']\n"
            "  outputs: {y: float64}\nparameters:\n  x: {values: [1, 2]}\n"
            "execution: " +
                Execution(", timeout: 3s, retries: 1") + "\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty()) << "a sleeping program survived its timeout";
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), (std::vector<double>{2, 4}));
  const std::vector<JournalRecord> failed = JournalRecords(dir / "out.h5.journal", "failed");
  ASSERT_EQ(failed.size(), 2u);  // each point once, then done on its retry
  for (const JournalRecord& f : failed) {
    EXPECT_EQ(f.kind, "timeout");
    EXPECT_FALSE(f.final);
    EXPECT_EQ(f.reason.rfind(SWEEP_TIMEOUT_PREFIX, 0), 0u) << f.reason;
  }
  EXPECT_EQ(JournalRecords(dir / "out.h5.journal", "done").size(), 2u);
}

TEST_P(CommandKernelRun, AChattyCodeRunsInAWorkDirectoryOfItsOwn) {
  TempDir dir;
  WriteChattyCode(dir);
  WriteFile(dir / "c.yaml", ChattyConfig(Execution()));
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  const std::vector<double> energy = ReadDataset<double>(dir / "out.h5", "/energy");
  const std::vector<double> trace = ReadDataset<double>(dir / "out.h5", "/trace");
  ASSERT_EQ(energy.size(), 8u);
  ASSERT_EQ(trace.size(), 24u);
  for (uint64_t p = 0; p < 8; ++p) {
    const double x = double(p / 2 + 1), n = p % 2 ? 20 : 10;
    if (x == 3) {
      EXPECT_EQ(energy[p], kMissingFloat64) << p;
      continue;
    }
    EXPECT_EQ(energy[p], x * n) << p;
    EXPECT_EQ(trace[3 * p], x);
    EXPECT_EQ(trace[3 * p + 1], n);
    EXPECT_EQ(trace[3 * p + 2], double(p));
  }
  // Only the failed points' directories are left, each with its rendered input, no output, and
  // the program's whole stdout and stderr.
  const std::string root = dir / "out.h5.work";
  EXPECT_EQ(Entries(root), (std::set<std::string>{"point-4", "point-5"}));
  const Space space(LoadConfig(dir / "c.yaml"));
  std::string log;
  for (int i = 1; i <= 50; ++i)
    log += "step " + std::to_string(i) + ": residual 1e-" + std::to_string(i) + "\n";
  for (uint64_t p : {4u, 5u}) {
    const std::string kept = root + "/point-" + std::to_string(p);
    EXPECT_EQ(ReadFile(kept + "/input.nml"),
              "&params\n  x = 3\n  n = " + std::string(p == 4 ? "10" : "20") +
                  "\n  point = " + std::to_string(p) +
                  "\n  seed = " + std::to_string(space.Seed(p)) + "\n  label = '{a}'\n/\n");
    EXPECT_EQ(Entries(kept), (std::set<std::string>{"input.nml", "stderr.txt", "stdout.txt"}));
    EXPECT_EQ(ReadFile(kept + "/stdout.txt"), log);
    EXPECT_EQ(ReadFile(kept + "/stderr.txt"), "error: x = 3 diverges\n");
  }
  // The run said what failed as status says it: the config's order (x, then n), one wording.
  EXPECT_TRUE(Contains(r.err,
                       "sweep: chunk 4, point 4 (x=3, n=10): command `./chatty.sh`: "
                       "failed with exit code 4; stderr: error: x = 3 diverges; stdout: "
                       "...step "))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "sweep: 2 chunks failed; see `sweep status " + dir / "out.h5" +
                                  "`; fix their cause, then `sweep rerun " + dir / "out.h5" +
                                  " --failed`\n"))
      << r.err;
  // What the successful points left (a link out, a read-only folder) went without harm.
  EXPECT_EQ(ReadFile(dir / "precious/data"), "not to be removed");

  // `sweep status` names each kept directory next to its failure.
  const RunResult text = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_EQ(text.code, 0) << text.err;
  EXPECT_TRUE(Contains(text.out,
                       "point 4 (x=3, n=10): command `./chatty.sh`: failed with exit code 4; "
                       "stderr: error: x = 3 diverges; stdout: ...step "))
      << text.out;
  EXPECT_TRUE(Contains(text.out,
                       "step 50: residual 1e-50 [kernel-error, attempt 1]\n"
                       "    work directory kept: " +
                           root + "/point-4\n    its output in full: " + root +
                           "/point-4/stdout.txt, " + root + "/point-4/stderr.txt\n"))
      << text.out;
  EXPECT_TRUE(Contains(text.out, "    work directory kept: " + root + "/point-5\n")) << text.out;
  EXPECT_TRUE(Contains(text.out,
                       "  not running; fix their cause, then `sweep rerun out.h5 "
                       "--failed`\n"))
      << text.out;
  const nlohmann::json status = StatusJson(dir);
  ASSERT_EQ(status["failures"].size(), 2u);
  EXPECT_EQ(status["failures"][0]["point"], 4);
  EXPECT_EQ(status["failures"][0]["workdir"], root + "/point-4");
  EXPECT_EQ(status["failures"][0]["streams"],
            nlohmann::json({root + "/point-4/stdout.txt", root + "/point-4/stderr.txt"}));
  EXPECT_EQ(status["failures"][1]["workdir"], root + "/point-5");

  // Fixed, a rerun of the failed points reuses their directories, removes them, and the folder.
  std::filesystem::remove(dir / "broken");
  const RunResult rerun = RunSweep({"rerun", "out.h5", "--failed", "-q"}, dir.path());
  ASSERT_EQ(rerun.code, 0) << rerun.err;
  const std::vector<double> fixed = ReadDataset<double>(dir / "out.h5", "/energy");
  EXPECT_EQ(fixed[4], 30.0);
  EXPECT_EQ(fixed[5], 60.0);
  EXPECT_FALSE(std::filesystem::exists(root));
  EXPECT_EQ(ReadFile(dir / "precious/data"), "not to be removed");
}

TEST(CommandKernelWorkdir, KeepAlwaysOrNeverAndARootOfItsOwn) {
  TempDir dir;
  WriteChattyCode(dir);
  WriteFile(dir / "c.yaml", ChattyConfig("{workers: 2, chunk_size: 1}"));
  const RunResult always =
      RunSweep({"run", "c.yaml", "-q", "--set", "kernel.workdir={root: runs/all, keep: always}"},
               dir.path());
  EXPECT_EQ(always.code, 3) << always.err;
  std::set<std::string> every = {".sweep-workdirs"};  // the root's marker: this output's
  for (int p = 0; p < 8; ++p) every.insert("point-" + std::to_string(p));
  EXPECT_EQ(Entries(dir / "runs/all"), every);
  EXPECT_EQ(Entries(dir / "runs/all/point-0"),
            (std::set<std::string>{"input.nml", "out.json", "precious", "scratch", "stderr.txt",
                                   "stdout.txt"}));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));

  const RunResult never = RunSweep(
      {"run", "c.yaml", "-q", "-o", "never.h5", "--set", "kernel.workdir.keep=never"}, dir.path());
  EXPECT_EQ(never.code, 3) << never.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "never.h5.work"));
  const RunResult status = RunSweep({"status", "never.h5", "--json"}, dir.path());
  const nlohmann::json j = nlohmann::json::parse(status.out);
  ASSERT_EQ(j["failures"].size(), 2u);
  EXPECT_TRUE(j["failures"][0]["workdir"].is_null());
  EXPECT_EQ(ReadFile(dir / "precious/data"), "not to be removed");

  // The default folder is beside the output written (`-o`), which the config does not name.
  const RunResult moved = RunSweep({"run", "c.yaml", "-q", "-o", "moved.h5"}, dir.path());
  EXPECT_EQ(moved.code, 3) << moved.err;
  EXPECT_EQ(Entries(dir / "moved.h5.work"), (std::set<std::string>{"point-4", "point-5"}));
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));
}

// A root the config names may be a folder of the user's: sweep removes only what it made there.
// A `point-<i>` it did not make is refused before anything runs (exit 2, naming it), with `keep:
// always` too; a folder without one is adopted (marked as the output's) and its files left alone.
TEST(CommandKernelWorkdir, AConfiguredRootNeverLosesWhatSweepDidNotMake) {
  TempDir dir;
  WriteFile(dir / "code.sh", "#!/bin/sh\necho \"y $1\"\n");
  chmod((dir / "code.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [./code.sh, '{x}']\n  outputs: {y: float64}\n"
            "  workdir: {root: proj, keep: always}\n"
            "parameters:\n  x: {values: [1, 2]}\nexecution: {workers: 1}\n"
            "output: {path: out.h5}\n");
  std::filesystem::create_directories(dir / "proj/point-0");
  WriteFile(dir / "proj/point-0/thesis.tex", "chapter one");
  WriteFile(dir / "proj/notes.txt", "mine");
  for (const std::string keep : {"always", "failed"}) {
    const RunResult r =
        RunSweep({"run", "c.yaml", "-q", "--set", "kernel.workdir.keep=" + keep}, dir.path());
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_TRUE(Contains(r.err, dir / "proj/point-0: sweep did not make this folder")) << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
    EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.journal"));
    EXPECT_EQ(ReadFile(dir / "proj/point-0/thesis.tex"), "chapter one");
    EXPECT_EQ(Entries(dir / "proj"), (std::set<std::string>{"notes.txt", "point-0"}));
  }

  // Without the colliding folder the user's root is adopted: marked, and only points added.
  std::filesystem::rename(dir / "proj/point-0", dir / "thesis");
  const RunResult adopted = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(adopted.code, 0) << adopted.err;
  EXPECT_EQ(Entries(dir / "proj"),
            (std::set<std::string>{".sweep-workdirs", "notes.txt", "point-0", "point-1"}));
  EXPECT_EQ(ReadFile(dir / "proj/notes.txt"), "mine");
  // Marked as this output's, its points are sweep's: a rerun and a run again replace them.
  ASSERT_EQ(RunSweep({"rerun", "out.h5", "--chunks", "0", "-q"}, dir.path()).code, 0);
  const RunResult again = RunSweep({"run", "c.yaml", "-q", "--force"}, dir.path());
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), (std::vector<double>{1, 2}));
  EXPECT_EQ(ReadFile(dir / "thesis/thesis.tex"), "chapter one");
}

// Two sweeps naming one work root: while the first is live the second is refused (exit 4, naming
// the output and pid that hold it), and the first's points are left alone, so each records only
// its own values. Once the first has ended, its kept directories still keep the root its own
// (exit 2, naming it); a root it left without any is taken over.
TEST(CommandKernelWorkdir, TwoSweepsOnOneRootAreKeptApart) {
  TempDir dir;
  // Writes its value into its work directory, waits at the gate for x from 1 to 99, then prints
  // what its directory holds: a second sweep that replaced the directory would change it.
  WriteFile(dir / "code.sh",
            "#!/bin/sh\necho \"$1\" > mine\nif [ \"$1\" -ge 1 ] && [ \"$1\" -lt 100 ]; then\n"
            "  touch '" +
                dir / "held" +
                "'\n"
                "  while [ ! -e '" +
                dir / "open" +
                "' ]; do sleep 0.01; done\nfi\n"
                "[ -e '" +
                dir / "fail" + "' ] && exit 1\necho \"y $(cat mine)\"\n");
  chmod((dir / "code.sh").c_str(), 0755);
  const auto config = [&](const std::string& name, const std::string& values) {
    WriteFile(dir / (name + ".yaml"),
              "name: " + name +
                  "\nkernel:\n  command: [./code.sh, '{x}']\n  outputs: {y: float64}\n"
                  "  workdir: {root: shared}\nparameters:\n  x: {values: " +
                  values +
                  "}\n"
                  "execution: {workers: 1, chunk_size: 1, retries: 0}\noutput: {path: " +
                  name + ".h5}\n");
  };
  config("a", "[0, 1]");
  config("b", "[0, 100]");
  SweepProcess a({"run", "a.yaml", "-q"}, dir.path());
  ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(dir / "held"); })) << a.err();
  const RunResult b = RunSweep({"run", "b.yaml", "-q"}, dir.path());
  EXPECT_EQ(b.code, 4) << b.err;
  EXPECT_TRUE(Contains(b.err, dir / "shared (kernel.workdir.root) is in use by the sweep writing " +
                                  dir / "a.h5 (pid " + std::to_string(a.pid())))
      << b.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "b.h5"));
  EXPECT_EQ(ReadFile(dir / "shared/point-1/mine"), "1\n");
  WriteFile(dir / "open", "");
  ASSERT_EQ(a.Wait(), 0) << a.err();
  EXPECT_EQ(ReadDataset<double>(dir / "a.h5", "/y"), (std::vector<double>{0, 1}));

  // a's failed point keeps its directory, and the root a's.
  WriteFile(dir / "fail", "");
  ASSERT_EQ(RunSweep({"rerun", "a.h5", "--points", "1", "-q"}, dir.path()).code, 3);
  ASSERT_TRUE(std::filesystem::exists(dir / "shared/point-1"));
  const RunResult kept = RunSweep({"run", "b.yaml", "-q"}, dir.path());
  EXPECT_EQ(kept.code, 2) << kept.err;
  EXPECT_TRUE(Contains(
      kept.err, dir / "shared (kernel.workdir.root) holds work directories of " + dir / "a.h5"))
      << kept.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "shared/point-1/mine"));

  // Once a's failed point is computed, the root is empty of it and b takes it over.
  std::filesystem::remove(dir / "fail");
  ASSERT_EQ(RunSweep({"rerun", "a.h5", "--points", "1", "-q"}, dir.path()).code, 0);
  const RunResult taken = RunSweep({"run", "b.yaml", "-q"}, dir.path());
  ASSERT_EQ(taken.code, 0) << taken.err;
  EXPECT_EQ(ReadDataset<double>(dir / "b.h5", "/y"), (std::vector<double>{0, 100}));
  EXPECT_EQ(ReadDataset<double>(dir / "a.h5", "/y"), (std::vector<double>{0, 1}));
}

TEST(CommandKernelWorkdir, APlantedLinkForTheWorkFolderIsRefused) {
  TempDir dir;
  WriteChattyCode(dir);
  WriteFile(dir / "c.yaml", ChattyConfig("{workers: 2, chunk_size: 1}"));
  std::filesystem::create_directory_symlink(dir / "precious", dir / "out.h5.work");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(Contains(r.err, dir / "out.h5.work: is a symbolic link")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  EXPECT_EQ(Entries(dir / "precious"), std::set<std::string>{"data"});
}

TEST(CommandKernelWorkdir, OutputsOnStdoutAmidALog) {
  TempDir dir;
  // 50 lines of log, the outputs in both forms among them, then more log.
  WriteFile(dir / "code.sh",
            "#!/bin/sh\ni=1\nwhile [ $i -le 50 ]; do echo \"iteration $i: energy drifting\"; "
            "i=$((i+1)); done\necho \"energy $1\"\necho '{\"note\": \"trace follows\",'\n"
            "echo \" \\\"trace\\\": [$1, NaN]}\"\necho 'finished {cleanly}'\n");
  chmod((dir / "code.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: log\nkernel:\n  command: [./code.sh, '{x}']\n"
            "  outputs: {energy: float64, trace: [float64, 2]}\n"
            "parameters:\n  x: {values: [1.5, -2]}\nexecution: {workers: 2}\n"
            "output: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/energy"), (std::vector<double>{1.5, -2}));
  const std::vector<double> trace = ReadDataset<double>(dir / "out.h5", "/trace");
  ASSERT_EQ(trace.size(), 4u);
  EXPECT_EQ(trace[0], 1.5);
  EXPECT_TRUE(std::isnan(trace[1]));
  EXPECT_EQ(trace[2], -2.0);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));
}

TEST(CommandKernelWorkdir, AMissingOutputFailsThePointNamingIt) {
  TempDir dir;
  // Writes both outputs, only `energy`, or no results file at all.
  WriteFile(dir / "code.sh",
            "#!/bin/sh\necho 'computing'\ncase $1 in\n"
            "  all) echo '{\"energy\": 1.5, \"trace\": [1, 2, 3]}' > out.json ;;\n"
            "  partial) printf 'energy 2.5\\nmesh refined\\n' > out.json ;;\n"
            "esac\n");
  chmod((dir / "code.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: missing\nkernel:\n  command: [./code.sh, '{mode}']\n  results_file: out.json\n"
            "  outputs: {energy: float64, trace: [float64, 3]}\n"
            "parameters:\n  mode: {values: [all, partial, none]}\n"
            "execution: {workers: 2, chunk_size: 1}\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/energy")[0], 1.5);
  const nlohmann::json status = StatusJson(dir);
  ASSERT_EQ(status["failures"].size(), 2u);
  EXPECT_EQ(status["failures"][0]["reason"],
            "command `./code.sh`: missing output `trace` in out.json (expected `trace value...` "
            "lines, a column under its name, or a JSON object; outputs: energy, trace); stdout: "
            "computing");
  EXPECT_EQ(status["failures"][1]["reason"],
            "command `./code.sh`: did not write its results_file `out.json` in its work directory "
            "(expected its outputs: energy, trace); stdout: computing");
  EXPECT_TRUE(Contains(r.err, "missing output `trace` in out.json")) << r.err;
}

// max_failures: a sweep whose every point fails stops after about that many, not after all of
// them; what it did not compute stays pending, and `sweep resume` finishes it once fixed.
TEST(CommandKernelMaxFailures, AFailingSweepStopsEarlyAndResumeFinishesIt) {
  TempDir dir;
  WriteFile(dir / "code.sh", "#!/bin/sh\n[ -e '" + dir / "broken" +
                                 "' ] && { echo 'no licence' >&2; exit 1; }\necho \"y $1\"\n");
  chmod((dir / "code.sh").c_str(), 0755);
  WriteFile(dir / "broken", "");
  WriteFile(dir / "c.yaml",
            "name: doomed\nkernel:\n  command: [./code.sh, '{i}']\n  outputs: {y: float64}\n"
            "parameters:\n  i: {range: [0, 200]}\n"
            "execution: {workers: 2, chunk_size: 1, max_failures: 3}\noutput: {path: out.h5}\n");
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(r.code, 3) << r.err;
  std::vector<JournalRecord> failed;
  for (JournalRecord& f : JournalRecords(dir / "out.h5.journal", "failed"))
    if (f.final) failed.push_back(std::move(f));
  EXPECT_GE(failed.size(), 3u);
  EXPECT_LE(failed.size(), 3u + 2u) << "at most one more failure per worker";
  const std::string stop = "sweep: stopped after " + std::to_string(failed.size()) +
                           " failed chunks (execution.max_failures is 3); " +
                           std::to_string(200 - failed.size()) +
                           " chunks were not computed: see `sweep status " + dir / "out.h5" +
                           "`; `sweep resume " + dir / "out.h5" + "` finishes it\n";
  EXPECT_TRUE(Contains(r.err, stop)) << r.err;
  EXPECT_FALSE(Contains(r.err, "chunks failed; see")) << r.err;
  const nlohmann::json status = StatusJson(dir);
  EXPECT_EQ(status["failed"], failed.size());
  EXPECT_EQ(status["done"], 0);
  EXPECT_EQ(status["pending"], 200 - failed.size());

  std::filesystem::remove(dir / "broken");
  const RunResult resumed = RunSweep({"resume", "out.h5", "-q"}, dir.path());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), 200u);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], double(i)) << i;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));
}

INSTANTIATE_TEST_SUITE_P(CommandKernel, CommandKernelRun,
                         ::testing::Values("spawn", "fork", "forkserver"),
                         [](const auto& p) { return std::string(p.param); });

TEST(CommandKernelConfig, ShippedExampleRuns) {
  TempDir dir;
  const RunResult r =
      RunSweep({"run", SourcePath("configs/command.yaml"), "-q", "-o", dir / "out.h5"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  const std::vector<double> x = ReadDataset<double>(dir / "out.h5", "/y");
  const std::vector<int64_t> point = ReadDataset<int64_t>(dir / "out.h5", "/point");
  const std::vector<double> echoed = ReadDataset<double>(dir / "out.h5", "/echoed");
  const std::vector<double> params = ReadDataset<double>(dir / "out.h5", "/x");  // coordinate
  ASSERT_EQ(x.size(), 11u);
  ASSERT_EQ(echoed.size(), 22u);
  for (size_t i = 0; i < 11; ++i) {
    EXPECT_EQ(x[i], params[i]);  // the shortest text of a double reads back as the same double
    EXPECT_EQ(point[i], int64_t(i));
    EXPECT_EQ(echoed[2 * i + 1], params[i]);
  }
}

// The shipped real-code example: a chatty stand-in whose point 9 diverges on purpose, showing
// what a failed point leaves (README's tour); with the limit raised, every point is computed.
TEST(CommandKernelConfig, ShippedRealCodeExampleRuns) {
  TempDir dir;
  const RunResult r = RunSweep(
      {"run", SourcePath("configs/command_files.yaml"), "-q", "-o", dir / "out.h5"}, dir.path());
  ASSERT_EQ(r.code, 3) << r.err;
  const std::string error = "ERROR: solver diverged at step 3 (rho * sigma = 2 * 10 is over 15)";
  EXPECT_TRUE(Contains(r.err,
                       "sweep: chunk 9, point 9 (rho=2, sigma=10): command "
                       "`./programs/stand_in.sh`: failed with exit code 2; stdout: " +
                           error + "; stderr: stand-in: residual grows, giving up\n"))
      << r.err;
  const std::vector<double> energy = ReadDataset<double>(dir / "out.h5", "/energy");
  const std::vector<double> trace = ReadDataset<double>(dir / "out.h5", "/trace");
  ASSERT_EQ(energy.size(), 10u);
  for (size_t p = 0; p < 9; ++p) {
    const double rho = 0.5 * double(p / 2), sigma = p % 2 ? 10 : 1;
    EXPECT_EQ(energy[p], rho * sigma) << p;
    EXPECT_EQ(trace[3 * p + 2], double(p));
  }
  EXPECT_EQ(energy[9], kMissingFloat64);  // the failed point keeps the fill value
  const std::string kept = dir / "out.h5.work/point-9";
  EXPECT_EQ(Entries(dir / "out.h5.work"), std::set<std::string>{"point-9"});
  EXPECT_EQ(Entries(kept), (std::set<std::string>{"input.nml", "stderr.txt", "stdout.txt"}));
  const std::string out = ReadFile(kept + "/stdout.txt");
  EXPECT_EQ(out.rfind("stand-in code 1.0, 1 threads, seed ", 0), 0u) << out;
  EXPECT_TRUE(Contains(out, "step 2: residual 1e-2\n" + error + "\n")) << out;
  EXPECT_EQ(ReadFile(kept + "/stderr.txt"), "stand-in: residual grows, giving up\n");
  const RunResult status = RunSweep({"status", "out.h5"}, dir.path());
  EXPECT_TRUE(Contains(
      status.out, "    its output in full: " + kept + "/stdout.txt, " + kept + "/stderr.txt\n"))
      << status.out;

  const RunResult raised =
      RunSweep({"run", SourcePath("configs/command_files.yaml"), "-q", "-o", dir / "out.h5",
                "--force", "--set", "kernel.env.STAND_IN_LIMIT=25"},
               dir.path());
  ASSERT_EQ(raised.code, 0) << raised.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/energy")[9], 20.0);
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5.work"));
}

TEST(CommandKernelConfig, ValidateNamesTheTemplateOfAnUnknownPlaceholder) {
  TempDir dir;
  WriteFile(dir / "input.nml.in", "&params\n  x = {x}\n  rho = {rho}\n/\n");
  WriteFile(dir / "c.yaml",
            "name: t\nkernel:\n  command: [/bin/echo, y 1]\n"
            "  files: {input.nml: input.nml.in, other.nml: missing.in}\n"
            "  outputs: {y: float64}\nparameters:\n  x: {values: [1, 2]}\n");
  const RunResult r = RunSweep({"validate", "c.yaml"}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, dir / "input.nml.in" +
                                  ":3:9: kernel.files.input.nml: unknown placeholder `{rho}` "
                                  "(placeholders: {x}, {seed}, {seed31}, {point}, "
                                  "{config_dir}, {workdir};"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "c.yaml:4:47: kernel.files.other.nml: cannot read the template " +
                                  dir / "missing.in" + ": No such file or directory"))
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "results"));
}

TEST(CommandKernelConfig, ValidateReportsUnknownPlaceholderAndRelativeProgram) {
  TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  std::filesystem::create_symlink(kFakeSim, dir / "sub/sim");
  const std::string config = dir / "sub/c.yaml";
  WriteFile(config, SimConfig("[./sim, lines, '{x}', '{rho}']", "  x: {values: [1]}\n"));
  const RunResult bad = RunSweep({"validate", config}, dir.path());
  EXPECT_EQ(bad.code, 2);
  // The argument's own line and column, not `kernel:`'s.
  EXPECT_TRUE(Contains(bad.err, config + ":4:34: kernel.command[3]: unknown placeholder `{rho}`"))
      << bad.err;
  // Fixed with --set; ./sim is beside the config, not in the working folder.
  const RunResult good = RunSweep(
      {"run", config, "-q", "--set", "kernel.command=[./sim, lines, '{x}']", "-o", "out.h5"},
      dir.path());
  ASSERT_EQ(good.code, 0) << good.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/v"), (std::vector<double>{1, 2, 3}));
}

// A program started through a wrapper script leaves the script's children when it is killed; a
// `kill -9` of the driver must still leave nothing behind: the worker, told of the driver's
// death, kills the program's whole process group (the script and its children), both start
// methods.
TEST_P(CommandKernelRun, AKilledDriverLeavesNoDescendantOfTheProgram) {
  TempDir dir;
  WriteFile(dir / "wrapper.sh", "#!/bin/sh\nsleep 300 &\nsleep 301\necho 'y 1'\n");
  chmod((dir / "wrapper.sh").c_str(), 0755);
  WriteFile(dir / "wrap.yaml",
            "name: wrap\nkernel:\n  command: [./wrapper.sh]\n  outputs: {y: float64}\n"
            "parameters:\n  x: {range: [0, 4]}\nexecution: {workers: 2, start: " +
                GetParam() + ", timeout: 600s}\noutput: {path: out.h5}\n");
  SweepProcess run({"run", dir / "wrap.yaml", "-q"}, dir.path());
  // The driver, 2 workers, and per worker the script and its two sleeps.
  ASSERT_TRUE(WaitUntil([&] { return TaggedProcesses(run.tag()).size() >= 9; }))
      << TaggedProcesses(run.tag()).size() << " processes";
  run.Signal(SIGKILL);
  EXPECT_EQ(run.Wait(), 128 + SIGKILL);
  EXPECT_TRUE(LeftoversAfter(run.tag()).empty()) << "descendants outlived the driver";
}

// What a real code needs from its command line and environment: its script beside the config
// ({config_dir}), its own folder ({workdir}), a 31-bit seed, `env:` set over the caller's
// variables (which still pass through), in either start method.
TEST_P(CommandKernelRun, ConfigDirWorkdirSeed31AndEnvReachTheProgram) {
  TempDir dir;
  std::filesystem::create_directories(dir / "project/programs");
  WriteFile(
      dir / "project/programs/sim.sh",
      "#!/bin/sh\n"
      "[ \"$(pwd)\" = \"$1\" ] && echo 'in_workdir 1' || echo 'in_workdir 0'\n"
      "echo \"seed31 $2\"\necho \"env_seed $SIM_SEED\"\necho \"omp $OMP_NUM_THREADS\"\n"
      "echo \"t $SIM_T\"\n"
      "[ \"$SWEEP_TEST_PASSED_ON\" = yes ] && echo 'passed_on 1' || echo 'passed_on 0'\n"
      "[ -z \"$EMPTY\" ] && [ \"${EMPTY+set}\" = set ] && echo 'empty 1' || echo 'empty 0'\n");
  WriteFile(dir / "project/c.yaml",
            "name: c\nseed: 18446744073709551615\nkernel:\n"
            "  command: [/bin/sh, '{config_dir}/programs/sim.sh', '{workdir}', '{seed31}']\n"
            "  env: {OMP_NUM_THREADS: 1, SIM_SEED: '{seed31}', SIM_T: 'T={T}', EMPTY: ''}\n"
            "  outputs: {in_workdir: uint8, seed31: int64, env_seed: int64, omp: int32, t: float64,"
            " passed_on: uint8, empty: uint8}\n"
            "parameters:\n  T: {values: [0.5, 1.25, 3]}\n"
            "execution: " +
                Execution() + "\noutput: {path: ../out.h5}\n");
  setenv("SWEEP_TEST_PASSED_ON", "yes", 1);
  setenv("OMP_NUM_THREADS", "8", 1);  // the config's `env:` wins over the caller's
  const RunResult r = RunSweep({"run", "project/c.yaml", "-q"}, dir.path());
  // `t T=0.5` is not a number: the missing output names the line, which shows the value set.
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(Contains(r.err, "line 5 names it, but `T=0.5` is not a number")) << r.err;
  const RunResult fixed = RunSweep(
      {"run", "project/c.yaml", "-q", "--force", "--set", "kernel.env.SIM_T='{T}'"}, dir.path());
  unsetenv("SWEEP_TEST_PASSED_ON");
  unsetenv("OMP_NUM_THREADS");
  ASSERT_EQ(fixed.code, 0) << fixed.err;
  const Space space(LoadConfig(dir / "project/c.yaml"));
  const std::vector<int64_t> seed31 = ReadDataset<int64_t>(dir / "out.h5", "/seed31");
  ASSERT_EQ(seed31.size(), 3u);
  for (uint64_t p = 0; p < 3; ++p) {
    EXPECT_EQ(uint64_t(seed31[p]), Seed31(space.Seed(p))) << p;
    EXPECT_GE(seed31[p], 1);
    EXPECT_LE(seed31[p], 2147483647);
  }
  EXPECT_EQ(ReadDataset<int64_t>(dir / "out.h5", "/env_seed"), seed31);
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/in_workdir"), (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_EQ(ReadDataset<int32_t>(dir / "out.h5", "/omp"), (std::vector<int32_t>{1, 1, 1}));
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/t"), (std::vector<double>{0.5, 1.25, 3}));
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/passed_on"), (std::vector<uint8_t>{1, 1, 1}));
  EXPECT_EQ(ReadDataset<uint8_t>(dir / "out.h5", "/empty"), (std::vector<uint8_t>{1, 1, 1}));
}

// `[python3, programs/sim.py]` runs in the point's work directory, where programs/sim.py is not:
// validate says so (a warning: the program may make it), names the argument and the fix.
TEST(CommandKernelConfig, ARelativePathBesideTheConfigIsWarnedAbout) {
  TempDir dir;
  std::filesystem::create_directories(dir / "programs");
  WriteFile(dir / "programs/sim.py", "print('y 1')\n");
  WriteFile(dir / "tmpl", "{x}\n");
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [/bin/echo,\n            programs/sim.py, input.txt,"
            " --data=programs, '{config_dir}/programs/sim.py', not/there.py, 'y 1']\n"
            "  files: {input.txt: tmpl}\n  env: {OMP_NUM_THREADS: 1}\n  outputs: {y: float64}\n"
            "parameters:\n  x: {values: [1, 2]}\n");
  WriteFile(dir / "input.txt", "a file beside the config, and rendered into the work directory\n");
  const RunResult r = RunSweep({"validate", "c.yaml"}, dir.path());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "ok\n");
  EXPECT_EQ(r.err,
            "sweep: warning: c.yaml:4:13: kernel.command[1]: `programs/sim.py` is beside the "
            "config, but the program runs in each point's work directory, where it is not: write "
            "`{config_dir}/programs/sim.py` (or an absolute path)\n"
            "sweep: warning: c.yaml:4:41: kernel.command[3]: `programs` is beside the config, "
            "but the program runs in each point's work directory, where it is not: write "
            "`{config_dir}/programs` (or an absolute path)\n");
  // `plan` warns too, and shows the environment the program gets.
  const RunResult plan = RunSweep({"plan", "c.yaml"}, dir.path());
  EXPECT_EQ(plan.code, 0) << plan.err;
  EXPECT_TRUE(Contains(plan.out, "  env OMP_NUM_THREADS=1\n")) << plan.out;
  EXPECT_TRUE(Contains(plan.err, "kernel.command[1]: `programs/sim.py` is beside")) << plan.err;
  const RunResult json = RunSweep({"plan", "c.yaml", "--json"}, dir.path());
  EXPECT_EQ(nlohmann::json::parse(json.out)["env"], nlohmann::json({{"OMP_NUM_THREADS", "1"}}));
}

// Outputs that name a dimension share it: xarray lines their values up (gain - freq has the
// sweep's dimensions and the shared one), instead of crossing 5 x 5 values.
TEST(CommandKernelOutputDims, OutputsNamingADimensionShareItInTheFile) {
  TempDir dir;
  WriteFile(dir / "bode.sh",
            "#!/bin/sh\n"
            "echo 'freq gain'\n"
            "for f in 1 10 100 1000 10000; do echo \"$f $(awk -v f=$f -v r=$1 "
            "'BEGIN { print -10 * log(1 + (f / r)^2) / log(10) }')\"; done\n"
            "echo 'f3db' ; echo \"$1\"\n"
            "echo 'table 1 2 3 4 5 6'\n");
  chmod((dir / "bode.sh").c_str(), 0755);
  WriteFile(dir / "c.yaml",
            "name: bode\nkernel:\n  command: [./bode.sh, '{rc}']\n"
            "  outputs:\n"
            "    f3db: float64\n"
            "    freq: {dtype: float64, shape: [5], dims: [freq_point]}\n"
            "    gain: {dtype: float64, shape: [5], dims: [freq_point]}\n"
            "    table: [int32, 2, 3]\n"
            "parameters:\n  rc: {values: [10, 100, 1000]}\n"
            "execution: {workers: 2}\noutput: {path: out.h5}\n");
  const RunResult plan = RunSweep({"plan", "c.yaml"}, dir.path());
  EXPECT_TRUE(Contains(plan.out, "/gain           float64 [5] (freq_point) per point")) << plan.out;
  EXPECT_TRUE(Contains(plan.out, "/table          int32 [2,3] (table_0, table_1) per point"))
      << plan.out;
  const RunResult r = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  WriteFile(dir / "check.py",
            "import sys, xarray as xr\n"
            "ds = xr.open_dataset(sys.argv[1], engine='h5netcdf')\n"
            "assert ds.gain.dims == ('rc', 'freq_point'), ds.gain.dims\n"
            "assert ds.freq.dims == ('rc', 'freq_point'), ds.freq.dims\n"
            "assert ds.table.dims == ('rc', 'table_0', 'table_1'), ds.table.dims\n"
            "d = ds.gain - ds.freq\n"
            "assert d.dims == ('rc', 'freq_point') and d.shape == (3, 5), (d.dims, d.shape)\n"
            "assert float(ds.gain.sel(rc=100).isel(freq_point=2)) < -2.9\n"
            "assert list(ds.f3db.values) == [10, 100, 1000]\n"
            "print('ok')\n");
  EXPECT_EQ(Shell(std::string(kPython) + " " + dir / "check.py" + " " + dir / "out.h5"), 0);
  EXPECT_EQ(Shell("ncdump -h " + dir / "out.h5" + " | grep -q 'double gain(rc, freq_point)'"), 0);
  // A resume and a rerun read the layout back: nothing in it depends on the names.
  const RunResult rerun = RunSweep({"rerun", "out.h5", "--points", "1", "-q"}, dir.path());
  EXPECT_EQ(rerun.code, 0) << rerun.err;
  // A dimension named like another output, or like a default dimension of another size, is refused.
  const RunResult clash =
      RunSweep({"validate", "c.yaml", "--set", "kernel.outputs.gain.dims=[f3db]"}, dir.path());
  EXPECT_EQ(clash.code, 2);
  EXPECT_TRUE(Contains(clash.err,
                       "kernel.outputs.gain.dims: dimension `f3db` of output `gain` "
                       "is also an output of kernel `command`"))
      << clash.err;
  const RunResult sizes =
      RunSweep({"validate", "c.yaml", "--set", "kernel.outputs.gain.dims=[table_1]"}, dir.path());
  EXPECT_EQ(sizes.code, 2);
  EXPECT_TRUE(Contains(sizes.err,
                       "dimension `table_1` has size 3 in output `table` but 5 in "
                       "output `gain`"))
      << sizes.err;
}

// The templates are read when a run starts: a template edited after it makes a rerun or a resume
// refuse (exit 2, naming the file), since the rest would be computed from other input; --force
// goes on with the new one.
TEST(CommandKernelFingerprint, AnEditedTemplateIsRefusedOnRerunNamingIt) {
  TempDir dir;
  WriteFile(dir / "in.tmpl", "y {x}\n");
  WriteFile(dir / "c.yaml",
            "name: c\nkernel:\n  command: [/bin/cat, input.txt]\n"
            "  files: {input.txt: in.tmpl}\n  outputs: {y: float64}\n"
            "parameters:\n  x: {values: [1, 2, 3]}\nexecution: {workers: 1, chunk_size: 1}\n"
            "output: {path: out.h5}\n");
  const RunResult run = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), (std::vector<double>{1, 2, 3}));
  const RunResult same = RunSweep({"rerun", "out.h5", "--chunks", "0", "-q"}, dir.path());
  EXPECT_EQ(same.code, 0) << same.err;

  WriteFile(dir / "in.tmpl", "y -{x}\n");
  const RunResult refused = RunSweep({"rerun", "out.h5", "--chunks", "0", "-q"}, dir.path());
  EXPECT_EQ(refused.code, 2);
  EXPECT_NE(refused.err.find("kernel.files.input.txt: its template's bytes changed"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), (std::vector<double>{1, 2, 3}));
  const RunResult forced =
      RunSweep({"rerun", "out.h5", "--chunks", "0", "--force", "-q"}, dir.path());
  ASSERT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(ReadDataset<double>(dir / "out.h5", "/y"), (std::vector<double>{-1, 2, 3}));
}

// The zombie children of process `parent`, from /proc.
size_t ZombieChildren(pid_t parent) {
  size_t zombies = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string stat = ReadFile(entry.path().string() + "/stat");
    const size_t paren = stat.rfind(')');
    if (paren == std::string::npos || paren + 4 >= stat.size()) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(stat.c_str() + paren + 1, " %c %ld", &state, &ppid) == 2 && state == 'Z' &&
        ppid == parent)
      ++zombies;
  }
  return zombies;
}

// Programs that leave orphans (a wrapper's `(sleep &)`, an MPI launcher's daemons) have them
// reparented to the driver, a child subreaper, which reaps them promptly: thousands of points
// never pile up zombies (a long sweep would hit pids.max). The last points wait at a gate, so
// the run is live while the test sees every earlier orphan reaped: the last point of each of
// the last two chunks, one per worker (chunks are handed out one at a time, in order).
TEST(CommandKernelOrphans, TheDriverReapsEveryOrphanPromptly) {
  TempDir dir;
  const int points = 2000, chunk = 10, held_a = points - chunk - 1, held_b = points - 1;
  WriteFile(dir / "c.yaml",
            "name: orphans\nkernel:\n  command: [sh, -c, \"(sleep 0.1 &); if [ {x} -eq " +
                std::to_string(held_a) + " ] || [ {x} -eq " + std::to_string(held_b) +
                " ]; then touch held-{x}; while [ ! -e '" + dir / "open" +
                "' ]; do sleep 0.01; done; fi; echo y {x}\"]\n"
                "  outputs: {y: float64}\n  workdir: {keep: always}\n"
                "parameters:\n  x: {range: [0, " +
                std::to_string(points) + "]}\nexecution: {workers: 2, chunk_size: " +
                std::to_string(chunk) + "}\noutput: {path: out.h5}\n");
  SweepProcess run({"run", "c.yaml", "-q"}, dir.path());
  // Counted a few times a second: reading all of /proc costs a CPU's while at every poll.
  size_t most = 0;
  auto next_count = std::chrono::steady_clock::now();
  const auto held_at = [&](int x) {
    return std::filesystem::exists(
        dir / ("out.h5.work/point-" + std::to_string(x) + "/held-" + std::to_string(x)));
  };
  // Thousands of programs: on a loaded machine that takes minutes, so this wait is longer.
  const bool reached = WaitUntil(
      [&] {
        if (std::chrono::steady_clock::now() >= next_count) {
          most = std::max(most, ZombieChildren(run.pid()));
          next_count = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
        }
        return held_at(held_a) && held_at(held_b);
      },
      5 * kPatienceSeconds);
  EXPECT_TRUE(reached) << run.err();
  // Every point before the gate left an orphan: each is reaped while the run is live.
  EXPECT_TRUE(WaitUntil([&] { return ZombieChildren(run.pid()) == 0; }))
      << ZombieChildren(run.pid()) << " zombies while the run is held";
  EXPECT_LT(most, size_t(points / 4)) << "zombies piled up during the run";
  WriteFile(dir / "open", "");
  ASSERT_EQ(run.Wait(), 0) << run.err();
  const std::vector<double> y = ReadDataset<double>(dir / "out.h5", "/y");
  ASSERT_EQ(y.size(), size_t(points));
  EXPECT_EQ(y[points - 1], double(points - 1));
}

// A worker that is a child subreaper itself (a kernel of its own made it one) reaps the orphans
// its programs leave, point by point.
TEST(CommandKernelOrphans, ASubreaperWorkerReapsTheOrphansOfItsPrograms) {
  TempDir dir;
  ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  BoundCommand bound(dir, SimConfig("[sh, -c, \"(sleep 0.05 &); echo y {x}; echo v 1 2 3\"]",
                                    "  x: {range: [0, 20]}\n"));
  std::vector<std::vector<double>> outputs;
  for (uint64_t p = 0; p < 20; ++p) ASSERT_EQ(bound.Point(p, &outputs), "") << p;
  // The orphans of the last point or two may still be dying; none before them is left.
  EXPECT_LE(ZombieChildren(getpid()), 2u);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

}  // namespace
}  // namespace sweep
