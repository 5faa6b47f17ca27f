#include "mc/runtime/leader_election.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

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

std::string specString(const json::object& lease, std::string_view key) {
  auto* spec = lease.if_contains("spec");
  auto* value = spec && spec->is_object() ? spec->as_object().if_contains(key) : nullptr;
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

int64_t specInt(const json::object& lease, std::string_view key) {
  auto* spec = lease.if_contains("spec");
  auto* value = spec && spec->is_object() ? spec->as_object().if_contains(key) : nullptr;
  return value && value->is_int64() ? value->as_int64() : 0;
}

int64_t seconds(std::chrono::milliseconds duration) {
  return std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

}  // namespace

std::string defaultIdentity() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  std::random_device random;
  return fmt::format("{}_{:08x}", host, random());
}

LeaderElector::LeaderElector(Client& client, LeaderElectionOptions options, const Clock& clock)
    : client_(client), options_(std::move(options)), clock_(clock) {
  if (options_.identity.empty()) {
    options_.identity = defaultIdentity();
  }
}

void LeaderElector::stop() {
  stopped_ = true;
  if (auto timer = std::static_pointer_cast<asio::steady_timer>(timer_)) {
    asio::post(timer->get_executor(), [timer] { timer->cancel(); });
  }
}

asio::awaitable<void> LeaderElector::sleep(std::chrono::milliseconds duration) {
  auto timer = std::static_pointer_cast<asio::steady_timer>(timer_);
  if (!timer) {
    auto executor = co_await asio::this_coro::executor;
    timer = std::make_shared<asio::steady_timer>(executor);
    timer_ = timer;
  }
  if (stopped_) {
    co_return;
  }
  timer->expires_after(duration);
  co_await timer->async_wait(kNoThrow);
}

asio::awaitable<LeaderElector::Attempt> LeaderElector::tryAcquireOrRenew() {
  auto nowWall = formatMicroTime(clock_.wallNow());
  auto current = co_await client_.get(resources::kLeases, options_.ns, options_.name);
  if (!current) {
    if (current.error().kind != ErrorKind::NotFound) {
      spdlog::warn("leader election: reading Lease {}/{}: {}", options_.ns, options_.name,
                   current.error().describe());
      co_return Attempt::Failed;
    }
    json::object lease{{"apiVersion", "coordination.k8s.io/v1"},
                       {"kind", "Lease"},
                       {"metadata", {{"name", options_.name}, {"namespace", options_.ns}}},
                       {"spec",
                        {{"holderIdentity", options_.identity},
                         {"leaseDurationSeconds", seconds(options_.leaseDuration)},
                         {"acquireTime", nowWall},
                         {"renewTime", nowWall},
                         {"leaseTransitions", 0}}}};
    auto created = co_await client_.create(resources::kLeases, options_.ns, std::move(lease));
    if (created) {
      observedHolder_ = options_.identity;
      observedRenewTime_ = nowWall;
      observedAt_ = clock_.now();
      co_return Attempt::Acquired;
    }
    co_return created.error().kind == ErrorKind::AlreadyExists ? Attempt::HeldByOther
                                                               : Attempt::Failed;
  }

  auto holder = specString(*current, "holderIdentity");
  auto renewTime = specString(*current, "renewTime");
  if (holder != observedHolder_ || renewTime != observedRenewTime_) {
    observedHolder_ = holder;
    observedRenewTime_ = renewTime;
    observedAt_ = clock_.now();
  }
  int64_t durationSeconds = specInt(*current, "leaseDurationSeconds");
  auto duration = std::chrono::seconds(durationSeconds > 0 ? durationSeconds : 1);
  bool heldByOther =
      !holder.empty() && holder != options_.identity && clock_.now() < observedAt_ + duration;
  if (heldByOther) {
    co_return Attempt::HeldByOther;
  }

  auto lease = std::move(*current);
  auto& spec =
      lease["spec"].is_object() ? lease["spec"].as_object() : lease["spec"].emplace_object();
  if (holder != options_.identity) {
    spec["acquireTime"] = nowWall;
    spec["leaseTransitions"] = specInt(lease, "leaseTransitions") + (holder.empty() ? 0 : 1);
  }
  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = seconds(options_.leaseDuration);
  spec["renewTime"] = nowWall;
  // The resourceVersion in `lease` makes this a compare-and-swap: a Conflict means another
  // candidate wrote first.
  auto updated = co_await client_.update(resources::kLeases, options_.ns, std::move(lease));
  if (!updated) {
    if (updated.error().kind != ErrorKind::Conflict) {
      spdlog::warn("leader election: updating Lease {}/{}: {}", options_.ns, options_.name,
                   updated.error().describe());
    }
    co_return updated.error().kind == ErrorKind::Conflict ? Attempt::HeldByOther : Attempt::Failed;
  }
  observedHolder_ = options_.identity;
  observedRenewTime_ = nowWall;
  observedAt_ = clock_.now();
  co_return Attempt::Acquired;
}

asio::awaitable<void> LeaderElector::release() {
  auto current = co_await client_.get(resources::kLeases, options_.ns, options_.name);
  if (!current || specString(*current, "holderIdentity") != options_.identity) {
    co_return;
  }
  auto lease = std::move(*current);
  auto& spec = lease["spec"].as_object();
  spec["holderIdentity"] = "";
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = formatMicroTime(clock_.wallNow());
  auto updated = co_await client_.update(resources::kLeases, options_.ns, std::move(lease));
  if (updated) {
    spdlog::info("leader election: released Lease {}/{}", options_.ns, options_.name);
  } else {
    spdlog::warn("leader election: releasing Lease {}/{}: {}", options_.ns, options_.name,
                 updated.error().describe());
  }
}

asio::awaitable<LeadershipEnd> LeaderElector::run(std::function<void()> onStartedLeading) {
  std::mt19937 random{std::random_device{}()};
  auto jittered = [&](std::chrono::milliseconds base) {
    std::uniform_real_distribution<double> jitter(1.0, 1.2);
    return std::chrono::milliseconds(static_cast<int64_t>(base.count() * jitter(random)));
  };
  spdlog::info("leader election: {} campaigning for Lease {}/{}", options_.identity, options_.ns,
               options_.name);
  while (!stopped_) {
    if (co_await tryAcquireOrRenew() == Attempt::Acquired) {
      break;
    }
    co_await sleep(jittered(options_.retryPeriod));
  }
  if (stopped_) {
    co_return LeadershipEnd::Released;
  }
  leader_ = true;
  spdlog::info("leader election: {} is the leader", options_.identity);
  if (onStartedLeading) {
    onStartedLeading();
  }
  auto lastRenew = clock_.now();
  while (!stopped_) {
    co_await sleep(options_.retryPeriod);
    if (stopped_) {
      break;
    }
    if (co_await tryAcquireOrRenew() == Attempt::Acquired) {
      lastRenew = clock_.now();
      continue;
    }
    if (clock_.now() - lastRenew >= options_.renewDeadline) {
      leader_ = false;
      spdlog::error("leader election: {} lost the Lease {}/{} (no renewal for {} ms)",
                    options_.identity, options_.ns, options_.name, options_.renewDeadline.count());
      co_return LeadershipEnd::Lost;
    }
  }
  co_await release();
  leader_ = false;
  co_return LeadershipEnd::Released;
}

}  // namespace mc::kube
