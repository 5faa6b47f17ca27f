#include "mc/reconcilers/canary_math.h"

#include <algorithm>
#include <cmath>

namespace mc::reconcilers {

int32_t canaryReplicas(int32_t replicas, int32_t weight) {
  if (replicas <= 0 || weight <= 0) {
    return 0;
  }
  weight = std::min(weight, 100);
  int64_t pods = (static_cast<int64_t>(replicas) * weight + 99) / 100;
  return static_cast<int32_t>(std::max<int64_t>(1, pods));
}

int32_t effectiveWeight(int32_t canaryPods, int32_t stablePods) {
  int64_t total = static_cast<int64_t>(canaryPods) + stablePods;
  if (total <= 0 || canaryPods <= 0) {
    return 0;
  }
  return static_cast<int32_t>(std::lround(100.0 * canaryPods / static_cast<double>(total)));
}

}  // namespace mc::reconcilers
