#include "mc/runtime/events.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <random>

#include "mc/common/timefmt.h"

namespace mc::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string aggregationKey(const ObjectReference& ref, EventType type, const std::string& reason,
                           const std::string& action, const std::string& note) {
  return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}",
                     ref.uid.empty() ? ref.ns + "/" + ref.name : ref.uid,
                     type == EventType::Warning ? "W" : "N", reason, action, note, ref.kind);
}

// Unique enough for an Event name: the object's name and a random suffix, as client-go does.
std::string eventName(const std::string& regardingName) {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  return fmt::format("{}.{:016x}", regardingName, random());
}

std::string truncateNote(std::string note) {
  constexpr size_t kMaxNoteBytes = 1024;  // the apiserver rejects longer notes
  if (note.size() > kMaxNoteBytes) {
    note.resize(kMaxNoteBytes - 3);
    note += "...";
  }
  return note;
}

}  // namespace

ObjectReference ObjectReference::of(const json::object& object) {
  auto text = [&](std::string_view key) {
    auto* value = object.if_contains(key);
    return value && value->is_string() ? std::string(value->as_string()) : std::string();
  };
  return ObjectReference{text("apiVersion"), text("kind"), namespaceOf(object), nameOf(object),
                         uidOf(object)};
}

EventRecorder::EventRecorder(Client& client, EventRecorderOptions options, const Clock& clock)
    : client_(client),
      options_(std::move(options)),
      clock_(clock),
      bucket_(options_.qps, options_.burst, clock) {}

void EventRecorder::record(const ObjectReference& regarding, EventType type, std::string reason,
                           std::string action, std::string note) {
  std::shared_ptr<asio::steady_timer> wake;
  {
    std::lock_guard lock(mutex_);
    if (stopped_ || pending_.size() >= options_.maxPending) {
      ++dropped_;
      return;
    }
    pending_.push_back({regarding, type, std::move(reason), std::move(action),
                        truncateNote(std::move(note)), clock_.wallNow()});
    wake = std::static_pointer_cast<asio::steady_timer>(wake_);
  }
  if (wake) {
    asio::post(wake->get_executor(), [wake] { wake->cancel(); });
  }
}

void EventRecorder::stop() {
  std::shared_ptr<asio::steady_timer> wake;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    wake = std::static_pointer_cast<asio::steady_timer>(wake_);
  }
  if (wake) {
    asio::post(wake->get_executor(), [wake] { wake->cancel(); });
  }
}

asio::awaitable<void> EventRecorder::run() {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  {
    std::lock_guard lock(mutex_);
    wake_ = timer;
  }
  for (;;) {
    std::optional<Pending> next;
    {
      std::lock_guard lock(mutex_);
      if (!pending_.empty()) {
        next = std::move(pending_.front());
        pending_.pop_front();
      } else if (stopped_) {
        break;
      }
    }
    if (!next) {
      timer->expires_after(std::chrono::seconds(30));
      co_await timer->async_wait(kNoThrow);
      continue;
    }
    if (auto wait = bucket_.reserve(); wait.count() > 0 && !stopped_) {
      timer->expires_after(wait);
      co_await timer->async_wait(kNoThrow);
    }
    co_await write(std::move(*next));
  }
  std::lock_guard lock(mutex_);
  wake_.reset();
}

asio::awaitable<void> EventRecorder::write(Pending pending) {
  static const ResourceType kEvents = resources::kEvents;
  auto key =
      aggregationKey(pending.regarding, pending.type, pending.reason, pending.action, pending.note);
  auto now = formatMicroTime(pending.at);
  auto it = series_.find(key);
  if (it != series_.end() && pending.at - it->second.firstAt < options_.seriesWindow) {
    // A repeat: count it on the existing Event instead of writing a new one.
    auto& series = it->second;
    json::object patch{{"series", {{"count", series.count + 1}, {"lastObservedTime", now}}}};
    auto body = json::serialize(patch);
    auto patched = co_await client_.patch(kEvents, series.ns, series.eventName, PatchType::Merge,
                                          std::move(body));
    if (patched) {
      ++series.count;
      ++written_;
      co_return;
    }
    if (patched.error().kind != ErrorKind::NotFound) {
      ++dropped_;
      spdlog::warn("event {} on {}/{} not recorded: {}", pending.reason, pending.regarding.ns,
                   pending.regarding.name, patched.error().describe());
      co_return;
    }
    series_.erase(it);  // the Event expired (TTL): start a new one
  }
  auto ns = pending.regarding.ns.empty() ? std::string("default") : pending.regarding.ns;
  auto name = eventName(pending.regarding.name);
  auto event = eventObject(pending.regarding, pending.type, name, ns, now, pending.reason,
                           pending.action, pending.note);
  auto created = co_await client_.create(kEvents, ns, std::move(event));
  if (!created) {
    ++dropped_;
    spdlog::warn("event {} on {}/{} not recorded: {}", pending.reason, pending.regarding.ns,
                 pending.regarding.name, created.error().describe());
    co_return;
  }
  ++written_;
  if (series_.size() > 4096) {
    std::erase_if(series_, [&](const auto& entry) {
      return pending.at - entry.second.firstAt >= options_.seriesWindow;
    });
  }
  series_[key] = Series{name, ns, 1, pending.at};
}

json::object EventRecorder::eventObject(const ObjectReference& about, EventType type,
                                        const std::string& name, const std::string& ns,
                                        const std::string& now, const std::string& reason,
                                        const std::string& action, const std::string& note) const {
  json::object regarding{
      {"apiVersion", about.apiVersion}, {"kind", about.kind}, {"name", about.name}};
  if (!about.ns.empty()) regarding["namespace"] = about.ns;
  if (!about.uid.empty()) regarding["uid"] = about.uid;
  return json::object{{"apiVersion", "events.k8s.io/v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", name}, {"namespace", ns}}},
                      {"eventTime", now},
                      {"reportingController", options_.reportingController},
                      {"reportingInstance", options_.reportingInstance},
                      {"action", action},
                      {"reason", reason},
                      {"note", note},
                      {"type", type == EventType::Warning ? "Warning" : "Normal"},
                      {"regarding", std::move(regarding)}};
}

boost::asio::awaitable<Result<void>> EventRecorder::recordDecision(ObjectReference regarding,
                                                                   EventType type, std::string name,
                                                                   std::string reason,
                                                                   std::string action,
                                                                   std::string note) {
  auto ns = regarding.ns.empty() ? std::string("default") : regarding.ns;
  auto now = formatMicroTime(clock_.wallNow());
  auto event = eventObject(regarding, type, name, ns, now, reason, action, note);
  auto created = co_await client_.create(resources::kEvents, ns, std::move(event));
  if (!created && created.error().kind != ErrorKind::AlreadyExists) {
    co_return created.error();
  }
  if (created) {
    ++written_;
  }
  co_return Result<void>();
}

}  // namespace mc::kube
