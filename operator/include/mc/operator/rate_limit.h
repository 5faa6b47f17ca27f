#pragma once

#include <chrono>
#include <mutex>

#include "mc/operator/clock.h"

namespace mc {

// A token bucket: `qps` tokens a second, holding at most `burst`. reserve() takes a token now
// and says how long the caller must wait before using it (zero when one was in the bucket), so
// callers that wait as told are spaced at `qps` after the burst. Thread-safe.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst, const Clock& clock);

  std::chrono::nanoseconds reserve();

 private:
  const double qps_;
  const double burst_;
  const Clock& clock_;
  std::mutex mutex_;
  double tokens_;
  Clock::TimePoint last_;
};

}  // namespace mc
