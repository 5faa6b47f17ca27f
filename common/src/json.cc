#include "mc/common/json.h"

namespace mc {

namespace json = boost::json;

const json::object* objectAt(const json::object* object, std::string_view key) {
  const auto* value = object != nullptr ? object->if_contains(key) : nullptr;
  return value != nullptr && value->is_object() ? &value->as_object() : nullptr;
}

const json::array* arrayAt(const json::object* object, std::string_view key) {
  const auto* value = object != nullptr ? object->if_contains(key) : nullptr;
  return value != nullptr && value->is_array() ? &value->as_array() : nullptr;
}

std::string stringAt(const json::object* object, std::string_view key) {
  const auto* value = object != nullptr ? object->if_contains(key) : nullptr;
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

int64_t intAt(const json::object* object, std::string_view key, int64_t fallback) {
  const auto* value = object != nullptr ? object->if_contains(key) : nullptr;
  if (value == nullptr || !value->is_number()) {
    return fallback;
  }
  boost::system::error_code ec;
  auto number = value->to_number<int64_t>(ec);
  return ec ? fallback : number;
}

const json::value* valueAt(const json::value& value, std::initializer_list<std::string_view> path) {
  const json::value* at = &value;
  for (auto key : path) {
    if (!at->is_object()) {
      return nullptr;
    }
    at = at->as_object().if_contains(key);
    if (at == nullptr) {
      return nullptr;
    }
  }
  return at;
}

std::string stringAt(const json::value& value, std::initializer_list<std::string_view> path) {
  const auto* at = valueAt(value, path);
  return at != nullptr && at->is_string() ? std::string(at->as_string()) : std::string();
}

int64_t intAt(const json::value& value, std::initializer_list<std::string_view> path,
              int64_t fallback) {
  const auto* at = valueAt(value, path);
  if (at == nullptr || !at->is_number()) {
    return fallback;
  }
  boost::system::error_code ec;
  auto number = at->to_number<int64_t>(ec);
  return ec ? fallback : number;
}

json::object& ensureObject(json::object& object, std::string_view key) {
  auto& value = object[key];
  return value.is_object() ? value.as_object() : value.emplace_object();
}

}  // namespace mc
