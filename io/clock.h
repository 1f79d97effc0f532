// The two clocks of sweep, in seconds as doubles: wall time for what is recorded (journal records,
// start times), steady time for what is measured (durations, timeouts, rates), which a clock
// change must not disturb.
#pragma once

#include <chrono>

namespace sweep {

// Unix time (UTC), as journals record it.
inline double WallSeconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// A monotonic clock with an arbitrary origin.
inline double SteadySeconds() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace sweep
