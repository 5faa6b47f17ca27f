#pragma once

#include "../route_names.h"
#include "mc/reconcilers/traffic_router.h"

namespace mc::reconcilers {

// Splits traffic with an Istio VirtualService the user owns (trafficRouting.istio.virtualService,
// in the Rollout's namespace). Every spec.http[] entry whose routes go to both the stable and
// the canary Service gets weights 100-w and w; other entries, and the rest of the object, are
// left as they were. The object is written back with the resourceVersion it was read at, so a
// concurrent write makes the update fail with Conflict. The client is borrowed and must outlive
// the router; calls run on the client's executor.
class IstioRouter final : public TrafficRouter {
 public:
  IstioRouter(kube::Client& client, RouterTarget target, RouteNames names);

  bool shapesTraffic() const override { return true; }
  boost::asio::awaitable<Result<void>> validate() override;
  boost::asio::awaitable<Result<void>> setWeight(int32_t weight) override;
  boost::asio::awaitable<Result<bool>> verifyWeight(int32_t weight) override;
  boost::asio::awaitable<Result<void>> reset() override;

 private:
  RouterTarget target_;
  RouteNames names_;
  RouteObject virtualService_;
};

// trafficRouting.istio: {virtualService}.
RouterRegistration istioRegistration();

}  // namespace mc::reconcilers
