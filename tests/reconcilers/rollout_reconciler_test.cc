// RolloutReconciler end to end without an apiserver: gather -> plan -> record -> status ->
// converge, on the fake apiserver, with the real informers filling its caches and the test
// playing the ReplicaSet controller (and kubectl mc). Each test asserts the objects at the end:
// the Rollout's status, the ReplicaSets, the Services, the route and the Events.
#include "mc/reconcilers/rollout_reconciler.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>

#include "mc/audit/chain.h"
#include "mc/audit/writer.h"
#include "mc/common/json.h"
#include "mc/crds/pod_template_hash.h"
#include "mc/e2e/poll.h"
#include "mc/runtime/events.h"
#include "mc/runtime/informer.h"
#include "mc/runtime/secret.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"
#include "signing/test_keys.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using test::FakeApiServer;
using test::Verb;

// The API as a user (and kubectl) spells it, so these tests do not move with MC's constants.
const kube::ResourceType kRollouts{"mc.maestro.dev", "v1alpha1", "rollouts"};
const kube::ResourceType kReplicaSets = kube::resources::kReplicaSets;
const kube::ResourceType kServices = kube::resources::kServices;
const kube::ResourceType kEvents = kube::resources::kEvents;
const kube::ResourceType kHttpRoutes{"gateway.networking.k8s.io", "v1", "httproutes"};
const kube::ResourceType kRuns{"mc.maestro.dev", "v1alpha1", "analysisruns"};
const kube::ResourceType kTemplates{"mc.maestro.dev", "v1alpha1", "analysistemplates"};
const kube::ResourceType kClusterTemplates{"mc.maestro.dev", "v1alpha1", "clusteranalysistemplates",
                                           false};
const kube::ResourceType kAuditRecords{"mc.maestro.dev", "v1alpha1", "auditrecords"};
const kube::ResourceType kAuditChains{"mc.maestro.dev", "v1alpha1", "auditchains"};
const kube::ResourceType kPolicies{"mc.maestro.dev", "v1alpha1", "verificationpolicies"};
const kube::ResourceType kClusterPolicies{"mc.maestro.dev", "v1alpha1",
                                          "clusterverificationpolicies", false};
constexpr const char* kHashLabel = "mc.maestro.dev/pod-template-hash";
constexpr const char* kNs = "shop";
const std::string kStatus = "status";

json::object podTemplate(const std::string& image) {
  return json::object{
      {"metadata", {{"labels", {{"app", "web"}}}}},
      {"spec", {{"containers", json::array{json::object{{"name", "web"}, {"image", image}}}}}}};
}

std::string hashOf(const std::string& image, int32_t collisionCount = 0) {
  return crds::podTemplateHash(podTemplate(image), collisionCount);
}

json::object rolloutObject(const std::string& image, std::string_view canary, int replicas = 10) {
  return {{"apiVersion", "mc.maestro.dev/v1alpha1"},
          {"kind", "Rollout"},
          {"metadata", {{"name", "web"}, {"namespace", kNs}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", "web"}}}}},
            {"template", podTemplate(image)},
            {"strategy", {{"canary", json::parse(canary)}}}}}};
}

json::object service(const std::string& name) {
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", name}, {"namespace", kNs}}},
          {"spec",
           {{"selector", {{"app", "web"}}}, {"ports", json::array{json::object{{"port", 80}}}}}}};
}

json::object httpRoute() {
  return json::parse(fmt::format(R"({{"apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "HTTPRoute", "metadata": {{"name": "web", "namespace": "{}"}},
    "spec": {{"parentRefs": [{{"name": "gateway"}}],
              "rules": [{{"backendRefs": [{{"name": "web-stable", "port": 80, "weight": 100}}]}}]}}}})",
                                 kNs))
      .as_object();
}

const char* kServicesField = R"("stableService": "web-stable", "canaryService": "web-canary")";

RolloutReconcilerOptions testOptions() {
  RolloutReconcilerOptions options;
  options.scaleDownDelay = 30s;
  options.countsDebounce = 0ms;  // pod counts written at once: every round is comparable
  return options;
}

// A string or an integer at a path of object keys ("" or the fallback if absent).
std::string text(const json::value& value, std::initializer_list<std::string_view> path) {
  const json::value* at = valueAt(value, path);
  return at && at->is_string() ? std::string(at->as_string()) : std::string();
}
int64_t number(const json::value& value, std::initializer_list<std::string_view> path,
               int64_t fallback) {
  const json::value* at = valueAt(value, path);
  return at && at->is_int64() ? at->as_int64() : fallback;
}

// What the ReplicaSet controller and the kubelets would do: every pod of MC's ReplicaSets comes
// up and is available at once.
void playReplicaSetController(FakeApiServer& fake) {
  for (const auto& rs : fake.items(kReplicaSets, kNs, kHashLabel)) {
    int64_t replicas = intAt(objectAt(rs, "spec"), "replicas", 1);
    int64_t generation = intAt(objectAt(rs, "metadata"), "generation", 0);
    auto edited = fake.editStatus(kReplicaSets, kNs, kube::nameOf(rs), [&](json::object& s) {
      s["replicas"] = replicas;
      s["readyReplicas"] = replicas;
      s["availableReplicas"] = replicas;
      s["observedGeneration"] = generation;
    });
    EXPECT_TRUE(edited);
  }
}

bool inStep(kube::Store& store, const std::vector<json::object>& items) {
  if (store.size() != items.size()) {
    return false;
  }
  for (const auto& item : items) {
    auto cached = store.get(kube::keyOf(item));
    if (!cached || kube::resourceVersionOf(*cached) != kube::resourceVersionOf(item)) {
      return false;
    }
  }
  return true;
}

// One mc-operator and the cluster it runs in: the fake apiserver, the clock, and a Rollout
// reconciler with caches of its own that a test may throw away (a crash) and start afresh.
class RolloutWorld {
 public:
  explicit RolloutWorld(RolloutReconcilerOptions options = testOptions()) : options_(options) {}
  ~RolloutWorld() { crash(); }

  FakeApiServer& fake() { return fake_; }
  test::FakeClock& clock() { return clock_; }
  test::IoThread& io() { return io_; }

  // A freshly started mc-operator: informers of its own, a recorder, a reconciler (verifying
  // images with `checker`, if one is given).
  void start(signing::ImageChecker* checker = nullptr) {
    operator_ = std::make_unique<Operator>(fake_, clock_, options_, io_, checker);
  }
  // Everything the operator held in memory is gone, as after a SIGKILL.
  void crash() { operator_.reset(); }

  // One reconcile of the Rollout, once the caches hold what the apiserver holds (as they do a
  // moment after any write; the controller's watch events would requeue it then).
  Result<kube::ReconcileResult> reconcile() {
    EXPECT_TRUE(e2e::pollUntil([&] { return cachesInStep(); }, 5s, 1ms)) << "caches lag";
    kube::ReconcileRequest request{kNs, "web", "test", logging::Logger()};
    return io_.run(operator_->reconciler.reconcile(request));
  }

  // Reconciles, with the test playing the ReplicaSet controller, until a round changes nothing
  // (the canary waits for a promote, a pause, or is done).
  bool settle() {
    for (int round = 0; round < 100; ++round) {
      auto before = fake_.resourceVersion();
      auto result = reconcile();
      if (!result) {
        lastError_ = result.error().describe();
      }
      playReplicaSetController();
      if (fake_.resourceVersion() == before) {
        return true;
      }
    }
    return false;
  }

  void playReplicaSetController() { reconcilers::playReplicaSetController(fake_); }

  json::object rollout() const { return *fake_.read(kRollouts, kNs, "web"); }
  json::value status() const {
    auto object = rollout();
    return object.contains("status") ? object.at("status") : json::value(json::object());
  }
  std::string statusText(std::string_view field) const { return text(status(), {field}); }
  int64_t statusInt(std::string_view field) const { return number(status(), {field}, -1); }
  const std::string& lastError() const { return lastError_; }

  // The condition of `type` in the Rollout's status (null if none).
  json::object condition(std::string_view type) const {
    auto s = status();
    if (const auto* conditions = arrayAt(s.as_object(), "conditions")) {
      for (const auto& c : *conditions) {
        if (c.is_object() && stringAt(c.as_object(), "type") == type) {
          return c.as_object();
        }
      }
    }
    return {};
  }

  // MC's ReplicaSets by pod-template hash.
  std::map<std::string, json::object> replicaSets() const {
    std::map<std::string, json::object> out;
    for (auto& rs : fake_.items(kReplicaSets, kNs, kHashLabel)) {
      out[text(rs, {"metadata", "labels", kHashLabel})] = rs;
    }
    return out;
  }
  int64_t replicasOf(const std::string& hash) const {
    auto sets = replicaSets();
    return sets.count(hash) ? intAt(objectAt(sets[hash], "spec"), "replicas", -1) : -1;
  }
  int64_t availableOf(const std::string& hash) const {
    auto sets = replicaSets();
    return sets.count(hash) ? intAt(objectAt(sets[hash], "status"), "availableReplicas", -1) : -1;
  }

  std::string selectorHashOf(const std::string& serviceName) const {
    auto object = fake_.read(kServices, kNs, serviceName);
    return object ? text(*object, {"spec", "selector", kHashLabel}) : "";
  }

  // The Events about the Rollout, counted by reason (and "Warning" for all warnings).
  std::map<std::string, int> events() const {
    std::map<std::string, int> counts;
    for (const auto& event : fake_.items(kEvents, kNs)) {
      if (text(event, {"regarding", "kind"}) == "Rollout") {
        ++counts[text(event, {"reason"})];
        if (text(event, {"type"}) == "Warning") {
          ++counts["Warning"];
        }
      }
    }
    return counts;
  }
  // The StepAdvanced Events by their step ("step 2/5").
  std::map<std::string, int> stepEvents() const {
    std::map<std::string, int> counts;
    for (const auto& event : fake_.items(kEvents, kNs)) {
      if (text(event, {"reason"}) == "StepAdvanced") {
        std::string note = text(event, {"note"});
        ++counts[note.substr(0, note.find(':'))];
      }
    }
    return counts;
  }

  // As `kubectl apply` of a new template: spec changes, status stays.
  void setImage(const std::string& image) {
    auto object = rollout();
    object["spec"].as_object()["template"] = podTemplate(image);
    fake_.put(kRollouts, std::move(object));
  }

  // The Rollout's audit chain in seq order, "Action by actor" each, and its verdict.
  std::vector<std::string> auditTrail() const {
    std::vector<std::pair<int64_t, std::string>> records;
    for (const auto& item : fake_.items(kAuditRecords, kNs)) {
      auto spec = crds::readAuditRecordSpec(item.at("spec"));
      EXPECT_TRUE(spec);
      records.emplace_back(spec->seq, spec->action + " by " + spec->actor);
    }
    std::sort(records.begin(), records.end());
    std::vector<std::string> out;
    for (auto& [seq, line] : records) out.push_back(std::move(line));
    return out;
  }
  audit::ChainVerdict verifyAudit() const {
    std::vector<audit::ChainRecord> records;
    for (const auto& item : fake_.items(kAuditRecords, kNs)) {
      records.push_back({kube::nameOf(item), *crds::readAuditRecordSpec(item.at("spec"))});
    }
    auto chain = fake_.read(kAuditChains, kNs, "rollout-web");
    return audit::verifyChain("rollout-web", records,
                              chain ? *crds::readAuditChainHead(*chain) : crds::AuditChainHead{});
  }
  // The `to` of every record of `action`, in seq order.
  std::vector<std::string> auditTargets(const std::string& action) const {
    std::map<int64_t, std::string> targets;
    for (const auto& item : fake_.items(kAuditRecords, kNs)) {
      auto spec = crds::readAuditRecordSpec(item.at("spec"));
      if (spec && spec->action == action) targets[spec->seq] = spec->to;
    }
    std::vector<std::string> out;
    for (auto& [seq, to] : targets) out.push_back(to);
    return out;
  }
  crds::AuditRecordSpec auditRecord(const std::string& action) const {
    for (const auto& item : fake_.items(kAuditRecords, kNs)) {
      auto spec = crds::readAuditRecordSpec(item.at("spec"));
      if (spec && spec->action == action) return *spec;
    }
    ADD_FAILURE() << "no " << action << " record";
    return {};
  }

  // As `kubectl mc promote` writes it: the step it read, at the version it read, and who asked.
  Result<json::object> promote() {
    auto object = rollout();
    auto body =
        fmt::format(R"({{"metadata":{{"resourceVersion":"{}"}},"status":{{"promoteStep":{},)"
                    R"("requestedBy":"alice@example.com","requestReason":"CHG-42 looks good"}}}})",
                    kube::resourceVersionOf(object), statusInt("currentStepIndex"));
    return io_.run(fake_.patch(kRollouts, kNs, "web", kube::PatchType::Merge, body,
                               kube::PatchOptions{kStatus}));
  }

  // The weights the HTTPRoute's first rule gives each Service.
  std::map<std::string, int64_t> routeWeights() const {
    std::map<std::string, int64_t> weights;
    auto route = fake_.read(kHttpRoutes, kNs, "web");
    const auto* rules = route ? arrayAt(objectAt(*route, "spec"), "rules") : nullptr;
    const auto* refs = rules && !rules->empty() && rules->at(0).is_object()
                           ? arrayAt(rules->at(0).as_object(), "backendRefs")
                           : nullptr;
    for (const auto& ref : refs ? *refs : json::array()) {
      weights[stringAt(ref.as_object(), "name")] = intAt(ref.as_object(), "weight", 1);
    }
    return weights;
  }

 private:
  struct Operator {
    Operator(FakeApiServer& fake, const Clock& clock, RolloutReconcilerOptions options,
             test::IoThread& io, signing::ImageChecker* checker)
        : recorder(fake, kube::EventRecorderOptions{}, clock),
          auditLog(fake, nullptr),
          reconciler(fake, recorder, options, clock),
          rollouts(fake, kRollouts, kNs),
          replicaSets(fake, kReplicaSets, kNs, ownedOptions()),
          runs(fake, kRuns, kNs),
          templates(fake, kTemplates, kNs),
          clusterTemplates(fake, kClusterTemplates, ""),
          policies(fake, kPolicies, kNs),
          clusterPolicies(fake, kClusterPolicies, "") {
      // As makeRolloutController wires them.
      reconciler.useCaches(rollouts.store(), replicaSets.store());
      reconciler.useAnalysisCaches(runs.store(), templates.store(), clusterTemplates.store());
      reconciler.useAuditLog(auditLog);
      if (checker != nullptr) {
        reconciler.useVerification(*checker, policies.store(), clusterPolicies.store());
      }
      for (auto* informer : informers()) {
        done.push_back(boost::asio::co_spawn(io.io(), informer->run(), boost::asio::use_future));
      }
      done.push_back(boost::asio::co_spawn(io.io(), recorder.run(), boost::asio::use_future));
    }
    std::vector<kube::Informer*> informers() {
      return {&rollouts,         &replicaSets, &runs,           &templates,
              &clusterTemplates, &policies,    &clusterPolicies};
    }
    ~Operator() {
      for (auto* informer : informers()) {
        informer->stop();
      }
      recorder.stop();
      for (auto& future : done) {
        EXPECT_EQ(future.wait_for(5s), std::future_status::ready);
      }
    }
    static kube::InformerOptions ownedOptions() {
      kube::InformerOptions options;
      options.labelSelector = kHashLabel;  // only MC's ReplicaSets, as makeRolloutController
      return options;
    }

    kube::EventRecorder recorder;
    audit::ChainWriter auditLog;
    RolloutReconciler reconciler;
    kube::Informer rollouts;
    kube::Informer replicaSets;
    kube::Informer runs;
    kube::Informer templates;
    kube::Informer clusterTemplates;
    kube::Informer policies;
    kube::Informer clusterPolicies;
    std::vector<std::future<void>> done;
  };

  bool cachesInStep() {
    auto& o = *operator_;
    return o.rollouts.hasSynced() && o.replicaSets.hasSynced() && o.runs.hasSynced() &&
           o.templates.hasSynced() && o.clusterTemplates.hasSynced() && o.policies.hasSynced() &&
           o.clusterPolicies.hasSynced() &&
           inStep(o.policies.store(), fake_.items(kPolicies, kNs)) &&
           inStep(o.clusterPolicies.store(), fake_.items(kClusterPolicies, "")) &&
           inStep(o.rollouts.store(), fake_.items(kRollouts, kNs)) &&
           inStep(o.replicaSets.store(), fake_.items(kReplicaSets, kNs, kHashLabel)) &&
           inStep(o.runs.store(), fake_.items(kRuns, kNs)) &&
           inStep(o.templates.store(), fake_.items(kTemplates, kNs));
  }

  test::FakeClock clock_;
  FakeApiServer fake_{clock_};
  test::IoThread io_;
  RolloutReconcilerOptions options_;
  std::unique_ptr<Operator> operator_;
  std::string lastError_;
};

// v1 deployed and Healthy: the world the canary tests start from.
void deployV1(RolloutWorld& world, std::string_view canary) {
  world.fake().put(kRollouts, rolloutObject("example/web:1", canary));
  world.start();
  ASSERT_TRUE(world.settle()) << world.lastError();
  ASSERT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
  ASSERT_EQ(world.statusText("stablePodHash"), hashOf("example/web:1"));
  ASSERT_EQ(world.availableOf(hashOf("example/web:1")), 10);
  ASSERT_TRUE(world.events().empty()) << "the first template is deployed without a canary";
}

// --- 1. A whole canary, v1 -> v2 -> Healthy ---

struct CanaryCase {
  const char* name;
  bool routed;  // Gateway API HTTPRoute; else the replica ratio
};

void PrintTo(const CanaryCase& c, std::ostream* os) { *os << c.name; }

class WholeCanaryTest : public ::testing::TestWithParam<CanaryCase> {};

TEST_P(WholeCanaryTest, StepsPromotedPauseTimedPauseAndPromotion) {
  const bool routed = GetParam().routed;
  const std::string canary = fmt::format(
      R"({{{}, {} "steps": [{{"setWeight": 20}}, {{"pause": {{}}}}, {{"setWeight": 60}},
          {{"pause": {{"duration": "30s"}}}}, {{"setWeight": 100}}]}})",
      kServicesField, routed ? R"("trafficRouting": {"gatewayAPI": {"httpRoute": "web"}},)" : "");
  RolloutWorld world;
  world.fake().put(kServices, service("web-stable"));
  world.fake().put(kServices, service("web-canary"));
  if (routed) {
    world.fake().put(kHttpRoutes, httpRoute());
  }
  ASSERT_NO_FATAL_FAILURE(deployV1(world, canary));
  const std::string v1 = hashOf("example/web:1");
  const std::string v2 = hashOf("example/web:2");
  EXPECT_EQ(world.selectorHashOf("web-stable"), v1);
  EXPECT_EQ(world.selectorHashOf("web-canary"), v1);

  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  // Step 1/5 done (20%), waiting at the pause for a promote.
  EXPECT_EQ(world.statusInt("currentStepIndex"), 1);
  EXPECT_EQ(world.statusText("phase"), "Paused");
  EXPECT_EQ(stringAt(world.condition("Paused"), "reason"), "CanaryPauseStep");
  EXPECT_EQ(world.statusInt("canaryWeight"), 20);
  EXPECT_EQ(world.statusText("currentPodHash"), v2);
  EXPECT_EQ(world.statusText("stablePodHash"), v1);
  EXPECT_EQ(world.replicasOf(v2), 2);
  EXPECT_EQ(world.availableOf(v2), 2);
  EXPECT_EQ(world.replicasOf(v1), routed ? 10 : 8);
  EXPECT_EQ(world.selectorHashOf("web-stable"), v1);
  EXPECT_EQ(world.selectorHashOf("web-canary"), v2);
  if (routed) {
    EXPECT_EQ(world.routeWeights(),
              (std::map<std::string, int64_t>{{"web-stable", 80}, {"web-canary", 20}}));
  }
  ASSERT_TRUE(world.settle());
  EXPECT_EQ(world.statusInt("currentStepIndex"), 1) << "a pause without duration holds";

  ASSERT_TRUE(world.promote());
  ASSERT_TRUE(world.settle()) << world.lastError();
  // 60%, then the timed pause.
  EXPECT_EQ(world.statusInt("currentStepIndex"), 3);
  EXPECT_EQ(world.statusText("phase"), "Paused");
  EXPECT_EQ(world.statusInt("canaryWeight"), 60);
  EXPECT_FALSE(world.status().as_object().contains("promoteStep")) << "the request is cleared";
  EXPECT_EQ(world.replicasOf(v2), 6);
  EXPECT_EQ(world.replicasOf(v1), routed ? 10 : 4);
  if (routed) {
    EXPECT_EQ(world.routeWeights(),
              (std::map<std::string, int64_t>{{"web-stable", 40}, {"web-canary", 60}}));
  }
  world.clock().advance(29s);
  ASSERT_TRUE(world.settle());
  EXPECT_EQ(world.statusInt("currentStepIndex"), 3) << "29 s of a 30 s pause";

  world.clock().advance(1s);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
  EXPECT_EQ(world.statusText("stablePodHash"), v2);
  EXPECT_EQ(world.statusText("stableRS"), "web-" + v2);
  EXPECT_EQ(world.availableOf(v2), 10);
  // The demoted stable keeps its pods for the scale-down delay (the routes settle first).
  world.clock().advance(30s);
  ASSERT_TRUE(world.settle()) << world.lastError();

  auto status = world.status().as_object();
  EXPECT_EQ(world.statusText("phase"), "Healthy");
  EXPECT_EQ(world.statusInt("currentStepIndex"), 5);
  EXPECT_EQ(world.statusInt("canaryWeight"), 0);
  EXPECT_FALSE(status.contains("canaryRS"));
  EXPECT_EQ(world.statusInt("observedGeneration"),
            intAt(objectAt(world.rollout(), "metadata"), "generation", 0));
  EXPECT_EQ(world.statusInt("availableReplicas"), 10);
  EXPECT_EQ(stringAt(world.condition("Completed"), "status"), "True");
  EXPECT_EQ(stringAt(world.condition("Available"), "status"), "True");
  EXPECT_EQ(stringAt(world.condition("InvalidSpec"), "status"), "False");
  EXPECT_EQ(world.replicasOf(v2), 10);
  EXPECT_EQ(world.replicasOf(v1), 0);
  EXPECT_EQ(world.replicaSets().size(), 2u) << "the old stable is kept as history";
  EXPECT_EQ(text(world.replicaSets()[v2], {"metadata", "annotations", "mc.maestro.dev/revision"}),
            "2");
  EXPECT_EQ(world.selectorHashOf("web-stable"), v2);
  EXPECT_EQ(world.selectorHashOf("web-canary"), v2);
  if (routed) {
    EXPECT_EQ(world.routeWeights(),
              (std::map<std::string, int64_t>{{"web-stable", 100}, {"web-canary", 0}}));
  }
  auto events = world.events();
  EXPECT_EQ(events["RolloutStarted"], 1);
  EXPECT_EQ(events["StepAdvanced"], 5) << "one per step";
  EXPECT_EQ(events["Paused"], 2);
  EXPECT_EQ(events["Promoted"], 1);
  EXPECT_EQ(events["RolloutCompleted"], 1);
  EXPECT_EQ(events["Warning"], 0);
  // Each decision on record once, in order, who made it, in a chain that verifies.
  EXPECT_EQ(world.auditTrail(),
            (std::vector<std::string>{
                "CanaryStarted by mc", "StepAdvanced by mc", "StepAdvanced by mc", "Paused by mc",
                "Promoted by alice@example.com", "StepAdvanced by mc", "StepAdvanced by mc",
                "Paused by mc", "StepAdvanced by mc", "Completed by mc"}));
  auto verdict = world.verifyAudit();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
  auto promoted = world.auditRecord("Promoted");
  EXPECT_EQ(promoted.subject, "Rollout/web");
  EXPECT_EQ(promoted.revision, 2);
  EXPECT_EQ(promoted.from, "web=example/web:1");
  EXPECT_EQ(promoted.to, "web=example/web:2");
  EXPECT_EQ(promoted.reason.rfind("CHG-42 looks good (", 0), 0u) << promoted.reason;
  EXPECT_EQ(promoted.evidence.at("canaryWeight"), "60");
  EXPECT_EQ(promoted.evidence.at("previousCanaryWeight"), "20");
  auto completed = world.auditRecord("Completed");
  EXPECT_EQ(completed.evidence.at("stableReplicaSet"), json::value("web-" + v1));
}

INSTANTIATE_TEST_SUITE_P(Routers, WholeCanaryTest,
                         ::testing::Values(CanaryCase{"ReplicaRatio", false},
                                           CanaryCase{"GatewayApi", true}),
                         [](const auto& info) { return std::string(info.param.name); });

// --- 2, 3. A write that fails before the decision is carried out ---

constexpr const char* kTwoSteps = R"({"steps": [{"setWeight": 50}, {"setWeight": 100}]})";

struct RefusedWrite {
  const char* name;
  Verb verb;
  const char* resource;
  ErrorKind kind;
  int status;
  bool statusWriteTried;
};

void PrintTo(const RefusedWrite& c, std::ostream* os) { *os << c.name; }

class RefusedWriteTest : public ::testing::TestWithParam<RefusedWrite> {};

// The reconcile that meets the error takes no action (no ReplicaSet, scale, Service or status
// change), and the next ones complete the canary with no decision on record twice.
TEST_P(RefusedWriteTest, NothingIsDoneAndTheCanaryStillCompletes) {
  const auto& c = GetParam();
  RolloutWorld world;
  ASSERT_NO_FATAL_FAILURE(deployV1(world, kTwoSteps));
  world.setImage("example/web:2");
  const auto rolloutBefore = world.rollout();
  const auto replicaSetsBefore = world.replicaSets();
  const int statusWrites = world.fake().calls(Verb::Update, "rollouts/status");
  const int replicaSetWrites = world.fake().writes("replicasets");

  world.fake().failNext(c.verb, c.resource, 1, makeError(c.kind, "injected", c.status));
  auto result = world.reconcile();
  ASSERT_FALSE(result) << "the injected error must reach the reconcile";
  EXPECT_EQ(result.error().message, "injected");
  EXPECT_EQ(world.fake().calls(Verb::Update, "rollouts/status") - statusWrites,
            c.statusWriteTried ? 1 : 0);
  EXPECT_EQ(world.rollout(), rolloutBefore) << "status unchanged";
  EXPECT_EQ(world.replicaSets(), replicaSetsBefore) << "no ReplicaSet created or scaled";
  EXPECT_EQ(world.fake().writes("replicasets"), replicaSetWrites);
  EXPECT_EQ(world.fake().writes("services"), 0);

  ASSERT_TRUE(world.settle()) << world.lastError();
  const std::string v2 = hashOf("example/web:2");
  EXPECT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
  EXPECT_EQ(world.statusText("stablePodHash"), v2);
  EXPECT_EQ(world.availableOf(v2), 10);
  EXPECT_EQ(world.replicasOf(hashOf("example/web:1")), 0);
  auto events = world.events();
  EXPECT_EQ(events["RolloutStarted"], 1);
  EXPECT_EQ(events["StepAdvanced"], 2);
  EXPECT_EQ(events["RolloutCompleted"], 1);
  EXPECT_EQ(world.auditTrail(),
            (std::vector<std::string>{"CanaryStarted by mc", "StepAdvanced by mc",
                                      "StepAdvanced by mc", "Completed by mc"}));
  EXPECT_TRUE(world.verifyAudit().intact());
}

INSTANTIATE_TEST_SUITE_P(
    Writes, RefusedWriteTest,
    ::testing::Values(RefusedWrite{"StatusWriteConflict", Verb::Update, "rollouts/status",
                                   ErrorKind::Conflict, 409, true},
                      RefusedWrite{"DecisionEventRefused", Verb::Create, "events",
                                   ErrorKind::Forbidden, 403, false},
                      RefusedWrite{"AuditRecordRefused", Verb::Create, "auditrecords",
                                   ErrorKind::Forbidden, 403, false},
                      RefusedWrite{"AuditHeadRefused", Verb::Update, "auditchains/status",
                                   ErrorKind::Conflict, 409, false}),
    [](const auto& info) { return std::string(info.param.name); });

// --- 4. A crash after every write ---

// Each mc-operator makes one write and dies at its next; a fresh one (new caches, nothing in
// memory) carries on. The canary still completes, and each decision is on record once.
TEST(RolloutReconcilerCrashTest, ACrashAfterEveryWriteNeitherSkipsNorRepeatsADecision) {
  constexpr const char* kSteps =
      R"({"steps": [{"setWeight": 10}, {"pause": {"duration": "10s"}}, {"setWeight": 40},
                    {"pause": {"duration": "10s"}}, {"setWeight": 100}]})";
  RolloutWorld world;
  ASSERT_NO_FATAL_FAILURE(deployV1(world, kSteps));
  const std::string v1 = hashOf("example/web:1");
  const std::string v2 = hashOf("example/web:2");

  // A write counts when it changes something: the decision Event a new life sends again finds
  // the one its predecessor wrote (AlreadyExists), and costs it nothing.
  std::atomic<int> allowed{0};
  std::atomic<bool> crashed{false};
  world.fake().setWriteHook([&](const test::WriteRequest& request) -> std::optional<Error> {
    if (request.verb == Verb::Create && request.resource == "events" &&
        world.fake().read(kEvents, request.ns, request.name)) {
      return std::nullopt;
    }
    if (request.verb == Verb::Create && request.resource == "auditrecords" &&
        world.fake().read(kAuditRecords, request.ns, request.name)) {
      return std::nullopt;  // a record found already there (AlreadyExists) writes nothing
    }
    if (allowed.fetch_sub(1) > 0) {
      return std::nullopt;
    }
    crashed = true;
    return makeError(ErrorKind::Transient, "mc-operator was killed");
  });
  world.setImage("example/web:2");
  auto done = [&] {
    return world.statusText("phase") == "Healthy" && world.statusText("stablePodHash") == v2 &&
           world.replicasOf(v1) == 0;
  };
  int crashes = 0;
  for (int life = 0; life < 400 && !done(); ++life) {
    world.crash();
    world.start();
    allowed = 1;
    crashed = false;
    // This life's one write, then reconciles until it dies; a world with nothing left to do
    // waits for the clock.
    for (int round = 0; round < 20 && !crashed; ++round) {
      auto before = world.fake().resourceVersion();
      (void)world.reconcile();
      world.playReplicaSetController();
      if (!crashed && world.fake().resourceVersion() == before) {
        world.clock().advance(10s);
      }
    }
    crashes += crashed ? 1 : 0;
  }
  ASSERT_TRUE(done()) << "the canary completes though every life dies after one write: "
                      << json::serialize(world.status());
  EXPECT_GE(crashes, 15) << "a crash after each write of the canary";
  // One more life without crashes finds nothing left to do.
  world.fake().setWriteHook({});
  world.crash();
  world.start();
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_TRUE(done());
  ::testing::Test::RecordProperty("crashes", crashes);

  EXPECT_EQ(world.availableOf(v2), 10);
  EXPECT_EQ(world.replicaSets().size(), 2u);
  auto steps = world.stepEvents();
  EXPECT_EQ(
      steps,
      (std::map<std::string, int>{
          {"step 1/5", 1}, {"step 2/5", 1}, {"step 3/5", 1}, {"step 4/5", 1}, {"step 5/5", 1}}))
      << "no step skipped, none recorded twice";
  auto events = world.events();
  EXPECT_EQ(events["RolloutStarted"], 1);
  EXPECT_EQ(events["RolloutCompleted"], 1);
  EXPECT_EQ(events["Paused"], 2);
  EXPECT_EQ(events["Warning"], 0);
  // The audit chain has every decision once, in order, and verifies: no record lost to a crash
  // between a record and its head, none written twice by a life that planned it again.
  EXPECT_EQ(
      world.auditTrail(),
      (std::vector<std::string>{"CanaryStarted by mc", "StepAdvanced by mc", "StepAdvanced by mc",
                                "Paused by mc", "StepAdvanced by mc", "StepAdvanced by mc",
                                "Paused by mc", "StepAdvanced by mc", "Completed by mc"}));
  auto verdict = world.verifyAudit();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
}

// --- 5. A ReplicaSet of someone else's holds the canary's name ---

TEST(RolloutReconcilerCollisionTest, AForeignReplicaSetWithTheCanarysNameBumpsCollisionCount) {
  RolloutWorld world;
  ASSERT_NO_FATAL_FAILURE(deployV1(world, kTwoSteps));
  const std::string v2 = hashOf("example/web:2");
  // Not the Rollout's: no controller ownerReference to it, no hash label.
  json::object foreign{
      {"apiVersion", "apps/v1"},
      {"kind", "ReplicaSet"},
      {"metadata", {{"name", "web-" + v2}, {"namespace", kNs}, {"labels", {{"app", "other"}}}}},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", {{"app", "other"}}}}},
        {"template", {{"metadata", {{"labels", {{"app", "other"}}}}}}}}}};
  auto stored = world.fake().put(kReplicaSets, foreign);

  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  const std::string renamed = hashOf("example/web:2", 1);
  ASSERT_NE(renamed, v2);
  EXPECT_EQ(world.statusInt("collisionCount"), 1);
  EXPECT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
  EXPECT_EQ(world.statusText("stablePodHash"), renamed);
  EXPECT_EQ(world.statusText("stableRS"), "web-" + renamed);
  EXPECT_EQ(world.availableOf(renamed), 10);
  auto canary = world.replicaSets()[renamed];
  EXPECT_EQ(kube::nameOf(canary), "web-" + renamed);
  auto owner = kube::controllerOf(canary);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->uid, kube::uidOf(world.rollout()));
  EXPECT_EQ(world.fake().read(kReplicaSets, kNs, "web-" + v2), stored)
      << "the foreign ReplicaSet is left as it was";
  EXPECT_EQ(world.events()["RolloutCompleted"], 1);
  EXPECT_EQ(world.events()["RolloutStarted"], 1)
      << "the taken name is found before any decision: no start for a canary without pods";
}

// --- 6. A router's field error ---

TEST(RolloutReconcilerInvalidSpecTest, AMissingHttpRouteIsInvalidSpecNamingTheField) {
  RolloutWorld world;
  world.fake().put(kServices, service("web-stable"));
  world.fake().put(kServices, service("web-canary"));
  const std::string canary = fmt::format(
      R"({{{}, "trafficRouting": {{"gatewayAPI": {{"httpRoute": "web"}}}}}})", kServicesField);
  world.fake().put(kRollouts, rolloutObject("example/web:1", canary));
  world.start();
  ASSERT_TRUE(world.settle()) << world.lastError();

  const std::string field = "spec.strategy.canary.trafficRouting.gatewayAPI.httpRoute";
  auto invalid = world.condition("InvalidSpec");
  EXPECT_EQ(stringAt(invalid, "status"), "True") << json::serialize(world.status());
  EXPECT_NE(stringAt(invalid, "message").find(field), std::string::npos)
      << stringAt(invalid, "message");
  EXPECT_NE(stringAt(invalid, "message").find("HTTPRoute \"web\" not found"), std::string::npos)
      << stringAt(invalid, "message");
  EXPECT_EQ(world.statusText("phase"), "Degraded");
  EXPECT_NE(world.statusText("message").find(field), std::string::npos);
  EXPECT_TRUE(world.replicaSets().empty()) << "an invalid spec creates nothing";
  EXPECT_TRUE(e2e::pollUntil([&] { return world.events()["InvalidSpec"] >= 1; }, 5s, 1ms))
      << "and says so in an Event";

  // The user creates the route: the next look finds it, and v1 is deployed.
  world.fake().put(kHttpRoutes, httpRoute());
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(stringAt(world.condition("InvalidSpec"), "status"), "False");
  EXPECT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
  EXPECT_EQ(world.availableOf(hashOf("example/web:1")), 10);
}

// --- The same, as mc-operator wires it: makeRolloutController and the real controller ---

// The controller's watches requeue the Rollout as its ReplicaSets change, with no test calling
// reconcile: v1, then v2 through its steps, on the controller's own workers.
TEST(RolloutControllerTest, MakeRolloutControllerTakesACanaryToHealthyOnTheFake) {
  RolloutWorld world;  // its fake, clock and io thread; the controller below has the caches
  kube::EventRecorder recorder(world.fake(), kube::EventRecorderOptions{}, world.clock());
  RolloutReconciler reconciler(world.fake(), recorder, testOptions(), world.clock());
  auto controller = makeRolloutController(world.fake(), reconciler, kNs, {});
  struct Running {
    kube::Controller& controller;
    kube::EventRecorder& recorder;
    std::future<void> controllerDone;
    std::future<void> recorderDone;
    ~Running() {
      controller.stop();
      recorder.stop();
      EXPECT_EQ(controllerDone.wait_for(5s), std::future_status::ready);
      EXPECT_EQ(recorderDone.wait_for(5s), std::future_status::ready);
    }
  } running{*controller, recorder,
            boost::asio::co_spawn(world.io().io(), controller->run(), boost::asio::use_future),
            boost::asio::co_spawn(world.io().io(), recorder.run(), boost::asio::use_future)};
  const std::string v1 = hashOf("example/web:1");
  const std::string v2 = hashOf("example/web:2");
  // The test plays the ReplicaSet controller until the Rollout is where it should be.
  auto until = [&](const std::function<bool()>& condition) {
    return e2e::pollUntil(
        [&] {
          playReplicaSetController(world.fake());
          return condition();
        },
        10s, 1ms);
  };

  world.fake().put(kRollouts, rolloutObject("example/web:1", kTwoSteps));
  ASSERT_TRUE(until([&] {
    return world.statusText("phase") == "Healthy" && world.availableOf(v1) == 10;
  })) << json::serialize(world.status());

  world.setImage("example/web:2");
  ASSERT_TRUE(until([&] {
    return world.statusText("phase") == "Healthy" && world.statusText("stablePodHash") == v2 &&
           world.availableOf(v2) == 10 && world.replicasOf(v1) == 0;
  })) << json::serialize(world.status());
  auto events = world.events();
  EXPECT_EQ(events["RolloutStarted"], 1);
  EXPECT_EQ(events["StepAdvanced"], 2);
  EXPECT_EQ(events["RolloutCompleted"], 1);
  EXPECT_EQ(events["Warning"], 0);
}

// --- 8. Analysis: the run made from its template, a verdict acted on in one reconcile ---

json::object errorRateTemplate() {
  return json::parse(fmt::format(R"json({{"apiVersion": "mc.maestro.dev/v1alpha1",
    "kind": "AnalysisTemplate", "metadata": {{"name": "error-rate", "namespace": "{}"}},
    "spec": {{"args": [{{"name": "service"}}, {{"name": "window", "value": "1m"}}],
      "metrics": [{{"name": "error-rate", "interval": "30s", "count": 3,
        "successCondition": {{"max": 0.02}},
        "provider": {{"prometheus": {{"address": "http://prometheus:9090",
          "query": "sum(rate(http_requests_total{{code=~\"5..\",pod_template_hash=\"{{{{args.canary-hash}}}}\",service=\"{{{{args.service}}}}\"}}[{{{{args.window}}}}]))"}}}}}}]}}}})json",
                                 kNs))
      .as_object();
}

const std::string kAnalysisCanary = fmt::format(
    R"({{{}, "trafficRouting": {{"gatewayAPI": {{"httpRoute": "web"}}}},
        "steps": [{{"setWeight": 20}},
                  {{"analysis": {{"templates": [{{"templateName": "error-rate"}}],
                                  "args": [{{"name": "service", "value": "web"}}]}}}},
                  {{"setWeight": 100}}]}})",
    kServicesField);

void deployWithRoute(RolloutWorld& world, const std::string& canary) {
  world.fake().put(kServices, service("web-stable"));
  world.fake().put(kServices, service("web-canary"));
  world.fake().put(kHttpRoutes, httpRoute());
  ASSERT_NO_FATAL_FAILURE(deployV1(world, canary));
}

TEST(RolloutReconcilerAnalysisTest, TheStepsRunIsMadeFromItsTemplateWithArgumentsFilledIn) {
  RolloutWorld world;
  world.fake().put(kTemplates, errorRateTemplate());
  ASSERT_NO_FATAL_FAILURE(deployWithRoute(world, kAnalysisCanary));
  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  const std::string v2 = hashOf("example/web:2");

  EXPECT_EQ(world.statusInt("currentStepIndex"), 1);
  EXPECT_EQ(world.statusText("phase"), "Progressing") << json::serialize(world.status());
  auto run = world.fake().read(kRuns, kNs, "web-1-1");
  ASSERT_TRUE(run) << "the run of step 1 of attempt 1";
  auto owner = kube::controllerOf(*run);
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->uid, kube::uidOf(world.rollout()));
  EXPECT_EQ(text(*run, {"metadata", "labels", kHashLabel}), v2);
  EXPECT_EQ(text(*run, {"metadata", "labels", "mc.maestro.dev/analysis"}), "step-1");
  const auto& metric = run->at("spec").at("metrics").at(0).as_object();
  EXPECT_EQ(
      text(metric, {"provider", "prometheus", "query"}),
      fmt::format(
          R"q(sum(rate(http_requests_total{{code=~"5..",pod_template_hash="{}",service="web"}}[1m])))q",
          v2))
      << "MC's canary-hash, the Rollout's service, the template's default window";
  // MC's own arguments are in the run: canary-started-at is the canary ReplicaSet's creation,
  // how far back sloBurn may read.
  std::map<std::string, std::string> args;
  for (const auto& arg : run->at("spec").at("args").as_array()) {
    args[text(arg, {"name"})] = text(arg, {"value"});
  }
  EXPECT_EQ(args["canary-hash"], v2);
  auto canaryRs = world.fake().read(kReplicaSets, kNs, "web-" + v2);
  ASSERT_TRUE(canaryRs);
  EXPECT_EQ(args["canary-started-at"], text(*canaryRs, {"metadata", "creationTimestamp"}));
  EXPECT_FALSE(args["canary-started-at"].empty());
  EXPECT_EQ(world.routeWeights(),
            (std::map<std::string, int64_t>{{"web-stable", 80}, {"web-canary", 20}}))
      << "the step waits at 20 % for the verdict";

  // Successful: the canary goes on to 100 % and completes.
  ASSERT_TRUE(world.fake().editStatus(kRuns, kNs, "web-1-1",
                                      [](json::object& s) { s["phase"] = "Successful"; }));
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.statusText("phase"), "Healthy");
  EXPECT_EQ(world.statusText("stablePodHash"), v2);
}

TEST(RolloutReconcilerAnalysisTest, AFailedRunTakesAllTrafficOffTheCanaryInOneReconcile) {
  RolloutWorld world;
  world.fake().put(kTemplates, errorRateTemplate());
  ASSERT_NO_FATAL_FAILURE(deployWithRoute(world, kAnalysisCanary));
  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  const std::string v1 = hashOf("example/web:1");
  const std::string v2 = hashOf("example/web:2");
  ASSERT_EQ(world.replicasOf(v2), 2);
  ASSERT_TRUE(world.fake().editStatus(kRuns, kNs, "web-1-1", [](json::object& s) {
    s["phase"] = "Failed";
    s["message"] = R"(metric "error-rate" Failed: 0.2 > max 0.02 (1 failed, failureLimit 0))";
  }));

  auto once = world.reconcile();  // one reconcile, no settling in between
  ASSERT_TRUE(once) << once.error().describe();
  EXPECT_EQ(world.routeWeights(),
            (std::map<std::string, int64_t>{{"web-stable", 100}, {"web-canary", 0}}));
  EXPECT_EQ(world.replicasOf(v2), 0) << "the canary scaled to 0";
  EXPECT_EQ(world.replicasOf(v1), 10);
  EXPECT_EQ(world.statusText("phase"), "Degraded");
  EXPECT_EQ(stringAt(world.condition("Progressing"), "reason"), "AnalysisFailed");
  EXPECT_EQ(world.events()["AnalysisFailed"], 1);
  bool named = false;
  for (const auto& event : world.fake().items(kEvents, kNs)) {
    if (text(event, {"reason"}) == "AnalysisFailed") {
      named = text(event, {"note"}).find("0.2 > max 0.02 (1 failed, failureLimit 0)") !=
              std::string::npos;
    }
  }
  EXPECT_TRUE(named) << "the Event names the metric, its value and its limit";
  ASSERT_TRUE(world.settle());
  EXPECT_EQ(world.events()["AnalysisFailed"], 1) << "recorded once";
}

TEST(RolloutReconcilerAnalysisTest, AMissingTemplateIsInvalidSpecNamingTheField) {
  RolloutWorld world;
  world.fake().put(kServices, service("web-stable"));
  world.fake().put(kServices, service("web-canary"));
  world.fake().put(kHttpRoutes, httpRoute());
  world.fake().put(kRollouts, rolloutObject("example/web:1", kAnalysisCanary));
  world.start();
  ASSERT_TRUE(world.settle()) << world.lastError();
  auto invalid = world.condition("InvalidSpec");
  EXPECT_EQ(stringAt(invalid, "status"), "True") << json::serialize(world.status());
  EXPECT_NE(stringAt(invalid, "message")
                .find("spec.strategy.canary.steps[1].analysis.templates[0].templateName: "
                      "AnalysisTemplate \"error-rate\" not found"),
            std::string::npos)
      << stringAt(invalid, "message");
  EXPECT_EQ(world.statusText("phase"), "Degraded");

  // The template arrives: the next look (every 10 s) finds it.
  world.fake().put(kTemplates, errorRateTemplate());
  world.clock().advance(10s);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
}

// A block the apiserver accepts but MC cannot measure (an sloBurn pair whose short window is
// the longer) makes the Rollout InvalidSpec naming it, before any run exists.
TEST(RolloutReconcilerAnalysisTest, AnUnmeasurableBuiltInIsInvalidSpecBeforeAnyRun) {
  RolloutWorld world;
  auto bad = errorRateTemplate();
  auto& metric = bad["spec"].as_object()["metrics"].as_array()[0].as_object();
  metric.erase("successCondition");
  metric["provider"] = json::parse(R"({"prometheus": {"address": "http://prometheus:9090",
      "sloBurn": {"objective": 99.9, "windows": [{"long": "5m", "short": "1h",
                                                  "maxBurnRate": 2}]}}})");
  world.fake().put(kTemplates, bad);
  world.fake().put(kServices, service("web-stable"));
  world.fake().put(kServices, service("web-canary"));
  world.fake().put(kHttpRoutes, httpRoute());
  world.fake().put(kRollouts, rolloutObject("example/web:1", kAnalysisCanary));
  world.start();
  ASSERT_TRUE(world.settle()) << world.lastError();
  auto invalid = world.condition("InvalidSpec");
  EXPECT_EQ(stringAt(invalid, "status"), "True") << json::serialize(world.status());
  EXPECT_NE(stringAt(invalid, "message")
                .find("spec.strategy.canary.steps[1].analysis: metric \"error-rate\": "
                      "provider.prometheus.sloBurn.windows[0].short: must be shorter than long"),
            std::string::npos)
      << stringAt(invalid, "message");
  EXPECT_FALSE(world.fake().read(kRuns, kNs, "web-1-1"))
      << "no run of a template MC cannot measure";
}

// --- Image verification before a template gets pods ---

// The registry and its signatures as the reconciler's checker sees them: tags point at digests
// (a push moves one), digests are signed or not, and the registry may be down.
class FakeImageChecker final : public signing::ImageChecker {
 public:
  // Called on the test thread between reconciles, read on the io thread during one.
  void tag(const std::string& image, const std::string& digest) {
    std::lock_guard lock(mutex_);
    tags_[image] = digest;
  }
  // Signed by the key of `fingerprint` ("" : by whatever key the policy trusts).
  void sign(const std::string& digest, const std::string& fingerprint = "") {
    std::lock_guard lock(mutex_);
    signed_[digest] = fingerprint;
  }
  void setDown(bool down) { down_ = down; }

  boost::asio::awaitable<Result<std::string>> resolve(
      signing::ImageReference image, std::optional<signing::RegistryCredentials>) override {
    if (down_) {
      co_return makeError(ErrorKind::Transient, "registry 127.0.0.1:5000: connection refused");
    }
    std::lock_guard lock(mutex_);
    auto it = tags_.find(image.name() + ":" + image.tag());
    if (it == tags_.end()) {
      co_return makeError(ErrorKind::NotFound, "manifest unknown: " + image.str());
    }
    co_return it->second;
  }

  boost::asio::awaitable<Result<signing::DigestVerdict>> verify(
      signing::ImageReference pinned, signing::TrustPolicy keys,
      std::optional<signing::RegistryCredentials>) override {
    if (down_) {
      co_return makeError(ErrorKind::Transient, "registry 127.0.0.1:5000: connection refused");
    }
    std::lock_guard lock(mutex_);
    signing::DigestVerdict verdict;
    auto it = signed_.find(pinned.digest());
    verdict.verified = it != signed_.end() && !keys.keys.empty() &&
                       (it->second.empty() ||
                        std::any_of(keys.keys.begin(), keys.keys.end(), [&](const auto& key) {
                          return key.fingerprint() == it->second;
                        }));
    if (verdict.verified) {
      verdict.verifiedBy = keys.keys.front().describe();
    } else {
      verdict.refusals.push_back("no signature of this digest");
    }
    co_return verdict;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::string> tags_;
  std::map<std::string, std::string> signed_;  // digest -> the key's fingerprint
  std::atomic<bool> down_{false};
};

const std::string kDigest1 = "sha256:" + std::string(64, '1');
const std::string kDigest2 = "sha256:" + std::string(64, '2');
const std::string kDigest3 = "sha256:" + std::string(64, '3');

json::object keySecret(const std::string& pem) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", "cosign"}, {"namespace", kNs}}},
          {"data", {{"cosign.pub", kube::base64Encode(pem)}}}};
}

// A Rollout whose spec.verify trusts the key in Secret "cosign", with v1 signed and Healthy.
struct VerifiedWorld {
  RolloutWorld world;
  FakeImageChecker registry;

  explicit VerifiedWorld(
      std::string_view verify = R"({"keys": [{"secretRef": {"name": "cosign"}}]})") {
    auto key = signing::generate("EC", "P-256");
    world.fake().put(kube::resources::kSecrets, keySecret(key.publicPem()));
    registry.tag("docker.io/example/web:1", kDigest1);
    registry.sign(kDigest1);
    auto rollout = rolloutObject("example/web:1", "{}");
    rollout["spec"].as_object()["verify"] = json::parse(verify);
    world.fake().put(kRollouts, std::move(rollout));
    world.start(&registry);
  }

  std::string imageOf(const std::string& hash) const {
    auto sets = world.replicaSets();
    if (!sets.count(hash)) return "";
    const auto* containers =
        arrayAt(objectAt(objectAt(objectAt(sets[hash], "spec"), "template"), "spec"), "containers");
    return containers ? stringAt(containers->at(0).as_object(), "image") : "";
  }
};

TEST(RolloutReconcilerVerifyTest, OnlyASignedDigestGetsPodsAndThePodsRunThatDigest) {
  VerifiedWorld v;
  auto& world = v.world;
  ASSERT_TRUE(world.settle()) << world.lastError();
  ASSERT_EQ(world.statusText("phase"), "Healthy") << json::serialize(world.status());
  EXPECT_EQ(v.imageOf(hashOf("example/web:1")), "docker.io/example/web@" + kDigest1);

  // An unsigned v2: no ReplicaSet, the condition, a Warning Event and a record.
  v.registry.tag("docker.io/example/web:2", kDigest2);
  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.replicaSets().count(hashOf("example/web:2")), 0u);
  EXPECT_EQ(world.replicasOf(hashOf("example/web:1")), 10);
  auto verified = world.condition("Verified");
  EXPECT_EQ(stringAt(verified, "status"), "False") << json::serialize(world.status());
  EXPECT_EQ(stringAt(verified, "reason"), "SignatureRejected");
  EXPECT_NE(stringAt(verified, "message").find(kDigest2), std::string::npos);
  EXPECT_EQ(world.statusText("phase"), "Degraded");
  EXPECT_EQ(world.events()["SignatureRejected"], 1);
  auto refused = world.auditRecord("SignatureRejected");
  EXPECT_EQ(refused.to, "web=docker.io/example/web@" + kDigest2);
  EXPECT_TRUE(world.verifyAudit().intact());

  // Signed: the canary starts on the digest verified, and the record says so.
  v.registry.sign(kDigest2);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(v.imageOf(hashOf("example/web:2")), "docker.io/example/web@" + kDigest2);
  EXPECT_EQ(stringAt(world.condition("Verified"), "reason"), "Verified");
  EXPECT_EQ(text(world.status(), {"verified", "podHash"}), hashOf("example/web:2"));
  EXPECT_EQ(world.auditTargets("Verified"),
            (std::vector<std::string>{"web=docker.io/example/web@" + kDigest1,
                                      "web=docker.io/example/web@" + kDigest2}));

  // The tag moves to an unsigned digest mid-canary: the pods keep the one verified.
  v.registry.tag("docker.io/example/web:2", kDigest3);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(v.imageOf(hashOf("example/web:2")), "docker.io/example/web@" + kDigest2);
  EXPECT_TRUE(world.verifyAudit().intact());
}

TEST(RolloutReconcilerVerifyTest, ARegistryDownBlocksTheCanaryWithAnErrorAndNoRecord) {
  VerifiedWorld v;
  auto& world = v.world;
  ASSERT_TRUE(world.settle()) << world.lastError();
  auto recordsBefore = world.auditTrail().size();
  v.registry.setDown(true);
  v.registry.tag("docker.io/example/web:2", kDigest2);
  v.registry.sign(kDigest2);
  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.replicaSets().count(hashOf("example/web:2")), 0u);
  EXPECT_EQ(stringAt(world.condition("Verified"), "reason"), "VerificationError");
  EXPECT_NE(stringAt(world.condition("Verified"), "message").find("connection refused"),
            std::string::npos);
  EXPECT_EQ(world.events()["VerificationError"], 1);
  EXPECT_EQ(world.auditTrail().size(), recordsBefore) << "no verdict, no record";
  v.registry.setDown(false);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(v.imageOf(hashOf("example/web:2")), "docker.io/example/web@" + kDigest2);
}

TEST(RolloutReconcilerVerifyTest, AClusterPolicyCoversARolloutThatNamesNone) {
  RolloutWorld world;
  FakeImageChecker registry;
  auto key = signing::generate("EC", "P-256");
  auto secret = keySecret(key.publicPem());
  secret["metadata"].as_object()["namespace"] = "mc-system";
  world.fake().put(kube::resources::kSecrets, secret);
  world.fake().put(kClusterPolicies, json::parse(R"({"apiVersion": "mc.maestro.dev/v1alpha1",
      "kind": "ClusterVerificationPolicy", "metadata": {"name": "example-images"},
      "spec": {"images": ["docker.io/example/**"],
               "keys": [{"secretRef": {"name": "cosign", "namespace": "mc-system"}}]}})")
                                         .as_object());
  registry.tag("docker.io/example/web:1", kDigest1);
  world.fake().put(kRollouts, rolloutObject("example/web:1", "{}"));
  world.start(&registry);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_TRUE(world.replicaSets().empty()) << "an unsigned first version gets no pods either";
  EXPECT_NE(stringAt(world.condition("Verified"), "message")
                .find("ClusterVerificationPolicy/example-images"),
            std::string::npos)
      << json::serialize(world.status());
  registry.sign(kDigest1);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.statusText("phase"), "Healthy");
}

TEST(RolloutReconcilerVerifyTest, AMissingKeySecretOrPolicyNeverPasses) {
  {
    RolloutWorld world;
    FakeImageChecker registry;
    registry.tag("docker.io/example/web:1", kDigest1);
    registry.sign(kDigest1);
    auto rollout = rolloutObject("example/web:1", "{}");
    rollout["spec"].as_object()["verify"] =
        json::parse(R"({"keys": [{"secretRef": {"name": "cosign"}}]})");
    world.fake().put(kRollouts, std::move(rollout));
    world.start(&registry);
    ASSERT_TRUE(world.settle()) << world.lastError();
    EXPECT_TRUE(world.replicaSets().empty());
    EXPECT_EQ(stringAt(world.condition("Verified"), "reason"), "VerificationError");
    EXPECT_NE(stringAt(world.condition("Verified"), "message").find("Secret shop/cosign not found"),
              std::string::npos)
        << json::serialize(world.status());
  }
  {
    RolloutWorld world;
    FakeImageChecker registry;
    auto rollout = rolloutObject("example/web:1", "{}");
    rollout["spec"].as_object()["verify"] =
        json::parse(R"({"policyRef": {"kind": "VerificationPolicy", "name": "strict"}})");
    world.fake().put(kRollouts, std::move(rollout));
    world.start(&registry);
    ASSERT_TRUE(world.settle()) << world.lastError();
    EXPECT_TRUE(world.replicaSets().empty());
    EXPECT_EQ(stringAt(world.condition("InvalidSpec"), "message"),
              "spec.verify.policyRef: VerificationPolicy \"strict\" not found");
  }
}

// A key removed from the policy while its digest runs: reported at the next period, by a
// condition, an Event and a record, and the pods keep running.
TEST(RolloutReconcilerVerifyTest, AKeyRemovedWhileItsDigestRunsIsReportedAndNothingIsEvicted) {
  RolloutWorld world;
  FakeImageChecker registry;
  auto oldKey = signing::generate("EC", "P-256");
  auto newKey = signing::generate("EC", "P-256");
  world.fake().put(kube::resources::kSecrets, keySecret(oldKey.publicPem()));
  auto oldFingerprint = signing::PublicKey::fromPem(oldKey.publicPem())->fingerprint();
  registry.tag("docker.io/example/web:1", kDigest1);
  registry.sign(kDigest1, oldFingerprint);
  auto rollout = rolloutObject("example/web:1", "{}");
  rollout["spec"].as_object()["verify"] =
      json::parse(R"({"keys": [{"secretRef": {"name": "cosign"}}]})");
  world.fake().put(kRollouts, std::move(rollout));
  world.start(&registry);
  ASSERT_TRUE(world.settle()) << world.lastError();
  ASSERT_EQ(world.statusText("phase"), "Healthy");
  ASSERT_EQ(stringAt(world.condition("Verified"), "reason"), "Verified");

  // The key is rotated out: within the period nothing is asked, after it the verdict lapses.
  world.fake().put(kube::resources::kSecrets, keySecret(newKey.publicPem()));
  world.clock().advance(5min);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(stringAt(world.condition("Verified"), "reason"), "Verified") << "not due yet";
  world.clock().advance(6min);
  ASSERT_TRUE(world.settle()) << world.lastError();
  auto verified = world.condition("Verified");
  EXPECT_EQ(stringAt(verified, "status"), "False") << json::serialize(world.status());
  EXPECT_EQ(stringAt(verified, "reason"), "SignatureRejected");
  EXPECT_NE(stringAt(verified, "message").find("no longer verify"), std::string::npos);
  EXPECT_EQ(world.events()["SignatureRejected"], 1);
  EXPECT_EQ(world.auditRecord("SignatureRejected").to, "web=docker.io/example/web@" + kDigest1);
  EXPECT_EQ(world.replicasOf(hashOf("example/web:1")), 10) << "reported, not evicted";
  EXPECT_EQ(world.statusText("phase"), "Healthy");

  // Signed again with the new key: verified again at the next period.
  registry.sign(kDigest1, signing::PublicKey::fromPem(newKey.publicPem())->fingerprint());
  world.clock().advance(11min);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(stringAt(world.condition("Verified"), "reason"), "Verified");
  EXPECT_TRUE(world.verifyAudit().intact());
}

// The bake window on the fake apiserver: its AnalysisRun is made (label "bake"), and a Failed
// verdict takes all traffic back to the previous stable and its pods in one reconcile.
TEST(RolloutReconcilerAnalysisTest, ABreachInTheBakeWindowRollsBackInOneReconcile) {
  RolloutWorld world;
  world.fake().put(kTemplates, errorRateTemplate());
  const std::string baking = fmt::format(
      R"({{{}, "trafficRouting": {{"gatewayAPI": {{"httpRoute": "web"}}}},
          "steps": [{{"setWeight": 50}}],
          "bake": {{"duration": "10m",
                    "analysis": {{"templates": [{{"templateName": "error-rate"}}],
                                  "args": [{{"name": "service", "value": "web"}}]}}}}}})",
      kServicesField);
  ASSERT_NO_FATAL_FAILURE(deployWithRoute(world, baking));
  world.setImage("example/web:2");
  ASSERT_TRUE(world.settle()) << world.lastError();
  const std::string v1 = hashOf("example/web:1");
  const std::string v2 = hashOf("example/web:2");
  ASSERT_EQ(world.statusText("stablePodHash"), v2) << json::serialize(world.status());
  ASSERT_EQ(world.replicasOf(v1), 10) << "the previous stable is kept scaled";
  auto run = world.fake().read(kRuns, kNs, "web-1-bake");
  ASSERT_TRUE(run) << "the bake analysis runs";
  EXPECT_EQ(text(*run, {"metadata", "labels", "mc.maestro.dev/analysis"}), "bake");
  ASSERT_TRUE(world.fake().editStatus(kRuns, kNs, "web-1-bake", [](json::object& s) {
    s["phase"] = "Failed";
    s["message"] = R"(metric "error-rate" Failed: 0.2 > max 0.02)";
  }));

  auto once = world.reconcile();
  ASSERT_TRUE(once) << once.error().describe();
  EXPECT_EQ(world.statusText("phase"), "RolledBack");
  EXPECT_EQ(world.selectorHashOf("web-stable"), v1) << "traffic first";
  EXPECT_EQ(world.routeWeights(),
            (std::map<std::string, int64_t>{{"web-stable", 100}, {"web-canary", 0}}));
  EXPECT_EQ(world.replicasOf(v2), 0) << "then pods";
  EXPECT_EQ(world.replicasOf(v1), 10);
  EXPECT_EQ(world.events()["RolledBack"], 1);
  auto record = world.auditRecord("RolledBack");
  EXPECT_NE(record.reason.find("0.2 > max 0.02"), std::string::npos) << record.reason;
  EXPECT_EQ(text(record.evidence, {"toReplicaSet"}), "web-" + v1);
  ASSERT_TRUE(world.settle()) << world.lastError();
  EXPECT_EQ(world.statusText("phase"), "RolledBack") << "held until the template changes";
  EXPECT_EQ(world.replicasOf(v2), 0);
  EXPECT_TRUE(world.verifyAudit().intact());
}

}  // namespace
}  // namespace mc::reconcilers
