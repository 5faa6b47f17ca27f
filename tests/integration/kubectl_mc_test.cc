// The kubectl-mc binary against the real apiserver. No mc-operator runs here: the test plays the
// controller, writing Rollout status through the status subresource, and checks what kubectl-mc
// wrote and printed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <fstream>
#include <sstream>

#include "mc/crds/rollout.h"
#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/process.h"
#include "mc/runtime/kube_client.h"
#include "mc/testing/io_thread.h"
#include "mc/testing/objects.h"

namespace mc::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

using crds::resources::kAnalysisRuns;
using crds::resources::kRollouts;

const char* kTemplateV1 =
    R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"example/web:1","futureField":{"kept":true}}]}})";
const char* kTemplateV2 =
    R"({"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"web","image":"example/web:2"}]}})";

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class KubectlMcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& cp = ControlPlaneEnvironment::get();
    for (const char* crd : {"rollout", "analysis_run"}) {
      auto file = sourceDir() / "crds" / (std::string(crd) + ".yaml");
      auto applied = cp.kubectl({"apply", "-f", file.string()});
      ASSERT_EQ(applied.exitCode, 0) << applied.output;
    }
    auto established =
        cp.kubectl({"wait", "--for=condition=Established", "crd/rollouts.mc.maestro.dev",
                    "crd/analysisruns.mc.maestro.dev", "--timeout=60s"});
    ASSERT_EQ(established.exitCode, 0) << established.output;
  }

  void SetUp() override {
    auto config = kube::loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(config);
    auto client = kube::KubeClient::create(io_.executor(), *config);
    ASSERT_TRUE(client);
    client_ = std::move(*client);
    // A namespace per test: every test may call its Rollout "web".
    std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ns_ = "kmc-";
    for (char c : test) {
      if (std::isupper(static_cast<unsigned char>(c)) && ns_.size() > 4) {
        ns_ += '-';
      }
      ns_ += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    ns_ = ns_.substr(0, 63);
    while (ns_.back() == '-') {
      ns_.pop_back();
    }
    auto created =
        io_.run(client_->create(kube::resources::kNamespaces, "", test::namespaceObject(ns_)));
    ASSERT_TRUE(created) << created.error().describe();
    dir_ = makeTempDir("kubectl-mc-test");
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> argv(std::vector<std::string> args,
                                const std::filesystem::path& kubeconfig = {}) const {
    std::vector<std::string> full{
        KUBECTL_MC_BINARY, "--kubeconfig",
        (kubeconfig.empty() ? ControlPlaneEnvironment::get().kubeconfig() : kubeconfig).string(),
        "-n", ns_};
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }

  // kubectl-mc to completion.
  CommandResult mc(std::vector<std::string> args) const { return run(argv(std::move(args)), 60s); }

  // kubectl-mc left running (status, get --watch), its output in a log file.
  Process start(std::vector<std::string> args, const std::string& log) const {
    return Process(argv(std::move(args)), dir_ / log);
  }

  json::object createRollout(const std::string& name, const char* podTemplate = kTemplateV2) {
    auto object = json::parse(fmt::format(R"({{
      "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
      "metadata": {{"name": "{}"}},
      "spec": {{
        "replicas": 4,
        "selector": {{"matchLabels": {{"app": "web"}}}},
        "template": {},
        "strategy": {{"canary": {{"steps": [{{"setWeight": 20}}, {{"pause": {{}}}},
                                           {{"setWeight": 60}}]}}}}
      }}}})",
                                          name, podTemplate))
                      .as_object();
    auto created = io_.run(client_->create(kRollouts, ns_, std::move(object)));
    EXPECT_TRUE(created) << created.error().describe();
    return created ? *created : json::object{};
  }

  json::object getRollout(const std::string& name) {
    auto fetched = io_.run(client_->get(kRollouts, ns_, name));
    EXPECT_TRUE(fetched) << fetched.error().describe();
    return fetched ? *fetched : json::object{};
  }

  json::value statusField(const std::string& name, std::string_view field) {
    auto object = getRollout(name);
    const auto* status = object.if_contains("status");
    const auto* value = status != nullptr ? status->as_object().if_contains(field) : nullptr;
    return value != nullptr ? *value : json::value(nullptr);
  }

  // Plays the controller: replaces status (as a merge), observing the current generation
  // unless `observed` is false.
  void setStatus(const std::string& name, json::object status, bool observed = true) {
    auto current = getRollout(name);
    if (observed) {
      status["observedGeneration"] = current.at("metadata").at("generation");
    }
    json::object patch{{"status", std::move(status)}};
    auto patched = io_.run(client_->patch(kRollouts, ns_, name, kube::PatchType::Merge,
                                          json::serialize(patch), {.subresource = "status"}));
    ASSERT_TRUE(patched) << patched.error().describe();
  }

  void setStatus(const std::string& name, const char* status, bool observed = true) {
    setStatus(name, json::parse(status).as_object(), observed);
  }

  // A ReplicaSet as MC creates it: hash label, revision and template annotations, owned by the
  // Rollout (a controller ownerReference with its uid). Zero replicas: no pods needed.
  void createReplicaSet(const json::object& rollout, const std::string& hash, int revision,
                        const char* podTemplate, const std::string& ownerUid = "") {
    std::string rolloutName = kube::nameOf(rollout);
    auto podTemplateObject = json::parse(podTemplate).as_object();
    podTemplateObject["metadata"]
        .as_object()["labels"]
        .as_object()["mc.maestro.dev/pod-template-hash"] = hash;
    json::object rs{
        {"apiVersion", "apps/v1"},
        {"kind", "ReplicaSet"},
        {"metadata",
         {{"name", rolloutName + "-" + hash},
          {"labels", {{"app", "web"}, {"mc.maestro.dev/pod-template-hash", hash}}},
          {"annotations",
           {{"mc.maestro.dev/revision", std::to_string(revision)},
            {"mc.maestro.dev/pod-template", podTemplate}}},
          {"ownerReferences",
           json::array{{{"apiVersion", crds::kApiVersion},
                        {"kind", "Rollout"},
                        {"name", rolloutName},
                        {"uid", ownerUid.empty() ? kube::uidOf(rollout) : ownerUid},
                        {"controller", true}}}}}},
        {"spec",
         {{"replicas", 0},
          {"selector",
           {{"matchLabels", {{"app", "web"}, {"mc.maestro.dev/pod-template-hash", hash}}}}},
          {"template", std::move(podTemplateObject)}}}};
    auto created = io_.run(client_->create(kube::resources::kReplicaSets, ns_, std::move(rs)));
    ASSERT_TRUE(created) << created.error().describe();
  }

  // An AnalysisRun as MC makes it (labelled with the Rollout's name and its analysis, controlled
  // by it, or by `controller`), with `status` written as the AnalysisRun controller writes it.
  // The controller is a real object: the garbage collector deletes what an absent one owns.
  void createRun(const json::object& rollout, const std::string& name, const std::string& analysis,
                 const std::string& status, const json::object* controller = nullptr) {
    std::string rolloutName = kube::nameOf(rollout);
    const json::object& owner = controller != nullptr ? *controller : rollout;
    auto object = json::parse(R"json({
      "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "AnalysisRun",
      "spec": {
        "args": [{"name": "canary-hash", "value": "h2"}],
        "metrics": [{"name": "error-rate", "interval": "30s", "count": 3,
                     "successCondition": {"max": 0.02},
                     "provider": {"prometheus": {"address": "http://prometheus:9090",
                                                 "query": "sum(rate(errors{hash=\"h2\"}[1m]))"}}}]
      }})json")
                      .as_object();
    object["metadata"] = {
        {"name", name},
        {"labels",
         {{"mc.maestro.dev/rollout", rolloutName}, {"mc.maestro.dev/analysis", analysis}}},
        {"ownerReferences", json::array{{{"apiVersion", owner.at("apiVersion")},
                                         {"kind", owner.at("kind")},
                                         {"name", kube::nameOf(owner)},
                                         {"uid", kube::uidOf(owner)},
                                         {"controller", true}}}}};
    auto created = io_.run(client_->create(kAnalysisRuns, ns_, std::move(object)));
    ASSERT_TRUE(created) << created.error().describe();
    setRunStatus(name, status);
  }

  void setRunStatus(const std::string& name, const std::string& status) {
    auto patched =
        io_.run(client_->patch(kAnalysisRuns, ns_, name, kube::PatchType::Merge,
                               R"({"status": )" + status + "}", {.subresource = "status"}));
    ASSERT_TRUE(patched) << patched.error().describe();
  }

  // A kubeconfig for ServiceAccount `account` of the test's namespace (created here), and its
  // token.
  std::pair<std::filesystem::path, std::string> serviceAccountKubeconfig(
      const std::string& account) const {
    auto& cp = ControlPlaneEnvironment::get();
    auto created = cp.kubectl({"create", "serviceaccount", account, "-n", ns_});
    EXPECT_EQ(created.exitCode, 0) << created.output;
    auto token = cp.kubectl({"create", "token", account, "-n", ns_});
    EXPECT_EQ(token.exitCode, 0) << token.output;
    std::string bearer = token.output;
    while (!bearer.empty() && std::isspace(static_cast<unsigned char>(bearer.back()))) {
      bearer.pop_back();
    }
    auto kubeconfig = dir_ / (account + ".kubeconfig");
    std::ofstream(kubeconfig) << fmt::format(R"(apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: {}
    certificate-authority: {}
users:
- name: {}
  user:
    token: {}
contexts:
- name: {}
  context: {{cluster: local, user: {}}}
current-context: {}
)",
                                             cp.apiserverUrl(), cp.caFile().string(), account,
                                             bearer, account, account, account);
    return {kubeconfig, bearer};
  }

  test::IoThread io_;
  kube::KubeClientPtr client_;
  std::string ns_;
  std::filesystem::path dir_;
};

TEST_F(KubectlMcTest, PromoteWritesTheCurrentStepOrPromoteFull) {
  createRollout("web");
  setStatus("web", R"({"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 20,
                       "stableRS": "web-a", "canaryRS": "web-b"})");
  auto promoted = mc({"promote", "web"});
  EXPECT_EQ(promoted.exitCode, 0) << promoted.output;
  EXPECT_EQ(promoted.output, "rollout \"web\" promoted\n");
  EXPECT_EQ(statusField("web", "promoteStep"), json::value(1));
  EXPECT_TRUE(statusField("web", "promoteFull").is_null());

  auto full = mc({"promote", "web", "--full"});
  EXPECT_EQ(full.exitCode, 0) << full.output;
  EXPECT_EQ(full.output, "rollout \"web\" promoted fully\n");
  EXPECT_EQ(statusField("web", "promoteFull"), json::value(true));

  setStatus("web", R"({"phase": "Healthy", "currentStepIndex": 3, "canaryRS": null,
                       "promoteStep": null, "promoteFull": null})");
  auto none = mc({"promote", "web"});
  EXPECT_EQ(none.exitCode, 1) << none.output;
  EXPECT_EQ(none.output, "Error: rollout \"web\" has no canary to promote\n");
  EXPECT_TRUE(statusField("web", "promoteStep").is_null()) << "nothing written";
}

TEST_F(KubectlMcTest, AbortThenRetry) {
  createRollout("web");
  setStatus("web", R"({"phase": "Paused", "currentStepIndex": 1, "canaryRS": "web-b"})");
  auto notAborted = mc({"retry", "web"});
  EXPECT_EQ(notAborted.exitCode, 1) << notAborted.output;
  EXPECT_TRUE(contains(notAborted.output, "not aborted")) << notAborted.output;

  auto aborted = mc({"abort", "web", "--reason", "INC-7: 5xx on checkout"});
  EXPECT_EQ(aborted.exitCode, 0) << aborted.output;
  EXPECT_EQ(aborted.output, "rollout \"web\" aborted\n");
  EXPECT_EQ(statusField("web", "abort"), json::value(true));
  // Who asked, as the apiserver authenticated them (the admin's certificate says CN=admin), and
  // why: what MC's audit record of the abort will say.
  EXPECT_EQ(statusField("web", "requestedBy"), json::value("admin"));
  EXPECT_EQ(statusField("web", "requestReason"), json::value("INC-7: 5xx on checkout"));

  auto retried = mc({"retry", "web"});
  EXPECT_EQ(retried.exitCode, 0) << retried.output;
  EXPECT_EQ(retried.output, "rollout \"web\" retried\n");
  EXPECT_EQ(statusField("web", "abort"), json::value(false));
  EXPECT_TRUE(statusField("web", "requestReason").is_null()) << "no stale reason";

  // Degraded with the request already cleared (as MC leaves an aborted canary): retry allowed.
  setStatus("web", R"({"phase": "Degraded", "abort": null})");
  auto again = mc({"retry", "web"});
  EXPECT_EQ(again.exitCode, 0) << again.output;
  EXPECT_EQ(statusField("web", "abort"), json::value(false));
}

TEST_F(KubectlMcTest, PauseAndResumeSetSpecPaused) {
  createRollout("web");
  auto paused = mc({"pause", "web"});
  EXPECT_EQ(paused.exitCode, 0) << paused.output;
  EXPECT_EQ(paused.output, "rollout \"web\" paused\n");
  EXPECT_EQ(getRollout("web").at("spec").at("paused"), json::value(true));

  auto resumed = mc({"resume", "web"});
  EXPECT_EQ(resumed.exitCode, 0) << resumed.output;
  EXPECT_EQ(resumed.output, "rollout \"web\" resumed\n");
  EXPECT_FALSE(getRollout("web").at("spec").as_object().contains("paused"));
}

TEST_F(KubectlMcTest, UndoRestoresTheStoredTemplate) {
  auto rollout = createRollout("web", kTemplateV2);
  createReplicaSet(rollout, "h1", 1, kTemplateV1);
  createReplicaSet(rollout, "h2", 2, kTemplateV2);
  // Not the Rollout's (another owner uid): never a candidate, even with a later revision.
  createReplicaSet(rollout, "h9", 9, kTemplateV2, "00000000-0000-0000-0000-000000000009");
  setStatus("web", R"({"phase": "Healthy", "currentPodHash": "h2", "stableRS": "web-h2"})");

  auto missing = mc({"undo", "web", "--to-revision", "5"});
  EXPECT_EQ(missing.exitCode, 1) << missing.output;
  EXPECT_EQ(missing.output, "Error: rollout \"web\" has no revision 5 (available: 1, 2)\n");

  auto undone = mc({"undo", "web"});
  EXPECT_EQ(undone.exitCode, 0) << undone.output;
  EXPECT_EQ(undone.output, "rollout \"web\" rolled back to revision 1 (web-h1)\n");
  EXPECT_EQ(getRollout("web").at("spec").at("template"), json::parse(kTemplateV1))
      << "the template MC stored, unknown fields included";

  auto back = mc({"undo", "web", "--to-revision", "2"});
  EXPECT_EQ(back.exitCode, 0) << back.output;
  EXPECT_EQ(getRollout("web").at("spec").at("template"), json::parse(kTemplateV2));

  setStatus("web", R"({"currentPodHash": "h1"})");
  auto first = mc({"undo", "web"});
  EXPECT_EQ(first.exitCode, 1) << first.output;
  EXPECT_EQ(first.output, "Error: rollout \"web\" has no revision before 1 to undo to\n");
}

TEST_F(KubectlMcTest, StatusExitCodesFollowThePhase) {
  createRollout("web");
  setStatus("web", R"({"phase": "Healthy", "message": "web-a serves all traffic"})");
  auto healthy = mc({"status", "web"});
  EXPECT_EQ(healthy.exitCode, 0) << healthy.output;
  EXPECT_TRUE(contains(healthy.output, "Healthy: web-a serves all traffic")) << healthy.output;

  setStatus("web", R"({"phase": "Degraded", "message": "canary aborted"})");
  auto degraded = mc({"status", "web"});
  EXPECT_EQ(degraded.exitCode, 1) << degraded.output;
  EXPECT_TRUE(contains(degraded.output, "Error: rollout \"web\" is Degraded: canary aborted"))
      << degraded.output;

  setStatus(
      "web",
      R"({"phase": "Progressing", "message": "step 1/3 (setWeight 20): 0/1 canary pods available"})");
  auto slow = mc({"status", "web", "--timeout", "2s"});
  EXPECT_EQ(slow.exitCode, 1) << slow.output;
  EXPECT_TRUE(contains(slow.output,
                       "Error: rollout \"web\" not Healthy after 2s: step 1/3 (setWeight 20): 0/1 "
                       "canary pods available"))
      << slow.output;

  // Healthy for an older generation is not the verdict on the current spec.
  setStatus("web", R"({"phase": "Healthy", "observedGeneration": 0})", false);
  auto stale = mc({"status", "web", "--timeout", "2s"});
  EXPECT_EQ(stale.exitCode, 1) << stale.output;
  EXPECT_TRUE(contains(stale.output, "waiting for the controller to observe generation 1"))
      << stale.output;
}

TEST_F(KubectlMcTest, StatusReturnsOnceTheRolloutTurnsHealthy) {
  createRollout("web");
  setStatus("web",
            R"({"phase": "Progressing", "message": "promoting: 2/4 canary pods available"})");
  auto waiting = start({"status", "web"}, "status.log");
  ASSERT_TRUE(pollUntil(
      [&] { return contains(readFile(waiting.logFile()), "Progressing: promoting"); }, 30s))
      << waiting.logTail();
  EXPECT_TRUE(waiting.running());

  setStatus("web", R"({"phase": "Healthy", "message": "web-b serves all traffic"})");
  EXPECT_EQ(waiting.wait(30s), 0) << waiting.logTail();
  auto log = readFile(waiting.logFile());
  EXPECT_TRUE(contains(log, "Healthy: web-b serves all traffic")) << log;
  EXPECT_TRUE(contains(log, "rollout \"web\" is Healthy")) << log;
}

TEST_F(KubectlMcTest, GetRolloutShowsStepsAndReplicaSets) {
  auto rollout = createRollout("web");
  createReplicaSet(rollout, "h1", 1, kTemplateV1);
  createReplicaSet(rollout, "h2", 2, kTemplateV2);
  setStatus("web", R"({"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 20,
                       "stableRS": "web-h1", "canaryRS": "web-h2", "currentPodHash": "h2",
                       "message": "step 2/3 (pause (until promoted)): waiting for a promote"})");
  for (const char* alias : {"rollout", "rollouts", "ro", "mcro"}) {
    auto got = mc({"get", alias, "web"});
    EXPECT_EQ(got.exitCode, 0) << alias << ": " << got.output;
    EXPECT_TRUE(contains(got.output, "► 2. pause (until promoted)")) << got.output;
    EXPECT_TRUE(contains(got.output, "✔ 1. setWeight 20")) << got.output;
    EXPECT_TRUE(contains(got.output, "\nweb-h1 ")) << got.output;
    EXPECT_TRUE(contains(got.output, "\nweb-h2 ")) << got.output;
    EXPECT_TRUE(contains(got.output, "example/web:1 (stable)")) << got.output;
    EXPECT_TRUE(contains(got.output, "example/web:2 (canary)")) << got.output;
  }

  // --watch draws again when the Rollout changes, and when one of its ReplicaSets appears.
  auto watching = start({"get", "rollout", "web", "--watch"}, "watch.log");
  ASSERT_TRUE(pollUntil([&] { return contains(readFile(watching.logFile()), "► 2."); }, 30s))
      << watching.logTail();
  setStatus("web", R"({"phase": "Progressing", "currentStepIndex": 2, "canaryWeight": 60})");
  EXPECT_TRUE(pollUntil([&] { return contains(readFile(watching.logFile()), "► 3."); }, 30s))
      << watching.logTail();
  createReplicaSet(rollout, "h3", 3, kTemplateV2);
  EXPECT_TRUE(pollUntil([&] { return contains(readFile(watching.logFile()), "\nweb-h3 "); }, 30s))
      << watching.logTail();
  watching.signal(SIGINT);
  EXPECT_EQ(watching.wait(10s), 0) << watching.logTail();
}

// The line of `text` that contains `needle`, split on runs of spaces (empty if none).
std::vector<std::string> cellsOfLineWith(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) {
    return {};
  }
  size_t begin = text.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::istringstream in(text.substr(begin, text.find('\n', at) - begin));
  std::vector<std::string> cells;
  for (std::string cell; in >> cell;) {
    cells.push_back(cell);
  }
  return cells;
}

TEST_F(KubectlMcTest, GetAnalysisRunAndTheRunsOfGetRollout) {
  auto rollout = createRollout("web");
  setStatus("web", R"({"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 20,
                       "stableRS": "web-h1", "canaryRS": "web-h2", "attempt": 2,
                       "backgroundRun": "web-2-bg"})");
  createRun(rollout, "web-2-1", "step-1", R"json({
    "phase": "Failed", "message": "error-rate: 0.2 is above max 0.02",
    "startedAt": "2026-03-01T11:50:00Z", "completedAt": "2026-03-01T11:51:05Z",
    "metricResults": [{"name": "error-rate", "phase": "Failed", "query": "sum(rate(errors[1m]))",
      "count": 1, "failed": 1, "message": "0.2 is above max 0.02",
      "measurements": [{"phase": "Failed", "value": "0.2", "startedAt": "2026-03-01T11:51:00Z",
                        "finishedAt": "2026-03-01T11:51:05Z", "message": "0.2 > 0.02"}]}]})json");
  createRun(rollout, "web-2-bg", "background", R"({
    "phase": "Running", "message": "error-rate: 1/3 measured",
    "startedAt": "2026-03-01T11:40:00Z",
    "metricResults": [{"name": "error-rate", "phase": "Running", "count": 1, "inconclusive": 1,
      "measurements": [{"phase": "Inconclusive", "value": "NaN",
                        "startedAt": "2026-03-01T11:41:00Z",
                        "finishedAt": "2026-03-01T11:41:01Z", "message": "NaN"}]}]})");
  createRun(rollout, "web-1-1", "step-1", R"({"phase": "Failed"})");
  // Labelled as this Rollout's but controlled by another object: not its run.
  auto other = io_.run(client_->create(
      kube::resources::kConfigMaps, ns_,
      json::object{
          {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "other"}}}}));
  ASSERT_TRUE(other) << other.error().describe();
  createRun(rollout, "web-2-9", "step-9", R"({"phase": "Failed"})", &*other);

  using Row = std::vector<std::string>;
  for (const char* alias : {"analysisrun", "analysisruns", "ar", "mcar"}) {
    auto got = mc({"get", alias, "web-2-1"});
    EXPECT_EQ(got.exitCode, 0) << alias << ": " << got.output;
    EXPECT_TRUE(
        contains(got.output, "\nStatus:         Failed - error-rate: 0.2 is above max 0.02\n"))
        << got.output;
    EXPECT_TRUE(contains(got.output, "\nRollout:        web\nAnalysis:       step 2\n"))
        << got.output;
    EXPECT_TRUE(contains(got.output, "\nStarted:        2026-03-01T11:50:00Z (")) << got.output;
    EXPECT_TRUE(contains(got.output, "\n  canary-hash:  h2\n")) << got.output;
    EXPECT_TRUE(contains(got.output, "\n    Query:              sum(rate(errors[1m]))\n"))
        << "the query as run: " << got.output;
    EXPECT_TRUE(contains(got.output, "\n    Success condition:  max 0.02\n")) << got.output;
    EXPECT_TRUE(contains(got.output,
                         "\n    Limits:             failureLimit 0, inconclusiveLimit 0, "
                         "consecutiveErrorLimit 4\n"))
        << got.output;
    EXPECT_EQ(cellsOfLineWith(got.output, "STARTED"), (Row{"STARTED", "PHASE", "VALUE", "MESSAGE"}))
        << got.output;
    EXPECT_EQ(cellsOfLineWith(got.output, "2026-03-01T11:51:00Z "),
              (Row{"2026-03-01T11:51:00Z", "Failed", "0.2", "0.2", ">", "0.02"}))
        << got.output;
  }
  auto background = mc({"get", "ar", "web-2-bg"});
  EXPECT_EQ(background.exitCode, 0) << background.output;
  EXPECT_TRUE(
      contains(background.output, "\n    Query:              sum(rate(errors{hash=\"h2\"}[1m]))\n"))
      << "no query in the status: the spec's: " << background.output;

  auto missing = mc({"get", "analysisrun", "nope"});
  EXPECT_EQ(missing.exitCode, 1) << missing.output;
  EXPECT_EQ(missing.output,
            fmt::format("Error: analysisrun \"nope\" not found in namespace \"{}\"\n", ns_));

  auto got = mc({"get", "rollout", "web"});
  EXPECT_EQ(got.exitCode, 0) << got.output;
  EXPECT_TRUE(contains(got.output, "\nAnalysisRuns of attempt 2:\n")) << got.output;
  EXPECT_EQ(
      cellsOfLineWith(got.output, "  web-2-1 "),
      (Row{"web-2-1", "step", "2", "Failed", "error-rate:", "0.2", "is", "above", "max", "0.02"}))
      << got.output;
  EXPECT_EQ(
      cellsOfLineWith(got.output, "0.2 (max 0.02)"),
      (Row{"error-rate", "Failed", "0.2", "(max", "0.02)", "1/3", "measured,", "1", "failed"}))
      << got.output;
  EXPECT_EQ(cellsOfLineWith(got.output, "  web-2-bg "),
            (Row{"web-2-bg", "background", "Running", "error-rate:", "1/3", "measured"}));
  EXPECT_EQ(cellsOfLineWith(got.output, "NaN (max 0.02)"),
            (Row{"error-rate", "Running", "NaN", "(max", "0.02)", "1/3", "measured,", "1",
                 "inconclusive"}));
  EXPECT_TRUE(contains(got.output, "\n  Older: 1 run of attempt 1 (1 Failed); ")) << got.output;
  EXPECT_FALSE(contains(got.output, "web-1-1")) << "an older attempt's run, summed up";
  EXPECT_FALSE(contains(got.output, "web-2-9")) << "not controlled by the Rollout";

  // --watch draws again when a run's status changes.
  auto watching = start({"get", "rollout", "web", "--watch"}, "watch.log");
  ASSERT_TRUE(
      pollUntil([&] { return contains(readFile(watching.logFile()), "NaN (max 0.02)"); }, 30s))
      << watching.logTail();
  setRunStatus("web-2-bg", R"({"message": "error-rate: 2/3 measured", "metricResults": [
    {"name": "error-rate", "phase": "Running", "count": 2, "successful": 1, "inconclusive": 1,
     "measurements": [{"phase": "Inconclusive", "value": "NaN"},
                      {"phase": "Successful", "value": "0.013"}]}]})");
  EXPECT_TRUE(
      pollUntil([&] { return contains(readFile(watching.logFile()), "0.013 (max 0.02)"); }, 30s))
      << watching.logTail();
  watching.signal(SIGINT);
  EXPECT_EQ(watching.wait(10s), 0) << watching.logTail();
}

// Cells of each line of a table, split on runs of spaces.
std::vector<std::vector<std::string>> tableOf(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream cells(line);
    rows.emplace_back();
    for (std::string cell; cells >> cell;) {
      rows.back().push_back(cell);
    }
  }
  return rows;
}

// The cells of the first row whose leading cells are `key`, without the AGE cell (it varies).
std::vector<std::string> rowOf(const std::vector<std::vector<std::string>>& rows,
                               const std::vector<std::string>& key) {
  for (const auto& row : rows) {
    if (row.size() > key.size() && std::equal(key.begin(), key.end(), row.begin())) {
      return {row.begin(), row.end() - 1};
    }
  }
  return {};
}

TEST_F(KubectlMcTest, ListShowsPhaseStepWeightAndImages) {
  auto empty = mc({"list"});
  EXPECT_EQ(empty.exitCode, 0) << empty.output;
  EXPECT_EQ(empty.output, fmt::format("No rollouts found in namespace {}.\n", ns_));

  auto web = createRollout("web", kTemplateV2);
  createReplicaSet(web, "h1", 1, kTemplateV1);
  createReplicaSet(web, "h2", 2, kTemplateV2);
  setStatus("web", R"({"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 20,
                       "stableRS": "web-h1", "canaryRS": "web-h2", "currentPodHash": "h2",
                       "stablePodHash": "h1", "attempt": 1})");
  auto api = createRollout("api", kTemplateV1);
  createReplicaSet(api, "h1", 1, kTemplateV1);
  setStatus("api", R"({"phase": "Healthy", "currentStepIndex": 3, "canaryWeight": 0,
                       "stableRS": "api-h1", "currentPodHash": "h1", "stablePodHash": "h1"})");
  createRollout("fresh", kTemplateV2);

  for (const char* verb : {"list", "ls"}) {
    auto listed = mc({verb});
    EXPECT_EQ(listed.exitCode, 0) << listed.output;
    auto rows = tableOf(listed.output);
    ASSERT_EQ(rows.size(), 4u) << listed.output;
    using Row = std::vector<std::string>;
    EXPECT_EQ(rows[0], (Row{"NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "AGE"}));
    EXPECT_EQ(rowOf(rows, {"api"}), (Row{"api", "Healthy", "-", "-", "example/web:1", "-"}))
        << listed.output;
    EXPECT_EQ(rowOf(rows, {"fresh"}), (Row{"fresh", "Unknown", "-", "-", "example/web:2", "-"}));
    EXPECT_EQ(rowOf(rows, {"web"}),
              (Row{"web", "Paused", "2/3", "20", "example/web:1", "example/web:2"}));
    EXPECT_EQ(rows[1][0] + rows[2][0] + rows[3][0], "apifreshweb") << "sorted by name";
  }
  auto names = mc({"list", "-o", "name"});
  EXPECT_EQ(names.exitCode, 0) << names.output;
  EXPECT_EQ(names.output,
            "rollout.mc.maestro.dev/api\nrollout.mc.maestro.dev/fresh\n"
            "rollout.mc.maestro.dev/web\n");
}

TEST_F(KubectlMcTest, ListAllNamespacesByPhase) {
  createRollout("web");
  setStatus("web", R"({"phase": "Paused", "currentStepIndex": 1, "canaryWeight": 20,
                       "stableRS": "web-h1", "canaryRS": "web-h2", "attempt": 1})");
  createRollout("cart");
  setStatus("cart", R"({"phase": "Degraded", "currentStepIndex": 2, "canaryWeight": 0,
                        "stableRS": "cart-h1", "canaryRS": "cart-h2", "attempt": 2})");
  createRollout("api");
  setStatus("api", R"({"phase": "Healthy", "stableRS": "api-h1"})");
  // A second namespace, sorted before this test's own.
  std::string other = "kmc-a-" + ns_.substr(4, 40);
  ASSERT_TRUE(
      io_.run(client_->create(kube::resources::kNamespaces, "", test::namespaceObject(other))));
  auto elsewhere = json::parse(fmt::format(R"({{"apiVersion": "mc.maestro.dev/v1alpha1",
    "kind": "Rollout", "metadata": {{"name": "web"}},
    "spec": {{"selector": {{"matchLabels": {{"app": "web"}}}}, "template": {}}}}})",
                                           kTemplateV1))
                       .as_object();
  ASSERT_TRUE(io_.run(client_->create(kRollouts, other, std::move(elsewhere))));
  ASSERT_TRUE(io_.run(client_->patch(
      kRollouts, other, "web", kube::PatchType::Merge,
      R"({"status": {"phase": "Progressing", "currentStepIndex": 0, "canaryWeight": 10,
                     "stableRS": "web-x1", "canaryRS": "web-x2", "attempt": 1}})",
      {.subresource = "status"})));

  for (const auto& phases : std::vector<std::vector<std::string>>{
           {"--phase", "paused,DEGRADED,progressing"},
           {"--phase", "Paused", "--phase", "degraded", "--phase", "Progressing"}}) {
    std::vector<std::string> args{"list", "-A"};
    args.insert(args.end(), phases.begin(), phases.end());
    auto listed = mc(args);
    EXPECT_EQ(listed.exitCode, 0) << listed.output;
    auto rows = tableOf(listed.output);
    ASSERT_FALSE(rows.empty()) << listed.output;
    using Row = std::vector<std::string>;
    EXPECT_EQ(rows[0],
              (Row{"NAMESPACE", "NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "AGE"}));
    // Other tests' Rollouts may be listed too: only this test's namespaces are asserted.
    EXPECT_EQ(rowOf(rows, {ns_, "web"}),
              (Row{ns_, "web", "Paused", "2/3", "20", "<unknown>", "example/web:2"}))
        << listed.output;
    EXPECT_EQ(rowOf(rows, {ns_, "cart"}),
              (Row{ns_, "cart", "Degraded", "3/3", "0", "<unknown>", "example/web:2"}));
    EXPECT_EQ(rowOf(rows, {other, "web"}),
              (Row{other, "web", "Progressing", "1/4", "10", "<unknown>", "example/web:1"}))
        << "the default steps";
    EXPECT_TRUE(rowOf(rows, {ns_, "api"}).empty()) << "Healthy is not asked for";
    std::vector<std::string> order;
    for (const auto& row : rows) {
      if (!row.empty() && (row[0] == ns_ || row[0] == other)) {
        order.push_back(row[0] + "/" + row[1]);
      }
    }
    EXPECT_EQ(order, (Row{other + "/web", ns_ + "/cart", ns_ + "/web"}));
  }

  auto healthy = mc({"list", "--phase", "HEALTHY"});
  EXPECT_EQ(healthy.exitCode, 0) << healthy.output;
  EXPECT_EQ(tableOf(healthy.output).size(), 2u) << healthy.output;
  EXPECT_TRUE(contains(healthy.output, "\napi ")) << healthy.output;
  auto none = mc({"list", "--phase", "RolledBack"});
  EXPECT_EQ(none.exitCode, 0) << none.output;
  EXPECT_EQ(none.output,
            fmt::format("No rollouts found in namespace {} with phase RolledBack.\n", ns_));
  auto bad = mc({"list", "-A", "--phase", "Running"});
  EXPECT_EQ(bad.exitCode, 2) << bad.output;
  EXPECT_EQ(bad.output,
            "Error: --phase: \"Running\" is not a phase of a Rollout; valid phases: "
            "Progressing, Paused, Healthy, Degraded, RolledBack\n");
}

// More Rollouts than a page holds: the list follows the continue token to the last one.
TEST_F(KubectlMcTest, ListPagesThroughManyRollouts) {
  constexpr int kCount = 520;  // one page of 500 and a part
  for (int i = 0; i < kCount; ++i) {
    auto object = json::parse(fmt::format(R"({{"apiVersion": "mc.maestro.dev/v1alpha1",
      "kind": "Rollout", "metadata": {{"name": "r{:04}"}},
      "spec": {{"selector": {{"matchLabels": {{"app": "web"}}}}, "template": {}}}}})",
                                          i, kTemplateV1))
                      .as_object();
    auto created = io_.run(client_->create(kRollouts, ns_, std::move(object)));
    ASSERT_TRUE(created) << created.error().describe();
  }
  auto listed = mc({"list"});
  EXPECT_EQ(listed.exitCode, 0) << listed.output.substr(0, 2000);
  auto rows = tableOf(listed.output);
  ASSERT_EQ(rows.size(), static_cast<size_t>(kCount + 1));
  EXPECT_EQ(rows[1][0], "r0000");
  EXPECT_EQ(rows[kCount][0], fmt::format("r{:04}", kCount - 1));
}

TEST_F(KubectlMcTest, GetRolloutThatNeverRanACanarySaysSo) {
  auto rollout = createRollout("web", kTemplateV1);
  createReplicaSet(rollout, "h1", 1, kTemplateV1);
  // As MC leaves the first revision: every step index passed, weight 0, but no canary started.
  setStatus("web", R"({"phase": "Healthy", "currentStepIndex": 3, "canaryWeight": 0,
                       "stableRS": "web-h1", "currentPodHash": "h1", "stablePodHash": "h1",
                       "message": "web-h1 serves all traffic"})");
  auto got = mc({"get", "rollout", "web"});
  EXPECT_EQ(got.exitCode, 0) << got.output;
  EXPECT_TRUE(contains(
      got.output, "\n  No canary has run yet: the first revision (web-h1) was deployed at once.\n"))
      << got.output;
  EXPECT_TRUE(contains(got.output, "    · 1. setWeight 20\n")) << got.output;
  EXPECT_FALSE(contains(got.output, "✔")) << got.output;
  EXPECT_FALSE(contains(got.output, "SetWeight:")) << got.output;
  EXPECT_TRUE(contains(got.output, "example/web:1 (stable)")) << got.output;

  createRollout("fresh", kTemplateV1);
  auto unseen = mc({"get", "rollout", "fresh"});
  EXPECT_EQ(unseen.exitCode, 0) << unseen.output;
  EXPECT_TRUE(contains(unseen.output,
                       "No canary has run yet: the controller has not acted on this Rollout"))
      << unseen.output;

  // The list agrees: no step, no weight, no canary.
  auto listed = mc({"list"});
  auto rows = tableOf(listed.output);
  EXPECT_EQ(rowOf(rows, {"web"}),
            (std::vector<std::string>{"web", "Healthy", "-", "-", "example/web:1", "-"}))
      << listed.output;
}

// kubectl mc with a kubeconfig whose user is an exec plugin, as EKS, GKE and AKS write them.
TEST_F(KubectlMcTest, ExecCredentialPluginKubeconfig) {
  auto& cp = ControlPlaneEnvironment::get();
  cp.writeAdminCredentialPlugin(
      dir_ / "get-credential", "client.authentication.k8s.io/v1",
      "case \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) exit 9 ;; esac\n");
  auto kubeconfig = [&](const std::string& command) {
    auto path = dir_ / "exec.kubeconfig";
    std::ofstream(path) << fmt::format(R"(apiVersion: v1
kind: Config
current-context: exec
clusters: [{{name: local, cluster: {{server: "{}", certificate-authority: "{}"}}}}]
users:
- name: sso
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {}
      interactiveMode: IfAvailable
      installHint: "Install corp-sso: see go/sso"
contexts: [{{name: exec, context: {{cluster: local, user: sso}}}}]
)",
                                       cp.apiserverUrl(), cp.caFile().string(), command);
    return path;
  };
  createRollout("web");
  // No terminal on stdin here, so the plugin is told it may not prompt.
  auto listed = run(argv({"list"}, kubeconfig("./get-credential")), 60s);
  EXPECT_EQ(listed.exitCode, 0) << listed.output;
  EXPECT_NE(listed.output.find("web"), std::string::npos) << listed.output;

  auto missing = run(argv({"list"}, kubeconfig("corp-sso-not-installed")), 60s);
  EXPECT_NE(missing.exitCode, 0) << missing.output;
  EXPECT_NE(missing.output.find("corp-sso-not-installed: not found on $PATH; Install corp-sso: "
                                "see go/sso"),
            std::string::npos)
      << missing.output;
}

TEST_F(KubectlMcTest, MissingRolloutIsNotFound) {
  std::string expected =
      fmt::format("Error: rollout \"nope\" not found in namespace \"{}\"\n", ns_);
  for (const auto& args : std::vector<std::vector<std::string>>{{"get", "rollout", "nope"},
                                                                {"promote", "nope"},
                                                                {"abort", "nope"},
                                                                {"pause", "nope"},
                                                                {"undo", "nope"},
                                                                {"status", "nope"}}) {
    auto result = mc(args);
    EXPECT_EQ(result.exitCode, 1) << args[0] << ": " << result.output;
    EXPECT_EQ(result.output, expected) << args[0];
  }
  auto usage = mc({"promote"});
  EXPECT_EQ(usage.exitCode, 2) << usage.output;
}

TEST_F(KubectlMcTest, WithoutNamespaceFlagTheContextsNamespaceApplies) {
  createRollout("web");
  setStatus("web", R"({"phase": "Healthy", "message": "web-a serves all traffic"})");
  auto& cp = ControlPlaneEnvironment::get();
  auto kubeconfig = dir_ / "namespaced.kubeconfig";
  std::filesystem::copy_file(cp.kubeconfig(), kubeconfig);
  auto set = cp.kubectl({"config", "set-context", "--current", "--namespace=" + ns_,
                         "--kubeconfig=" + kubeconfig.string()});
  ASSERT_EQ(set.exitCode, 0) << set.output;
  auto status = run({KUBECTL_MC_BINARY, "--kubeconfig", kubeconfig.string(), "status", "web"}, 60s);
  EXPECT_EQ(status.exitCode, 0) << status.output;
  auto elsewhere =
      run({KUBECTL_MC_BINARY, "--kubeconfig", cp.kubeconfig().string(), "status", "web"}, 60s);
  EXPECT_EQ(elsewhere.exitCode, 1) << "the admin context names no namespace: default";
  EXPECT_TRUE(contains(elsewhere.output, "in namespace \"default\"")) << elsewhere.output;
}

TEST_F(KubectlMcTest, NoAccessWithoutRbac) {
  createRollout("web");
  auto [kubeconfig, bearer] = serviceAccountKubeconfig("nobody");
  for (const auto& args : std::vector<std::vector<std::string>>{{"get", "rollout", "web"},
                                                                {"get", "analysisrun", "web-1-0"},
                                                                {"promote", "web"},
                                                                {"pause", "web"},
                                                                {"status", "web"}}) {
    auto result = run(argv(args, kubeconfig), 60s);
    EXPECT_EQ(result.exitCode, 1) << result.output;
    EXPECT_EQ(result.output.rfind("Error: no access: ", 0), 0u) << result.output;
    EXPECT_TRUE(contains(result.output, "system:serviceaccount:" + ns_ + ":nobody"))
        << result.output;
    EXPECT_FALSE(contains(result.output, bearer)) << "the token is never printed";
  }
}

// Rollouts and ReplicaSets readable, AnalysisRuns not: `get rollout` shows the Rollout and says
// why its runs are missing, once and in --watch too.
TEST_F(KubectlMcTest, GetRolloutWithoutAccessToAnalysisRunsSaysSo) {
  auto object = json::parse(fmt::format(R"({{
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout", "metadata": {{"name": "web"}},
    "spec": {{"selector": {{"matchLabels": {{"app": "web"}}}}, "template": {},
              "strategy": {{"canary": {{"steps": [{{"setWeight": 20}},
                {{"analysis": {{"templates": [{{"templateName": "error-rate"}}]}}}}]}}}}}}}})",
                                        kTemplateV2))
                    .as_object();
  ASSERT_TRUE(io_.run(client_->create(kRollouts, ns_, std::move(object))));
  setStatus("web", R"({"phase": "Progressing", "currentStepIndex": 1, "canaryRS": "web-h2",
                       "stableRS": "web-h1", "attempt": 1})");
  auto& cp = ControlPlaneEnvironment::get();
  auto role = cp.kubectl({"create", "role", "rollout-reader", "-n", ns_, "--verb=get,list,watch",
                          "--resource=rollouts.mc.maestro.dev,replicasets.apps"});
  ASSERT_EQ(role.exitCode, 0) << role.output;
  auto binding = cp.kubectl({"create", "rolebinding", "rollout-reader", "-n", ns_,
                             "--role=rollout-reader", "--serviceaccount=" + ns_ + ":reader"});
  ASSERT_EQ(binding.exitCode, 0) << binding.output;
  auto [kubeconfig, bearer] = serviceAccountKubeconfig("reader");

  auto got = run(argv({"get", "rollout", "web"}, kubeconfig), 60s);
  EXPECT_EQ(got.exitCode, 0) << got.output;
  EXPECT_TRUE(contains(got.output, "► 2. analysis")) << got.output;
  EXPECT_TRUE(contains(got.output, "\nAnalysisRuns: not shown: no access: ")) << got.output;
  EXPECT_TRUE(contains(got.output, "system:serviceaccount:" + ns_ + ":reader")) << got.output;

  auto watching =
      Process(argv({"get", "rollout", "web", "--watch"}, kubeconfig), dir_ / "watch-reader.log");
  ASSERT_TRUE(pollUntil(
      [&] {
        return contains(readFile(watching.logFile()), "\nAnalysisRuns: not shown: no access: ");
      },
      30s))
      << watching.logTail();
  EXPECT_TRUE(watching.running()) << "the Rollout is still watched";
  watching.signal(SIGINT);
  EXPECT_EQ(watching.wait(10s), 0) << watching.logTail();
}

// Last in the file: it takes the Rollout CRD away and puts it back. A 404 for the Rollout API
// itself is not "rollout not found": discovery tells the two apart by the resources the group
// version lists (the AnalysisRun CRD keeps the group served).
TEST_F(KubectlMcTest, WithoutTheCrdTheApiIsSaidNotToBeInstalled) {
  auto& cp = ControlPlaneEnvironment::get();
  auto deleted = cp.kubectl({"delete", "crd", "rollouts.mc.maestro.dev", "--wait=true"});
  ASSERT_EQ(deleted.exitCode, 0) << deleted.output;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto discovery = io_.run(client_->getPath("/apis/mc.maestro.dev/v1alpha1"));
        if (!discovery) {
          return discovery.error().kind == ErrorKind::NotFound;
        }
        return !contains(json::serialize(*discovery), R"("name":"rollouts")");
      },
      60s))
      << "rollouts are still served";
  for (const auto& args :
       std::vector<std::vector<std::string>>{{"get", "rollout", "web"}, {"list"}}) {
    auto result = mc(args);
    EXPECT_EQ(result.exitCode, 1) << result.output;
    EXPECT_EQ(result.output.rfind(
                  "Error: the Rollout API (rollouts.mc.maestro.dev) is not installed on this "
                  "cluster",
                  0),
              0u)
        << args[0] << ": " << result.output;
  }
  auto run = mc({"get", "analysisrun", "nope"});
  EXPECT_EQ(run.exitCode, 1) << run.output;
  EXPECT_EQ(run.output,
            fmt::format("Error: analysisrun \"nope\" not found in namespace \"{}\"\n", ns_))
      << "AnalysisRuns are still served";
  SetUpTestSuite();  // the CRD back, Established
}

}  // namespace
}  // namespace mc::e2e

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
