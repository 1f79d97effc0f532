#include "driver/fingerprint.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "driver/binding.h"
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
  return Fingerprint(binding, config, inputs);
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
  EXPECT_EQ(FingerprintChanges(FingerprintOf(dir, yaml), FingerprintOf(dir, yaml)), Changes{});
}

TEST(FingerprintTest, AKernelOptionIsReportedWithItsNewValue) {
  TempDir dir;
  const auto lorenz = [&](const std::string& steps) {
    return FingerprintOf(dir, "name: l\nkernel:\n  name: lorenz\n  options: {steps: " + steps +
                                  ", dt: 0.005}\nparameters:\n  rho: {linspace: [0, 50, 3]}\n"
                                  "  sigma: 10\n  beta: 2.5\noutput: {path: out.h5}\n");
  };
  EXPECT_EQ(FingerprintChanges(lorenz("4000"), lorenz("4001")), Changes{"options.steps: now 4001"});
}

TEST(FingerprintTest, AnInputFileIsJudgedBySizeAndModificationTime) {
  TempDir dir;
  const std::string yaml = SumConfig("{npy: data.npy}");
  WriteNpy(dir / "data.npy", 4);
  SetMtime(dir / "data.npy", 1'000'000'000);
  const nlohmann::json before = FingerprintOf(dir, yaml);

  // Touched only: the same bytes, a new time.
  SetMtime(dir / "data.npy", 1'000'000'007);
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, yaml)),
            Changes{"inputs.data.file.mtime_ns: now 1000000007000000000"});

  // Rewritten with one more value at the old time: size (and shape) say it.
  WriteNpy(dir / "data.npy", 5);
  SetMtime(dir / "data.npy", 1'000'000'000);
  const uint64_t size = std::filesystem::file_size(dir / "data.npy");
  EXPECT_EQ(FingerprintChanges(before, FingerprintOf(dir, yaml)),
            (Changes{"inputs.data.file.size: now " + std::to_string(size),
                     "inputs.data.shape.0: now 5"}));
}

TEST(FingerprintTest, AGeneratedInputIsJudgedByItsRecipe) {
  TempDir dir;
  const nlohmann::json before =
      FingerprintOf(dir, SumConfig("{generate: normal, shape: [8], seed: 7}"));
  EXPECT_EQ(
      FingerprintChanges(before, FingerprintOf(dir, SumConfig("{generate: normal, shape: [8], "
                                                              "seed: 8}"))),
      Changes{"inputs.data.generate.seed: now 8"});
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
  const nlohmann::json before = Fingerprint(binding, config, inputs);
  EXPECT_TRUE(before["kernel"].contains("library_xxh3"));
  EXPECT_FALSE(before["kernel"].contains("sweep_version"));
  std::ofstream(plugin, std::ios::binary | std::ios::app) << "rebuilt";
  const Changes changes = FingerprintChanges(before, Fingerprint(binding, config, inputs));
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].rfind("kernel.library_xxh3: now \"", 0), 0u) << changes[0];
}

TEST(FingerprintTest, AddedAndRemovedKeysAreNamed) {
  const nlohmann::json before = {{"inputs", {{"a", 1}}}};
  const nlohmann::json now = {{"inputs", {{"b", 1}}}};
  EXPECT_EQ(FingerprintChanges(before, now), (Changes{"inputs.a: removed", "inputs.b: added"}));
}

}  // namespace
}  // namespace sweep
