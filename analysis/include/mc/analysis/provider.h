#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/analysis/observation.h"
#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/crds/analysis.h"
#include "mc/runtime/kube_client.h"

// A metric provider asks one source (Prometheus today) for one metric's value. Each provider
// lives in a folder of its own under analysis/providers/, reads its own block of a metric's
// `provider` ({"prometheus": {...}}), and is registered by one line in src/providers.cc.
namespace mc::analysis {

class MetricProvider {
 public:
  virtual ~MetricProvider() = default;

  // What it asked in its last measurement (before the first: what it will ask), arguments
  // substituted, for the run's status; the first is the one whose value is judged.
  virtual std::vector<crds::MetricQuery> queries() const = 0;
  // One measurement. Never throws; a failure to ask is an Error observation, never a value.
  virtual boost::asio::awaitable<Observation> measure() = 0;
};

using MetricProviderPtr = std::unique_ptr<MetricProvider>;

// What providers may use: the kube client (for Secrets), the executor their I/O runs on, and
// the clock (how old the canary is).
struct ProviderDeps {
  kube::Client& client;
  boost::asio::any_io_executor executor;
  const Clock& clock = systemClock();
};

// The run a provider measures for: its namespace (where Secrets are read) and its arguments
// (MC's own among them: canary-hash, canary-started-at, ...).
struct RunScope {
  std::string ns;
  std::vector<crds::AnalysisArg> args;

  // The argument's value; nullopt when the run has no such argument or it has no value.
  std::optional<std::string> arg(std::string_view name) const;
};

struct ProviderRegistration {
  std::string_view kind;  // the key of its block in `provider`
  // Parses `block` for a run; Invalid naming the field under `path`
  // ("spec.metrics[0].provider.prometheus").
  Result<MetricProviderPtr> (*make)(ProviderDeps& deps, const RunScope& run,
                                    const boost::json::object& block, const std::string& path);
  // Whether `block` can be measured for `run`, without asking anything: the same Invalid
  // `make` would give, before a run is made of it.
  Result<void> (*check)(const boost::json::object& block, const RunScope& run,
                        const std::string& path);
  // The success condition a metric of this block has when it gives none (a built-in's
  // threshold); nullopt: the metric must give one.
  std::optional<crds::SuccessCondition> (*defaultCondition)(const boost::json::object& block);
};

// The provider of a metric's `provider` object (exactly one kind in it); Invalid naming the
// field when the kind is unknown or its block is wrong.
Result<MetricProviderPtr> makeProvider(ProviderDeps& deps, const RunScope& run,
                                       const boost::json::object& provider,
                                       const std::string& path);

// Whether a metric's `provider` object can be measured for `run`; Invalid naming the field.
Result<void> checkProvider(const RunScope& run, const boost::json::object& provider,
                           const std::string& path);

// The metric's success condition: its own, else its provider's default; nullopt when neither
// has a bound.
std::optional<crds::SuccessCondition> effectiveCondition(const crds::Metric& metric);

}  // namespace mc::analysis
