#include <fmt/format.h>

#include <algorithm>

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

Result<TrafficRouterPtr> makeRouter(kube::Client& client, RouterTarget target,
                                    const std::optional<boost::json::object>& trafficRouting) {
  if (!trafficRouting || trafficRouting->empty()) {
    return TrafficRouterPtr(std::make_unique<ReplicaRatioRouter>());
  }
  for (const auto& [kind, block] : *trafficRouting) {
    auto registration =
        std::find_if(routerRegistry().begin(), routerRegistry().end(),
                     [&](const RouterRegistration& r) { return r.kind == std::string_view(kind); });
    std::string field =
        fmt::format("spec.strategy.canary.trafficRouting.{}", std::string_view(kind));
    if (registration == routerRegistry().end()) {
      return fieldError(field, "no router of this kind");
    }
    if (!block.is_object()) {
      return fieldError(field, "expected an object");
    }
    // The CRD admits one kind at a time; the first is the one.
    return registration->make(client, std::move(target), block.as_object());
  }
  return TrafficRouterPtr(std::make_unique<ReplicaRatioRouter>());
}

}  // namespace mc::reconcilers
