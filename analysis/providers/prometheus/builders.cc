#include "builders.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace mc::analysis::prometheus {

std::string promDuration(Seconds duration) {
  int64_t left = duration.count();
  if (left <= 0) {
    return "0s";
  }
  std::string out;
  for (auto [unit, size] : {std::pair{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}}) {
    if (left >= size) {
      out += fmt::format("{}{}", left / size, unit);
      left %= size;
    }
  }
  return out;
}

std::string selectorOf(const CanarySelector& canary, std::string_view extra) {
  std::string out = fmt::format("{{{}=\"{}\"", canary.hashLabel, canary.hash);
  if (!extra.empty()) {
    out += fmt::format(", {}", extra);
  }
  if (!canary.matchers.empty()) {
    out += fmt::format(", {}", canary.matchers);
  }
  return out + "}";
}

std::string errorRatioQuery(const std::string& metric, const std::string& codeLabel,
                            const CanarySelector& canary, Seconds window) {
  const std::string range = promDuration(window);
  return fmt::format("(sum(rate({0}{1}[{3}])) or vector(0)) / sum(rate({0}{2}[{3}]))", metric,
                     selectorOf(canary, fmt::format("{}=~\"5..\"", codeLabel)), selectorOf(canary),
                     range);
}

std::string errorRateQuery(const ErrorRate& check) {
  return errorRatioQuery(check.metric, check.codeLabel, check.canary, check.window);
}

std::string latencyQuery(const Latency& check) {
  return fmt::format("histogram_quantile({}, sum by (le) (rate({}_bucket{}[{}])))", check.quantile,
                     check.metric, selectorOf(check.canary), promDuration(check.window));
}

std::string requestCountQuery(const Latency& check) {
  return fmt::format("sum(increase({}_count{}[{}]))", check.metric, selectorOf(check.canary),
                     promDuration(check.window));
}

std::string quantileName(double quantile) { return fmt::format("p{:g}", quantile * 100); }

int32_t defaultMinRequests(double quantile) {
  // The small epsilon keeps 1 / (1 - 0.95) = 20.000000000000004 at 20.
  return static_cast<int32_t>(std::ceil(1 / (1 - quantile) - 1e-9));
}

std::vector<BurnWindows> burnPreset(std::string_view name) {
  using std::chrono::hours;
  using std::chrono::minutes;
  if (name == "workbook") {
    return {{hours(1), minutes(5), 14.4}, {hours(6), minutes(30), 6}};
  }
  if (name == "runbook") {
    return {{hours(1), minutes(5), 10}, {hours(6), minutes(30), 2}};
  }
  return {};
}

double burnRate(double errorRatio, double objectivePercent) {
  return errorRatio / (1 - objectivePercent / 100);
}

double PairBurn::severity() const { return std::min(longBurn, shortBurn) / windows.maxBurnRate; }

double worstSeverity(const std::vector<PairBurn>& pairs) {
  double worst = 0;
  for (const auto& pair : pairs) {
    worst = std::max(worst, pair.severity());
  }
  return worst;
}

Seconds readableWindow(Seconds window, Seconds age) {
  if (age >= window) {
    return window;
  }
  return std::min(window, std::max(age, Seconds(60)));
}

}  // namespace mc::analysis::prometheus
