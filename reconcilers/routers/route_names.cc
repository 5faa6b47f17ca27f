#include "route_names.h"

#include <fmt/format.h>

namespace mc::reconcilers {

Result<RouteNames> routeNames(const RouterTarget& target, const std::optional<std::string>& route,
                              std::string_view field) {
  const auto& canary = target.canary;
  if (!route || route->empty()) {
    return makeError(ErrorKind::Invalid, fmt::format("{}: required", field));
  }
  if (!canary.stableService || canary.stableService->empty() || !canary.canaryService ||
      canary.canaryService->empty()) {
    return makeError(ErrorKind::Invalid,
                     "spec.strategy.canary: trafficRouting needs stableService and canaryService");
  }
  if (*canary.stableService == *canary.canaryService) {
    return makeError(ErrorKind::Invalid,
                     "spec.strategy.canary.canaryService: must differ from stableService");
  }
  return RouteNames{*route, *canary.stableService, *canary.canaryService};
}

Result<void> checkWeight(int32_t weight) {
  if (weight < 0 || weight > 100) {
    return makeError(ErrorKind::Invalid, fmt::format("canary weight {} is outside 0..100", weight));
  }
  return {};
}

}  // namespace mc::reconcilers
