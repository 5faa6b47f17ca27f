#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

namespace mc::crds {

// The label value that names a pod template's ReplicaSet, in the manner of Kubernetes'
// pod-template-hash: a 32-bit FNV-1a over the template, then the collision count, written in the
// safe alphabet (no vowels, no confusable digits). The template is serialised canonically (object
// keys sorted at every level), so the same template always gives the same hash whatever the
// key order of the manifest. A collision count bumps the hash when a foreign ReplicaSet holds it.
std::string podTemplateHash(const boost::json::object& podTemplate, int32_t collisionCount = 0);

// Canonical JSON: keys sorted at every level, no whitespace.
std::string canonicalJson(const boost::json::value& value);

}  // namespace mc::crds
