#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mc/runtime/kube_client.h"
#include "mc/runtime/store.h"

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace mc::kube {

// Called on the informer's executor, in the order the apiserver's changes were seen.
struct EventHandler {
  std::function<void(const ObjectPtr& object)> onAdd;
  std::function<void(const ObjectPtr& previous, const ObjectPtr& current)> onUpdate;
  // `finalStateUnknown`: the delete was noticed at a relist, not seen as a watch event, so
  // `object` is the last state the cache had (a tombstone).
  std::function<void(const ObjectPtr& object, bool finalStateUnknown)> onDelete;
};

// Removes metadata.managedFields: MC writes with server-side apply and never reads them, and they
// are about 40% of a cached object's memory (controller-runtime's TransformStripManagedFields).
void stripManagedFields(boost::json::object& object);

struct InformerOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t pageSize = 500;
  std::chrono::milliseconds minBackoff{std::chrono::milliseconds(200)};
  std::chrono::milliseconds maxBackoff{std::chrono::seconds(30)};
  int watchTimeoutSeconds = 300;
  // Applied to every object before it is cached and handed to handlers.
  std::function<void(boost::json::object&)> transform = stripManagedFields;
  std::shared_ptr<prometheus::Registry> registry;  // mc_informer_objects{resource}
};

// List, then watch from the list's resourceVersion, keeping a Store in step with the apiserver.
// A watch that ends is resumed from the last resourceVersion seen (bookmarks included); a
// transport error is retried with backoff; 410 Gone (the version was compacted away) relists,
// and the relist reports adds, updates and deletes against the cache, deletes as tombstones.
// run() and stop() belong to one strand; store() and hasSynced() may be read from any thread.
class Informer {
 public:
  Informer(Client& client, ResourceType type, std::string ns, InformerOptions options = {});
  ~Informer();

  void addHandler(EventHandler handler);  // before run()
  Store& store() { return store_; }
  bool hasSynced() const { return synced_; }
  const ResourceType& type() const { return type_; }
  // How many times the informer listed (1 + relists): for tests and metrics.
  int lists() const { return lists_; }

  boost::asio::awaitable<void> run();
  void stop();  // from any thread: run() returns soon after

 private:
  boost::asio::awaitable<bool> relist(std::string& resourceVersion, bool consistent);
  boost::asio::awaitable<void> backoff(std::chrono::milliseconds& delay);
  void apply(WatchEvent&& event);
  void notify(const std::function<void(const EventHandler&)>& call);
  void updateGauge();

  Client& client_;
  ResourceType type_;
  std::string namespace_;
  InformerOptions options_;
  Store store_;
  std::vector<EventHandler> handlers_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<int> lists_{0};
  std::shared_ptr<http::StreamCancel> cancel_;
  struct Timers;
  std::unique_ptr<Timers> timers_;
  prometheus::Gauge* gauge_ = nullptr;  // mc_informer_objects, if a registry was given
};

}  // namespace mc::kube
