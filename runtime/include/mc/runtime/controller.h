#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/runtime/informer.h"
#include "mc/runtime/logging.h"
#include "mc/runtime/workqueue.h"

namespace prometheus {
class Registry;
}

namespace mc::kube {

// What a reconcile is asked to do: bring the object `ns/name` (which may be gone) to its
// desired state. `reconcileId` tags every log line of this one reconcile.
struct ReconcileRequest {
  std::string ns;
  std::string name;
  std::string reconcileId;
  logging::Logger log;  // carries controller, key and reconcileID on every line
  std::string key() const { return ns.empty() ? name : ns + "/" + name; }
};

struct ReconcileResult {
  bool requeue = false;                       // again soon, rate limited
  std::chrono::milliseconds requeueAfter{0};  // again after this long (how time passes)
};

// The business logic of a controller. reconcile() runs on the controller's executor, for one
// key at a time (never twice at once for the same key); an error requeues the key with
// per-key exponential backoff.
class Reconciler {
 public:
  virtual ~Reconciler() = default;
  virtual boost::asio::awaitable<Result<ReconcileResult>> reconcile(
      const ReconcileRequest& request) = 0;
};

struct ControllerOptions {
  int workers = 2;
  WorkQueueOptions queue;
  InformerOptions informer;  // for the primary type (the registry is shared with all)
  std::shared_ptr<prometheus::Registry> registry;
};

// Watches a primary type and the types it owns, and feeds the keys of primaries that changed
// (or whose owned objects changed: mapped through controller ownerReferences) to a work queue
// that `workers` coroutines drain into the Reconciler. Like controller-runtime's controller.
class Controller {
 public:
  Controller(std::string name, Client& client, ResourceType primary, std::string primaryKind,
             std::string ns, Reconciler& reconciler, ControllerOptions options,
             const Clock& clock = systemClock());
  ~Controller();

  // Before run(): objects of `type` whose controller ownerReference is a `primaryKind` map to
  // that owner's key. The owned informer has options of its own (no primary's selector).
  Informer& watchOwned(ResourceType type, InformerOptions options = {});
  // Before run(): a cache of `type` for the reconciler to read (objects its primaries refer to,
  // such as templates); its changes enqueue nothing. Cluster-scoped types are cached whole.
  Informer& watchCached(ResourceType type, InformerOptions options = {});

  Informer& primaryInformer() { return *informers_.front(); }
  Informer* informerFor(const ResourceType& type);
  WorkQueue& queue() { return queue_; }
  const std::string& name() const { return name_; }
  bool synced() const;

  // Starts the informers, waits until all have synced, then runs the workers until stop().
  boost::asio::awaitable<void> run();
  // From any thread: informers stop, the queue stops handing out keys; run() returns once the
  // reconciles in flight have finished.
  void stop();

 private:
  struct Metrics;
  boost::asio::awaitable<void> worker(int index);
  boost::asio::awaitable<void> processOne(const std::string& key);
  void enqueueOwner(const boost::json::object& object);

  std::string name_;
  Client& client_;
  std::string primaryKind_;
  std::string ns_;
  Reconciler& reconciler_;
  ControllerOptions options_;
  const Clock& clock_;
  WorkQueue queue_;
  std::vector<std::unique_ptr<Informer>> informers_;
  std::unique_ptr<Metrics> metrics_;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> reconcileCounter_{0};
  struct Wakeups;
  std::shared_ptr<Wakeups> wakeups_;
};

}  // namespace mc::kube
