// The reconcile of one Rollout, step by step: gather -> plan -> record -> status -> converge.
// Each step lives in a file of its own (rollout_gather.cc, rollout_status.cc,
// rollout_converge.cc); this one orders them and says why the order is what it is.
#include "mc/reconcilers/rollout_reconciler.h"

#include <boost/json.hpp>

#include "rollout_pass.h"

namespace mc::reconcilers {

RolloutReconciler::RolloutReconciler(kube::Client& client, kube::EventRecorder& events,
                                     RolloutReconcilerOptions options, const Clock& clock)
    : client_(client), events_(events), options_(options), clock_(clock), writes_(clock) {}

void RolloutReconciler::useCaches(kube::Store& rollouts, kube::Store& replicaSets) {
  rollouts_ = &rollouts;
  replicaSets_ = &replicaSets;
}

void RolloutReconciler::useAnalysisCaches(kube::Store& runs, kube::Store& templates,
                                          kube::Store& clusterTemplates) {
  analysisRuns_ = &runs;
  templates_ = &templates;
  clusterTemplates_ = &clusterTemplates;
}

void RolloutReconciler::useVerification(signing::ImageChecker& checker, kube::Store& policies,
                                        kube::Store& clusterPolicies) {
  checker_ = &checker;
  policies_ = &policies;
  clusterPolicies_ = &clusterPolicies;
}

boost::asio::awaitable<Result<kube::ReconcileResult>> RolloutReconciler::reconcile(
    const kube::ReconcileRequest& request) {
  kube::ObjectPtr cached = rollouts_->get(request.key());
  if (!cached) {
    co_return kube::ReconcileResult{};  // deleted: its ReplicaSets go with it (ownerReferences)
  }
  const boost::json::object& object = *cached;
  if (writes_.inFlight(rolloutKey(request), kube::resourceVersionOf(object))) {
    // Our own status write has not reached the cache yet; its watch event requeues us.
    co_return kube::ReconcileResult{false, std::chrono::seconds(1)};
  }
  auto read = crds::readRollout(boost::json::value(object));
  if (!read) {
    auto reported = co_await reportUnreadable(request, object, read.error().fieldMessage());
    if (!reported) {
      co_return reported.error();
    }
    co_return kube::ReconcileResult{};
  }

  Pass pass{request, object, kube::uidOf(object), {}, nullptr, {}};
  pass.context.rollout = std::move(*read);
  auto gathered = co_await gather(pass);
  if (!gathered) {
    co_return gathered.error();
  }
  // A taken name is found before the plan, so no decision is recorded for a canary that will
  // never have a pod under that name.
  auto taken = co_await claimCurrentName(pass);
  if (!taken) {
    co_return taken.error();
  }
  if (*taken) {
    co_return kube::ReconcileResult{true};  // a new collisionCount: plan again with a new hash
  }
  pass.planned = plan(pass.context);

  // 1. Decisions are on record before they take effect.
  auto recorded = co_await recordDecisions(pass);
  if (!recorded) {
    co_return recorded.error();
  }
  // A demoted stable gets its scale-down time before the status that demotes it is written:
  // were MC killed in between, the next plan would find it without one and scale it down at
  // once, before the routes have settled.
  for (const auto& scale : pass.planned.scales) {
    if (scale.scaleDownAt) {
      auto scaled = co_await applyScale(request, scale);
      if (!scaled) {
        co_return scaled.error();
      }
    }
  }
  // 2. One status write: where the canary is. A 409 ends the reconcile before any action.
  auto written = co_await writeStatus(pass);
  if (!written) {
    co_return written.error();
  }
  // 3. Converge on that status: pods first, then Services and route, then what shrinks.
  auto collided = co_await createReplicaSets(pass);
  if (!collided) {
    co_return collided.error();
  }
  if (*collided) {
    co_return kube::ReconcileResult{true};  // a new collisionCount: plan again with a new hash
  }
  for (const auto& scale : pass.planned.scales) {
    if (pass.grows(scale)) {
      auto scaled = co_await applyScale(request, scale);
      if (!scaled) {
        co_return scaled.error();
      }
    }
  }
  auto selected = co_await selectServices(pass);
  if (!selected) {
    co_return selected.error();
  }
  // Runs are made once the status names the step that waits for them.
  auto made = co_await createRuns(pass);
  if (!made) {
    co_return made.error();
  }
  auto routed = co_await convergeRoute(pass);
  if (!routed) {
    co_return routed.error();
  }
  for (const auto& scale : pass.planned.scales) {
    if (!pass.grows(scale) && !scale.scaleDownAt) {
      auto scaled = co_await applyScale(request, scale);
      if (!scaled) {
        co_return scaled.error();
      }
    }
  }
  auto pruned = co_await deleteHistory(pass);
  if (!pruned) {
    co_return pruned.error();
  }
  auto ended = co_await terminateRuns(pass);
  if (!ended) {
    co_return ended.error();
  }
  co_return kube::ReconcileResult{false, pass.planned.requeueAfter};
}

std::unique_ptr<kube::Controller> makeRolloutController(kube::Client& client,
                                                        RolloutReconciler& reconciler,
                                                        std::string ns,
                                                        kube::ControllerOptions options,
                                                        signing::ImageChecker* checker) {
  auto controller =
      std::make_unique<kube::Controller>("rollout", client, crds::resources::kRollouts,
                                         crds::kRolloutKind, std::move(ns), reconciler, options);
  // Only ReplicaSets that carry MC's hash label: MC's own, not every ReplicaSet in the cluster.
  kube::InformerOptions owned;
  owned.labelSelector = std::string(crds::kPodTemplateHashLabel);
  owned.registry = options.registry;
  auto& replicaSets = controller->watchOwned(kube::resources::kReplicaSets, owned);
  reconciler.useCaches(controller->primaryInformer().store(), replicaSets.store());
  // A run's verdict wakes its Rollout at once: that is how an abort takes a second, not a resync.
  kube::InformerOptions cached;
  cached.registry = options.registry;
  auto& runs = controller->watchOwned(crds::resources::kAnalysisRuns, cached);
  auto& templates = controller->watchCached(crds::resources::kAnalysisTemplates, cached);
  auto& clusterTemplates =
      controller->watchCached(crds::resources::kClusterAnalysisTemplates, cached);
  reconciler.useAnalysisCaches(runs.store(), templates.store(), clusterTemplates.store());
  if (checker != nullptr) {
    // A policy changed is seen at the next reconcile of a Rollout that waits on it (a refused
    // template is asked about again every 30 s); its cache spares a read per reconcile.
    auto& policies = controller->watchCached(crds::resources::kVerificationPolicies, cached);
    auto& clusterPolicies =
        controller->watchCached(crds::resources::kClusterVerificationPolicies, cached);
    reconciler.useVerification(*checker, policies.store(), clusterPolicies.store());
  }
  return controller;
}

}  // namespace mc::reconcilers
