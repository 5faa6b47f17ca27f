#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "mc/analysis/observation.h"
#include "mc/common/error.h"
#include "mc/crds/analysis.h"

// The judgement of an AnalysisRun, as pure functions of its spec, its status and the time: what
// a measurement's phase is, what it does to its metric's counts and phase, when the next one is
// due, and what the run's phase is. docs/analysis.md is their specification; the AnalysisRun
// reconciler only measures and writes what these decide.
namespace mc::analysis {

using WallTime = std::chrono::system_clock::time_point;

// A metric's fields with the defaults filled in and the durations parsed.
struct MetricPolicy {
  std::string name;
  std::optional<std::chrono::milliseconds> interval;  // absent: a single measurement
  std::optional<int32_t> count;                       // absent: unbounded (with an interval)
  std::chrono::milliseconds initialDelay{0};
  int32_t failureLimit = 0;
  int32_t inconclusiveLimit = 0;
  int32_t consecutiveErrorLimit = 4;
  bool dryRun = false;
  crds::SuccessCondition successCondition;
};

// How long after an Error the metric is measured again: soon, but not in a tight loop.
inline constexpr std::chrono::milliseconds kMaxErrorRetry{std::chrono::seconds(10)};
// How many measurements a metric's status keeps (the counts keep the rest).
inline constexpr size_t kKeptMeasurements = 10;

// Invalid, naming the field under `path` ("spec.metrics[0].interval"), if a duration is bad.
Result<MetricPolicy> policyOf(const crds::Metric& metric, const std::string& path);

// The measurement an observation makes: Successful or Failed by the success condition for a
// finite value; NaN and +-Inf are Inconclusive; the provider's Inconclusive and Error stay.
crds::Measurement judge(const Observation& observation,
                        const crds::SuccessCondition& successCondition, WallTime startedAt,
                        WallTime finishedAt);

// Counts `measurement` into `result` (keeping the last kKeptMeasurements) and decides the
// metric's phase by its limits.
void record(const MetricPolicy& policy, crds::MetricResult& result, crds::Measurement measurement);

// The metric's phase from its counts: Failed, Error or Inconclusive once a limit is crossed,
// Successful once `count` measurements are taken, else Running (Pending before the first).
std::string metricPhase(const MetricPolicy& policy, const crds::MetricResult& result);

// When the metric is measured next; nullopt once its phase is decided.
std::optional<WallTime> nextDue(const MetricPolicy& policy, const crds::MetricResult& result,
                                WallTime runStartedAt);

// Whether a phase is a verdict (Successful, Failed, Error, Inconclusive).
bool isDecided(std::string_view phase);

// The run's phase, message and completedAt from its metrics' phases (a dryRun metric counts as
// Successful), and, when `terminate` is set, the end of a run cut short: Successful only for
// CanaryCompleted with no limit crossed, else Inconclusive naming the reason.
void conclude(const std::vector<MetricPolicy>& policies,
              const std::optional<crds::Terminate>& terminate, crds::AnalysisRunStatus& status,
              WallTime now);

// A value as the status writes it: shortest round-trip decimal, "NaN", "+Inf", "-Inf".
std::string formatValue(double value);

}  // namespace mc::analysis
