// StoredSweep: the sweep an output file was made from, rebuilt from the config stored in it
// (its `config` and `config_file` attributes, io/output_file.h), for the commands that read an
// output without being given its config: export, report.
#pragma once

#include "driver/space.h"
#include "io/config.h"
#include "io/output_file.h"

namespace sweep {

// The points of the output's stored config.
// THROWS: ConfigError (exit code 2) when the stored config no longer reads (a plugin or input
// it names moved, say); Error (exit code 1) when it gives another number of points than the file
// holds.
Space StoredSpace(const OutputFile& file);
// The same from the stored config already read (StoredConfig).
Space StoredSpace(const OutputFile& file, const Config& config);
// The output's stored config. THROWS: ConfigError as above.
Config StoredConfig(const OutputFile& file);

}  // namespace sweep
