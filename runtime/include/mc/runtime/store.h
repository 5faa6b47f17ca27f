#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mc::kube {

// Cached objects are immutable and shared: readers keep a pointer as long as they like while
// the cache moves on to newer versions. Each object is held once, parsed, with no raw copy.
using ObjectPtr = std::shared_ptr<const boost::json::object>;

// Index values of an object, e.g. the UIDs of its owners.
using IndexFunc = std::function<std::vector<std::string>(const boost::json::object&)>;

// A thread-safe cache of objects by key ("namespace/name"), with secondary indexes. Written by
// one informer; read by any thread.
class Store {
 public:
  // Indexes are declared before the first object arrives.
  void addIndex(std::string name, IndexFunc function);

  ObjectPtr get(std::string_view key) const;
  std::vector<ObjectPtr> list() const;
  std::vector<ObjectPtr> byIndex(std::string_view index, std::string_view value) const;
  size_t size() const;

  // Writers (the informer). Each returns the object it replaced or removed, if any.
  ObjectPtr upsert(ObjectPtr object);
  ObjectPtr erase(const std::string& key);

 private:
  void indexLocked(const std::string& key, const boost::json::object& object, bool add);

  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, ObjectPtr> objects_;
  std::map<std::string, IndexFunc, std::less<>> indexFunctions_;
  // index name -> value -> keys
  std::map<std::string, std::unordered_map<std::string, std::vector<std::string>>, std::less<>>
      indexes_;
};

// Index functions MC uses: the UIDs of an object's ownerReferences, and a label's value.
IndexFunc indexByOwnerUid();
IndexFunc indexByLabel(std::string label);

inline constexpr std::string_view kOwnerUidIndex = "ownerUid";

}  // namespace mc::kube
