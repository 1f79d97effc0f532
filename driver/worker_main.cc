#include <cstring>

#include "driver/worker.h"
#include "driver/zygote.h"

// The spawned worker's executable: see SpawnedWorkerMain() in driver/worker.h; with `zygote`, a
// forkserver's zygote (driver/zygote.h).
int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "zygote") == 0) return sweep::ZygoteMain(argv[1]);
  return sweep::SpawnedWorkerMain();
}
