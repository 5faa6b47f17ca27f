#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

// Reading fields of Kubernetes objects, where any field may be absent or of another type: every
// accessor takes a null object and answers "absent" (nullptr, "" or the fallback) rather than
// throwing, so a caller chains them without a check per level. Typed mapping of MC's own API
// lives in crds/ (value_to); these are for objects MC does not own, or reads only in part.
namespace mc {

const boost::json::object* objectAt(const boost::json::object* object, std::string_view key);
const boost::json::array* arrayAt(const boost::json::object* object, std::string_view key);
std::string stringAt(const boost::json::object* object, std::string_view key);
int64_t intAt(const boost::json::object* object, std::string_view key, int64_t fallback);

inline const boost::json::object* objectAt(const boost::json::object& object,
                                           std::string_view key) {
  return objectAt(&object, key);
}
inline const boost::json::array* arrayAt(const boost::json::object& object, std::string_view key) {
  return arrayAt(&object, key);
}
inline std::string stringAt(const boost::json::object& object, std::string_view key) {
  return stringAt(&object, key);
}
inline int64_t intAt(const boost::json::object& object, std::string_view key, int64_t fallback) {
  return intAt(&object, key, fallback);
}

// The value at a path of object keys ({"status", "phase"}); nullptr if any step is absent or
// not an object.
const boost::json::value* valueAt(const boost::json::value& value,
                                  std::initializer_list<std::string_view> path);
std::string stringAt(const boost::json::value& value, std::initializer_list<std::string_view> path);
int64_t intAt(const boost::json::value& value, std::initializer_list<std::string_view> path,
              int64_t fallback);
// For an object and a braced path (which would also fit the one-key accessors' string_view).
std::string stringAt(const boost::json::object& object,
                     std::initializer_list<std::string_view> path);
int64_t intAt(const boost::json::object& object, std::initializer_list<std::string_view> path,
              int64_t fallback);

// The object at `key`, made one (replacing whatever was there) if it is not; for building patches.
boost::json::object& ensureObject(boost::json::object& object, std::string_view key);

// RFC 7386: `patch` merged into `target`; null deletes.
void applyMergePatch(boost::json::value& target, const boost::json::value& patch);

}  // namespace mc
