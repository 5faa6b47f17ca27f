#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "mc/analysis/observation.h"
#include "mc/common/error.h"
#include "mc/runtime/kube_client.h"

// A metric provider asks one source (Prometheus today) for one metric's value. Each provider
// lives in a folder of its own under analysis/providers/, reads its own block of a metric's
// `provider` ({"prometheus": {...}}), and is registered by one line in src/providers.cc.
namespace mc::analysis {

class MetricProvider {
 public:
  virtual ~MetricProvider() = default;

  // What it asks, for the run's status ("the PromQL as run").
  virtual std::string query() const = 0;
  // One measurement. Never throws; a failure to ask is an Error observation, never a value.
  virtual boost::asio::awaitable<Observation> measure() = 0;
};

using MetricProviderPtr = std::unique_ptr<MetricProvider>;

// What providers may use: the kube client (for Secrets) and the executor their I/O runs on.
struct ProviderDeps {
  kube::Client& client;
  boost::asio::any_io_executor executor;
};

struct ProviderRegistration {
  std::string_view kind;  // the key of its block in `provider`
  // Parses `block` for a run in namespace `ns`; Invalid naming the field under `path`
  // ("spec.metrics[0].provider.prometheus").
  Result<MetricProviderPtr> (*make)(ProviderDeps& deps, const std::string& ns,
                                    const boost::json::object& block, const std::string& path);
};

// The provider of a metric's `provider` object (exactly one kind in it); Invalid naming the
// field when the kind is unknown or its block is wrong.
Result<MetricProviderPtr> makeProvider(ProviderDeps& deps, const std::string& ns,
                                       const boost::json::object& provider,
                                       const std::string& path);

}  // namespace mc::analysis
