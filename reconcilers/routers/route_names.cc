#include "route_names.h"

#include <fmt/format.h>

#include "mc/common/json.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {

Result<RouteNames> routeNames(const RouterTarget& target, const boost::json::object& block,
                              std::string_view kind, std::string_view key) {
  std::string route = stringAt(block, key);
  if (route.empty()) {
    return fieldError(fmt::format("spec.strategy.canary.trafficRouting.{}.{}", kind, key),
                      "required");
  }
  if (target.stableService.empty() || target.canaryService.empty()) {
    return fieldError("spec.strategy.canary",
                      "trafficRouting needs stableService and canaryService");
  }
  if (target.stableService == target.canaryService) {
    return fieldError("spec.strategy.canary.canaryService", "must differ from stableService");
  }
  return RouteNames{route, target.stableService, target.canaryService};
}

RouteObject::RouteObject(kube::Client& client, kube::ResourceType type, std::string kind,
                         std::string field, std::string ns, std::string name)
    : client_(client),
      type_(std::move(type)),
      kind_(std::move(kind)),
      field_(std::move(field)),
      ns_(std::move(ns)),
      name_(std::move(name)) {}

boost::asio::awaitable<Result<boost::json::object*>> RouteObject::get() {
  if (!object_) {
    auto read = co_await client_.get(type_, ns_, name_);
    if (!read) {
      if (read.error().kind == ErrorKind::NotFound) {
        co_return fieldError(field_, fmt::format("{} \"{}\" not found", kind_, name_));
      }
      co_return read.error();
    }
    object_ = std::move(*read);
  }
  co_return &*object_;
}

boost::asio::awaitable<Result<void>> RouteObject::update(boost::json::object edited) {
  auto updated = co_await client_.update(type_, ns_, std::move(edited));
  if (!updated) {
    object_.reset();  // a Conflict: the next reconcile reads it afresh
    co_return updated.error();
  }
  object_ = std::move(*updated);
  co_return Result<void>();
}

Result<void> checkWeight(int32_t weight) {
  if (weight < 0 || weight > 100) {
    return makeError(ErrorKind::Invalid, fmt::format("canary weight {} is outside 0..100", weight));
  }
  return {};
}

}  // namespace mc::reconcilers
