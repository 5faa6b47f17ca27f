#pragma once

#include <string>
#include <string_view>

namespace mc::kube {

// A kind of resource as the apiserver addresses it (group/version/resource).
struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case
  bool namespaced = true;

  // "/api/v1" or "/apis/apps/v1".
  std::string groupVersionPath() const;
  // The collection: ".../namespaces/NS/configmaps" (or cluster-wide without a namespace).
  std::string collectionPath(std::string_view ns) const;
  // One object, optionally a subresource of it ("status", "scale").
  std::string objectPath(std::string_view ns, std::string_view name,
                         std::string_view subresource = {}) const;
  // For logs and metrics: "configmaps", "leases.coordination.k8s.io".
  std::string displayName() const;
};

}  // namespace mc::kube
