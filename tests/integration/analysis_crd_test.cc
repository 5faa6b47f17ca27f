// The analysis CRDs (crds/analysis_template.yaml, cluster_analysis_template.yaml,
// analysis_run.yaml) and the Rollout's analysis fields (crds/rollout.yaml) on the real
// apiserver: what docs/analysis.md writes is accepted and kept whole, each CEL rule refuses a bad
// object naming the field, an AnalysisRun's spec is fixed but for spec.terminate, its status
// subresource takes the status the doc shows, and kubectl's columns and names are there.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "mc/crds/analysis.h"
#include "mc/crds/names.h"
#include "mc/crds/rollout.h"
#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/process.h"
#include "mc/runtime/kube_client.h"
#include "mc/testing/io_thread.h"

namespace mc::crds {
namespace {

namespace json = boost::json;
using e2e::ControlPlaneEnvironment;

using resources::kAnalysisRuns;
using resources::kAnalysisTemplates;
using resources::kClusterAnalysisTemplates;
using resources::kRollouts;
const kube::ResourceType kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions", false};

constexpr const char* kNamespace = "default";

// The AnalysisTemplate spec of docs/analysis.md, every field set.
constexpr const char* kDocSpec = R"json({
  "args": [{"name": "canary-hash"}, {"name": "service", "value": "web"}],
  "metrics": [{
    "name": "error-rate",
    "interval": "30s",
    "count": 5,
    "initialDelay": "0s",
    "failureLimit": 0,
    "inconclusiveLimit": 0,
    "consecutiveErrorLimit": 4,
    "dryRun": false,
    "successCondition": {"max": 0.02},
    "provider": {"prometheus": {
      "address": "http://prometheus.monitoring:9090",
      "query": "sum(rate(http_requests_total{code=~\"5..\",pod_template_hash=\"{{args.canary-hash}}\"}[1m]))\n/ sum(rate(http_requests_total{pod_template_hash=\"{{args.canary-hash}}\"}[1m]))\n",
      "timeout": "10s",
      "secretRef": {"name": "prom"}
    }}
  }]
})json";

// The AnalysisRun status of docs/analysis.md.
constexpr const char* kDocStatus = R"json({
  "phase": "Running",
  "message": "error-rate: 2/5 measured",
  "startedAt": "2026-12-02T14:00:00Z",
  "metricResults": [{
    "name": "error-rate",
    "phase": "Running",
    "query": "sum(rate(http_requests_total{code=~\"5..\",pod_template_hash=\"6d4f9c\"}[1m]))",
    "count": 2, "successful": 2, "failed": 0, "inconclusive": 0, "error": 0,
    "consecutiveErrors": 0,
    "measurements": [
      {"phase": "Successful", "value": "0.0113", "startedAt": "2026-12-02T14:00:00Z",
       "finishedAt": "2026-12-02T14:00:01Z", "message": "0.0113 <= max 0.02"},
      {"phase": "Successful", "value": "0.0098", "startedAt": "2026-12-02T14:00:31Z",
       "finishedAt": "2026-12-02T14:00:31Z", "message": "0.0098 <= max 0.02"}
    ]
  }]
})json";

json::object object(const char* kind, const std::string& name, json::value spec) {
  json::object o;
  o["apiVersion"] = kApiVersion;
  o["kind"] = kind;
  o["metadata"] = json::object{{"name", name}};
  o["spec"] = std::move(spec);
  return o;
}

json::object& firstMetric(json::object& spec) { return spec["metrics"].as_array()[0].as_object(); }

json::object& prometheus(json::object& spec) {
  return firstMetric(spec)["provider"].as_object()["prometheus"].as_object();
}

// A Rollout with `canary` as spec.strategy.canary.
json::object rollout(const std::string& name, json::value canary) {
  auto spec = json::parse(R"({
    "replicas": 2,
    "selector": {"matchLabels": {"app": "web"}},
    "template": {"metadata": {"labels": {"app": "web"}},
                 "spec": {"containers": [{"name": "web", "image": "example/web:1"}]}}
  })")
                  .as_object();
  spec["strategy"] = json::object{{"canary", std::move(canary)}};
  return object(kRolloutKind, name, std::move(spec));
}

// The canary of docs/analysis.md "In the Rollout".
constexpr const char* kDocCanary = R"json({
  "analysis": {
    "templates": [{"templateName": "error-rate"},
                  {"templateName": "org-latency", "clusterScope": true}],
    "args": [{"name": "service", "value": "web"}],
    "startingStep": 1,
    "onError": "abort"
  },
  "steps": [
    {"setWeight": 10},
    {"analysis": {"templates": [{"templateName": "error-rate"}],
                  "args": [{"name": "threshold", "value": "0.02"}],
                  "onError": "abort"}},
    {"setWeight": 30}
  ]
})json";

struct Kind {
  const char* kind;
  const kube::ResourceType* type;
  std::string ns;
  std::string crd;
};

const std::vector<Kind>& metricKinds() {
  static const std::vector<Kind> kinds{
      {kAnalysisTemplateKind, &kAnalysisTemplates, kNamespace, "analysistemplates.mc.maestro.dev"},
      {kClusterAnalysisTemplateKind, &kClusterAnalysisTemplates, "",
       "clusteranalysistemplates.mc.maestro.dev"},
      {kAnalysisRunKind, &kAnalysisRuns, kNamespace, "analysisruns.mc.maestro.dev"},
  };
  return kinds;
}

class AnalysisCrdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto& cp = ControlPlaneEnvironment::get();
    for (const char* file :
         {"rollout", "analysis_template", "cluster_analysis_template", "analysis_run"}) {
      auto path = e2e::sourceDir() / "crds" / fmt::format("{}.yaml", file);
      auto applied = cp.kubectl({"apply", "-f", path.string()});
      ASSERT_EQ(applied.exitCode, 0) << applied.output;
    }
    for (const char* crd :
         {"rollouts", "analysistemplates", "clusteranalysistemplates", "analysisruns"}) {
      auto established = cp.kubectl({"wait", "--for=condition=Established",
                                     fmt::format("crd/{}.mc.maestro.dev", crd), "--timeout=60s"});
      ASSERT_EQ(established.exitCode, 0) << established.output;
    }
  }
  void SetUp() override {
    auto config = kube::loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(config);
    auto client = kube::KubeClient::create(io_.executor(), *config);
    ASSERT_TRUE(client);
    client_ = std::move(*client);
  }

  // The apiserver's message for a create it refuses ("" if it accepted).
  std::string rejection(const kube::ResourceType& type, const std::string& ns,
                        json::object object) {
    auto created = io_.run(client_->create(type, ns, std::move(object)));
    if (created) {
      return "";
    }
    EXPECT_EQ(created.error().kind, ErrorKind::Invalid) << created.error().describe();
    return created.error().message;
  }
  // The apiserver's message for a merge patch it refuses ("" if it accepted).
  std::string patchRejection(const kube::ResourceType& type, const std::string& name,
                             const std::string& body, const std::string& subresource = "") {
    auto patched = io_.run(client_->patch(type, kNamespace, name, kube::PatchType::Merge, body,
                                          {.subresource = subresource}));
    if (patched) {
      return "";
    }
    EXPECT_EQ(patched.error().kind, ErrorKind::Invalid) << patched.error().describe();
    return patched.error().message;
  }
  json::object crd(const std::string& name) {
    auto got = io_.run(client_->get(kCrds, "", name));
    EXPECT_TRUE(got) << name << ": " << got.error().describe();
    return got ? *got : json::object{};
  }
  static const json::value& schemaOf(const json::object& crd) {
    return crd.at("spec").at("versions").at(0).at("schema").at("openAPIV3Schema");
  }

  test::IoThread io_;
  kube::KubeClientPtr client_;
};

// Every field of the doc's template, in all three kinds: stored as written, nothing pruned,
// nothing added (the CRDs default nothing; MC applies the documented defaults).
TEST_F(AnalysisCrdTest, TheDocsTemplateRoundTripsWhole) {
  for (const auto& k : metricKinds()) {
    auto spec = json::parse(kDocSpec);
    auto created = io_.run(client_->create(*k.type, k.ns, object(k.kind, "doc", spec)));
    ASSERT_TRUE(created) << k.kind << ": " << created.error().describe();
    auto fetched = io_.run(client_->get(*k.type, k.ns, "doc"));
    ASSERT_TRUE(fetched) << k.kind;
    EXPECT_EQ(fetched->at("spec"), spec) << k.kind << " stored " << fetched->at("spec");
  }
  // And MC's types read all of it and write it back as the apiserver holds it: the CRD and
  // crds/analysis.h agree on every field.
  auto run = io_.run(client_->get(kAnalysisRuns, kNamespace, "doc"));
  ASSERT_TRUE(run);
  auto parsedRun = readAnalysisRun(json::value(*run));
  ASSERT_TRUE(parsedRun) << parsedRun.error().describe();
  EXPECT_EQ(json::value_from(*parsedRun).at("spec"), run->at("spec"));
  auto templ = io_.run(client_->get(kAnalysisTemplates, kNamespace, "doc"));
  ASSERT_TRUE(templ);
  auto parsedTemplate = readAnalysisTemplate(json::value(*templ));
  ASSERT_TRUE(parsedTemplate) << parsedTemplate.error().describe();
  ASSERT_EQ(parsedTemplate->spec.metrics.size(), 1u);
  EXPECT_EQ(writeMetric(parsedTemplate->spec.metrics[0]), templ->at("spec").at("metrics").at(0));
  // Arguments in the address (substituted by MC) are an http URL too; a minimum alone is a bound.
  auto spec = json::parse(kDocSpec).as_object();
  prometheus(spec)["address"] = "https://{{args.prometheus-host}}:9090/prom";
  firstMetric(spec)["successCondition"] = json::object{{"min", 0.99}};
  EXPECT_EQ(
      rejection(kAnalysisTemplates, kNamespace, object(kAnalysisTemplateKind, "args-url", spec)),
      "");
}

// Each rule, on each kind that carries the metrics schema: the bad object is refused, and the
// message names the field (the apiserver prefixes the path; the rule's message names it too).
TEST_F(AnalysisCrdTest, EachRuleRefusesABadMetricNamingTheField) {
  struct Case {
    const char* name;
    std::function<void(json::object& spec)> spoil;
    std::vector<const char*> mentions;
  };
  const std::vector<Case> cases{
      {"duplicate-metric",
       [](json::object& spec) {
         auto second = spec["metrics"].as_array()[0];
         spec["metrics"].as_array().push_back(second);
       },
       {"spec.metrics", "metric names must be unique"}},
      {"no-metrics", [](json::object& spec) { spec["metrics"] = json::array{}; }, {"spec.metrics"}},
      {"no-bounds",
       [](json::object& spec) { firstMetric(spec)["successCondition"] = {}; },
       {"spec.metrics[0].successCondition", "successCondition needs min or max"}},
      {"min-over-max",
       [](json::object& spec) {
         firstMetric(spec)["successCondition"] = json::object{{"min", 0.5}, {"max", 0.1}};
       },
       {"spec.metrics[0].successCondition",
        "successCondition.min must not be greater than successCondition.max"}},
      {"count-zero",
       [](json::object& spec) { firstMetric(spec)["count"] = 0; },
       {"spec.metrics[0].count"}},
      {"count-without-interval",
       [](json::object& spec) {
         firstMetric(spec).erase("interval");
         firstMetric(spec)["count"] = 3;
       },
       {"spec.metrics[0]", "count above 1 needs an interval"}},
      {"negative-failure-limit",
       [](json::object& spec) { firstMetric(spec)["failureLimit"] = -1; },
       {"spec.metrics[0].failureLimit"}},
      {"negative-inconclusive-limit",
       [](json::object& spec) { firstMetric(spec)["inconclusiveLimit"] = -1; },
       {"spec.metrics[0].inconclusiveLimit"}},
      {"negative-error-limit",
       [](json::object& spec) { firstMetric(spec)["consecutiveErrorLimit"] = -2; },
       {"spec.metrics[0].consecutiveErrorLimit"}},
      {"bad-interval",
       [](json::object& spec) { firstMetric(spec)["interval"] = "30 seconds"; },
       {"spec.metrics[0].interval"}},
      {"bad-initial-delay",
       [](json::object& spec) { firstMetric(spec)["initialDelay"] = "1d"; },
       {"spec.metrics[0].initialDelay"}},
      {"bad-timeout",
       [](json::object& spec) { prometheus(spec)["timeout"] = "10"; },
       {"spec.metrics[0].provider.prometheus.timeout"}},
      {"empty-provider",
       [](json::object& spec) { firstMetric(spec)["provider"] = json::object{}; },
       {"spec.metrics[0].provider", "provider names exactly one metric provider: prometheus"}},
      {"no-provider",
       [](json::object& spec) { firstMetric(spec).erase("provider"); },
       {"spec.metrics[0].provider"}},
      {"address-not-a-url",
       [](json::object& spec) { prometheus(spec)["address"] = "prometheus.monitoring:9090"; },
       {"spec.metrics[0].provider.prometheus.address",
        "prometheus.address must be an http:// or https:// URL"}},
      {"address-not-http",
       [](json::object& spec) { prometheus(spec)["address"] = "ftp://prometheus.monitoring"; },
       {"spec.metrics[0].provider.prometheus.address", "prometheus.address must be an http"}},
      {"empty-query",
       [](json::object& spec) { prometheus(spec)["query"] = " \n"; },
       {"spec.metrics[0].provider.prometheus.query", "prometheus.query must not be empty"}},
      {"query-without-condition",
       [](json::object& spec) { firstMetric(spec).erase("successCondition"); },
       {"spec.metrics[0]", "successCondition is needed"}},
      {"query-and-built-in",
       [](json::object& spec) { prometheus(spec)["errorRate"] = json::object{}; },
       {"spec.metrics[0].provider.prometheus", "exactly one of query, errorRate"}},
      {"alert-without-guard",
       [](json::object& spec) { prometheus(spec)["failWhenPresent"] = true; },
       {"spec.metrics[0].provider.prometheus", "failWhenPresent needs a query"}},
      {"guard-without-alert",
       [](json::object& spec) { prometheus(spec)["guard"] = "sum(rate(requests[1m]))"; },
       {"spec.metrics[0].provider.prometheus", "guard goes with failWhenPresent"}},
      {"burn-without-objective",
       [](json::object& spec) {
         prometheus(spec).erase("query");
         prometheus(spec)["sloBurn"] = json::object{};
       },
       {"spec.metrics[0].provider.prometheus.sloBurn.objective"}},
      {"burn-preset-and-windows",
       [](json::object& spec) {
         prometheus(spec).erase("query");
         prometheus(spec)["sloBurn"] = json::parse(R"({"objective": 99.9, "preset": "runbook",
             "windows": [{"long": "1h", "short": "5m", "maxBurnRate": 10}]})");
       },
       {"spec.metrics[0].provider.prometheus.sloBurn", "a preset or windows, not both"}},
      {"quantile-of-one",
       [](json::object& spec) {
         prometheus(spec).erase("query");
         prometheus(spec)["latency"] = json::object{{"quantile", 1}};
       },
       {"spec.metrics[0].provider.prometheus.latency.quantile"}},
      {"bad-metric-name",
       [](json::object& spec) {
         prometheus(spec).erase("query");
         prometheus(spec)["errorRate"] = json::object{{"metric", "http-requests"}};
       },
       {"spec.metrics[0].provider.prometheus.errorRate.metric"}},
      {"duplicate-args",
       [](json::object& spec) {
         spec["args"].as_array().push_back(json::object{{"name", "service"}});
       },
       {"spec.args", "argument names must be unique"}},
  };
  for (const auto& k : metricKinds()) {
    for (const auto& c : cases) {
      auto spec = json::parse(kDocSpec).as_object();
      c.spoil(spec);
      auto message = rejection(*k.type, k.ns, object(k.kind, c.name, spec));
      ASSERT_FALSE(message.empty()) << k.kind << " " << c.name << ": accepted";
      for (const char* mention : c.mentions) {
        EXPECT_NE(message.find(mention), std::string::npos)
            << k.kind << " " << c.name << ": no '" << mention << "' in: " << message;
      }
    }
  }
}

// The built-ins carry their thresholds: a metric of one needs no successCondition.
TEST_F(AnalysisCrdTest, BuiltInsNeedNoSuccessCondition) {
  const char* blocks[] = {
      R"({"errorRate": {"codeLabel": "status", "window": "2m", "matchers": "job=\"web\""}})",
      R"({"latency": {"quantile": 0.99, "minRequests": 50}})",
      R"({"sloBurn": {"objective": 99.9, "preset": "runbook"}})",
      R"({"sloBurn": {"objective": 99.5, "windows": [{"long": "2h", "short": "10m",
          "maxBurnRate": 5}]}})",
      R"json({"query": "errors > 0.02", "failWhenPresent": true, "guard": "rate(requests[5m])"})json",
  };
  for (const auto& k : metricKinds()) {
    for (size_t i = 0; i < std::size(blocks); ++i) {
      auto spec = json::parse(kDocSpec).as_object();
      firstMetric(spec).erase("successCondition");
      auto block = json::parse(blocks[i]).as_object();
      block["address"] = "http://prometheus.monitoring:9090";
      firstMetric(spec)["provider"] = json::object{{"prometheus", block}};
      auto message = rejection(*k.type, k.ns, object(k.kind, fmt::format("builtin-{}", i), spec));
      EXPECT_EQ(message, "") << k.kind << " " << blocks[i];
    }
  }
}

// The three copies of the metrics schema are one: AnalysisTemplate's spec is
// ClusterAnalysisTemplate's, and its metrics are AnalysisRun's. And every field says what it is.
TEST_F(AnalysisCrdTest, TheCopiesOfTheSchemaAreEqualAndDescribed) {
  auto templ = crd("analysistemplates.mc.maestro.dev");
  auto cluster = crd("clusteranalysistemplates.mc.maestro.dev");
  auto run = crd("analysisruns.mc.maestro.dev");
  const auto& templSpec = schemaOf(templ).at("properties").at("spec");
  EXPECT_EQ(schemaOf(cluster).at("properties").at("spec"), templSpec);
  // The run's metrics are the template's but for the array's own description (immutable there).
  auto runMetrics = schemaOf(run).at("properties").at("spec").at("properties").at("metrics");
  auto templMetrics = templSpec.at("properties").at("metrics");
  runMetrics.as_object().erase("description");
  templMetrics.as_object().erase("description");
  EXPECT_EQ(runMetrics, templMetrics);
  EXPECT_EQ(cluster.at("spec").at("scope").as_string(), "Cluster");

  std::vector<std::string> undescribed;
  std::function<void(const json::value&, const std::string&)> walk = [&](const json::value& schema,
                                                                         const std::string& path) {
    const auto& o = schema.as_object();
    if (o.contains("type") && !o.contains("description")) {
      undescribed.push_back(path);
    }
    if (const auto* properties = o.if_contains("properties")) {
      for (const auto& [name, sub] : properties->as_object()) {
        walk(sub, path + "." + std::string(name));
      }
    }
    if (const auto* items = o.if_contains("items")) {
      walk(*items, path + "[]");
    }
  };
  for (const auto* c : {&templ, &cluster, &run}) {
    walk(schemaOf(*c).at("properties").at("spec"),
         c->at("metadata").at("name").as_string().c_str());
    if (const auto* status = schemaOf(*c).at("properties").as_object().if_contains("status")) {
      walk(*status, "status");
    }
  }
  EXPECT_TRUE(undescribed.empty()) << "no description: " << json::value_from(undescribed);
}

TEST_F(AnalysisCrdTest, RunSpecIsFixedButTerminateCanBeSetOnce) {
  ASSERT_EQ(rejection(kAnalysisRuns, kNamespace,
                      object(kAnalysisRunKind, "fixed", json::parse(kDocSpec))),
            "");
  struct Case {
    const char* name;
    const char* patch;
    const char* mentions;
  };
  for (const auto& c : std::vector<Case>{
           {"metrics", R"({"spec":{"metrics":[{"name":"error-rate","successCondition":{"max":1},
               "provider":{"prometheus":{"address":"http://p:9090","query":"up"}}}]}})",
            "spec.metrics is immutable"},
           {"args", R"({"spec":{"args":[{"name":"service","value":"api"}]}})",
            "spec.args is immutable"},
           {"args-removed", R"({"spec":{"args":null}})", "spec.args is immutable"},
           {"empty-reason", R"({"spec":{"terminate":{"reason":""}}})",
            "terminate.reason must not be empty"},
       }) {
    auto message = patchRejection(kAnalysisRuns, "fixed", c.patch);
    EXPECT_NE(message.find(c.mentions), std::string::npos) << c.name << ": " << message;
  }
  EXPECT_EQ(patchRejection(
                kAnalysisRuns, "fixed",
                R"({"spec":{"terminate":{"reason":"Aborted","message":"rollout web aborted"}}})"),
            "")
      << "terminate is the one field that may be set";
  auto after = io_.run(client_->get(kAnalysisRuns, kNamespace, "fixed"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->at("spec").at("terminate"),
            json::parse(R"({"reason":"Aborted","message":"rollout web aborted"})"));
  EXPECT_EQ(after->at("spec").at("metrics"), json::parse(kDocSpec).at("metrics"));
  for (const char* patch : {R"({"spec":{"terminate":{"reason":"CanaryCompleted"}}})",
                            R"({"spec":{"terminate":null}})"}) {
    auto message = patchRejection(kAnalysisRuns, "fixed", patch);
    EXPECT_NE(message.find("spec.terminate cannot be changed or removed once set"),
              std::string::npos)
        << patch << ": " << message;
  }
  // A run made already terminated needs a reason too.
  auto spec = json::parse(kDocSpec).as_object();
  spec["terminate"] = json::object{{"reason", ""}};
  EXPECT_NE(rejection(kAnalysisRuns, kNamespace, object(kAnalysisRunKind, "no-reason", spec))
                .find("spec.terminate.reason"),
            std::string::npos);
}

// The status of docs/analysis.md, written through the status subresource, is kept whole; the
// main resource does not write status, and a phase outside the enum is refused naming it.
TEST_F(AnalysisCrdTest, StatusSubresourceTakesTheDocsStatus) {
  auto run = object(kAnalysisRunKind, "measured", json::parse(kDocSpec));
  run["status"] = json::parse(kDocStatus);
  auto created = io_.run(client_->create(kAnalysisRuns, kNamespace, run));
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_FALSE(created->contains("status")) << "status is written through its subresource only";

  auto status = json::parse(kDocStatus);
  auto body = json::serialize(json::object{{"status", status}});
  ASSERT_EQ(patchRejection(kAnalysisRuns, "measured", body, "status"), "");
  auto fetched = io_.run(client_->get(kAnalysisRuns, kNamespace, "measured"));
  ASSERT_TRUE(fetched);
  EXPECT_EQ(fetched->at("status"), status);
  // What MC's types write (crds/analysis.h) the CRD keeps whole: nothing of it is pruned.
  auto parsed = readAnalysisRun(json::value(*fetched));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  parsed->status.metricResults[0].message = "2 of 5";
  json::value written = writeRunStatus(parsed->status);
  ASSERT_EQ(patchRejection(kAnalysisRuns, "measured",
                           json::serialize(json::object{{"status", written}}), "status"),
            "");
  auto rewritten = io_.run(client_->get(kAnalysisRuns, kNamespace, "measured"));
  ASSERT_TRUE(rewritten);
  EXPECT_EQ(rewritten->at("status"), written);

  for (const char* bad :
       {R"({"status":{"phase":"Done"}})",
        R"({"status":{"metricResults":[{"name":"error-rate","phase":"Passed"}]}})",
        R"({"status":{"startedAt":"yesterday"}})"}) {
    auto message = patchRejection(kAnalysisRuns, "measured", bad, "status");
    EXPECT_NE(message.find("status."), std::string::npos) << bad << ": " << message;
  }
}

// What `kubectl get` shows: the CRDs' printer columns, short names and the mc category.
TEST_F(AnalysisCrdTest, KubectlColumnsAndNames) {
  struct Case {
    std::string crd;
    std::vector<std::string> columns;
    std::string shortName;
  };
  for (const auto& c : std::vector<Case>{
           {"analysistemplates.mc.maestro.dev", {"Metrics", "Age"}, "mcat"},
           {"clusteranalysistemplates.mc.maestro.dev", {"Metrics", "Age"}, "mccat"},
           {"analysisruns.mc.maestro.dev", {"Phase", "Metrics", "Message", "Age"}, "mcar"},
       }) {
    auto got = crd(c.crd);
    ASSERT_FALSE(got.empty());
    std::vector<std::string> columns;
    for (const auto& column :
         got.at("spec").at("versions").at(0).at("additionalPrinterColumns").as_array()) {
      columns.emplace_back(column.at("name").as_string());
    }
    EXPECT_EQ(columns, c.columns) << c.crd;
    const auto& names = got.at("spec").at("names");
    EXPECT_EQ(names.at("shortNames"), json::array{json::string(c.shortName)}) << c.crd;
    EXPECT_EQ(names.at("categories"), json::array{"mc"}) << c.crd;
  }
  auto& cp = ControlPlaneEnvironment::get();
  ASSERT_EQ(rejection(kAnalysisRuns, kNamespace,
                      object(kAnalysisRunKind, "shown", json::parse(kDocSpec))),
            "");
  ASSERT_EQ(
      patchRejection(kAnalysisRuns, "shown",
                     R"({"status":{"phase":"Successful","message":"error-rate: 5/5 measured"}})",
                     "status"),
      "");
  auto printed = cp.kubectl({"get", "mcar", "shown"});
  EXPECT_EQ(printed.exitCode, 0) << printed.output;
  EXPECT_NE(printed.output.find("PHASE"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("Successful"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("error-rate"), std::string::npos) << printed.output;
  EXPECT_NE(printed.output.find("5/5 measured"), std::string::npos) << printed.output;
  for (const char* shortName : {"mcat", "mccat", "mc"}) {
    auto listed = cp.kubectl({"get", shortName});
    EXPECT_EQ(listed.exitCode, 0) << shortName << ": " << listed.output;
  }
}

// The Rollout's side: the doc's background analysis and template objects are accepted and kept,
// progressDeadlineSeconds defaults to 600, and the new rules refuse what they should.
TEST_F(AnalysisCrdTest, RolloutTakesTheDocsAnalysis) {
  auto canary = json::parse(kDocCanary);
  auto created = io_.run(client_->create(kRollouts, kNamespace, rollout("analysed", canary)));
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_EQ(created->at("spec").at("strategy").at("canary"), canary);
  EXPECT_EQ(created->at("spec").at("progressDeadlineSeconds").as_int64(), 600)
      << "the CRD's default";
  // MC's Rollout type reads the new fields and writes back what the apiserver holds.
  auto parsed = readRollout(json::value(*created));
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(json::value_from(*parsed).at("spec"), created->at("spec"));

  auto given = rollout("deadline", json::object{});
  given["spec"].as_object()["progressDeadlineSeconds"] = 120;
  auto kept = io_.run(client_->create(kRollouts, kNamespace, given));
  ASSERT_TRUE(kept) << kept.error().describe();
  EXPECT_EQ(kept->at("spec").at("progressDeadlineSeconds").as_int64(), 120);
}

TEST_F(AnalysisCrdTest, RolloutRulesRefuseBadAnalysis) {
  struct Case {
    const char* name;
    std::function<void(json::object& canary)> spoil;
    const char* mentions;
  };
  auto background = [](json::object& canary) -> json::object& {
    return canary["analysis"].as_object();
  };
  const std::vector<Case> cases{
      {"starting-step-past-steps",
       [&](json::object& canary) { background(canary)["startingStep"] = 3; },
       "analysis.startingStep must be less than the number of steps"},
      {"negative-starting-step",
       [&](json::object& canary) { background(canary)["startingStep"] = -1; },
       "spec.strategy.canary.analysis.startingStep"},
      {"on-error-unknown", [&](json::object& canary) { background(canary)["onError"] = "ignore"; },
       "spec.strategy.canary.analysis.onError"},
      {"no-template-name",
       [&](json::object& canary) {
         background(canary)["templates"] = json::array{json::object{{"clusterScope", true}}};
       },
       "spec.strategy.canary.analysis.templates[0].templateName"},
      {"no-templates", [&](json::object& canary) { background(canary).erase("templates"); },
       "spec.strategy.canary.analysis.templates"},
      {"duplicate-args",
       [&](json::object& canary) {
         background(canary)["args"].as_array().push_back(json::object{{"name", "service"}});
       },
       "argument names must be unique"},
      {"step-template-as-string",
       [](json::object& canary) {
         canary["steps"].as_array()[1].as_object()["analysis"].as_object()["templates"] =
             json::array{"error-rate"};
       },
       "spec.strategy.canary.steps[1].analysis.templates[0]"},
      {"step-on-error-unknown",
       [](json::object& canary) {
         canary["steps"].as_array()[1].as_object()["analysis"].as_object()["onError"] = "retry";
       },
       "spec.strategy.canary.steps[1].analysis.onError"},
  };
  for (const auto& c : cases) {
    auto canary = json::parse(kDocCanary).as_object();
    c.spoil(canary);
    auto message = rejection(kRollouts, kNamespace, rollout(c.name, canary));
    EXPECT_NE(message.find(c.mentions), std::string::npos) << c.name << ": " << message;
  }
  auto zeroDeadline = rollout("zero-deadline", json::object{});
  zeroDeadline["spec"].as_object()["progressDeadlineSeconds"] = 0;
  EXPECT_NE(rejection(kRollouts, kNamespace, zeroDeadline).find("spec.progressDeadlineSeconds"),
            std::string::npos);
  // The last step is a valid start; without steps (MC's default ones) startingStep is MC's to
  // judge.
  auto last = json::parse(kDocCanary).as_object();
  background(last)["startingStep"] = 2;
  EXPECT_EQ(rejection(kRollouts, kNamespace, rollout("start-at-last", last)), "");
  auto noSteps = json::parse(kDocCanary).as_object();
  noSteps.erase("steps");
  EXPECT_EQ(rejection(kRollouts, kNamespace, rollout("no-steps", noSteps)), "");
}

// The chart's CRDs on the real apiserver, with helm: CRDs applied by kubectl before (as by the
// old chart's crds/) are refused until handed to the release as docs/chart.md says; `helm upgrade`
// then upgrades the CRDs (a changed copy of the chart changes the CRD in the cluster);
// crds.install=false and `helm uninstall` leave the CRDs and the objects in them.
class ChartCrdsTest : public AnalysisCrdTest {
 protected:
  void SetUp() override {
    AnalysisCrdTest::SetUp();
    auto dir = e2e::run({(e2e::sourceDir() / "e2e/tools/build.sh").string(), "--check", "helm"});
    ASSERT_EQ(dir.exitCode, 0) << "helm is not built; run scripts/setup.sh: " << dir.output;
    while (!dir.output.empty() && (dir.output.back() == '\n' || dir.output.back() == '\r')) {
      dir.output.pop_back();
    }
    helm_ = dir.output + "/helm";
    home_ = e2e::makeTempDir("mc-helm");
  }
  void TearDown() override { std::filesystem::remove_all(home_); }

  // helm against the control plane, its config and cache in a directory of its own.
  e2e::CommandResult helm(std::vector<std::string> args) {
    std::vector<std::string> argv{"env",
                                  "HELM_CONFIG_HOME=" + (home_ / "config").string(),
                                  "HELM_CACHE_HOME=" + (home_ / "cache").string(),
                                  "HELM_DATA_HOME=" + (home_ / "data").string(),
                                  helm_,
                                  "--kubeconfig",
                                  ControlPlaneEnvironment::get().kubeconfig().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    return e2e::run(argv, std::chrono::minutes(2));
  }
  std::string annotation(const json::object& object, const char* key) {
    const auto* annotations = object.at("metadata").as_object().if_contains("annotations");
    const auto* value = annotations ? annotations->as_object().if_contains(key) : nullptr;
    return value ? std::string(value->as_string()) : "";
  }

  std::string helm_;
  std::filesystem::path home_;
};

TEST_F(ChartCrdsTest, HelmUpgradesTheCrdsAndUninstallKeepsThem) {
  auto& cp = ControlPlaneEnvironment::get();
  const std::string chart = (e2e::sourceDir() / "charts/mc").string();
  const std::vector<std::string> crds{"rollouts.mc.maestro.dev", "analysistemplates.mc.maestro.dev",
                                      "clusteranalysistemplates.mc.maestro.dev",
                                      "analysisruns.mc.maestro.dev"};
  // Secrets by name only: prom-mc may be read, no other.
  const std::vector<std::string> install{"install",   "mc",
                                         chart,       "-n",
                                         "mc-system", "--create-namespace",
                                         "--set",     "analysis.secretNames={prom-mc}"};

  // CRDs another tool applied (this suite's kubectl apply, as the old chart's crds/ or a user's
  // kubectl apply -f crds/ did) are not Helm's: the install is refused until they are handed over
  // with docs/chart.md's two commands.
  auto refused = helm(install);
  EXPECT_NE(refused.exitCode, 0) << refused.output;
  EXPECT_NE(refused.output.find("invalid ownership metadata"), std::string::npos) << refused.output;
  for (const auto& name : crds) {
    auto labelled = cp.kubectl({"label", "crd", name, "app.kubernetes.io/managed-by=Helm"});
    ASSERT_EQ(labelled.exitCode, 0) << labelled.output;
    auto annotated = cp.kubectl({"annotate", "crd", name, "meta.helm.sh/release-name=mc",
                                 "meta.helm.sh/release-namespace=mc-system"});
    ASSERT_EQ(annotated.exitCode, 0) << annotated.output;
  }
  auto installed = helm(install);
  ASSERT_EQ(installed.exitCode, 0) << installed.output;
  for (const auto& name : crds) {
    auto got = crd(name);
    ASSERT_FALSE(got.empty()) << name;
    EXPECT_EQ(annotation(got, "helm.sh/resource-policy"), "keep") << name;
    EXPECT_EQ(annotation(got, "meta.helm.sh/release-name"), "mc") << name;
  }
  for (const auto& name : crds) {
    auto established =
        cp.kubectl({"wait", "--for=condition=Established", "crd/" + name, "--timeout=60s"});
    ASSERT_EQ(established.exitCode, 0) << established.output;
  }
  ASSERT_EQ(rejection(kRollouts, kNamespace, rollout("users-rollout", json::object{})), "");

  // What the chart's RBAC lets MC's ServiceAccount do, asked of the apiserver's authorizer: all
  // namespaces first, then with watchNamespaces (ClusterAnalysisTemplates stay readable).
  auto can = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv{"auth", "can-i", "--as=system:serviceaccount:mc-system:mc"};
    argv.insert(argv.end(), args.begin(), args.end());
    // "yes" and exit 0, or "no" and exit 1 (kubectl may warn first, e.g. of a cluster-scoped
    // resource asked in the current namespace).
    auto answer = cp.kubectl(argv);
    EXPECT_TRUE(answer.output.ends_with("yes\n") || answer.output.ends_with("no\n"))
        << answer.output;
    return answer.exitCode == 0 && answer.output.ends_with("yes\n");
  };
  struct Ask {
    std::vector<std::string> args;
    bool allowed;
  };
  const std::vector<Ask> everywhere{
      {{"list", "analysistemplates.mc.maestro.dev", "-n", "default"}, true},
      {{"watch", "clusteranalysistemplates.mc.maestro.dev"}, true},
      {{"create", "analysisruns.mc.maestro.dev", "-n", "default"}, true},
      {{"delete", "analysisruns.mc.maestro.dev", "-n", "default"}, true},
      {{"patch", "analysisruns.mc.maestro.dev", "--subresource=status", "-n", "default"}, true},
      {{"update", "analysisruns.mc.maestro.dev", "--subresource=status", "-n", "default"}, false},
      {{"create", "analysistemplates.mc.maestro.dev", "-n", "default"}, false},
      {{"get", "secret/prom-mc", "-n", "default"}, true},
      {{"get", "secret/other", "-n", "default"}, false},
      {{"list", "secrets", "-n", "default"}, false},
      {{"watch", "secrets", "-n", "default"}, false},
  };
  for (const auto& ask : everywhere) {
    EXPECT_EQ(can(ask.args), ask.allowed) << fmt::format("{}", fmt::join(ask.args, " "));
  }
  ASSERT_EQ(cp.kubectl({"create", "namespace", "team-a"}).exitCode, 0);
  auto namespaced = helm({"upgrade", "mc", chart, "-n", "mc-system", "--set",
                          "watchNamespaces={team-a}", "--set", "analysis.secretNames={prom-mc}"});
  ASSERT_EQ(namespaced.exitCode, 0) << namespaced.output;
  const std::vector<Ask> inTeamA{
      {{"list", "analysistemplates.mc.maestro.dev", "-n", "team-a"}, true},
      {{"list", "analysistemplates.mc.maestro.dev", "-n", "default"}, false},
      {{"list", "clusteranalysistemplates.mc.maestro.dev"}, true},
      {{"get", "secret/prom-mc", "-n", "team-a"}, true},
      {{"get", "secret/prom-mc", "-n", "default"}, false},
  };
  for (const auto& ask : inTeamA) {
    EXPECT_EQ(can(ask.args), ask.allowed)
        << "watchNamespaces={team-a}: " << fmt::format("{}", fmt::join(ask.args, " "));
  }

  // A chart whose CRD changed: helm upgrade changes it in the cluster (crds/ never would).
  auto changed = e2e::makeTempDir("mc-chart");
  auto copied = e2e::run({"cp", "-rL", chart, (changed / "mc").string()});
  ASSERT_EQ(copied.exitCode, 0) << copied.output;
  auto edited = e2e::run({"sed", "-i",
                          "s/description: \"Phase of the run\"/description: \"Phase, upgraded\"/",
                          (changed / "mc/files/crds/analysis_run.yaml").string()});
  ASSERT_EQ(edited.exitCode, 0) << edited.output;
  auto upgraded = helm({"upgrade", "mc", (changed / "mc").string(), "-n", "mc-system"});
  std::filesystem::remove_all(changed);
  ASSERT_EQ(upgraded.exitCode, 0) << upgraded.output;
  auto phaseColumn = [&] {
    auto got = crd("analysisruns.mc.maestro.dev");
    const auto& columns = got.at("spec").at("versions").at(0).at("additionalPrinterColumns");
    return std::string(columns.at(0).at("description").as_string());
  };
  EXPECT_TRUE(
      e2e::pollUntil([&] { return phaseColumn() == "Phase, upgraded"; }, std::chrono::seconds(30)))
      << "the CRD after helm upgrade: " << phaseColumn();

  // Opting out on an upgrade, and uninstalling, leave the CRDs and the users' objects.
  auto optedOut = helm({"upgrade", "mc", chart, "-n", "mc-system", "--set", "crds.install=false"});
  ASSERT_EQ(optedOut.exitCode, 0) << optedOut.output;
  auto uninstalled = helm({"uninstall", "mc", "-n", "mc-system", "--wait"});
  ASSERT_EQ(uninstalled.exitCode, 0) << uninstalled.output;
  EXPECT_TRUE(e2e::pollUntil(
      [&] {
        return cp.kubectl({"-n", "mc-system", "get", "deployment", "mc"}).exitCode != 0;
      },
      std::chrono::seconds(60)))
      << "the release's Deployment is gone";
  for (const auto& name : crds) {
    EXPECT_FALSE(crd(name).empty()) << name << " was deleted with the release";
  }
  auto kept = io_.run(client_->get(kRollouts, kNamespace, "users-rollout"));
  EXPECT_TRUE(kept) << "the user's Rollout went with the release: " << kept.error().describe();
}

}  // namespace
}  // namespace mc::crds

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
