#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mc/common/clock.h"

namespace mc::kube {

// Writes a controller made that its informer cache has not shown yet. The cache lags the
// controller's own writes by a watch event, and a reconcile planned on the older version would
// repeat the write (or earn a 409). A write is in flight while the cache still holds the version
// it replaced ("" for a create: the object was absent), for at most `grace`, in case the watch
// event never comes (the object was changed again, or deleted, in between). Thread-safe.
class WritesInFlight {
 public:
  explicit WritesInFlight(const Clock& clock,
                          std::chrono::milliseconds grace = std::chrono::seconds(10))
      : clock_(clock), grace_(grace) {}

  // `what` (e.g. a patch body) over the version `replaced` of the object `key` was written.
  void wrote(const std::string& key, std::string replaced, std::string what = {});

  // Whether a write of `what` to `key` is still in flight while the cache holds `cachedVersion`.
  // Once the cache has moved on (or the grace passed) the write is forgotten.
  bool inFlight(const std::string& key, const std::string& cachedVersion,
                const std::string& what = {});

 private:
  struct Write {
    std::string replaced;
    std::string what;
    Clock::TimePoint at;
  };
  const Clock& clock_;
  std::chrono::milliseconds grace_;
  std::mutex mutex_;
  std::unordered_map<std::string, Write> writes_;
};

}  // namespace mc::kube
