// Record and status: decisions go on record as Events before they take effect, then one status
// write says where the canary is. Pod counts alone are debounced so pods becoming ready one by
// one cost one write.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "mc/audit/writer.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "rollout_pass.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;

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

const ReplicaSetView* findReplicaSet(const RolloutContext& context,
                                     const std::optional<std::string>& name) {
  for (const auto& rs : context.replicaSets) {
    if (name && rs.name == *name) return &rs;
  }
  return nullptr;
}

// The revision the decision is about: the canary's (its ReplicaSet's, or the one being made).
std::optional<int64_t> canaryRevision(const RolloutContext& context, const Plan& planned) {
  const std::string hash = planned.status.currentPodHash.value_or("");
  for (const auto& create : planned.creates) {
    if (create.podHash == hash) return create.revision;
  }
  for (const auto& rs : context.replicaSets) {
    if (rs.podHash == hash) return rs.revision;
  }
  return std::nullopt;
}

// The decision as an AuditRecord: who, what, the images before and after, and the numbers
// (as decimal strings) where the canary stands once the plan is carried out.
audit::Entry auditEntry(const RolloutContext& context, const Plan& planned,
                        const DecisionEvent& decision, std::string name) {
  const auto& old = context.rollout.status;
  const ReplicaSetView* stable = findReplicaSet(context, old.stableRS);
  const ReplicaSetView* oldCanary = findReplicaSet(context, old.canaryRS);
  std::string stableImages = stable != nullptr ? stable->images : "";
  std::string canaryImages = decision.rollsBack && oldCanary != nullptr
                                 ? oldCanary->images
                                 : imagesOf(context.rollout.spec.podTemplate);
  audit::Entry entry;
  entry.name = std::move(name);
  entry.chain = audit::rolloutChain(context.name);
  auto& spec = entry.spec;
  spec.actor = decision.actor;
  spec.action = decision.action.empty() ? decision.reason : decision.action;
  spec.subject = fmt::format("Rollout/{}", context.name);
  spec.revision = canaryRevision(context, planned);
  spec.from = decision.from ? *decision.from : decision.rollsBack ? canaryImages : stableImages;
  spec.to = decision.to ? *decision.to : decision.rollsBack ? stableImages : canaryImages;
  spec.reason = decision.note;
  const auto& now = planned.status;
  json::object& evidence = spec.evidence;
  evidence["attempt"] = std::to_string(now.attempt.value_or(0));
  evidence["step"] = std::to_string(now.currentStepIndex.value_or(0) + 1);
  evidence["canaryWeight"] = std::to_string(now.canaryWeight.value_or(0));
  evidence["previousCanaryWeight"] = std::to_string(old.canaryWeight.value_or(0));
  evidence["replicas"] = std::to_string(context.rollout.spec.replicas.value_or(1));
  evidence["generation"] = std::to_string(context.generation);
  if (old.stableRS) evidence["stableReplicaSet"] = *old.stableRS;
  if (now.canaryRS) evidence["canaryReplicaSet"] = *now.canaryRS;
  if (now.phase) evidence["phase"] = *now.phase;
  for (const auto& [key, value] : decision.evidence) {
    evidence[key] = value;
  }
  spec.at = formatMicroTime(context.now);  // drills time the decision from it
  return entry;
}

}  // namespace

// An Event whose name derives from the decision, so the same decision re-planned after a crash
// is not recorded twice; one that cannot be written stops the reconcile before anything acts.
boost::asio::awaitable<Result<void>> RolloutReconciler::recordDecisions(Pass& pass) {
  const auto& request = pass.request;
  const auto regarding = kube::ObjectReference::of(pass.object);
  if (pass.planned.invalidSpec) {
    events_.record(regarding, kube::EventType::Warning, crds::event::kInvalidSpec, "Validate",
                   pass.planned.invalidSpec->describe());
  }
  if (pass.planned.verificationError) {
    events_.record(regarding, kube::EventType::Warning, crds::event::kVerificationError, "Verify",
                   *pass.planned.verificationError);
  }
  const std::string uidPrefix = pass.uid.substr(0, std::min<size_t>(8, pass.uid.size()));
  for (const auto& decision : pass.planned.events) {
    std::string eventName = fmt::format("{}.{}.{}", request.name, uidPrefix, decision.id);
    request.log.info("{}: {}", decision.reason, decision.note);
    if (audit_ != nullptr) {
      // On record first: a decision whose record cannot be written is not acted on.
      auto appended = co_await audit_->append(
          request.ns, auditEntry(pass.context, pass.planned, decision, eventName));
      if (!appended) {
        co_return appended.error();
      }
    }
    auto recorded = co_await events_.recordDecision(
        regarding, decision.warning ? kube::EventType::Warning : kube::EventType::Normal, eventName,
        decision.reason, "Reconcile", decision.note);
    if (!recorded) {
      co_return recorded.error();
    }
  }
  co_return Result<void>();
}

// A 409 (someone else wrote, e.g. `kubectl mc`) ends the reconcile here, and the requeue plans
// again from the fresh object.
boost::asio::awaitable<Result<void>> RolloutReconciler::writeStatus(Pass& pass) {
  const auto& request = pass.request;
  auto& planned = pass.planned;
  crds::Rollout updated{pass.object.at("metadata").as_object(), pass.context.rollout.spec,
                        planned.status};
  json::value updatedJson = json::value_from(updated);
  json::value newStatus = updatedJson.as_object().contains("status")
                              ? updatedJson.as_object().at("status")
                              : json::value(json::object());
  const json::value* oldStatus = pass.object.if_contains("status");
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
  if (!statusChanged) {
    co_return Result<void>();
  }
  {
    std::lock_guard lock(mutex_);
    countsHeldSince_.erase(request.key());
  }
  json::object body = pass.object;
  body["status"] = newStatus;
  auto written = co_await client_.update(crds::resources::kRollouts, request.ns, std::move(body),
                                         kStatusSubresource);
  if (!written) {
    co_return written.error();
  }
  writes_.wrote(rolloutKey(request), kube::resourceVersionOf(pass.object));
  co_return Result<void>();
}

// A field of the wrong type that the schema let through (status is schemaless, so a hand-written
// request such as `abort: "yes"` can be): an Event and the InvalidSpec condition name it, the
// phase is Degraded, and nothing else is touched until someone fixes it.
boost::asio::awaitable<Result<void>> RolloutReconciler::reportUnreadable(
    const kube::ReconcileRequest& request, const json::object& object, std::string problem) {
  events_.record(kube::ObjectReference::of(object), kube::EventType::Warning,
                 crds::event::kInvalidSpec, "Validate", problem);
  request.log.warn("invalid Rollout: {}", problem);
  json::object status;
  if (const auto* old = object.if_contains("status"); old != nullptr && old->is_object()) {
    status = old->as_object();
  }
  auto conditions = crds::readConditionsLeniently(object);
  crds::setCondition(conditions, {crds::condition::kInvalidSpec, "True", crds::reason::kInvalidSpec,
                                  problem, formatTime(clock_.wallNow()),
                                  intAt(objectAt(object, "metadata"), "generation", 0)});
  status["conditions"] = crds::writeConditions(conditions);
  status["phase"] = crds::phase::kDegraded;
  status["message"] = problem;
  const json::value* oldStatus = object.if_contains("status");
  if (oldStatus != nullptr && *oldStatus == json::value(status)) {
    co_return Result<void>();
  }
  json::object body = object;
  body["status"] = std::move(status);
  auto written = co_await client_.update(crds::resources::kRollouts, request.ns, std::move(body),
                                         kStatusSubresource);
  if (!written) {
    co_return written.error();
  }
  co_return Result<void>();
}

}  // namespace mc::reconcilers
