#include "driver/worker.h"

// The spawned worker's executable: see SpawnedWorkerMain() in driver/worker.h.
int main() { return sweep::SpawnedWorkerMain(); }
