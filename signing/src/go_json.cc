#include "go_json.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>

#include "mc/common/text.h"

namespace mc::signing::gojson {

namespace json = boost::json;

Result<const json::value*> member(const json::object& object, std::string_view key,
                                  std::string_view field) {
  const json::value* found = nullptr;
  for (const auto& entry : object) {
    if (entry.key().size() == key.size() && asciiLower(entry.key()) == asciiLower(key)) {
      if (found != nullptr) {
        return fieldError(std::string(field),
                          "is given twice (keys differing only in case); refusing the document");
      }
      found = &entry.value();
    }
  }
  return found;
}

Result<const json::object*> objectMember(const json::object& object, std::string_view key,
                                         std::string_view field) {
  auto found = member(object, key, field);
  if (!found) {
    return found.error();
  }
  if (*found == nullptr || (*found)->is_null()) {
    return fieldError(std::string(field), "is required");
  }
  if (!(*found)->is_object()) {
    return fieldError(std::string(field), "must be an object");
  }
  return &(*found)->get_object();
}

Result<std::string> stringMember(const json::object& object, std::string_view key,
                                 std::string_view field) {
  auto found = member(object, key, field);
  if (!found) {
    return found.error();
  }
  if (*found == nullptr || (*found)->is_null()) {
    return std::string();
  }
  if (!(*found)->is_string()) {
    return fieldError(std::string(field), "must be a string");
  }
  return std::string((*found)->get_string());
}

Result<const json::array*> arrayMember(const json::object& object, std::string_view key,
                                       std::string_view field) {
  auto found = member(object, key, field);
  if (!found) {
    return found.error();
  }
  if (*found == nullptr || (*found)->is_null()) {
    return static_cast<const json::array*>(nullptr);
  }
  if (!(*found)->is_array()) {
    return fieldError(std::string(field), "must be an array");
  }
  return &(*found)->get_array();
}

Result<json::object> parseObject(std::string_view bytes, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(bytes, ec);
  if (ec) {
    return makeError(ErrorKind::Invalid, fmt::format("{} is not JSON: {}", what, ec.message()));
  }
  if (!value.is_object()) {
    return makeError(ErrorKind::Invalid, fmt::format("{} is not a JSON object", what));
  }
  return std::move(value.get_object());
}

}  // namespace mc::signing::gojson
