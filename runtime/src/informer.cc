#include "mc/runtime/informer.h"

#include <fmt/format.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <unordered_set>

namespace mc::kube {
namespace {

namespace asio = boost::asio;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

}  // namespace

// Timers that stop() cancels; guarded because stop() may come from another thread.
// Shared pointers, so a cancel posted just as a wait ends finds its timer still alive.
struct Informer::Timers {
  std::mutex mutex;
  std::vector<std::shared_ptr<asio::steady_timer>> active;

  std::shared_ptr<asio::steady_timer> make(asio::any_io_executor executor) {
    auto timer = std::make_shared<asio::steady_timer>(executor);
    std::lock_guard lock(mutex);
    active.push_back(timer);
    return timer;
  }
  void remove(const std::shared_ptr<asio::steady_timer>& timer) {
    std::lock_guard lock(mutex);
    std::erase(active, timer);
  }
  void cancelAll() {
    std::lock_guard lock(mutex);
    for (const auto& timer : active) {
      asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
  }
};

void stripManagedFields(boost::json::object& object) {
  if (auto* metadata = object.if_contains("metadata"); metadata && metadata->is_object()) {
    metadata->as_object().erase("managedFields");
  }
}

Informer::Informer(Client& client, ResourceType type, std::string ns, InformerOptions options)
    : client_(client),
      type_(std::move(type)),
      namespace_(std::move(ns)),
      options_(std::move(options)),
      cancel_(std::make_shared<http::StreamCancel>()),
      timers_(std::make_unique<Timers>()) {
  store_.addIndex(std::string(kOwnerUidIndex), indexByOwnerUid());
  if (options_.registry) {
    gauge_ = &prometheus::BuildGauge()
                  .Name("mc_informer_objects")
                  .Help("Objects in an informer's cache, by resource")
                  .Register(*options_.registry)
                  .Add({{"resource", type_.displayName()}});
  }
}

Informer::~Informer() = default;

void Informer::addHandler(EventHandler handler) { handlers_.push_back(std::move(handler)); }

void Informer::notify(const std::function<void(const EventHandler&)>& call) {
  for (const auto& handler : handlers_) {
    // A handler that throws must not end the informer: log it and go on.
    try {
      call(handler);
    } catch (const std::exception& e) {
      spdlog::error("informer {}: an event handler threw: {}", type_.displayName(), e.what());
    }
  }
}

void Informer::stop() {
  stopped_ = true;
  cancel_->cancel();
  timers_->cancelAll();
}

void Informer::updateGauge() {
  if (gauge_ != nullptr) {
    gauge_->Set(static_cast<double>(store_.size()));
  }
}

asio::awaitable<void> Informer::backoff(std::chrono::milliseconds& delay) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = timers_->make(executor);
  timer->expires_after(delay);
  if (!stopped_) {
    co_await timer->async_wait(kNoThrow);
  }
  timers_->remove(timer);
  delay = std::min(delay * 2, options_.maxBackoff);
}

// Lists everything and brings the cache (and the handlers) in line with it.
asio::awaitable<bool> Informer::relist(std::string& resourceVersion, bool consistent) {
  ListOptions listOptions{options_.labelSelector, options_.fieldSelector};
  // "0": any cached version, served whole from the apiserver's watch cache (fast, as client-go's
  // first list); after 410 Gone the list must be consistent ("": the latest, from etcd).
  if (!consistent) {
    listOptions.resourceVersion = "0";
  }
  auto listed =
      co_await client_.listAll(type_, namespace_, std::move(listOptions), options_.pageSize);
  if (!listed) {
    spdlog::warn("informer {}: list failed: {}", type_.displayName(), listed.error().describe());
    co_return false;
  }
  ++lists_;
  std::unordered_set<std::string> seen;
  seen.reserve(listed->items.size());
  for (auto& item : listed->items) {
    if (options_.transform) {
      options_.transform(item);
    }
    auto object = std::make_shared<const boost::json::object>(std::move(item));
    seen.insert(keyOf(*object));
    auto previous = store_.upsert(object);
    notify([&](const EventHandler& handler) {
      if (!previous) {
        if (handler.onAdd) handler.onAdd(object);
      } else if (resourceVersionOf(*previous) != resourceVersionOf(*object)) {
        if (handler.onUpdate) handler.onUpdate(previous, object);
      }
    });
  }
  listed->items.clear();
  // Whatever the cache has that the list does not was deleted while we were not watching.
  for (const auto& object : store_.list()) {
    auto key = keyOf(*object);
    if (seen.count(key) == 0) {
      store_.erase(key);
      notify([&](const EventHandler& handler) {
        if (handler.onDelete) handler.onDelete(object, true);
      });
    }
  }
  resourceVersion = std::move(listed->resourceVersion);
  updateGauge();
  synced_ = true;
  co_return true;
}

void Informer::apply(WatchEvent&& event) {
  switch (event.type) {
    case WatchEventType::Added:
    case WatchEventType::Modified: {
      if (options_.transform) {
        options_.transform(event.object);
      }
      auto object = std::make_shared<const boost::json::object>(std::move(event.object));
      auto previous = store_.upsert(object);
      notify([&](const EventHandler& handler) {
        if (previous) {
          if (handler.onUpdate) handler.onUpdate(previous, object);
        } else if (handler.onAdd) {
          handler.onAdd(object);
        }
      });
      break;
    }
    case WatchEventType::Deleted: {
      store_.erase(keyOf(event.object));
      if (options_.transform) {
        options_.transform(event.object);
      }
      auto object = std::make_shared<const boost::json::object>(std::move(event.object));
      notify([&](const EventHandler& handler) {
        if (handler.onDelete) handler.onDelete(object, false);
      });
      break;
    }
    case WatchEventType::Bookmark:
    case WatchEventType::Error:
      break;
  }
  updateGauge();
}

asio::awaitable<void> Informer::run() {
  auto delay = options_.minBackoff;
  std::string resourceVersion;
  bool consistent = false;
  while (!stopped_) {
    if (!co_await relist(resourceVersion, consistent)) {
      co_await backoff(delay);
      continue;
    }
    delay = options_.minBackoff;
    while (!stopped_) {
      WatchOptions watchOptions;
      watchOptions.resourceVersion = resourceVersion;
      watchOptions.labelSelector = options_.labelSelector;
      watchOptions.fieldSelector = options_.fieldSelector;
      watchOptions.timeoutSeconds = options_.watchTimeoutSeconds;
      bool eventsSeen = false;
      spdlog::debug("informer {}: watching from {}", type_.displayName(), resourceVersion);
      auto ended = co_await client_.watch(
          type_, namespace_, std::move(watchOptions),
          [&](WatchEvent&& event) {
            eventsSeen = true;
            // Resume from here if the watch breaks: nothing before it is replayed.
            if (auto version = resourceVersionOf(event.object); !version.empty()) {
              resourceVersion = std::move(version);
            }
            apply(std::move(event));
          },
          cancel_);
      if (stopped_) {
        break;
      }
      if (ended) {
        resourceVersion = std::move(*ended);  // the server closed it (timeout): resume
        delay = options_.minBackoff;
        continue;
      }
      if (ended.error().kind == ErrorKind::Gone) {
        spdlog::info("informer {}: resourceVersion {} expired, relisting", type_.displayName(),
                     resourceVersion);
        consistent = true;
        break;
      }
      spdlog::warn("informer {}: watch failed: {}; retrying", type_.displayName(),
                   ended.error().describe());
      if (eventsSeen) {
        delay = options_.minBackoff;
      }
      co_await backoff(delay);
    }
  }
}

}  // namespace mc::kube
