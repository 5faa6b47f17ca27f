#pragma once

#include <chrono>

namespace mc {

// Time is injected so tests drive it: code that waits, backs off or stamps times asks a Clock
// instead of reading std::chrono directly. Implementations are thread-safe.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  // Monotonic time, for deadlines and delays; never goes back on the real clock.
  virtual TimePoint now() const = 0;
  // Calendar time, for timestamps written into objects and logs; may jump.
  virtual std::chrono::system_clock::time_point wallNow() const = 0;
};

// The real clock: steady_clock and system_clock.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  std::chrono::system_clock::time_point wallNow() const override;
};

// One shared SystemClock for the process; it has no state, so sharing it costs nothing.
const Clock& systemClock();

}  // namespace mc
