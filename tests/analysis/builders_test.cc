// The built-ins' PromQL for their parameters, and the burn-rate arithmetic. Prometheus itself
// parses every query these write in tests/integration/builders_promtool_test.cc.
#include "../../analysis/providers/prometheus/builders.h"

#include <gtest/gtest.h>

#include <cmath>

namespace mc::analysis::prometheus {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

CanarySelector canary(std::string matchers = {}) {
  return {"pod_template_hash", "7d9f8c6b5", std::move(matchers)};
}

TEST(BuildersTest, DurationsAreWrittenAsPromQLWritesThem) {
  EXPECT_EQ(promDuration(Seconds(60)), "1m");
  EXPECT_EQ(promDuration(Seconds(90)), "1m30s");
  EXPECT_EQ(promDuration(hours(6)), "6h");
  EXPECT_EQ(promDuration(hours(1) + minutes(5) + Seconds(7)), "1h5m7s");
  EXPECT_EQ(promDuration(hours(48)), "2d");
  EXPECT_EQ(promDuration(Seconds(0)), "0s");
}

TEST(BuildersTest, ErrorRateIsTheCanarysFiveHundredsOverAllItsRequests) {
  ErrorRate check;
  check.canary = canary();
  EXPECT_EQ(errorRateQuery(check),
            "(sum(rate(http_requests_total{pod_template_hash=\"7d9f8c6b5\", code=~\"5..\"}[1m])) "
            "or vector(0)) / sum(rate(http_requests_total{pod_template_hash=\"7d9f8c6b5\"}[1m]))");

  // Our users' services: another counter, the code in `status`, another hash label, a window
  // and matchers of their own.
  check.metric = "api_requests_total";
  check.codeLabel = "status";
  check.window = minutes(5);
  check.canary = {"rollouts_pod_template_hash", "abc", "namespace=\"prod\", job=\"web\""};
  EXPECT_EQ(errorRateQuery(check),
            "(sum(rate(api_requests_total{rollouts_pod_template_hash=\"abc\", status=~\"5..\", "
            "namespace=\"prod\", job=\"web\"}[5m])) or vector(0)) / "
            "sum(rate(api_requests_total{rollouts_pod_template_hash=\"abc\", namespace=\"prod\", "
            "job=\"web\"}[5m]))");
}

TEST(BuildersTest, LatencyIsAQuantileOfTheCanarysBucketsAndCountsItsRequests) {
  Latency check;
  check.canary = canary();
  EXPECT_EQ(latencyQuery(check),
            "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket"
            "{pod_template_hash=\"7d9f8c6b5\"}[1m])))");
  EXPECT_EQ(requestCountQuery(check),
            "sum(increase(http_request_duration_seconds_count{pod_template_hash=\"7d9f8c6b5\"}"
            "[1m]))");
  check.quantile = 0.999;
  check.metric = "rpc_seconds";
  check.window = Seconds(150);
  check.canary = canary("route=\"/pay\"");
  EXPECT_EQ(latencyQuery(check),
            "histogram_quantile(0.999, sum by (le) (rate(rpc_seconds_bucket"
            "{pod_template_hash=\"7d9f8c6b5\", route=\"/pay\"}[2m30s])))");
}

TEST(BuildersTest, AQuantileIsNamedAndNeedsEnoughRequests) {
  EXPECT_EQ(quantileName(0.95), "p95");
  EXPECT_EQ(quantileName(0.99), "p99");
  EXPECT_EQ(quantileName(0.999), "p99.9");
  EXPECT_EQ(quantileName(0.5), "p50");
  EXPECT_EQ(defaultMinRequests(0.95), 20);
  EXPECT_EQ(defaultMinRequests(0.99), 100);
  EXPECT_EQ(defaultMinRequests(0.999), 1000);
  EXPECT_EQ(defaultMinRequests(0.5), 2);
}

TEST(BurnRateTest, PresetsAreTheWorkbooksAndOurRunbooks) {
  auto workbook = burnPreset("workbook");
  ASSERT_EQ(workbook.size(), 2u);
  EXPECT_EQ(workbook[0].longWindow, hours(1));
  EXPECT_EQ(workbook[0].shortWindow, minutes(5));
  EXPECT_DOUBLE_EQ(workbook[0].maxBurnRate, 14.4);
  EXPECT_EQ(workbook[1].longWindow, hours(6));
  EXPECT_EQ(workbook[1].shortWindow, minutes(30));
  EXPECT_DOUBLE_EQ(workbook[1].maxBurnRate, 6);
  auto runbook = burnPreset("runbook");
  ASSERT_EQ(runbook.size(), 2u);
  EXPECT_DOUBLE_EQ(runbook[0].maxBurnRate, 10);
  EXPECT_EQ(runbook[1].longWindow, hours(6));
  EXPECT_DOUBLE_EQ(runbook[1].maxBurnRate, 2);
  EXPECT_TRUE(burnPreset("fast").empty());
}

TEST(BurnRateTest, ABurnRateIsTheErrorRatioOverTheBudget) {
  // 99.9 %: a budget of 0.1 % of requests.
  EXPECT_NEAR(burnRate(0.001, 99.9), 1, 1e-9);
  EXPECT_NEAR(burnRate(0.0144, 99.9), 14.4, 1e-9);
  EXPECT_NEAR(burnRate(0.2, 99.9), 200, 1e-9);
  EXPECT_NEAR(burnRate(0.05, 99), 5, 1e-9);
  EXPECT_EQ(burnRate(0, 99.9), 0);
}

TEST(BurnRateTest, APairBreachesOnlyWhenBothWindowsBurnAboveItsRate) {
  const BurnWindows fast{hours(1), minutes(5), 14.4};
  struct Case {
    const char* name;
    double longBurn, shortBurn;
    bool breaches;
    double severity;
  };
  const Case cases[] = {
      {"both above", 20, 30, true, 20 / 14.4},
      {"only the short (a spike that has passed the long window by)", 2, 30, false, 2 / 14.4},
      {"only the long (a burn that has stopped)", 30, 2, false, 2 / 14.4},
      {"both exactly at the rate: not above", 14.4, 14.4, false, 1},
      {"neither", 1, 1, false, 1 / 14.4},
  };
  for (const auto& c : cases) {
    PairBurn pair{fast, c.longBurn, c.shortBurn};
    EXPECT_EQ(pair.breaches(), c.breaches) << c.name;
    EXPECT_NEAR(pair.severity(), c.severity, 1e-12) << c.name;
  }
}

TEST(BurnRateTest, TheValueIsTheWorstPairsSeverity) {
  const auto pairs = burnPreset("workbook");
  // Burning 8x in every window: under 14.4 (severity 0.56) but over 6 (1.33).
  std::vector<PairBurn> burns{{pairs[0], 8, 8}, {pairs[1], 8, 8}};
  EXPECT_NEAR(worstSeverity(burns), 8.0 / 6, 1e-12);
  // The worst pair need not be the one burning fastest: 0.5x is nearer 6x than 1x is to 14.4x.
  burns = {{pairs[0], 1, 1}, {pairs[1], 0.5, 0.5}};
  EXPECT_NEAR(worstSeverity(burns), 0.5 / 6, 1e-12);
  EXPECT_EQ(worstSeverity({}), 0);
}

TEST(BurnRateTest, AWindowLongerThanTheCanaryReadsWhatExists) {
  EXPECT_EQ(readableWindow(hours(1), hours(2)), hours(1));
  EXPECT_EQ(readableWindow(hours(1), hours(1)), hours(1));
  EXPECT_EQ(readableWindow(hours(6), minutes(12)), minutes(12));
  EXPECT_EQ(readableWindow(hours(6), Seconds(750)), Seconds(750));
  // At least a minute, so a rate has samples to read; never more than the window.
  EXPECT_EQ(readableWindow(minutes(5), Seconds(20)), minutes(1));
  EXPECT_EQ(readableWindow(Seconds(30), Seconds(10)), Seconds(30));
}

}  // namespace
}  // namespace mc::analysis::prometheus
