#include "mc/runtime/kubeconfig.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <fstream>

#include "mc/e2e/process.h"

namespace mc::kube {
namespace {

constexpr const char* kCaPem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
// base64 of kCaPem, as kubectl writes certificate-authority-data.
constexpr const char* kCaData =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClEwRT0KLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = e2e::makeTempDir("mc-kubeconfig"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  Result<RestConfig> parse(const std::string& yaml, KubeconfigOptions options = {}) {
    options.path = dir_ / "config";
    return parseKubeconfig(yaml, dir_, options);
  }
  // The error message, which must name the field at fault.
  std::string errorOf(const std::string& yaml, KubeconfigOptions options = {}) {
    auto result = parse(yaml, options);
    EXPECT_FALSE(result) << "expected an error for:\n" << yaml;
    if (result) {
      return {};
    }
    EXPECT_EQ(result.error().kind, ErrorKind::Invalid);
    return result.error().message;
  }

  std::filesystem::path dir_;
};

std::string config(const std::string& cluster, const std::string& user,
                   const std::string& extraContexts = "") {
  return fmt::format(R"(apiVersion: v1
kind: Config
current-context: main
clusters:
- name: c1
  cluster:
{}
users:
- name: u1
  user:
{}
contexts:
- name: main
  context: {{cluster: c1, user: u1}}
{})",
                     cluster, user, extraContexts);
}

TEST_F(KubeconfigTest, CurrentContextWithInlineDataAndToken) {
  auto result = parse(config(fmt::format("    server: https://127.0.0.1:6443/\n"
                                         "    certificate-authority-data: {}",
                                         kCaData),
                             "    token: abc"));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->server, "https://127.0.0.1:6443");
  EXPECT_EQ(result->caPem, kCaPem);
  EXPECT_EQ(result->bearerToken, "abc");
  EXPECT_TRUE(result->clientCertPem.empty());
  EXPECT_NE(result->origin.find("context main"), std::string::npos);
}

TEST_F(KubeconfigTest, FilesAreResolvedRelativeToTheKubeconfig) {
  write("ca.crt", kCaPem);
  write("client.crt", "-----BEGIN CERTIFICATE-----\ncert\n");
  write("client.key", "-----BEGIN EC PRIVATE KEY-----\nkey\n");
  write("token", "from-file\n");
  auto result = parse(config("    server: https://h:1\n    certificate-authority: ca.crt",
                             "    client-certificate: client.crt\n"
                             "    client-key: " +
                                 (dir_ / "client.key").string() +
                                 "\n"
                                 "    tokenFile: token"));
  ASSERT_TRUE(result) << result.error().describe();
  EXPECT_EQ(result->caPem, kCaPem);
  EXPECT_EQ(result->clientCertPem, "-----BEGIN CERTIFICATE-----\ncert\n");
  EXPECT_EQ(result->clientKeyPem, "-----BEGIN EC PRIVATE KEY-----\nkey\n");
  EXPECT_EQ(result->bearerToken, "from-file");
  EXPECT_EQ(result->tokenFile, (dir_ / "token").string());
}

TEST_F(KubeconfigTest, ContextFlagPicksAnotherContext) {
  std::string yaml = config("    server: https://one:1", "    token: t") +
                     "- name: other\n  context: {cluster: c2}\n"
                     "clusters2: []\n";
  // c2 is not defined: the error must name the context's cluster field.
  auto message = errorOf(yaml, {.context = "other"});
  EXPECT_NE(message.find("contexts[other].context.cluster"), std::string::npos) << message;
  EXPECT_NE(message.find("\"c2\""), std::string::npos) << message;
}

TEST_F(KubeconfigTest, TheContextsNamespaceIsKeptEmptyWhenUnset) {
  std::string yaml = config("    server: https://one:1", "    token: t") +
                     "- name: team\n  context: {cluster: c1, user: u1, namespace: team-a}\n";
  auto team = parse(yaml, {.context = "team"});
  ASSERT_TRUE(team) << team.error().describe();
  EXPECT_EQ(team->ns, "team-a");
  auto main = parse(yaml);
  ASSERT_TRUE(main) << main.error().describe();
  EXPECT_EQ(main->ns, "") << "no namespace in the context: the caller's default applies";
}

TEST_F(KubeconfigTest, InsecureSkipVerifyIsRefusedUnlessAllowed) {
  std::string yaml =
      config("    server: https://h:1\n    insecure-skip-tls-verify: true", "    token: t");
  auto message = errorOf(yaml);
  EXPECT_NE(message.find("clusters[c1].cluster.insecure-skip-tls-verify"), std::string::npos)
      << message;
  auto allowed = parse(yaml, {.allowInsecure = true});
  ASSERT_TRUE(allowed);
  EXPECT_TRUE(allowed->insecureSkipTlsVerify);
}

TEST_F(KubeconfigTest, ErrorsNameTheField) {
  struct Case {
    std::string yaml;
    std::string field;
  };
  std::vector<Case> cases = {
      {"[not, a, map]", "file"},
      {"clusters: [\n", "file"},
      {"apiVersion: v1\nkind: Config\n", "current-context"},
      {"current-context: nope\ncontexts: []\n", "no context named \"nope\""},
      {config("    certificate-authority-data: x", "    token: t"), "clusters[c1].cluster.server"},
      {config("    server: 127.0.0.1:6443", "    token: t"), "is not an http(s) URL"},
      {config("    server: https://h:1\n    certificate-authority-data: '***'", "    token: t"),
       "clusters[c1].cluster.certificate-authority-data: not valid base64"},
      {config("    server: https://h:1\n    certificate-authority-data: aGVsbG8=", "    token: t"),
       "clusters[c1].cluster.certificate-authority: not a PEM certificate"},
      {config("    server: https://h:1\n    certificate-authority: missing.crt", "    token: t"),
       "clusters[c1].cluster.certificate-authority: cannot read file"},
      {config("    server: https://h:1", "    client-certificate-data: eA=="),
       "users[u1].user: client-certificate and client-key must be given together"},
      {config("    server: https://h:1", "    exec: {command: aws}"),
       "users[u1].user.exec.apiVersion: not set"},
      {config("    server: https://h:1",
              "    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}"),
       "users[u1].user.exec.apiVersion: client.authentication.k8s.io/v1alpha1 is no longer"},
      {config("    server: https://h:1", "    exec: {apiVersion: client.authentication.k8s.io/v1}"),
       "users[u1].user.exec.command: not set"},
      {config("    server: https://h:1",
              "    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}"),
       "users[u1].user.exec.interactiveMode: required in client.authentication.k8s.io/v1"},
      {config("    server: https://h:1",
              "    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, "
              "interactiveMode: Sometimes}"),
       "users[u1].user.exec.interactiveMode: \"Sometimes\" is not Never"},
      {config("    server: https://h:1",
              "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws, "
              "env: [{value: x}]}"),
       "users[u1].user.exec.env[0].name: not set"},
      {config("    server: https://h:1", "    auth-provider: {name: gcp}"),
       "users[u1].user.auth-provider: auth-provider plugins were removed"},
      {config("    server: https://h:1", "    tokenFile: /nonexistent/token"),
       "users[u1].user.tokenFile: cannot read file"},
  };
  for (const auto& c : cases) {
    auto message = errorOf(c.yaml);
    EXPECT_NE(message.find(c.field), std::string::npos)
        << "message \"" << message << "\" does not name \"" << c.field << "\"";
  }
}

TEST_F(KubeconfigTest, ExecPluginAsKubectlReadsIt) {
  auto result = parse(config("    server: https://h:1", R"(    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: bin/get-token
      args: [--cluster, prod]
      env: [{name: REGION, value: eu-west-1}, {name: EMPTY}]
      installHint: install get-token from the wiki
      provideClusterInfo: true
      interactiveMode: Never)"));
  ASSERT_TRUE(result) << result.error().describe();
  ASSERT_TRUE(result->exec);
  const auto& exec = *result->exec;
  EXPECT_EQ(exec.apiVersion, "client.authentication.k8s.io/v1");
  EXPECT_EQ(exec.command, "bin/get-token");
  EXPECT_EQ(exec.baseDir, dir_);  // a relative command runs from the kubeconfig's folder
  EXPECT_EQ(exec.args, (std::vector<std::string>{"--cluster", "prod"}));
  using Env = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(exec.env, (Env{{"REGION", "eu-west-1"}, {"EMPTY", ""}}));
  EXPECT_EQ(exec.installHint, "install get-token from the wiki");
  EXPECT_TRUE(exec.provideClusterInfo);
  EXPECT_EQ(exec.interactiveMode, ExecConfig::InteractiveMode::Never);
  EXPECT_TRUE(result->bearerToken.empty());

  // v1beta1 defaults interactiveMode to IfAvailable, as client-go does.
  auto beta = parse(config("    server: https://h:1",
                           "    exec: {apiVersion: client.authentication.k8s.io/v1beta1, "
                           "command: aws}"));
  ASSERT_TRUE(beta) << beta.error().describe();
  EXPECT_EQ(beta->exec->interactiveMode, ExecConfig::InteractiveMode::IfAvailable);
  EXPECT_FALSE(beta->exec->provideClusterInfo);
}

TEST_F(KubeconfigTest, LoadNamesAMissingFile) {
  auto result = loadKubeconfig({.path = dir_ / "absent"});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find((dir_ / "absent").string()), std::string::npos);
}

TEST_F(KubeconfigTest, PathFallsBackToTheKubeconfigVariable) {
  const char* saved = std::getenv("KUBECONFIG");
  std::string previous = saved != nullptr ? saved : "";
  setenv("KUBECONFIG", "/a/first:/b/second", 1);
  EXPECT_EQ(resolveKubeconfigPath({}), std::filesystem::path("/a/first"));
  EXPECT_EQ(resolveKubeconfigPath({.path = "/explicit"}), std::filesystem::path("/explicit"));
  if (saved != nullptr) {
    setenv("KUBECONFIG", previous.c_str(), 1);
  } else {
    unsetenv("KUBECONFIG");
  }
}

}  // namespace
}  // namespace mc::kube

namespace mc::kube {
namespace {

class InClusterConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = e2e::makeTempDir("mc-sa");
    saved_ = {getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")};
  }
  void TearDown() override {
    restore("KUBERNETES_SERVICE_HOST", saved_[0]);
    restore("KUBERNETES_SERVICE_PORT", saved_[1]);
    std::filesystem::remove_all(dir_);
  }
  static void restore(const char* name, const char* value) {
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  std::filesystem::path dir_;
  std::array<const char*, 2> saved_{};
};

TEST_F(InClusterConfigTest, UsesTheServiceAccountAndItsRotatingToken) {
  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  std::ofstream(dir_ / "ca.crt") << kCaPem;
  std::ofstream(dir_ / "token") << "sa-token\n";
  auto config = loadInClusterConfig(dir_);
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_TRUE(inCluster());
  EXPECT_EQ(config->server, "https://10.0.0.1:443");
  EXPECT_EQ(config->caPem, kCaPem);
  EXPECT_EQ(config->bearerToken, "sa-token");
  EXPECT_EQ(config->tokenFile, (dir_ / "token").string());  // re-read per request
  EXPECT_EQ(config->ns, "") << "no namespace file mounted";
  std::ofstream(dir_ / "namespace") << "mc-system";
  auto withNamespace = loadInClusterConfig(dir_);
  ASSERT_TRUE(withNamespace) << withNamespace.error().describe();
  EXPECT_EQ(withNamespace->ns, "mc-system");
}

TEST_F(InClusterConfigTest, Ipv6HostIsBracketed) {
  setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
  std::ofstream(dir_ / "ca.crt") << kCaPem;
  std::ofstream(dir_ / "token") << "t";
  auto config = loadInClusterConfig(dir_);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->server, "https://[fd00::1]:6443");
}

TEST_F(InClusterConfigTest, OutsideAPodOrWithoutTheMountIsANamedError) {
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_FALSE(inCluster());
  auto outside = loadInClusterConfig(dir_);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);

  setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto noMount = loadInClusterConfig(dir_);
  ASSERT_FALSE(noMount);
  EXPECT_NE(noMount.error().message.find("ca.crt"), std::string::npos) << noMount.error().message;
}

}  // namespace
}  // namespace mc::kube
