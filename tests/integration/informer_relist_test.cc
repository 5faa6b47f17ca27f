// An informer cut off from the apiserver while objects change and etcd compacts away its
// resourceVersion must relist, and end with exactly the server's state, deletes included.
// kube-apiserver runs without its watch cache here, so a compacted version is really gone.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <set>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/tcp_proxy.h"
#include "mc/runtime/informer.h"
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

std::set<std::string> keysOf(const std::vector<ObjectPtr>& objects) {
  std::set<std::string> keys;
  for (const auto& object : objects) {
    keys.insert(keyOf(*object));
  }
  return keys;
}

TEST(InformerRelistTest, CompactedVersionRelistsToTheServersStateWithTombstones) {
  auto& cp = ControlPlaneEnvironment::get();
  auto config = loadKubeconfig({cp.kubeconfig()});
  ASSERT_TRUE(config);
  test::IoThread io;
  ClientOptions fast{.qps = 1000, .burst = 1000};
  auto direct = KubeClient::create(io.executor(), *config, fast);
  ASSERT_TRUE(direct);

  // The informer reaches the apiserver through a proxy the test can cut.
  auto apiserverPort = static_cast<unsigned short>(
      std::stoi(cp.apiserverUrl().substr(cp.apiserverUrl().rfind(':') + 1)));
  e2e::TcpProxy proxy("127.0.0.1", apiserverPort);
  RestConfig proxied = *config;
  proxied.server = fmt::format("https://127.0.0.1:{}", proxy.port());
  auto viaProxy = KubeClient::create(io.executor(), proxied, fast);
  ASSERT_TRUE(viaProxy);

  const std::string ns = "relist";
  ASSERT_TRUE(io.run((*direct)->create(resources::kNamespaces, "", namespaceObject(ns))));
  for (const auto* name : {"a", "b", "c"}) {
    ASSERT_TRUE(io.run((*direct)->create(resources::kConfigMaps, ns, configMap(ns, name, "1"))));
  }

  Informer informer(**viaProxy, resources::kConfigMaps, ns,
                    {.minBackoff = 100ms, .maxBackoff = 500ms});
  std::mutex mutex;
  std::vector<std::pair<std::string, bool>> deletes;
  informer.addHandler({.onDelete = [&](const ObjectPtr& object, bool finalStateUnknown) {
    std::lock_guard lock(mutex);
    deletes.emplace_back(keyOf(*object), finalStateUnknown);
  }});
  auto running = boost::asio::co_spawn(io.io(), informer.run(), boost::asio::use_future);
  ASSERT_TRUE(pollUntil([&] { return informer.hasSynced() && informer.store().size() == 4; }, 30s));
  EXPECT_EQ(informer.lists(), 1);

  proxy.cut();
  ASSERT_TRUE(io.run((*direct)->remove(resources::kConfigMaps, ns, "b")));
  ASSERT_TRUE(io.run((*direct)->patch(resources::kConfigMaps, ns, "c", PatchType::Merge,
                                      R"({"data":{"value":"2"}})")));
  ASSERT_TRUE(io.run((*direct)->create(resources::kConfigMaps, ns, configMap(ns, "d", "1"))));
  cp.compactEtcd();
  proxy.restore();

  auto server = io.run((*direct)->list(resources::kConfigMaps, ns));
  ASSERT_TRUE(server);
  std::set<std::string> serverKeys;
  for (const auto& item : server->items) {
    serverKeys.insert(keyOf(item));
  }
  ASSERT_EQ(serverKeys,
            (std::set<std::string>{"relist/a", "relist/c", "relist/d", "relist/kube-root-ca.crt"}));
  EXPECT_TRUE(pollUntil([&] { return keysOf(informer.store().list()) == serverKeys; }, 60s))
      << "informer has " << informer.store().size() << " objects";
  auto c = informer.store().get("relist/c");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->at("data").at("value").as_string(), "2");
  EXPECT_GE(informer.lists(), 2) << "the informer must have relisted after 410 Gone";
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(deletes, (std::vector<std::pair<std::string, bool>>{{"relist/b", true}}));
  }
  informer.stop();
  ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
}

}  // namespace
}  // namespace mc::kube

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(
      new mc::e2e::ControlPlaneEnvironment({.apiserverArgs = {"--watch-cache=false"}}));
  return RUN_ALL_TESTS();
}
