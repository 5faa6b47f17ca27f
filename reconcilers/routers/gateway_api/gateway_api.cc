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

Error noStableRef(const Names& names) {
  return fieldError(kField,
                    fmt::format("no rule of HTTPRoute \"{}\" has a backendRef to the stable "
                                "Service \"{}\"",
                                names.route, names.stable));
}

bool routesToStable(json::object& route, std::string_view ns, const Names& names) {
  for (auto* refs : backendRefLists(route)) {
    if (hasRefTo(*refs, ns, names.stable)) {
      return true;
    }
  }
  return false;
}

}  // namespace

GatewayApiRouter::GatewayApiRouter(kube::Client& client, RouterTarget target, RouteNames names)
    : target_(std::move(target)),
      names_(std::move(names)),
      route_(client, kHttpRoutes, "HTTPRoute", kField, target_.ns, names_.route) {}

asio::awaitable<Result<void>> GatewayApiRouter::validate() {
  auto read = co_await route_.get();
  if (!read) {
    co_return read.error();
  }
  if (!routesToStable(**read, target_.ns, names_)) {
    co_return noStableRef(names_);
  }
  co_return Result<void>();
}

asio::awaitable<Result<void>> GatewayApiRouter::setWeight(int32_t weight) {
  if (auto valid = checkWeight(weight); !valid) {
    co_return valid.error();
  }
  auto read = co_await route_.get();
  if (!read) {
    co_return read.error();
  }
  json::object edited = **read;
  applyWeight(edited, target_.ns, names_, weight);
  if (edited == **read) {
    // Either already right, or no rule routes to the stable Service.
    if (!routesToStable(edited, target_.ns, names_)) {
      co_return noStableRef(names_);
    }
    co_return Result<void>();
  }
  // The object keeps the resourceVersion it was read at: a write in between is a Conflict.
  co_return co_await route_.update(std::move(edited));
}

asio::awaitable<Result<bool>> GatewayApiRouter::verifyWeight(int32_t weight) {
  auto read = co_await route_.get();
  if (!read) {
    co_return read.error();
  }
  if (!routesToStable(**read, target_.ns, names_)) {
    co_return noStableRef(names_);
  }
  co_return weightIs(**read, target_.ns, names_, weight);
}

// The canary backendRef stays (at weight 0) so the route keeps the shape the next canary needs.
asio::awaitable<Result<void>> GatewayApiRouter::reset() { co_return co_await setWeight(0); }

RouterRegistration gatewayApiRegistration() {
  return {"gatewayAPI",
          [](kube::Client& client, RouterTarget target,
             const json::object& block) -> Result<TrafficRouterPtr> {
            auto names = routeNames(target, block, "gatewayAPI", "httpRoute");
            if (!names) {
              return names.error();
            }
            return TrafficRouterPtr(
                std::make_unique<GatewayApiRouter>(client, std::move(target), std::move(*names)));
          }};
}

}  // namespace mc::reconcilers
