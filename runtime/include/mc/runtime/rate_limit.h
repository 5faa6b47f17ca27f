#pragma once

#include <chrono>
#include <mutex>

#include "mc/common/clock.h"

namespace mc {

// A token bucket, as golang.org/x/time/rate's Limiter used through Reserve(): `qps` tokens a
// second, holding at most `burst` (at least 1), full when made. reserve() always takes a token
// and says how long the caller must wait before using it: zero while the bucket has one, else
// the time the bucket needs to pay the debt back. Tokens may go negative, so each reservation
// queues behind those already waiting and callers that wait as told are spaced 1/qps apart
// after the burst; a caller that reserves ahead of time simply waits longer.
//
// The details both users (the kube client and the work queue's retry limiter) rely on:
// - qps <= 0 (or NaN) turns the limit off: reserve() returns zero and the bucket is not touched.
// - Waits are rounded to the nearest nanosecond and capped at 1e18 ns (about 31 years, i.e.
//   "practically never"), so a huge debt at a tiny qps cannot overflow.
// - A clock that does not move forward neither refills nor drains the bucket.
//
// Threads: any thread may call reserve(); a mutex guards the state. The clock must outlive
// the bucket.
class TokenBucket {
 public:
  TokenBucket(double qps, int burst, const Clock& clock);
  TokenBucket(const TokenBucket&) = delete;
  TokenBucket& operator=(const TokenBucket&) = delete;

  std::chrono::nanoseconds reserve();

 private:
  const double qps_;
  const double burst_;
  const Clock& clock_;
  std::mutex mutex_;
  double tokens_;
  Clock::TimePoint last_;  // when tokens_ was last refilled
};

}  // namespace mc
