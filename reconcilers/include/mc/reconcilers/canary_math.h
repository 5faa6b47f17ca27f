#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

// The arithmetic of a replica-ratio canary, kept pure so the planner and its tests share it.
namespace mc::reconcilers {

// Canary pods for a traffic weight: ceil(replicas × weight / 100), and at least one while the
// weight is above zero, so a 1% step on 10 replicas still sends the canary real traffic. At 0
// replicas it is 0 at every weight: a Rollout scaled to zero runs no pod, canary or stable.
int32_t canaryReplicas(int32_t replicas, int32_t weight);

// The weight the replica ratio actually gives (what the default router reports): canary pods
// over all pods, in whole percent.
int32_t effectiveWeight(int32_t canaryPods, int32_t stablePods);

// A Go-style duration as the CRD accepts it ("30s", "1m30s", "1.5h", "250ms"); nullopt if it
// is not one. Pause steps and analysis intervals use it.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace mc::reconcilers
