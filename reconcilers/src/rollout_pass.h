#pragma once

// What the files of the Rollout reconciler share (private to src/): the state of one reconcile
// pass and the small helpers every step uses.
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>

#include "mc/analysis/args.h"
#include "mc/reconcilers/rollout_plan.h"
#include "mc/reconcilers/rollout_reconciler.h"
#include "mc/reconcilers/traffic_router.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {

// One reconcile of one Rollout: what gather() found, the plan made of it, and the router bound
// to this Rollout's route for this pass (null when the spec's trafficRouting cannot be used, and
// then the plan is InvalidSpec and touches no route).
struct RolloutReconciler::Pass {
  const kube::ReconcileRequest& request;
  const boost::json::object& object;  // the Rollout as cached
  std::string uid;
  RolloutContext context;
  TrafficRouterPtr router;
  Plan planned;
  // Each analysis of the spec, resolved: by step index, nullopt for the background one.
  std::map<std::optional<int32_t>, analysis::ResolvedRun> analyses;

  // Whether `scale` adds pods (true for a ReplicaSet the caches have not shown yet).
  bool grows(const ScaleReplicaSet& scale) const {
    for (const auto& rs : context.replicaSets) {
      if (rs.name == scale.name) {
        return scale.replicas > rs.replicas;
      }
    }
    return true;
  }
};

// The status subresource. Named, not a temporary: GCC 12 mishandles class temporaries inside
// co_await expressions.
inline const std::string kStatusSubresource = "status";

// The keys of MC's own writes among the writes in flight.
inline std::string rolloutKey(const kube::ReconcileRequest& request) {
  return "rollouts/" + request.key();
}
inline std::string replicaSetKey(const std::string& ns, const std::string& name) {
  return "replicasets/" + ns + "/" + name;
}

// Whether `object`'s controller ownerReference is the Rollout of this uid.
inline bool ownedBy(const boost::json::object& object, const std::string& uid) {
  auto controller = kube::controllerOf(object);
  return controller && controller->uid == uid;
}

}  // namespace mc::reconcilers
