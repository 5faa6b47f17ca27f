#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "../route_names.h"
#include "mc/reconcilers/traffic_router.h"

namespace mc::reconcilers {

// Splits traffic with ingress-nginx's canary Ingress. The user owns the stable Ingress
// (trafficRouting.nginx.stableIngress), which routes to the stable Service; MC owns a second
// Ingress, canaryIngressName(), with the stable one's spec pointed at the canary Service and the
// `canary` / `canary-weight` annotations that make ingress-nginx send that share of the stable
// Ingress's traffic to it. The canary Ingress has the Rollout as its controller owner, so it goes
// when the Rollout does; reset() deletes it. The stable Ingress is only read. The client is
// borrowed and must outlive the router; calls run on the client's executor.
class NginxRouter final : public TrafficRouter {
 public:
  NginxRouter(kube::Client& client, RouterTarget target, RouteNames names);

  bool shapesTraffic() const override { return true; }
  boost::asio::awaitable<Result<void>> validate() override;
  boost::asio::awaitable<Result<void>> setWeight(int32_t weight) override;
  boost::asio::awaitable<Result<bool>> verifyWeight(int32_t weight) override;
  boost::asio::awaitable<Result<void>> reset() override;

 private:
  // MC's canary Ingress as read for this reconcile (read on first use); null if there is none.
  boost::asio::awaitable<Result<const boost::json::object*>> canaryIngress();

  kube::Client& client_;
  RouterTarget target_;
  RouteNames names_;
  std::string canaryName_;
  RouteObject stableIngress_;
  bool canaryRead_ = false;
  std::optional<boost::json::object> canary_;
};

// "<stableIngress>-<rolloutName>-canary"; past the 253 characters an object name may have, the
// front part is cut and a hash of the whole name keeps different long names apart.
std::string canaryIngressName(std::string_view stableIngress, std::string_view rolloutName);

// trafficRouting.nginx: {stableIngress}.
RouterRegistration nginxRegistration();

}  // namespace mc::reconcilers
