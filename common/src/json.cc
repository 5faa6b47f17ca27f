#include "mc/common/json.h"

namespace mc {

namespace json = boost::json;

namespace {

// The value at `path` below `object`; nullptr if a step is absent or not an object.
const json::value* valueAt(const json::object& object,
                           std::initializer_list<std::string_view> path) {
  const json::object* parent = &object;
  const json::value* at = nullptr;
  for (auto key : path) {
    if (parent == nullptr || (at = parent->if_contains(key)) == nullptr) {
      return nullptr;
    }
    parent = at->is_object() ? &at->as_object() : nullptr;
  }
  return at;
}

int64_t numberOr(const json::value* value, int64_t fallback) {
  if (value == nullptr || !value->is_number()) {
    return fallback;
  }
  boost::system::error_code ec;
  auto number = value->to_number<int64_t>(ec);
  return ec ? fallback : number;
}

}  // namespace

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
  return numberOr(object != nullptr ? object->if_contains(key) : nullptr, fallback);
}

const json::value* valueAt(const json::value& value, std::initializer_list<std::string_view> path) {
  if (path.size() == 0) {
    return &value;
  }
  return value.is_object() ? valueAt(value.as_object(), path) : nullptr;
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

std::string stringAt(const json::object& object, std::initializer_list<std::string_view> path) {
  const auto* at = valueAt(object, path);
  return at != nullptr && at->is_string() ? std::string(at->as_string()) : std::string();
}

int64_t intAt(const json::object& object, std::initializer_list<std::string_view> path,
              int64_t fallback) {
  return numberOr(valueAt(object, path), fallback);
}

json::object& ensureObject(json::object& object, std::string_view key) {
  auto& value = object[key];
  return value.is_object() ? value.as_object() : value.emplace_object();
}

void applyMergePatch(boost::json::value& target, const boost::json::value& patch) {
  if (!patch.is_object()) {
    target = patch;
    return;
  }
  if (!target.is_object()) {
    target = boost::json::object();
  }
  auto& object = target.as_object();
  for (const auto& [key, value] : patch.as_object()) {
    if (value.is_null()) {
      object.erase(key);
    } else {
      applyMergePatch(object[key], value);
    }
  }
}

}  // namespace mc
