#include "mc/runtime/controller.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>

#include "mc/runtime/logging.h"

namespace mc::kube {
namespace {

namespace asio = boost::asio;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr auto kIdleWait = std::chrono::minutes(10);

}  // namespace

struct Controller::Metrics {
  prometheus::Family<prometheus::Counter>* reconciles = nullptr;
  prometheus::Histogram* duration = nullptr;
  prometheus::Gauge* depth = nullptr;
  prometheus::Counter* adds = nullptr;
  prometheus::Counter* retries = nullptr;
  uint64_t addsSeen = 0;
  uint64_t retriesSeen = 0;
  std::mutex mutex;

  Metrics(prometheus::Registry& registry, const std::string& name) {
    reconciles = &prometheus::BuildCounter()
                      .Name("mc_reconcile_total")
                      .Help("Reconciles by controller and result")
                      .Register(registry);
    duration = &prometheus::BuildHistogram()
                    .Name("mc_reconcile_duration_seconds")
                    .Help("Time of one reconcile, by controller")
                    .Register(registry)
                    .Add({{"controller", name}},
                         prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.025, 0.05,
                                                                 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
    depth = &prometheus::BuildGauge()
                 .Name("mc_workqueue_depth")
                 .Help("Keys waiting to be reconciled, by queue")
                 .Register(registry)
                 .Add({{"name", name}});
    adds = &prometheus::BuildCounter()
                .Name("mc_workqueue_adds_total")
                .Help("Keys added to a work queue")
                .Register(registry)
                .Add({{"name", name}});
    retries = &prometheus::BuildCounter()
                   .Name("mc_workqueue_retries_total")
                   .Help("Rate-limited re-adds (retries) to a work queue")
                   .Register(registry)
                   .Add({{"name", name}});
  }

  // The queue counts; the counters follow by the difference since last time.
  void sync(const WorkQueue& queue) {
    std::lock_guard lock(mutex);
    auto addsNow = queue.addsTotal();
    auto retriesNow = queue.retriesTotal();
    adds->Increment(static_cast<double>(addsNow - addsSeen));
    retries->Increment(static_cast<double>(retriesNow - retriesSeen));
    addsSeen = addsNow;
    retriesSeen = retriesNow;
    depth->Set(static_cast<double>(queue.size()));
  }
};

// Timers of idle workers; the queue's ready listener (any thread) wakes them.
struct Controller::Wakeups {
  std::mutex mutex;
  std::vector<std::shared_ptr<asio::steady_timer>> idle;

  void wakeAll() {
    std::lock_guard lock(mutex);
    for (const auto& timer : idle) {
      asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
  }
};

Controller::Controller(std::string name, Client& client, ResourceType primary,
                       std::string primaryKind, std::string ns, Reconciler& reconciler,
                       ControllerOptions options, const Clock& clock)
    : name_(std::move(name)),
      client_(client),
      primaryKind_(std::move(primaryKind)),
      ns_(std::move(ns)),
      reconciler_(reconciler),
      options_(std::move(options)),
      clock_(clock),
      queue_(clock, options_.queue),
      wakeups_(std::make_shared<Wakeups>()) {
  options_.informer.registry = options_.registry;
  informers_.push_back(
      std::make_unique<Informer>(client_, std::move(primary), ns_, options_.informer));
  auto enqueue = [this](const ObjectPtr& object) { queue_.add(keyOf(*object)); };
  informers_.front()->addHandler({
      .onAdd = enqueue,
      .onUpdate = [enqueue](const ObjectPtr&, const ObjectPtr& current) { enqueue(current); },
      .onDelete = [enqueue](const ObjectPtr& object, bool) { enqueue(object); },
  });
  if (options_.registry) {
    metrics_ = std::make_unique<Metrics>(*options_.registry, name_);
  }
  queue_.setReadyListener([wakeups = wakeups_] { wakeups->wakeAll(); });
}

Controller::~Controller() {
  stop();
  queue_.setReadyListener({});
}

Informer& Controller::watchOwned(ResourceType type, InformerOptions options) {
  options.registry = options_.registry;
  auto informer = std::make_unique<Informer>(client_, std::move(type), ns_, std::move(options));
  informer->addHandler({
      .onAdd = [this](const ObjectPtr& object) { enqueueOwner(*object); },
      .onUpdate =
          [this](const ObjectPtr& previous, const ObjectPtr& current) {
            // A change of owner concerns both the old and the new one.
            enqueueOwner(*previous);
            enqueueOwner(*current);
          },
      .onDelete = [this](const ObjectPtr& object, bool) { enqueueOwner(*object); },
  });
  informers_.push_back(std::move(informer));
  return *informers_.back();
}

Informer& Controller::watchCached(ResourceType type, InformerOptions options) {
  options.registry = options_.registry;
  std::string ns = type.namespaced ? ns_ : std::string();
  informers_.push_back(
      std::make_unique<Informer>(client_, std::move(type), ns, std::move(options)));
  return *informers_.back();
}

void Controller::enqueueOwner(const boost::json::object& object) {
  auto controller = controllerOf(object);
  std::string owner = controller && controller->kind == primaryKind_ ? controller->name : "";
  if (!owner.empty()) {
    auto ns = namespaceOf(object);
    queue_.add(ns.empty() ? owner : ns + "/" + owner);
  }
}

Informer* Controller::informerFor(const ResourceType& type) {
  for (auto& informer : informers_) {
    const auto& t = informer->type();
    if (t.group == type.group && t.version == type.version && t.resource == type.resource) {
      return informer.get();
    }
  }
  return nullptr;
}

bool Controller::synced() const {
  for (const auto& informer : informers_) {
    if (!informer->hasSynced()) {
      return false;
    }
  }
  return true;
}

void Controller::stop() {
  if (stopped_.exchange(true)) {
    return;
  }
  for (auto& informer : informers_) {
    informer->stop();
  }
  queue_.shutDown();
  wakeups_->wakeAll();
}

asio::awaitable<void> Controller::processOne(const std::string& key) {
  auto slash = key.find('/');
  ReconcileRequest request;
  request.ns = slash == std::string::npos ? std::string() : key.substr(0, slash);
  request.name = slash == std::string::npos ? key : key.substr(slash + 1);
  request.reconcileId = fmt::format("{:x}", ++reconcileCounter_);
  request.log =
      logging::Logger({{"controller", name_}, {"key", key}, {"reconcileID", request.reconcileId}});
  const auto& log = request.log;
  auto started = std::chrono::steady_clock::now();
  Result<ReconcileResult> result = makeError(ErrorKind::Terminal, "not run");
  try {
    result = co_await reconciler_.reconcile(request);
  } catch (const std::exception& e) {
    // A bug must not take the controller down; the key is retried with backoff.
    result = makeError(ErrorKind::Terminal, fmt::format("reconcile threw: {}", e.what()));
  }
  std::string outcome;
  if (!result) {
    outcome = "error";
    log.warn("reconcile failed: {}", result.error().describe());
    queue_.addRateLimited(key);
  } else if (result->requeueAfter.count() > 0) {
    outcome = "requeue_after";
    queue_.forget(key);
    queue_.addAfter(key, result->requeueAfter);
  } else if (result->requeue) {
    outcome = "requeue";
    queue_.addRateLimited(key);
  } else {
    outcome = "success";
    queue_.forget(key);
  }
  queue_.done(key);
  if (metrics_) {
    metrics_->reconciles->Add({{"controller", name_}, {"result", outcome}}).Increment();
    metrics_->duration->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    metrics_->sync(queue_);
  }
}

asio::awaitable<void> Controller::worker(int) {
  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  while (!stopped_) {
    if (auto key = queue_.tryGet()) {
      co_await processOne(*key);
      continue;
    }
    {
      std::lock_guard lock(wakeups_->mutex);
      wakeups_->idle.push_back(timer);
    }
    // Re-check after registering: a key that became ready in between woke nobody.
    auto next = queue_.nextReadyAt();
    auto wait = next ? std::chrono::duration_cast<std::chrono::nanoseconds>(*next - clock_.now())
                     : std::chrono::nanoseconds(kIdleWait);
    if (queue_.size() == 0 && wait.count() > 0 && !stopped_) {
      timer->expires_after(wait);
      co_await timer->async_wait(kNoThrow);
    }
    std::lock_guard lock(wakeups_->mutex);
    std::erase(wakeups_->idle, timer);
  }
}

asio::awaitable<void> Controller::run() {
  auto executor = co_await asio::this_coro::executor;
  for (auto& informer : informers_) {
    asio::co_spawn(executor, informer->run(), asio::detached);
  }
  logging::Logger log({{"controller", name_}});
  asio::steady_timer timer(executor);
  while (!synced() && !stopped_) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(kNoThrow);
  }
  if (stopped_) {
    co_return;
  }
  log.info("caches synced; starting {} workers", options_.workers);
  auto running = std::make_shared<std::atomic<int>>(options_.workers);
  auto allDone =
      std::make_shared<asio::steady_timer>(executor, asio::steady_timer::time_point::max());
  for (int i = 0; i < options_.workers; ++i) {
    asio::co_spawn(executor, worker(i), [running, allDone](std::exception_ptr) {
      if (--*running == 0) {
        // Expiring in the past also ends a wait that has not started yet.
        asio::post(allDone->get_executor(),
                   [allDone] { allDone->expires_at(asio::steady_timer::time_point::min()); });
      }
    });
  }
  co_await allDone->async_wait(kNoThrow);
  log.info("stopped");
}

}  // namespace mc::kube
