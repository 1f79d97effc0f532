#include "driver/stored_sweep.h"

#include <fmt/format.h>

#include "driver/fingerprint.h"
#include "io/config.h"
#include "io/error.h"

namespace sweep {

Config StoredConfig(const OutputFile& file) {
  return ParseConfig(file.layout().config_text, file.layout().config_file);
}

Space StoredSpace(const OutputFile& file) { return StoredSpace(file, StoredConfig(file)); }

Space StoredSpace(const OutputFile& file, const Config& config) {
  const OutputLayout& layout = file.layout();
  Space space(config, SeedRuleOf(layout.fingerprint));
  if (space.points() != layout.points) {
    throw Error(fmt::format("{}: its stored config gives {} points, but the file holds {}",
                            file.path(), space.points(), layout.points));
  }
  return space;
}

}  // namespace sweep
