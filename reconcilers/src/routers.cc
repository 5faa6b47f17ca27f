#include "../routers/gateway_api/gateway_api.h"
#include "../routers/istio/istio.h"
#include "../routers/nginx/nginx.h"
#include "../routers/replica_ratio/replica_ratio.h"
#include "mc/reconcilers/traffic_router.h"

namespace mc::reconcilers {

const std::vector<RouterRegistration>& routerRegistry() {
  // One line per router kind.
  static const std::vector<RouterRegistration> registry = {
      gatewayApiRegistration(),
      nginxRegistration(),
      istioRegistration(),
  };
  return registry;
}

TrafficRouterPtr makeRouter(kube::Client& client, const crds::CanaryStrategy& canary) {
  if (canary.trafficRouting) {
    for (const auto& registration : routerRegistry()) {
      if (registration.selects(*canary.trafficRouting)) {
        return registration.make(client);
      }
    }
  }
  return std::make_unique<ReplicaRatioRouter>();
}

}  // namespace mc::reconcilers
