// The Rollout CRD on the real apiserver: what CEL rejects at apply time, and what a round trip
// through the apiserver keeps.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/crds/rollout.h"
#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/runtime/kube_client.h"
#include "mc/testing/io_thread.h"
#include "mc/testing/objects.h"

namespace mc::crds {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using e2e::ControlPlaneEnvironment;

using crds::resources::kRollouts;

json::object rollout(const std::string& name, json::value canary) {
  return json::parse(fmt::format(R"({{
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
    "metadata": {{"name": "{}"}},
    "spec": {{
      "replicas": 4,
      "selector": {{"matchLabels": {{"app": "web"}}}},
      "template": {{"metadata": {{"labels": {{"app": "web"}}}},
                   "spec": {{"containers": [{{"name": "web", "image": "example/web:1",
                                             "futureField": {{"kept": true}}}}]}}}},
      "strategy": {{"canary": {}}}
    }}}})",
                                 name, json::serialize(canary)))
      .as_object();
}

class RolloutCrdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& cp = ControlPlaneEnvironment::get();
    for (const char* crd : {"rollout", "verification_policy", "cluster_verification_policy"}) {
      auto file = e2e::sourceDir() / "crds" / fmt::format("{}.yaml", crd);
      auto applied = cp.kubectl({"apply", "-f", file.string()});
      ASSERT_EQ(applied.exitCode, 0) << applied.output;
    }
    auto established =
        cp.kubectl({"wait", "--for=condition=Established", "crd/rollouts.mc.maestro.dev",
                    "crd/verificationpolicies.mc.maestro.dev",
                    "crd/clusterverificationpolicies.mc.maestro.dev", "--timeout=60s"});
    ASSERT_EQ(established.exitCode, 0) << established.output;
  }
  void SetUp() override {
    auto config = kube::loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(config);
    auto client = kube::KubeClient::create(io_.executor(), *config);
    ASSERT_TRUE(client);
    client_ = std::move(*client);
  }
  // The apiserver's message for a create it refuses ("" if it accepted).
  std::string rejection(json::object object) {
    auto created = io_.run(client_->create(kRollouts, "default", std::move(object)));
    if (created) {
      return "";
    }
    EXPECT_EQ(created.error().kind, ErrorKind::Invalid) << created.error().describe();
    return created.error().message;
  }

  test::IoThread io_;
  kube::KubeClientPtr client_;
};

TEST_F(RolloutCrdTest, CelRejectsWhatTheApiserverCanJudge) {
  struct Case {
    std::string name;
    const char* canary;
    const char* mentions;
  };
  for (const auto& c : std::vector<Case>{
           {"two-kinds", R"({"steps": [{"setWeight": 10, "pause": {}}]})",
            "a step has exactly one of setWeight, pause, analysis"},
           {"empty-step", R"({"steps": [{}]})",
            "a step has exactly one of setWeight, pause, analysis"},
           {"weight-over", R"({"steps": [{"setWeight": 160}]})",
            "spec.strategy.canary.steps[0].setWeight"},
           {"weight-under", R"({"steps": [{"setWeight": -1}]})",
            "spec.strategy.canary.steps[0].setWeight"},
           {"bad-duration", R"({"steps": [{"pause": {"duration": "soon"}}]})",
            "spec.strategy.canary.steps[0].pause.duration"},
           {"two-routers",
            R"({"stableService": "s", "canaryService": "c",
                "trafficRouting": {"nginx": {"stableIngress": "i"}, "istio": {"virtualService": "v"}}})",
            "trafficRouting names at most one router"},
           {"routing-no-services", R"({"trafficRouting": {"nginx": {"stableIngress": "i"}}})",
            "trafficRouting needs stableService and canaryService"},
       }) {
    auto message = rejection(rollout(c.name, json::parse(c.canary)));
    EXPECT_NE(message.find(c.mentions), std::string::npos) << c.name << ": " << message;
  }
  auto negativeReplicas = rollout("negative", json::object{});
  negativeReplicas["spec"].as_object()["replicas"] = -1;
  EXPECT_NE(rejection(negativeReplicas).find("spec.replicas"), std::string::npos);
}

TEST_F(RolloutCrdTest, RoundTripThroughTheApiserverKeepsTheTemplate) {
  auto created = io_.run(client_->create(
      kRollouts, "default",
      rollout("web", json::parse(R"({"steps": [{"setWeight": 20}, {"pause": {"duration": "1m"}},
                                               {"analysis": {"templates": [{"templateName": "errors"}]}}]})"))));
  ASSERT_TRUE(created) << created.error().describe();
  auto fetched = io_.run(client_->get(kRollouts, "default", "web"));
  ASSERT_TRUE(fetched);
  auto parsed = readRollout(json::value(*fetched)).value();
  EXPECT_EQ(parsed.spec.replicas, 4);
  EXPECT_EQ(parsed.spec.revisionHistoryLimit, 10) << "the CRD's default";
  ASSERT_EQ(effectiveSteps(parsed.spec).size(), 3u);
  EXPECT_EQ(effectiveSteps(parsed.spec)[1].pause->duration, "1m");
  EXPECT_TRUE(parsed.spec.podTemplate.at("spec")
                  .at("containers")
                  .at(0)
                  .at("futureField")
                  .at("kept")
                  .as_bool());
  // Written back, the object is what the apiserver holds (metadata aside): nothing dropped.
  auto written = json::value_from(parsed).as_object();
  EXPECT_EQ(written.at("spec"), fetched->at("spec"));
}

TEST_F(RolloutCrdTest, ScaleSubresourceSetsReplicas) {
  ASSERT_TRUE(io_.run(client_->create(kRollouts, "default", rollout("scaled", json::object{}))));
  auto scale = io_.run(client_->get(kRollouts, "default", "scaled", "scale"));
  ASSERT_TRUE(scale) << scale.error().describe();
  EXPECT_EQ(scale->at("spec").at("replicas").as_int64(), 4);
  auto patched = io_.run(client_->patch(kRollouts, "default", "scaled", kube::PatchType::Merge,
                                        R"({"spec":{"replicas":7}})", {.subresource = "scale"}));
  ASSERT_TRUE(patched) << patched.error().describe();
  auto after = io_.run(client_->get(kRollouts, "default", "scaled"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->at("spec").at("replicas").as_int64(), 7);
  auto printed = ControlPlaneEnvironment::get().kubectl({"get", "mcro", "scaled"});
  EXPECT_NE(printed.output.find("DESIRED"), std::string::npos) << printed.output;
  auto category = ControlPlaneEnvironment::get().kubectl({"get", "mc"});
  EXPECT_EQ(category.exitCode, 0) << category.output;
}

// As for a Deployment: a Rollout can be scaled to zero (maintenance, cost, an autoscaler that
// allows it) by kubectl and through the scale subresource, and 0 stays 0, not the default.
TEST_F(RolloutCrdTest, ScaleToZeroIsAccepted) {
  auto zero = rollout("zero", json::object{});
  zero["spec"].as_object()["replicas"] = 0;
  EXPECT_EQ(rejection(zero), "") << "created at 0";
  auto created = io_.run(client_->get(kRollouts, "default", "zero"));
  ASSERT_TRUE(created);
  EXPECT_EQ(created->at("spec").at("replicas").as_int64(), 0);

  auto& cp = ControlPlaneEnvironment::get();
  ASSERT_TRUE(io_.run(client_->create(kRollouts, "default", rollout("to-zero", json::object{}))));
  auto scaled = cp.kubectl({"scale", "rollouts.mc.maestro.dev/to-zero", "--replicas=0"});
  ASSERT_EQ(scaled.exitCode, 0) << scaled.output;
  auto after = io_.run(client_->get(kRollouts, "default", "to-zero"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->at("spec").at("replicas").as_int64(), 0);
  auto scale = io_.run(client_->get(kRollouts, "default", "to-zero", "scale"));
  ASSERT_TRUE(scale) << scale.error().describe();
  // autoscaling/v1 Scale omits a spec.replicas of 0 (omitempty): absent reads as 0 there.
  const auto* scaleReplicas = scale->at("spec").as_object().if_contains("replicas");
  EXPECT_TRUE(scaleReplicas == nullptr || scaleReplicas->as_int64() == 0) << *scale;
  auto parsed = readRollout(json::value(*after)).value();
  EXPECT_EQ(parsed.spec.replicas, 0) << "0, not absent";

  auto negative = cp.kubectl({"scale", "rollouts.mc.maestro.dev/to-zero", "--replicas=-1"});
  EXPECT_NE(negative.exitCode, 0) << negative.output;
  auto up = cp.kubectl({"scale", "mcro/to-zero", "--replicas=3"});
  ASSERT_EQ(up.exitCode, 0) << up.output;
  auto back = io_.run(client_->get(kRollouts, "default", "to-zero"));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->at("spec").at("replicas").as_int64(), 3);
}

// The verification policies' rules, as the apiserver applies them: a key is a Secret or inline,
// a namespaced policy (or spec.verify) reads Secrets of its own namespace, a cluster policy names
// each Secret's namespace, spec.verify names a policy or holds one, and waivers are complete.
TEST_F(RolloutCrdTest, VerificationPoliciesAreJudgedAtApplyTime) {
  const kube::ResourceType& policies = resources::kVerificationPolicies;
  const kube::ResourceType& clusterPolicies = resources::kClusterVerificationPolicies;
  auto policy = [](const std::string& kind, const std::string& name, const char* spec) {
    return json::parse(fmt::format(R"({{"apiVersion": "mc.maestro.dev/v1alpha1", "kind": "{}",
        "metadata": {{"name": "{}"}}, "spec": {}}})",
                                   kind, name, spec))
        .as_object();
  };
  auto refusal = [&](const kube::ResourceType& type, json::object object) {
    auto created =
        io_.run(client_->create(type, type.namespaced ? "default" : "", std::move(object)));
    return created ? std::string() : created.error().message;
  };
  const char* waiver =
      R"({"digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
                           "owner": "alice", "reason": "INC-7", "expires": "2026-12-31T00:00:00Z"})";
  EXPECT_EQ(refusal(policies, policy("VerificationPolicy", "ok",
                                     fmt::format(R"({{
      "images": ["docker.io/example/**"], "keys": [{{"secretRef": {{"name": "cosign"}}}},
      {{"publicKey": "-----BEGIN PUBLIC KEY-----"}}], "waivers": [{}]}})",
                                                 waiver)
                                         .c_str())),
            "");
  EXPECT_NE(refusal(policies, policy("VerificationPolicy", "elsewhere", R"({
      "keys": [{"secretRef": {"name": "cosign", "namespace": "other"}}]})"))
                .find("secretRef.namespace must be absent"),
            std::string::npos);
  EXPECT_NE(refusal(policies, policy("VerificationPolicy", "both", R"({
      "keys": [{"secretRef": {"name": "cosign"}, "publicKey": "pem"}]})"))
                .find("a key is a secretRef or an inline publicKey"),
            std::string::npos);
  EXPECT_NE(refusal(policies, policy("VerificationPolicy", "half-waiver", R"({
      "waivers": [{"digest": "sha256:11", "owner": "alice"}]})")),
            "");
  EXPECT_EQ(refusal(clusterPolicies, policy("ClusterVerificationPolicy", "ok", R"({
      "images": ["ghcr.io/acme/**"], "allowNamespaceWaivers": true,
      "keys": [{"secretRef": {"name": "cosign", "namespace": "mc-system"}}]})")),
            "");
  EXPECT_NE(refusal(clusterPolicies, policy("ClusterVerificationPolicy", "no-namespace", R"({
      "keys": [{"secretRef": {"name": "cosign"}}]})"))
                .find("names each key Secret's namespace"),
            std::string::npos);

  auto verified = rollout("verified", json::parse(R"({"steps": [{"setWeight": 50}],
      "bake": {"duration": "10m"}})"));
  verified["spec"].as_object()["verify"] =
      json::parse(R"({"policyRef": {"kind": "VerificationPolicy", "name": "ok"}})");
  EXPECT_EQ(rejection(verified), "");
  auto both = rollout("both", json::parse("{}"));
  both["spec"].as_object()["verify"] = json::parse(R"({
      "policyRef": {"kind": "ClusterVerificationPolicy", "name": "ok"},
      "keys": [{"publicKey": "pem"}]})");
  EXPECT_NE(rejection(both).find("names a policy (policyRef) or holds one inline, not both"),
            std::string::npos);
  auto badBake = rollout("bad-bake", json::parse(R"({"bake": {"duration": "soon"}})"));
  EXPECT_NE(rejection(badBake), "");
}

}  // namespace
}  // namespace mc::crds

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
