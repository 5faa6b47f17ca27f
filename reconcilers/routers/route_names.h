#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mc/reconcilers/traffic_router.h"

// What the routers that split traffic between two Services share.
namespace mc::reconcilers {

// The route object the user named and the two Services it splits traffic between.
struct RouteNames {
  std::string route;
  std::string stable;
  std::string canary;
};

// `route` is the spec's route field (named `field` in errors). The CRD requires the Services
// with trafficRouting, so an error here means the Rollout was not admitted through its rules.
Result<RouteNames> routeNames(const RouterTarget& target, const std::optional<std::string>& route,
                              std::string_view field);

// Invalid unless 0 <= weight <= 100.
Result<void> checkWeight(int32_t weight);

}  // namespace mc::reconcilers
