#include "mc/analysis/evaluator.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "mc/analysis/provider.h"
#include "mc/common/duration.h"
#include "mc/common/timefmt.h"
#include "mc/crds/names.h"

namespace mc::analysis {
namespace {

namespace phase = crds::analysis;

Result<std::chrono::milliseconds> durationAt(const std::string& text, const std::string& field) {
  auto parsed = parseDuration(text);
  if (!parsed) {
    return fieldError(field, fmt::format("\"{}\" is not a duration (e.g. 30s, 1m30s)", text));
  }
  return *parsed;
}

// Measurements that got an answer; Errors are retried and do not count towards `count`.
int32_t answered(const crds::MetricResult& result) {
  return result.successful + result.failed + result.inconclusive;
}

std::string bound(const crds::SuccessCondition& condition) {
  if (condition.min && condition.max) {
    return fmt::format("[{}, {}]", formatValue(*condition.min), formatValue(*condition.max));
  }
  if (condition.max) {
    return fmt::format("max {}", formatValue(*condition.max));
  }
  return fmt::format("min {}", formatValue(condition.min.value_or(0)));
}

// Why the metric has its phase, for people: the last measurement and the limit it crossed.
std::string metricMessage(const MetricPolicy& p, const crds::MetricResult& r) {
  std::string last = r.measurements.empty() ? "" : r.measurements.back().message;
  if (r.phase == phase::kFailed) {
    return fmt::format("{} ({} failed, failureLimit {})", last, r.failed, p.failureLimit);
  }
  if (r.phase == phase::kError) {
    return fmt::format("{} ({} errors in a row, consecutiveErrorLimit {})", last,
                       r.consecutiveErrors, p.consecutiveErrorLimit);
  }
  if (r.phase == phase::kInconclusive) {
    if (r.inconclusive <= p.inconclusiveLimit) {
      return fmt::format("none of {} measurements passed", answered(r));
    }
    return fmt::format("{} ({} inconclusive, inconclusiveLimit {})", last, r.inconclusive,
                       p.inconclusiveLimit);
  }
  std::string of =
      p.count ? fmt::format("{}/{}", answered(r), *p.count) : std::to_string(answered(r));
  return last.empty() ? fmt::format("{} measured", of)
                      : fmt::format("{} measured; last: {}", of, last);
}

int rank(std::string_view phase) {
  // The run takes the worst phase among its metrics.
  if (phase == phase::kFailed) return 5;
  if (phase == phase::kError) return 4;
  if (phase == phase::kInconclusive) return 3;
  if (phase == phase::kRunning) return 2;
  if (phase == phase::kPending) return 1;
  return 0;  // Successful
}

}  // namespace

Result<MetricPolicy> policyOf(const crds::Metric& metric, const std::string& path) {
  MetricPolicy p;
  p.name = metric.name;
  if (metric.interval) {
    auto interval = durationAt(*metric.interval, path + ".interval");
    if (!interval) {
      return interval.error();
    }
    p.interval = *interval;
  }
  if (metric.initialDelay) {
    auto delay = durationAt(*metric.initialDelay, path + ".initialDelay");
    if (!delay) {
      return delay.error();
    }
    p.initialDelay = *delay;
  }
  p.count = metric.count;
  if (!p.count && !p.interval) {
    p.count = 1;
  }
  if (p.count && *p.count < 1) {
    return fieldError(path + ".count", "must be at least 1");
  }
  p.failureLimit = metric.failureLimit.value_or(0);
  p.inconclusiveLimit = metric.inconclusiveLimit.value_or(0);
  p.consecutiveErrorLimit = metric.consecutiveErrorLimit.value_or(4);
  p.dryRun = metric.dryRun.value_or(false);
  auto condition = effectiveCondition(metric);
  if (!condition) {
    return fieldError(path + ".successCondition",
                      "needs min or max (only the built-ins have a default)");
  }
  p.successCondition = *condition;
  return p;
}

crds::Measurement judge(const Observation& observation,
                        const crds::SuccessCondition& successCondition, WallTime startedAt,
                        WallTime finishedAt) {
  crds::Measurement m;
  m.startedAt = formatMicroTime(startedAt);
  m.finishedAt = formatMicroTime(finishedAt);
  if (observation.kind == Observation::Kind::Error) {
    m.phase = phase::kError;
    m.message = observation.message;
    return m;
  }
  if (observation.kind == Observation::Kind::Inconclusive) {
    m.phase = phase::kInconclusive;
    m.message = observation.message;
    return m;
  }
  const double value = observation.value;
  m.value = formatValue(value);
  if (!std::isfinite(value)) {
    m.phase = phase::kInconclusive;
    m.message =
        fmt::format("value {}: nothing to judge (a ratio over no traffic is NaN)", *m.value);
    return m;
  }
  // The message rounds for people (0.1529 > max 0.05); the value keeps every digit.
  const std::string shown = fmt::format("{:.4g}", value);
  const auto& c = successCondition;
  if (c.max && value > *c.max) {
    m.phase = phase::kFailed;
    m.message = fmt::format("{} > max {}", shown, formatValue(*c.max));
  } else if (c.min && value < *c.min) {
    m.phase = phase::kFailed;
    m.message = fmt::format("{} < min {}", shown, formatValue(*c.min));
  } else {
    m.phase = phase::kSuccessful;
    m.message = fmt::format("{} within {}", shown, bound(c));
  }
  if (!observation.message.empty()) {
    m.message += "; " + observation.message;
  }
  return m;
}

void record(const MetricPolicy& policy, crds::MetricResult& result, crds::Measurement measurement) {
  ++result.count;
  if (measurement.phase == phase::kError) {
    ++result.error;
    ++result.consecutiveErrors;
  } else {
    result.consecutiveErrors = 0;
    if (measurement.phase == phase::kSuccessful) {
      ++result.successful;
    } else if (measurement.phase == phase::kFailed) {
      ++result.failed;
    } else {
      ++result.inconclusive;
    }
  }
  result.measurements.push_back(std::move(measurement));
  if (result.measurements.size() > kKeptMeasurements) {
    result.measurements.erase(result.measurements.begin(),
                              result.measurements.end() - kKeptMeasurements);
  }
  result.phase = metricPhase(policy, result);
  result.message = metricMessage(policy, result);
}

std::string metricPhase(const MetricPolicy& policy, const crds::MetricResult& result) {
  if (result.failed > policy.failureLimit) {
    return phase::kFailed;
  }
  if (result.consecutiveErrors > policy.consecutiveErrorLimit) {
    return phase::kError;
  }
  if (result.inconclusive > policy.inconclusiveLimit) {
    return phase::kInconclusive;
  }
  if (result.count == 0) {
    return phase::kPending;
  }
  if (policy.count && answered(result) >= *policy.count) {
    // Limits tolerate bad measurements; they never make a pass out of no pass at all.
    return result.successful > 0 ? phase::kSuccessful : phase::kInconclusive;
  }
  return phase::kRunning;
}

std::optional<WallTime> nextDue(const MetricPolicy& policy, const crds::MetricResult& result,
                                WallTime runStartedAt) {
  if (isDecided(result.phase)) {
    return std::nullopt;
  }
  if (result.measurements.empty()) {
    return runStartedAt + policy.initialDelay;
  }
  const auto& last = result.measurements.back();
  WallTime base = parseTime(last.finishedAt).value_or(runStartedAt);
  std::chrono::milliseconds interval = policy.interval.value_or(std::chrono::milliseconds(0));
  if (last.phase == phase::kError) {
    return base + std::min(policy.interval.value_or(kMaxErrorRetry), kMaxErrorRetry);
  }
  return base + interval;
}

bool isDecided(std::string_view p) {
  return p == phase::kSuccessful || p == phase::kFailed || p == phase::kError ||
         p == phase::kInconclusive;
}

void conclude(const std::vector<MetricPolicy>& policies,
              const std::optional<crds::Terminate>& terminate, crds::AnalysisRunStatus& status,
              WallTime now) {
  if (status.phase && isDecided(*status.phase)) {
    return;  // a verdict stands
  }
  std::string worst = phase::kSuccessful;
  std::string why;
  std::vector<std::string> progress;
  for (const auto& policy : policies) {
    auto it = std::find_if(status.metricResults.begin(), status.metricResults.end(),
                           [&](const crds::MetricResult& r) { return r.name == policy.name; });
    if (it == status.metricResults.end()) {
      worst = rank(worst) < rank(phase::kPending) ? phase::kPending : worst;
      continue;
    }
    const std::string effective = policy.dryRun ? phase::kSuccessful : it->phase;
    if (rank(effective) > rank(worst)) {
      worst = effective;
      why = fmt::format("metric \"{}\" {}: {}", it->name, it->phase, it->message);
    }
    progress.push_back(fmt::format("{}: {}", it->name, it->message));
  }
  bool measured = std::any_of(status.metricResults.begin(), status.metricResults.end(),
                              [](const crds::MetricResult& r) { return r.count > 0; });
  if (worst == phase::kPending && measured) {
    worst = phase::kRunning;
  }
  if (terminate && !isDecided(worst)) {
    // Its canary completed: Successful if no limit was crossed and every metric that decides
    // passed at least once (no pass from no measurement).
    bool completed = terminate->reason == phase::kCanaryCompleted;
    bool passedOnce = std::all_of(policies.begin(), policies.end(), [&](const MetricPolicy& p) {
      auto it = std::find_if(status.metricResults.begin(), status.metricResults.end(),
                             [&](const crds::MetricResult& r) { return r.name == p.name; });
      return p.dryRun || (it != status.metricResults.end() && it->successful > 0);
    });
    worst = completed && passedOnce ? phase::kSuccessful : phase::kInconclusive;
    why = completed && passedOnce ? "ended as its canary completed, no limit crossed"
          : completed             ? "ended as its canary completed, before any measurement passed"
                                  : fmt::format("ended before a verdict: {}{}", terminate->reason,
                                    terminate->message ? ": " + *terminate->message : "");
    for (auto& result : status.metricResults) {
      if (!isDecided(result.phase)) {
        result.phase = worst;
      }
    }
  }
  status.phase = worst;
  status.message =
      isDecided(worst) && !why.empty() ? why : fmt::format("{}", fmt::join(progress, "; "));
  if (isDecided(worst) && !status.completedAt) {
    status.completedAt = formatTime(now);
  }
}

std::string formatValue(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

}  // namespace mc::analysis
