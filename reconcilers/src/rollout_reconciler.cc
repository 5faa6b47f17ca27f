#include "mc/reconcilers/rollout_reconciler.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/pod_template_hash.h"
#include "mc/reconcilers/traffic_router.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;
using kube::Client;
using kube::ObjectReference;
using kube::ReconcileResult;

// The status subresource. Named, not a temporary: GCC 12 mishandles class temporaries inside
// co_await expressions.
const std::string kStatus = "status";

// The key of a ReplicaSet among the writes in flight (Rollouts use "rollouts/<ns>/<name>").
std::string replicaSetKey(const std::string& ns, const std::string& name) {
  return "replicasets/" + ns + "/" + name;
}

// Whether `object`'s controller ownerReference is the Rollout of this uid.
bool ownedBy(const json::object& object, const std::string& uid) {
  auto controller = kube::controllerOf(object);
  return controller && controller->uid == uid;
}

ReplicaSetView viewOf(const json::object& rs) {
  const auto* metadata = objectAt(rs, "metadata");
  const auto* labels = metadata ? objectAt(*metadata, "labels") : nullptr;
  const auto* annotations = metadata ? objectAt(*metadata, "annotations") : nullptr;
  const auto* spec = objectAt(rs, "spec");
  const auto* status = objectAt(rs, "status");
  ReplicaSetView view;
  view.name = kube::nameOf(rs);
  view.podHash = stringAt(labels, kPodTemplateHashLabel);
  try {
    view.revision = std::stoll(stringAt(annotations, kRevisionAnnotation));
  } catch (const std::exception&) {
    view.revision = 0;
  }
  view.replicas = static_cast<int32_t>(intAt(spec, "replicas", 1));
  view.statusReplicas = static_cast<int32_t>(intAt(status, "replicas", 0));
  view.availableReplicas = static_cast<int32_t>(intAt(status, "availableReplicas", 0));
  view.statusCurrent = intAt(status, "observedGeneration", 0) >= intAt(metadata, "generation", 0);
  if (auto at = stringAt(annotations, kScaleDownAtAnnotation); !at.empty()) {
    view.scaleDownAt = parseTime(at);
  }
  return view;
}

// The ReplicaSet of one pod template: the template with the hash label added to its pods and to
// the selector, so the stable's and the canary's pods never mix.
json::object replicaSetObject(const crds::Rollout& rollout, const std::string& ns,
                              const std::string& rolloutName, const std::string& uid,
                              const CreateReplicaSet& create) {
  json::object podTemplate = rollout.spec.podTemplate;
  auto& templateMeta = podTemplate["metadata"].emplace_object();
  if (const auto* meta = objectAt(rollout.spec.podTemplate, "metadata")) {
    templateMeta = *meta;
  }
  auto& labels = templateMeta["labels"].is_object() ? templateMeta["labels"].as_object()
                                                    : templateMeta["labels"].emplace_object();
  labels[kPodTemplateHashLabel] = create.podHash;
  json::object selector = rollout.spec.selector;
  auto& matchLabels = selector["matchLabels"].is_object()
                          ? selector["matchLabels"].as_object()
                          : selector["matchLabels"].emplace_object();
  matchLabels[kPodTemplateHashLabel] = create.podHash;
  json::object annotations{{kRevisionAnnotation, std::to_string(create.revision)},
                           {kPodTemplateAnnotation, json::serialize(rollout.spec.podTemplate)}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata",
           {{"name", create.name},
            {"namespace", ns},
            {"labels", labels},
            {"annotations", std::move(annotations)},
            {"ownerReferences", json::array{kube::controllerReference(crds::kApiVersion, "Rollout",
                                                                      rolloutName, uid)}}}},
          {"spec",
           {{"replicas", create.replicas},
            {"selector", std::move(selector)},
            {"template", std::move(podTemplate)}}}};
}

std::string scalePatch(const ScaleReplicaSet& scale) {
  json::object patch{{"spec", {{"replicas", scale.replicas}}}};
  json::object annotations;
  if (scale.scaleDownAt || scale.clearScaleDownAt) {
    annotations[kScaleDownAtAnnotation] =
        scale.scaleDownAt ? json::value(formatTime(*scale.scaleDownAt)) : nullptr;
  }
  if (scale.revision) {
    annotations[kRevisionAnnotation] = std::to_string(*scale.revision);
  }
  if (!annotations.empty()) {
    patch["metadata"] = {{"annotations", std::move(annotations)}};
  }
  return json::serialize(patch);
}

// The status without what follows pods becoming ready: counts and the messages quoting them.
json::value withoutCounts(const json::value& status) {
  if (!status.is_object()) {
    return status;
  }
  json::object out = status.as_object();
  for (const char* field : {"replicas", "updatedReplicas", "availableReplicas", "message"}) {
    out.erase(field);
  }
  if (auto* conditions = out.if_contains("conditions"); conditions && conditions->is_array()) {
    for (auto& condition : conditions->as_array()) {
      if (condition.is_object()) {
        condition.as_object().erase("message");
      }
    }
  }
  return out;
}

// "field: message" from a router's Invalid error.
FieldError fieldErrorOf(const Error& error) {
  auto colon = error.message.find(": ");
  if (colon == std::string::npos) {
    return {"spec.strategy.canary.trafficRouting", error.message};
  }
  return {error.message.substr(0, colon), error.message.substr(colon + 2)};
}

}  // namespace

RolloutReconciler::RolloutReconciler(Client& client, kube::EventRecorder& events,
                                     RolloutReconcilerOptions options, const Clock& clock)
    : client_(client), events_(events), options_(options), clock_(clock), writes_(clock) {}

void RolloutReconciler::useCaches(kube::Store& rollouts, kube::Store& replicaSets) {
  rollouts_ = &rollouts;
  replicaSets_ = &replicaSets;
}

boost::asio::awaitable<Result<ReconcileResult>> RolloutReconciler::reconcile(
    const kube::ReconcileRequest& request) {
  kube::ObjectPtr cached = rollouts_->get(request.key());
  if (!cached) {
    co_return ReconcileResult{};  // deleted: its ReplicaSets go with it (ownerReferences)
  }
  const json::object& object = *cached;
  const std::string uid = kube::uidOf(object);
  if (writes_.inFlight("rollouts/" + request.key(), kube::resourceVersionOf(object))) {
    // Our own status write has not reached the cache yet; its watch event requeues us.
    co_return ReconcileResult{false, std::chrono::seconds(1)};
  }
  crds::Rollout rollout;
  std::optional<std::string> unreadable;
  try {
    rollout = json::value_to<crds::Rollout>(json::value(object));
  } catch (const std::invalid_argument& e) {
    unreadable = e.what();  // no co_await in a handler: reported below
  }
  if (unreadable) {
    auto reported = co_await reportUnreadable(request, object, *unreadable);
    if (!reported) {
      co_return reported.error();
    }
    co_return ReconcileResult{};
  }

  RolloutContext context;
  context.name = request.name;
  context.ns = request.ns;
  context.generation = intAt(objectAt(object, "metadata"), "generation", 0);
  for (const auto& rs : replicaSets_->byIndex(kube::kOwnerUidIndex, uid)) {
    if (ownedBy(*rs, uid)) {
      context.replicaSets.push_back(viewOf(*rs));
    }
  }
  crds::CanaryStrategy canary = rollout.spec.canary.value_or(crds::CanaryStrategy{});
  RouterTarget target{request.ns, request.name, uid, canary};
  TrafficRouterPtr router = makeRouter(client_, canary);
  context.trafficRouted = router->shapesTraffic();

  // The objects the spec names: a missing one is the user's to fix (InvalidSpec), not a retry.
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
    const auto* spec = objectAt(*found, "spec");
    context.serviceHashes[serviceName] =
        stringAt(spec ? objectAt(*spec, "selector") : nullptr, kPodTemplateHashLabel);
  }
  if (!context.referenceError) {
    auto valid = co_await router->validate(target);
    if (!valid) {
      if (valid.error().kind != ErrorKind::Invalid) {
        co_return valid.error();
      }
      context.referenceError = fieldErrorOf(valid.error());
    }
  }
  if (!context.referenceError) {
    int32_t weight = rollout.status.canaryWeight.value_or(0);
    auto verified = co_await router->verifyWeight(target, weight);
    if (!verified) {
      co_return verified.error();
    }
    context.routeVerified = *verified;
  }
  context.now = clock_.wallNow();
  context.scaleDownDelay = options_.scaleDownDelay;
  context.rollout = std::move(rollout);

  Plan planned = plan(context);
  auto grows = [&context](const ScaleReplicaSet& scale) {
    for (const auto& rs : context.replicaSets) {
      if (rs.name == scale.name) {
        return scale.replicas > rs.replicas;
      }
    }
    return true;
  };
  const ObjectReference regarding = ObjectReference::of(object);

  // 1. Decisions are on record before they take effect: an Event whose name derives from the
  // decision, so the same decision re-planned after a crash is not recorded twice.
  if (planned.invalidSpec) {
    events_.record(regarding, kube::EventType::Warning, "InvalidSpec", "Validate",
                   planned.invalidSpec->describe());
  }
  for (const auto& decision : planned.events) {
    std::string eventName = fmt::format(
        "{}.{}.{}", request.name, uid.substr(0, std::min<size_t>(8, uid.size())), decision.id);
    request.log.info("{}: {}", decision.reason, decision.note);
    auto recorded = co_await events_.recordDecision(
        regarding, decision.warning ? kube::EventType::Warning : kube::EventType::Normal, eventName,
        decision.reason, "Reconcile", decision.note);
    if (!recorded) {
      co_return recorded.error();
    }
  }

  // A demoted stable gets its scale-down time before the status that demotes it is written:
  // were MC killed in between, the next plan would find it without one and scale it down at
  // once, before the routes have settled.
  for (const auto& scale : planned.scales) {
    if (scale.scaleDownAt) {
      auto scaled = co_await applyScale(request, scale);
      if (!scaled) {
        co_return scaled.error();
      }
    }
  }

  // 2. One status write: where the canary is. A 409 (someone else wrote, e.g. `kubectl mc`)
  // ends here, and the requeue plans again from the fresh object.
  crds::Rollout updated{object.at("metadata").as_object(), context.rollout.spec, planned.status};
  json::value updatedJson = json::value_from(updated);
  json::value newStatus = updatedJson.as_object().contains("status")
                              ? updatedJson.as_object().at("status")
                              : json::value(json::object());
  const json::value* oldStatus = object.if_contains("status");
  bool statusChanged = oldStatus == nullptr || *oldStatus != newStatus;
  if (statusChanged && oldStatus != nullptr &&
      withoutCounts(*oldStatus) == withoutCounts(newStatus)) {
    auto now = clock_.now();
    std::lock_guard lock(mutex_);
    auto held = countsHeldSince_.try_emplace(request.key(), now).first->second;
    if (now - held < options_.countsDebounce) {
      statusChanged = false;  // counts only: written with the next decision, or soon
      auto wait =
          std::chrono::ceil<std::chrono::milliseconds>(held + options_.countsDebounce - now);
      if (planned.requeueAfter.count() == 0 || wait < planned.requeueAfter) {
        planned.requeueAfter = wait;
      }
    }
  }
  if (statusChanged) {
    {
      std::lock_guard lock(mutex_);
      countsHeldSince_.erase(request.key());
    }
    json::object body = object;
    body["status"] = newStatus;
    auto written =
        co_await client_.update(resources::kRollouts, request.ns, std::move(body), kStatus);
    if (!written) {
      co_return written.error();
    }
    writes_.wrote("rollouts/" + request.key(), kube::resourceVersionOf(object));
  }

  // 3. Converge on that status. Each action is idempotent, so a crash part-way repeats some.
  for (const auto& create : planned.creates) {
    if (writes_.inFlight(replicaSetKey(request.ns, create.name), "")) {
      continue;  // created a moment ago; the ReplicaSet informer has not delivered it yet
    }
    auto body = replicaSetObject(context.rollout, request.ns, request.name, uid, create);
    auto created =
        co_await client_.create(kube::resources::kReplicaSets, request.ns, std::move(body));
    if (!created && created.error().kind == ErrorKind::AlreadyExists) {
      std::string existingName = create.name;
      auto existing = co_await client_.get(kube::resources::kReplicaSets, request.ns, existingName);
      if (!existing) {
        co_return existing.error();
      }
      if (ownedBy(*existing, uid)) {
        continue;  // ours; the cache had not seen it yet
      }
      // Another object holds the name: a hash collision. A new count gives a new hash.
      int32_t collisions = context.rollout.status.collisionCount.value_or(0) + 1;
      request.log.warn("ReplicaSet {} exists and is not this Rollout's: collisionCount {}",
                       create.name, collisions);
      std::string patch = fmt::format(R"({{"status":{{"collisionCount":{}}}}})", collisions);
      kube::PatchOptions statusPatch{kStatus};
      auto bumped = co_await client_.patch(resources::kRollouts, request.ns, request.name,
                                           kube::PatchType::Merge, std::move(patch), statusPatch);
      if (!bumped) {
        co_return bumped.error();
      }
      co_return ReconcileResult{true};
    }
    if (!created) {
      co_return created.error();
    }
    writes_.wrote(replicaSetKey(request.ns, create.name), "");
    request.log.info("created ReplicaSet {} with {} replicas", create.name, create.replicas);
  }
  // Pods come up before traffic moves to them, and go away only after it moved off them.
  for (const auto& scale : planned.scales) {
    if (grows(scale)) {
      auto scaled = co_await applyScale(request, scale);
      if (!scaled) {
        co_return scaled.error();
      }
    }
  }
  for (const auto& service : planned.services) {
    std::string name = service.service;
    std::string patch = json::serialize(
        json::object{{"spec", {{"selector", {{kPodTemplateHashLabel, service.podHash}}}}}});
    auto selected = co_await client_.patch(kube::resources::kServices, request.ns, name,
                                           kube::PatchType::Merge, std::move(patch));
    if (!selected) {
      co_return selected.error();
    }
    request.log.info("Service {} selects pods of {}", service.service, service.podHash);
  }
  if (planned.route == RouteChange::SetWeight) {
    auto set = co_await router->setWeight(target, planned.routeWeight);
    if (!set) {
      co_return set.error();
    }
    request.log.info("route weight set to {}", planned.routeWeight);
  } else if (planned.route == RouteChange::Reset) {
    auto reset = co_await router->reset(target);
    if (!reset) {
      co_return reset.error();
    }
  }
  for (const auto& scale : planned.scales) {
    if (!grows(scale) && !scale.scaleDownAt) {
      auto scaled = co_await applyScale(request, scale);
      if (!scaled) {
        co_return scaled.error();
      }
    }
  }
  for (const auto& name : planned.deletes) {
    std::string rsName = name;
    auto removed = co_await client_.remove(kube::resources::kReplicaSets, request.ns, rsName);
    if (!removed && removed.error().kind != ErrorKind::NotFound) {
      co_return removed.error();
    }
    request.log.info("deleted ReplicaSet {} (beyond revisionHistoryLimit)", name);
  }
  co_return ReconcileResult{false, planned.requeueAfter};
}

// A field of the wrong type that the schema let through (status is schemaless, so a hand-written
// request such as `abort: "yes"` can be): an Event and the InvalidSpec condition name it, the
// phase is Degraded, and nothing else is touched until someone fixes it.
boost::asio::awaitable<Result<void>> RolloutReconciler::reportUnreadable(
    const kube::ReconcileRequest& request, const json::object& object, std::string problem) {
  events_.record(ObjectReference::of(object), kube::EventType::Warning, "InvalidSpec", "Validate",
                 problem);
  request.log.warn("invalid Rollout: {}", problem);
  json::object status;
  if (const auto* old = object.if_contains("status"); old != nullptr && old->is_object()) {
    status = old->as_object();
  }
  json::array conditions;
  json::object previous;
  if (auto* old = status.if_contains("conditions"); old != nullptr && old->is_array()) {
    for (const auto& c : old->as_array()) {
      bool invalidSpec = c.is_object() && c.as_object().contains("type") &&
                         c.as_object().at("type") == "InvalidSpec";
      if (invalidSpec) {
        previous = c.as_object();
      } else {
        conditions.push_back(c);
      }
    }
  }
  bool wasTrue = previous.contains("status") && previous.at("status") == "True";
  json::value generation = intAt(objectAt(object, "metadata"), "generation", 0);
  conditions.push_back(
      json::object{{"type", "InvalidSpec"},
                   {"status", "True"},
                   {"reason", "InvalidSpec"},
                   {"message", problem},
                   {"lastTransitionTime", wasTrue && previous.contains("lastTransitionTime")
                                              ? previous.at("lastTransitionTime")
                                              : json::value(formatTime(clock_.wallNow()))},
                   {"observedGeneration", generation}});
  status["conditions"] = std::move(conditions);
  status["phase"] = "Degraded";
  status["message"] = problem;
  const json::value* oldStatus = object.if_contains("status");
  if (oldStatus != nullptr && *oldStatus == json::value(status)) {
    co_return Result<void>();
  }
  json::object body = object;
  body["status"] = std::move(status);
  auto written =
      co_await client_.update(resources::kRollouts, request.ns, std::move(body), kStatus);
  if (!written) {
    co_return written.error();
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

std::unique_ptr<kube::Controller> makeRolloutController(Client& client,
                                                        RolloutReconciler& reconciler,
                                                        std::string ns,
                                                        kube::ControllerOptions options) {
  auto controller = std::make_unique<kube::Controller>(
      "rollout", client, resources::kRollouts, "Rollout", std::move(ns), reconciler, options);
  // Only ReplicaSets that carry MC's hash label: MC's own, not every ReplicaSet in the cluster.
  kube::InformerOptions owned;
  owned.labelSelector = std::string(kPodTemplateHashLabel);
  owned.registry = options.registry;
  auto& replicaSets = controller->watchOwned(kube::resources::kReplicaSets, owned);
  reconciler.useCaches(controller->primaryInformer().store(), replicaSets.store());
  return controller;
}

}  // namespace mc::reconcilers
