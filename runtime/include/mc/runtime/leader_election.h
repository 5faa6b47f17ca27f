#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "mc/common/clock.h"
#include "mc/runtime/kube_client.h"

namespace mc::kube {

struct LeaderElectionOptions {
  std::string ns;
  std::string name = "mc-operator-leader";
  std::string identity;  // host name + random suffix; see defaultIdentity()
  std::chrono::milliseconds leaseDuration{std::chrono::seconds(15)};
  std::chrono::milliseconds renewDeadline{std::chrono::seconds(10)};
  std::chrono::milliseconds retryPeriod{std::chrono::seconds(2)};
};

std::string defaultIdentity();

enum class LeadershipEnd {
  Lost,      // could not renew within renewDeadline: stop reconciling at once
  Released,  // stop() asked for it, and the Lease was handed back
};

// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it:
// a candidate takes the Lease when it is free or its holder has not renewed it for a whole
// leaseDuration (timed on this candidate's clock from when the record last changed, so clocks
// need not agree); the leader renews every retryPeriod and gives up when renewals fail for
// renewDeadline. Writes use the Lease's resourceVersion, so two candidates cannot both win.
// run() and stop() belong to one executor; isLeader() may be read from any thread.
class LeaderElector {
 public:
  LeaderElector(Client& client, LeaderElectionOptions options, const Clock& clock = systemClock());

  // Campaigns until elected, calls onStartedLeading, then renews until lost or stopped.
  boost::asio::awaitable<LeadershipEnd> run(std::function<void()> onStartedLeading);
  // Ends run(): if leading, releases the Lease (holder cleared) so a standby takes over at once.
  void stop();
  bool isLeader() const { return leader_; }
  const std::string& identity() const { return options_.identity; }

 private:
  enum class Attempt { Acquired, HeldByOther, Failed };
  boost::asio::awaitable<Attempt> tryAcquireOrRenew();
  boost::asio::awaitable<void> release();
  boost::asio::awaitable<void> sleep(std::chrono::milliseconds duration);

  Client& client_;
  LeaderElectionOptions options_;
  const Clock& clock_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopped_{false};
  // What we last saw of the Lease, and when (on our clock) it last changed.
  std::string observedHolder_;
  std::string observedRenewTime_;
  Clock::TimePoint observedAt_{};
  std::shared_ptr<void> timer_;
};

}  // namespace mc::kube
