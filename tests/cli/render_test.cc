// `kubectl mc get rollout`'s rendering: a pure function of the Rollout, its ReplicaSets and now.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "mc/cli/rollout_view.h"
#include "mc/common/timefmt.h"

namespace mc::cli {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const WallTime kNow = *parseTime("2026-03-01T12:00:00Z");

json::object rollout(const std::string& status) {
  return json::parse(fmt::format(R"({{
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
    "metadata": {{"name": "web", "namespace": "shop", "uid": "uid-web", "generation": 2,
                  "resourceVersion": "41"}},
    "spec": {{
      "replicas": 4,
      "selector": {{"matchLabels": {{"app": "web"}}}},
      "template": {{"metadata": {{"labels": {{"app": "web"}}}},
                   "spec": {{"containers": [{{"name": "web", "image": "example/web:2"}}]}}}},
      "strategy": {{"canary": {{"steps": [{{"setWeight": 20}}, {{"pause": {{}}}},
                                         {{"setWeight": 60}}, {{"pause": {{"duration": "30s"}}}}]}}}}
    }},
    "status": {}}})",
                                 status))
      .as_object();
}

json::object replicaSet(const std::string& name, const std::string& hash, int revision,
                        const std::string& image, int replicas, int available,
                        const std::string& created, const std::string& ownerUid = "uid-web") {
  return json::parse(fmt::format(R"({{
    "apiVersion": "apps/v1", "kind": "ReplicaSet",
    "metadata": {{"name": "{0}", "namespace": "shop", "creationTimestamp": "{6}",
                  "labels": {{"app": "web", "mc.maestro.dev/pod-template-hash": "{1}"}},
                  "annotations": {{"mc.maestro.dev/revision": "{2}"}},
                  "ownerReferences": [{{"apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
                                        "name": "web", "uid": "{7}", "controller": true}}]}},
    "spec": {{"replicas": {4},
              "template": {{"spec": {{"containers": [{{"name": "web", "image": "{3}"}}]}}}}}},
    "status": {{"replicas": {4}, "readyReplicas": {5}, "availableReplicas": {5}}}}})",
                                 name, hash, revision, image, replicas, available, created,
                                 ownerUid))
      .as_object();
}

// The line of `text` that contains `needle` ("" if none), to assert on whole lines.
std::string lineWith(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) {
    return "";
  }
  size_t begin = text.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  size_t end = text.find('\n', at);
  return text.substr(begin, end - begin);
}

// Cells of the table row that starts with `name`, split on runs of spaces.
std::vector<std::string> row(const std::string& text, const std::string& name) {
  size_t at = text.find("\n" + name + " ");
  std::string line =
      at == std::string::npos ? "" : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string cell; in >> cell;) {
    out.push_back(cell);
  }
  return out;
}

// Cells of a table line, split on runs of spaces.
std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string cell; in >> cell;) {
    out.push_back(cell);
  }
  return out;
}

TEST(KubectlMcRenderTest, MidCanaryMarksTheCurrentStepAndShowsBothReplicaSets) {
  auto object = rollout(R"({
    "phase": "Paused", "observedGeneration": 2, "currentStepIndex": 1, "canaryWeight": 20,
    "stableRS": "web-aaa", "canaryRS": "web-bbb", "currentPodHash": "bbb", "stablePodHash": "aaa",
    "replicas": 5, "updatedReplicas": 1, "availableReplicas": 5,
    "message": "step 2/4 (pause (until promoted)): waiting for `kubectl mc promote web`"})");
  auto owned = ownedReplicaSets(
      object, {replicaSet("web-old", "old", 1, "example/web:0", 0, 0, "2026-02-20T12:00:00Z"),
               replicaSet("web-aaa", "aaa", 2, "example/web:1", 4, 4, "2026-03-01T10:30:00Z"),
               replicaSet("web-bbb", "bbb", 3, "example/web:2", 1, 1, "2026-03-01T11:58:30Z"),
               replicaSet("other-ccc", "ccc", 9, "example/other:1", 1, 1, "2026-03-01T11:00:00Z",
                          "uid-other")});
  auto text = renderRollout(object, owned, kNow);

  EXPECT_EQ(lineWith(text, "Name:"), "Name:           web") << text;
  EXPECT_EQ(lineWith(text, "Namespace:"), "Namespace:      shop");
  EXPECT_EQ(lineWith(text, "Status:"),
            "Status:         Paused - step 2/4 (pause (until promoted)): waiting for "
            "`kubectl mc promote web`");
  EXPECT_EQ(lineWith(text, "Step:"), "  Step:         2/4");
  EXPECT_EQ(lineWith(text, "1. "), "    ✔ 1. setWeight 20");
  EXPECT_EQ(lineWith(text, "2. "), "    ► 2. pause (until promoted)");
  EXPECT_EQ(lineWith(text, "3. "), "    · 3. setWeight 60");
  EXPECT_EQ(lineWith(text, "4. "), "    · 4. pause 30s");
  EXPECT_EQ(lineWith(text, "SetWeight:"), "  SetWeight:    20");
  EXPECT_EQ(lineWith(text, "ActualWeight:"), "  ActualWeight: 20") << "1 of 5 available pods";
  EXPECT_EQ(lineWith(text, "Images:"), "Images:         example/web:1 (stable)");
  EXPECT_EQ(lineWith(text, "example/web:2"), "                example/web:2 (canary)");
  EXPECT_EQ(lineWith(text, "Desired:"), "  Desired:      4");
  EXPECT_EQ(lineWith(text, "Current:"), "  Current:      5");
  EXPECT_EQ(lineWith(text, "Updated:"), "  Updated:      1");
  EXPECT_EQ(lineWith(text, "Available:"), "  Available:    5");

  using Row = std::vector<std::string>;
  EXPECT_EQ(cells(lineWith(text, "NAME")),
            (Row{"NAME", "REVISION", "ROLE", "DESIRED", "READY", "AVAILABLE", "AGE"}));
  EXPECT_EQ(row(text, "web-bbb"), (Row{"web-bbb", "3", "canary", "1", "1", "1", "90s"}));
  EXPECT_EQ(row(text, "web-aaa"), (Row{"web-aaa", "2", "stable", "4", "4", "4", "90m"}));
  EXPECT_EQ(row(text, "web-old"), (Row{"web-old", "1", "old", "0", "0", "0", "9d"}));
  EXPECT_EQ(text.find("other-ccc"), std::string::npos) << "not owned by this Rollout";
  // Newest revision first.
  EXPECT_LT(text.find("\nweb-bbb "), text.find("\nweb-aaa "));
  EXPECT_LT(text.find("\nweb-aaa "), text.find("\nweb-old "));
}

TEST(KubectlMcRenderTest, HealthyRolloutHasEveryStepDoneAndNoCanary) {
  auto object = rollout(R"({
    "phase": "Healthy", "observedGeneration": 2, "currentStepIndex": 4, "canaryWeight": 0,
    "stableRS": "web-bbb", "currentPodHash": "bbb", "stablePodHash": "bbb", "attempt": 1,
    "replicas": 4, "updatedReplicas": 4, "availableReplicas": 4,
    "message": "web-bbb serves all traffic"})");
  auto owned = ownedReplicaSets(
      object, {replicaSet("web-aaa", "aaa", 2, "example/web:1", 0, 0, "2026-03-01T10:30:00Z"),
               replicaSet("web-bbb", "bbb", 3, "example/web:2", 4, 4, "2026-03-01T11:00:00Z")});
  auto text = renderRollout(object, owned, kNow);

  EXPECT_EQ(lineWith(text, "Status:"), "Status:         Healthy - web-bbb serves all traffic")
      << text;
  EXPECT_EQ(lineWith(text, "Step:"), "  Step:         4/4");
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(lineWith(text, fmt::format("{}. ", i)).rfind("    ✔ " + std::to_string(i), 0), 0u)
        << text;
  }
  EXPECT_EQ(text.find("►"), std::string::npos);
  EXPECT_EQ(lineWith(text, "ActualWeight:"), "  ActualWeight: 0");
  EXPECT_EQ(lineWith(text, "Images:"), "Images:         example/web:2 (stable)");
  EXPECT_EQ(text.find("(canary)"), std::string::npos);
  using Row = std::vector<std::string>;
  EXPECT_EQ(row(text, "web-bbb"), (Row{"web-bbb", "3", "stable", "4", "4", "4", "60m"}));
  EXPECT_EQ(row(text, "web-aaa"), (Row{"web-aaa", "2", "old", "0", "0", "0", "90m"}));
}

TEST(KubectlMcRenderTest, VerificationAndTheLastKnownGoodAreShown) {
  auto object = rollout(R"({
    "phase": "Degraded", "observedGeneration": 2, "stableRS": "web-aaa", "currentPodHash": "aaa",
    "stablePodHash": "aaa",
    "conditions": [
      {"type": "Verified", "status": "False", "reason": "SignatureRejected",
       "message": "web: docker.io/example/web@sha256:bb: no signature verifies",
       "lastTransitionTime": "2026-03-01T11:59:00Z"},
      {"type": "KnownGood", "status": "True", "reason": "KnownGood", "message": "web-aaa",
       "lastTransitionTime": "2026-03-01T11:00:00Z"}],
    "lastKnownGood": {"podHash": "aaa", "image": "docker.io/example/web@sha256:aa",
                      "digest": "sha256:aa", "verifiedBy": "key", "at": "2026-03-01T11:00:00Z"}})");
  auto owned = ownedReplicaSets(
      object, {replicaSet("web-aaa", "aaa", 2, "example/web:1", 4, 4, "2026-03-01T10:30:00Z")});
  auto text = renderRollout(object, owned, kNow);
  EXPECT_EQ(lineWith(text, "Verified:"),
            "Verified:       False (SignatureRejected): web: docker.io/example/web@sha256:bb: no "
            "signature verifies")
      << text;
  EXPECT_EQ(lineWith(text, "KnownGood:"),
            "KnownGood:      docker.io/example/web@sha256:aa (web-aaa, since "
            "2026-03-01T11:00:00Z)");

  auto unverified = rollout(R"({
    "phase": "Healthy", "observedGeneration": 2, "stableRS": "web-aaa", "currentPodHash": "aaa",
    "conditions": [{"type": "KnownGood", "status": "False", "reason": "StableUnverified",
                    "message": "a rollback returns to web-aaa, which is unverified",
                    "lastTransitionTime": "2026-03-01T11:00:00Z"}]})");
  auto plain = renderRollout(unverified, owned, kNow);
  EXPECT_EQ(lineWith(plain, "KnownGood:"),
            "KnownGood:      none: a rollback returns to web-aaa, which is unverified")
      << plain;
  EXPECT_EQ(plain.find("Verified:"), std::string::npos) << "no verdict, no line";
}

TEST(KubectlMcRenderTest, DegradedRolloutShowsItsMessageAndWhereItStopped) {
  auto object = rollout(R"({
    "phase": "Degraded", "observedGeneration": 2, "currentStepIndex": 2, "canaryWeight": 0,
    "stableRS": "web-aaa", "canaryRS": "web-bbb", "currentPodHash": "bbb", "abort": true,
    "message": "canary aborted: `kubectl mc retry web` restarts it, a new template replaces it"})");
  auto owned = ownedReplicaSets(
      object, {replicaSet("web-aaa", "aaa", 2, "example/web:1", 4, 4, "2026-03-01T10:30:00Z"),
               replicaSet("web-bbb", "bbb", 3, "example/web:2", 0, 0, "2026-03-01T11:00:00Z")});
  auto text = renderRollout(object, owned, kNow);

  EXPECT_EQ(lineWith(text, "Status:"),
            "Status:         Degraded - canary aborted: `kubectl mc retry web` restarts it, a new "
            "template replaces it")
      << text;
  EXPECT_EQ(lineWith(text, "3. "), "    ► 3. setWeight 60");
  EXPECT_EQ(lineWith(text, "SetWeight:"), "  SetWeight:    0");
  EXPECT_EQ(lineWith(text, "example/web:2"), "                example/web:2 (canary)");
}

TEST(KubectlMcRenderTest, StatusOfAnUnobservedGenerationOrNoneIsMarked) {
  auto stale = rollout(R"({"phase": "Healthy", "observedGeneration": 1, "stableRS": "web-aaa",
                           "message": "web-aaa serves all traffic"})");
  EXPECT_EQ(lineWith(renderRollout(stale, {}, kNow), "Status:"),
            "Status:         Healthy - web-aaa serves all traffic (generation 2 not observed by "
            "the controller yet)");
  auto fresh = rollout("{}");
  auto text = renderRollout(fresh, {}, kNow);
  EXPECT_EQ(lineWith(text, "Status:"),
            "Status:         Unknown - the controller has not written a status yet");
  EXPECT_EQ(lineWith(text, "Images:"), "Images:         example/web:2 (stable)")
      << "no ReplicaSet yet: the Rollout's own template";
  EXPECT_NE(text.find("No ReplicaSets."), std::string::npos);
}

TEST(KubectlMcRenderTest, FirstRevisionDeployedAtOnceSaysNoCanaryHasRun) {
  // As MC leaves the first version: all steps "done", weight 0, but no canary ever started.
  auto object = rollout(R"({
    "phase": "Healthy", "observedGeneration": 2, "currentStepIndex": 4, "canaryWeight": 0,
    "stableRS": "web-aaa", "currentPodHash": "aaa", "stablePodHash": "aaa",
    "replicas": 4, "updatedReplicas": 4, "availableReplicas": 4,
    "message": "web-aaa serves all traffic"})");
  auto owned = ownedReplicaSets(
      object, {replicaSet("web-aaa", "aaa", 1, "example/web:1", 4, 4, "2026-03-01T10:30:00Z")});
  auto text = renderRollout(object, owned, kNow);

  EXPECT_EQ(lineWith(text, "No canary"),
            "  No canary has run yet: the first revision (web-aaa) was deployed at once.")
      << text;
  EXPECT_EQ(lineWith(text, "Steps of the next canary"),
            "  Steps of the next canary (a change of spec.template starts one):");
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(lineWith(text, fmt::format("{}. ", i)).rfind("    · " + std::to_string(i), 0), 0u)
        << text;
  }
  EXPECT_EQ(text.find("✔"), std::string::npos) << "no step has passed";
  EXPECT_EQ(text.find("►"), std::string::npos);
  EXPECT_EQ(text.find("Step:"), std::string::npos);
  EXPECT_EQ(text.find("SetWeight:"), std::string::npos);
  EXPECT_EQ(text.find("ActualWeight:"), std::string::npos);
  EXPECT_EQ(lineWith(text, "Images:"), "Images:         example/web:1 (stable)");
  using Row = std::vector<std::string>;
  EXPECT_EQ(row(text, "web-aaa"), (Row{"web-aaa", "1", "stable", "4", "4", "4", "90m"}));
}

TEST(KubectlMcRenderTest, NoCanaryYetWhileTheFirstRevisionComesUpOrBeforeMcActs) {
  auto coming = rollout(R"({"phase": "Progressing", "observedGeneration": 2,
    "currentStepIndex": 4, "canaryWeight": 0, "stableRS": "web-aaa",
    "message": "waiting for web-aaa: 1/4 pods available"})");
  auto text = renderRollout(coming, {}, kNow);
  EXPECT_EQ(lineWith(text, "No canary"),
            "  No canary has run yet: the first revision (web-aaa) is being deployed at once, "
            "without steps.")
      << text;
  EXPECT_EQ(text.find("SetWeight:"), std::string::npos);

  auto unseen = renderRollout(rollout("{}"), {}, kNow);
  EXPECT_EQ(lineWith(unseen, "No canary"),
            "  No canary has run yet: the controller has not acted on this Rollout (its first "
            "revision goes out at once, without steps).")
      << unseen;
  EXPECT_EQ(unseen.find("✔"), std::string::npos);
  EXPECT_EQ(lineWith(unseen, "1. "), "    · 1. setWeight 20");

  // Once a canary started (attempt 1) and finished, its steps are shown as passed again.
  auto done = renderRollout(rollout(R"({"phase": "Healthy", "currentStepIndex": 4,
    "stableRS": "web-bbb", "attempt": 1})"),
                            {}, kNow);
  EXPECT_EQ(done.find("No canary"), std::string::npos) << done;
  EXPECT_EQ(lineWith(done, "4. "), "    ✔ 4. pause 30s");
}

TEST(KubectlMcRenderTest, AgesAsKubectlPrintsThem) {
  struct Case {
    std::chrono::seconds age;
    const char* text;
  };
  for (const auto& c : std::vector<Case>{{-5s, "<invalid>"},
                                         {0s, "0s"},
                                         {119s, "119s"},
                                         {120s, "2m"},
                                         {330s, "5m30s"},
                                         {150min, "150m"},
                                         {5h + 30min, "5h30m"},
                                         {30h, "30h"},
                                         {3 * 24h + 4h, "3d4h"},
                                         {40 * 24h, "40d"},
                                         {800 * 24h, "2y70d"}}) {
    EXPECT_EQ(formatAge(c.age), c.text) << c.age.count();
  }
}

}  // namespace
}  // namespace mc::cli
