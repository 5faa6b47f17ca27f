#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "mc/common/clock.h"
#include "mc/runtime/rate_limit.h"

namespace mc {

// The defaults are client-go's DefaultControllerRateLimiter: a retry waits the longer of a
// per-key exponential backoff and an overall token bucket, so one failing key backs off on its
// own while a mass failure (an apiserver outage) cannot flood the apiserver with retries.
struct WorkQueueOptions {
  // Per-key backoff: baseDelay * 2^(failures so far), capped at maxDelay.
  std::chrono::nanoseconds baseDelay = std::chrono::milliseconds(5);
  std::chrono::nanoseconds maxDelay = std::chrono::seconds(1000);
  // Overall bucket: `burst` retries at once, then `qps` per second. qps <= 0 turns it off.
  double qps = 10.0;
  int burst = 100;
};

// The controller work queue, with client-go's guarantees: a key ("namespace/name") is handed to
// at most one worker at a time; adding a queued key again is a no-op; adding a key that is being
// processed marks it dirty and re-queues it when the worker calls done(), so no change is lost.
// Keys come out in FIFO order of readiness. Delayed keys (addAfter, addRateLimited) wait until
// the injected clock reaches their ready time.
//
// Threads: every method may be called from any thread; one mutex guards all state. get() and
// shutDownWithDrain() block, so call them from worker threads or the shutdown path, never from
// an io_context thread. Asio-based workers instead use tryGet(), nextReadyAt() and the ready
// listener. The owner shuts the queue down and joins its workers before destroying it.
class WorkQueue {
 public:
  explicit WorkQueue(const Clock& clock, WorkQueueOptions options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` unless it is queued already; ignored after shutdown.
  void add(const std::string& key);
  // Queues `key` at clock.now() + delay (at once if delay <= 0). A key already waiting keeps
  // the earlier of its two ready times, so a later requeue-after never postpones a sooner one.
  void addAfter(const std::string& key, std::chrono::nanoseconds delay);
  // addAfter with the rate limiters' delay; counts as a retry of `key`.
  void addRateLimited(const std::string& key);
  // The key succeeded: its next failure starts the backoff from baseDelay again. It does not
  // remove the key from the queue.
  void forget(const std::string& key);
  // Rate-limited adds of `key` since it was last forgotten.
  int numRequeues(const std::string& key) const;

  // Moves waiting keys whose time has come into the queue, then hands out the head, which the
  // caller owns until done(). nullopt if nothing is ready or the queue is shut down.
  std::optional<std::string> tryGet();
  // As tryGet(), but blocks until a key is ready (waking by itself at the earliest ready time of
  // a waiting key) or the queue is shut down; nullopt means the worker should exit. It sleeps
  // for the clock's remaining time in real time: moving a fake clock does not wake it, so tests
  // of delays use tryGet().
  std::optional<std::string> get();
  // The worker finished `key`; if it was added meanwhile it goes to the back of the queue.
  void done(const std::string& key);

  // Keys ready to hand out (waiting keys whose time has come move here on the next get).
  std::size_t size() const;
  // Keys waiting for their ready time.
  std::size_t waitingSize() const;
  // When the first waiting key becomes ready, so an asynchronous worker knows how long to
  // sleep; nullopt if none waits or the queue is shut down.
  std::optional<Clock::TimePoint> nextReadyAt() const;

  // Stops handing out keys at once and ignores new ones; blocked get() calls return nullopt.
  void shutDown();
  // As shutDown(), then blocks until every key being processed has been done(). Calling it
  // from a worker that holds a key deadlocks. A later shutDown() stops the wait.
  void shutDownWithDrain();
  bool shuttingDown() const;

  // Called when there may be more to do than before: a key became ready (add, addAfter that is
  // due, re-queue on done(), several keys coming due at once), the earliest waiting time moved
  // earlier, or shutdown. It runs outside the lock on the thread that caused it, must not
  // block, and may call back into the queue (typically it posts a wake-up to the workers'
  // executor, which then calls tryGet() and nextReadyAt() again). Set it before workers start.
  void setReadyListener(std::function<void()> listener);

  // Metrics: keys accepted by add (not deduplicated away), including delayed keys coming due;
  // and calls to addRateLimited. Depth is size().
  std::uint64_t addsTotal() const;
  std::uint64_t retriesTotal() const;

 private:
  using Waiting = std::multimap<Clock::TimePoint, std::string>;
  using Listener = std::shared_ptr<const std::function<void()>>;

  // The *Locked helpers expect mutex_ held. They return whether a key became ready.
  bool addLocked(const std::string& key);
  bool addAfterLocked(const std::string& key, std::chrono::nanoseconds delay, bool& earlier);
  std::size_t promoteDueLocked();
  std::optional<std::string> popLocked();
  std::chrono::nanoseconds rateLimitLocked(const std::string& key);
  // Unlocks, then calls the listener and wakes blocked get() calls.
  void notifyAndUnlock(std::unique_lock<std::mutex>& lock, bool all);

  const Clock& clock_;
  const WorkQueueOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable readyCv_;  // get() waits here
  std::condition_variable idleCv_;   // shutDownWithDrain() waits here
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;       // queued, or added again while processing
  std::unordered_set<std::string> processing_;  // handed out, not yet done()
  Waiting waiting_;                             // by ready time; equal times keep add order
  std::unordered_map<std::string, Waiting::iterator> waitingByKey_;
  bool shuttingDown_ = false;
  bool drain_ = false;
  Listener listener_;

  std::unordered_map<std::string, int> failures_;
  TokenBucket bucket_;  // the overall limit, off when qps <= 0; its lock nests inside mutex_

  std::uint64_t addsTotal_ = 0;
  std::uint64_t retriesTotal_ = 0;
};

}  // namespace mc
