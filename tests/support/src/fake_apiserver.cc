#include "mc/testing/fake_apiserver.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "mc/common/json.h"
#include "mc/common/timefmt.h"

namespace mc::test {
namespace {

bool isDnsSubdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) {
    return false;
  }
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '.'; });
}

namespace asio = boost::asio;
namespace json = boost::json;
using kube::ResourceType;
using kube::WatchEvent;
using kube::WatchEventType;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// One store per group and resource, whatever the version asked for.
std::string storeKey(const ResourceType& type) { return type.group + "/" + type.resource; }

// What faults and counts name: "rollouts", "rollouts/status".
std::string resourceName(const ResourceType& type, std::string_view subresource) {
  return subresource.empty() ? type.resource : type.resource + "/" + std::string(subresource);
}

// Whether a fault or count named `pattern` covers a call on `resource`.
bool covers(std::string_view pattern, std::string_view resource) {
  return pattern == resource ||
         (pattern.find('/') == std::string_view::npos && resource.size() > pattern.size() &&
          resource.substr(0, pattern.size()) == pattern && resource[pattern.size()] == '/');
}

std::string objectKey(std::string_view ns, std::string_view name) {
  return ns.empty() ? std::string(name) : fmt::format("{}/{}", ns, name);
}

std::string quoted(const ResourceType& type, std::string_view name) {
  return fmt::format("{} \"{}\"", type.displayName(), name);
}

Error notFound(const ResourceType& type, std::string_view name) {
  return makeError(ErrorKind::NotFound, quoted(type, name) + " not found", 404);
}

Error conflict(const ResourceType& type, std::string_view name) {
  return makeError(ErrorKind::Conflict,
                   fmt::format("Operation cannot be fulfilled on {}: the object has been modified; "
                               "please apply your changes to the latest version and try again",
                               quoted(type, name)),
                   409);
}

Error invalid(std::string message) {
  return makeError(ErrorKind::Invalid, std::move(message), 422);
}

// metadata, made an object if it is not one: for writing.
json::object& mutableMetadata(json::object& object) { return ensureObject(object, "metadata"); }

const json::object* metadataOf(const json::object& object) { return objectAt(object, "metadata"); }

void eraseStatus(json::object& object) { object.erase("status"); }

// The object without what does not count towards metadata.generation.
json::object specOf(const json::object& object) {
  json::object out = object;
  out.erase("metadata");
  out.erase("status");
  return out;
}

// Numbers compare by value (1 == 1.0 == 1u), as RFC 6902's test wants; the rest as Boost.JSON.
bool jsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (!a.is_double() && !b.is_double()) {
      if (a.is_int64() && b.is_int64()) {
        return a.as_int64() == b.as_int64();
      }
      if (a.is_uint64() && b.is_uint64()) {
        return a.as_uint64() == b.as_uint64();
      }
      const auto& i = a.is_int64() ? a : b;
      const auto& u = a.is_int64() ? b : a;
      return i.as_int64() >= 0 && static_cast<uint64_t>(i.as_int64()) == u.as_uint64();
    }
    return a.to_number<double>() == b.to_number<double>();
  }
  if (a.is_object() && b.is_object()) {
    const auto& x = a.as_object();
    const auto& y = b.as_object();
    if (x.size() != y.size()) {
      return false;
    }
    for (const auto& [key, value] : x) {
      const auto* other = y.if_contains(key);
      if (other == nullptr || !jsonEqual(value, *other)) {
        return false;
      }
    }
    return true;
  }
  if (a.is_array() && b.is_array()) {
    const auto& x = a.as_array();
    const auto& y = b.as_array();
    if (x.size() != y.size()) {
      return false;
    }
    for (size_t i = 0; i < x.size(); ++i) {
      if (!jsonEqual(x[i], y[i])) {
        return false;
      }
    }
    return true;
  }
  return a == b;
}

// --- JSON pointers (RFC 6901) ---

Result<std::vector<std::string>> parsePointer(std::string_view pointer) {
  std::vector<std::string> tokens;
  if (pointer.empty()) {
    return tokens;
  }
  if (pointer.front() != '/') {
    return invalid(fmt::format("JSON pointer \"{}\" does not start with /", pointer));
  }
  size_t start = 1;
  for (;;) {
    size_t end = pointer.find('/', start);
    std::string_view raw = pointer.substr(start, end == std::string_view::npos ? end : end - start);
    std::string token;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '~') {
        token += raw[i];
      } else if (i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        token += raw[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        return invalid(fmt::format("JSON pointer \"{}\" has a ~ that is not ~0 or ~1", pointer));
      }
    }
    tokens.push_back(std::move(token));
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  return tokens;
}

// An array index: digits without leading zeros.
std::optional<size_t> arrayIndex(std::string_view token) {
  if (token.empty() || (token.size() > 1 && token.front() == '0')) {
    return std::nullopt;
  }
  size_t index = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
  if (ec != std::errc() || end != token.data() + token.size()) {
    return std::nullopt;
  }
  return index;
}

// The value `count` tokens deep, or nullptr.
json::value* resolve(json::value& document, const std::vector<std::string>& tokens, size_t count) {
  json::value* at = &document;
  for (size_t i = 0; i < count; ++i) {
    if (at->is_object()) {
      at = at->as_object().if_contains(tokens[i]);
    } else if (at->is_array()) {
      auto index = arrayIndex(tokens[i]);
      at = index && *index < at->as_array().size() ? &at->as_array()[*index] : nullptr;
    } else {
      at = nullptr;
    }
    if (at == nullptr) {
      return nullptr;
    }
  }
  return at;
}

Result<void> pointerAdd(json::value& document, const std::vector<std::string>& tokens,
                        json::value value, std::string_view path) {
  if (tokens.empty()) {
    document = std::move(value);
    return {};
  }
  json::value* parent = resolve(document, tokens, tokens.size() - 1);
  const std::string& last = tokens.back();
  if (parent != nullptr && parent->is_object()) {
    parent->as_object()[last] = std::move(value);
    return {};
  }
  if (parent != nullptr && parent->is_array()) {
    auto& array = parent->as_array();
    if (last == "-") {
      array.push_back(std::move(value));
      return {};
    }
    if (auto index = arrayIndex(last); index && *index <= array.size()) {
      array.insert(array.begin() + static_cast<std::ptrdiff_t>(*index), std::move(value));
      return {};
    }
    return invalid(fmt::format("add: index {} is out of range at \"{}\"", last, path));
  }
  return invalid(fmt::format("add: the parent of \"{}\" does not exist", path));
}

Result<json::value> pointerRemove(json::value& document, const std::vector<std::string>& tokens,
                                  std::string_view op, std::string_view path) {
  json::value* parent = tokens.empty() ? nullptr : resolve(document, tokens, tokens.size() - 1);
  if (parent != nullptr && parent->is_object()) {
    auto& object = parent->as_object();
    if (auto it = object.find(tokens.back()); it != object.end()) {
      json::value removed = std::move(it->value());
      object.erase(it);
      return removed;
    }
  } else if (parent != nullptr && parent->is_array()) {
    auto& array = parent->as_array();
    if (auto index = arrayIndex(tokens.back()); index && *index < array.size()) {
      json::value removed = std::move(array[*index]);
      array.erase(array.begin() + static_cast<std::ptrdiff_t>(*index));
      return removed;
    }
  }
  return invalid(fmt::format("{}: \"{}\" does not exist", op, path));
}

Result<void> applyOperation(json::value& document, const json::object& operation) {
  std::string op = stringAt(operation, "op");
  std::string path = stringAt(operation, "path");
  if (!operation.contains("path") || !operation.at("path").is_string()) {
    return invalid(fmt::format("JSON patch operation \"{}\" has no path", op));
  }
  auto tokens = parsePointer(path);
  if (!tokens) {
    return tokens.error();
  }
  const json::value* value = operation.if_contains("value");
  auto needValue = [&]() -> Result<void> {
    if (value == nullptr) {
      return invalid(fmt::format("{} \"{}\": no value", op, path));
    }
    return {};
  };
  if (op == "add") {
    if (auto ok = needValue(); !ok) {
      return ok;
    }
    return pointerAdd(document, *tokens, *value, path);
  }
  if (op == "remove") {
    auto removed = pointerRemove(document, *tokens, op, path);
    if (!removed) {
      return removed.error();
    }
    return {};
  }
  if (op == "replace") {
    if (auto ok = needValue(); !ok) {
      return ok;
    }
    json::value* target = resolve(document, *tokens, tokens->size());
    if (target == nullptr) {
      return invalid(fmt::format("replace: \"{}\" does not exist", path));
    }
    *target = *value;
    return {};
  }
  if (op == "test") {
    if (auto ok = needValue(); !ok) {
      return ok;
    }
    json::value* target = resolve(document, *tokens, tokens->size());
    if (target == nullptr || !jsonEqual(*target, *value)) {
      return invalid(fmt::format("test: \"{}\" is not {}", path, json::serialize(*value)));
    }
    return {};
  }
  if (op == "move" || op == "copy") {
    if (!operation.contains("from") || !operation.at("from").is_string()) {
      return invalid(fmt::format("{} \"{}\": no from", op, path));
    }
    std::string from = stringAt(operation, "from");
    auto fromTokens = parsePointer(from);
    if (!fromTokens) {
      return fromTokens.error();
    }
    if (op == "move") {
      if (from == path) {
        return {};
      }
      if (path.size() > from.size() && path.compare(0, from.size(), from) == 0 &&
          path[from.size()] == '/') {
        return invalid(fmt::format("move: \"{}\" is inside \"{}\"", path, from));
      }
      auto moved = pointerRemove(document, *fromTokens, op, from);
      if (!moved) {
        return moved.error();
      }
      return pointerAdd(document, *tokens, std::move(*moved), path);
    }
    json::value* source = resolve(document, *fromTokens, fromTokens->size());
    if (source == nullptr) {
      return invalid(fmt::format("copy: \"{}\" does not exist", from));
    }
    json::value copy = *source;
    return pointerAdd(document, *tokens, std::move(copy), path);
  }
  return invalid(
      fmt::format("JSON patch operation \"{}\" is not one of add, remove, replace, "
                  "move, copy, test",
                  op));
}

// --- Selectors ---

bool isKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '/';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

bool validToken(std::string_view text, bool allowEmpty) {
  if (text.empty()) {
    return allowEmpty;
  }
  for (char c : text) {
    if (!isKeyChar(c)) {
      return false;
    }
  }
  return true;
}

// Splits at commas outside parentheses.
std::vector<std::string_view> splitRequirements(std::string_view text) {
  std::vector<std::string_view> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    } else if (text[i] == ',' && depth == 0) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(text.substr(start));
  return parts;
}

std::optional<std::string> labelOf(const json::object* labels, const std::string& key) {
  const json::value* value = labels ? labels->if_contains(key) : nullptr;
  if (value == nullptr || !value->is_string()) {
    return std::nullopt;
  }
  return std::string(value->as_string());
}

// metadata.name and metadata.namespace: what the apiserver supports for every resource.
struct FieldSelector {
  struct Requirement {
    std::string field;
    bool equals = true;
    std::string value;
  };
  std::vector<Requirement> requirements;

  static Result<FieldSelector> parse(std::string_view text) {
    FieldSelector selector;
    if (trim(text).empty()) {
      return selector;
    }
    for (auto part : splitRequirements(text)) {
      part = trim(part);
      Requirement requirement;
      size_t at = part.find("!=");
      size_t width = 2;
      if (at != std::string_view::npos) {
        requirement.equals = false;
      } else if (at = part.find("=="); at == std::string_view::npos) {
        at = part.find('=');
        width = 1;
      }
      if (at == std::string_view::npos) {
        return makeError(ErrorKind::Invalid,
                         fmt::format("invalid field selector \"{}\": no operator", text), 400);
      }
      requirement.field = std::string(trim(part.substr(0, at)));
      requirement.value = std::string(trim(part.substr(at + width)));
      if (requirement.field != "metadata.name" && requirement.field != "metadata.namespace") {
        return makeError(ErrorKind::Invalid,
                         fmt::format("field label not supported: {}", requirement.field), 400);
      }
      selector.requirements.push_back(std::move(requirement));
    }
    return selector;
  }

  bool matches(const json::object& object) const {
    for (const auto& r : requirements) {
      std::string actual =
          r.field == "metadata.name" ? kube::nameOf(object) : kube::namespaceOf(object);
      if ((actual == r.value) != r.equals) {
        return false;
      }
    }
    return true;
  }
};

std::string uidFor(uint64_t n) { return fmt::format("fa4e0000-0000-4000-8000-{:012x}", n); }

}  // namespace

std::string_view toString(Verb verb) {
  switch (verb) {
    case Verb::Get:
      return "get";
    case Verb::List:
      return "list";
    case Verb::Create:
      return "create";
    case Verb::Update:
      return "update";
    case Verb::Patch:
      return "patch";
    case Verb::Delete:
      return "delete";
    case Verb::Watch:
      return "watch";
  }
  return "unknown";
}

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector selector;
  if (trim(text).empty()) {
    return selector;
  }
  auto bad = [&](std::string_view why) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("unable to parse requirement in \"{}\": {}", text, why), 400);
  };
  for (auto part : splitRequirements(text)) {
    part = trim(part);
    Requirement requirement;
    if (!part.empty() && part.front() == '!') {
      requirement.op = Op::NotExists;
      requirement.key = std::string(trim(part.substr(1)));
      if (!validToken(requirement.key, false)) {
        return bad("a key is expected after !");
      }
      selector.requirements_.push_back(std::move(requirement));
      continue;
    }
    size_t keyEnd = 0;
    while (keyEnd < part.size() && isKeyChar(part[keyEnd])) {
      ++keyEnd;
    }
    requirement.key = std::string(part.substr(0, keyEnd));
    if (requirement.key.empty()) {
      return bad("a key is expected");
    }
    std::string_view rest = trim(part.substr(keyEnd));
    if (rest.empty()) {
      requirement.op = Op::Exists;
    } else if (rest.substr(0, 2) == "==" || rest.substr(0, 2) == "!=" || rest.front() == '=') {
      requirement.op = rest.front() == '!' ? Op::NotEquals : Op::Equals;
      size_t width = rest.substr(0, 2) == "==" || rest.substr(0, 2) == "!=" ? 2 : 1;
      std::string_view value = trim(rest.substr(width));
      if (!validToken(value, true)) {
        return bad("invalid value");
      }
      requirement.values.emplace_back(value);
    } else {
      bool in = rest.substr(0, 2) == "in";
      bool notIn = rest.substr(0, 5) == "notin";
      if (!in && !notIn) {
        return bad("unknown operator");
      }
      requirement.op = notIn ? Op::NotIn : Op::In;
      std::string_view set = trim(rest.substr(notIn ? 5 : 2));
      if (set.size() < 2 || set.front() != '(' || set.back() != ')') {
        return bad("a set of values in parentheses is expected");
      }
      set = set.substr(1, set.size() - 2);
      size_t start = 0;
      for (;;) {
        size_t comma = set.find(',', start);
        std::string_view value = trim(set.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
        if (!validToken(value, true)) {
          return bad("invalid value in set");
        }
        requirement.values.emplace_back(value);
        if (comma == std::string_view::npos) {
          break;
        }
        start = comma + 1;
      }
    }
    selector.requirements_.push_back(std::move(requirement));
  }
  return selector;
}

bool LabelSelector::matches(const json::object* labels) const {
  for (const auto& r : requirements_) {
    auto value = labelOf(labels, r.key);
    bool inSet = value && std::find(r.values.begin(), r.values.end(), *value) != r.values.end();
    bool ok = false;
    switch (r.op) {
      case Op::Exists:
        ok = value.has_value();
        break;
      case Op::NotExists:
        ok = !value.has_value();
        break;
      case Op::Equals:
      case Op::In:
        ok = inSet;
        break;
      case Op::NotEquals:
      case Op::NotIn:
        ok = !inSet;
        break;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

void applyMergePatch(json::value& target, const json::value& patch) {
  mc::applyMergePatch(target, patch);
}

Result<json::value> applyJsonPatch(const json::value& document, const json::value& patch) {
  if (!patch.is_array()) {
    return invalid("a JSON patch is an array of operations");
  }
  json::value out = document;
  for (const auto& operation : patch.as_array()) {
    if (!operation.is_object()) {
      return invalid("a JSON patch operation is an object");
    }
    if (auto applied = applyOperation(out, operation.as_object()); !applied) {
      return applied.error();
    }
  }
  return out;
}

// --- The server ---

namespace {

struct HistoryEntry {
  uint64_t version = 0;
  std::string store;
  WatchEventType type = WatchEventType::Added;
  std::optional<json::object> previous;  // Modified: the object before
  json::object object;                   // Deleted: the last state, at the delete's version
};

struct Watcher {
  std::string store;
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;
  std::deque<WatchEvent> pending;
  bool ended = false;
  std::shared_ptr<asio::steady_timer> timer;

  bool matches(const json::object& object) const {
    return (ns.empty() || kube::namespaceOf(object) == ns) &&
           labels.matches(objectAt(metadataOf(object), "labels")) && fields.matches(object);
  }

  // As the watch cache filters: an object that leaves the selector is deleted for this watch,
  // one that enters it is added.
  std::optional<WatchEvent> eventFor(const HistoryEntry& entry) const {
    if (entry.store != store) {
      return std::nullopt;
    }
    bool is = matches(entry.object);
    if (entry.type != WatchEventType::Modified) {
      return is ? std::optional<WatchEvent>(WatchEvent{entry.type, entry.object}) : std::nullopt;
    }
    bool was = entry.previous && matches(*entry.previous);
    if (was && is) {
      return WatchEvent{WatchEventType::Modified, entry.object};
    }
    if (is) {
      return WatchEvent{WatchEventType::Added, entry.object};
    }
    if (was) {
      json::object gone = *entry.previous;
      mutableMetadata(gone)["resourceVersion"] = std::to_string(entry.version);
      return WatchEvent{WatchEventType::Deleted, std::move(gone)};
    }
    return std::nullopt;
  }

  void wake() const {
    if (timer) {
      asio::post(timer->get_executor(), [timer = timer] { timer->cancel(); });
    }
  }
};

struct Failure {
  Verb verb;
  std::string resource;
  int times = 0;
  Error error;
};

}  // namespace

struct FakeApiServer::State {
  State(const Clock& clock, FakeApiServerOptions options) : clock(clock), options(options) {}

  const Clock& clock;
  const FakeApiServerOptions options;
  mutable std::mutex mutex;
  // store key -> object key -> object; ordered, so lists page in a stable order.
  std::map<std::string, std::map<std::string, json::object>> objects;
  std::map<std::string, std::pair<std::string, std::string>> kinds;  // apiVersion, kind
  uint64_t version = 0;
  uint64_t floor = 0;  // a watch from a version below this answers Gone
  uint64_t uids = 0;
  std::deque<HistoryEntry> history;
  std::vector<std::shared_ptr<Watcher>> watchers;
  std::vector<Failure> failures;
  WriteHook hook;
  CallHook callHook;
  int writeIndex = 0;
  std::map<std::pair<Verb, std::string>, int> writeCounts;
  std::map<std::pair<Verb, std::string>, int> callCounts;
  int gone = 0;

  // Counts the call and answers the first fault that covers it.
  std::optional<Error> enter(Verb verb, const std::string& resource) {
    CallHook called;
    {
      std::lock_guard lock(mutex);
      ++callCounts[{verb, resource}];
      called = callHook;
    }
    if (called) {
      called(verb, resource);
    }
    std::lock_guard lock(mutex);
    for (auto& failure : failures) {
      if (failure.verb == verb && failure.times > 0 && covers(failure.resource, resource)) {
        --failure.times;
        return failure.error;
      }
    }
    return std::nullopt;
  }

  std::optional<Error> beforeWrite(Verb verb, const std::string& resource, std::string_view ns,
                                   std::string_view name) {
    if (auto failed = enter(verb, resource)) {
      return failed;
    }
    WriteHook called;
    WriteRequest request{verb, resource, std::string(ns), std::string(name), 0};
    {
      std::lock_guard lock(mutex);
      request.index = ++writeIndex;
      called = hook;
    }
    return called ? called(request) : std::nullopt;
  }

  void countWrite(Verb verb, const std::string& resource) {
    std::lock_guard lock(mutex);
    ++writeCounts[{verb, resource}];
  }

  void rememberKind(const std::string& store, const json::object& object) {
    auto apiVersion = stringAt(object, "apiVersion");
    auto kind = stringAt(object, "kind");
    if (!kind.empty()) {
      kinds[store] = {apiVersion, kind};
    }
  }

  void publishLocked(HistoryEntry entry) {
    for (const auto& watcher : watchers) {
      if (auto event = watcher->eventFor(entry)) {
        watcher->pending.push_back(std::move(*event));
        watcher->wake();
      }
    }
    history.push_back(std::move(entry));
    while (history.size() > options.historyLimit) {
      floor = history.front().version;
      history.pop_front();
    }
  }

  json::object* findLocked(const ResourceType& type, std::string_view ns, std::string_view name) {
    auto store = objects.find(storeKey(type));
    if (store == objects.end()) {
      return nullptr;
    }
    auto it = store->second.find(objectKey(type.namespaced ? ns : "", name));
    return it == store->second.end() ? nullptr : &it->second;
  }

  Result<json::object> createLocked(const ResourceType& type, std::string_view ns,
                                    json::object object, bool keepStatus) {
    std::string name = kube::nameOf(object);
    auto& metadata = mutableMetadata(object);
    if (name.empty()) {
      std::string prefix = stringAt(metadata, "generateName");
      if (prefix.empty()) {
        return invalid(fmt::format("{}: metadata.name or metadata.generateName is required",
                                   type.displayName()));
      }
      name = fmt::format("{}{:05x}", prefix, (uids + 1) & 0xfffff);
      metadata["name"] = name;
    }
    if (!isDnsSubdomain(name)) {
      // As the apiserver: most kinds' names are DNS subdomains (Events and AuditRecords too), so a
      // name MC derives with an upper-case letter or a ':' fails here as it would there.
      return invalid(
          fmt::format("{}: metadata.name: Invalid value: \"{}\": a lowercase RFC 1123 "
                      "subdomain must consist of lower case alphanumeric characters, "
                      "'-' or '.'",
                      type.displayName(), name));
    }
    std::string objectNs = type.namespaced ? std::string(ns) : std::string();
    if (type.namespaced) {
      if (objectNs.empty()) {
        return invalid(fmt::format("{}: a namespace is required", quoted(type, name)));
      }
      auto given = stringAt(metadata, "namespace");
      if (!given.empty() && given != objectNs) {
        return makeError(ErrorKind::Invalid,
                         fmt::format("the namespace of the object ({}) does not match the "
                                     "namespace of the request ({})",
                                     given, objectNs),
                         400);
      }
      metadata["namespace"] = objectNs;
    }
    auto& store = objects[storeKey(type)];
    std::string key = objectKey(objectNs, name);
    if (store.count(key) != 0) {
      return makeError(ErrorKind::AlreadyExists, quoted(type, name) + " already exists", 409);
    }
    if (!keepStatus) {
      eraseStatus(object);
    }
    auto& meta = mutableMetadata(object);
    meta["uid"] = uidFor(++uids);
    meta["creationTimestamp"] = formatTime(clock.wallNow());
    meta["generation"] = 1;
    meta["resourceVersion"] = std::to_string(++version);
    meta.erase("deletionTimestamp");
    rememberKind(storeKey(type), object);
    auto& stored = store[key] = std::move(object);
    publishLocked({version, storeKey(type), WatchEventType::Added, std::nullopt, stored});
    return stored;
  }

  // Removes the object now: a DELETED event with the last state at a version of its own.
  json::object deleteLocked(const ResourceType& type, const std::string& key) {
    auto& store = objects[storeKey(type)];
    auto node = store.extract(key);
    json::object last = std::move(node.mapped());
    mutableMetadata(last)["resourceVersion"] = std::to_string(++version);
    publishLocked({version, storeKey(type), WatchEventType::Deleted, std::nullopt, last});
    return last;
  }

  // Stores `next` in place of `current` (with the immutable metadata kept): nothing if it
  // changes nothing, else a new version and a MODIFIED event; a deleting object whose last
  // finalizer went is deleted.
  json::object replaceLocked(const ResourceType& type, json::object& current, json::object next) {
    const auto* old = metadataOf(std::as_const(current));
    auto& meta = mutableMetadata(next);
    for (const char* field : {"uid", "creationTimestamp", "deletionTimestamp", "name", "namespace",
                              "resourceVersion"}) {
      if (const json::value* value = old ? old->if_contains(field) : nullptr) {
        meta[field] = *value;
      } else {
        meta.erase(field);
      }
    }
    int64_t generation = intAt(old, "generation", 1);
    meta["generation"] = specOf(current) == specOf(next) ? generation : generation + 1;
    if (next == current) {
      return current;  // the apiserver skips a write that changes nothing
    }
    meta["resourceVersion"] = std::to_string(++version);
    rememberKind(storeKey(type), next);
    json::object previous = std::exchange(current, std::move(next));
    publishLocked(
        {version, storeKey(type), WatchEventType::Modified, std::move(previous), current});
    json::object result = current;
    const auto* finalizers = arrayAt(metadataOf(std::as_const(current)), "finalizers");
    if (metadataOf(std::as_const(current))->contains("deletionTimestamp") &&
        (finalizers == nullptr || finalizers->empty())) {
      deleteLocked(type, objectKey(kube::namespaceOf(current), kube::nameOf(current)));
    }
    return result;
  }

  // The autoscaling/v1 Scale of an object.
  static json::object scaleOf(const json::object& object) {
    const auto* meta = metadataOf(object);
    json::object metadata;
    for (const char* field : {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (const json::value* value = meta ? meta->if_contains(field) : nullptr) {
        metadata[field] = *value;
      }
    }
    json::object spec;
    // autoscaling/v1 omits a spec.replicas of 0 (omitempty); status.replicas is always there.
    if (int64_t replicas = intAt(objectAt(object, "spec"), "replicas", 0); replicas != 0) {
      spec["replicas"] = replicas;
    }
    json::object status{{"replicas", intAt(objectAt(object, "status"), "replicas", 0)}};
    if (auto selector = stringAt(objectAt(object, "status"), "selector"); !selector.empty()) {
      status["selector"] = selector;
    }
    return {{"apiVersion", "autoscaling/v1"},
            {"kind", "Scale"},
            {"metadata", std::move(metadata)},
            {"spec", std::move(spec)},
            {"status", std::move(status)}};
  }

  // What a write to `subresource` of `current` makes of it, `written` being the object (or the
  // Scale) the client sent or the patch produced.
  static Result<json::object> merged(const ResourceType& type, const json::object& current,
                                     json::object written, std::string_view subresource) {
    if (subresource.empty()) {
      if (const auto* status = current.if_contains("status")) {
        written["status"] = *status;
      } else {
        eraseStatus(written);
      }
      return written;
    }
    json::object next = current;
    if (subresource == "status") {
      if (const auto* status = written.if_contains("status")) {
        next["status"] = *status;
      } else {
        eraseStatus(next);
      }
      return next;
    }
    if (subresource == "scale") {
      ensureObject(next, "spec")["replicas"] = intAt(objectAt(written, "spec"), "replicas", 0);
      return next;
    }
    return makeError(ErrorKind::NotFound,
                     fmt::format("{} has no subresource \"{}\"", type.displayName(), subresource),
                     404);
  }

  Result<json::object> writeLocked(const ResourceType& type, json::object& current,
                                   json::object written, std::string_view subresource,
                                   std::string_view name) {
    // A resourceVersion in what was written is a precondition (update, or a patch that sets it).
    std::string expected = kube::resourceVersionOf(written);
    if (!expected.empty() && expected != kube::resourceVersionOf(current)) {
      return conflict(type, name);
    }
    std::string writtenName = kube::nameOf(written);
    if (!writtenName.empty() && writtenName != name) {
      return makeError(ErrorKind::Invalid,
                       fmt::format("the name of the object ({}) does not match the name in the "
                                   "request ({})",
                                   writtenName, name),
                       400);
    }
    auto next = merged(type, current, std::move(written), subresource);
    if (!next) {
      return next.error();
    }
    auto stored = replaceLocked(type, current, std::move(*next));
    return subresource == "scale" ? scaleOf(stored) : stored;
  }
};

FakeApiServer::FakeApiServer(const Clock& clock, FakeApiServerOptions options)
    : state_(std::make_shared<State>(clock, options)) {}

FakeApiServer::~FakeApiServer() { dropWatches(false); }

FakeApiServer::Async<FakeApiServer::Object> FakeApiServer::get(const ResourceType& type,
                                                               std::string ns, std::string name,
                                                               std::string subresource) {
  if (auto failed = state_->enter(Verb::Get, resourceName(type, subresource))) {
    co_return *failed;
  }
  std::lock_guard lock(state_->mutex);
  const json::object* object = state_->findLocked(type, ns, name);
  if (object == nullptr) {
    co_return notFound(type, name);
  }
  if (subresource.empty() || subresource == "status") {
    co_return *object;
  }
  if (subresource == "scale") {
    co_return State::scaleOf(*object);
  }
  co_return makeError(ErrorKind::NotFound, "the server could not find the requested resource", 404);
}

FakeApiServer::Async<kube::ObjectList> FakeApiServer::list(const ResourceType& type, std::string ns,
                                                           kube::ListOptions options) {
  if (auto failed = state_->enter(Verb::List, type.resource)) {
    co_return *failed;
  }
  auto labels = LabelSelector::parse(options.labelSelector);
  if (!labels) {
    co_return labels.error();
  }
  auto fields = FieldSelector::parse(options.fieldSelector);
  if (!fields) {
    co_return fields.error();
  }
  std::lock_guard lock(state_->mutex);
  kube::ObjectList out;
  out.resourceVersion = std::to_string(state_->version);
  std::string after;
  if (!options.continueToken.empty()) {
    // "<version of the first page>/<key of the last object handed out>"
    auto slash = options.continueToken.find('/');
    if (slash == std::string::npos) {
      co_return makeError(ErrorKind::Invalid, "continue key is not valid", 400);
    }
    out.resourceVersion = options.continueToken.substr(0, slash);
    after = options.continueToken.substr(slash + 1);
  }
  std::string wantedNs = type.namespaced ? ns : std::string();
  auto store = state_->objects.find(storeKey(type));
  if (store == state_->objects.end()) {
    co_return out;
  }
  auto it = after.empty() ? store->second.begin() : store->second.upper_bound(after);
  for (; it != store->second.end(); ++it) {
    const auto& object = it->second;
    if ((!wantedNs.empty() && kube::namespaceOf(object) != wantedNs) ||
        !labels->matches(objectAt(metadataOf(object), "labels")) || !fields->matches(object)) {
      continue;
    }
    if (options.limit > 0 && static_cast<int64_t>(out.items.size()) == options.limit) {
      out.continueToken = fmt::format(
          "{}/{}", out.resourceVersion,
          objectKey(kube::namespaceOf(out.items.back()), kube::nameOf(out.items.back())));
      break;
    }
    out.items.push_back(object);
  }
  co_return out;
}

FakeApiServer::Async<FakeApiServer::Object> FakeApiServer::create(const ResourceType& type,
                                                                  std::string ns, Object object) {
  std::string resource = resourceName(type, "");
  if (auto failed = state_->beforeWrite(Verb::Create, resource, ns, kube::nameOf(object))) {
    co_return *failed;
  }
  Result<Object> created = makeError(ErrorKind::Terminal, "not run");
  {
    std::lock_guard lock(state_->mutex);
    created = state_->createLocked(type, ns, std::move(object), false);
  }
  if (created) {
    state_->countWrite(Verb::Create, resource);
  }
  co_return created;
}

FakeApiServer::Async<FakeApiServer::Object> FakeApiServer::update(const ResourceType& type,
                                                                  std::string ns, Object object,
                                                                  std::string subresource) {
  std::string resource = resourceName(type, subresource);
  std::string name = kube::nameOf(object);
  if (name.empty()) {
    co_return makeError(ErrorKind::Invalid, "update: metadata.name is not set");
  }
  if (auto failed = state_->beforeWrite(Verb::Update, resource, ns, name)) {
    co_return *failed;
  }
  Result<Object> updated = makeError(ErrorKind::Terminal, "not run");
  {
    std::lock_guard lock(state_->mutex);
    json::object* current = state_->findLocked(type, ns, name);
    if (current == nullptr) {
      updated = notFound(type, name);
    } else {
      updated = state_->writeLocked(type, *current, std::move(object), subresource, name);
    }
  }
  if (updated) {
    state_->countWrite(Verb::Update, resource);
  }
  co_return updated;
}

FakeApiServer::Async<FakeApiServer::Object> FakeApiServer::patch(const ResourceType& type,
                                                                 std::string ns, std::string name,
                                                                 kube::PatchType patchType,
                                                                 std::string body,
                                                                 kube::PatchOptions options) {
  std::string resource = resourceName(type, options.subresource);
  if (auto failed = state_->beforeWrite(Verb::Patch, resource, ns, name)) {
    co_return *failed;
  }
  if (patchType == kube::PatchType::Apply) {
    co_return invalid("the fake apiserver does not support server-side apply");
  }
  boost::system::error_code ec;
  json::parse_options parseOptions;
  parseOptions.max_depth = 512;  // as KubeClient parses: objects nest deeper than 32
  json::value parsed = json::parse(body, ec, {}, parseOptions);
  if (ec) {
    co_return invalid(fmt::format("the patch is not JSON: {}", ec.message()));
  }
  if (patchType != kube::PatchType::Json && !parsed.is_object()) {
    co_return invalid("a merge patch is a JSON object");
  }
  Result<Object> patched = makeError(ErrorKind::Terminal, "not run");
  {
    std::lock_guard lock(state_->mutex);
    json::object* current = state_->findLocked(type, ns, name);
    if (current == nullptr) {
      co_return notFound(type, name);
    }
    json::value document =
        options.subresource == "scale" ? json::value(State::scaleOf(*current)) : *current;
    if (patchType == kube::PatchType::Json) {
      auto applied = applyJsonPatch(document, parsed);
      if (!applied) {
        co_return applied.error();
      }
      document = std::move(*applied);
    } else {
      applyMergePatch(document, parsed);
    }
    if (!document.is_object()) {
      co_return invalid("the patched object is not an object");
    }
    patched = state_->writeLocked(type, *current, std::move(document.as_object()),
                                  options.subresource, name);
  }
  if (patched) {
    state_->countWrite(Verb::Patch, resource);
  }
  co_return patched;
}

FakeApiServer::Async<void> FakeApiServer::remove(const ResourceType& type, std::string ns,
                                                 std::string name, kube::DeleteOptions options) {
  std::string resource = resourceName(type, "");
  if (auto failed = state_->beforeWrite(Verb::Delete, resource, ns, name)) {
    co_return *failed;
  }
  {
    std::lock_guard lock(state_->mutex);
    json::object* current = state_->findLocked(type, ns, name);
    if (current == nullptr) {
      co_return notFound(type, name);
    }
    if (!options.preconditionUid.empty() && options.preconditionUid != kube::uidOf(*current)) {
      co_return makeError(ErrorKind::Conflict,
                          fmt::format("Precondition failed: UID in precondition: {}, UID in "
                                      "object meta: {}",
                                      options.preconditionUid, kube::uidOf(*current)),
                          409);
    }
    if (!options.preconditionResourceVersion.empty() &&
        options.preconditionResourceVersion != kube::resourceVersionOf(*current)) {
      co_return makeError(
          ErrorKind::Conflict,
          fmt::format("Precondition failed: ResourceVersion in precondition: {}, "
                      "ResourceVersion in object meta: {}",
                      options.preconditionResourceVersion, kube::resourceVersionOf(*current)),
          409);
    }
    const json::object& stored = *current;
    const auto* finalizers = arrayAt(metadataOf(stored), "finalizers");
    if (finalizers != nullptr && !finalizers->empty()) {
      // Held by its finalizers: marked now, deleted once the last one is removed.
      if (!metadataOf(stored)->contains("deletionTimestamp")) {
        json::object previous = stored;
        auto& meta = mutableMetadata(*current);
        meta["deletionTimestamp"] = formatTime(state_->clock.wallNow());
        meta["resourceVersion"] = std::to_string(++state_->version);
        state_->publishLocked({state_->version, storeKey(type), WatchEventType::Modified,
                               std::move(previous), *current});
      }
    } else {
      state_->deleteLocked(type, objectKey(type.namespaced ? ns : "", name));
    }
  }
  state_->countWrite(Verb::Delete, resource);
  co_return Result<void>();
}

FakeApiServer::Async<std::string> FakeApiServer::watch(
    const ResourceType& type, std::string ns, kube::WatchOptions options,
    std::function<void(kube::WatchEvent&&)> onEvent, std::shared_ptr<http::StreamCancel> cancel) {
  // The coroutine holds the state, not the fake: a fake destroyed mid-watch ends it safely.
  std::shared_ptr<State> state = state_;
  if (auto failed = state->enter(Verb::Watch, type.resource)) {
    co_return *failed;
  }
  auto labels = LabelSelector::parse(options.labelSelector);
  if (!labels) {
    co_return labels.error();
  }
  auto fields = FieldSelector::parse(options.fieldSelector);
  if (!fields) {
    co_return fields.error();
  }
  int timeout = options.timeoutSeconds > 0 ? options.timeoutSeconds : 1800;
  const auto deadline = state->clock.now() + std::chrono::seconds(timeout);
  auto executor = co_await asio::this_coro::executor;
  auto watcher = std::make_shared<Watcher>();
  watcher->store = storeKey(type);
  watcher->ns = type.namespaced ? ns : std::string();
  watcher->labels = std::move(*labels);
  watcher->fields = std::move(*fields);
  watcher->timer = std::make_shared<asio::steady_timer>(executor);
  std::string lastVersion = options.resourceVersion;
  {
    std::lock_guard lock(state->mutex);
    if (options.resourceVersion.empty() || options.resourceVersion == "0") {
      // From "now" (or any version): the current objects as ADDED, then what changes.
      auto store = state->objects.find(watcher->store);
      if (store != state->objects.end()) {
        for (const auto& [key, object] : store->second) {
          if (watcher->matches(object)) {
            watcher->pending.push_back({WatchEventType::Added, object});
          }
        }
      }
    } else {
      uint64_t from = 0;
      const auto& text = options.resourceVersion;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), from);
      if (ec != std::errc() || end != text.data() + text.size()) {
        co_return makeError(ErrorKind::Invalid, fmt::format("invalid resourceVersion \"{}\"", text),
                            400);
      }
      if (from < state->floor) {
        ++state->gone;
        co_return makeError(ErrorKind::Gone,
                            fmt::format("too old resource version: {} ({})", from, state->floor),
                            410);
      }
      for (const auto& entry : state->history) {
        if (entry.version > from) {
          if (auto event = watcher->eventFor(entry)) {
            watcher->pending.push_back(std::move(*event));
          }
        }
      }
    }
    state->watchers.push_back(watcher);
  }
  // Unregisters on every way out, the coroutine's frame destroyed while suspended included.
  struct Registration {
    std::shared_ptr<State> state;
    std::shared_ptr<Watcher> watcher;
    ~Registration() {
      std::lock_guard lock(state->mutex);
      std::erase(state->watchers, watcher);
    }
  } registration{state, watcher};

  enum class End { None, Dropped, Cancelled, TimedOut };
  for (;;) {
    std::deque<WatchEvent> batch;
    End end = End::None;
    {
      std::lock_guard lock(state->mutex);
      batch.swap(watcher->pending);
      if (watcher->ended) {
        end = End::Dropped;
      } else if (cancel && cancel->cancelled()) {
        end = End::Cancelled;
      } else if (state->clock.now() >= deadline) {
        end = End::TimedOut;
        std::erase(state->watchers, watcher);  // no event slips in after the bookmark
        if (options.allowBookmarks) {
          auto [apiVersion, kind] = state->kinds[watcher->store];
          batch.push_back(
              {WatchEventType::Bookmark,
               json::object{{"apiVersion", apiVersion},
                            {"kind", kind},
                            {"metadata", {{"resourceVersion", std::to_string(state->version)}}}}});
        }
      }
    }
    if (end == End::Cancelled) {
      co_return makeError(ErrorKind::Terminal, "stream cancelled");
    }
    for (auto& event : batch) {
      if (auto version = kube::resourceVersionOf(event.object); !version.empty()) {
        lastVersion = std::move(version);
      }
      onEvent(std::move(event));
    }
    if (end != End::None) {
      co_return lastVersion;
    }
    watcher->timer->expires_after(state->options.watchTick);
    co_await watcher->timer->async_wait(kNoThrow);
  }
}

FakeApiServer::Async<boost::json::value> FakeApiServer::getPath(std::string path) {
  if (auto failed = state_->enter(Verb::Get, path)) {
    co_return *failed;
  }
  if (path == "/version") {
    co_return json::value{{"major", "1"},
                          {"minor", "30"},
                          {"gitVersion", "v1.30.0-mc-fake"},
                          {"platform", "linux/amd64"}};
  }
  co_return makeError(ErrorKind::NotFound, "the server could not find the requested resource", 404);
}

void FakeApiServer::failNext(Verb verb, std::string resource, int times, Error error) {
  std::lock_guard lock(state_->mutex);
  state_->failures.push_back({verb, std::move(resource), times, std::move(error)});
}

void FakeApiServer::setWriteHook(WriteHook hook) {
  std::lock_guard lock(state_->mutex);
  state_->hook = std::move(hook);
}

void FakeApiServer::setCallHook(CallHook hook) {
  std::lock_guard lock(state_->mutex);
  state_->callHook = std::move(hook);
}

void FakeApiServer::dropWatches(bool compactHistory) {
  std::lock_guard lock(state_->mutex);
  for (const auto& watcher : state_->watchers) {
    watcher->ended = true;
    watcher->wake();
  }
  state_->watchers.clear();
  if (compactHistory) {
    // Every version handed out so far is gone; lists answer a newer one to watch from.
    state_->history.clear();
    state_->floor = ++state_->version;
  }
}

int FakeApiServer::writes(Verb verb, std::string_view resource) const {
  std::lock_guard lock(state_->mutex);
  int total = 0;
  for (const auto& [key, count] : state_->writeCounts) {
    if (key.first == verb && covers(resource, key.second)) {
      total += count;
    }
  }
  return total;
}

int FakeApiServer::writes(std::string_view resource) const {
  int total = 0;
  for (Verb verb : {Verb::Create, Verb::Update, Verb::Patch, Verb::Delete}) {
    total += writes(verb, resource);
  }
  return total;
}

int FakeApiServer::calls(Verb verb, std::string_view resource) const {
  std::lock_guard lock(state_->mutex);
  int total = 0;
  for (const auto& [key, count] : state_->callCounts) {
    if (key.first == verb && covers(resource, key.second)) {
      total += count;
    }
  }
  return total;
}

int FakeApiServer::goneAnswers() const {
  std::lock_guard lock(state_->mutex);
  return state_->gone;
}

int FakeApiServer::openWatches() const {
  std::lock_guard lock(state_->mutex);
  return static_cast<int>(state_->watchers.size());
}

std::string FakeApiServer::resourceVersion() const {
  std::lock_guard lock(state_->mutex);
  return std::to_string(state_->version);
}

FakeApiServer::Object FakeApiServer::put(const ResourceType& type, Object object) {
  std::string name = kube::nameOf(object);
  if (name.empty()) {
    throw std::invalid_argument("FakeApiServer::put: metadata.name is not set");
  }
  std::string ns = type.namespaced ? kube::namespaceOf(object) : std::string();
  std::lock_guard lock(state_->mutex);
  json::object* current = state_->findLocked(type, ns, name);
  if (current == nullptr) {
    auto created = state_->createLocked(type, ns, std::move(object), true);
    if (!created) {
      throw std::invalid_argument("FakeApiServer::put: " + created.error().describe());
    }
    return *created;
  }
  mutableMetadata(object).erase("resourceVersion");
  return state_->replaceLocked(type, *current, std::move(object));
}

std::optional<FakeApiServer::Object> FakeApiServer::read(const ResourceType& type,
                                                         std::string_view ns,
                                                         std::string_view name) const {
  std::lock_guard lock(state_->mutex);
  const json::object* object = state_->findLocked(type, ns, name);
  return object ? std::optional<Object>(*object) : std::nullopt;
}

std::vector<FakeApiServer::Object> FakeApiServer::items(const ResourceType& type,
                                                        std::string_view ns,
                                                        std::string_view labelSelector) const {
  std::vector<Object> out;
  auto labels = LabelSelector::parse(labelSelector);
  if (!labels) {
    return out;
  }
  std::lock_guard lock(state_->mutex);
  auto store = state_->objects.find(storeKey(type));
  if (store == state_->objects.end()) {
    return out;
  }
  for (const auto& [key, object] : store->second) {
    if ((ns.empty() || kube::namespaceOf(object) == ns) &&
        labels->matches(objectAt(metadataOf(object), "labels"))) {
      out.push_back(object);
    }
  }
  return out;
}

Result<FakeApiServer::Object> FakeApiServer::editStatus(
    const ResourceType& type, std::string_view ns, std::string_view name,
    const std::function<void(json::object& status)>& edit) {
  std::lock_guard lock(state_->mutex);
  json::object* current = state_->findLocked(type, ns, name);
  if (current == nullptr) {
    return notFound(type, name);
  }
  json::object next = *current;
  edit(ensureObject(next, "status"));
  return state_->replaceLocked(type, *current, std::move(next));
}

Result<void> FakeApiServer::erase(const ResourceType& type, std::string_view ns,
                                  std::string_view name) {
  std::lock_guard lock(state_->mutex);
  if (state_->findLocked(type, ns, name) == nullptr) {
    return notFound(type, name);
  }
  state_->deleteLocked(type, objectKey(type.namespaced ? ns : "", name));
  return {};
}

}  // namespace mc::test
