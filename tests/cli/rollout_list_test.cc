// `kubectl mc list`: the rows, the phase filter and the table, as pure functions of the pages the
// apiserver returned and now.
#include "mc/cli/rollout_list.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "mc/common/timefmt.h"

namespace mc::cli {
namespace {

namespace json = boost::json;
using Cells = std::vector<std::string>;

const WallTime kNow = *parseTime("2026-03-01T12:00:00Z");

json::object rollout(const std::string& ns, const std::string& name, const std::string& created,
                     const std::string& status, const std::string& image = "example/web:2") {
  return json::parse(fmt::format(R"({{
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
    "metadata": {{"name": "{1}", "namespace": "{0}", "uid": "uid-{0}-{1}", "generation": 2,
                  "creationTimestamp": "{2}"}},
    "spec": {{
      "replicas": 4,
      "selector": {{"matchLabels": {{"app": "{1}"}}}},
      "template": {{"metadata": {{"labels": {{"app": "{1}"}}}},
                   "spec": {{"containers": [{{"name": "app", "image": "{4}"}}]}}}},
      "strategy": {{"canary": {{"steps": [{{"setWeight": 20}}, {{"pause": {{}}}},
                                         {{"setWeight": 60}}, {{"pause": {{"duration": "30s"}}}}]}}}}
    }},
    "status": {3}}})",
                                 ns, name, created, status, image))
      .as_object();
}

json::object replicaSet(const std::string& ns, const std::string& name, const std::string& ownerUid,
                        const std::string& containers) {
  return json::parse(fmt::format(R"({{
    "apiVersion": "apps/v1", "kind": "ReplicaSet",
    "metadata": {{"name": "{1}", "namespace": "{0}",
                  "labels": {{"mc.maestro.dev/pod-template-hash": "h"}},
                  "ownerReferences": [{{"apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
                                        "name": "x", "uid": "{2}", "controller": true}}]}},
    "spec": {{"replicas": 1, "template": {{"spec": {{"containers": {3}}}}}}}}})",
                                 ns, name, ownerUid, containers))
      .as_object();
}

json::object replicaSet(const std::string& ns, const std::string& name, const std::string& ownerUid,
                        const char* image) {
  return replicaSet(ns, name, ownerUid,
                    fmt::format(R"([{{"name": "app", "image": "{}"}}])", image));
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string cell; in >> cell;) {
    out.push_back(cell);
  }
  return out;
}

std::vector<Cells> lines(const std::string& text) {
  std::vector<Cells> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    out.push_back(split(line));
  }
  return out;
}

// A Rollout mid-canary, one that never ran one, one MC has not acted on; their ReplicaSets.
void addShop(RolloutList& list) {
  list.addRollout(rollout("shop", "web", "2026-03-01T11:57:00Z", R"({
    "phase": "Paused", "observedGeneration": 2, "currentStepIndex": 1, "canaryWeight": 20,
    "stableRS": "web-aaa", "canaryRS": "web-bbb", "attempt": 3})"));
  list.addRollout(rollout("shop", "api", "2026-02-25T12:00:00Z", R"({
    "phase": "Healthy", "observedGeneration": 2, "currentStepIndex": 4, "canaryWeight": 0,
    "stableRS": "api-ccc"})",
                          "example/api:1"));
  list.addRollout(rollout("shop", "new", "2026-03-01T11:59:55Z", "{}", "example/new:1"));
  list.addReplicaSet(replicaSet("shop", "web-aaa", "uid-shop-web", "example/web:1"));
  list.addReplicaSet(replicaSet("shop", "web-bbb", "uid-shop-web", "example/web:2"));
  list.addReplicaSet(replicaSet("shop", "api-ccc", "uid-shop-api", "example/api:1"));
  list.addReplicaSet(replicaSet("shop", "web-old", "uid-shop-web", "example/web:0"));
}

TEST(KubectlMcListTest, OneRowPerRolloutSortedByName) {
  RolloutList list;
  addShop(list);
  EXPECT_FALSE(list.needsReplicaSets());
  auto text = list.render(kNow, false);
  auto rows = lines(text);
  ASSERT_EQ(rows.size(), 4u) << text;
  EXPECT_EQ(rows[0], (Cells{"NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "AGE"}));
  EXPECT_EQ(rows[1], (Cells{"api", "Healthy", "-", "-", "example/api:1", "-", "4d"})) << text;
  EXPECT_EQ(rows[2], (Cells{"new", "Unknown", "-", "-", "example/new:1", "-", "5s"}))
      << "no status yet: the template is what will run";
  EXPECT_EQ(rows[3], (Cells{"web", "Paused", "2/4", "20", "example/web:1", "example/web:2", "3m"}));
  // Columns line up: every cell of a column starts where its header does.
  std::istringstream in(text);
  std::string header;
  std::string line;
  std::getline(in, header);
  while (std::getline(in, line)) {
    for (const char* column : {"PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "AGE"}) {
      size_t at = header.find(column);
      ASSERT_LT(at, line.size()) << line;
      EXPECT_EQ(line[at - 1], ' ') << column << " in: " << line;
      EXPECT_NE(line[at], ' ') << column << " in: " << line;
    }
  }
}

TEST(KubectlMcListTest, AllNamespacesAddsTheNamespaceColumnAndSortsByIt) {
  RolloutList list;
  list.addRollout(rollout("zeta", "web", "2026-03-01T10:00:00Z", R"({"phase": "Healthy"})"));
  addShop(list);
  list.addRollout(rollout("alpha", "web", "2026-03-01T10:00:00Z", R"({"phase": "Degraded",
    "currentStepIndex": 2, "canaryWeight": 0, "stableRS": "web-s", "canaryRS": "web-c",
    "abort": true})"));
  list.addReplicaSet(replicaSet("alpha", "web-s", "uid-alpha-web", "example/web:1"));
  // The same name in another namespace is not alpha's canary.
  list.addReplicaSet(replicaSet("shop", "web-c", "uid-alpha-web", "example/web:9"));
  EXPECT_TRUE(list.needsReplicaSets()) << "alpha/web-c not seen";
  list.addReplicaSet(replicaSet("alpha", "web-c", "uid-alpha-web", "example/web:3"));
  EXPECT_FALSE(list.needsReplicaSets());

  auto rows = lines(list.render(kNow, true));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0],
            (Cells{"NAMESPACE", "NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "AGE"}));
  EXPECT_EQ(rows[1], (Cells{"alpha", "web", "Degraded", "3/4", "0", "example/web:1",
                            "example/web:3", "120m"}));
  EXPECT_EQ(rows[2][0] + "/" + rows[2][1], "shop/api");
  EXPECT_EQ(rows[3][0] + "/" + rows[3][1], "shop/new");
  EXPECT_EQ(rows[4][0] + "/" + rows[4][1], "shop/web");
  EXPECT_EQ(rows[5], (Cells{"zeta", "web", "Healthy", "-", "-", "example/web:2", "-", "120m"}));

  EXPECT_EQ(list.renderNames(),
            "rollout.mc.maestro.dev/web\nrollout.mc.maestro.dev/api\n"
            "rollout.mc.maestro.dev/new\nrollout.mc.maestro.dev/web\n"
            "rollout.mc.maestro.dev/web\n");
}

TEST(KubectlMcListTest, ImagesComeOnlyFromTheRolloutsOwnReplicaSets) {
  RolloutList list;
  list.addRollout(rollout("shop", "web", "2026-03-01T11:00:00Z", R"({"phase": "Progressing",
    "currentStepIndex": 0, "canaryWeight": 20, "stableRS": "web-aaa", "canaryRS": "web-bbb"})"));
  // web-aaa of another owner (a Rollout of that name deleted and created again).
  list.addReplicaSet(replicaSet("shop", "web-aaa", "uid-someone-else", "example/web:0"));
  list.addReplicaSet(replicaSet(
      "shop", "web-bbb", "uid-shop-web",
      std::string(
          R"([{"name": "app", "image": "example/web:2"}, {"name": "proxy", "image": "envoy:1"}])")));
  EXPECT_TRUE(list.needsReplicaSets());
  auto rows = lines(list.render(kNow, false));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1], (Cells{"web", "Progressing", "1/4", "20", "<unknown>", "example/web:2,envoy:1",
                            "60m"}));

  // A canary MC has not created the ReplicaSet of yet runs the Rollout's template.
  RolloutList early;
  early.addRollout(rollout("shop", "web", "2026-03-01T11:00:00Z", R"({"phase": "Progressing",
    "currentStepIndex": 0, "canaryWeight": 0, "stableRS": "web-aaa", "canaryRS": "web-bbb"})"));
  early.addReplicaSet(replicaSet("shop", "web-aaa", "uid-shop-web", "example/web:1"));
  EXPECT_EQ(lines(early.render(kNow, false))[1],
            (Cells{"web", "Progressing", "1/4", "0", "example/web:1", "example/web:2", "60m"}));
}

TEST(KubectlMcListTest, PhaseFilterKeepsOnlyThosePhases) {
  auto phases = parsePhases({"progressing,DEGRADED", " paused ", "Degraded"});
  ASSERT_TRUE(phases) << phases.error().message;
  EXPECT_EQ(*phases, (std::vector<std::string>{"Progressing", "Degraded", "Paused"}));

  RolloutList list(*phases);
  addShop(list);
  list.addRollout(rollout("shop", "cart", "2026-03-01T11:00:00Z", R"({"phase": "Degraded",
    "currentStepIndex": 1, "canaryWeight": 0, "stableRS": "cart-a", "canaryRS": "cart-b"})"));
  ASSERT_EQ(list.size(), 2u) << "web (Paused) and cart (Degraded); not api, not new";
  auto rows = lines(list.render(kNow, false));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1][0], "cart");
  EXPECT_EQ(rows[1][1], "Degraded");
  EXPECT_EQ(rows[2][0], "web");
  EXPECT_EQ(rows[2][1], "Paused");

  RolloutList healthy(*parsePhases({"healthy"}));
  addShop(healthy);
  ASSERT_EQ(healthy.size(), 1u);
  EXPECT_EQ(lines(healthy.render(kNow, false))[1][0], "api");
}

TEST(KubectlMcListTest, UnknownPhaseIsRejectedNamingTheValidOnes) {
  auto bad = parsePhases({"Progressing,Running"});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::Invalid);
  EXPECT_EQ(bad.error().message,
            "--phase: \"Running\" is not a phase of a Rollout; valid phases: Progressing, Paused, "
            "Healthy, Degraded, RolledBack");
  auto empty = parsePhases({"Healthy,"});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message.rfind("--phase: an empty name is not a phase", 0), 0u)
      << empty.error().message;
  auto none = parsePhases({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(KubectlMcListTest, EmptyResultSaysWhereAndWhichAsKubectlDoes) {
  RolloutList all;
  EXPECT_TRUE(all.empty());
  EXPECT_EQ(all.render(kNow, false), "");
  EXPECT_EQ(all.emptyMessage("shop", false), "No rollouts found in namespace shop.\n");
  EXPECT_EQ(all.emptyMessage("shop", true), "No rollouts found.\n");

  RolloutList degraded(*parsePhases({"degraded,rolledback"}));
  addShop(degraded);
  EXPECT_TRUE(degraded.empty());
  EXPECT_EQ(degraded.emptyMessage("shop", false),
            "No rollouts found in namespace shop with phase Degraded or RolledBack.\n");
}

}  // namespace
}  // namespace mc::cli
