#pragma once

#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/rollout.h"

// C++ types of AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun (crds/analysis_*.yaml;
// docs/analysis.md says what each field means). As for the Rollout, optional fields stay absent
// when unset, and a metric's provider block is kept whole for its provider to read.
namespace mc::crds {

// The value passes when min <= value <= max; either bound may be absent (not both: the CRD).
struct SuccessCondition {
  std::optional<double> min;
  std::optional<double> max;
};

struct Metric {
  std::string name;
  std::optional<std::string> interval;           // absent: a single measurement
  std::optional<int32_t> count;                  // absent: 1 without interval, unbounded with one
  std::optional<std::string> initialDelay;       // absent: none
  std::optional<int32_t> failureLimit;           // tolerated Failed measurements; absent: 0
  std::optional<int32_t> inconclusiveLimit;      // absent: 0
  std::optional<int32_t> consecutiveErrorLimit;  // tolerated Errors in a row; absent: 4
  std::optional<bool> dryRun;
  SuccessCondition successCondition;
  // One block keyed by the provider's kind ({"prometheus": {...}}), read by that provider
  // (analysis/providers/), so a new provider needs no change here.
  boost::json::object provider;
};

struct AnalysisTemplateSpec {
  std::vector<AnalysisArg> args;  // a value is a default
  std::vector<Metric> metrics;
};

// An AnalysisTemplate or a ClusterAnalysisTemplate: the same spec.
struct AnalysisTemplate {
  boost::json::object metadata;
  AnalysisTemplateSpec spec;
};

struct Measurement {
  std::string phase;
  std::optional<std::string> value;  // a decimal string, "NaN", "+Inf"; absent: none
  std::string startedAt;             // RFC 3339
  std::string finishedAt;
  std::string message;
};

// One query a provider ran, named by its part ("errorRate", "p95", "burn 1h", "guard").
struct MetricQuery {
  std::string name;
  std::string query;

  bool operator==(const MetricQuery&) const = default;
};

struct MetricResult {
  std::string name;
  std::string phase;
  std::string message;
  std::string query;                 // the one whose value is judged (the first of queries), as run
  std::vector<MetricQuery> queries;  // every query the last measurement ran, when more than one
  int32_t count = 0;                 // measurements taken
  int32_t successful = 0;
  int32_t failed = 0;
  int32_t inconclusive = 0;
  int32_t error = 0;
  int32_t consecutiveErrors = 0;
  std::vector<Measurement> measurements;  // the last few, oldest first
};

struct AnalysisRunStatus {
  std::optional<std::string> phase;
  std::optional<std::string> message;
  std::optional<std::string> startedAt;
  std::optional<std::string> completedAt;
  std::vector<MetricResult> metricResults;
};

struct Terminate {
  std::string reason;  // analysis::kCanaryCompleted, kSuperseded, kAborted, or a person's
  std::optional<std::string> message;
};

struct AnalysisRunSpec {
  std::vector<AnalysisArg> args;  // as resolved when the run was made
  std::vector<Metric> metrics;    // arguments already substituted
  std::optional<Terminate> terminate;
};

struct AnalysisRun {
  boost::json::object metadata;
  AnalysisRunSpec spec;
  AnalysisRunStatus status;
};

// Read as the apiserver holds them; Invalid naming the field at fault.
Result<AnalysisTemplate> readAnalysisTemplate(const boost::json::value& in);
Result<AnalysisRun> readAnalysisRun(const boost::json::value& in);

boost::json::object writeMetric(const Metric& metric);
boost::json::object writeRunStatus(const AnalysisRunStatus& status);
void tag_invoke(const boost::json::value_from_tag&, boost::json::value& out,
                const AnalysisRun& run);

}  // namespace mc::crds
