// A libFuzzer target over everything a hostile config file reaches before a run starts: YAML
// parsing and schema checks (ParseConfig), the sweep's space (Space), the kernel binding
// (BindKernel) and resolving the first and last point. A line `#--set key.path=value` (a YAML
// comment, so the file reads the same) is also applied as a `--set`, so overrides and the
// config they rewrite (written back out as YAML) are fuzzed too.
//
// The contract under test: whatever the bytes, these either succeed or throw sweep::Error
// (ConfigError derives from it). Any other exception, a crash, a sanitizer report, a leak or a
// timeout is a finding. Built only with -DSWEEP_FUZZ=ON (clang); scripts/fuzz builds and runs it.
//
// A config naming a plugin is not bound: BindKernel() would dlopen() whatever path the fuzzer
// wrote, and loading a library runs its constructors, which is the plugin author's contract, not
// the config reader's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "driver/binding.h"
#include "driver/space.h"
#include "io/config.h"
#include "io/error.h"

namespace {

// The `#--set ` lines of the text, as --set arguments.
std::vector<std::string> Overrides(const std::string& text) {
  std::vector<std::string> overrides;
  const std::string marker = "#--set ";
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;
    const size_t end = text.find('\n', at);
    overrides.push_back(text.substr(at + marker.size(), end == std::string::npos
                                                            ? std::string::npos
                                                            : end - at - marker.size()));
  }
  return overrides;
}

void Exercise(const std::string& text) {
  const sweep::Config config = sweep::ParseConfig(text, "fuzz.yaml", Overrides(text));
  const sweep::Space space(config);
  std::vector<sweep_value> values(space.parameter_names().size());
  if (space.points() > 0) {
    space.Resolve(0, values.data());
    space.Resolve(space.points() - 1, values.data());
    (void)space.Seed(space.points() - 1);
  }
  if (!config.kernel.plugin.empty()) return;
  const sweep::KernelBinding binding = sweep::BindKernel(config, space);
  for (const sweep_output_decl& output : binding.outputs) (void)sweep::OutputBytesPerPoint(output);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    Exercise(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const sweep::Error&) {
    // The documented way to refuse a config.
  }
  return 0;
}
