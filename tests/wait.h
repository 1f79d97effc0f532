// How a test waits for something another process will do: on a deadline, never on a count of
// polls or a sleep that must outlast it (tests/README.md, "How tests wait").
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sweep::testing {

// How long a test waits for what another process will do before it calls it a failure: far
// longer than anything takes on a loaded machine under a sanitizer, since a wait that passes costs
// only what it waited.
inline constexpr double kPatienceSeconds = 120;

// Polls `ready` every 5 ms until it is true (returns true) or `seconds` have passed (false).
inline bool WaitUntil(const std::function<bool()>& ready, double seconds = kPatienceSeconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace sweep::testing
