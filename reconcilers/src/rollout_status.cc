// Record and status: decisions go on record as Events before they take effect, then one status
// write says where the canary is. Pod counts alone are debounced so pods becoming ready one by
// one cost one write.
#include <fmt/format.h>

#include <boost/json.hpp>

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
  const std::string uidPrefix = pass.uid.substr(0, std::min<size_t>(8, pass.uid.size()));
  for (const auto& decision : pass.planned.events) {
    std::string eventName = fmt::format("{}.{}.{}", request.name, uidPrefix, decision.id);
    request.log.info("{}: {}", decision.reason, decision.note);
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
