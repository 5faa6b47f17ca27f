#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "mc/common/clock.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/rate_limit.h"

namespace mc::kube {

// The object an Event is about (events.k8s.io/v1 `regarding`).
struct ObjectReference {
  std::string apiVersion;
  std::string kind;
  std::string ns;
  std::string name;
  std::string uid;

  static ObjectReference of(const boost::json::object& object);
};

enum class EventType { Normal, Warning };

struct EventRecorderOptions {
  std::string reportingController = "mc-operator";
  std::string reportingInstance;  // the pod name in-cluster; host name otherwise
  double qps = 5;                 // writes a second across all events, after the burst
  int burst = 25;
  size_t maxPending = 1000;  // past this, new events are dropped (and counted)
  // A repeat within this window joins the first event's series (count, lastObservedTime).
  std::chrono::seconds seriesWindow{std::chrono::minutes(10)};
};

// Writes events.k8s.io/v1 Events (what `kubectl describe` and `kubectl get events` show). A
// repeat of the same (object, type, reason, action, note) becomes a series on the first Event
// rather than a new object. record() never blocks and never fails the caller: events queue,
// and run() writes them rate-limited; when the queue is full or the apiserver refuses, the event
// is dropped and counted, never retried forever. record() may be called from any thread.
class EventRecorder {
 public:
  EventRecorder(Client& client, EventRecorderOptions options, const Clock& clock = systemClock());

  void record(const ObjectReference& regarding, EventType type, std::string reason,
              std::string action, std::string note);

  // Writes one Event now, named `name`, for a decision that must be on record exactly once: an
  // Event of that name already there (the same decision re-planned after a crash) counts as
  // written. Unlike record(), a failure is returned, so the caller does not act on a decision
  // it could not record. Runs on the client's executor.
  boost::asio::awaitable<Result<void>> recordDecision(ObjectReference regarding, EventType type,
                                                      std::string name, std::string reason,
                                                      std::string action, std::string note);

  boost::asio::awaitable<void> run();  // until stop(), then writes what is pending
  void stop();

  uint64_t written() const { return written_; }
  uint64_t dropped() const { return dropped_; }

 private:
  struct Pending {
    ObjectReference regarding;
    EventType type;
    std::string reason;
    std::string action;
    std::string note;
    std::chrono::system_clock::time_point at;
  };
  struct Series {
    std::string eventName;
    std::string ns;
    int count = 1;
    std::chrono::system_clock::time_point firstAt;
  };
  boost::asio::awaitable<void> write(Pending pending);
  boost::json::object eventObject(const ObjectReference& about, EventType type,
                                  const std::string& name, const std::string& ns,
                                  const std::string& now, const std::string& reason,
                                  const std::string& action, const std::string& note) const;

  Client& client_;
  EventRecorderOptions options_;
  const Clock& clock_;
  TokenBucket bucket_;
  std::mutex mutex_;
  std::deque<Pending> pending_;
  std::map<std::string, Series> series_;  // by aggregation key; touched by run() only
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::shared_ptr<void> wake_;  // the timer run() sleeps on (opaque: keeps Asio out of here)
};

}  // namespace mc::kube
