#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/runtime/kube_client.h"

// Not mc::testing: inside namespace mc that name would hide GoogleTest's ::testing.
namespace mc::test {

// The verbs of kube::Client, for fault injection and write counts.
enum class Verb { Get, List, Create, Update, Patch, Delete, Watch };

std::string_view toString(Verb verb);

// A write as the write hook sees it, before it is carried out.
struct WriteRequest {
  Verb verb = Verb::Create;
  // The plural resource, with "/status" or "/scale" for a subresource: "rollouts/status".
  std::string resource;
  std::string ns;
  std::string name;
  int index = 0;  // 1 for the first API write this fake was asked for, 2 for the next...
};

struct FakeApiServerOptions {
  // Watch events kept for watches that resume from a resourceVersion; a watch from a version
  // older than the oldest kept answers Gone (410), as a compacted etcd does.
  size_t historyLimit = 10000;
  // How often an open watch looks at its cancel and at the clock (events wake it at once).
  std::chrono::milliseconds watchTick{5};
};

// An in-memory apiserver behind kube::Client, behaving as the real one where MC depends on it:
//  - one resourceVersion counter for all objects, bumped by every write that changes something
//    (a no-op update or patch keeps the version and sends no event, as the real one does);
//    uid, creationTimestamp and metadata.generation 1 at create, generation bumped when anything
//    other than metadata and status changes;
//  - errors as KubeClient returns them: NotFound 404, AlreadyExists 409, Conflict 409 (a stale
//    metadata.resourceVersion in an update or a patch, a failed delete precondition), Invalid
//    422 (a malformed patch, a failed JSON patch test, server-side apply), Gone 410;
//  - the "status" subresource (its writes change only status; main-resource writes leave status
//    alone and API creates drop it) and "scale" (autoscaling/v1 Scale over spec.replicas,
//    status.replicas and status.selector);
//  - merge patches (RFC 7386; strategic merge is treated as one) and JSON patches (RFC 6902);
//  - lists with label and field (metadata.name, metadata.namespace) selectors and paging;
//  - watches: ADDED / MODIFIED / DELETED after a resourceVersion (the current objects as ADDED
//    from "" or "0"), filtered as the apiserver's watch cache filters them (an object leaving a
//    selector is DELETED for that watch), a BOOKMARK at the end when allowed, Gone from a
//    compacted version. A watch ends when `timeoutSeconds` pass on the injected clock, when it
//    is cancelled (an error, as KubeClient's), or at dropWatches() (a normal end).
//  - deletes with uid and resourceVersion preconditions; finalizers hold an object with a
//    deletionTimestamp until they are removed. No garbage collector: owned objects stay.
// Plus what tests need: fault injection, write counts, and synchronous helpers that write as the
// API does (same versions, same watch events) without the faults or the hook.
//
// Threads: the coroutines run on any executor (the caller's); everything else may be called
// from any thread. One mutex guards the state; the write hook and watch callbacks run outside it.
// Watches still open when the fake is destroyed end (their coroutines then touch nothing of it).
class FakeApiServer final : public kube::Client {
 public:
  explicit FakeApiServer(const Clock& clock = systemClock(), FakeApiServerOptions options = {});
  ~FakeApiServer() override;
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  using Client::get;
  using Client::list;
  using Client::patch;
  using Client::remove;
  using Client::update;
  using Client::watch;

  Async<Object> get(const kube::ResourceType& type, std::string ns, std::string name,
                    std::string subresource) override;
  Async<kube::ObjectList> list(const kube::ResourceType& type, std::string ns,
                               kube::ListOptions options) override;
  Async<Object> create(const kube::ResourceType& type, std::string ns, Object object) override;
  Async<Object> update(const kube::ResourceType& type, std::string ns, Object object,
                       std::string subresource) override;
  Async<Object> patch(const kube::ResourceType& type, std::string ns, std::string name,
                      kube::PatchType patchType, std::string body,
                      kube::PatchOptions options) override;
  Async<void> remove(const kube::ResourceType& type, std::string ns, std::string name,
                     kube::DeleteOptions options) override;
  Async<std::string> watch(const kube::ResourceType& type, std::string ns,
                           kube::WatchOptions options,
                           std::function<void(kube::WatchEvent&&)> onEvent,
                           std::shared_ptr<http::StreamCancel> cancel) override;
  // "/version" answers a version object; any other path is NotFound.
  Async<boost::json::value> getPath(std::string path) override;

  // --- Fault injection ---

  // The next `times` calls of `verb` on `resource` fail with `error` before they do anything.
  // "rollouts" matches the resource and its subresources, "rollouts/status" only that one.
  void failNext(Verb verb, std::string resource, int times, Error error);
  // Called before every API write (create, update, patch, delete; not the helpers below), outside
  // the lock: an Error fails the write, so a test can crash a reconcile at its k-th write.
  using WriteHook = std::function<std::optional<Error>(const WriteRequest& request)>;
  void setWriteHook(WriteHook hook);
  // Called at the start of every call, reads and watches included, outside the lock, before any
  // fault: a test may change the world at an exact moment (say, just as a watch resumes).
  using CallHook = std::function<void(Verb verb, std::string_view resource)>;
  void setCallHook(CallHook hook);
  // Ends every open watch as the server closing it would (the watcher resumes from the last
  // version it saw). With `compactHistory`, every version handed out so far is compacted away,
  // so that resume answers Gone and the watcher relists.
  void dropWatches(bool compactHistory = false);

  // API writes that were carried out (no-ops included; failed ones not), by verb and resource
  // ("rollouts" counts its subresources too, "rollouts/status" only those); all verbs with
  // Verb-less overload.
  int writes(Verb verb, std::string_view resource) const;
  int writes(std::string_view resource) const;
  // Calls of any verb, failed ones included.
  int calls(Verb verb, std::string_view resource) const;
  // Watches answered Gone, and watches open now.
  int goneAnswers() const;
  int openWatches() const;
  // The resourceVersion a list would answer now.
  std::string resourceVersion() const;

  // --- Synchronous helpers for the test body (no faults, no hook, not counted as writes) ---

  // Creates or replaces the object (its namespace from metadata.namespace), keeping what it says
  // of status; uid and creationTimestamp are kept from the object it replaces. The stored object.
  Object put(const kube::ResourceType& type, Object object);
  std::optional<Object> read(const kube::ResourceType& type, std::string_view ns,
                             std::string_view name) const;
  // Objects of a resource in `ns` ("" all namespaces), by namespace and name; `labelSelector` as
  // for a list (an unparsable one matches nothing).
  std::vector<Object> items(const kube::ResourceType& type, std::string_view ns = {},
                            std::string_view labelSelector = {}) const;
  // Edits status in place as a controller's status write would (a status that comes out the
  // same writes nothing). NotFound if there is no such object.
  Result<Object> editStatus(const kube::ResourceType& type, std::string_view ns,
                            std::string_view name,
                            const std::function<void(boost::json::object& status)>& edit);
  // Deletes as the API would (finalizers ignored). NotFound if there is no such object.
  Result<void> erase(const kube::ResourceType& type, std::string_view ns, std::string_view name);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// A label selector as the apiserver parses one: requirements joined by ",", each `key`, `!key`,
// `key=v`, `key==v`, `key!=v`, `key in (a,b)` or `key notin (a,b)`. Exposed for its tests.
class LabelSelector {
 public:
  static Result<LabelSelector> parse(std::string_view text);
  bool matches(const boost::json::object* labels) const;

 private:
  enum class Op { Exists, NotExists, Equals, NotEquals, In, NotIn };
  struct Requirement {
    std::string key;
    Op op = Op::Exists;
    std::vector<std::string> values;
  };
  std::vector<Requirement> requirements_;
};

// RFC 7386: `patch` merged into `target`; null deletes.
void applyMergePatch(boost::json::value& target, const boost::json::value& patch);
// RFC 6902 on a copy: the patched document, or Invalid naming the operation that failed.
Result<boost::json::value> applyJsonPatch(const boost::json::value& document,
                                          const boost::json::value& patch);

}  // namespace mc::test
