#include "replica_ratio.h"

namespace mc::reconcilers {

boost::asio::awaitable<Result<void>> ReplicaRatioRouter::validate() { co_return Result<void>(); }

boost::asio::awaitable<Result<void>> ReplicaRatioRouter::setWeight(int32_t) {
  co_return Result<void>();
}

// The replica counts are the weight, and the reconciler waits for them itself.
boost::asio::awaitable<Result<bool>> ReplicaRatioRouter::verifyWeight(int32_t) { co_return true; }

boost::asio::awaitable<Result<void>> ReplicaRatioRouter::reset() { co_return Result<void>(); }

}  // namespace mc::reconcilers
