#include "mc/reconcilers/canary_math.h"

#include <gtest/gtest.h>

#include <vector>

namespace mc::reconcilers {
namespace {

TEST(CanaryMathTest, CanaryReplicasRoundUpAndNeverVanish) {
  struct Case {
    int32_t replicas, weight, canary;
  };
  for (auto [replicas, weight, canary] : std::vector<Case>{
           {10, 10, 1},
           {10, 30, 3},
           {10, 60, 6},
           {10, 100, 10},
           {10, 1, 1},  // at least one pod while the weight is above zero
           {3, 10, 1},  // ceil(0.3)
           {3, 50, 2},  // ceil(1.5)
           {7, 33, 3},  // ceil(2.31)
           {10, 0, 0},
           {0, 50, 0},  // scaled to zero: no canary pod at any weight
           {0, 1, 0},
           {0, 100, 0},
           {0, 0, 0},
           {-1, 50, 0},
           {10, 150, 10},                        // clamped to 100%
           {2'000'000'000, 100, 2'000'000'000},  // no overflow
       }) {
    EXPECT_EQ(canaryReplicas(replicas, weight), canary) << replicas << " @ " << weight << "%";
  }
}

TEST(CanaryMathTest, EffectiveWeightIsThePodShare) {
  EXPECT_EQ(effectiveWeight(1, 10), 9);
  EXPECT_EQ(effectiveWeight(10, 10), 50);
  EXPECT_EQ(effectiveWeight(10, 0), 100);
  EXPECT_EQ(effectiveWeight(0, 10), 0);
  EXPECT_EQ(effectiveWeight(0, 0), 0);
}

}  // namespace
}  // namespace mc::reconcilers
