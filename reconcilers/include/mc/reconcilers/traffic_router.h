#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/rollout.h"

namespace mc::kube {
class Client;
}

// How a canary's share of traffic is set. One implementation per folder under
// reconcilers/routers/, registered with one line in src/routers.cc. The Rollout reconciler owns
// the router it builds for one reconcile and calls it on the controller's executor only.
namespace mc::reconcilers {

// What a router acts on: the Rollout (its namespace, name, uid for ownerReferences) and its
// canary strategy (services and the route object the user named).
struct RouterTarget {
  std::string ns;
  std::string rolloutName;
  std::string rolloutUid;
  crds::CanaryStrategy canary;
};

class TrafficRouter {
 public:
  virtual ~TrafficRouter() = default;

  // False for the replica ratio: traffic follows pod counts, so the reconciler scales the stable
  // down as the canary grows. True when a route splits traffic: the stable stays fully scaled.
  virtual bool shapesTraffic() const = 0;

  // Invalid (naming the spec field) when an object the user referenced is missing or unusable,
  // e.g. "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute: HTTPRoute \"web\" not found".
  virtual boost::asio::awaitable<Result<void>> validate(RouterTarget target) = 0;

  // Sends `weight` percent of traffic to the canary Service and the rest to the stable one.
  virtual boost::asio::awaitable<Result<void>> setWeight(RouterTarget target, int32_t weight) = 0;

  // Whether the route as the apiserver holds it now sends `weight` percent to the canary.
  virtual boost::asio::awaitable<Result<bool>> verifyWeight(RouterTarget target,
                                                            int32_t weight) = 0;

  // All traffic to the stable Service, and what setWeight created removed (no canary running).
  virtual boost::asio::awaitable<Result<void>> reset(RouterTarget target) = 0;
};

using TrafficRouterPtr = std::unique_ptr<TrafficRouter>;

// One router kind: whether a Rollout's trafficRouting selects it, and how to build one.
struct RouterRegistration {
  std::string kind;  // "gatewayAPI", "nginx", "istio"
  std::function<bool(const crds::TrafficRouting&)> selects;
  std::function<TrafficRouterPtr(kube::Client&)> make;
};

// Every router kind MC knows, except the replica ratio (the default, when none selects).
const std::vector<RouterRegistration>& routerRegistry();

// The router for a canary strategy: the registered kind its trafficRouting selects, else the
// replica ratio.
TrafficRouterPtr makeRouter(kube::Client& client, const crds::CanaryStrategy& canary);

}  // namespace mc::reconcilers
