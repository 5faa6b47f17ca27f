#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/common/resource_type.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/kubeconfig.h"
#include "mc/runtime/watch_decoder.h"

namespace prometheus {
class Registry;
}

namespace mc::kube {

namespace resources {
inline const ResourceType kNamespaces{"", "v1", "namespaces", false};
inline const ResourceType kConfigMaps{"", "v1", "configmaps"};
inline const ResourceType kPods{"", "v1", "pods"};
inline const ResourceType kServices{"", "v1", "services"};
inline const ResourceType kSecrets{"", "v1", "secrets"};
inline const ResourceType kReplicaSets{"apps", "v1", "replicasets"};
inline const ResourceType kLeases{"coordination.k8s.io", "v1", "leases"};
inline const ResourceType kEvents{"events.k8s.io", "v1", "events"};
}  // namespace resources

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t limit = 0;  // page size; 0: everything at once
  std::string continueToken;
  std::string resourceVersion;  // "" most recent (quorum read); "0" any cached version
};

struct ObjectList {
  std::vector<boost::json::object> items;
  std::string resourceVersion;
  std::string continueToken;  // non-empty: more pages follow
};

enum class PatchType { Merge, Json, StrategicMerge, Apply };

struct PatchOptions {
  std::string subresource;  // "status", "scale" or empty
  bool force = false;       // server-side apply: take over conflicting fields
};

struct DeleteOptions {
  std::string propagationPolicy;  // "", "Foreground", "Background", "Orphan"
  std::string preconditionUid;
  std::string preconditionResourceVersion;
};

struct WatchOptions {
  std::string resourceVersion;  // start after this version
  std::string labelSelector;
  std::string fieldSelector;
  bool allowBookmarks = true;
  int timeoutSeconds = 300;  // the server ends the watch after this; the caller re-watches
};

struct ClientOptions {
  double qps = 50;  // client-side rate limit for all requests of this client
  int burst = 100;
  int maxRetries = 5;  // for 429, 5xx and broken connections, on idempotent calls only
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds retryBaseDelay{std::chrono::milliseconds(100)};
  const Clock* clock = nullptr;                    // default: the system clock
  std::shared_ptr<prometheus::Registry> registry;  // mc_kube_* metrics go here if set
  std::string fieldManager = "mc-operator";
  // A person is at stdin (kubectl-mc on a terminal): a credential plugin may prompt them.
  bool interactive = false;
};

// Maps a non-2xx apiserver response (a metav1.Status body, or not) to a typed Error; Invalid
// errors list the field causes in the message.
Error errorFromResponse(const http::Response& response);

// The verbs MC uses on an apiserver, watch included. KubeClient talks to a real one; tests use
// the in-memory fake in tests/support, so a reconciler is tested without an apiserver.
// Coroutines must run on the executor the client was created with (one strand).
class Client {
 public:
  using Object = boost::json::object;
  template <class T>
  using Async = boost::asio::awaitable<Result<T>>;

  virtual ~Client() = default;

  // No default arguments on these coroutines: GCC 12 destroys a defaulted class-type argument
  // twice when the call is co_awaited. The shorter overloads below stand in for the defaults.
  virtual Async<Object> get(const ResourceType& type, std::string ns, std::string name,
                            std::string subresource) = 0;
  virtual Async<ObjectList> list(const ResourceType& type, std::string ns, ListOptions options) = 0;
  virtual Async<Object> create(const ResourceType& type, std::string ns, Object object) = 0;
  // PUT: optimistic concurrency through metadata.resourceVersion (Conflict if stale).
  virtual Async<Object> update(const ResourceType& type, std::string ns, Object object,
                               std::string subresource) = 0;
  virtual Async<Object> patch(const ResourceType& type, std::string ns, std::string name,
                              PatchType patchType, std::string body, PatchOptions options) = 0;
  // Done once the apiserver accepted the deletion (the object may linger for its finalizers);
  // NotFound if there was nothing to delete.
  virtual Async<void> remove(const ResourceType& type, std::string ns, std::string name,
                             DeleteOptions options) = 0;
  // Streams watch events to `onEvent` until the server ends the watch (then: the last
  // resourceVersion seen, bookmarks included), an error (Gone for an expired resourceVersion:
  // relist), or `cancel` (may be null).
  virtual Async<std::string> watch(const ResourceType& type, std::string ns, WatchOptions options,
                                   std::function<void(WatchEvent&&)> onEvent,
                                   std::shared_ptr<http::StreamCancel> cancel) = 0;
  // Any path ("/version"); 2xx -> the JSON body.
  virtual Async<boost::json::value> getPath(std::string path) = 0;

  Async<Object> get(const ResourceType& type, std::string ns, std::string name) {
    return get(type, std::move(ns), std::move(name), std::string());
  }
  Async<ObjectList> list(const ResourceType& type, std::string ns) {
    return list(type, std::move(ns), ListOptions());
  }
  // Every page, `pageSize` objects a request; the resourceVersion is the first page's.
  Async<ObjectList> listAll(const ResourceType& type, std::string ns, ListOptions options,
                            int64_t pageSize);
  Async<Object> update(const ResourceType& type, std::string ns, Object object) {
    return update(type, std::move(ns), std::move(object), std::string());
  }
  Async<Object> patch(const ResourceType& type, std::string ns, std::string name,
                      PatchType patchType, std::string body) {
    return patch(type, std::move(ns), std::move(name), patchType, std::move(body), PatchOptions());
  }
  Async<void> remove(const ResourceType& type, std::string ns, std::string name) {
    return remove(type, std::move(ns), std::move(name), DeleteOptions());
  }
  Async<std::string> watch(const ResourceType& type, std::string ns, WatchOptions options,
                           std::function<void(WatchEvent&&)> onEvent) {
    return watch(type, std::move(ns), std::move(options), std::move(onEvent), nullptr);
  }
};

using ClientPtr = std::unique_ptr<Client>;

// A client of one apiserver as one user: TLS verified as the RestConfig says, bearer token
// (re-read from its file when it rotates), client certificate, or an exec credential plugin
// (cached until it expires, run again after a 401 and the request sent once more; the plugin runs
// on a thread of its own so it never blocks the executor), JSON in and out, a client-side
// rate limit, and retries with backoff for 429 (honouring Retry-After), 5xx and broken
// connections on idempotent calls. Tokens are sent, never logged.
class KubeClient final : public Client {
 public:
  static Result<std::unique_ptr<KubeClient>> create(boost::asio::any_io_executor executor,
                                                    RestConfig config, ClientOptions options = {});
  ~KubeClient() override;

  using Client::get;
  using Client::list;
  using Client::patch;
  using Client::remove;
  using Client::update;
  using Client::watch;

  Async<Object> get(const ResourceType& type, std::string ns, std::string name,
                    std::string subresource) override;
  Async<ObjectList> list(const ResourceType& type, std::string ns, ListOptions options) override;
  Async<Object> create(const ResourceType& type, std::string ns, Object object) override;
  Async<Object> update(const ResourceType& type, std::string ns, Object object,
                       std::string subresource) override;
  Async<Object> patch(const ResourceType& type, std::string ns, std::string name,
                      PatchType patchType, std::string body, PatchOptions options) override;
  Async<void> remove(const ResourceType& type, std::string ns, std::string name,
                     DeleteOptions options) override;
  Async<std::string> watch(const ResourceType& type, std::string ns, WatchOptions options,
                           std::function<void(WatchEvent&&)> onEvent,
                           std::shared_ptr<http::StreamCancel> cancel) override;
  Async<boost::json::value> getPath(std::string path) override;

  const RestConfig& config() const;

 private:
  struct Impl;
  explicit KubeClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

using KubeClientPtr = std::unique_ptr<KubeClient>;

// metadata.name / namespace / resourceVersion / uid of an object ("" if absent).
std::string nameOf(const boost::json::object& object);
std::string namespaceOf(const boost::json::object& object);
std::string resourceVersionOf(const boost::json::object& object);
std::string uidOf(const boost::json::object& object);
// "namespace/name", or "name" for cluster-scoped objects: the key of caches and queues.
std::string keyOf(const boost::json::object& object);

// An object's controller ownerReference (the one with controller: true), as far as MC reads it.
struct ControllerRef {
  std::string apiVersion;
  std::string kind;
  std::string name;
  std::string uid;
};
std::optional<ControllerRef> controllerOf(const boost::json::object& object);

// A controller ownerReference to the owner, with blockOwnerDeletion: foreground deletion of the
// owner waits for the object.
boost::json::object controllerReference(std::string apiVersion, std::string kind, std::string name,
                                        std::string uid);

}  // namespace mc::kube
