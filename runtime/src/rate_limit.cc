#include "mc/runtime/rate_limit.h"

#include <algorithm>
#include <cmath>

namespace mc {

namespace {

// Past this a wait means "practically never"; keeps llround and callers' now + wait far from
// overflow.
constexpr double kMaxWaitNanos = 1e18;

}  // namespace

TokenBucket::TokenBucket(double qps, int burst, const Clock& clock)
    : qps_(qps),
      burst_(static_cast<double>(std::max(1, burst))),
      clock_(clock),
      tokens_(burst_),
      last_(clock.now()) {}

std::chrono::nanoseconds TokenBucket::reserve() {
  // Written so that NaN is off too. Untouched state also keeps a negative qps from draining
  // the bucket through a negative refill.
  if (!(qps_ > 0)) {
    return std::chrono::nanoseconds(0);
  }
  std::lock_guard lock(mutex_);
  auto now = clock_.now();
  if (now > last_) {
    double refill = std::chrono::duration<double>(now - last_).count() * qps_;
    tokens_ = std::min(burst_, tokens_ + refill);
    last_ = now;
  }
  // Tokens may go negative: each reservation queues behind the ones already waiting.
  tokens_ -= 1;
  if (tokens_ >= 0) {
    return std::chrono::nanoseconds(0);
  }
  double nanos = std::min(-tokens_ / qps_ * 1e9, kMaxWaitNanos);
  return std::chrono::nanoseconds(std::llround(nanos));
}

}  // namespace mc
