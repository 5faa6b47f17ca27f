#include "mc/common/resource_type.h"

#include <fmt/format.h>

namespace mc::kube {

std::string ResourceType::groupVersionPath() const {
  return group.empty() ? fmt::format("/api/{}", version)
                       : fmt::format("/apis/{}/{}", group, version);
}

std::string ResourceType::collectionPath(std::string_view ns) const {
  if (namespaced && !ns.empty()) {
    return fmt::format("{}/namespaces/{}/{}", groupVersionPath(), ns, resource);
  }
  return fmt::format("{}/{}", groupVersionPath(), resource);
}

std::string ResourceType::objectPath(std::string_view ns, std::string_view name,
                                     std::string_view subresource) const {
  auto path = fmt::format("{}/{}", collectionPath(ns), name);
  if (!subresource.empty()) {
    path += fmt::format("/{}", subresource);
  }
  return path;
}

std::string ResourceType::displayName() const {
  return group.empty() ? resource : fmt::format("{}.{}", resource, group);
}

}  // namespace mc::kube
