// Reading a metric's provider.prometheus block: a query, an alert expression and its guard,
// and the built-ins with their defaults; every bad field is named.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "../../analysis/providers/prometheus/prometheus.h"
#include "mc/analysis/provider.h"
#include "mc/common/timefmt.h"

namespace mc::analysis::prometheus {
namespace {

namespace json = boost::json;
using std::chrono::hours;
using std::chrono::minutes;

const std::string kPath = "spec.metrics[0].provider.prometheus";
const RunScope kRun{"shop",
                    {{"canary-hash", "7d9f8c6b5"}, {"canary-started-at", "2026-12-02T10:00:00Z"}}};

Result<Config> parse(std::string_view block, const RunScope& run = kRun) {
  return parseConfig(json::parse(block).as_object(), run, kPath);
}

TEST(PrometheusConfigTest, BadBlocksNameTheField) {
  struct Case {
    const char* block;
    const char* field;
    const char* inMessage;
  };
  const Case cases[] = {
      {R"({"query": "up"})", ".address", "missing"},
      {R"({"address": "http://p:9090"})", ".query", "or a built-in"},
      {R"({"address": "http://p:9090", "query": " "})", ".query", "missing"},
      {R"({"address": "http://p:9090", "query": "up", "timeout": "never"})", ".timeout",
       "not a duration"},
      {R"({"address": "http://p:9090", "query": "up", "errorRate": {}})", "", "has query and"},
      {R"({"address": "http://p:9090", "query": "up", "failWhenPresent": true})", ".guard",
       "missing"},
      {R"({"address": "http://p:9090", "query": "up", "guard": "up"})", ".guard",
       "failWhenPresent"},
      {R"({"address": "http://p:9090", "errorRate": {}, "failWhenPresent": true})",
       ".failWhenPresent", "not a built-in"},
      {R"({"address": "http://p:9090", "errorRate": []})", ".errorRate", "an object"},
      {R"({"address": "http://p:9090", "errorRate": {"metric": "http-requests"}})",
       ".errorRate.metric", "not a Prometheus metric name"},
      {R"({"address": "http://p:9090", "errorRate": {"codeLabel": "a:b"}})", ".errorRate.codeLabel",
       "not a Prometheus label name"},
      {R"({"address": "http://p:9090", "errorRate": {"window": "0s"}})", ".errorRate.window",
       "a second or more"},
      {R"({"address": "http://p:9090", "latency": {"quantile": 95}})", ".latency.quantile",
       "below 1"},
      {R"({"address": "http://p:9090", "latency": {"minRequests": 0.5}})", ".latency.minRequests",
       "whole number"},
      {R"({"address": "http://p:9090", "sloBurn": {}})", ".sloBurn.objective", "missing"},
      {R"({"address": "http://p:9090", "sloBurn": {"objective": 100}})", ".sloBurn.objective",
       "below 100"},
      {R"({"address": "http://p:9090", "sloBurn": {"objective": 99.9, "preset": "fast"}})",
       ".sloBurn.preset", "workbook or runbook"},
      {R"({"address": "http://p:9090", "sloBurn": {"objective": 99.9, "preset": "runbook",
           "windows": [{"long": "1h", "short": "5m", "maxBurnRate": 2}]}})",
       ".sloBurn.windows", "not both"},
      {R"({"address": "http://p:9090", "sloBurn": {"objective": 99.9,
           "windows": [{"long": "5m", "short": "1h", "maxBurnRate": 2}]}})",
       ".sloBurn.windows[0].short", "shorter than long"},
      {R"({"address": "http://p:9090", "sloBurn": {"objective": 99.9,
           "windows": [{"long": "1h", "short": "5m"}]}})",
       ".sloBurn.windows[0].maxBurnRate", "above 0"},
  };
  for (const auto& c : cases) {
    auto config = parse(c.block);
    ASSERT_FALSE(config) << c.block;
    EXPECT_EQ(config.error().field, kPath + c.field) << c.block;
    EXPECT_NE(config.error().message.find(c.inMessage), std::string::npos)
        << c.block << ": " << config.error().message;
  }
  auto good = parse(R"({"address": "https://p/prom", "query": "up",
      "timeout": "3s", "secretRef": {"name": "prom"}})");
  ASSERT_TRUE(good) << good.error().fieldMessage();
  EXPECT_EQ(good->timeout, std::chrono::seconds(3));
  EXPECT_EQ(good->secretName, "prom");
  EXPECT_EQ(std::get<Query>(good->check).query, "up");
}

TEST(PrometheusConfigTest, BuiltInsSelectTheCanaryByTheRunsHash) {
  auto errorRate = parse(R"({"address": "http://p:9090", "errorRate": {}})");
  ASSERT_TRUE(errorRate) << errorRate.error().fieldMessage();
  const auto& e = std::get<ErrorRate>(errorRate->check);
  EXPECT_EQ(e.metric, "http_requests_total");
  EXPECT_EQ(e.codeLabel, "code");
  EXPECT_EQ(e.window, minutes(1));
  EXPECT_EQ(e.canary.hashLabel, "pod_template_hash");
  EXPECT_EQ(e.canary.hash, "7d9f8c6b5");
  ASSERT_TRUE(errorRate->canaryStartedAt);
  EXPECT_EQ(*errorRate->canaryStartedAt, *parseTime("2026-12-02T10:00:00Z"));

  // A run without MC's canary-hash (one a person made) cannot select the canary.
  auto orphan = parse(R"({"address": "http://p:9090", "errorRate": {}})", RunScope{"shop", {}});
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().field, kPath + ".errorRate");
  EXPECT_NE(orphan.error().message.find("canary-hash"), std::string::npos);
}

TEST(PrometheusConfigTest, LatencyDefaultsToP95NeedingTwentyRequests) {
  auto latency = parse(R"({"address": "http://p:9090", "latency": {}})");
  ASSERT_TRUE(latency) << latency.error().fieldMessage();
  const auto& l = std::get<Latency>(latency->check);
  EXPECT_EQ(l.metric, "http_request_duration_seconds");
  EXPECT_DOUBLE_EQ(l.quantile, 0.95);
  EXPECT_EQ(l.minRequests, 20);
  auto p99 = parse(R"({"address": "http://p:9090", "latency": {"quantile": 0.99,
      "window": "5m", "metric": "rpc_seconds", "podTemplateHashLabel": "hash"}})");
  ASSERT_TRUE(p99) << p99.error().fieldMessage();
  const auto& q = std::get<Latency>(p99->check);
  EXPECT_EQ(q.minRequests, 100);
  EXPECT_EQ(q.window, minutes(5));
  EXPECT_EQ(q.metric, "rpc_seconds");
  EXPECT_EQ(q.canary.hashLabel, "hash");
}

TEST(PrometheusConfigTest, SloBurnTakesTheWorkbookPairsUnlessTold) {
  auto workbook = parse(R"({"address": "http://p:9090", "sloBurn": {"objective": 99.9}})");
  ASSERT_TRUE(workbook) << workbook.error().fieldMessage();
  const auto& w = std::get<SloBurn>(workbook->check);
  EXPECT_DOUBLE_EQ(w.objective, 99.9);
  ASSERT_EQ(w.pairs.size(), 2u);
  EXPECT_DOUBLE_EQ(w.pairs[0].maxBurnRate, 14.4);
  EXPECT_DOUBLE_EQ(w.pairs[1].maxBurnRate, 6);

  auto runbook =
      parse(R"({"address": "http://p:9090", "sloBurn": {"objective": 99.5, "preset": "runbook"}})");
  ASSERT_TRUE(runbook) << runbook.error().fieldMessage();
  EXPECT_DOUBLE_EQ(std::get<SloBurn>(runbook->check).pairs[1].maxBurnRate, 2);

  auto own = parse(R"({"address": "http://p:9090", "sloBurn": {"objective": 99,
      "codeLabel": "status", "windows": [{"long": "2h", "short": "10m", "maxBurnRate": 5}]}})");
  ASSERT_TRUE(own) << own.error().fieldMessage();
  const auto& o = std::get<SloBurn>(own->check);
  ASSERT_EQ(o.pairs.size(), 1u);
  EXPECT_EQ(o.pairs[0].longWindow, hours(2));
  EXPECT_EQ(o.pairs[0].shortWindow, minutes(10));
  EXPECT_DOUBLE_EQ(o.pairs[0].maxBurnRate, 5);
  EXPECT_EQ(o.codeLabel, "status");
}

TEST(PrometheusConfigTest, AnAlertExpressionKeepsItsGuard) {
  auto alert = parse(R"json({"address": "http://p:9090", "failWhenPresent": true,
      "query": "rate(errors[5m]) > 0.02", "guard": "sum(rate(requests[5m]))"})json");
  ASSERT_TRUE(alert) << alert.error().fieldMessage();
  EXPECT_EQ(std::get<Alert>(alert->check).query, "rate(errors[5m]) > 0.02");
  EXPECT_EQ(std::get<Alert>(alert->check).guard, "sum(rate(requests[5m]))");
}

TEST(PrometheusConfigTest, BuiltInsHaveOurUsersThresholdsAndQueriesNone) {
  auto conditionOf = [](std::string_view block) {
    crds::Metric metric;
    metric.provider = json::object{{"prometheus", json::parse(block)}};
    return effectiveCondition(metric);
  };
  struct Case {
    const char* block;
    double max;
  };
  const Case cases[] = {
      {R"({"address": "http://p", "errorRate": {}})", 0.02},
      {R"({"address": "http://p", "latency": {}})", 1.5},
      {R"({"address": "http://p", "sloBurn": {"objective": 99.9}})", 1},
      {R"({"address": "http://p", "query": "x > 1", "failWhenPresent": true, "guard": "y"})", 0},
  };
  for (const auto& c : cases) {
    auto condition = conditionOf(c.block);
    ASSERT_TRUE(condition) << c.block;
    EXPECT_FALSE(condition->min) << c.block;
    EXPECT_EQ(condition->max, c.max) << c.block;
  }
  EXPECT_FALSE(conditionOf(R"({"address": "http://p", "query": "up"})"));

  // A metric's own condition beats the default.
  crds::Metric strict;
  strict.provider = json::object{{"prometheus", {{"address", "http://p"}, {"errorRate", {}}}}};
  strict.successCondition.max = 0.005;
  EXPECT_EQ(effectiveCondition(strict)->max, 0.005);
}

}  // namespace
}  // namespace mc::analysis::prometheus
