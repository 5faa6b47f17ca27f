// What `kubectl mc` decides from what it read, before it writes: promote, retry, undo, status.
#include "mc/cli/rollout_view.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mc::cli {
namespace {

namespace json = boost::json;

const char* kTemplateV1 =
    R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"example/web:1"}]}})";
const char* kTemplateV2 =
    R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"example/web:2"}]}})";

crds::Rollout rollout(const std::string& status, const char* podTemplate = kTemplateV2) {
  auto object = json::parse(fmt::format(R"({{
    "metadata": {{"name": "web", "uid": "uid-web", "generation": 3, "resourceVersion": "77"}},
    "spec": {{"replicas": 2, "selector": {{"matchLabels": {{"app": "web"}}}}, "template": {},
             "strategy": {{"canary": {{"steps": [{{"setWeight": 50}}, {{"pause": {{}}}}]}}}}}},
    "status": {}}})",
                                        podTemplate, status))
                    .as_object();
  auto parsed = parseRollout(object);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return *parsed;
}

json::object replicaSet(const std::string& hash, const std::string& revision,
                        const char* podTemplate) {
  json::object annotations;
  if (!revision.empty()) {
    annotations["mc.maestro.dev/revision"] = revision;
  }
  if (podTemplate != nullptr) {
    annotations["mc.maestro.dev/pod-template"] = podTemplate;
  }
  return {{"metadata",
           {{"name", "web-" + hash},
            {"labels", {{"mc.maestro.dev/pod-template-hash", hash}}},
            {"annotations", annotations}}}};
}

std::string errorOf(const Result<void>& result) { return result ? "" : result.error().message; }

TEST(KubectlMcViewTest, PromoteNeedsARunningCanary) {
  struct Case {
    const char* status;
    bool full;
    const char* error;  // "" promotable
  };
  for (const auto& c : std::vector<Case>{
           {R"({"phase": "Healthy", "currentStepIndex": 2, "stableRS": "web-a"})", false,
            "rollout \"web\" has no canary to promote"},
           {R"({"phase": "Healthy", "currentStepIndex": 2, "stableRS": "web-a"})", true,
            "rollout \"web\" has no canary to promote"},
           {R"({"phase": "Healthy", "currentStepIndex": 2, "canaryRS": "web-b"})", false,
            "rollout \"web\" has no canary to promote"},
           {R"({"phase": "Paused", "currentStepIndex": 1, "canaryRS": "web-b"})", false, ""},
           {R"({"phase": "Paused", "currentStepIndex": 1, "canaryRS": "web-b"})", true, ""},
           {R"({"phase": "Progressing", "currentStepIndex": 2, "canaryRS": "web-b"})", true, ""},
           {R"({"phase": "Progressing", "currentStepIndex": 2, "canaryRS": "web-b"})", false,
            "rollout \"web\" has passed all 2 steps: its canary is being promoted already"},
           {R"({"phase": "Degraded", "currentStepIndex": 1, "canaryRS": "web-b", "abort": true})",
            false, "rollout \"web\" is aborted: `kubectl mc retry web` restarts its canary"},
       }) {
    EXPECT_EQ(errorOf(checkPromotable(rollout(c.status), "web", c.full)), c.error)
        << c.status << " full=" << c.full;
  }
}

TEST(KubectlMcViewTest, PromotePatchIsHeldToTheCanaryAndStepThatWereRead) {
  auto paused =
      rollout(R"({"phase": "Paused", "currentStepIndex": 1, "canaryRS": "web-b", "attempt": 2})");
  EXPECT_EQ(json::parse(promotePatch(paused, false)), json::parse(R"([
      {"op": "test", "path": "/status/canaryRS", "value": "web-b"},
      {"op": "test", "path": "/status/attempt", "value": 2},
      {"op": "test", "path": "/status/currentStepIndex", "value": 1},
      {"op": "add", "path": "/status/promoteStep", "value": 1}])"));
  EXPECT_EQ(json::parse(promotePatch(paused, true)), json::parse(R"([
      {"op": "test", "path": "/status/canaryRS", "value": "web-b"},
      {"op": "test", "path": "/status/attempt", "value": 2},
      {"op": "add", "path": "/status/promoteFull", "value": true}])"));
  // A status without the step (an older controller's) promotes the first step and tests nothing
  // it cannot read.
  auto bare = rollout(R"({"phase": "Paused", "canaryRS": "web-b"})");
  EXPECT_EQ(json::parse(promotePatch(bare, false)), json::parse(R"([
      {"op": "test", "path": "/status/canaryRS", "value": "web-b"},
      {"op": "add", "path": "/status/promoteStep", "value": 0}])"));
}

TEST(KubectlMcViewTest, RetryNeedsAnAbortedOrDegradedCanary) {
  EXPECT_EQ(errorOf(checkRetryable(rollout(R"({"phase": "Degraded"})"), "web")), "");
  EXPECT_EQ(errorOf(checkRetryable(rollout(R"({"phase": "Paused", "abort": true})"), "web")), "");
  EXPECT_EQ(errorOf(checkRetryable(rollout(R"({"phase": "Healthy"})"), "web")),
            "rollout \"web\" is Healthy, not aborted: there is no canary to retry");
}

TEST(KubectlMcViewTest, UndoPicksTheRevisionBeforeTheCurrentTemplate) {
  auto current = rollout(R"({"currentPodHash": "c3", "stableRS": "web-c2"})");
  std::vector<json::object> owned{
      replicaSet("c4", "4", kTemplateV2), replicaSet("c3", "3", kTemplateV2),
      replicaSet("c2", "2", kTemplateV1), replicaSet("c1", "1", kTemplateV1)};
  auto target = undoTarget(current, "web", owned, std::nullopt);
  ASSERT_TRUE(target) << target.error().message;
  EXPECT_EQ(target->revision, 2) << "below the current template's revision 3, not below 4";
  EXPECT_EQ(target->replicaSet, "web-c2");
  EXPECT_EQ(target->podTemplate, json::parse(kTemplateV1));
  EXPECT_FALSE(target->alreadyCurrent);
  EXPECT_EQ(
      json::parse(undoPatch(*target, "77")),
      json::parse(fmt::format(R"([{{"op":"test","path":"/metadata/resourceVersion","value":"77"}},
                                       {{"op":"replace","path":"/spec/template","value":{}}}])",
                              kTemplateV1)));

  auto named = undoTarget(current, "web", owned, 4);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->replicaSet, "web-c4");
  EXPECT_TRUE(named->alreadyCurrent) << "revision 4 has the Rollout's template";
}

// With a known-good on record, undo returns to it (not merely to the revision before), and to
// the newest of the history when the current template is the last known-good itself.
TEST(KubectlMcViewTest, UndoDefaultsToTheLastKnownGood) {
  std::vector<json::object> owned{
      replicaSet("c4", "4", kTemplateV2), replicaSet("c3", "3", kTemplateV2),
      replicaSet("c2", "2", kTemplateV1), replicaSet("c1", "1", kTemplateV1)};
  auto badCanary = rollout(R"({"currentPodHash": "c4", "stableRS": "web-c3",
      "lastKnownGood": {"podHash": "c2", "image": "docker.io/example/web@sha256:22",
                        "digest": "sha256:22"}})");
  auto target = undoTarget(badCanary, "web", owned, std::nullopt);
  ASSERT_TRUE(target) << target.error().message;
  EXPECT_EQ(target->revision, 2) << "the known-good, not revision 3 just before the current";
  EXPECT_EQ(target->knownGood, "docker.io/example/web@sha256:22");

  auto onKnownGood = rollout(R"({"currentPodHash": "c2",
      "lastKnownGood": {"podHash": "c2", "image": "web@sha256:22"},
      "knownGoodHistory": [{"podHash": "c9", "image": "web@sha256:99"},
                           {"podHash": "c1", "image": "web@sha256:11"}]})");
  auto older = undoTarget(onKnownGood, "web", owned, std::nullopt);
  ASSERT_TRUE(older) << older.error().message;
  EXPECT_EQ(older->revision, 1) << "c9's ReplicaSet is gone: the next known-good that exists";
  EXPECT_EQ(older->knownGood, "web@sha256:11");

  auto pruned = rollout(R"({"currentPodHash": "c4",
      "lastKnownGood": {"podHash": "c0", "image": "web@sha256:00"}})");
  auto none = undoTarget(pruned, "web", owned, std::nullopt);
  ASSERT_FALSE(none) << "never a silent undo to an unverified revision";
  EXPECT_NE(none.error().message.find("web@sha256:00"), std::string::npos);
  auto named = undoTarget(pruned, "web", owned, 3);
  ASSERT_TRUE(named) << "--to-revision still names any revision";
  EXPECT_EQ(named->knownGood, "");
}

TEST(KubectlMcViewTest, UndoErrorsSayWhatExists) {
  auto current = rollout(R"({"currentPodHash": "c2"})");
  std::vector<json::object> owned{replicaSet("c2", "2", kTemplateV2),
                                  replicaSet("c1", "1", nullptr)};
  auto missing = undoTarget(current, "web", owned, 7);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "rollout \"web\" has no revision 7 (available: 1, 2)");

  auto noAnnotation = undoTarget(current, "web", owned, std::nullopt);
  ASSERT_FALSE(noAnnotation);
  EXPECT_NE(noAnnotation.error().message.find("web-c1 (revision 1) has no readable "
                                              "mc.maestro.dev/pod-template annotation"),
            std::string::npos)
      << noAnnotation.error().message;

  auto first = undoTarget(current, "web", {replicaSet("c2", "2", kTemplateV2)}, std::nullopt);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().message, "rollout \"web\" has no revision before 2 to undo to");

  auto none = undoTarget(current, "web", {}, 1);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message, "rollout \"web\" has no revision 1 (it has no ReplicaSets)");
}

TEST(KubectlMcViewTest, ProgressTrustsPhaseOnlyForTheObservedGeneration) {
  auto stale = progressOf(rollout(R"({"phase": "Healthy", "observedGeneration": 2})"));
  EXPECT_FALSE(stale.observed);
  EXPECT_EQ(stale.describe(), "waiting for the controller to observe generation 3");

  auto paused = progressOf(rollout(R"({"phase": "Paused", "observedGeneration": 3,
                                       "currentStepIndex": 1, "canaryRS": "web-b",
                                       "message": "waiting for a promote"})"));
  EXPECT_TRUE(paused.observed);
  EXPECT_EQ(paused.step, 2);
  EXPECT_EQ(paused.steps, 2);
  EXPECT_EQ(paused.describe(), "Paused: waiting for a promote");

  auto healthy = progressOf(rollout(R"({"phase": "Healthy", "observedGeneration": 3,
                                        "currentStepIndex": 2})"));
  EXPECT_EQ(healthy.step, 0);
  EXPECT_EQ(healthy.describe(), "Healthy");
}

}  // namespace
}  // namespace mc::cli
