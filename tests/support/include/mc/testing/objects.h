#pragma once

#include <boost/json/object.hpp>
#include <string>

namespace mc::test {

// Small objects the integration tests create.
inline boost::json::object namespaceObject(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
}

// A ConfigMap; `value`, if given, is data.value; `metadata` entries are added to its metadata.
inline boost::json::object configMap(const std::string& ns, const std::string& name,
                                     const std::string& value = {},
                                     boost::json::object metadata = {}) {
  metadata["name"] = name;
  metadata["namespace"] = ns;
  boost::json::object object{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", metadata}};
  if (!value.empty()) {
    object["data"] = boost::json::object{{"value", value}};
  }
  return object;
}

}  // namespace mc::test
