// A controller, its events and its metrics on the real apiserver.
#include "mc/runtime/controller.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/json.hpp>
#include <map>
#include <mutex>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/runtime/events.h"
#include "mc/runtime/kube_client.h"
#include "mc/testing/io_thread.h"
#include "mc/testing/objects.h"

namespace mc::kube {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using e2e::ControlPlaneEnvironment;
using e2e::pollUntil;
using test::configMap;
using test::namespaceObject;

// Marks each primary ConfigMap with how many of its owned ConfigMaps the cache holds; fails
// the first reconcile of "flaky", and asks to come back after 100 ms for "ticking".
class MarkingReconciler final : public Reconciler {
 public:
  Controller* controller = nullptr;
  Informer* owned = nullptr;
  KubeClient* client = nullptr;

  boost::asio::awaitable<Result<ReconcileResult>> reconcile(
      const ReconcileRequest& request) override {
    int count;
    {
      std::lock_guard lock(mutex_);
      count = ++reconciles_[request.key()];
      if (active_.count(request.key()) != 0) {
        concurrent_ = true;
      }
      active_.insert(request.key());
    }
    auto finish = [&] {
      std::lock_guard lock(mutex_);
      active_.erase(request.key());
    };
    auto primary = controller->primaryInformer().store().get(request.key());
    if (!primary) {
      finish();
      co_return ReconcileResult{};  // deleted: nothing to do
    }
    if (request.name == "flaky" && count == 1) {
      finish();
      co_return makeError(ErrorKind::Transient, "first attempt fails on purpose");
    }
    size_t children = owned->store().byIndex(kOwnerUidIndex, uidOf(*primary)).size();
    auto patch = json::serialize(json::object{{"data", {{"children", std::to_string(children)}}}});
    auto patched = co_await client->patch(resources::kConfigMaps, request.ns, request.name,
                                          PatchType::Merge, std::move(patch));
    finish();
    if (!patched) {
      co_return patched.error();
    }
    if (request.name == "ticking") {
      co_return ReconcileResult{.requeueAfter = 100ms};
    }
    co_return ReconcileResult{};
  }

  int reconciles(const std::string& key) {
    std::lock_guard lock(mutex_);
    return reconciles_[key];
  }
  bool concurrent() {
    std::lock_guard lock(mutex_);
    return concurrent_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> reconciles_;
  std::set<std::string> active_;
  bool concurrent_ = false;
};

class ControllerIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(config);
    auto client = KubeClient::create(io_.executor(), *config, {.qps = 1000, .burst = 1000});
    ASSERT_TRUE(client);
    client_ = std::move(*client);
  }
  std::string childrenOf(const std::string& ns, const std::string& name) {
    auto object = io_.run(client_->get(resources::kConfigMaps, ns, name));
    if (!object || !object->contains("data")) {
      return "";
    }
    auto* children = object->at("data").as_object().if_contains("children");
    return children ? std::string(children->as_string()) : "";
  }

  test::IoThread io_;
  KubeClientPtr client_;
};

TEST_F(ControllerIntegrationTest, ReconcilesPrimariesOwnedChangesRetriesAndRequeues) {
  const std::string ns = "ctl";
  ASSERT_TRUE(io_.run(client_->create(resources::kNamespaces, "", namespaceObject(ns))));
  auto registry = std::make_shared<prometheus::Registry>();
  MarkingReconciler reconciler;
  // Primaries carry the label role=primary; every ConfigMap is watched as a possible child.
  ControllerOptions options{.workers = 2, .queue = {.baseDelay = 10ms}, .registry = registry};
  options.informer.labelSelector = "role=primary";
  Controller controller("marker", *client_, resources::kConfigMaps, "ConfigMap", ns, reconciler,
                        options);
  reconciler.owned = &controller.watchOwned(resources::kConfigMaps);
  reconciler.controller = &controller;
  reconciler.client = client_.get();
  auto running = boost::asio::co_spawn(io_.io(), controller.run(), boost::asio::use_future);

  json::object primaryLabels{{"labels", {{"role", "primary"}}}};
  auto parent = io_.run(
      client_->create(resources::kConfigMaps, ns, configMap(ns, "parent", "", primaryLabels)));
  ASSERT_TRUE(parent);
  ASSERT_TRUE(io_.run(
      client_->create(resources::kConfigMaps, ns, configMap(ns, "flaky", "", primaryLabels))));
  ASSERT_TRUE(io_.run(
      client_->create(resources::kConfigMaps, ns, configMap(ns, "ticking", "", primaryLabels))));
  EXPECT_TRUE(pollUntil([&] { return childrenOf(ns, "parent") == "0"; }, 30s));

  // A new owned object maps to its owner's key, and the owner is reconciled again.
  json::object owner{{"ownerReferences", json::array{{{"apiVersion", "v1"},
                                                      {"kind", "ConfigMap"},
                                                      {"name", "parent"},
                                                      {"uid", uidOf(*parent)},
                                                      {"controller", true}}}}};
  ASSERT_TRUE(
      io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "child", "", owner))));
  EXPECT_TRUE(pollUntil([&] { return childrenOf(ns, "parent") == "1"; }, 30s));

  // An error is retried with backoff until it succeeds.
  EXPECT_TRUE(pollUntil([&] { return childrenOf(ns, "flaky") == "0"; }, 30s));
  EXPECT_GE(reconciler.reconciles(ns + "/flaky"), 2);
  // requeueAfter is how time passes: reconciled again and again without any change.
  EXPECT_TRUE(pollUntil([&] { return reconciler.reconciles(ns + "/ticking") >= 5; }, 30s));
  EXPECT_FALSE(reconciler.concurrent()) << "a key was reconciled by two workers at once";

  auto metrics = prometheus::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(metrics.find(R"(mc_reconcile_total{controller="marker",result="error"} 1)"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find(R"(mc_reconcile_total{controller="marker",result="requeue_after"})"),
            std::string::npos);
  EXPECT_NE(metrics.find("mc_informer_objects{resource=\"configmaps\"}"), std::string::npos);
  EXPECT_NE(metrics.find("mc_workqueue_adds_total{name=\"marker\"}"), std::string::npos);

  controller.stop();
  ASSERT_EQ(running.wait_for(15s), std::future_status::ready);
}

TEST_F(ControllerIntegrationTest, EventsAggregateIntoASeriesAndShowInKubectl) {
  auto& cp = ControlPlaneEnvironment::get();
  const std::string ns = "events";
  ASSERT_TRUE(io_.run(client_->create(resources::kNamespaces, "", namespaceObject(ns))));
  auto subject = io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "subject")));
  ASSERT_TRUE(subject);

  EventRecorder recorder(*client_, {.reportingInstance = "test"});
  auto running = boost::asio::co_spawn(io_.io(), recorder.run(), boost::asio::use_future);
  auto ref = ObjectReference::of(*subject);
  for (int i = 0; i < 3; ++i) {
    recorder.record(ref, EventType::Normal, "StepAdvanced", "Advance", "weight 30%");
  }
  recorder.record(ref, EventType::Warning, "AnalysisFailed", "Abort", "error rate 7.2% > 5%");
  recorder.stop();
  ASSERT_EQ(running.wait_for(30s), std::future_status::ready);
  EXPECT_EQ(recorder.written(), 4u);
  EXPECT_EQ(recorder.dropped(), 0u);

  auto events = io_.run(client_->list(resources::kEvents, ns));
  ASSERT_TRUE(events);
  ASSERT_EQ(events->items.size(), 2u) << "three repeats must make one Event with a series";
  std::map<std::string, json::object> byReason;
  for (auto& event : events->items) {
    byReason[std::string(event.at("reason").as_string())] = event;
  }
  EXPECT_EQ(byReason["StepAdvanced"].at("series").at("count").as_int64(), 3);
  EXPECT_EQ(byReason["StepAdvanced"].at("regarding").at("uid").as_string(), uidOf(*subject));
  EXPECT_EQ(byReason["AnalysisFailed"].at("type").as_string(), "Warning");
  EXPECT_EQ(byReason["AnalysisFailed"].at("reportingController").as_string(), "mc-operator");

  auto kubectl = cp.kubectl({"get", "events", "-n", ns});
  EXPECT_EQ(kubectl.exitCode, 0) << kubectl.output;
  EXPECT_NE(kubectl.output.find("StepAdvanced"), std::string::npos) << kubectl.output;
  EXPECT_NE(kubectl.output.find("AnalysisFailed"), std::string::npos) << kubectl.output;
  auto describe = cp.kubectl({"describe", "configmap", "subject", "-n", ns});
  EXPECT_NE(describe.output.find("error rate 7.2% > 5%"), std::string::npos) << describe.output;
}

}  // namespace
}  // namespace mc::kube

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
