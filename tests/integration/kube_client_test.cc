// The kube client and informer against the real kube-apiserver of the local control plane.
#include "mc/runtime/kube_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <mutex>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/runtime/informer.h"
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

std::string dataOf(const json::object& object) {
  return std::string(object.at("data").at("value").as_string());
}

class KubeClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(config) << config.error().describe();
    config_ = *config;
    client_ = makeClient(config_);
  }

  KubeClientPtr makeClient(const RestConfig& config) {
    ClientOptions options;
    options.qps = 1000;
    options.burst = 1000;
    auto client = KubeClient::create(io_.executor(), config, options);
    EXPECT_TRUE(client) << client.error().describe();
    return client ? std::move(*client) : nullptr;
  }

  void createNamespace(const std::string& name) {
    auto created = io_.run(client_->create(resources::kNamespaces, "", namespaceObject(name)));
    ASSERT_TRUE(created || created.error().kind == ErrorKind::AlreadyExists)
        << created.error().describe();
  }

  test::IoThread io_;
  RestConfig config_;
  KubeClientPtr client_;
};

TEST_F(KubeClientIntegrationTest, ConfigMapCrudWithEveryWriteVerb) {
  const std::string ns = "kc-crud";
  createNamespace(ns);
  auto created = io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "a", "1")));
  ASSERT_TRUE(created) << created.error().describe();
  EXPECT_FALSE(uidOf(*created).empty());

  auto again = io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "a", "1")));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::AlreadyExists);

  auto fetched = io_.run(client_->get(resources::kConfigMaps, ns, "a"));
  ASSERT_TRUE(fetched) << fetched.error().describe();
  EXPECT_EQ(dataOf(*fetched), "1");

  (*fetched)["data"].as_object()["value"] = "2";
  auto updated = io_.run(client_->update(resources::kConfigMaps, ns, *fetched));
  ASSERT_TRUE(updated) << updated.error().describe();
  EXPECT_EQ(dataOf(*updated), "2");

  auto merged = io_.run(client_->patch(resources::kConfigMaps, ns, "a", PatchType::Merge,
                                       R"({"data":{"value":"3"}})"));
  ASSERT_TRUE(merged) << merged.error().describe();
  EXPECT_EQ(dataOf(*merged), "3");

  auto jsonPatched =
      io_.run(client_->patch(resources::kConfigMaps, ns, "a", PatchType::Json,
                             R"([{"op":"replace","path":"/data/value","value":"4"}])"));
  ASSERT_TRUE(jsonPatched) << jsonPatched.error().describe();
  EXPECT_EQ(dataOf(*jsonPatched), "4");

  // Server-side apply as mc-operator: with force it takes the field over.
  auto applied = io_.run(client_->patch(
      resources::kConfigMaps, ns, "a", PatchType::Apply,
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"value":"5"}})",
      {.force = true}));
  ASSERT_TRUE(applied) << applied.error().describe();
  EXPECT_EQ(dataOf(*applied), "5");
  EXPECT_NE(json::serialize(applied->at("metadata").at("managedFields")).find("mc-operator"),
            std::string::npos);

  // A delete whose precondition names another UID is refused.
  auto wrongUid =
      io_.run(client_->remove(resources::kConfigMaps, ns, "a",
                              {.preconditionUid = "00000000-0000-0000-0000-000000000000"}));
  ASSERT_FALSE(wrongUid);
  EXPECT_EQ(wrongUid.error().kind, ErrorKind::Conflict);

  auto removed = io_.run(
      client_->remove(resources::kConfigMaps, ns, "a",
                      {.propagationPolicy = "Background", .preconditionUid = uidOf(*created)}));
  ASSERT_TRUE(removed) << removed.error().describe();
  auto gone = io_.run(client_->get(resources::kConfigMaps, ns, "a"));
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(gone.error().httpStatus, 404);
}

TEST_F(KubeClientIntegrationTest, StaleResourceVersionIsAConflict) {
  const std::string ns = "kc-conflict";
  createNamespace(ns);
  auto created = io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "c", "1")));
  ASSERT_TRUE(created);
  auto first = *created;
  first["data"].as_object()["value"] = "first";
  ASSERT_TRUE(io_.run(client_->update(resources::kConfigMaps, ns, first)));
  auto second = *created;  // still the old resourceVersion
  second["data"].as_object()["value"] = "second";
  auto conflict = io_.run(client_->update(resources::kConfigMaps, ns, second));
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().kind, ErrorKind::Conflict);
  EXPECT_EQ(conflict.error().httpStatus, 409);
}

TEST_F(KubeClientIntegrationTest, InvalidObjectNamesTheField) {
  auto invalid = io_.run(client_->create(resources::kConfigMaps, "default",
                                         configMap("default", "Not_A_Valid_Name", "x")));
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().kind, ErrorKind::Invalid);
  EXPECT_NE(invalid.error().message.find("metadata.name"), std::string::npos)
      << invalid.error().message;
}

TEST_F(KubeClientIntegrationTest, PagesThroughTwelveHundredObjects) {
  const std::string ns = "kc-paging";
  createNamespace(ns);
  for (int i = 0; i < 1200; ++i) {
    auto created = io_.run(client_->create(resources::kConfigMaps, ns,
                                           configMap(ns, fmt::format("cm-{:04}", i), "x")));
    ASSERT_TRUE(created || created.error().kind == ErrorKind::AlreadyExists);
  }
  // 1,200 plus the namespace's kube-root-ca.crt.
  std::vector<size_t> pages;
  std::string token;
  do {
    auto page =
        io_.run(client_->list(resources::kConfigMaps, ns, {.limit = 500, .continueToken = token}));
    ASSERT_TRUE(page) << page.error().describe();
    pages.push_back(page->items.size());
    token = page->continueToken;
  } while (!token.empty());
  EXPECT_EQ(pages, (std::vector<size_t>{500, 500, 201}));

  auto all = io_.run(client_->listAll(resources::kConfigMaps, ns, {}, 500));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 1201u);
  EXPECT_FALSE(all->resourceVersion.empty());

  auto selected = io_.run(
      client_->list(resources::kConfigMaps, ns, {.fieldSelector = "metadata.name=cm-0042"}));
  ASSERT_TRUE(selected);
  ASSERT_EQ(selected->items.size(), 1u);
  EXPECT_EQ(nameOf(selected->items[0]), "cm-0042");
}

TEST_F(KubeClientIntegrationTest, WatchSeesCreateUpdateDeleteInOrder) {
  const std::string ns = "kc-watch";
  createNamespace(ns);
  auto listed = io_.run(client_->list(resources::kConfigMaps, ns));
  ASSERT_TRUE(listed);

  std::mutex mutex;
  std::vector<std::pair<WatchEventType, std::string>> seen;
  std::vector<std::string> errors;
  auto cancel = std::make_shared<http::StreamCancel>();
  // A watch from a list's version can briefly be ahead of the apiserver's watch cache (it
  // answers "Too large resource version"); like any watcher, start again from the same version.
  auto watching = [&]() -> boost::asio::awaitable<void> {
    std::string from = listed->resourceVersion;
    while (!cancel->cancelled()) {
      WatchOptions options{.resourceVersion = from};
      auto onEvent = [&](WatchEvent&& event) {
        std::lock_guard lock(mutex);
        from = resourceVersionOf(event.object);
        // Only "w": the namespace's kube-root-ca.crt may be published after the list, too.
        if (event.type != WatchEventType::Bookmark && nameOf(event.object) == "w") {
          seen.emplace_back(event.type, dataOf(event.object));
        }
      };
      auto ended = co_await client_->watch(resources::kConfigMaps, ns, std::move(options),
                                           std::move(onEvent), cancel);
      if (!ended && !cancel->cancelled()) {
        std::lock_guard lock(mutex);
        errors.push_back(ended.error().describe());
      }
    }
  };
  auto watchDone = boost::asio::co_spawn(io_.io(), watching(), boost::asio::use_future);

  ASSERT_TRUE(io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "w", "1"))));
  ASSERT_TRUE(io_.run(client_->patch(resources::kConfigMaps, ns, "w", PatchType::Merge,
                                     R"({"data":{"value":"2"}})")));
  ASSERT_TRUE(io_.run(client_->remove(resources::kConfigMaps, ns, "w")));
  ASSERT_TRUE(pollUntil(
      [&] {
        std::lock_guard lock(mutex);
        return seen.size() >= 3;
      },
      30s))
      << "watch errors: " << ::testing::PrintToString(errors);
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(seen, (std::vector<std::pair<WatchEventType, std::string>>{
                        {WatchEventType::Added, "1"},
                        {WatchEventType::Modified, "2"},
                        {WatchEventType::Deleted, "2"}}));
  }
  cancel->cancel();
  ASSERT_EQ(watchDone.wait_for(10s), std::future_status::ready);
}

TEST_F(KubeClientIntegrationTest, WatchFromAnExpiredVersionIsGone) {
  auto ended = io_.run(client_->watch(resources::kConfigMaps, "default", {.resourceVersion = "1"},
                                      [](WatchEvent&&) {}));
  ASSERT_FALSE(ended);
  EXPECT_EQ(ended.error().kind, ErrorKind::Gone) << ended.error().describe();
}

TEST_F(KubeClientIntegrationTest, InformerRecoversWhenTheApiserverRestarts) {
  auto& cp = ControlPlaneEnvironment::get();
  const std::string ns = "kc-restart";
  createNamespace(ns);
  ASSERT_TRUE(io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "before", "1"))));

  Informer informer(*client_, resources::kConfigMaps, ns, {.minBackoff = 100ms, .maxBackoff = 1s});
  auto running = boost::asio::co_spawn(io_.io(), informer.run(), boost::asio::use_future);
  ASSERT_TRUE(
      pollUntil([&] { return informer.hasSynced() && informer.store().get(ns + "/before"); }, 30s));

  cp.stopComponent("kube-apiserver");
  cp.startComponent("kube-apiserver");
  // The client retries while the apiserver comes back; the informer must pick the change up
  // through its own reconnect, without a new informer or process.
  ASSERT_TRUE(pollUntil(
      [&] {
        auto created =
            io_.run(client_->create(resources::kConfigMaps, ns, configMap(ns, "after", "2")));
        return created || created.error().kind == ErrorKind::AlreadyExists;
      },
      60s, 500ms));
  EXPECT_TRUE(pollUntil([&] { return informer.store().get(ns + "/after") != nullptr; }, 60s));
  EXPECT_EQ(informer.store().size(), 3u);  // before, after, kube-root-ca.crt

  informer.stop();
  ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
}

TEST_F(KubeClientIntegrationTest, TokenAuthAndRbacAreEnforced) {
  const std::string ns = "kc-token";
  createNamespace(ns);
  json::object sa{
      {"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "reader"}}}};
  ASSERT_TRUE(io_.run(client_->create({"", "v1", "serviceaccounts"}, ns, sa)));
  json::object tokenRequest{{"apiVersion", "authentication.k8s.io/v1"},
                            {"kind", "TokenRequest"},
                            {"spec", {{"expirationSeconds", 600}}}};
  // TokenRequest is a create on the service account's token subresource.
  auto token =
      io_.run(client_->create({"", "v1", "serviceaccounts/reader/token"}, ns, tokenRequest));
  ASSERT_TRUE(token) << token.error().describe();
  RestConfig tokenConfig = config_;
  tokenConfig.clientCertPem.clear();
  tokenConfig.clientKeyPem.clear();
  tokenConfig.bearerToken = std::string(token->at("status").at("token").as_string());
  auto reader = makeClient(tokenConfig);

  auto forbidden = io_.run(reader->list(resources::kConfigMaps, ns));
  ASSERT_FALSE(forbidden);
  EXPECT_EQ(forbidden.error().kind, ErrorKind::Forbidden);
  EXPECT_NE(forbidden.error().message.find("system:serviceaccount:kc-token:reader"),
            std::string::npos)
      << forbidden.error().message;

  json::object role{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "Role"},
      {"metadata", {{"name", "cm-reader"}}},
      {"rules",
       json::array{{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"list"}}}}}};
  json::object binding{
      {"apiVersion", "rbac.authorization.k8s.io/v1"},
      {"kind", "RoleBinding"},
      {"metadata", {{"name", "cm-reader"}}},
      {"roleRef",
       {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "cm-reader"}}},
      {"subjects",
       json::array{{{"kind", "ServiceAccount"}, {"name", "reader"}, {"namespace", ns}}}}};
  ASSERT_TRUE(io_.run(client_->create({"rbac.authorization.k8s.io", "v1", "roles"}, ns, role)));
  ASSERT_TRUE(
      io_.run(client_->create({"rbac.authorization.k8s.io", "v1", "rolebindings"}, ns, binding)));
  EXPECT_TRUE(pollUntil(
      [&] { return io_.run(reader->list(resources::kConfigMaps, ns)).has_value(); }, 30s));

  RestConfig anonymous = tokenConfig;
  anonymous.bearerToken = "not-a-token";
  auto rejected = io_.run(makeClient(anonymous)->list(resources::kConfigMaps, ns));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().kind, ErrorKind::Unauthorized);
}

TEST_F(KubeClientIntegrationTest, WrongCaIsAClearTlsError) {
  RestConfig wrong = config_;
  // Any other CA: the apiserver's own serving certificate is not a CA for itself.
  auto dir = e2e::makeTempDir("mc-ca");
  auto made = e2e::run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", (dir / "k").string(),
                        "-out", (dir / "c").string(), "-subj", "/CN=other", "-days", "1"});
  ASSERT_EQ(made.exitCode, 0);
  std::ifstream in(dir / "c");
  wrong.caPem.assign(std::istreambuf_iterator<char>(in), {});
  auto result = io_.run(makeClient(wrong)->getPath("/version"));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Terminal);
  EXPECT_NE(result.error().message.find("certificate verify failed"), std::string::npos)
      << result.error().message;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace mc::kube

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new mc::e2e::ControlPlaneEnvironment);
  return RUN_ALL_TESTS();
}
