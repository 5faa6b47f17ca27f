#include "gateway_api.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "../route_names.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

const kube::ResourceType kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes"};
constexpr const char* kField = "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute";

using Names = RouteNames;

Result<Names> namesOf(const RouterTarget& target) {
  const auto& routing = target.canary.trafficRouting;
  return routeNames(target, routing ? routing->gatewayHttpRoute : std::nullopt, kField);
}

std::string_view stringField(const json::object& object, std::string_view key) {
  auto* value = object.if_contains(key);
  return value && value->is_string() ? std::string_view(value->as_string()) : std::string_view();
}

// A backendRef names a Service of the route's namespace when its group is the core group, its
// kind Service (both the API's defaults) and its namespace absent or the route's own.
bool refersTo(const json::object& ref, std::string_view ns, std::string_view service) {
  auto* kind = ref.if_contains("kind");
  if (kind && !(kind->is_string() && kind->as_string() == "Service")) {
    return false;
  }
  auto* group = ref.if_contains("group");
  if (group && !(group->is_string() && group->as_string().empty())) {
    return false;
  }
  auto* refNs = ref.if_contains("namespace");
  if (refNs && !(refNs->is_string() && refNs->as_string() == ns)) {
    return false;
  }
  return stringField(ref, "name") == service;
}

// A backendRef's weight; the API defaults an absent one to 1.
int64_t weightOf(const json::object& ref) {
  auto* weight = ref.if_contains("weight");
  if (weight && weight->is_int64()) {
    return weight->as_int64();
  }
  if (weight && weight->is_uint64()) {
    return static_cast<int64_t>(weight->as_uint64());
  }
  return 1;
}

// The backendRefs of each rule, for rules that have any.
std::vector<json::array*> backendRefLists(json::object& route) {
  std::vector<json::array*> lists;
  auto* spec = route.if_contains("spec");
  auto* rules = spec && spec->is_object() ? spec->as_object().if_contains("rules") : nullptr;
  if (!rules || !rules->is_array()) {
    return lists;
  }
  for (auto& rule : rules->as_array()) {
    auto* refs = rule.is_object() ? rule.as_object().if_contains("backendRefs") : nullptr;
    if (refs && refs->is_array()) {
      lists.push_back(&refs->as_array());
    }
  }
  return lists;
}

bool hasRefTo(const json::array& refs, std::string_view ns, std::string_view service) {
  for (const auto& ref : refs) {
    if (ref.is_object() && refersTo(ref.as_object(), ns, service)) {
      return true;
    }
  }
  return false;
}

// Sets the weights in every rule that routes to the stable Service, adding a canary backendRef
// (same port, group, kind and namespace as the stable one) where there is none.
void applyWeight(json::object& route, std::string_view ns, const Names& names, int32_t weight) {
  for (auto* refs : backendRefLists(route)) {
    const json::object* stableRef = nullptr;
    bool hasCanary = false;
    for (auto& ref : *refs) {
      if (!ref.is_object()) {
        continue;
      }
      auto& object = ref.as_object();
      if (refersTo(object, ns, names.stable)) {
        object["weight"] = 100 - weight;
        stableRef = stableRef ? stableRef : &object;
      } else if (refersTo(object, ns, names.canary)) {
        object["weight"] = weight;
        hasCanary = true;
      }
    }
    if (!stableRef || hasCanary) {
      continue;
    }
    json::object canaryRef;
    for (const char* key : {"group", "kind", "namespace", "port"}) {
      if (auto* value = stableRef->if_contains(key)) {
        canaryRef[key] = *value;
      }
    }
    canaryRef["name"] = names.canary;
    canaryRef["weight"] = weight;
    refs->push_back(std::move(canaryRef));  // stableRef is not used past this point
  }
}

bool weightIs(json::object& route, std::string_view ns, const Names& names, int32_t weight) {
  for (auto* refs : backendRefLists(route)) {
    if (!hasRefTo(*refs, ns, names.stable)) {
      continue;
    }
    bool hasCanary = false;
    for (const auto& ref : *refs) {
      if (!ref.is_object()) {
        continue;
      }
      const auto& object = ref.as_object();
      if (refersTo(object, ns, names.stable) && weightOf(object) != 100 - weight) {
        return false;
      }
      if (refersTo(object, ns, names.canary)) {
        hasCanary = true;
        if (weightOf(object) != weight) {
          return false;
        }
      }
    }
    if (!hasCanary && weight != 0) {
      return false;
    }
  }
  return true;
}

// The route; a missing one is the user's mistake (Invalid), other errors pass through.
asio::awaitable<Result<json::object>> readRoute(kube::Client* client, std::string ns,
                                                std::string name) {
  auto route = co_await client->get(kHttpRoutes, ns, name);
  if (!route && route.error().kind == ErrorKind::NotFound) {
    co_return makeError(ErrorKind::Invalid,
                        fmt::format("{}: HTTPRoute \"{}\" not found", kField, name));
  }
  co_return std::move(route);
}

Error noStableRef(const Names& names) {
  return makeError(ErrorKind::Invalid,
                   fmt::format("{}: no rule of HTTPRoute \"{}\" has a backendRef to the stable "
                               "Service \"{}\"",
                               kField, names.route, names.stable));
}

}  // namespace

asio::awaitable<Result<void>> GatewayApiRouter::validate(RouterTarget target) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  auto route = co_await readRoute(&client_, target.ns, names->route);
  if (!route) {
    co_return route.error();
  }
  for (auto* refs : backendRefLists(*route)) {
    if (hasRefTo(*refs, target.ns, names->stable)) {
      co_return Result<void>();
    }
  }
  co_return noStableRef(*names);
}

asio::awaitable<Result<void>> GatewayApiRouter::setWeight(RouterTarget target, int32_t weight) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  if (auto valid = checkWeight(weight); !valid) {
    co_return valid.error();
  }
  auto route = co_await readRoute(&client_, target.ns, names->route);
  if (!route) {
    co_return route.error();
  }
  json::object edited = *route;
  applyWeight(edited, target.ns, *names, weight);
  if (edited == *route) {
    // Either already right, or no rule routes to the stable Service: validate reports that.
    bool routed = false;
    for (auto* refs : backendRefLists(edited)) {
      routed = routed || hasRefTo(*refs, target.ns, names->stable);
    }
    if (!routed) {
      co_return noStableRef(*names);
    }
    co_return Result<void>();
  }
  // The object keeps the resourceVersion it was read at: a write in between is a Conflict.
  auto updated = co_await client_.update(kHttpRoutes, target.ns, std::move(edited));
  if (!updated) {
    co_return updated.error();
  }
  co_return Result<void>();
}

asio::awaitable<Result<bool>> GatewayApiRouter::verifyWeight(RouterTarget target, int32_t weight) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  auto route = co_await readRoute(&client_, target.ns, names->route);
  if (!route) {
    co_return route.error();
  }
  bool routed = false;
  for (auto* refs : backendRefLists(*route)) {
    routed = routed || hasRefTo(*refs, target.ns, names->stable);
  }
  if (!routed) {
    co_return noStableRef(*names);
  }
  co_return weightIs(*route, target.ns, *names, weight);
}

// The canary backendRef stays (at weight 0) so the route keeps the shape the next canary needs.
asio::awaitable<Result<void>> GatewayApiRouter::reset(RouterTarget target) {
  co_return co_await setWeight(std::move(target), 0);
}

RouterRegistration gatewayApiRegistration() {
  return {"gatewayAPI",
          [](const crds::TrafficRouting& routing) { return routing.gatewayHttpRoute.has_value(); },
          [](kube::Client& client) -> TrafficRouterPtr {
            return std::make_unique<GatewayApiRouter>(client);
          }};
}

}  // namespace mc::reconcilers
