#include "mc/analysis/evaluator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mc/common/timefmt.h"
#include "mc/crds/names.h"

namespace mc::analysis {
namespace {

using namespace std::chrono_literals;
namespace phase = crds::analysis;

const WallTime kStart = *parseTime("2026-12-02T10:00:00Z");

MetricPolicy policy(int32_t count, int32_t failureLimit = 0, int32_t inconclusiveLimit = 0,
                    int32_t consecutiveErrorLimit = 4) {
  MetricPolicy p;
  p.name = "error-rate";
  p.interval = 30s;
  p.count = count;
  p.failureLimit = failureLimit;
  p.inconclusiveLimit = inconclusiveLimit;
  p.consecutiveErrorLimit = consecutiveErrorLimit;
  p.successCondition.max = 0.02;
  return p;
}

crds::Measurement measurement(const std::string& phase, WallTime finished = kStart) {
  crds::Measurement m;
  m.phase = phase;
  m.startedAt = formatMicroTime(finished);
  m.finishedAt = formatMicroTime(finished);
  m.message = phase;
  return m;
}

// The metric phase after each of a sequence of measurements: "S" Successful, "F" Failed,
// "I" Inconclusive, "E" Error.
std::vector<std::string> phasesAfter(const MetricPolicy& p, std::string_view sequence) {
  crds::MetricResult result;
  result.name = p.name;
  std::vector<std::string> phases;
  for (char c : sequence) {
    const char* which = c == 'S'   ? phase::kSuccessful
                        : c == 'F' ? phase::kFailed
                        : c == 'I' ? phase::kInconclusive
                                   : phase::kError;
    record(p, result, measurement(which));
    phases.push_back(result.phase);
  }
  return phases;
}

const std::string R = phase::kRunning, S = phase::kSuccessful, F = phase::kFailed,
                  E = phase::kError, I = phase::kInconclusive;

TEST(EvaluatorTest, LimitsTolerateThatManyAndTheNextOneDecides) {
  struct Case {
    const char* name;
    MetricPolicy policy;
    const char* sequence;
    std::vector<std::string> phases;
  };
  const Case cases[] = {
      {"failureLimit 0: the first failure fails", policy(3), "SF", {R, F}},
      {"failureLimit 1: the second failure fails, not the first",
       policy(5, 1),
       "SFSF",
       {R, R, R, F}},
      {"failures need not be consecutive; a pass does not reset them",
       policy(9, 2),
       "FSSFSSF",
       {R, R, R, R, R, R, F}},
      {"count reached within the limits: Successful", policy(3, 1), "SFS", {R, R, S}},
      {"consecutiveErrorLimit 4: the fifth Error in a row is Error",
       policy(9),
       "EEEEE",
       {R, R, R, R, E}},
      {"an answer resets the errors in a row",
       policy(20),
       "EEEESEEEES",
       {R, R, R, R, R, R, R, R, R, R}},
      {"consecutiveErrorLimit 0: the first Error decides", policy(3, 0, 0, 0), "E", {E}},
      {"Errors do not count towards count: they are retried", policy(2), "SEES", {R, R, R, S}},
      {"inconclusiveLimit 0: the first Inconclusive decides", policy(3), "SI", {R, I}},
      {"inconclusiveLimit 1: the second", policy(5, 0, 1), "ISI", {R, R, I}},
      {"tolerated Inconclusives and no pass at all are no pass", policy(2, 0, 5), "II", {R, I}},
      {"a failure beats a tolerated inconclusive", policy(3, 0, 1), "IF", {R, F}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(phasesAfter(c.policy, c.sequence), c.phases) << c.name;
  }
}

TEST(EvaluatorTest, CountsAndKeptMeasurements) {
  auto p = policy(100, 100, 100);
  crds::MetricResult result;
  for (int i = 0; i < 25; ++i) {
    record(p, result, measurement(i % 5 == 0 ? phase::kError : phase::kSuccessful));
  }
  EXPECT_EQ(result.count, 25);
  EXPECT_EQ(result.error, 5);
  EXPECT_EQ(result.successful, 20);
  EXPECT_EQ(result.consecutiveErrors, 0);
  EXPECT_EQ(result.measurements.size(), kKeptMeasurements) << "the counts keep the rest";
}

TEST(EvaluatorTest, JudgeAppliesTheSuccessCondition) {
  struct Case {
    Observation observation;
    std::optional<double> min, max;
    std::string phase;
    std::optional<std::string> value;
  };
  const double nan = std::nan("");
  const Case cases[] = {
      {Observation::of(0.01), {}, 0.02, S, "0.01"},
      {Observation::of(0.02), {}, 0.02, S, "0.02"},  // the bound itself passes
      {Observation::of(0.2), {}, 0.02, F, "0.2"},
      {Observation::of(0.9), 0.95, {}, F, "0.9"},
      {Observation::of(0.99), 0.95, 1.0, S, "0.99"},
      {Observation::of(nan), {}, 0.02, I, "NaN"},
      {Observation::of(HUGE_VAL), {}, 0.02, I, "+Inf"},
      {Observation::of(-HUGE_VAL), 0.0, {}, I, "-Inf"},
      {Observation::inconclusive("empty result"), {}, 0.02, I, std::nullopt},
      {Observation::error("unreachable"), {}, 0.02, E, std::nullopt},
  };
  for (const auto& c : cases) {
    crds::SuccessCondition condition{c.min, c.max};
    auto m = judge(c.observation, condition, kStart, kStart + 1s);
    EXPECT_EQ(m.phase, c.phase) << m.message;
    EXPECT_EQ(m.value, c.value) << m.message;
    EXPECT_FALSE(m.message.empty());
  }
  auto failed = judge(Observation::of(0.2), {std::nullopt, 0.02}, kStart, kStart);
  EXPECT_EQ(failed.message, "0.2 > max 0.02") << "the value and the bound it crossed";
  auto precise = judge(Observation::of(0.15294117647058822), {std::nullopt, 0.05}, kStart, kStart);
  EXPECT_EQ(precise.message, "0.1529 > max 0.05") << "rounded for people";
  EXPECT_EQ(precise.value, "0.15294117647058822") << "every digit kept in the value";
}

TEST(EvaluatorTest, NextDueFollowsIntervalAndRetriesErrorsSooner) {
  auto p = policy(5);
  p.initialDelay = 15s;
  crds::MetricResult result;
  EXPECT_EQ(nextDue(p, result, kStart), kStart + 15s) << "the first after initialDelay";
  record(p, result, measurement(phase::kSuccessful, kStart + 16s));
  EXPECT_EQ(nextDue(p, result, kStart), kStart + 46s) << "the last one's finish + interval";
  record(p, result, measurement(phase::kError, kStart + 47s));
  EXPECT_EQ(nextDue(p, result, kStart), kStart + 57s) << "an Error is retried after 10 s";
  p.interval = 5s;
  EXPECT_EQ(nextDue(p, result, kStart), kStart + 52s) << "or after the interval if shorter";
  record(p, result, measurement(phase::kFailed, kStart + 60s));
  EXPECT_EQ(result.phase, F);
  EXPECT_EQ(nextDue(p, result, kStart), std::nullopt) << "a decided metric is not measured";
}

crds::MetricResult resultIn(const std::string& name, const std::string& phase, int32_t count) {
  crds::MetricResult r;
  r.name = name;
  r.phase = phase;
  r.count = count;
  r.message = phase;
  return r;
}

TEST(EvaluatorTest, TheRunTakesItsWorstMetric) {
  auto a = policy(3);
  a.name = "a";
  auto b = policy(3);
  b.name = "b";
  struct Case {
    std::string a, b;
    std::string run;
  };
  const Case cases[] = {
      {S, S, S}, {S, R, R}, {R, F, F}, {E, F, F}, {I, E, E}, {S, I, I}, {phase::kPending, S, R},
  };
  for (const auto& c : cases) {
    crds::AnalysisRunStatus status;
    status.metricResults = {resultIn("a", c.a, c.a == phase::kPending ? 0 : 1),
                            resultIn("b", c.b, 1)};
    conclude({a, b}, std::nullopt, status, kStart);
    EXPECT_EQ(status.phase, c.run) << c.a << " + " << c.b;
    EXPECT_EQ(status.completedAt.has_value(), isDecided(c.run));
  }
}

TEST(EvaluatorTest, ADryRunMetricNeverDecidesTheRun) {
  auto a = policy(3);
  a.name = "a";
  a.dryRun = true;
  auto b = policy(3);
  b.name = "b";
  crds::AnalysisRunStatus status;
  status.metricResults = {resultIn("a", F, 1), resultIn("b", S, 3)};
  conclude({a, b}, std::nullopt, status, kStart);
  EXPECT_EQ(status.phase, S);
  EXPECT_EQ(status.metricResults[0].phase, F) << "its own phase is still shown";
}

TEST(EvaluatorTest, ARunCutShortIsSuccessfulOnlyWhenItsCanaryCompleted) {
  auto p = policy(100, 3);  // a background run: many measurements, some failures tolerated
  struct Case {
    std::string reason;
    std::string phase;
  };
  const Case cases[] = {
      {phase::kCanaryCompleted, S}, {phase::kSuperseded, I}, {phase::kAborted, I}, {"Deleted", I}};
  for (const auto& c : cases) {
    crds::AnalysisRunStatus status;
    auto running = resultIn("error-rate", R, 4);
    running.successful = 2;
    running.failed = 2;  // within failureLimit 3: no limit crossed
    status.metricResults = {running};
    conclude({p}, crds::Terminate{c.reason, std::nullopt}, status, kStart);
    EXPECT_EQ(status.phase, c.phase) << c.reason;
    EXPECT_NE(status.message->find(c.reason == phase::kCanaryCompleted ? "completed" : c.reason),
              std::string::npos)
        << *status.message;
    EXPECT_EQ(status.metricResults[0].phase, c.phase);
  }
  // A verdict already reached stands: terminating a Failed run does not change it.
  crds::AnalysisRunStatus failed;
  failed.phase = F;
  failed.metricResults = {resultIn("error-rate", F, 1)};
  conclude({p}, crds::Terminate{phase::kCanaryCompleted, std::nullopt}, failed, kStart);
  EXPECT_EQ(failed.phase, F);
}

TEST(EvaluatorTest, ACompletedCanaryDoesNotPassARunThatNeverPassedAMeasurement) {
  auto p = policy(100, 3);
  for (const auto& [successful, errors] : std::vector<std::pair<int, int>>{{0, 0}, {0, 3}}) {
    crds::AnalysisRunStatus status;
    auto running = resultIn("error-rate", successful + errors == 0 ? phase::kPending : R, errors);
    running.error = errors;
    status.metricResults = {running};
    conclude({p}, crds::Terminate{phase::kCanaryCompleted, std::nullopt}, status, kStart);
    EXPECT_EQ(status.phase, I) << errors << " errors, no pass";
    EXPECT_NE(status.message->find("before any measurement passed"), std::string::npos);
  }
}

TEST(EvaluatorTest, PolicyDefaultsAndBadDurationsNameTheField) {
  crds::Metric m;
  m.name = "x";
  m.successCondition.max = 1;
  auto single = policyOf(m, "spec.metrics[0]");
  ASSERT_TRUE(single);
  EXPECT_EQ(single->count, 1) << "no interval: one measurement";
  EXPECT_EQ(single->consecutiveErrorLimit, 4);
  m.interval = "30s";
  auto background = policyOf(m, "spec.metrics[0]");
  ASSERT_TRUE(background);
  EXPECT_EQ(background->count, std::nullopt) << "an interval and no count: until terminated";
  m.interval = "soon";
  auto bad = policyOf(m, "spec.metrics[0]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "spec.metrics[0].interval");
  m.interval = "30s";
  m.successCondition = {};
  bad = policyOf(m, "spec.metrics[0]");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "spec.metrics[0].successCondition");
}

TEST(EvaluatorTest, ValuesAreWrittenAsTheyRoundTrip) {
  EXPECT_EQ(formatValue(0.1), "0.1");
  EXPECT_EQ(formatValue(1.5), "1.5");
  EXPECT_EQ(formatValue(std::nan("")), "NaN");
  EXPECT_EQ(formatValue(-HUGE_VAL), "-Inf");
  EXPECT_EQ(std::stod(formatValue(0.013456789012345678)), 0.013456789012345678);
}

}  // namespace
}  // namespace mc::analysis
