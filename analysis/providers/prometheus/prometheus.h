#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "builders.h"
#include "mc/analysis/provider.h"
#include "mc/runtime/http.h"

// The Prometheus provider: instant queries (POST /api/v1/query) through the runtime's HTTP
// client, one per measurement for a query, several for the built-ins. docs/analysis.md says
// what each answer is and what each built-in asks.
namespace mc::analysis::prometheus {

// A query whose one value is judged.
struct Query {
  std::string query;
};

// An alert expression (failWhenPresent): any series is a breach; none passes only when the
// guard reads above 0.
struct Alert {
  std::string query;
  std::string guard;
};

using Check = std::variant<Query, Alert, ErrorRate, Latency, SloBurn>;

// A metric's `provider.prometheus` block, read for one run.
struct Config {
  std::string address;  // http(s)://host:port[/prefix]
  Check check;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::string secretName;  // "": no credentials; else token | username+password, ca.crt
  // From the run's canary-started-at: sloBurn reads no further back than this.
  std::optional<std::chrono::system_clock::time_point> canaryStartedAt;
};

// Invalid naming the field under `path` when the block is wrong, or when a built-in's run
// has no canary-hash argument to select the canary's series by.
Result<Config> parseConfig(const boost::json::object& block, const RunScope& run,
                           const std::string& path);

// One series of an answer: its labels as PromQL writes them ({code="500"}) and its value
// (a matrix series' last sample; a scalar is one series without labels).
struct Sample {
  std::string labels;
  double value = 0;
};

// The series of an answer of the query API, or an Error (a non-200 status, status "error", a
// body that is not the API's JSON) whose message says which. Pure.
Result<std::vector<Sample>> parseSamples(const http::Response& response);

// What an answer says when one value is wanted: the value, Inconclusive (no series, several)
// or Error. Pure.
Observation oneValue(const Result<std::vector<Sample>>& samples);
Observation parseResponse(const http::Response& response);

ProviderRegistration registration();

}  // namespace mc::analysis::prometheus
