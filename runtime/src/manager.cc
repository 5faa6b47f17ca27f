#include "mc/runtime/manager.h"

#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <thread>

namespace mc::kube {
namespace {
namespace asio = boost::asio;
}

struct Manager::State {
  std::atomic<bool> stopping{false};
  std::atomic<int> exitCode{0};
  std::atomic<int> controllersRunning{0};
  std::atomic<bool> electionDone{false};
  prometheus::Gauge* leader = nullptr;
};

Manager::Manager(asio::io_context& io, Client& client, ManagerOptions options,
                 std::shared_ptr<prometheus::Registry> registry)
    : io_(io),
      client_(client),
      options_(std::move(options)),
      registry_(std::move(registry)),
      state_(std::make_shared<State>()) {
  state_->leader = &prometheus::BuildGauge()
                        .Name("mc_leader")
                        .Help("1 while this process is the leader (and so reconciles)")
                        .Register(*registry_)
                        .Add({});
  if (options_.leaderElection) {
    elector_ = std::make_unique<LeaderElector>(client_, *options_.leaderElection);
  }
  if (options_.events.reportingInstance.empty()) {
    options_.events.reportingInstance = elector_ ? elector_->identity() : defaultIdentity();
  }
  events_ = std::make_unique<EventRecorder>(client_, options_.events);
}

Manager::~Manager() = default;

Result<void> Manager::bind() {
  auto metrics = http::HttpServer::bind(io_.get_executor(), options_.metricsAddress);
  if (!metrics) {
    return metrics.error();
  }
  auto health = http::HttpServer::bind(io_.get_executor(), options_.healthAddress);
  if (!health) {
    return health.error();
  }
  metrics_ = std::move(*metrics);
  health_ = std::move(*health);
  metrics_->route("/metrics", [registry = registry_](const http::Request&) {
    return http::Response{200,
                          {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}},
                          prometheus::TextSerializer().Serialize(registry->Collect())};
  });
  health_->route("/healthz", [](const http::Request&) { return http::Response{200, {}, "ok\n"}; });
  health_->route("/readyz", [this](const http::Request&) {
    for (const auto& [name, check] : readyChecks_) {
      if (!check()) {
        return http::Response{503, {}, "not ready: " + name + "\n"};
      }
    }
    for (const auto& controller : controllers_) {
      if (!controller->synced()) {
        return http::Response{503, {}, "caches not synced: " + controller->name() + "\n"};
      }
    }
    if (elector_ && !elector_->isLeader()) {
      // A standby is healthy and ready to take over; it just does not reconcile.
      return http::Response{200, {}, "ok (standby)\n"};
    }
    return http::Response{200, {}, "ok\n"};
  });
  metrics_->start();
  health_->start();
  return {};
}

void Manager::addReadyCheck(std::string name, std::function<bool()> check) {
  readyChecks_.emplace_back(std::move(name), std::move(check));
}

unsigned short Manager::metricsPort() const { return metrics_ ? metrics_->port() : 0; }
unsigned short Manager::healthPort() const { return health_ ? health_->port() : 0; }

void Manager::add(std::unique_ptr<Controller> controller) {
  controllers_.push_back(std::move(controller));
}

void Manager::stop() {
  if (state_->stopping.exchange(true)) {
    return;
  }
  spdlog::info("stopping: controllers finish their reconciles{}",
               elector_ ? ", then the Lease is released" : "");
  for (auto& controller : controllers_) {
    controller->stop();
  }
  if (elector_) {
    elector_->stop();
  }
  events_->stop();
}

int Manager::run() {
  if (!metrics_ && !bind()) {
    return 1;
  }
  ++state_->controllersRunning;  // the event recorder, which flushes its queue on stop
  asio::co_spawn(io_, events_->run(),
                 [state = state_](std::exception_ptr) { --state->controllersRunning; });

  auto startControllers = [this] {
    state_->leader->Set(1);
    for (auto& controller : controllers_) {
      ++state_->controllersRunning;
      asio::co_spawn(io_, controller->run(),
                     [state = state_](std::exception_ptr) { --state->controllersRunning; });
    }
  };
  if (elector_) {
    asio::co_spawn(io_, elector_->run(startControllers),
                   [this](std::exception_ptr, LeadershipEnd end) {
                     state_->leader->Set(0);
                     if (end == LeadershipEnd::Lost) {
                       // Another process may lead by now: not one more reconcile here.
                       state_->exitCode = 1;
                       stop();
                     }
                     state_->electionDone = true;
                   });
  } else {
    state_->electionDone = true;
    startControllers();
  }

  asio::signal_set signals(io_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (!ec) {
      spdlog::info("received signal {}", signal);
      stop();
    }
  });

  // Watch for the end: stopping requested, controllers done, Lease released.
  auto deadline = std::make_shared<std::optional<std::chrono::steady_clock::time_point>>();
  auto ticker = std::make_shared<asio::steady_timer>(io_);
  std::function<void()> tick = [&, ticker, deadline] {
    if (state_->stopping) {
      if (!*deadline) {
        *deadline = std::chrono::steady_clock::now() + options_.shutdownTimeout;
      }
      bool done = state_->controllersRunning == 0 && (!elector_ || state_->electionDone);
      if (done || std::chrono::steady_clock::now() > **deadline) {
        if (!done) {
          spdlog::error("shutdown did not finish within {} s", options_.shutdownTimeout.count());
          state_->exitCode = 1;
        }
        metrics_->stop();
        health_->stop();
        signals.cancel();
        io_.stop();
        return;
      }
    }
    ticker->expires_after(std::chrono::milliseconds(50));
    ticker->async_wait([&tick](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };
  tick();

  std::vector<std::thread> threads;
  for (int i = 1; i < options_.threads; ++i) {
    threads.emplace_back([this] { io_.run(); });
  }
  io_.run();
  for (auto& thread : threads) {
    thread.join();
  }
  return state_->exitCode;
}

}  // namespace mc::kube
