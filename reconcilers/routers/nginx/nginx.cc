#include "nginx.h"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <cctype>
#include <utility>

#include "../route_names.h"
#include "mc/common/json.h"
#include "mc/crds/names.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

const kube::ResourceType kIngresses{"networking.k8s.io", "v1", "ingresses"};
constexpr const char* kField = "spec.strategy.canary.trafficRouting.nginx.stableIngress";
constexpr const char* kCanaryAnnotation = "nginx.ingress.kubernetes.io/canary";
constexpr const char* kWeightAnnotation = "nginx.ingress.kubernetes.io/canary-weight";
using crds::kRolloutLabel;
constexpr size_t kMaxObjectName = 253;

using Names = RouteNames;

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
  return fieldError(kField,
                    fmt::format("Ingress \"{}\" has no backend for the stable Service \"{}\"",
                                names.route, names.stable));
}

// The canary Ingress's spec: the stable Ingress's, every backend of the stable Service pointed
// at the canary Service (the default backend and each rule's paths).
Result<json::object> canarySpec(const json::object& stableIngress, const Names& names) {
  const auto* stableSpec = objectAt(stableIngress, "spec");
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
  if (controller && controller->kind == crds::kRolloutKind &&
      controller->apiVersion == crds::kApiVersion && controller->name == target.rolloutName) {
    return makeError(ErrorKind::Conflict,
                     fmt::format("canary Ingress \"{}\" still belongs to an earlier Rollout \"{}\" "
                                 "(uid {}); waiting for it to be garbage-collected",
                                 name, target.rolloutName, controller->uid));
  }
  return fieldError(kField,
                    fmt::format("Ingress \"{}\", the canary Ingress name, already exists and "
                                "is not managed by Rollout \"{}\"; rename or delete it",
                                name, target.rolloutName));
}

// Brings `ingress` (new or as read) to what MC wants, keeping whatever else it carries.
void applyDesired(json::object& ingress, const RouterTarget& target, const std::string& name,
                  const json::object& spec, int32_t weight) {
  ingress["apiVersion"] = "networking.k8s.io/v1";
  ingress["kind"] = "Ingress";
  auto& metadata = ensureObject(ingress, "metadata");
  metadata["name"] = name;
  metadata["namespace"] = target.ns;
  ensureObject(metadata, "labels")[kRolloutLabel] = crds::rolloutLabelValue(target.rolloutName);
  auto& annotations = ensureObject(metadata, "annotations");
  annotations[kCanaryAnnotation] = "true";
  annotations[kWeightAnnotation] = std::to_string(weight);
  if (!metadata.contains("ownerReferences")) {
    metadata["ownerReferences"] = json::array{kube::controllerReference(
        crds::kApiVersion, crds::kRolloutKind, target.rolloutName, target.rolloutUid)};
  }
  json::object desiredSpec = spec;
  // An Ingress created without a class may get the cluster's default one on admission; that is
  // not a difference worth a write on every reconcile.
  const auto* current = objectAt(std::as_const(ingress), "spec");
  if (current && !desiredSpec.contains("ingressClassName")) {
    if (auto* assigned = current->if_contains("ingressClassName")) {
      desiredSpec["ingressClassName"] = *assigned;
    }
  }
  ingress["spec"] = std::move(desiredSpec);
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

NginxRouter::NginxRouter(kube::Client& client, RouterTarget target, RouteNames names)
    : client_(client),
      target_(std::move(target)),
      names_(std::move(names)),
      canaryName_(canaryIngressName(names_.route, target_.rolloutName)),
      stableIngress_(client, kIngresses, "Ingress", kField, target_.ns, names_.route) {}

asio::awaitable<Result<const json::object*>> NginxRouter::canaryIngress() {
  if (!canaryRead_) {
    std::string name = canaryName_;
    auto read = co_await client_.get(kIngresses, target_.ns, name);
    if (!read && read.error().kind != ErrorKind::NotFound) {
      co_return read.error();
    }
    canaryRead_ = true;
    if (read) {
      canary_ = std::move(*read);
    }
  }
  co_return canary_ ? &*canary_ : nullptr;
}

asio::awaitable<Result<void>> NginxRouter::validate() {
  auto stable = co_await stableIngress_.get();
  if (!stable) {
    co_return stable.error();
  }
  if (auto spec = canarySpec(**stable, names_); !spec) {
    co_return spec.error();
  }
  co_return Result<void>();
}

asio::awaitable<Result<void>> NginxRouter::setWeight(int32_t weight) {
  if (auto valid = checkWeight(weight); !valid) {
    co_return valid.error();
  }
  if (target_.rolloutUid.empty()) {
    co_return makeError(ErrorKind::Terminal, "nginx router: the Rollout's uid is not known");
  }
  auto stable = co_await stableIngress_.get();
  if (!stable) {
    co_return stable.error();
  }
  auto spec = canarySpec(**stable, names_);
  if (!spec) {
    co_return spec.error();
  }
  auto existing = co_await canaryIngress();
  if (!existing) {
    co_return existing.error();
  }
  if (*existing == nullptr) {
    json::object created;
    applyDesired(created, target_, canaryName_, *spec, weight);
    auto result = co_await client_.create(kIngresses, target_.ns, std::move(created));
    if (result) {
      canary_ = std::move(*result);
      co_return Result<void>();
    }
    if (result.error().kind != ErrorKind::AlreadyExists) {
      co_return result.error();
    }
    // Created in the meantime (by an earlier reconcile whose answer was lost, say): update it.
    canaryRead_ = false;
    existing = co_await canaryIngress();
    if (!existing) {
      co_return existing.error();
    }
    if (*existing == nullptr) {
      co_return makeError(ErrorKind::Conflict,
                          fmt::format("canary Ingress \"{}\" came and went", canaryName_));
    }
  }
  if (auto owned = checkOwned(**existing, target_); !owned) {
    co_return owned.error();
  }
  json::object edited = **existing;
  applyDesired(edited, target_, canaryName_, *spec, weight);
  if (edited == **existing) {
    co_return Result<void>();
  }
  auto updated = co_await client_.update(kIngresses, target_.ns, std::move(edited));
  if (!updated) {
    canaryRead_ = false;
    co_return updated.error();
  }
  canary_ = std::move(*updated);
  co_return Result<void>();
}

asio::awaitable<Result<bool>> NginxRouter::verifyWeight(int32_t weight) {
  auto canary = co_await canaryIngress();
  if (!canary) {
    co_return canary.error();
  }
  if (*canary == nullptr) {
    co_return weight == 0;
  }
  const auto* annotations = objectAt(objectAt(**canary, "metadata"), "annotations");
  co_return stringAt(annotations, kWeightAnnotation) == std::to_string(weight);
}

asio::awaitable<Result<void>> NginxRouter::reset() {
  auto canary = co_await canaryIngress();
  if (!canary) {
    co_return canary.error();
  }
  if (*canary == nullptr || !ownedBy(**canary, target_)) {
    co_return Result<void>();  // nothing, or not MC's to delete (setWeight reports that)
  }
  // Only the object read: if it was replaced in between, the precondition fails (Conflict).
  kube::DeleteOptions options;
  options.preconditionUid = kube::uidOf(**canary);
  std::string name = canaryName_;
  auto removed = co_await client_.remove(kIngresses, target_.ns, name, std::move(options));
  canaryRead_ = false;
  canary_.reset();
  if (!removed && removed.error().kind != ErrorKind::NotFound) {
    co_return removed.error();
  }
  co_return Result<void>();
}

RouterRegistration nginxRegistration() {
  return {"nginx",
          [](kube::Client& client, RouterTarget target,
             const json::object& block) -> Result<TrafficRouterPtr> {
            auto names = routeNames(target, block, "nginx", "stableIngress");
            if (!names) {
              return names.error();
            }
            return TrafficRouterPtr(
                std::make_unique<NginxRouter>(client, std::move(target), std::move(*names)));
          }};
}

}  // namespace mc::reconcilers
