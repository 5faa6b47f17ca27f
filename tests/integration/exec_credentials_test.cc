// Exec credential plugins against the real kube-apiserver: a token and a client certificate from
// a plugin, a token that expires by its expirationTimestamp, and one the apiserver stops taking
// in the middle of a watch (its bound Secret deleted), which must run the plugin again.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "mc/common/timefmt.h"
#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/process.h"
#include "mc/runtime/informer.h"
#include "mc/runtime/kube_client.h"
#include "mc/testing/io_thread.h"
#include "mc/testing/objects.h"

namespace mc::kube {
namespace {

using namespace std::chrono_literals;
using e2e::ControlPlaneEnvironment;
using e2e::pollUntil;
using test::configMap;

int linesIn(const std::filesystem::path& path) {
  std::ifstream in(path);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
  }
  return n;
}

class ExecCredentialsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = e2e::makeTempDir("mc-exec-it");
    auto admin = loadKubeconfig({ControlPlaneEnvironment::get().kubeconfig()});
    ASSERT_TRUE(admin) << admin.error().describe();
    admin_ = std::move(*admin);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  e2e::CommandResult kubectl(const std::vector<std::string>& args) {
    return ControlPlaneEnvironment::get().kubectl(args);
  }

  // A plugin that answers with the token in <dir>/token (and the expiry in <dir>/expiry, if
  // there is one), adding a line to <dir>/runs each time it runs.
  void writeTokenPlugin() {
    auto path = dir_ / "plugin";
    std::ofstream(path) << fmt::format(R"SH(#!/bin/sh
echo run >> "{0}/runs"
expiry=""
[ -f "{0}/expiry" ] && expiry=", \"expirationTimestamp\": \"$(cat "{0}/expiry")\""
printf '{{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": {{"token": "%s"%s}}}}\n' "$(cat "{0}/token")" "$expiry"
)SH",
                                       dir_.string());
    ::chmod(path.c_str(), 0755);
  }

  // The admin's cluster with the plugin as its user.
  RestConfig execConfig() {
    RestConfig config = admin_;
    config.clientCertPem.clear();
    config.clientKeyPem.clear();
    ExecConfig exec;
    exec.apiVersion = "client.authentication.k8s.io/v1";
    exec.command = (dir_ / "plugin").string();
    exec.interactiveMode = ExecConfig::InteractiveMode::Never;
    config.exec = exec;
    return config;
  }

  // A ServiceAccount allowed everything in `ns`, and a token for it bound to Secret `secret`:
  // deleting the Secret revokes the token at once.
  std::string boundToken(const std::string& ns, const std::string& secret) {
    auto made = kubectl({"-n", ns, "create", "secret", "generic", secret});
    EXPECT_EQ(made.exitCode, 0) << made.output;
    auto token = kubectl({"-n", ns, "create", "token", "plugin-user", "--duration", "1h",
                          "--bound-object-kind", "Secret", "--bound-object-name", secret});
    EXPECT_EQ(token.exitCode, 0) << token.output;
    auto text = token.output;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.pop_back();
    }
    return text;
  }
  void makeUser(const std::string& ns) {
    for (auto args : std::vector<std::vector<std::string>>{
             {"create", "namespace", ns},
             {"-n", ns, "create", "serviceaccount", "plugin-user"},
             {"-n", ns, "create", "rolebinding", "plugin-user", "--clusterrole=admin",
              "--serviceaccount=" + ns + ":plugin-user"}}) {
      auto result = kubectl(args);
      ASSERT_EQ(result.exitCode, 0) << result.output;
    }
  }
  void setToken(const std::string& token) { std::ofstream(dir_ / "token") << token; }
  int status401(const std::string& token) {
    http::TlsOptions tls{admin_.caPem, "", "", false};
    auto response = http::fetchBlocking(
        admin_.server + "/api/v1/namespaces/default/configmaps",
        {.headers = {{"Authorization", "Bearer " + token}}, .timeout = 5s}, tls);
    return response ? response->status : 0;
  }

  std::filesystem::path dir_;
  RestConfig admin_;
  test::IoThread io_;
};

TEST_F(ExecCredentialsIntegrationTest, ClientCertificateFromAPlugin) {
  // The admin's certificate and key, handed over by the plugin instead of the kubeconfig.
  ControlPlaneEnvironment::get().writeAdminCredentialPlugin(dir_ / "plugin",
                                                            "client.authentication.k8s.io/v1beta1");
  auto config = execConfig();
  config.exec->apiVersion = "client.authentication.k8s.io/v1beta1";
  auto client = KubeClient::create(io_.executor(), config);
  ASSERT_TRUE(client) << client.error().describe();
  auto nodes = io_.run((*client)->list({"", "v1", "nodes", false}, ""));
  ASSERT_TRUE(nodes) << nodes.error().describe();  // only the admin may list nodes
  EXPECT_FALSE(nodes->items.empty());
}

TEST_F(ExecCredentialsIntegrationTest, TokenRefreshedAtItsExpirationTimestamp) {
  const std::string ns = "exec-expiry";
  makeUser(ns);
  setToken(boundToken(ns, "cred"));
  // The plugin says the token is good for two seconds (the apiserver would take it for an hour).
  std::ofstream(dir_ / "expiry") << formatTime(std::chrono::system_clock::now() + 2s);
  writeTokenPlugin();
  auto client = KubeClient::create(io_.executor(), execConfig());
  ASSERT_TRUE(client) << client.error().describe();
  ASSERT_TRUE(io_.run((*client)->create(resources::kConfigMaps, ns, configMap(ns, "a", "1"))));
  EXPECT_EQ(linesIn(dir_ / "runs"), 1);
  auto fetched = io_.run((*client)->get(resources::kConfigMaps, ns, "a"));
  ASSERT_TRUE(fetched) << fetched.error().describe();
  EXPECT_EQ(linesIn(dir_ / "runs"), 1) << "cached while it has not expired";
  std::ofstream(dir_ / "expiry") << formatTime(std::chrono::system_clock::now() + 1h);
  EXPECT_TRUE(pollUntil(
      [&] {
        auto got = io_.run((*client)->get(resources::kConfigMaps, ns, "a"));
        EXPECT_TRUE(got) << got.error().describe();
        return linesIn(dir_ / "runs") == 2;
      },
      20s, 200ms));
}

TEST_F(ExecCredentialsIntegrationTest, TokenRevokedMidWatchRunsThePluginAgain) {
  const std::string ns = "exec-revoked";
  makeUser(ns);
  auto first = boundToken(ns, "cred-1");
  auto second = boundToken(ns, "cred-2");
  setToken(first);
  writeTokenPlugin();
  auto client = KubeClient::create(io_.executor(), execConfig());
  ASSERT_TRUE(client) << client.error().describe();
  // Short watches, so the informer sends a new watch request soon after the revocation.
  Informer informer(**client, resources::kConfigMaps, ns,
                    {.minBackoff = 100ms, .maxBackoff = 1s, .watchTimeoutSeconds = 2});
  auto running = boost::asio::co_spawn(io_.io(), informer.run(), boost::asio::use_future);
  ASSERT_TRUE(pollUntil([&] { return informer.hasSynced(); }, 30s));
  EXPECT_EQ(linesIn(dir_ / "runs"), 1);

  // Revoke the first token while the watch is open; the plugin now hands out the second.
  setToken(second);
  auto deleted = kubectl({"-n", ns, "delete", "secret", "cred-1"});
  ASSERT_EQ(deleted.exitCode, 0) << deleted.output;
  ASSERT_TRUE(pollUntil([&] { return status401(first) == 401; }, 30s))
      << "the apiserver still takes the revoked token";
  ASSERT_EQ(status401(second), 403) << "the second token authenticates (and RBAC denies default)";

  auto created = kubectl({"-n", ns, "create", "configmap", "after-revocation"});
  ASSERT_EQ(created.exitCode, 0) << created.output;
  EXPECT_TRUE(
      pollUntil([&] { return informer.store().get(ns + "/after-revocation") != nullptr; }, 30s));
  EXPECT_TRUE(pollUntil([&] { return linesIn(dir_ / "runs") >= 2; }, 30s));
  // The fault happened (the revoked token is refused, above) and was survived by exactly one
  // more run of the plugin: the 401 dropped the cached token, and the retry took the new one.
  EXPECT_EQ(linesIn(dir_ / "runs"), 2);
  auto listed = io_.run((*client)->list(resources::kConfigMaps, ns));
  ASSERT_TRUE(listed) << listed.error().describe();
  EXPECT_EQ(linesIn(dir_ / "runs"), 2);

  informer.stop();
  ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
}

}  // namespace
}  // namespace mc::kube
