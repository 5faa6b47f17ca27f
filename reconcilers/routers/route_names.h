#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mc/common/resource_type.h"
#include "mc/reconcilers/traffic_router.h"

// What the routers that split traffic between two Services share.
namespace mc::reconcilers {

// The route object the user named and the two Services it splits traffic between.
struct RouteNames {
  std::string route;
  std::string stable;
  std::string canary;
};

// The names in a router's own block of trafficRouting, `kind` ("gatewayAPI"): the route at `key`
// ("httpRoute") and the target's two Services. The CRD requires the Services with
// trafficRouting, so an error for them means the Rollout was not admitted through its rules.
Result<RouteNames> routeNames(const RouterTarget& target, const boost::json::object& block,
                              std::string_view kind, std::string_view key);

// The route object a router works on in one reconcile: read on first use, then that version
// (or what this router last wrote) for the rest of the reconcile. A write carries the version
// read, so someone else's write in between is a Conflict. Borrows the client.
class RouteObject {
 public:
  // `kind` and `field` word the Invalid error of a missing object ("HTTPRoute \"web\" not
  // found" at `field`).
  RouteObject(kube::Client& client, kube::ResourceType type, std::string kind, std::string field,
              std::string ns, std::string name);

  // The object, or Invalid naming the field if it does not exist; other errors pass through.
  boost::asio::awaitable<Result<boost::json::object*>> get();
  // Replaces it (PUT) with `edited`, which must carry the resourceVersion get() returned.
  boost::asio::awaitable<Result<void>> update(boost::json::object edited);

 private:
  kube::Client& client_;
  kube::ResourceType type_;
  std::string kind_;
  std::string field_;
  std::string ns_;
  std::string name_;
  std::optional<boost::json::object> object_;
};

// Invalid unless 0 <= weight <= 100.
Result<void> checkWeight(int32_t weight);

}  // namespace mc::reconcilers
