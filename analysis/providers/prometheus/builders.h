#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// The built-in analyses' PromQL and arithmetic, as pure functions: what MC asks Prometheus for
// errorRate, latency and sloBurn, and how a burn rate is judged. docs/analysis.md shows each
// query; tests/analysis/builders_test.cc has them for their parameters, and
// tests/integration/builders_promtool_test.cc has Prometheus itself parse every one.
namespace mc::analysis::prometheus {

using Seconds = std::chrono::seconds;

// Which series are the canary's: those whose `hashLabel` is its pod-template hash, and that
// match the user's `matchers` (PromQL as written inside braces; may be empty).
struct CanarySelector {
  std::string hashLabel = "pod_template_hash";
  std::string hash;
  std::string matchers;
};

struct ErrorRate {
  std::string metric = "http_requests_total";
  std::string codeLabel = "code";
  Seconds window{60};
  CanarySelector canary;
};

struct Latency {
  std::string metric = "http_request_duration_seconds";  // a histogram: _bucket, _count
  double quantile = 0.95;
  Seconds window{60};
  int32_t minRequests = 20;
  CanarySelector canary;
};

struct BurnWindows {
  Seconds longWindow;
  Seconds shortWindow;
  double maxBurnRate = 0;
};

struct SloBurn {
  std::string metric = "http_requests_total";
  std::string codeLabel = "code";
  double objective = 99.9;  // percent
  std::vector<BurnWindows> pairs;
  CanarySelector canary;
};

// A duration as PromQL writes it: 90s -> "1m30s", 3600s -> "1h".
std::string promDuration(Seconds duration);

// {hashLabel="hash", extra..., matchers}: `extra` is one more matcher or empty.
std::string selectorOf(const CanarySelector& canary, std::string_view extra = {});

// The fraction of the canary's requests answered 5xx over `window`. The numerator falls back
// to 0 (a healthy canary has no 5xx series at all); the denominator has no fallback, so no
// traffic is an empty result or NaN, never 0 %.
std::string errorRatioQuery(const std::string& metric, const std::string& codeLabel,
                            const CanarySelector& canary, Seconds window);
std::string errorRateQuery(const ErrorRate& check);

// histogram_quantile of the canary's buckets, and the requests the window counted.
std::string latencyQuery(const Latency& check);
std::string requestCountQuery(const Latency& check);
// "p95", "p99", "p99.9": the quantile as people name it.
std::string quantileName(double quantile);
// The requests a quantile needs to mean anything: 1 / (1 - q), rounded up (20 for 0.95).
int32_t defaultMinRequests(double quantile);

// The named pairs of windows: "workbook" (the SRE workbook's 14.4x over 1h/5m and 6x over
// 6h/30m) and "runbook" (10x over 1h/5m, 2x over 6h/30m); empty for another name.
std::vector<BurnWindows> burnPreset(std::string_view name);

// How many times faster than the objective allows the budget burns: the error ratio over
// the error budget (1 - objective).
double burnRate(double errorRatio, double objectivePercent);

// The burn of one pair's two windows. It breaches when both burn above maxBurnRate; its
// severity is the lower of the two over maxBurnRate, so above 1 is a breach.
struct PairBurn {
  BurnWindows windows;
  double longBurn = 0;
  double shortBurn = 0;

  double severity() const;
  bool breaches() const { return severity() > 1; }
};

// The value of an sloBurn measurement: the highest severity of its pairs.
double worstSeverity(const std::vector<PairBurn>& pairs);

// The window a query reads when the canary is only `age` old: the window itself, or when the
// canary is younger, its age (whole seconds, at least a minute, never more than the window).
Seconds readableWindow(Seconds window, Seconds age);

}  // namespace mc::analysis::prometheus
