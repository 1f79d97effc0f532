#include "driver/stored_sweep.h"

#include <fmt/format.h>

#include "io/config.h"
#include "io/error.h"

namespace sweep {

Space StoredSpace(const OutputFile& file) {
  const OutputLayout& layout = file.layout();
  Space space(ParseConfig(layout.config_text, layout.config_file));
  if (space.points() != layout.points) {
    throw Error(fmt::format("{}: its stored config gives {} points, but the file holds {}",
                            file.path(), space.points(), layout.points));
  }
  return space;
}

}  // namespace sweep
