#include "mc/cli/drill.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mc::cli {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

json::object podTemplate() {
  return json::parse(R"({"metadata": {"labels": {"app": "web"}},
      "spec": {"containers": [
        {"name": "web", "image": "web:1", "env": [{"name": "ERROR_RATE", "value": "0"},
                                                   {"name": "KEEP", "value": "x"}]},
        {"name": "log", "image": "log:1"}]}})")
      .as_object();
}

TEST(DrillTemplate, SetsTheVariablesOnEveryContainerAndMarksTheDrill) {
  DrillChange change;
  change.env = {{"ERROR_RATE", "0.2"}, {"LATENCY", "2s"}};
  auto bad = drillTemplate(podTemplate(), change, "drill-1");
  ASSERT_TRUE(bad) << bad.error().describe();
  auto expected = json::parse(R"({"metadata": {"labels": {"app": "web"},
      "annotations": {"mc.maestro.dev/drill": "drill-1"}},
      "spec": {"containers": [
        {"name": "web", "image": "web:1", "env": [{"name": "ERROR_RATE", "value": "0.2"},
            {"name": "KEEP", "value": "x"}, {"name": "LATENCY", "value": "2s"}]},
        {"name": "log", "image": "log:1", "env": [{"name": "ERROR_RATE", "value": "0.2"},
            {"name": "LATENCY", "value": "2s"}]}]}})");
  EXPECT_EQ(json::value(*bad), expected) << json::serialize(*bad);
}

TEST(DrillTemplate, AppliesAMergePatch) {
  DrillChange change;
  change.patch = json::parse(R"({"spec": {"terminationGracePeriodSeconds": 1,
      "containers": [{"name": "web", "image": "web:broken"}]}})")
                     .as_object();
  auto bad = drillTemplate(podTemplate(), change, "drill-2");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->at("spec").at("terminationGracePeriodSeconds"), 1);
  EXPECT_EQ(bad->at("spec").at("containers").as_array().size(), 1u) << "RFC 7386: lists replace";
}

TEST(DrillTemplate, RefusesADrillThatChangesNothing) {
  EXPECT_FALSE(drillTemplate(podTemplate(), {}, "d"));
  DrillChange same;
  same.patch = json::parse(R"({"metadata": {"labels": {"app": "web"}}})").as_object();
  auto unchanged = drillTemplate(podTemplate(), same, "d");
  ASSERT_FALSE(unchanged);
  EXPECT_THAT(unchanged.error().message, HasSubstr("changes nothing"));
}

TEST(ParseEnvAssignment, SplitsAtTheFirstEquals) {
  auto parsed = parseEnvAssignment("URL=http://x?a=b");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, "URL");
  EXPECT_EQ(parsed->second, "http://x?a=b");
  EXPECT_FALSE(parseEnvAssignment("NOVALUE"));
  EXPECT_FALSE(parseEnvAssignment("=x"));
}

DrillTimeline rolledBack() {
  DrillTimeline drill;
  drill.ns = "shop";
  drill.rollout = "web";
  drill.id = "drill-7";
  drill.change = "ERROR_RATE=0.2";
  drill.timeout = 600s;
  drill.started = WallTime(std::chrono::seconds(1'800'000'000));
  drill.canaryStarted = drill.started + 1s;
  drill.firstFailure = drill.started + 15s;
  drill.failure = "error-rate of web-2-1: 21% > max 0.02";
  drill.aborted = drill.started + 15500ms;
  drill.abortedBy = "analysis/web-2-1";
  drill.trafficBack = drill.started + 16s;
  drill.podsGone = drill.started + 17s;
  drill.restored = true;
  return drill;
}

TEST(DrillReport, TimesEachMomentFromTheCanarysStart) {
  auto drill = rolledBack();
  EXPECT_TRUE(drill.passed());
  std::string md = drillMarkdown(drill);
  EXPECT_THAT(md, HasSubstr("# Drill drill-7 of rollout shop/web"));
  EXPECT_THAT(md, HasSubstr("**PASSED: MC rolled the bad revision back**"));
  EXPECT_THAT(md, HasSubstr("| time to detect (first failed measurement) | 14.0 s |"));
  EXPECT_THAT(md, HasSubstr("| time to roll back (traffic on the stable) | 15.0 s |"));
  EXPECT_THAT(md,
              HasSubstr("| aborted | 2027-01-15T08:00:15.500000Z (+15.5 s) by analysis/web-2-1 |"));
  auto report = json::parse(drillJson(drill));
  EXPECT_EQ(report.at("passed"), true);
  EXPECT_EQ(report.at("outcome"), "RolledBack");
  EXPECT_EQ(report.at("seconds").at("toDetect"), "14.000");
  EXPECT_EQ(report.at("seconds").at("toRemovePods"), "16.000");
}

TEST(DrillReport, FailsWhenMcPromotesOrNeverRollsBack) {
  auto promoted = rolledBack();
  promoted.promoted = true;
  EXPECT_FALSE(promoted.passed());
  EXPECT_THAT(drillMarkdown(promoted), HasSubstr("FAILED: MC promoted the bad revision"));
  auto late = rolledBack();
  late.podsGone.reset();
  EXPECT_FALSE(late.passed());
  EXPECT_THAT(drillMarkdown(late), HasSubstr("FAILED: MC did not roll back within 600 s"));
  EXPECT_EQ(json::parse(drillJson(late)).at("outcome"), "TimedOut");
  EXPECT_TRUE(json::parse(drillJson(late)).at("seconds").at("toRemovePods").is_null());
}

}  // namespace
}  // namespace mc::cli
