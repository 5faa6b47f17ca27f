// Gather: everything plan() decides on, read once per reconcile. The Rollout and its
// ReplicaSets come from the caches; the Services and the route it names from the apiserver (a
// missing one is the user's to fix, InvalidSpec, not a retry).
#include <fmt/format.h>

#include <boost/json.hpp>

#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/pod_template_hash.h"
#include "rollout_pass.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;

ReplicaSetView viewOf(const json::object& rs) {
  const auto* metadata = objectAt(rs, "metadata");
  const auto* status = objectAt(rs, "status");
  ReplicaSetView view;
  view.name = kube::nameOf(rs);
  view.podHash = crds::podHashOf(rs);
  view.revision = crds::revisionOf(rs);
  view.replicas = static_cast<int32_t>(intAt(objectAt(rs, "spec"), "replicas", 1));
  view.statusReplicas = static_cast<int32_t>(intAt(status, "replicas", 0));
  view.availableReplicas = static_cast<int32_t>(intAt(status, "availableReplicas", 0));
  view.statusCurrent = intAt(status, "observedGeneration", 0) >= intAt(metadata, "generation", 0);
  auto at = stringAt(objectAt(metadata, "annotations"), crds::kScaleDownAtAnnotation);
  if (!at.empty()) {
    view.scaleDownAt = parseTime(at);
  }
  view.createdAt = parseTime(stringAt(metadata, "creationTimestamp"));
  if (const auto* spec = objectAt(rs, "spec"); spec != nullptr) {
    if (const auto* podTemplate = objectAt(*spec, "template"); podTemplate != nullptr) {
      view.images = imagesOf(*podTemplate);
    }
  }
  return view;
}

FieldError fieldErrorOf(const Error& error) {
  return {error.field.empty() ? "spec.strategy.canary.trafficRouting" : error.field, error.message};
}

}  // namespace

boost::asio::awaitable<Result<bool>> RolloutReconciler::claimCurrentName(Pass& pass) {
  const auto& rollout = pass.context.rollout;
  const std::string hash =
      crds::podTemplateHash(rollout.spec.podTemplate, rollout.status.collisionCount.value_or(0));
  for (const auto& rs : pass.context.replicaSets) {
    if (rs.podHash == hash) {
      co_return false;  // ours already
    }
  }
  // Not among ours: the name is free, ours and not cached yet, or someone else's. The caches
  // hold only ReplicaSets with MC's label, so ask the apiserver; this happens once per template.
  std::string name = replicaSetName(pass.request.name, hash);
  auto found = co_await client_.get(kube::resources::kReplicaSets, pass.request.ns, name);
  if (!found) {
    if (found.error().kind == ErrorKind::NotFound) {
      co_return false;
    }
    co_return found.error();
  }
  if (ownedBy(*found, pass.uid)) {
    co_return false;
  }
  auto bumped = co_await bumpCollisionCount(pass, name);
  if (!bumped) {
    co_return bumped.error();
  }
  co_return true;
}

boost::asio::awaitable<Result<void>> RolloutReconciler::gather(Pass& pass) {
  const auto& request = pass.request;
  auto& context = pass.context;
  context.name = request.name;
  context.ns = request.ns;
  context.generation = intAt(objectAt(pass.object, "metadata"), "generation", 0);
  for (const auto& rs : replicaSets_->byIndex(kube::kOwnerUidIndex, pass.uid)) {
    if (ownedBy(*rs, pass.uid)) {
      context.replicaSets.push_back(viewOf(*rs));
    }
  }
  const crds::CanaryStrategy canary = context.rollout.spec.canary.value_or(crds::CanaryStrategy{});
  RouterTarget target{request.ns, request.name, pass.uid, canary.stableService.value_or(""),
                      canary.canaryService.value_or("")};
  auto router = makeRouter(client_, std::move(target), canary.trafficRouting);
  if (!router) {
    context.referenceError = fieldErrorOf(router.error());
    context.trafficRouted = canary.trafficRouting.has_value();
  } else {
    pass.router = std::move(*router);
    context.trafficRouted = pass.router->shapesTraffic();
  }

  const std::pair<const char*, std::optional<std::string>> services[] = {
      {"spec.strategy.canary.stableService", canary.stableService},
      {"spec.strategy.canary.canaryService", canary.canaryService}};
  for (const auto& [field, service] : services) {
    if (!service || context.referenceError) {
      continue;
    }
    std::string serviceName = *service;
    auto found = co_await client_.get(kube::resources::kServices, request.ns, serviceName);
    if (!found) {
      if (found.error().kind != ErrorKind::NotFound) {
        co_return found.error();
      }
      context.referenceError =
          FieldError{field, fmt::format("Service \"{}\" not found", serviceName)};
      break;
    }
    context.serviceHashes[serviceName] =
        stringAt(objectAt(objectAt(*found, "spec"), "selector"), crds::kPodTemplateHashLabel);
  }
  if (!context.referenceError) {
    auto valid = co_await pass.router->validate();
    if (!valid) {
      if (valid.error().kind != ErrorKind::Invalid) {
        co_return valid.error();
      }
      context.referenceError = fieldErrorOf(valid.error());
    }
  }
  if (!context.referenceError) {
    auto verified =
        co_await pass.router->verifyWeight(context.rollout.status.canaryWeight.value_or(0));
    if (!verified) {
      co_return verified.error();
    }
    context.routeVerified = *verified;
  }
  context.now = clock_.wallNow();  // before the runs' arguments, which may need it
  gatherAnalysis(pass);
  context.scaleDownDelay = options_.scaleDownDelay;
  if (!context.referenceError) {
    auto verified = co_await gatherVerification(pass);
    if (!verified) {
      co_return verified.error();
    }
  }
  co_return Result<void>();
}

}  // namespace mc::reconcilers
