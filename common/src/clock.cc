#include "mc/common/clock.h"

namespace mc {

Clock::TimePoint SystemClock::now() const { return std::chrono::steady_clock::now(); }

std::chrono::system_clock::time_point SystemClock::wallNow() const {
  return std::chrono::system_clock::now();
}

const Clock& systemClock() {
  static const SystemClock clock;
  return clock;
}

}  // namespace mc
