#include "nginx.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <utility>

#include "../route_names.h"
#include "mc/common/json.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

const kube::ResourceType kIngresses{"networking.k8s.io", "v1", "ingresses"};
constexpr const char* kField = "spec.strategy.canary.trafficRouting.nginx.stableIngress";
constexpr const char* kCanaryAnnotation = "nginx.ingress.kubernetes.io/canary";
constexpr const char* kWeightAnnotation = "nginx.ingress.kubernetes.io/canary-weight";
constexpr const char* kRolloutLabel = "mc.maestro.dev/rollout";
constexpr size_t kMaxObjectName = 253;
constexpr size_t kMaxLabelValue = 63;

using Names = RouteNames;

Result<Names> namesOf(const RouterTarget& target) {
  const auto& routing = target.canary.trafficRouting;
  return routeNames(target, routing ? routing->nginxStableIngress : std::nullopt, kField);
}

uint32_t fnv1a(std::string_view text) {
  uint32_t hash = 2166136261u;
  for (unsigned char c : text) {
    hash = (hash ^ c) * 16777619u;
  }
  return hash;
}

// A name cut short must still end in a letter or digit (each DNS label of an object name does).
void trimToAlnum(std::string& text) {
  while (!text.empty() && !std::isalnum(static_cast<unsigned char>(text.back()))) {
    text.pop_back();
  }
}

// Label values are limited to 63 characters; a Rollout's name may be longer.
std::string rolloutLabelValue(std::string_view rolloutName) {
  std::string value(rolloutName.substr(0, kMaxLabelValue));
  trimToAlnum(value);
  return value;
}

const json::object* objectField(const json::object& object, std::string_view key) {
  auto* value = object.if_contains(key);
  return value && value->is_object() ? &value->as_object() : nullptr;
}

// Points a backend ({"service": {"name": ..., "port": ...}}) at the canary Service if it names
// the stable one; returns whether it did.
bool redirectBackend(json::value* backend, const Names& names) {
  auto* service =
      backend && backend->is_object() ? backend->as_object().if_contains("service") : nullptr;
  if (!service || !service->is_object()) {
    return false;
  }
  auto& object = service->as_object();
  if (stringAt(&object, "name") != names.stable) {
    return false;
  }
  object["name"] = names.canary;
  return true;
}

Error noStableBackend(const Names& names) {
  return makeError(ErrorKind::Invalid,
                   fmt::format("{}: Ingress \"{}\" has no backend for the stable Service \"{}\"",
                               kField, names.route, names.stable));
}

// The canary Ingress's spec: the stable Ingress's, every backend of the stable Service pointed
// at the canary Service (the default backend and each rule's paths).
Result<json::object> canarySpec(const json::object& stableIngress, const Names& names) {
  const auto* stableSpec = objectField(stableIngress, "spec");
  json::object spec = stableSpec ? *stableSpec : json::object();
  int redirected = redirectBackend(spec.if_contains("defaultBackend"), names) ? 1 : 0;
  if (auto* rules = spec.if_contains("rules"); rules && rules->is_array()) {
    for (auto& rule : rules->as_array()) {
      auto* http = rule.is_object() ? rule.as_object().if_contains("http") : nullptr;
      auto* paths = http && http->is_object() ? http->as_object().if_contains("paths") : nullptr;
      if (!paths || !paths->is_array()) {
        continue;
      }
      for (auto& path : paths->as_array()) {
        if (path.is_object() && redirectBackend(path.as_object().if_contains("backend"), names)) {
          ++redirected;
        }
      }
    }
  }
  if (redirected == 0) {
    return noStableBackend(names);
  }
  return spec;
}

bool ownedBy(const json::object& ingress, const RouterTarget& target) {
  auto controller = kube::controllerOf(ingress);
  return controller && controller->uid == target.rolloutUid;
}

// MC writes only a canary Ingress it owns. One owned by an earlier Rollout of the same name is
// on its way out (the garbage collector deletes it), so that is worth a retry; anything else
// under the name is the user's and needs the user.
Result<void> checkOwned(const json::object& ingress, const RouterTarget& target) {
  if (ownedBy(ingress, target)) {
    return {};
  }
  auto name = kube::nameOf(ingress);
  auto controller = kube::controllerOf(ingress);
  if (controller && controller->kind == "Rollout" && controller->apiVersion == crds::kApiVersion &&
      controller->name == target.rolloutName) {
    return makeError(ErrorKind::Conflict,
                     fmt::format("canary Ingress \"{}\" still belongs to an earlier Rollout \"{}\" "
                                 "(uid {}); waiting for it to be garbage-collected",
                                 name, target.rolloutName, controller->uid));
  }
  return makeError(ErrorKind::Invalid,
                   fmt::format("{}: Ingress \"{}\", the canary Ingress name, already exists and "
                               "is not managed by Rollout \"{}\"; rename or delete it",
                               kField, name, target.rolloutName));
}

// Brings `ingress` (new or as read) to what MC wants, keeping whatever else it carries.
void applyDesired(json::object& ingress, const RouterTarget& target, const std::string& name,
                  const json::object& spec, int32_t weight) {
  ingress["apiVersion"] = "networking.k8s.io/v1";
  ingress["kind"] = "Ingress";
  auto& metadata = ensureObject(ingress, "metadata");
  metadata["name"] = name;
  metadata["namespace"] = target.ns;
  ensureObject(metadata, "labels")[kRolloutLabel] = rolloutLabelValue(target.rolloutName);
  auto& annotations = ensureObject(metadata, "annotations");
  annotations[kCanaryAnnotation] = "true";
  annotations[kWeightAnnotation] = std::to_string(weight);
  if (!metadata.contains("ownerReferences")) {
    metadata["ownerReferences"] = json::array{kube::controllerReference(
        crds::kApiVersion, "Rollout", target.rolloutName, target.rolloutUid)};
  }
  json::object desiredSpec = spec;
  // An Ingress created without a class may get the cluster's default one on admission; that is
  // not a difference worth a write on every reconcile.
  const auto* current = objectField(std::as_const(ingress), "spec");
  if (current && !desiredSpec.contains("ingressClassName")) {
    if (auto* assigned = current->if_contains("ingressClassName")) {
      desiredSpec["ingressClassName"] = *assigned;
    }
  }
  ingress["spec"] = std::move(desiredSpec);
}

asio::awaitable<Result<json::object>> readStableIngress(kube::Client* client, std::string ns,
                                                        std::string name) {
  auto ingress = co_await client->get(kIngresses, ns, name);
  if (!ingress && ingress.error().kind == ErrorKind::NotFound) {
    co_return makeError(ErrorKind::Invalid,
                        fmt::format("{}: Ingress \"{}\" not found", kField, name));
  }
  co_return std::move(ingress);
}

}  // namespace

std::string canaryIngressName(std::string_view stableIngress, std::string_view rolloutName) {
  auto name = fmt::format("{}-{}-canary", stableIngress, rolloutName);
  if (name.size() <= kMaxObjectName) {
    return name;
  }
  auto hash = fmt::format("{:08x}", fnv1a(name));
  constexpr size_t kSuffix = std::char_traits<char>::length("-canary");
  auto prefix = name.substr(0, kMaxObjectName - kSuffix - 1 - hash.size());
  trimToAlnum(prefix);
  return fmt::format("{}-{}-canary", prefix, hash);
}

asio::awaitable<Result<void>> NginxRouter::validate(RouterTarget target) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  auto stable = co_await readStableIngress(&client_, target.ns, names->route);
  if (!stable) {
    co_return stable.error();
  }
  if (auto spec = canarySpec(*stable, *names); !spec) {
    co_return spec.error();
  }
  co_return Result<void>();
}

asio::awaitable<Result<void>> NginxRouter::setWeight(RouterTarget target, int32_t weight) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  if (auto valid = checkWeight(weight); !valid) {
    co_return valid.error();
  }
  if (target.rolloutUid.empty()) {
    co_return makeError(ErrorKind::Terminal, "nginx router: the Rollout's uid is not known");
  }
  auto stable = co_await readStableIngress(&client_, target.ns, names->route);
  if (!stable) {
    co_return stable.error();
  }
  auto spec = canarySpec(*stable, *names);
  if (!spec) {
    co_return spec.error();
  }
  auto name = canaryIngressName(names->route, target.rolloutName);
  auto existing = co_await client_.get(kIngresses, target.ns, name);
  if (!existing && existing.error().kind != ErrorKind::NotFound) {
    co_return existing.error();
  }
  if (!existing) {
    json::object created;
    applyDesired(created, target, name, *spec, weight);
    auto result = co_await client_.create(kIngresses, target.ns, std::move(created));
    if (result) {
      co_return Result<void>();
    }
    if (result.error().kind != ErrorKind::AlreadyExists) {
      co_return result.error();
    }
    // Created in the meantime (by an earlier reconcile whose answer was lost, say): update it.
    existing = co_await client_.get(kIngresses, target.ns, name);
    if (!existing) {
      co_return existing.error();
    }
  }
  if (auto owned = checkOwned(*existing, target); !owned) {
    co_return owned.error();
  }
  json::object edited = *existing;
  applyDesired(edited, target, name, *spec, weight);
  if (edited == *existing) {
    co_return Result<void>();
  }
  auto updated = co_await client_.update(kIngresses, target.ns, std::move(edited));
  if (!updated) {
    co_return updated.error();
  }
  co_return Result<void>();
}

asio::awaitable<Result<bool>> NginxRouter::verifyWeight(RouterTarget target, int32_t weight) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  auto name = canaryIngressName(names->route, target.rolloutName);
  auto canary = co_await client_.get(kIngresses, target.ns, name);
  if (!canary) {
    if (canary.error().kind == ErrorKind::NotFound) {
      co_return weight == 0;
    }
    co_return canary.error();
  }
  const auto* metadata = objectField(std::as_const(*canary), "metadata");
  const auto* annotations = metadata ? objectField(*metadata, "annotations") : nullptr;
  co_return stringAt(annotations, kWeightAnnotation) == std::to_string(weight);
}

asio::awaitable<Result<void>> NginxRouter::reset(RouterTarget target) {
  auto names = namesOf(target);
  if (!names) {
    co_return names.error();
  }
  auto name = canaryIngressName(names->route, target.rolloutName);
  auto canary = co_await client_.get(kIngresses, target.ns, name);
  if (!canary) {
    if (canary.error().kind == ErrorKind::NotFound) {
      co_return Result<void>();
    }
    co_return canary.error();
  }
  if (!ownedBy(*canary, target)) {
    co_return Result<void>();  // not MC's to delete; setWeight reports it
  }
  // Only the object just read: if it was replaced in between, the precondition fails (Conflict).
  kube::DeleteOptions options;
  options.preconditionUid = kube::uidOf(*canary);
  auto removed = co_await client_.remove(kIngresses, target.ns, name, std::move(options));
  if (!removed && removed.error().kind != ErrorKind::NotFound) {
    co_return removed.error();
  }
  co_return Result<void>();
}

RouterRegistration nginxRegistration() {
  return {
      "nginx",
      [](const crds::TrafficRouting& routing) { return routing.nginxStableIngress.has_value(); },
      [](kube::Client& client) -> TrafficRouterPtr {
        return std::make_unique<NginxRouter>(client);
      }};
}

}  // namespace mc::reconcilers
