#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mc/runtime/controller.h"
#include "mc/runtime/events.h"
#include "mc/runtime/http_server.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/leader_election.h"

namespace prometheus {
class Registry;
}

namespace mc::kube {

struct ManagerOptions {
  std::string metricsAddress = ":8080";
  std::string healthAddress = ":8081";
  std::optional<LeaderElectionOptions> leaderElection;  // none: always lead
  std::chrono::seconds shutdownTimeout{15};
  // Threads running the io_context. One for now: the client, informers and controllers share
  // it without strands; CPU-heavy work (signature checks) will get a pool of its own.
  int threads = 1;
  EventRecorderOptions events;
};

// Runs MC's controllers, its HTTP endpoints (/metrics, /healthz, /readyz: ready once every
// controller's caches synced) and leader election. Controllers start only once this process
// leads. SIGTERM/SIGINT stop the controllers (in-flight reconciles finish), release the Lease and
// return within shutdownTimeout; a lost Lease stops reconciling at once and run() returns 1.
class Manager {
 public:
  Manager(boost::asio::io_context& io, Client& client, ManagerOptions options,
          std::shared_ptr<prometheus::Registry> registry);
  ~Manager();

  // Binds and starts serving the endpoints (so a taken port fails before anything starts, and
  // probes get answers while the process is still connecting).
  Result<void> bind();
  // /readyz fails, naming `name`, while `check` is false. Before bind().
  void addReadyCheck(std::string name, std::function<bool()> check);
  void add(std::unique_ptr<Controller> controller);
  EventRecorder& events() { return *events_; }
  unsigned short metricsPort() const;
  unsigned short healthPort() const;

  // Blocks until a signal (or stop()); returns the process exit code: 0 after a clean stop,
  // 1 if leadership was lost or shutdown timed out.
  int run();
  void stop();  // from any thread, like a signal

 private:
  struct State;
  boost::asio::io_context& io_;
  Client& client_;
  ManagerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  std::vector<std::pair<std::string, std::function<bool()>>> readyChecks_;
  http::HttpServerPtr metrics_;
  http::HttpServerPtr health_;
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<EventRecorder> events_;
  std::shared_ptr<State> state_;
};

}  // namespace mc::kube
