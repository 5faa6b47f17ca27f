#pragma once

// What the crds mappings share (private to src/): a reader that names the field at fault, and
// the writer of optional fields.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/rollout.h"

namespace mc::crds {

namespace json = boost::json;

// Reading: each accessor names the field at fault, so an invalid object gives an error a
// person can act on ("spec.strategy.canary.steps[2].setWeight: expected an integer"). The first
// fault is kept and reading goes on with the field absent; the caller returns the fault.
class Reader {
 public:
  std::optional<Error> fault;

  const json::value* member(const json::object& object, std::string_view key) {
    auto* value = object.if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }

  std::optional<std::string> optString(const json::object& object, std::string_view key,
                                       const std::string& path) {
    auto* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) return wrongType(join(path, key), "a string");
    return std::string(value->as_string());
  }

  template <class Int>
  std::optional<Int> optInt(const json::object& object, std::string_view key,
                            const std::string& path) {
    auto* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    boost::system::error_code ec;
    auto number = value->to_number<Int>(ec);
    if (ec) return wrongType(join(path, key), "an integer");
    return number;
  }

  std::optional<bool> optBool(const json::object& object, std::string_view key,
                              const std::string& path) {
    auto* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_bool()) return wrongType(join(path, key), "true or false");
    return value->as_bool();
  }

  std::optional<double> optDouble(const json::object& object, std::string_view key,
                                  const std::string& path) {
    auto* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    boost::system::error_code ec;
    auto number = value->to_number<double>(ec);
    if (ec) return wrongType(join(path, key), "a number");
    return number;
  }

  const json::object* optObject(const json::object& object, std::string_view key,
                                const std::string& path) {
    auto* value = member(object, key);
    if (value == nullptr) return nullptr;
    return asObject(*value, join(path, key));
  }

  const json::array* optArray(const json::object& object, std::string_view key,
                              const std::string& path) {
    auto* value = member(object, key);
    if (value == nullptr) return nullptr;
    if (!value->is_array()) return wrongType(join(path, key), "a list");
    return &value->as_array();
  }

  // A list of strings; an entry of another type is a fault, naming its index.
  std::vector<std::string> stringList(const json::object& object, std::string_view key,
                                      const std::string& path) {
    std::vector<std::string> out;
    const json::array* list = optArray(object, key, path);
    if (list == nullptr) return out;
    for (size_t i = 0; i < list->size(); ++i) {
      if (!(*list)[i].is_string()) {
        wrongType(join(path, key) + "[" + std::to_string(i) + "]", "a string");
        continue;
      }
      out.emplace_back((*list)[i].as_string());
    }
    return out;
  }

  // Null (and a fault) if `value` is not an object.
  const json::object* asObject(const json::value& value, const std::string& path) {
    if (!value.is_object()) return wrongType(path, "an object");
    return &value.as_object();
  }

  void missing(const std::string& path) { record(fieldError(path, "missing")); }

 private:
  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  // Records the fault; converts to an absent value of any accessor's type.
  struct Absent {
    template <class T>
    operator std::optional<T>() const {
      return std::nullopt;
    }
    template <class T>
    operator const T*() const {
      return nullptr;
    }
  };
  Absent wrongType(const std::string& path, const char* expected) {
    record(fieldError(path, std::string("expected ") + expected));
    return {};
  }
  void record(Error error) {
    if (!fault) fault = std::move(error);
  }
};

// Writing: optional fields are written only when set.
template <class T>
void put(json::object& out, std::string_view key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}

// The `args` list of a Rollout's analysis, a template or a run: [{name, value?}].
inline std::vector<AnalysisArg> readArgs(Reader& r, const json::object& in,
                                         const std::string& path) {
  std::vector<AnalysisArg> out;
  if (auto* args = r.optArray(in, "args", path)) {
    for (size_t i = 0; i < args->size(); ++i) {
      auto argPath = path + ".args[" + std::to_string(i) + "]";
      if (const auto* arg = r.asObject((*args)[i], argPath)) {
        out.push_back(
            {r.optString(*arg, "name", argPath).value_or(""), r.optString(*arg, "value", argPath)});
      }
    }
  }
  return out;
}

inline json::array writeArgs(const std::vector<AnalysisArg>& args) {
  json::array out;
  for (const auto& arg : args) {
    json::object a{{"name", arg.name}};
    put(a, "value", arg.value);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace mc::crds
