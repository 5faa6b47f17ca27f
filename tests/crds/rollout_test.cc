#include "mc/crds/rollout.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/crds/pod_template_hash.h"

namespace mc::crds {
namespace {

namespace json = boost::json;

constexpr const char* kFullRollout = R"({
  "apiVersion": "mc.maestro.dev/v1alpha1",
  "kind": "Rollout",
  "metadata": {"name": "web", "namespace": "shop", "generation": 3, "labels": {"team": "a"}},
  "spec": {
    "replicas": 10,
    "selector": {"matchLabels": {"app": "web"}},
    "template": {
      "metadata": {"labels": {"app": "web"}, "annotations": {"x": "y"}},
      "spec": {"containers": [{"name": "web", "image": "example/web:2",
                               "aFieldFromAFutureKubernetes": {"deep": [1, 2, {"z": null}]}}]}
    },
    "revisionHistoryLimit": 3,
    "paused": false,
    "strategy": {"canary": {
      "stableService": "web-stable", "canaryService": "web-canary",
      "steps": [{"setWeight": 10}, {"pause": {"duration": "30s"}}, {"pause": {}},
                {"analysis": {"templates": [{"templateName": "error-rate"},
                                           {"templateName": "p95", "clusterScope": true}],
                              "args": [{"name": "svc", "value": "web"}], "onError": "pause"}},
                {"setWeight": 100}],
      "trafficRouting": {"gatewayAPI": {"httpRoute": "web-route"}},
      "analysis": {"templates": [{"templateName": "error-rate"}], "startingStep": 1}
    }},
    "progressDeadlineSeconds": 120
  },
  "status": {
    "phase": "Progressing", "currentStepIndex": 2, "canaryWeight": 10,
    "stableRS": "web-abc", "canaryRS": "web-def", "observedGeneration": 3,
    "currentPodHash": "def", "stablePodHash": "abc", "pauseStartTime": "2026-11-23T16:00:00Z",
    "attempt": 2, "message": "step 3/5", "abort": false, "promoteFull": true, "promoteStep": 2,
    "conditions": [{"type": "Progressing", "status": "True", "reason": "StepAdvanced",
                    "message": "step 2 of 5", "lastTransitionTime": "2026-11-23T16:00:00Z",
                    "observedGeneration": 3}],
    "aStatusFieldFromALaterMc": {"digest": "sha256:abc"}
  }
})";

// The Rollout `in` holds; a test failure (and an empty Rollout) if it cannot be read.
Rollout readOrFail(const json::value& in) {
  auto read = readRollout(in);
  EXPECT_TRUE(read) << read.error().describe();
  return read ? *read : Rollout{};
}

TEST(RolloutJsonTest, RoundTripKeepsEveryFieldIncludingUnknownOnes) {
  auto in = json::parse(kFullRollout);
  auto rollout = readOrFail(in);
  EXPECT_EQ(rollout.spec.replicas, 10);
  ASSERT_TRUE(rollout.spec.canary);
  ASSERT_TRUE(rollout.spec.canary->steps);
  EXPECT_EQ(rollout.spec.canary->steps->size(), 5u);
  EXPECT_EQ((*rollout.spec.canary->steps)[1].pause->duration, "30s");
  EXPECT_FALSE((*rollout.spec.canary->steps)[2].pause->duration.has_value());
  const auto& stepAnalysis = *(*rollout.spec.canary->steps)[3].analysis;
  EXPECT_EQ(stepAnalysis.args[0].value, "web");
  ASSERT_EQ(stepAnalysis.templates.size(), 2u);
  EXPECT_EQ(stepAnalysis.templates[1].templateName, "p95");
  EXPECT_EQ(stepAnalysis.templates[1].clusterScope, true);
  EXPECT_EQ(stepAnalysis.onError, "pause");
  ASSERT_TRUE(rollout.spec.canary->analysis);
  EXPECT_EQ(rollout.spec.canary->analysis->startingStep, 1);
  EXPECT_EQ(rollout.spec.progressDeadlineSeconds, 120);
  EXPECT_EQ(rollout.spec.canary->trafficRouting->at("gatewayAPI").at("httpRoute"), "web-route")
      << "the router's block is kept whole for the router to read";
  EXPECT_EQ(rollout.status.conditions.at(0).reason, "StepAdvanced");
  EXPECT_EQ(rollout.status.currentPodHash, "def");
  EXPECT_EQ(rollout.status.attempt, 2);
  EXPECT_EQ(rollout.status.abort, false) << "false is not absent: retry writes it";
  EXPECT_EQ(rollout.status.promoteStep, 2);
  EXPECT_FALSE(rollout.status.unknown.contains("promoteFull")) << "a known field";
  EXPECT_EQ(json::value_from(rollout), in);  // nothing dropped, nothing added
}

TEST(RolloutJsonTest, AbsentStaysAbsentAndNullIsAbsent) {
  auto rollout = readOrFail(json::parse(R"({"metadata": {"name": "a"},
      "spec": {"selector": {}, "template": {}, "paused": null}})"));
  EXPECT_FALSE(rollout.spec.paused.has_value());
  EXPECT_FALSE(rollout.spec.replicas.has_value());
  EXPECT_FALSE(rollout.spec.canary.has_value());
  auto out = json::value_from(rollout).as_object();
  EXPECT_FALSE(out.at("spec").as_object().contains("paused"));
  EXPECT_FALSE(out.at("spec").as_object().contains("replicas"));
  EXPECT_FALSE(out.contains("status")) << "an empty status is not written";
}

TEST(RolloutJsonTest, ZeroReplicasIsZeroNotAbsent) {
  auto rollout =
      readOrFail(json::parse(R"({"spec": {"replicas": 0, "selector": {}, "template": {}}})"));
  ASSERT_TRUE(rollout.spec.replicas.has_value()) << "0 is a scale, not the default";
  EXPECT_EQ(*rollout.spec.replicas, 0);
  EXPECT_EQ(json::value_from(rollout).at("spec").at("replicas"), json::value(0));
}

TEST(RolloutJsonTest, WrongTypesNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  for (
      const auto& c : {
          Case{R"({"spec": {"replicas": "ten"}})", "spec.replicas: expected an integer"},
          Case{
              R"({"spec": {"strategy": {"canary": {"steps": [{"setWeight": 1}, {"setWeight": "x"}]}}}})",
              "spec.strategy.canary.steps[1].setWeight: expected an integer"},
          Case{
              R"({"spec": {"strategy": {"canary": {"steps": [{"analysis": {"templates": [7]}}]}}}})",
              "spec.strategy.canary.steps[0].analysis.templates[0]: expected an object"},
          Case{
              R"({"spec": {"strategy": {"canary": {"analysis": {"templates": [{"templateName": 7}]}}}}})",
              "spec.strategy.canary.analysis.templates[0].templateName: expected a string"},
          Case{R"({"spec": {"paused": "yes"}})", "spec.paused: expected true or false"},
          Case{R"({"metadata": {}})", "spec: missing"},
          Case{R"([1])", "rollout: expected an object"},
      }) {
    auto read = readRollout(json::parse(c.json));
    ASSERT_FALSE(read) << "no error for " << c.json;
    EXPECT_EQ(read.error().kind, ErrorKind::Invalid);
    EXPECT_EQ(read.error().fieldMessage(), c.field);
    std::string_view expected(c.field);
    EXPECT_EQ(read.error().field, expected.substr(0, expected.find(": "))) << "the field alone";
  }
}

TEST(RolloutJsonTest, DefaultStepsAreTenThirtySixtyHundred) {
  RolloutSpec spec;
  std::vector<int32_t> weights;
  for (const auto& step : effectiveSteps(spec)) {
    weights.push_back(step.setWeight.value_or(-1));
  }
  EXPECT_EQ(weights, (std::vector<int32_t>{10, 30, 60, 100}));
  spec.canary = CanaryStrategy{};
  spec.canary->steps = std::vector<CanaryStep>{{50, std::nullopt, std::nullopt}};
  EXPECT_EQ(effectiveSteps(spec).size(), 1u);
}

TEST(PodTemplateHashTest, StableOverKeyOrderAndSensitiveToContent) {
  auto a = json::parse(R"({"metadata": {"labels": {"app": "web", "tier": "front"}},
                           "spec": {"containers": [{"name": "web", "image": "web:1"}]}})")
               .as_object();
  auto reordered = json::parse(R"({"spec": {"containers": [{"image": "web:1", "name": "web"}]},
                                   "metadata": {"labels": {"tier": "front", "app": "web"}}})")
                       .as_object();
  auto changed = json::parse(R"({"metadata": {"labels": {"app": "web", "tier": "front"}},
                                 "spec": {"containers": [{"name": "web", "image": "web:2"}]}})")
                     .as_object();
  auto hash = podTemplateHash(a);
  EXPECT_EQ(podTemplateHash(reordered), hash);
  EXPECT_NE(podTemplateHash(changed), hash);
  EXPECT_NE(podTemplateHash(a, 1), hash) << "a collision count must move the hash";
  EXPECT_NE(podTemplateHash(a, 1), podTemplateHash(a, 2));
  EXPECT_EQ(podTemplateHash(a), hash) << "deterministic";
  EXPECT_LE(hash.size(), 10u);
  EXPECT_EQ(hash.find_first_not_of("bcdfghjklmnpqrstvwxz2456789"), std::string::npos) << hash;
}

TEST(PodTemplateHashTest, CanonicalJsonSortsKeysAtEveryLevel) {
  EXPECT_EQ(
      canonicalJson(json::parse(R"({"b": {"d": 1, "c": [ {"f": 2, "e": "x"} ]}, "a": null})")),
      R"({"a":null,"b":{"c":[{"e":"x","f":2}],"d":1}})");
}

TEST(ConditionsTest, SetKeepsTheTransitionTimeUnlessTheStatusChanges) {
  std::vector<Condition> conditions;
  setCondition(conditions, {"Paused", "True", "CanaryPauseStep", "step 2", "t1", 3});
  setCondition(conditions, {"Paused", "True", "PausedByUser", "paused", "t2", 4});
  ASSERT_EQ(conditions.size(), 1u);
  EXPECT_EQ(conditions[0].lastTransitionTime, "t1") << "same status: the transition stays";
  EXPECT_EQ(conditions[0].reason, "PausedByUser");
  EXPECT_EQ(conditions[0].observedGeneration, 4);
  setCondition(conditions, {"Paused", "False", "NotPaused", "running", "t3", 5});
  EXPECT_EQ(conditions[0].lastTransitionTime, "t3") << "the status flipped";
  setCondition(conditions, {"Available", "True", "MinimumReplicasAvailable", "", "t4", 5});
  ASSERT_EQ(conditions.size(), 2u);
  ASSERT_NE(findCondition(conditions, "Available"), nullptr);
  EXPECT_EQ(findCondition(conditions, "Available")->lastTransitionTime, "t4");
  EXPECT_EQ(findCondition(conditions, "Completed"), nullptr);
}

TEST(ConditionsTest, AnUnreadableStatusStillYieldsItsReadableConditions) {
  auto object = json::parse(R"({"status": {"abort": "yes", "conditions": [
      7, {"type": "Paused", "status": "True", "reason": "PausedByUser", "observedGeneration": 2},
      {"type": "Available", "status": false}]}})");
  auto conditions = readConditionsLeniently(object.as_object());
  ASSERT_EQ(conditions.size(), 2u) << "the entry that is not an object is skipped";
  EXPECT_EQ(conditions[0].reason, "PausedByUser");
  EXPECT_EQ(conditions[0].observedGeneration, 2);
  EXPECT_EQ(conditions[1].status, "") << "a mistyped field reads as absent";
  EXPECT_FALSE(conditions[1].observedGeneration.has_value());
  auto written = writeConditions(conditions);
  EXPECT_EQ(written[0].at("reason"), "PausedByUser");
  EXPECT_EQ(written.size(), 2u);
}

}  // namespace
}  // namespace mc::crds
