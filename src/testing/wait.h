// Test support: bounded polling for what another thread makes true. Header-only; for tests.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace berth::test_support {

// True once `condition` holds (checked every 5 ms), false after `limit`.
inline bool WaitFor(const std::function<bool()>& condition,
                    std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace berth::test_support
