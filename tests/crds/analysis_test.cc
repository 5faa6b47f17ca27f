#include "mc/crds/analysis.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mc::crds {
namespace {

namespace json = boost::json;

const char* kTemplate = R"({
  "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "AnalysisTemplate",
  "metadata": {"name": "error-rate", "namespace": "shop"},
  "spec": {
    "args": [{"name": "canary-hash"}, {"name": "window", "value": "1m"}],
    "metrics": [{
      "name": "error-rate", "interval": "30s", "count": 5, "initialDelay": "10s",
      "failureLimit": 1, "inconclusiveLimit": 2, "consecutiveErrorLimit": 3, "dryRun": false,
      "successCondition": {"max": 0.02, "min": 0.0},
      "provider": {"prometheus": {"address": "http://prom:9090", "query": "up",
                                  "aFutureField": {"kept": true}}}
    }]
  }
})";

TEST(AnalysisJsonTest, ATemplateIsReadWhole) {
  auto read = readAnalysisTemplate(json::parse(kTemplate));
  ASSERT_TRUE(read) << read.error().describe();
  ASSERT_EQ(read->spec.args.size(), 2u);
  EXPECT_FALSE(read->spec.args[0].value.has_value());
  EXPECT_EQ(read->spec.args[1].value, "1m");
  ASSERT_EQ(read->spec.metrics.size(), 1u);
  const auto& m = read->spec.metrics[0];
  EXPECT_EQ(m.interval, "30s");
  EXPECT_EQ(m.count, 5);
  EXPECT_EQ(m.failureLimit, 1);
  EXPECT_EQ(m.inconclusiveLimit, 2);
  EXPECT_EQ(m.consecutiveErrorLimit, 3);
  EXPECT_EQ(m.successCondition.max, 0.02);
  EXPECT_EQ(m.successCondition.min, 0.0) << "0 is a bound, not absent";
  EXPECT_TRUE(m.provider.at("prometheus").at("aFutureField").at("kept").as_bool())
      << "the provider's block is kept whole for the provider";
  // Written back with min before max (the order is the writer's; the content is the same).
  auto written = writeMetric(m);
  auto original = json::parse(kTemplate).at("spec").at("metrics").at(0).as_object();
  EXPECT_EQ(written.at("successCondition").at("min"), original.at("successCondition").at("min"));
  written.erase("successCondition");
  original.erase("successCondition");
  EXPECT_EQ(written, original);
}

TEST(AnalysisJsonTest, WrongTypesNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  const Case cases[] = {
      {R"({"spec": {"metrics": [{"name": "m", "count": "five", "provider": {}}]}})",
       "spec.metrics[0].count"},
      {R"({"spec": {"metrics": [{"name": "m", "successCondition": {"max": "2%"}, "provider": {}}]}})",
       "spec.metrics[0].successCondition.max"},
      {R"({"spec": {"metrics": [{"name": "m"}]}})", "spec.metrics[0].provider"},
      {R"({"spec": {"args": [{"name": 1}]}})", "spec.args[0].name"},
      {R"({"metadata": {}})", "spec"},
  };
  for (const auto& c : cases) {
    auto read = readAnalysisTemplate(json::parse(c.json));
    ASSERT_FALSE(read) << c.json;
    EXPECT_EQ(read.error().field, c.field) << read.error().fieldMessage();
  }
}

TEST(AnalysisJsonTest, ARunAndItsStatusRoundTrip) {
  const char* run = R"({
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "AnalysisRun",
    "metadata": {"name": "web-1-2", "namespace": "shop"},
    "spec": {
      "metrics": [{"name": "m", "successCondition": {"max": 1.0}, "provider": {"prometheus": {}}}],
      "args": [{"name": "canary-hash", "value": "abc"}],
      "terminate": {"reason": "Superseded", "message": "v3 replaced v2"}
    },
    "status": {
      "phase": "Inconclusive", "message": "ended", "startedAt": "2026-12-02T10:00:00.000000Z",
      "completedAt": "2026-12-02T10:01:00Z",
      "metricResults": [{"name": "m", "phase": "Inconclusive", "message": "x", "query": "up",
        "count": 2, "successful": 1, "failed": 0, "inconclusive": 0, "error": 1,
        "consecutiveErrors": 1,
        "measurements": [{"phase": "Successful", "startedAt": "a", "finishedAt": "b",
                          "value": "0.5", "message": "0.5 within max 1"},
                         {"phase": "Error", "startedAt": "c", "finishedAt": "d",
                          "message": "unreachable"}]}]
    }
  })";
  auto read = readAnalysisRun(json::parse(run));
  ASSERT_TRUE(read) << read.error().describe();
  EXPECT_EQ(read->spec.terminate->reason, "Superseded");
  EXPECT_EQ(read->status.metricResults.at(0).error, 1);
  EXPECT_EQ(json::value_from(*read), json::parse(run));
}

}  // namespace
}  // namespace mc::crds

namespace mc::crds {
namespace {

TEST(NamesTest, TheRolloutLabelValueIsTheNameCutTo63EndingInALetterOrDigit) {
  EXPECT_EQ(rolloutLabelValue("web"), "web");
  EXPECT_EQ(rolloutLabelValue(std::string(63, 'a')), std::string(63, 'a'));
  EXPECT_EQ(rolloutLabelValue(std::string(62, 'a') + "-b"), std::string(62, 'a'))
      << "cut at 63 it would end in '-'";
  EXPECT_EQ(rolloutLabelValue(std::string(100, 'x')).size(), 63u);
}

}  // namespace
}  // namespace mc::crds
