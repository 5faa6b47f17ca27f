#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mc/common/error.h"

namespace mc::kube {
class Client;
}

// How a canary's share of traffic is set. One implementation per folder under
// reconcilers/routers/, registered with one line in src/routers.cc. The Rollout reconciler owns
// the router it builds for one reconcile and calls it on the controller's executor only.
namespace mc::reconcilers {

// What a router acts on: the Rollout (its namespace, name, uid for ownerReferences) and the two
// Services traffic is split between ("" when the spec names none).
struct RouterTarget {
  std::string ns;
  std::string rolloutName;
  std::string rolloutUid;
  std::string stableService;
  std::string canaryService;
};

// A router is built for one reconcile of one Rollout, bound to its target and its block of
// trafficRouting. It reads its route object at most once (the first call that needs it) and
// works on that one version for the rest of the reconcile: a write made from it carries its
// resourceVersion, so someone else's write in between is a Conflict, never silently undone.
class TrafficRouter {
 public:
  virtual ~TrafficRouter() = default;

  // False for the replica ratio: traffic follows pod counts, so the reconciler scales the stable
  // down as the canary grows. True when a route splits traffic: the stable stays fully scaled.
  virtual bool shapesTraffic() const = 0;

  // Invalid (Error::field naming the spec field) when an object the user referenced is missing
  // or unusable, e.g. field "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute",
  // message "HTTPRoute \"web\" not found".
  virtual boost::asio::awaitable<Result<void>> validate() = 0;

  // Sends `weight` percent of traffic to the canary Service and the rest to the stable one.
  virtual boost::asio::awaitable<Result<void>> setWeight(int32_t weight) = 0;

  // Whether the route, as read for this reconcile, sends `weight` percent to the canary.
  virtual boost::asio::awaitable<Result<bool>> verifyWeight(int32_t weight) = 0;

  // All traffic to the stable Service, and what setWeight created removed (no canary running).
  virtual boost::asio::awaitable<Result<void>> reset() = 0;
};

using TrafficRouterPtr = std::unique_ptr<TrafficRouter>;

// One router kind: the key of its block in trafficRouting, and how to build one from that block
// (Invalid, naming the field, if the block is unusable). The router reads its block itself, so a
// new router touches its folder, its registry line and the CRD schema, nothing else.
struct RouterRegistration {
  std::string kind;  // "gatewayAPI", "nginx", "istio"
  std::function<Result<TrafficRouterPtr>(kube::Client&, RouterTarget,
                                         const boost::json::object& block)>
      make;
};

// Every router kind MC knows, except the replica ratio (the default, when none is named).
const std::vector<RouterRegistration>& routerRegistry();

// The router for a Rollout: the registered kind whose block `trafficRouting` holds, else the
// replica ratio. Invalid, naming the field, for a block no router knows or one it refuses.
Result<TrafficRouterPtr> makeRouter(kube::Client& client, RouterTarget target,
                                    const std::optional<boost::json::object>& trafficRouting);

}  // namespace mc::reconcilers
