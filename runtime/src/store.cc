#include "mc/runtime/store.h"

#include <algorithm>
#include <mutex>

#include "mc/runtime/kube_client.h"

namespace mc::kube {

void Store::addIndex(std::string name, IndexFunc function) {
  std::unique_lock lock(mutex_);
  indexes_[name];
  indexFunctions_[std::move(name)] = std::move(function);
}

ObjectPtr Store::get(std::string_view key) const {
  std::shared_lock lock(mutex_);
  auto it = objects_.find(std::string(key));
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::list() const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> out;
  out.reserve(objects_.size());
  for (const auto& [key, object] : objects_) {
    out.push_back(object);
  }
  return out;
}

std::vector<ObjectPtr> Store::byIndex(std::string_view index, std::string_view value) const {
  std::shared_lock lock(mutex_);
  std::vector<ObjectPtr> out;
  auto it = indexes_.find(index);
  if (it == indexes_.end()) {
    return out;
  }
  auto keys = it->second.find(std::string(value));
  if (keys == it->second.end()) {
    return out;
  }
  for (const auto& key : keys->second) {
    if (auto object = objects_.find(key); object != objects_.end()) {
      out.push_back(object->second);
    }
  }
  return out;
}

size_t Store::size() const {
  std::shared_lock lock(mutex_);
  return objects_.size();
}

void Store::indexLocked(const std::string& key, const boost::json::object& object, bool add) {
  for (const auto& [name, function] : indexFunctions_) {
    auto& index = indexes_[name];
    for (const auto& value : function(object)) {
      auto& keys = index[value];
      if (add) {
        keys.push_back(key);
      } else {
        keys.erase(std::remove(keys.begin(), keys.end(), key), keys.end());
        if (keys.empty()) {
          index.erase(value);
        }
      }
    }
  }
}

ObjectPtr Store::upsert(ObjectPtr object) {
  auto key = keyOf(*object);
  std::unique_lock lock(mutex_);
  auto& slot = objects_[key];
  ObjectPtr previous = std::move(slot);
  if (previous) {
    indexLocked(key, *previous, false);
  }
  indexLocked(key, *object, true);
  slot = std::move(object);
  return previous;
}

ObjectPtr Store::erase(const std::string& key) {
  std::unique_lock lock(mutex_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return nullptr;
  }
  ObjectPtr previous = std::move(it->second);
  objects_.erase(it);
  indexLocked(key, *previous, false);
  return previous;
}

IndexFunc indexByOwnerUid() {
  return [](const boost::json::object& object) {
    std::vector<std::string> uids;
    auto* metadata = object.if_contains("metadata");
    if (metadata == nullptr || !metadata->is_object()) {
      return uids;
    }
    auto* owners = metadata->as_object().if_contains("ownerReferences");
    if (owners == nullptr || !owners->is_array()) {
      return uids;
    }
    for (const auto& owner : owners->as_array()) {
      if (auto* uid = owner.is_object() ? owner.as_object().if_contains("uid") : nullptr;
          uid != nullptr && uid->is_string()) {
        uids.emplace_back(uid->as_string());
      }
    }
    return uids;
  };
}

IndexFunc indexByLabel(std::string label) {
  return [label = std::move(label)](const boost::json::object& object) {
    std::vector<std::string> values;
    auto* metadata = object.if_contains("metadata");
    auto* labels = metadata != nullptr && metadata->is_object()
                       ? metadata->as_object().if_contains("labels")
                       : nullptr;
    if (labels != nullptr && labels->is_object()) {
      if (auto* value = labels->as_object().if_contains(label); value && value->is_string()) {
        values.emplace_back(value->as_string());
      }
    }
    return values;
  };
}

}  // namespace mc::kube
