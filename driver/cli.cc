#include "driver/cli.h"

#include <cstdio>

#include "io/error.h"

namespace sweep {

int RunCommandLine(int, char**) {
  std::fprintf(stderr, "sweep: not implemented yet\n");
  return int(ExitCode::kFailure);
}

}  // namespace sweep
