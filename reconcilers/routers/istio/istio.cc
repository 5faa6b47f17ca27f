#include "istio.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "../route_names.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

const kube::ResourceType kVirtualServices{"networking.istio.io", "v1", "virtualservices"};
constexpr const char* kField = "spec.strategy.canary.trafficRouting.istio.virtualService";

using Names = RouteNames;

// A route destination's host names a Service as "web", "web.ns" or "web.ns.svc.cluster.local".
bool sendsTo(const json::value& route, std::string_view service) {
  auto* destination = route.is_object() ? route.as_object().if_contains("destination") : nullptr;
  auto* host = destination && destination->is_object()
                   ? destination->as_object().if_contains("host")
                   : nullptr;
  if (!host || !host->is_string()) {
    return false;
  }
  std::string_view text = host->as_string();
  return text == service ||
         (text.size() > service.size() && text.starts_with(service) && text[service.size()] == '.');
}

// A route's weight; absent counts as 0 (Istio requires it whenever a rule has two routes).
int64_t weightOf(const json::value& route) {
  auto* weight = route.as_object().if_contains("weight");
  if (weight && weight->is_int64()) {
    return weight->as_int64();
  }
  if (weight && weight->is_uint64()) {
    return static_cast<int64_t>(weight->as_uint64());
  }
  return 0;
}

// The route lists of spec.http[] entries that go to both Services: the ones MC shapes.
std::vector<json::array*> splitRoutes(json::object& virtualService, const Names& names) {
  std::vector<json::array*> lists;
  auto* spec = virtualService.if_contains("spec");
  auto* http = spec && spec->is_object() ? spec->as_object().if_contains("http") : nullptr;
  if (!http || !http->is_array()) {
    return lists;
  }
  for (auto& entry : http->as_array()) {
    auto* routes = entry.is_object() ? entry.as_object().if_contains("route") : nullptr;
    if (!routes || !routes->is_array()) {
      continue;
    }
    bool stable = false;
    bool canary = false;
    for (const auto& route : routes->as_array()) {
      stable = stable || sendsTo(route, names.stable);
      canary = canary || sendsTo(route, names.canary);
    }
    if (stable && canary) {
      lists.push_back(&routes->as_array());
    }
  }
  return lists;
}

void applyWeight(json::object& virtualService, const Names& names, int32_t weight) {
  for (auto* routes : splitRoutes(virtualService, names)) {
    for (auto& route : *routes) {
      if (sendsTo(route, names.stable)) {
        route.as_object()["weight"] = 100 - weight;
      } else if (sendsTo(route, names.canary)) {
        route.as_object()["weight"] = weight;
      }
    }
  }
}

bool weightIs(json::object& virtualService, const Names& names, int32_t weight) {
  for (auto* routes : splitRoutes(virtualService, names)) {
    for (const auto& route : *routes) {
      if (sendsTo(route, names.stable) && weightOf(route) != 100 - weight) {
        return false;
      }
      if (sendsTo(route, names.canary) && weightOf(route) != weight) {
        return false;
      }
    }
  }
  return true;
}

Error noSplit(const Names& names) {
  return fieldError(kField,
                    fmt::format("no spec.http[] entry of VirtualService \"{}\" has routes to "
                                "both the stable Service \"{}\" and the canary Service \"{}\"; "
                                "both destinations are needed",
                                names.route, names.stable, names.canary));
}

}  // namespace

IstioRouter::IstioRouter(kube::Client& client, RouterTarget target, RouteNames names)
    : target_(std::move(target)),
      names_(std::move(names)),
      virtualService_(client, kVirtualServices, "VirtualService", kField, target_.ns,
                      names_.route) {}

asio::awaitable<Result<void>> IstioRouter::validate() {
  auto read = co_await virtualService_.get();
  if (!read) {
    co_return read.error();
  }
  if (splitRoutes(**read, names_).empty()) {
    co_return noSplit(names_);
  }
  co_return Result<void>();
}

asio::awaitable<Result<void>> IstioRouter::setWeight(int32_t weight) {
  if (auto valid = checkWeight(weight); !valid) {
    co_return valid.error();
  }
  auto read = co_await virtualService_.get();
  if (!read) {
    co_return read.error();
  }
  if (splitRoutes(**read, names_).empty()) {
    co_return noSplit(names_);
  }
  json::object edited = **read;
  applyWeight(edited, names_, weight);
  if (edited == **read) {
    co_return Result<void>();
  }
  // The object keeps the resourceVersion it was read at: a write in between is a Conflict.
  co_return co_await virtualService_.update(std::move(edited));
}

asio::awaitable<Result<bool>> IstioRouter::verifyWeight(int32_t weight) {
  auto read = co_await virtualService_.get();
  if (!read) {
    co_return read.error();
  }
  if (splitRoutes(**read, names_).empty()) {
    co_return noSplit(names_);
  }
  co_return weightIs(**read, names_, weight);
}

asio::awaitable<Result<void>> IstioRouter::reset() { co_return co_await setWeight(0); }

RouterRegistration istioRegistration() {
  return {"istio",
          [](kube::Client& client, RouterTarget target,
             const json::object& block) -> Result<TrafficRouterPtr> {
            auto names = routeNames(target, block, "istio", "virtualService");
            if (!names) {
              return names.error();
            }
            return TrafficRouterPtr(
                std::make_unique<IstioRouter>(client, std::move(target), std::move(*names)));
          }};
}

}  // namespace mc::reconcilers
