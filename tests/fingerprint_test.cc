#include "driver/fingerprint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "driver/binding.h"
#include "driver/input_guard.h"
#include "driver/space.h"
#include "io/config.h"
#include "io/inputs.h"
#include "tests/temp_dir.h"

namespace sweep {
namespace {

// The fingerprint of the sweep `yaml` (a config file in `dir`), its plugin and inputs as they
// are on disk now.
nlohmann::json FingerprintOf(const TempDir& dir, const std::string& yaml) {
  const Config config = ParseConfig(yaml, dir / "c.yaml");
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  const PublishedInputs published = PublishInputs(config.inputs);
  const MappedInputs inputs(published.inputs());
  const InputGuard guard(published.inputs(), inputs);
  return Fingerprint(binding, config, inputs, guard.start_hashes());
}

// A float64 npy file of `n` values 0, 1, ...
void WriteNpy(const std::string& path, int n) {
  std::string dict =
      "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::string file = "\x93NUMPY\x01";
  file += '\0';
  file += char(dict.size() & 0xff);
  file += char(dict.size() >> 8);
  file += dict;
  for (int i = 0; i < n; ++i) {
    const double x = i;
    file.append(reinterpret_cast<const char*>(&x), sizeof x);
  }
  std::ofstream(path, std::ios::binary) << file;
}

void SetMtime(const std::string& path, time_t seconds) {
  const timespec times[2] = {{seconds, 0}, {seconds, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

std::string SumConfig(const std::string& input) {
  return "name: s\nkernel: {name: array_sum}\ninputs:\n  data: " + input +
         "\nparameters:\n  scale: {linspace: [1, 2, 2]}\noutput: {path: out.h5}\n";
}

using Changes = std::vector<std::string>;

TEST(FingerprintTest, TheSameSweepHasNoChanges) {
  TempDir dir;
  WriteNpy(dir / "data.npy", 4);
  const std::string yaml = SumConfig("{npy: data.npy}");
  EXPECT_EQ(FingerprintChanges(FingerprintOf(dir, yaml), FingerprintOf(dir, yaml),
                               ParseConfig(yaml, dir / "c.yaml")),
            Changes{});
}

TEST(FingerprintTest, AKernelOptionIsReportedWithItsNewValue) {
  TempDir dir;
  const auto lorenz = [&](const std::string& steps) {
    return FingerprintOf(dir, "name: l\nkernel:\n  name: lorenz\n  options: {steps: " + steps +
                                  ", dt: 0.005}\nparameters:\n  rho: {linspace: [0, 50, 3]}\n"
                                  "  sigma: 10\n  beta: 2.5\noutput: {path: out.h5}\n");
  };
  EXPECT_EQ(FingerprintChanges(lorenz("4000"), lorenz("4001"), Config{}),
            Changes{"options.steps: now 4001"});
}

// Sweeps before kernel ABI 2 recorded ABI 1 for every kernel; the same kernel now built for ABI 2
// is no change (its batched entry gives the same bytes), any other ABI is.
TEST(FingerprintTest, AKernelOfAbiTwoIsNoChangeFromAbiOne) {
  TempDir dir;
  const nlohmann::json now =
      FingerprintOf(dir,
                    "name: q\nkernel: {name: square}\nparameters:\n  x: {range: [0, 3]}\n"
                    "output: {path: out.h5}\n");
  ASSERT_EQ(now["kernel"]["abi"], SWEEP_KERNEL_ABI);
  nlohmann::json older = now;
  older["kernel"]["abi"] = 1;
  EXPECT_EQ(FingerprintChanges(older, now, Config{}), Changes{});
  older["kernel"]["abi"] = 3;
  EXPECT_EQ(FingerprintChanges(older, now, Config{}), Changes{"kernel.abi: now 2"});
}

// A built-in records the revision of what it computes. Fingerprints from before revisions were
// recorded have none: that is revision 1, no change for a kernel still at 1 (square), a change
// for array_sum, whose sums' last bits moved at revision 2, named as such.
TEST(FingerprintTest, ABuiltinsRevisionIsRecordedAndAnOlderOneRefused) {
  TempDir dir;
  const nlohmann::json square =
      FingerprintOf(dir,
                    "name: q\nkernel: {name: square}\nparameters:\n  x: {range: [0, 3]}\n"
                    "output: {path: out.h5}\n");
  ASSERT_EQ(square["kernel"]["revision"], 1);
  nlohmann::json older = square;
  older["kernel"].erase("revision");
  EXPECT_EQ(FingerprintChanges(older, square, Config{}), Changes{});

  const std::string yaml = SumConfig("{generate: arange, shape: [40]}");
  const nlohmann::json sum = FingerprintOf(dir, yaml);
  ASSERT_EQ(sum["kernel"]["revision"], 2);
  older = sum;
  older["kernel"].erase("revision");
  EXPECT_EQ(FingerprintChanges(older, sum, ParseConfig(yaml, dir / "c.yaml")),
            Changes{"kernel.revision: built-in `array_sum` now computes other bytes than the "
                    "revision that wrote this output (2 now, 1 before)"});
  older["kernel"]["revision"] = 2;
  EXPECT_EQ(FingerprintChanges(older, sum, ParseConfig(yaml, dir / "c.yaml")), Changes{});
}

// A command kernel's templates are read when a run starts: their bytes are in the fingerprint,
// so an edited template is a change, named by its file name in the work folder. A fingerprint
// from before templates were recorded is taken at its word.
TEST(FingerprintTest, ACommandKernelsTemplateIsJudgedByItsBytes) {
  TempDir dir;
  std::filesystem::create_directories(dir / "in");
  const std::string yaml =
      "name: t\nkernel:\n  command: [/bin/echo, y 1]\n"
      "  files: {input.nml: input.nml.in, sub/b.txt: in/b.in}\n"
      "  outputs: {y: float64}\nparameters:\n  x: {values: [1, 2]}\noutput: {path: out.h5}\n";
  std::ofstream(dir / "input.nml.in") << "&params\n  x = {x}\n/\n";
  std::ofstream(dir / "in/b.in") << "b\n";
  const nlohmann::json before = FingerprintOf(dir, yaml);
  ASSERT_TRUE(before["kernel"].contains("files_xxh3")) << before.dump();
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, yaml), Config{}), Changes{});
  std::ofstream(dir / "input.nml.in") << "&params\n  x = {x}\n  y = 2\n/\n";
  std::ofstream(dir / "in/b.in") << "c\n";
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, yaml), Config{}),
            (Changes{"kernel.files.input.nml: its template's bytes changed",
                     "kernel.files.sub/b.txt: its template's bytes changed"}));
  nlohmann::json older = before;
  older["kernel"].erase("files_xxh3");
  EXPECT_EQ(FingerprintChanges(older, FingerprintOf(dir, yaml), Config{}), Changes{});
}

// What a command kernel sets in its program's environment is part of what it computes with:
// shards of one output must agree on it.
TEST(FingerprintTest, ACommandKernelsEnvIsRecordedAsWritten) {
  TempDir dir;
  const std::string yaml =
      "name: t\nkernel:\n  command: [/bin/echo, y 1]\n"
      "  env: {OMP_NUM_THREADS: 1, SEED: '{seed31}'}\n"
      "  outputs: {y: float64}\nparameters:\n  x: {values: [1, 2]}\noutput: {path: out.h5}\n";
  const nlohmann::json before = FingerprintOf(dir, yaml);
  EXPECT_EQ(before["kernel"]["env"],
            nlohmann::json({{"OMP_NUM_THREADS", "1"}, {"SEED", "{seed31}"}}));
  std::string edited = yaml;
  edited.replace(edited.find("OMP_NUM_THREADS: 1"), 18, "OMP_NUM_THREADS: 4");
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, edited), Config{}),
            Changes{"kernel.env.OMP_NUM_THREADS: now \"4\""});
  // Without `env:` nothing is recorded, so outputs made before it compare as they did.
  std::string none = yaml;
  none.erase(none.find("  env:"), none.find("  outputs:") - none.find("  env:"));
  EXPECT_FALSE(FingerprintOf(dir, none)["kernel"].contains("env"));
}

// Writes `values` as the float64 npy file `path`.
void WriteNpyValues(const std::string& path, const std::vector<double>& values) {
  WriteNpy(path, int(values.size()));
  std::fstream file(path, std::ios::binary | std::ios::in | std::ios::out);
  file.seekp(-std::streamoff(values.size() * sizeof(double)), std::ios::end);
  file.write(reinterpret_cast<const char*>(values.data()),
             std::streamsize(values.size() * sizeof(double)));
}

TEST(FingerprintTest, AnInputFileIsJudgedByItsBytesNotItsTime) {
  TempDir dir;
  const std::string yaml = SumConfig("{npy: data.npy}");
  WriteNpy(dir / "data.npy", 4);
  SetMtime(dir / "data.npy", 1'000'000'000);
  const nlohmann::json before = FingerprintOf(dir, yaml);
  const Config config = ParseConfig(yaml, dir / "c.yaml");

  // Touched, then replaced by a copy: the same bytes.
  SetMtime(dir / "data.npy", 1'000'000'007);
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, yaml), config), Changes{});
  std::filesystem::copy_file(dir / "data.npy", dir / "copy.npy");
  std::filesystem::rename(dir / "copy.npy", dir / "data.npy");
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, yaml), config), Changes{});

  // Edited in place, with its size and time as they were.
  WriteNpyValues(dir / "data.npy", {0, 1, 2, 3.5});
  SetMtime(dir / "data.npy", 1'000'000'000);
  const nlohmann::json edited = FingerprintOf(dir, yaml);
  const Changes changes = FingerprintChanges(before, edited, config);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0], "inputs.data: its bytes changed (xxh3 " +
                            before["inputs"]["data"]["xxh3"].dump() + " before, " +
                            edited["inputs"]["data"]["xxh3"].dump() + " now)");
  EXPECT_NE(before["inputs"]["data"]["xxh3"], edited["inputs"]["data"]["xxh3"]);

  // One more value: the shape says it too.
  WriteNpy(dir / "data.npy", 5);
  const Changes grown = FingerprintChanges(before, FingerprintOf(dir, yaml), config);
  ASSERT_EQ(grown.size(), 2u);
  EXPECT_EQ(grown[0], "inputs.data.shape.0: now 5");
  EXPECT_EQ(grown[1].rfind("inputs.data: its bytes changed", 0), 0u) << grown[1];
}

// Outputs made by an older sweep hold each file's size and time instead of its hash: those keep
// deciding, so such an output can still be resumed.
TEST(FingerprintTest, AnOlderFingerprintIsComparedBySizeAndTime) {
  TempDir dir;
  const std::string yaml = SumConfig("{npy: data.npy}");
  WriteNpy(dir / "data.npy", 4);
  SetMtime(dir / "data.npy", 1'000'000'000);
  const Config config = ParseConfig(yaml, dir / "c.yaml");
  nlohmann::json older = FingerprintOf(dir, yaml);
  older["inputs"]["data"].erase("xxh3");
  older["inputs"]["data"]["file"] = {{"size", std::filesystem::file_size(dir / "data.npy")},
                                     {"mtime_ns", int64_t{1'000'000'000} * 1'000'000'000}};
  EXPECT_EQ(FingerprintChanges(older, FingerprintOf(dir, yaml), config), Changes{});
  SetMtime(dir / "data.npy", 1'000'000'007);
  EXPECT_EQ(FingerprintChanges(older, FingerprintOf(dir, yaml), config),
            Changes{"inputs.data.file.mtime_ns: now 1000000007000000000"});
}

// `sweep plan` sizes the output from a fingerprint made without reading the inputs: its text must
// be as long as the real one.
TEST(FingerprintTest, APlanFingerprintIsAsLongAsTheRealOne) {
  TempDir dir;
  WriteNpy(dir / "data.npy", 4);
  const std::string yaml = SumConfig("{npy: data.npy}");
  const Config config = ParseConfig(yaml, dir / "c.yaml");
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  const nlohmann::json planned =
      Fingerprint(binding, config, std::vector<InputShape>{{SWEEP_FLOAT64, {4}}});
  EXPECT_EQ(planned.dump().size(), FingerprintOf(dir, yaml).dump().size());
}

TEST(FingerprintTest, AGeneratedInputIsJudgedByItsRecipeAndItsBytes) {
  TempDir dir;
  const nlohmann::json before =
      FingerprintOf(dir, SumConfig("{generate: normal, shape: [8], seed: 7}"));
  const Changes changes = FingerprintChanges(
      before, FingerprintOf(dir, SumConfig("{generate: normal, shape: [8], seed: 8}")), Config{});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0], "inputs.data.generate.seed: now 8");
  EXPECT_EQ(changes[1].rfind("inputs.data: its bytes changed", 0), 0u) << changes[1];
}

TEST(FingerprintTest, ARebuiltPluginIsReportedByItsBytes) {
  TempDir dir;
  const std::string plugin = dir / "libplugin.so";
  std::filesystem::copy_file(SWEEP_EXAMPLE_PLUGIN, plugin);
  const std::string yaml =
      "name: p\nkernel:\n  plugin: " + plugin +
      "\n  options: {omega0: 1.0, steps: 20, periods: 6, samples: 2}\nparameters:\n"
      "  omega: {linspace: [0.2, 2.0, 3]}\n  zeta: 0.1\noutput: {path: out.h5}\n";
  const Config config = ParseConfig(yaml, dir / "c.yaml");
  const Space space(config);
  const KernelBinding binding = BindKernel(config, space);
  const MappedInputs inputs({});
  const nlohmann::json before = Fingerprint(binding, config, inputs, {});
  EXPECT_TRUE(before["kernel"].contains("library_xxh3"));
  EXPECT_FALSE(before["kernel"].contains("sweep_version"));
  std::ofstream(plugin, std::ios::binary | std::ios::app) << "rebuilt";
  const Changes changes =
      FingerprintChanges(before, Fingerprint(binding, config, inputs, {}), config);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].rfind("kernel.library_xxh3: now \"", 0), 0u) << changes[0];
}

TEST(FingerprintTest, AddedAndRemovedKeysAreNamed) {
  const nlohmann::json before = {{"inputs", {{"a", 1}}}};
  const nlohmann::json now = {{"inputs", {{"b", 1}}}};
  EXPECT_EQ(FingerprintChanges(before, now, Config{}),
            (Changes{"inputs.a: removed", "inputs.b: added"}));
}

}  // namespace
}  // namespace sweep
