#pragma once

#include <chrono>
#include <mutex>

#include "mc/common/clock.h"

// Not mc::testing: inside namespace mc that name would hide GoogleTest's ::testing.
namespace mc::test {

// A Clock that moves only when a test moves it. It starts far from zero so that code which
// subtracts a delay from now() never lands before the epoch of steady_clock. The wall clock
// moves in step with the monotonic one. Any thread may read or move it.
class FakeClock final : public mc::Clock {
 public:
  static constexpr std::chrono::hours kStart{24 * 365};
  // 2024-01-01T00:00:00Z, so timestamps in test output are recognisable.
  static constexpr std::chrono::seconds kWallStart{1704067200};

  TimePoint now() const override {
    std::lock_guard lock(mutex_);
    return now_;
  }

  std::chrono::system_clock::time_point wallNow() const override {
    std::lock_guard lock(mutex_);
    return wall_;
  }

  void advance(std::chrono::nanoseconds by) {
    std::lock_guard lock(mutex_);
    now_ += by;
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
  }

  // Moves both clocks by the same amount; going backwards is allowed, for tests of code that
  // must cope with a clock that does not move forward.
  void set(TimePoint to) {
    std::lock_guard lock(mutex_);
    wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(to - now_);
    now_ = to;
  }

 private:
  mutable std::mutex mutex_;
  TimePoint now_{kStart};
  std::chrono::system_clock::time_point wall_{kWallStart};
};

}  // namespace mc::test
