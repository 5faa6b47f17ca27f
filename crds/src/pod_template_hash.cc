#include "mc/crds/pod_template_hash.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <vector>

namespace mc::crds {
namespace {

void writeCanonical(const boost::json::value& value, std::string& out) {
  switch (value.kind()) {
    case boost::json::kind::object: {
      const auto& object = value.as_object();
      std::vector<const boost::json::key_value_pair*> members;
      members.reserve(object.size());
      for (const auto& member : object) {
        members.push_back(&member);
      }
      std::sort(members.begin(), members.end(),
                [](auto* a, auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += boost::json::serialize(boost::json::string_view(members[i]->key()));
        out.push_back(':');
        writeCanonical(members[i]->value(), out);
      }
      out.push_back('}');
      break;
    }
    case boost::json::kind::array: {
      out.push_back('[');
      const auto& array = value.as_array();
      for (size_t i = 0; i < array.size(); ++i) {
        if (i > 0) out.push_back(',');
        writeCanonical(array[i], out);
      }
      out.push_back(']');
      break;
    }
    default:
      out += boost::json::serialize(value);
  }
}

// Kubernetes' rand.SafeEncodeString alphabet: no vowels (no words), no 0/1/3 (no confusion).
constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";

}  // namespace

std::string canonicalJson(const boost::json::value& value) {
  std::string out;
  writeCanonical(value, out);
  return out;
}

std::string podTemplateHash(const boost::json::object& podTemplate, int32_t collisionCount) {
  uint32_t hash = 2166136261u;  // FNV-1a, 32 bits
  auto mix = [&hash](std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 16777619u;
    }
  };
  mix(canonicalJson(podTemplate));
  if (collisionCount != 0) {
    // As Kubernetes does: the count's little-endian bytes, appended to the hashed data.
    uint32_t count = static_cast<uint32_t>(collisionCount);
    char bytes[4] = {static_cast<char>(count), static_cast<char>(count >> 8),
                     static_cast<char>(count >> 16), static_cast<char>(count >> 24)};
    mix(std::string_view(bytes, 4));
  }
  std::string decimal = std::to_string(hash);
  std::string encoded;
  for (char c : decimal) {
    encoded.push_back(kAlphabet[static_cast<unsigned char>(c) % kAlphabet.size()]);
  }
  return encoded;
}

}  // namespace mc::crds
