#include "mc/operator/rate_limit.h"

#include <algorithm>

namespace mc {

TokenBucket::TokenBucket(double qps, int burst, const Clock& clock)
    : qps_(qps), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock.now()) {}

std::chrono::nanoseconds TokenBucket::reserve() {
  std::lock_guard lock(mutex_);
  auto now = clock_.now();
  if (now > last_) {
    double refill = std::chrono::duration<double>(now - last_).count() * qps_;
    tokens_ = std::min(burst_, tokens_ + refill);
    last_ = now;
  }
  // Tokens may go negative: each reservation queues behind the ones already waiting.
  tokens_ -= 1;
  if (tokens_ >= 0 || qps_ <= 0) {
    return std::chrono::nanoseconds(0);
  }
  return std::chrono::nanoseconds(static_cast<int64_t>(-tokens_ / qps_ * 1e9));
}

}  // namespace mc
