// AnalysisRunReconciler on the fake apiserver, with a scripted provider and a fake clock: when
// it measures, what it writes, and that a measurement is never lost or counted twice, across a
// 409 and a crash.
#include "mc/reconcilers/analysis_run_reconciler.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <deque>
#include <future>
#include <mutex>

#include "mc/audit/chain.h"
#include "mc/audit/writer.h"
#include "mc/common/json.h"
#include "mc/e2e/poll.h"
#include "mc/runtime/informer.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using analysis::Observation;
using test::FakeApiServer;
using test::Verb;

// The API as a user spells it, so these tests do not move with MC's constants.
const kube::ResourceType kRuns{"mc.maestro.dev", "v1alpha1", "analysisruns"};
const kube::ResourceType kAuditRecords{"mc.maestro.dev", "v1alpha1", "auditrecords"};
constexpr const char* kNs = "shop";

// What the provider will see, in order; each measure() takes the next (an Error when none is
// left, so a test that measures more than it scripted fails on the counts).
class Script {
 public:
  void push(Observation observation) {
    std::lock_guard lock(mutex_);
    next_.push_back(std::move(observation));
  }
  Observation take() {
    std::lock_guard lock(mutex_);
    ++taken_;
    if (next_.empty()) {
      return Observation::error("unscripted measurement");
    }
    auto observation = next_.front();
    next_.pop_front();
    return observation;
  }
  int taken() const {
    std::lock_guard lock(mutex_);
    return taken_;
  }
  std::vector<analysis::RunScope> scopes;  // what each provider was made for

 private:
  mutable std::mutex mutex_;
  std::deque<Observation> next_;
  int taken_ = 0;
};

// Asks what the script says; a block {"scripted": {"queries": [...]}} names the queries it
// ran (one by default), as a built-in runs several.
class ScriptedProvider final : public analysis::MetricProvider {
 public:
  ScriptedProvider(Script& script, const json::object& block) : script_(script) {
    if (const auto* names = arrayAt(block, "queries")) {
      for (const auto& name : *names) {
        std::string n(name.as_string());
        queries_.push_back({n, "q-" + n});
      }
    } else {
      queries_.push_back({"query", "sum(rate(errors[1m]))"});
    }
  }
  std::vector<crds::MetricQuery> queries() const override { return queries_; }
  boost::asio::awaitable<Observation> measure() override { co_return script_.take(); }

 private:
  Script& script_;
  std::vector<crds::MetricQuery> queries_;
};

json::object runObject(const std::string& metric) {
  return {{"apiVersion", "mc.maestro.dev/v1alpha1"},
          {"kind", "AnalysisRun"},
          {"metadata", {{"name", "web-1-2"}, {"namespace", kNs}}},
          {"spec", {{"metrics", json::array{json::parse(metric)}}}}};
}

const char* kThreeEvery30s = R"({"name": "error-rate", "interval": "30s", "count": 3,
    "successCondition": {"max": 0.02}, "provider": {"scripted": {}}})";

// mc-operator's AnalysisRun controller as the test drives it: an informer filling the cache,
// the reconciler, and a crash that throws both away.
class RunWorld {
 public:
  ~RunWorld() { crash(); }

  void start() { operator_ = std::make_unique<Operator>(fake_, clock_, io_, script_); }
  void crash() { operator_.reset(); }

  FakeApiServer& fake() { return fake_; }
  test::FakeClock& clock() { return clock_; }
  Script& script() { return script_; }

  Result<kube::ReconcileResult> reconcile() {
    EXPECT_TRUE(e2e::pollUntil([&] { return cacheInStep(); }, 5s, 1ms)) << "cache lags";
    kube::ReconcileRequest request{kNs, "web-1-2", "test", logging::Logger()};
    return io_.run(operator_->reconciler.reconcile(request));
  }

  json::object status() const {
    auto run = fake_.read(kRuns, kNs, "web-1-2");
    const auto* s = run ? objectAt(*run, "status") : nullptr;
    return s ? *s : json::object();
  }
  std::string phase() const { return stringAt(status(), "phase"); }
  json::object metric() const {
    const json::object whole = status();
    const auto* results = arrayAt(whole, "metricResults");
    return results && !results->empty() ? results->at(0).as_object() : json::object();
  }
  int64_t count(const char* field) const { return intAt(metric(), field, -1); }

 private:
  struct Operator {
    Operator(FakeApiServer& fake, const Clock& clock, test::IoThread& io, Script& script)
        : reconciler(
              fake,
              [&script](analysis::ProviderDeps&, const analysis::RunScope& scope,
                        const json::object& provider,
                        const std::string& path) -> Result<analysis::MetricProviderPtr> {
                if (!provider.contains("scripted")) {
                  return fieldError(path, "unknown provider");
                }
                script.scopes.push_back(scope);
                return analysis::MetricProviderPtr(std::make_unique<ScriptedProvider>(
                    script, provider.at("scripted").as_object()));
              },
              clock),
          auditLog(fake, nullptr),
          runs(fake, kRuns, kNs) {
      reconciler.useCache(runs.store());
      reconciler.useAuditLog(auditLog);
      done = boost::asio::co_spawn(io.io(), runs.run(), boost::asio::use_future);
    }
    ~Operator() {
      runs.stop();
      EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
    }
    AnalysisRunReconciler reconciler;
    audit::ChainWriter auditLog;
    kube::Informer runs;
    std::future<void> done;
  };

  bool cacheInStep() {
    auto stored = fake_.read(kRuns, kNs, "web-1-2");
    auto cached = operator_->runs.store().get(std::string(kNs) + "/web-1-2");
    return operator_->runs.hasSynced() && stored && cached &&
           kube::resourceVersionOf(*cached) == kube::resourceVersionOf(*stored);
  }

  test::FakeClock clock_;
  FakeApiServer fake_{clock_};
  test::IoThread io_;
  Script script_;
  std::unique_ptr<Operator> operator_;
};

TEST(AnalysisRunReconcilerTest, MeasuresOnItsIntervalUntilCountThenSuccessful) {
  RunWorld world;
  world.fake().put(kRuns, runObject(kThreeEvery30s));
  for (double v : {0.01, 0.015, 0.0}) {
    world.script().push(Observation::of(v));
  }
  world.start();
  auto first = world.reconcile();
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(world.script().taken(), 1) << "the first measurement at once (no initialDelay)";
  EXPECT_EQ(world.phase(), "Running");
  EXPECT_EQ(first->requeueAfter, 30s) << "requeued for the next one";
  EXPECT_EQ(stringAt(world.metric(), "query"), "sum(rate(errors[1m]))");

  // Not due yet: a reconcile (any watch event) measures nothing.
  world.clock().advance(10s);
  auto early = world.reconcile();
  ASSERT_TRUE(early);
  EXPECT_EQ(world.script().taken(), 1);
  EXPECT_EQ(early->requeueAfter, 20s);

  world.clock().advance(20s);
  ASSERT_TRUE(world.reconcile());
  world.clock().advance(30s);
  auto last = world.reconcile();
  ASSERT_TRUE(last);
  EXPECT_EQ(world.script().taken(), 3);
  EXPECT_EQ(world.phase(), "Successful") << json::serialize(world.status());
  EXPECT_EQ(world.count("count"), 3);
  EXPECT_EQ(world.count("successful"), 3);
  EXPECT_TRUE(world.status().contains("completedAt"));
  const json::object metric = world.metric();
  const auto* measurements = arrayAt(metric, "measurements");
  ASSERT_TRUE(measurements);
  ASSERT_EQ(measurements->size(), 3u);
  EXPECT_EQ(stringAt(measurements->at(1).as_object(), "value"), "0.015");

  world.clock().advance(1h);
  ASSERT_TRUE(world.reconcile());
  EXPECT_EQ(world.script().taken(), 3) << "a decided run is never measured again";
}

TEST(AnalysisRunReconcilerTest, TheStatusShowsEveryQueryABuiltInRan) {
  RunWorld world;
  auto run = runObject(R"({"name": "p95", "successCondition": {"max": 1.5},
      "provider": {"scripted": {"queries": ["p95", "requests"]}}})");
  run["spec"].as_object()["args"] = json::parse(R"([{"name": "canary-hash", "value": "abc"}])");
  world.fake().put(kRuns, run);
  world.start();
  world.script().push(Observation::of(0.4));
  ASSERT_TRUE(world.reconcile());
  EXPECT_EQ(world.phase(), "Successful");
  const json::object metric = world.metric();
  EXPECT_EQ(stringAt(metric, "query"), "q-p95") << "the judged query first";
  const auto* queries = arrayAt(metric, "queries");
  ASSERT_TRUE(queries != nullptr && queries->size() == 2) << json::serialize(metric);
  EXPECT_EQ(stringAt(queries->at(1).as_object(), "name"), "requests");
  EXPECT_EQ(stringAt(queries->at(1).as_object(), "query"), "q-requests");
  // The provider was made for the run's namespace and with its arguments.
  ASSERT_EQ(world.script().scopes.size(), 1u);
  EXPECT_EQ(world.script().scopes[0].ns, kNs);
  EXPECT_EQ(world.script().scopes[0].arg("canary-hash"), "abc");
}

TEST(AnalysisRunReconcilerTest, TheSecondFailureFailsARunWithFailureLimitOne) {
  RunWorld world;
  world.fake().put(kRuns, runObject(R"({"name": "error-rate", "interval": "30s", "count": 10,
      "failureLimit": 1, "successCondition": {"max": 0.02}, "provider": {"scripted": {}}})"));
  for (double v : {0.2, 0.01, 0.3}) {
    world.script().push(Observation::of(v));
  }
  world.start();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(world.reconcile());
    EXPECT_EQ(world.phase(), i < 2 ? "Running" : "Failed") << "after measurement " << i + 1;
    world.clock().advance(30s);
  }
  EXPECT_EQ(world.count("failed"), 2);
  EXPECT_NE(stringAt(world.status(), "message").find("0.3 > max 0.02"), std::string::npos)
      << stringAt(world.status(), "message");
  EXPECT_NE(stringAt(world.status(), "message").find("failureLimit 1"), std::string::npos);
}

TEST(AnalysisRunReconcilerTest, ErrorsAreRetriedSoonAndTheFifthInARowIsError) {
  RunWorld world;
  world.fake().put(kRuns, runObject(R"({"name": "error-rate", "interval": "1m", "count": 3,
      "successCondition": {"max": 0.02}, "provider": {"scripted": {}}})"));
  for (int i = 0; i < 5; ++i) {
    world.script().push(Observation::error("Prometheus at http://p:9090 unreachable"));
  }
  world.start();
  for (int i = 0; i < 5; ++i) {
    auto result = world.reconcile();
    ASSERT_TRUE(result);
    if (i < 4) {
      EXPECT_EQ(result->requeueAfter, 10s) << "an Error is retried after 10 s, not 1 m";
      EXPECT_EQ(world.phase(), "Running");
    }
    world.clock().advance(10s);
  }
  EXPECT_EQ(world.phase(), "Error");
  EXPECT_EQ(world.count("consecutiveErrors"), 5);
  EXPECT_NE(stringAt(world.status(), "message").find("unreachable"), std::string::npos);
}

TEST(AnalysisRunReconcilerTest, AMeasurementRefusedWithA409IsNotCounted) {
  RunWorld world;
  world.fake().put(kRuns, runObject(kThreeEvery30s));
  for (double v : {0.01, 0.01, 0.01, 0.01}) {
    world.script().push(Observation::of(v));
  }
  world.start();
  ASSERT_TRUE(world.reconcile());
  world.clock().advance(30s);
  world.fake().failNext(Verb::Patch, "analysisruns/status", 1,
                        makeError(ErrorKind::Conflict, "the object has been modified", 409));
  auto refused = world.reconcile();
  ASSERT_FALSE(refused) << "the fault happened";
  EXPECT_EQ(refused.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(world.script().taken(), 2);
  EXPECT_EQ(world.count("count"), 1) << "the refused measurement is not on record";
  ASSERT_TRUE(world.reconcile());  // the requeue, on fresh state
  EXPECT_EQ(world.count("count"), 2);
  world.clock().advance(30s);
  ASSERT_TRUE(world.reconcile());
  EXPECT_EQ(world.phase(), "Successful");
  EXPECT_EQ(world.count("count"), 3) << "three on record: none lost, none twice";
}

TEST(AnalysisRunReconcilerTest, ARestartedOperatorResumesWhereTheStatusLeftOff) {
  RunWorld world;
  world.fake().put(kRuns, runObject(kThreeEvery30s));
  for (double v : {0.01, 0.01, 0.01}) {
    world.script().push(Observation::of(v));
  }
  world.start();
  ASSERT_TRUE(world.reconcile());
  world.clock().advance(30s);
  ASSERT_TRUE(world.reconcile());
  ASSERT_EQ(world.count("count"), 2);

  world.crash();  // SIGKILL: caches and the writes in flight are gone
  world.clock().advance(5s);
  world.start();
  auto resumed = world.reconcile();
  ASSERT_TRUE(resumed);
  EXPECT_EQ(world.script().taken(), 2) << "the third is not due for 25 s: no tick twice";
  EXPECT_EQ(resumed->requeueAfter, 25s);
  world.clock().advance(25s);
  ASSERT_TRUE(world.reconcile());
  EXPECT_EQ(world.script().taken(), 3);
  EXPECT_EQ(world.count("count"), 3);
  EXPECT_EQ(world.phase(), "Successful");
}

TEST(AnalysisRunReconcilerTest, TerminatedRunsEndSuccessfulOnlyForACompletedCanary) {
  for (const auto& [reason, phase] : std::vector<std::pair<std::string, std::string>>{
           {"CanaryCompleted", "Successful"}, {"Superseded", "Inconclusive"}}) {
    RunWorld world;
    // A background run: an interval, no count.
    world.fake().put(kRuns, runObject(R"({"name": "error-rate", "interval": "30s",
        "failureLimit": 2, "successCondition": {"max": 0.02}, "provider": {"scripted": {}}})"));
    world.script().push(Observation::of(0.5));   // a failure, tolerated
    world.script().push(Observation::of(0.01));  // and a pass
    world.start();
    ASSERT_TRUE(world.reconcile());
    world.clock().advance(30s);
    ASSERT_TRUE(world.reconcile());
    ASSERT_EQ(world.phase(), "Running");
    auto run = *world.fake().read(kRuns, kNs, "web-1-2");
    run["spec"].as_object()["terminate"] = {{"reason", reason}};
    world.fake().put(kRuns, run);
    world.clock().advance(30s);
    ASSERT_TRUE(world.reconcile());
    EXPECT_EQ(world.phase(), phase) << reason;
    EXPECT_EQ(world.script().taken(), 2) << "a terminated run is not measured";
    EXPECT_NE(stringAt(world.status(), "message")
                  .find(reason == "Superseded" ? "Superseded" : "completed"),
              std::string::npos)
        << stringAt(world.status(), "message");
  }
}

TEST(AnalysisRunReconcilerTest, AnUnusableMetricMakesTheRunErrorNamingTheField) {
  RunWorld world;
  world.fake().put(kRuns, runObject(R"({"name": "error-rate", "interval": "often",
      "successCondition": {"max": 0.02}, "provider": {"scripted": {}}})"));
  world.start();
  ASSERT_TRUE(world.reconcile());
  EXPECT_EQ(world.phase(), "Error");
  EXPECT_NE(stringAt(world.status(), "message").find("spec.metrics[0].interval"), std::string::npos)
      << stringAt(world.status(), "message");
  EXPECT_EQ(world.script().taken(), 0);

  RunWorld unknown;
  unknown.fake().put(kRuns, runObject(R"({"name": "error-rate", "successCondition": {"max": 1},
      "provider": {"datadog": {}}})"));
  unknown.start();
  ASSERT_TRUE(unknown.reconcile());
  EXPECT_EQ(unknown.phase(), "Error");
  EXPECT_NE(stringAt(unknown.status(), "message").find("spec.metrics[0].provider"),
            std::string::npos);
}

}  // namespace
}  // namespace mc::reconcilers

namespace mc::reconcilers {
namespace {

// A verdict goes on record, in the chain of the Rollout that owns the run, before the status
// that states it; a verdict that cannot go on record is not written.
TEST(AnalysisRunReconcilerTest, AVerdictIsOnRecordWithItsNumbersBeforeItIsWritten) {
  RunWorld world;
  auto run = runObject(R"({"name": "error-rate", "successCondition": {"max": 0.02},
      "provider": {"scripted": {}}})");
  run["metadata"].as_object()["ownerReferences"] = json::parse(R"([{"apiVersion":
      "mc.maestro.dev/v1alpha1", "kind": "Rollout", "name": "web", "uid": "u-1",
      "controller": true}])");
  world.fake().put(kRuns, run);
  world.start();
  world.script().push(Observation::of(0.2));
  world.fake().failNext(Verb::Create, "auditrecords", 1,
                        makeError(ErrorKind::Forbidden, "injected", 403));
  auto refused = world.reconcile();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "injected");
  EXPECT_EQ(world.phase(), "") << "a verdict not on record is not written";

  // On record, then MC killed before the status write: the next life measures again, finds
  // the verdict on record, and writes it; one record.
  world.script().push(Observation::of(0.2));
  world.fake().failNext(Verb::Patch, "analysisruns/status", 1,
                        makeError(ErrorKind::Transient, "killed"));
  ASSERT_FALSE(world.reconcile());
  ASSERT_EQ(world.fake().items(kAuditRecords, kNs).size(), 1u);
  EXPECT_EQ(world.phase(), "");
  world.crash();
  world.start();
  world.script().push(Observation::of(0.2));
  ASSERT_TRUE(world.reconcile());
  EXPECT_EQ(world.phase(), "Failed");
  auto records = world.fake().items(kAuditRecords, kNs);
  ASSERT_EQ(records.size(), 1u);
  auto spec = *crds::readAuditRecordSpec(records[0].at("spec"));
  EXPECT_EQ(spec.chain, "rollout-web");
  EXPECT_EQ(spec.action, "AnalysisVerdict");
  EXPECT_EQ(spec.actor, "analysis/web-1-2");
  EXPECT_EQ(spec.subject, "Rollout/web");
  EXPECT_EQ(spec.to, "Failed");
  EXPECT_EQ(spec.evidence.at("metrics.error-rate.value"), "0.2");
  EXPECT_EQ(spec.evidence.at("metrics.error-rate.max"), "0.02");
  EXPECT_EQ(spec.evidence.at("metrics.error-rate.failed"), "1");
  EXPECT_EQ(spec.evidence.at("metrics.error-rate.query"), "sum(rate(errors[1m]))");
}

}  // namespace
}  // namespace mc::reconcilers
