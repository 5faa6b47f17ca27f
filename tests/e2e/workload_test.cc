// The e2e workload (e2e/fixtures workload.h) on the real apiserver: a Rollout and its two
// ReplicaSets made by hand (no mc-operator runs here; the test writes the status MC would), one
// mc-demo-app per live hash, Prometheus scraping them through file_sd, and the load split by
// status.canaryWeight, checked against what Prometheus counted.
#include "mc/e2e/workload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>

#include "mc/crds/names.h"
#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/servers.h"
#include "mc/runtime/http_client.h"

namespace mc::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kNamespace = "workload-e2e";
constexpr const char* kStableHash = "5f7c9d6b4";
constexpr const char* kCanaryHash = "8b4d2a7c1";

ControlPlane& cp() { return ControlPlaneEnvironment::get(); }

void kubectlOk(const std::vector<std::string>& args) {
  auto result = cp().kubectl(args);
  ASSERT_EQ(result.exitCode, 0) << fmt::format("kubectl {}: {}", fmt::join(args, " "),
                                               result.output);
}

void apply(const std::filesystem::path& dir, const std::string& name, const std::string& yaml) {
  auto file = dir / (name + ".yaml");
  std::ofstream(file) << yaml;
  kubectlOk({"apply", "-n", kNamespace, "-f", file.string()});
}

// One of the Rollout's ReplicaSets, as MC would make it: the hash label on it, its selector and
// its pods, the Rollout as its controller, and the demo app's settings in the template's env.
std::string replicaSetYaml(const std::string& hash, int replicas, const std::string& rolloutUid,
                           const std::string& env) {
  return fmt::format(R"(apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-{0}
  labels: {{app: web, {1}: "{0}"}}
  ownerReferences:
    - {{apiVersion: {2}, kind: {3}, name: web, uid: "{4}", controller: true}}
spec:
  replicas: {5}
  selector:
    matchLabels: {{app: web, {1}: "{0}"}}
  template:
    metadata:
      labels: {{app: web, {1}: "{0}"}}
    spec:
      containers:
        - name: web
          image: example/web:{0}
          env: {6}
)",
                     hash, crds::kPodTemplateHashLabel, crds::kApiVersion, crds::kRolloutKind,
                     rolloutUid, replicas, env);
}

// An instant query's vector result: each series' labels and value; empty if Prometheus has
// none (yet) or cannot answer.
std::vector<std::pair<std::map<std::string, std::string>, double>> query(
    const PrometheusServer& prometheus, const std::string& promql) {
  std::vector<std::pair<std::map<std::string, std::string>, double>> out;
  auto response = http::fetchBlocking(prometheus.url() + "/api/v1/query?query=" +
                                      boost::urls::encode(promql, boost::urls::unreserved_chars));
  if (!response || response->status != 200) {
    return out;
  }
  auto body = json::parse(response->body);
  for (const auto& series : body.at("data").at("result").as_array()) {
    std::map<std::string, std::string> labels;
    for (const auto& [key, value] : series.at("metric").as_object()) {
      labels[std::string(key)] = std::string(value.as_string());
    }
    out.emplace_back(labels, std::stod(std::string(series.at("value").as_array()[1].as_string())));
  }
  return out;
}

// A series' value by its pod_template_hash (and `code`, when the query keeps it: "HASH/CODE").
std::map<std::string, double> byHash(
    const std::vector<std::pair<std::map<std::string, std::string>, double>>& result) {
  std::map<std::string, double> out;
  for (const auto& [labels, value] : result) {
    auto key = labels.count("pod_template_hash") != 0 ? labels.at("pod_template_hash") : "";
    if (labels.count("code") != 0) {
      key += "/" + labels.at("code");
    }
    out[key] = value;
  }
  return out;
}

bool processGone(pid_t pid) { return ::kill(pid, 0) == -1 && errno == ESRCH; }

class WorkloadTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kubectlOk({"apply", "-f", (sourceDir() / "crds/rollout.yaml").string()});
    kubectlOk(
        {"wait", "--for=condition=Established", "crd/rollouts.mc.maestro.dev", "--timeout=60s"});
    kubectlOk({"create", "namespace", kNamespace});
  }
  void SetUp() override { dir_ = makeTempDir("workload-e2e"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_F(WorkloadTest, LoadFollowsTheCanaryWeightAndPrometheusCountsIt) {
  apply(dir_, "rollout", R"(apiVersion: mc.maestro.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 10
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: example/web:2
          env: [{name: ERROR_RATE, value: "0.2"}]
  strategy:
    canary: {}
)");
  auto uid =
      cp().kubectl({"get", "rollout", "web", "-n", kNamespace, "-o", "jsonpath={.metadata.uid}"});
  ASSERT_EQ(uid.exitCode, 0) << uid.output;
  apply(dir_, "stable", replicaSetYaml(kStableHash, 7, uid.output, "[]"));
  apply(dir_, "canary",
        replicaSetYaml(kCanaryHash, 3, uid.output,
                       R"([{name: ERROR_RATE, value: "0.2"}, {name: OTHER, value: "x"}])"));
  kubectlOk({"patch", "rollout", "web", "-n", kNamespace, "--subresource=status", "--type=merge",
             "-p",
             fmt::format(R"({{"status": {{"canaryWeight": 30, "currentPodHash": "{}",
                                          "stablePodHash": "{}"}}}})",
                         kCanaryHash, kStableHash)});

  // 200 requests a second: enough canary requests in ~20 s for a tight bound on its errors.
  WorkloadRunner runner(WorkloadOptions{.kubeconfig = cp().kubeconfig(),
                                        .ns = kNamespace,
                                        .rollout = "web",
                                        .demoAppBinary = MC_DEMO_APP_BINARY,
                                        .requestsPerSecond = 200});
  PrometheusServer prometheus(
      PrometheusServer::Options{.fileSdFiles = {runner.fileSdPath()}, .scrapeIntervalSeconds = 1});

  // Two processes, each configured from its own ReplicaSet's template.
  const std::map<std::string, int> weighted{{kCanaryHash, 30}, {kStableHash, 70}};
  ASSERT_TRUE(
      pollUntil([&] { return runner.targets().size() == 2 && runner.split() == weighted; }, 60s))
      << "targets: " << runner.targets().size() << ", last error: " << runner.lastError();
  auto targets = runner.targets();
  for (const auto& [hash, target] : targets) {
    EXPECT_FALSE(processGone(target.pid)) << hash;
    EXPECT_EQ(target.replicaSet, std::string("web-") + hash);
  }
  EXPECT_EQ(targets[kCanaryHash].env, (std::map<std::string, std::string>{{"ERROR_RATE", "0.2"}}))
      << "only the demo app's variables are copied";
  EXPECT_TRUE(targets[kStableHash].env.empty());

  // The file_sd file lists both, labelled as a cluster's relabelling would label them.
  std::ifstream fileSd(runner.fileSdPath());
  std::stringstream fileSdText;
  fileSdText << fileSd.rdbuf();
  auto groups = json::parse(fileSdText.str()).as_array();
  ASSERT_EQ(groups.size(), 2u) << fileSdText.str();
  for (const auto& group : groups) {
    auto hash = std::string(group.at("labels").at("pod_template_hash").as_string());
    ASSERT_EQ(targets.count(hash), 1u) << hash;
    EXPECT_EQ(group.at("targets").as_array()[0].as_string(),
              fmt::format("127.0.0.1:{}", targets[hash].port));
    EXPECT_EQ(group.at("labels").at("namespace").as_string(), kNamespace);
    EXPECT_EQ(group.at("labels").at("rollout").as_string(), "web");
  }

  // Prometheus sees both hashes' request rates, by the label an AnalysisTemplate queries.
  const std::string selector = fmt::format(R"({{namespace="{}",rollout="web"}})", kNamespace);
  const std::string rates =
      fmt::format("sum by (pod_template_hash) (rate(http_requests_total{}[10s]))", selector);
  ASSERT_TRUE(pollUntil(
      [&] {
        auto seen = byHash(query(prometheus, rates));
        return seen.size() == 2 && seen[kCanaryHash] > 0 && seen[kStableHash] > 0;
      },
      60s))
      << "Prometheus never saw both hashes' requests";

  // After 4000 requests (20 s at 200 a second) the 10 s rate window holds steady load only.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto traffic = runner.traffic();
        return traffic[kCanaryHash].sent + traffic[kStableHash].sent >= 4000;
      },
      120s));
  auto rateNow = byHash(query(prometheus, rates));
  ASSERT_EQ(rateNow.size(), 2u);
  // The split itself is exact (3 of every 10 requests); each rate is read off its own target's
  // scrapes, one second apart and not aligned, so the ratio of the two is off by the requests of
  // part of a scrape interval in a 10 s window: a few percent of the share at most.
  EXPECT_NEAR(rateNow[kCanaryHash] / (rateNow[kCanaryHash] + rateNow[kStableHash]), 0.30, 0.05);

  // Stop the load and let Prometheus scrape the last of it: its counts then equal the
  // runner's, request for request.
  runner.setRequestsPerSecond(0);
  ASSERT_TRUE(pollUntil([&] { return runner.inFlight() == 0; }, 30s));
  auto traffic = runner.traffic();
  const std::string totals =
      fmt::format("sum by (pod_template_hash, code) (http_requests_total{})", selector);
  std::map<std::string, double> counted;
  EXPECT_TRUE(pollUntil(
      [&] {
        counted = byHash(query(prometheus, totals));
        return counted[std::string(kCanaryHash) + "/200"] == traffic[kCanaryHash].ok &&
               counted[std::string(kCanaryHash) + "/500"] == traffic[kCanaryHash].serverErrors &&
               counted[std::string(kStableHash) + "/200"] == traffic[kStableHash].ok &&
               counted[std::string(kStableHash) + "/500"] == traffic[kStableHash].serverErrors;
      },
      30s))
      << fmt::format(
             "Prometheus counted other requests than were sent: {} for canary {}/{} "
             "and stable {}/{} (200/500)",
             fmt::join(counted, ", "), traffic[kCanaryHash].ok, traffic[kCanaryHash].serverErrors,
             traffic[kStableHash].ok, traffic[kStableHash].serverErrors);
  EXPECT_EQ(traffic[kCanaryHash].failed + traffic[kStableHash].failed, 0);
  EXPECT_EQ(runner.skipped(), 0);

  double canary =
      counted[std::string(kCanaryHash) + "/200"] + counted[std::string(kCanaryHash) + "/500"];
  double stable =
      counted[std::string(kStableHash) + "/200"] + counted[std::string(kStableHash) + "/500"];
  // Smooth weighted round-robin gives the canary exactly 3 of every 10 requests, so its share of
  // N requests is 0.3 to within 1/N; 0.01 leaves room for nothing but a wrong split.
  EXPECT_NEAR(canary / (canary + stable), 0.30, 0.01);
  EXPECT_EQ(counted[std::string(kStableHash) + "/500"], 0) << "the stable has no ERROR_RATE";
  // Each canary request fails independently with p = 0.2: with n >= 1200 of them the fraction's
  // standard deviation is at most sqrt(0.2 * 0.8 / 1200) ≈ 0.0115, and ±0.05 is 4.3 of them (a
  // correct run fails it about once in 60000; 0.1 or 0.3 is caught every time).
  ASSERT_GE(canary, 1200);
  EXPECT_NEAR(counted[std::string(kCanaryHash) + "/500"] / canary, 0.2, 0.05);
  std::cout << fmt::format(
      "canary: {} of {} requests ({:.4f}), {} answered 500 ({:.4f}); rate share {:.4f}\n", canary,
      canary + stable, canary / (canary + stable), counted[std::string(kCanaryHash) + "/500"],
      counted[std::string(kCanaryHash) + "/500"] / canary,
      rateNow[kCanaryHash] / (rateNow[kCanaryHash] + rateNow[kStableHash]));

  // The canary scaled to 0: its process stops, Prometheus' file loses it, and all the load goes
  // to the stable.
  pid_t canaryPid = targets[kCanaryHash].pid;
  kubectlOk({"scale", "rs", std::string("web-") + kCanaryHash, "-n", kNamespace, "--replicas=0"});
  EXPECT_TRUE(pollUntil(
      [&] {
        return runner.targets().count(kCanaryHash) == 0 && processGone(canaryPid) &&
               runner.split() == std::map<std::string, int>{{kStableHash, 100}};
      },
      30s))
      << "the canary's process still runs";
  std::ifstream after(runner.fileSdPath());
  std::stringstream afterText;
  afterText << after.rdbuf();
  auto left = json::parse(afterText.str()).as_array();
  ASSERT_EQ(left.size(), 1u) << afterText.str();
  EXPECT_EQ(left[0].at("labels").at("pod_template_hash").as_string(), kStableHash);

  auto before = runner.traffic();
  runner.setRequestsPerSecond(100);
  EXPECT_TRUE(pollUntil(
      [&] { return runner.traffic()[kStableHash].ok >= before[kStableHash].ok + 100; }, 30s));
  EXPECT_EQ(runner.traffic()[kCanaryHash].sent, before[kCanaryHash].sent)
      << "a request went to a canary scaled to 0";
}

// Prometheus' name for a Kubernetes label in its meta labels: every character that may not be
// in a label name becomes '_' (strutil.SanitizeLabelName).
std::string sanitized(std::string name) {
  for (auto& c : name) {
    c = std::isalnum(static_cast<unsigned char>(c)) != 0 ? c : '_';
  }
  return name;
}

// The relabel rule of docs/workload-runner.md, taken from the page itself, on a real Prometheus:
// pods of a ReplicaSet with MC's hash label become targets labelled pod_template_hash,
// namespace and rollout; other pods are dropped. Debian's Prometheus is built without
// kubernetes_sd_configs ("field kubernetes_sd_configs not found"), so the test stands in for
// the pod discovery: it lists the control plane's real pods and hands Prometheus, by file_sd,
// the meta labels that discovery documents for each (namespace, pod labels, controller kind and
// name). The rule's relabelling is Prometheus' own.
TEST_F(WorkloadTest, TheDocumentedRelabelRuleLabelsPodsByTheirHash) {
  const std::string ns = "relabel-e2e";
  kubectlOk({"create", "namespace", ns});
  auto replicaSet = [&](const std::string& name, const std::string& labels) {
    auto file = dir_ / (name + ".yaml");
    std::ofstream(file) << fmt::format(R"(apiVersion: apps/v1
kind: ReplicaSet
metadata: {{name: {0}}}
spec:
  replicas: 2
  selector: {{matchLabels: {1}}}
  template:
    metadata: {{labels: {1}}}
    spec:
      containers: [{{name: web, image: example/web:1, ports: [{{containerPort: 8080}}]}}]
)",
                                       name, labels);
    kubectlOk({"apply", "-n", ns, "-f", file.string()});
  };
  replicaSet(std::string("web-") + kStableHash,
             fmt::format(R"({{app: web, {}: "{}"}})", crds::kPodTemplateHashLabel, kStableHash));
  replicaSet("unrelated", "{app: unrelated}");

  // The four pods, with what Kubernetes discovery would make of each.
  json::array groups;
  ASSERT_TRUE(pollUntil(
      [&] {
        auto listed = cp().kubectl({"get", "pods", "-n", ns, "-o", "json"});
        if (listed.exitCode != 0) {
          return false;
        }
        groups.clear();
        auto pods = json::parse(listed.output);
        for (const auto& pod : pods.at("items").as_array()) {
          const auto& metadata = pod.at("metadata").as_object();
          json::object labels{{"__meta_kubernetes_namespace", ns},
                              {"__meta_kubernetes_pod_name", metadata.at("name")}};
          if (auto* podLabels = metadata.if_contains("labels")) {
            for (const auto& [key, value] : podLabels->as_object()) {
              labels["__meta_kubernetes_pod_label_" + sanitized(std::string(key))] = value;
            }
          }
          if (auto* owners = metadata.if_contains("ownerReferences")) {
            for (const auto& owner : owners->as_array()) {
              if (owner.as_object().if_contains("controller") && owner.at("controller").as_bool()) {
                labels["__meta_kubernetes_pod_controller_kind"] = owner.at("kind");
                labels["__meta_kubernetes_pod_controller_name"] = owner.at("name");
              }
            }
          }
          // An address per pod that refuses at once: scrapes are not what is tested.
          groups.push_back(
              json::object{{"targets", json::array{fmt::format("127.0.0.1:{}", groups.size() + 1)}},
                           {"labels", std::move(labels)}});
        }
        return groups.size() == 4;
      },
      60s))
      << "the ReplicaSet controller made " << groups.size() << " of 4 pods";
  std::ofstream(dir_ / "pods.json") << json::serialize(groups);

  // The page's scrape config, its Kubernetes discovery swapped for the file above.
  std::ifstream page(sourceDir() / "docs/workload-runner.md");
  std::stringstream pageText;
  pageText << page.rdbuf();
  auto text = pageText.str();
  auto start = text.find("```yaml\nscrape_configs:");
  ASSERT_NE(start, std::string::npos) << "docs/workload-runner.md has no scrape_configs block";
  start += std::string("```yaml\n").size();
  std::string config = text.substr(start, text.find("```", start) - start);
  const std::string discovery = "    kubernetes_sd_configs:\n      - role: pod\n";
  auto at = config.find(discovery);
  ASSERT_NE(at, std::string::npos) << config;
  config.replace(at, discovery.size(),
                 fmt::format("    file_sd_configs:\n      - files: [\"{}\"]\n",
                             (dir_ / "pods.json").string()));
  std::ofstream(dir_ / "prometheus.yml") << "global: {scrape_interval: 1s}\n" << config;
  auto port = freePort();
  Process prometheus({"prometheus", "--config.file=" + (dir_ / "prometheus.yml").string(),
                      "--storage.tsdb.path=" + (dir_ / "data").string(),
                      fmt::format("--web.listen-address=127.0.0.1:{}", port)},
                     dir_ / "prometheus.log");
  auto url = fmt::format("http://127.0.0.1:{}", port);

  // The active targets' labels, once Prometheus has relabelled what it discovered.
  std::vector<std::map<std::string, std::string>> active;
  bool found = pollUntil(
      [&] {
        auto response = http::fetchBlocking(url + "/api/v1/targets?state=active");
        if (!prometheus.running() || !response || response->status != 200) {
          return !prometheus.running();
        }
        active.clear();
        auto body = json::parse(response->body);
        for (const auto& target : body.at("data").at("activeTargets").as_array()) {
          std::map<std::string, std::string> labels;
          for (const auto& [key, value] : target.at("labels").as_object()) {
            labels[std::string(key)] = std::string(value.as_string());
          }
          active.push_back(std::move(labels));
        }
        return !active.empty();
      },
      60s);
  ASSERT_TRUE(found && prometheus.running()) << prometheus.logTail();
  ASSERT_EQ(active.size(), 2u) << "one target per pod of the labelled ReplicaSet, no others";
  for (const auto& labels : active) {
    EXPECT_EQ(labels.count("pod_template_hash") ? labels.at("pod_template_hash") : "", kStableHash);
    EXPECT_EQ(labels.count("namespace") ? labels.at("namespace") : "", ns);
    EXPECT_EQ(labels.count("rollout") ? labels.at("rollout") : "", "web");
  }
}

// The split's cases without processes: what the load does for each status MC may write.
TEST(WorkloadSplitTest, FollowsTheStatusForTheHashesThatLive) {
  using Split = std::map<std::string, int>;
  EXPECT_EQ(workloadSplit({}, "c", "s", 30), Split{});
  EXPECT_EQ(workloadSplit({"s"}, "c", "s", 30), (Split{{"s", 100}})) << "one hash gets all";
  EXPECT_EQ(workloadSplit({"c"}, "c", "s", 30), (Split{{"c", 100}}));
  EXPECT_EQ(workloadSplit({"c", "s"}, "c", "s", 30), (Split{{"c", 30}, {"s", 70}}));
  EXPECT_EQ(workloadSplit({"c", "s"}, "c", "s", 0), (Split{{"s", 100}}));
  EXPECT_EQ(workloadSplit({"c", "s"}, "c", "s", 100), (Split{{"c", 100}}));
  EXPECT_EQ(workloadSplit({"c", "s"}, "c", "s", 150), (Split{{"c", 100}})) << "clamped";
  EXPECT_EQ(workloadSplit({"old", "s"}, "s", "s", 0), (Split{{"s", 100}}))
      << "no canary: an old hash still scaling down gets nothing, as no route names it";
  EXPECT_EQ(workloadSplit({"c", "old"}, "c", "s", 30), (Split{{"c", 100}}))
      << "the stable gone: the canary is all there is";
  EXPECT_EQ(workloadSplit({"a", "b", "d"}, "", "", 0), (Split{{"a", 34}, {"b", 33}, {"d", 33}}))
      << "a status naming none of them: evenly";
}

TEST(WorkloadRunnerTest, AnUnreadableKubeconfigIsRefusedAtOnce) {
  try {
    WorkloadRunner runner(WorkloadOptions{.kubeconfig = "/nonexistent/kubeconfig",
                                          .ns = "default",
                                          .rollout = "web",
                                          .demoAppBinary = MC_DEMO_APP_BINARY});
    ADD_FAILURE() << "a runner started without a kubeconfig";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/kubeconfig"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace mc::e2e
