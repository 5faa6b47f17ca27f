#include "mc/runtime/workqueue.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace mc {

namespace {

using std::chrono::nanoseconds;

// Past this a delay means "practically never"; keeps the arithmetic below far from overflow.
constexpr double kMaxDelayNanos = 1e18;

nanoseconds nanosFrom(double nanos) {
  return nanoseconds(std::llround(std::min(nanos, kMaxDelayNanos)));
}

// now + delay without overflowing the clock's range.
Clock::TimePoint deadline(Clock::TimePoint now, nanoseconds delay) {
  if (delay > Clock::TimePoint::max() - now) {
    return Clock::TimePoint::max();
  }
  return now + delay;
}

}  // namespace

WorkQueue::WorkQueue(const Clock& clock, WorkQueueOptions options)
    : clock_(clock), options_(options), bucket_(options.qps, options.burst, clock) {}

WorkQueue::~WorkQueue() = default;

void WorkQueue::add(const std::string& key) {
  std::unique_lock lock(mutex_);
  if (addLocked(key)) {
    notifyAndUnlock(lock, false);
  }
}

void WorkQueue::addAfter(const std::string& key, nanoseconds delay) {
  std::unique_lock lock(mutex_);
  bool earlier = false;
  bool ready = addAfterLocked(key, delay, earlier);
  if (ready || earlier) {
    // An earlier deadline changes how long every blocked get() should sleep.
    notifyAndUnlock(lock, earlier);
  }
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::unique_lock lock(mutex_);
  if (shuttingDown_) {
    return;
  }
  ++retriesTotal_;
  bool earlier = false;
  bool ready = addAfterLocked(key, rateLimitLocked(key), earlier);
  if (ready || earlier) {
    notifyAndUnlock(lock, earlier);
  }
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mutex_);
  failures_.erase(key);
}

int WorkQueue::numRequeues(const std::string& key) const {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

std::optional<std::string> WorkQueue::tryGet() {
  std::unique_lock lock(mutex_);
  if (shuttingDown_) {
    return std::nullopt;
  }
  std::size_t promoted = promoteDueLocked();
  std::optional<std::string> key = popLocked();
  if (promoted > 0 && !queue_.empty()) {
    // Keys that came due together: other workers sleep until a deadline or a notification.
    notifyAndUnlock(lock, true);
  }
  return key;
}

std::optional<std::string> WorkQueue::get() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (shuttingDown_) {
      return std::nullopt;
    }
    std::size_t promoted = promoteDueLocked();
    if (std::optional<std::string> key = popLocked()) {
      if (promoted > 0 && !queue_.empty()) {
        notifyAndUnlock(lock, true);
      }
      return key;
    }
    if (waiting_.empty()) {
      readyCv_.wait(lock);
    } else {
      // A clock's time point may not be steady_clock's own, so wait for a duration measured on
      // the injected clock rather than until an absolute time.
      readyCv_.wait_for(lock, waiting_.begin()->first - clock_.now());
    }
  }
}

void WorkQueue::done(const std::string& key) {
  std::unique_lock lock(mutex_);
  if (processing_.erase(key) == 0) {
    // Not handed out: re-queueing a dirty key here would queue it twice.
    return;
  }
  if (shuttingDown_) {
    dirty_.erase(key);
    if (processing_.empty()) {
      idleCv_.notify_all();
    }
    return;
  }
  if (dirty_.contains(key)) {
    queue_.push_back(key);
    notifyAndUnlock(lock, false);
  }
}

std::size_t WorkQueue::size() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::size_t WorkQueue::waitingSize() const {
  std::lock_guard lock(mutex_);
  return waiting_.size();
}

std::optional<Clock::TimePoint> WorkQueue::nextReadyAt() const {
  std::lock_guard lock(mutex_);
  if (shuttingDown_ || waiting_.empty()) {
    return std::nullopt;
  }
  return waiting_.begin()->first;
}

void WorkQueue::shutDown() {
  std::unique_lock lock(mutex_);
  bool first = !shuttingDown_;
  shuttingDown_ = true;
  drain_ = false;
  idleCv_.notify_all();
  if (first) {
    notifyAndUnlock(lock, true);
  }
}

void WorkQueue::shutDownWithDrain() {
  std::unique_lock lock(mutex_);
  bool first = !shuttingDown_;
  shuttingDown_ = true;
  drain_ = true;
  if (first) {
    notifyAndUnlock(lock, true);
    lock.lock();
  }
  idleCv_.wait(lock, [this] { return processing_.empty() || !drain_; });
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mutex_);
  return shuttingDown_;
}

void WorkQueue::setReadyListener(std::function<void()> listener) {
  auto shared = std::make_shared<const std::function<void()>>(std::move(listener));
  std::lock_guard lock(mutex_);
  listener_ = std::move(shared);
}

std::uint64_t WorkQueue::addsTotal() const {
  std::lock_guard lock(mutex_);
  return addsTotal_;
}

std::uint64_t WorkQueue::retriesTotal() const {
  std::lock_guard lock(mutex_);
  return retriesTotal_;
}

bool WorkQueue::addLocked(const std::string& key) {
  if (shuttingDown_ || dirty_.contains(key)) {
    return false;
  }
  ++addsTotal_;
  dirty_.insert(key);
  if (processing_.contains(key)) {
    // done() re-queues it; handing it out now would let two workers hold one key.
    return false;
  }
  queue_.push_back(key);
  return true;
}

bool WorkQueue::addAfterLocked(const std::string& key, nanoseconds delay, bool& earlier) {
  if (shuttingDown_) {
    return false;
  }
  if (delay <= nanoseconds::zero()) {
    return addLocked(key);
  }
  Clock::TimePoint readyAt = deadline(clock_.now(), delay);
  if (auto it = waitingByKey_.find(key); it != waitingByKey_.end()) {
    if (it->second->first <= readyAt) {
      return false;
    }
    waiting_.erase(it->second);
    waitingByKey_.erase(it);
  }
  earlier = waiting_.empty() || readyAt < waiting_.begin()->first;
  waitingByKey_.emplace(key, waiting_.emplace(readyAt, key));
  return false;
}

std::size_t WorkQueue::promoteDueLocked() {
  Clock::TimePoint now = clock_.now();
  std::size_t promoted = 0;
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    auto node = waiting_.extract(waiting_.begin());
    waitingByKey_.erase(node.mapped());
    if (addLocked(node.mapped())) {
      ++promoted;
    }
  }
  return promoted;
}

std::optional<std::string> WorkQueue::popLocked() {
  if (queue_.empty()) {
    return std::nullopt;
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(key);
  dirty_.erase(key);
  return key;
}

nanoseconds WorkQueue::rateLimitLocked(const std::string& key) {
  // Per key, as client-go's ItemExponentialFailureRateLimiter.
  int& failures = failures_[key];
  int exponent = std::min(failures, 1023);  // 2^1023 is still a finite double
  if (failures < std::numeric_limits<int>::max()) {
    ++failures;
  }
  double backoff = std::ldexp(static_cast<double>(options_.baseDelay.count()), exponent);
  nanoseconds perKey = backoff >= static_cast<double>(options_.maxDelay.count())
                           ? options_.maxDelay
                           : nanosFrom(backoff);

  // Overall, as golang.org/x/time/rate's Limiter.Reserve(): the bucket may go into debt, and
  // the debt is the wait, so retries beyond the burst are spread out at qps.
  return std::max(perKey, bucket_.reserve());
}

void WorkQueue::notifyAndUnlock(std::unique_lock<std::mutex>& lock, bool all) {
  Listener listener = listener_;
  lock.unlock();
  if (all) {
    readyCv_.notify_all();
  } else {
    readyCv_.notify_one();
  }
  if (listener && *listener) {
    (*listener)();
  }
}

}  // namespace mc
