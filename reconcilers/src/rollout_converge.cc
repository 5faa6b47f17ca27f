// Converge: bring ReplicaSets, Services and the route to the status just written. Each action
// is idempotent, so a crash part-way repeats some and loses none. Pods come up before traffic
// moves to them, and go away only after it moved off them.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "rollout_pass.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;

// Each container named in `pinned` runs its pinned image (the digest verified) instead of the
// template's tag.
void pinImages(json::object& podTemplate, const std::map<std::string, std::string>& pinned) {
  auto* spec = podTemplate.if_contains("spec");
  if (pinned.empty() || spec == nullptr || !spec->is_object()) {
    return;
  }
  for (const char* list : {"initContainers", "containers"}) {
    auto* containers = spec->as_object().if_contains(list);
    if (containers == nullptr || !containers->is_array()) {
      continue;
    }
    for (auto& container : containers->as_array()) {
      if (!container.is_object()) {
        continue;
      }
      auto it = pinned.find(stringAt(container.as_object(), "name"));
      if (it != pinned.end()) {
        container.as_object()["image"] = it->second;
      }
    }
  }
}

// The ReplicaSet of one pod template: the template with the hash label added to its pods and to
// the selector, so the stable's and the canary's pods never mix, and its images pinned to the
// digests verified. The annotation keeps the template as the Rollout had it.
json::object replicaSetObject(const crds::Rollout& rollout, const std::string& ns,
                              const std::string& rolloutName, const std::string& uid,
                              const CreateReplicaSet& create) {
  json::object podTemplate = rollout.spec.podTemplate;
  auto& templateMeta = podTemplate["metadata"].emplace_object();
  if (const auto* meta = objectAt(rollout.spec.podTemplate, "metadata")) {
    templateMeta = *meta;
  }
  auto& labels = ensureObject(templateMeta, "labels");
  labels[crds::kPodTemplateHashLabel] = create.podHash;
  pinImages(podTemplate, create.pinnedImages);
  json::object selector = rollout.spec.selector;
  ensureObject(selector, "matchLabels")[crds::kPodTemplateHashLabel] = create.podHash;
  json::object annotations{
      {crds::kRevisionAnnotation, std::to_string(create.revision)},
      {crds::kPodTemplateAnnotation, json::serialize(rollout.spec.podTemplate)}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata",
           {{"name", create.name},
            {"namespace", ns},
            {"labels", labels},
            {"annotations", std::move(annotations)},
            {"ownerReferences", json::array{kube::controllerReference(
                                    crds::kApiVersion, crds::kRolloutKind, rolloutName, uid)}}}},
          {"spec",
           {{"replicas", create.replicas},
            {"selector", std::move(selector)},
            {"template", std::move(podTemplate)}}}};
}

std::string scalePatch(const ScaleReplicaSet& scale) {
  json::object patch{{"spec", {{"replicas", scale.replicas}}}};
  json::object annotations;
  if (scale.scaleDownAt || scale.clearScaleDownAt) {
    annotations[crds::kScaleDownAtAnnotation] =
        scale.scaleDownAt ? json::value(formatTime(*scale.scaleDownAt)) : nullptr;
  }
  if (scale.revision) {
    annotations[crds::kRevisionAnnotation] = std::to_string(*scale.revision);
  }
  if (!annotations.empty()) {
    patch["metadata"] = {{"annotations", std::move(annotations)}};
  }
  return json::serialize(patch);
}

}  // namespace

boost::asio::awaitable<Result<bool>> RolloutReconciler::createReplicaSets(Pass& pass) {
  const auto& request = pass.request;
  for (const auto& create : pass.planned.creates) {
    if (writes_.inFlight(replicaSetKey(request.ns, create.name), "")) {
      continue;  // created a moment ago; the ReplicaSet informer has not delivered it yet
    }
    auto body = replicaSetObject(pass.context.rollout, request.ns, request.name, pass.uid, create);
    auto created =
        co_await client_.create(kube::resources::kReplicaSets, request.ns, std::move(body));
    if (!created && created.error().kind == ErrorKind::AlreadyExists) {
      std::string existingName = create.name;
      auto existing = co_await client_.get(kube::resources::kReplicaSets, request.ns, existingName);
      if (!existing) {
        co_return existing.error();
      }
      if (ownedBy(*existing, pass.uid)) {
        continue;  // ours; the cache had not seen it yet
      }
      // Taken between gather's look and this create: a new count gives a new hash.
      auto bumped = co_await bumpCollisionCount(pass, create.name);
      if (!bumped) {
        co_return bumped.error();
      }
      co_return true;
    }
    if (!created) {
      co_return created.error();
    }
    writes_.wrote(replicaSetKey(request.ns, create.name), "");
    request.log.info("created ReplicaSet {} with {} replicas", create.name, create.replicas);
  }
  co_return false;
}

boost::asio::awaitable<Result<void>> RolloutReconciler::bumpCollisionCount(
    Pass& pass, const std::string& takenName) {
  const auto& request = pass.request;
  int32_t collisions = pass.context.rollout.status.collisionCount.value_or(0) + 1;
  request.log.warn("ReplicaSet {} exists and is not this Rollout's: collisionCount {}", takenName,
                   collisions);
  std::string patch = fmt::format(R"({{"status":{{"collisionCount":{}}}}})", collisions);
  kube::PatchOptions statusPatch{kStatusSubresource};
  auto bumped = co_await client_.patch(crds::resources::kRollouts, request.ns, request.name,
                                       kube::PatchType::Merge, std::move(patch), statusPatch);
  if (!bumped) {
    co_return bumped.error();
  }
  co_return Result<void>();
}

boost::asio::awaitable<Result<void>> RolloutReconciler::applyScale(
    const kube::ReconcileRequest& request, ScaleReplicaSet scale) {
  std::string name = scale.name;
  std::string body = scalePatch(scale);
  kube::ObjectPtr cached = replicaSets_->get(request.ns + "/" + name);
  std::string cachedVersion = cached ? kube::resourceVersionOf(*cached) : "";
  std::string key = replicaSetKey(request.ns, name);
  if (writes_.inFlight(key, cachedVersion, body)) {
    co_return Result<void>();  // this very patch replaced the cached version: the cache lags
  }
  auto scaled = co_await client_.patch(kube::resources::kReplicaSets, request.ns, name,
                                       kube::PatchType::Merge, body);
  if (!scaled) {
    co_return scaled.error();
  }
  writes_.wrote(key, cachedVersion, body);
  request.log.info("scaled ReplicaSet {} to {}", scale.name, scale.replicas);
  co_return Result<void>();
}

boost::asio::awaitable<Result<void>> RolloutReconciler::selectServices(Pass& pass) {
  for (const auto& service : pass.planned.services) {
    std::string name = service.service;
    std::string patch = json::serialize(
        json::object{{"spec", {{"selector", {{crds::kPodTemplateHashLabel, service.podHash}}}}}});
    auto selected = co_await client_.patch(kube::resources::kServices, pass.request.ns, name,
                                           kube::PatchType::Merge, std::move(patch));
    if (!selected) {
      co_return selected.error();
    }
    pass.request.log.info("Service {} selects pods of {}", service.service, service.podHash);
  }
  co_return Result<void>();
}

boost::asio::awaitable<Result<void>> RolloutReconciler::convergeRoute(Pass& pass) {
  if (pass.router == nullptr || pass.planned.route == RouteChange::None) {
    co_return Result<void>();
  }
  if (pass.planned.route == RouteChange::SetWeight) {
    auto set = co_await pass.router->setWeight(pass.planned.routeWeight);
    if (!set) {
      co_return set.error();
    }
    pass.request.log.info("route weight set to {}", pass.planned.routeWeight);
    co_return Result<void>();
  }
  co_return co_await pass.router->reset();
}

boost::asio::awaitable<Result<void>> RolloutReconciler::deleteHistory(Pass& pass) {
  for (const auto& name : pass.planned.deletes) {
    std::string rsName = name;
    auto removed = co_await client_.remove(kube::resources::kReplicaSets, pass.request.ns, rsName);
    if (!removed && removed.error().kind != ErrorKind::NotFound) {
      co_return removed.error();
    }
    pass.request.log.info("deleted ReplicaSet {} (beyond revisionHistoryLimit)", name);
  }
  co_return Result<void>();
}

}  // namespace mc::reconcilers
