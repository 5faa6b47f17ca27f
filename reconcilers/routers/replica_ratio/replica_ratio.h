#pragma once

#include "mc/reconcilers/traffic_router.h"

namespace mc::reconcilers {

// The default router: no route object at all. Traffic follows pod counts because one Service
// selects both ReplicaSets' pods, so the weight is what the canary and stable replica counts
// give; the reconciler sets those and checks availability. Nothing here touches the apiserver.
class ReplicaRatioRouter final : public TrafficRouter {
 public:
  bool shapesTraffic() const override { return false; }
  boost::asio::awaitable<Result<void>> validate() override;
  boost::asio::awaitable<Result<void>> setWeight(int32_t weight) override;
  boost::asio::awaitable<Result<bool>> verifyWeight(int32_t weight) override;
  boost::asio::awaitable<Result<void>> reset() override;
};

}  // namespace mc::reconcilers
