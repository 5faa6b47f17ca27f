#pragma once

#include <cstdint>

// The arithmetic of a replica-ratio canary, kept pure so the planner and its tests share it.
namespace mc::reconcilers {

// Canary pods for a traffic weight: ceil(replicas × weight / 100), and at least one while the
// weight is above zero, so a 1% step on 10 replicas still sends the canary real traffic. At 0
// replicas it is 0 at every weight: a Rollout scaled to zero runs no pod, canary or stable.
int32_t canaryReplicas(int32_t replicas, int32_t weight);

// The weight the replica ratio actually gives (what the default router reports): canary pods
// over all pods, in whole percent.
int32_t effectiveWeight(int32_t canaryPods, int32_t stablePods);

}  // namespace mc::reconcilers
