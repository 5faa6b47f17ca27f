#pragma once

#include "../route_names.h"
#include "mc/reconcilers/traffic_router.h"

namespace mc::reconcilers {

// Splits traffic with a Gateway API HTTPRoute the user owns (trafficRouting.gatewayAPI.httpRoute,
// in the Rollout's namespace). In every rule that sends traffic to the stable Service, the stable
// backendRef gets weight 100-w and a backendRef to the canary Service gets w (added next to the
// stable one if the user did not write it). Everything else in the route is left as it was: the
// whole object is read, edited and written back with its resourceVersion, so a concurrent write
// makes the update fail with Conflict rather than be lost. The client is borrowed and must
// outlive the router; calls run on the client's executor.
class GatewayApiRouter final : public TrafficRouter {
 public:
  GatewayApiRouter(kube::Client& client, RouterTarget target, RouteNames names);

  bool shapesTraffic() const override { return true; }
  boost::asio::awaitable<Result<void>> validate() override;
  boost::asio::awaitable<Result<void>> setWeight(int32_t weight) override;
  boost::asio::awaitable<Result<bool>> verifyWeight(int32_t weight) override;
  boost::asio::awaitable<Result<void>> reset() override;

 private:
  RouterTarget target_;
  RouteNames names_;
  RouteObject route_;
};

// trafficRouting.gatewayAPI: {httpRoute}.
RouterRegistration gatewayApiRegistration();

}  // namespace mc::reconcilers
