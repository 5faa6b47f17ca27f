#include "mc/runtime/writes_in_flight.h"

namespace mc::kube {
namespace {
constexpr size_t kSweepAt = 1024;
}  // namespace

void WritesInFlight::wrote(const std::string& key, std::string replaced, std::string what) {
  std::lock_guard lock(mutex_);
  auto now = clock_.now();
  if (writes_.size() >= kSweepAt) {  // entries nobody asks about again (a create never scaled)
    std::erase_if(writes_, [&](const auto& entry) { return now - entry.second.at >= grace_; });
  }
  writes_[key] = Write{std::move(replaced), std::move(what), now};
}

bool WritesInFlight::inFlight(const std::string& key, const std::string& cachedVersion,
                              const std::string& what) {
  std::lock_guard lock(mutex_);
  auto it = writes_.find(key);
  if (it == writes_.end()) {
    return false;
  }
  if (it->second.replaced != cachedVersion || clock_.now() - it->second.at >= grace_) {
    writes_.erase(it);  // the cache caught up, or the event is not coming
    return false;
  }
  return it->second.what == what;
}

}  // namespace mc::kube
