// Tests of plugins (kernels/plugin.h) through the real binary: the example plugin
// kernels/examples/damped_oscillator.c against the oscillator's closed-form steady state, with
// both start methods; and the libraries sweep must refuse (another kernel ABI, a missing file, a
// library without the entry symbol), each an exit code 2 with a message that says why.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "driver/space.h"
#include "kernels/kernel.h"
#include "tests/e2e.h"
#include "tests/seeds.h"

namespace sweep {
namespace {

using namespace sweep::testing;

constexpr double kPi = 3.14159265358979323846;
const std::string kExample = SWEEP_EXAMPLE_PLUGIN;
const std::string kWrongAbi = SWEEP_WRONG_ABI_PLUGIN;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string PluginConfig(const TempDir& dir, const std::string& plugin) {
  const std::string path = dir / "c.yaml";
  WriteFile(path,
            "name: p\nkernel:\n  plugin: " + plugin +
                "\nparameters:\n  omega: {values: [1]}\n  zeta: 0.1\noutput: {path: out.h5}\n");
  return path;
}

class PluginExample : public ::testing::TestWithParam<std::string> {};

// configs/plugin.yaml as shipped but for the library's path: 91 frequencies x 5 damping ratios.
TEST_P(PluginExample, MatchesTheClosedFormSteadyState) {
  TempDir dir;
  const RunResult r =
      RunSweep({"run", SourcePath("configs/plugin.yaml"), "-q", "-o", "out.h5", "--set",
                "kernel.plugin=" + kExample, "--set", "execution.start=" + GetParam(), "-j", "2"},
               dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LeftoversAfter(r.tag).empty());
  const std::string out = dir / "out.h5";
  // The coordinates: 91 omegas crossed with 5 zetas, in C order.
  const std::vector<double> omegas = ReadDataset<double>(out, "/omega");
  const std::vector<double> zetas = ReadDataset<double>(out, "/zeta");
  ASSERT_EQ(omegas.size(), 91u);
  ASSERT_EQ(zetas.size(), 5u);
  std::vector<double> omega, zeta;
  for (double w : omegas) {
    for (double z : zetas) {
      omega.push_back(w);
      zeta.push_back(z);
    }
  }
  const std::vector<double> amplitude = ReadDataset<double>(out, "/amplitude");
  const std::vector<double> phase = ReadDataset<double>(out, "/phase");
  const std::vector<double> trace = ReadDataset<double>(out, "/x_last_period");
  ASSERT_EQ(omega.size(), 455u);
  ASSERT_EQ(amplitude.size(), 455u);
  ASSERT_EQ(phase.size(), 455u);
  ASSERT_EQ(trace.size(), 455u * 20);
  double peak = 0;
  for (size_t i = 0; i < omega.size(); ++i) {
    const double w = omega[i], z = zeta[i];  // omega0 = 1
    const double a = 1 / std::hypot(1 - w * w, 2 * z * w);
    const double lag = std::atan2(2 * z * w, 1 - w * w);
    EXPECT_NEAR(amplitude[i] / a, 1.0, 3e-4) << "omega " << w << ", zeta " << z;
    EXPECT_NEAR(phase[i], lag, 5e-4) << "omega " << w << ", zeta " << z;
    // x over the last period: a cos(omega t - lag) at t = k/20 of a period past a whole number.
    for (int k = 0; k < 20; ++k)
      EXPECT_NEAR(trace[i * 20 + size_t(k)], a * std::cos(2 * kPi * k / 20 - lag), 3e-4 * a)
          << "omega " << w << ", zeta " << z << ", k " << k;
    peak = std::max(peak, amplitude[i]);
  }
  EXPECT_NEAR(peak, 10.0, 1e-3);  // 1 / (2 zeta) at resonance for zeta = 0.05
}

INSTANTIATE_TEST_SUITE_P(Plugin, PluginExample, ::testing::Values("spawn", "fork", "forkserver"),
                         [](const auto& p) { return std::string(p.param); });

TEST(PluginKernels, ListsWhatThePluginDeclares) {
  TempDir dir;
  const RunResult r = RunSweep({"kernels", kExample}, dir.path());
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* part : {"damped_oscillator:", "kernel ABI 2", "omega", "zeta", "samples",
                           "amplitude", "x_last_period"})
    EXPECT_TRUE(Contains(r.out, part)) << part << " not in\n" << r.out;
}

TEST(PluginOptions, OutputsRejectingOptionsIsAConfigError) {
  TempDir dir;
  const std::string config = PluginConfig(dir, kExample);
  const RunResult ok = RunSweep({"validate", config}, dir.path());
  EXPECT_EQ(ok.code, 0) << ok.err;
  const RunResult bad =
      RunSweep({"validate", config, "--set", "kernel.options.samples=7"}, dir.path());
  EXPECT_EQ(bad.code, 2);
  EXPECT_TRUE(Contains(bad.err, "kernel.options: samples (7) must divide steps (200)")) << bad.err;
}

TEST(PluginAbi, AnotherAbiIsRefusedNamingBothVersions) {
  TempDir dir;
  const std::string config = PluginConfig(dir, kWrongAbi);
  const std::string versions = "was built for kernel ABI " + std::to_string(SWEEP_KERNEL_ABI + 1) +
                               ", but this sweep has kernel ABI " +
                               std::to_string(SWEEP_KERNEL_ABI);
  for (const char* command : {"validate", "run"}) {
    const RunResult r = RunSweep({command, config}, dir.path());
    EXPECT_EQ(r.code, 2) << command;
    EXPECT_TRUE(Contains(r.err, config + ":2:1: kernel.plugin: " + kWrongAbi + " " + versions))
        << command << ": " << r.err;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  const RunResult listed = RunSweep({"kernels", kWrongAbi}, dir.path());
  EXPECT_EQ(listed.code, 2);
  EXPECT_TRUE(Contains(listed.err, versions)) << listed.err;
}

// tests/plugins/abi1_kernel.c built against the header of kernel ABI 1 (a copy kept in
// tests/plugins/abi1) loads and runs unchanged: the same bytes as the same source built against
// today's header, and its closed form at every point (a number, an integer, a string parameter
// and the seed). Its table has two words after it that a loader must not take for ABI 2's fields.
TEST(PluginAbi, APluginBuiltForAbiOneRunsUnchanged) {
  TempDir dir;
  const std::string old_abi = SWEEP_ABI1_PLUGIN, rebuilt = SWEEP_ABI1_PLUGIN_REBUILT;
  const RunResult listed = RunSweep({"kernels", old_abi}, dir.path());
  ASSERT_EQ(listed.code, 0) << listed.err;
  EXPECT_TRUE(Contains(listed.out, "kernel ABI 1")) << listed.out;
  const RunResult listed_now = RunSweep({"kernels", rebuilt}, dir.path());
  EXPECT_TRUE(Contains(listed_now.out, "kernel ABI " + std::to_string(SWEEP_KERNEL_ABI)))
      << listed_now.out;

  std::map<std::string, std::vector<unsigned char>> files[2];
  for (int built = 0; built < 2; ++built) {
    const std::string config = dir / "abi1.yaml",
                      out = dir / ("out" + std::to_string(built) + ".h5");
    WriteFile(config, "name: abi1\nseed: 12\nkernel: {plugin: " + (built ? rebuilt : old_abi) +
                          "}\nparameters:\n  x: {linspace: [0.5, 2, 7]}\n  n: {range: [1, 4]}\n"
                          "  label: {values: [a, bcd]}\nrepeat: 2\noutput: {path: " +
                          out + "}\n");
    const RunResult r = RunSweep({"run", config, "-q", "-j", "2", "--chunk-size", "5"}, dir.path());
    ASSERT_EQ(r.code, 0) << r.err;
    files[built] = ResultsAndParams(out);
  }
  EXPECT_TRUE(files[0] == files[1]) << "the ABI 1 build and today's differ";

  // The closed form, in C order over x (7), n (3), label (2), replicate (2).
  const std::string out = dir / "out0.h5";
  const std::vector<double> value = ReadDataset<double>(out, "/value");
  const std::vector<int64_t> code = ReadDataset<int64_t>(out, "/code");
  const std::vector<double> trace = ReadDataset<double>(out, "/trace");
  ASSERT_EQ(value.size(), 84u);
  ASSERT_EQ(trace.size(), 3u * 84);
  for (uint64_t p = 0; p < 84; ++p) {
    const double x = 0.5 + 0.25 * double(p / 12);
    const int64_t n = 1 + int64_t(p / 4 % 3);
    const size_t label = p / 2 % 2 == 0 ? 1 : 3;
    const uint64_t seed =
        DocumentedSeed(12,
                       {NumberParam("x", internal::Linspace(0.5, 2, 7, int64_t(p / 12))),
                        IntegerParam("n", n), StringParam("label", label == 1 ? "a" : "bcd")},
                       p % 2);
    const double u = double(seed >> 11) * 0x1.0p-53;
    EXPECT_EQ(value[p], x * double(n) + double(label) + u) << p;
    EXPECT_EQ(code[p], 10 * n + int64_t(label)) << p;
    EXPECT_EQ(trace[3 * p], x) << p;
    EXPECT_EQ(trace[3 * p + 1], double(n)) << p;
    EXPECT_EQ(trace[3 * p + 2], u) << p;
  }
}

// What a plugin declares is checked before anything runs: an output without a name, empty, not
// an identifier, twice, of a size beyond 64 bits (a point's or all points'), or named like what
// the file holds already, is a config error at `kernel.plugin` naming the plugin and the output
// (exit 2, one line, nothing written), for validate, plan and run alike.
TEST(PluginDeclarations, EachBadOutputIsALocatedErrorNamingThePluginAndTheOutput) {
  TempDir dir;
  const std::string plugin = SWEEP_BAD_DECLS_PLUGIN;
  const std::string at = "c.yaml:2:1: kernel.plugin: plugin `" + plugin + "` declares output ";
  const std::vector<std::pair<int, std::string>> cases = {
      {1, at + "1 without a name (NULL)"},
      {2, at + "1 with an empty name"},
      {3, at + "`a/b`: an output's name is an identifier (letters, digits and `_`, not first a "
               "digit), since it names a variable of the output file"},
      {4, at + "`z`: [1099511627776, 1099511627776] float64 values a point take more than 2^64 "
               "bytes"},
      {5, at + "`chunks`: the name of the output file's chunk table; rename the output"},
      {6, at + "`y` twice"},
      {7, at + "`replicate`: the name of a dimension of the sweep; rename the output"},
      {8, at + "`z`: 6 points of 9223372036854775808 bytes (with the outputs before it) take "
               "more than 2^64 bytes"}};
  for (const auto& [mistake, message] : cases) {
    WriteFile(dir / "c.yaml", "name: p\nkernel: {plugin: " + plugin +
                                  ", options: {mistake: " + std::to_string(mistake) +
                                  "}}\nparameters:\n  x: {values: [1, 2, 3]}\nrepeat: 2\n"
                                  "output: {path: out.h5}\n");
    for (const char* command : {"validate", "plan", "run"}) {
      const RunResult r = RunSweep({command, "c.yaml"}, dir.path());
      EXPECT_EQ(r.code, 2) << command << " mistake " << mistake << ": " << r.err;
      EXPECT_NE(r.err.find("sweep: " + message), std::string::npos)
          << command << " mistake " << mistake << ": " << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
    }
  }
  WriteFile(dir / "c.yaml", "name: p\nkernel: {plugin: " + plugin +
                                "}\nparameters:\n  x: {values: [1, 2, 3]}\nrepeat: 2\n"
                                "output: {path: out.h5}\n");
  const RunResult fine = RunSweep({"run", "c.yaml", "-q"}, dir.path());
  EXPECT_EQ(fine.code, 0) << fine.err;
}

TEST(PluginLoad, MissingLibraryOrEntrySymbolIsAClearError) {
  TempDir dir;
  const std::string missing = PluginConfig(dir, "./nope.so");
  const RunResult r = RunSweep({"run", missing}, dir.path());
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "kernel.plugin: cannot load " + dir / "nope.so" + ": "));
  EXPECT_TRUE(Contains(r.err, "No such file or directory")) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.h5"));
  // A real shared library that is not a plugin: the one that holds cos().
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(static_cast<double (*)(double)>(&::cos)), &info), 0);
  const RunResult libm = RunSweep({"validate", PluginConfig(dir, info.dli_fname)}, dir.path());
  EXPECT_EQ(libm.code, 2);
  EXPECT_TRUE(Contains(libm.err, "does not export sweep_kernel_entry()")) << libm.err;
}

}  // namespace
}  // namespace sweep
