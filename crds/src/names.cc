#include "mc/crds/names.h"

#include <cctype>
#include <charconv>

#include "mc/common/json.h"

namespace mc::crds {

std::string podHashOf(const boost::json::object& replicaSet) {
  return stringAt(objectAt(objectAt(replicaSet, "metadata"), "labels"), kPodTemplateHashLabel);
}

int64_t revisionOf(const boost::json::object& replicaSet) {
  std::string text =
      stringAt(objectAt(objectAt(replicaSet, "metadata"), "annotations"), kRevisionAnnotation);
  int64_t revision = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), revision);
  return ec == std::errc() && end == text.data() + text.size() ? revision : 0;
}

std::string rolloutLabelValue(std::string_view rolloutName) {
  constexpr size_t kMaxLabelValue = 63;
  std::string value(rolloutName.substr(0, kMaxLabelValue));
  while (!value.empty() && !std::isalnum(static_cast<unsigned char>(value.back()))) {
    value.pop_back();
  }
  return value;
}

}  // namespace mc::crds
