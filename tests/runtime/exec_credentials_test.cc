#include "mc/runtime/exec_credentials.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "mc/e2e/poll.h"
#include "mc/e2e/process.h"
#include "mc/runtime/subprocess.h"
#include "mc/testing/fake_clock.h"

namespace mc::kube {
namespace {

using namespace std::chrono_literals;
constexpr const char* kV1 = "client.authentication.k8s.io/v1";

std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Small plugins written as shell scripts into a temporary folder.
class ExecCredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = e2e::makeTempDir("mc-exec"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path plugin(const std::string& name, const std::string& body) {
    auto path = dir_ / name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
  }
  // A plugin that answers `status` (the JSON inside ExecCredential.status).
  std::filesystem::path answering(const std::string& status) {
    return plugin("answer", fmt::format(R"(echo "$KUBERNETES_EXEC_INFO" > "{0}/info"
printf '%s\n' "$@" > "{0}/args"
echo "$REGION" > "{0}/env"
cat <<'EOT'
{{"apiVersion": "{1}", "kind": "ExecCredential", "status": {2}}}
EOT
)",
                                        dir_.string(), kV1, status));
  }
  ExecConfig execConfig(const std::filesystem::path& command) {
    ExecConfig config;
    config.apiVersion = kV1;
    config.command = command.string();
    config.interactiveMode = ExecConfig::InteractiveMode::IfAvailable;
    config.baseDir = dir_;
    return config;
  }
  RestConfig cluster() {
    RestConfig config;
    config.server = "https://127.0.0.1:6443";
    config.caPem = "-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n";
    return config;
  }

  std::filesystem::path dir_;
  test::FakeClock clock_;
};

TEST_F(ExecCredentialsTest, RunsThePluginWithArgsEnvAndExecInfo) {
  auto config = execConfig(answering(R"({"token": "t-1"})"));
  config.args = {"--cluster", "prod"};
  config.env = {{"REGION", "eu-west-1"}};
  config.provideClusterInfo = true;
  ExecCredentials credentials(config, cluster(), /*interactive=*/false, clock_);
  auto got = credentials.get();
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ((*got)->token, "t-1");
  EXPECT_FALSE((*got)->expiry);
  EXPECT_EQ(readAll(dir_ / "args"), "--cluster\nprod\n");
  EXPECT_EQ(readAll(dir_ / "env"), "eu-west-1\n");
  auto info = readAll(dir_ / "info");
  EXPECT_NE(info.find(R"("apiVersion":"client.authentication.k8s.io/v1")"), info.npos) << info;
  EXPECT_NE(info.find(R"("kind":"ExecCredential")"), info.npos) << info;
  EXPECT_NE(info.find(R"("interactive":false)"), info.npos) << info;
  EXPECT_NE(info.find(R"("server":"https://127.0.0.1:6443")"), info.npos) << info;
  // base64 of the CA PEM, as client-go encodes []byte.
  EXPECT_NE(info.find(R"("certificate-authority-data":"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t)"),
            info.npos)
      << info;
}

TEST_F(ExecCredentialsTest, ClusterInfoOnlyWhenAskedFor) {
  ExecCredentials credentials(execConfig(answering(R"({"token": "t"})")), cluster(), false, clock_);
  ASSERT_TRUE(credentials.get());
  auto info = readAll(dir_ / "info");
  EXPECT_EQ(info.find("cluster"), info.npos) << info;
  EXPECT_NE(info.find(R"("spec":{"interactive":false})"), info.npos) << info;
}

TEST_F(ExecCredentialsTest, CachedUntilExpirationTimestamp) {
  // The fake wall clock starts at 2024-01-01T00:00:00Z; the token is good for one minute.
  ExecCredentials credentials(
      execConfig(answering(R"({"token": "t", "expirationTimestamp": "2024-01-01T00:01:00Z"})")),
      cluster(), false, clock_);
  ASSERT_TRUE(credentials.get());
  ASSERT_TRUE(credentials.get());
  EXPECT_EQ(credentials.runs(), 1);
  clock_.advance(59s);
  ASSERT_TRUE(credentials.get());
  EXPECT_EQ(credentials.runs(), 1);
  clock_.advance(1s);
  auto again = credentials.get();
  ASSERT_TRUE(again);
  EXPECT_EQ(credentials.runs(), 2);
  ASSERT_TRUE((*again)->expiry);
}

TEST_F(ExecCredentialsTest, InvalidateAfterUnauthorizedRunsThePluginAgain) {
  ExecCredentials credentials(execConfig(answering(R"({"token": "t"})")), cluster(), false, clock_);
  auto first = credentials.get();
  ASSERT_TRUE(first);
  credentials.invalidate(*first);
  auto second = credentials.get();
  ASSERT_TRUE(second);
  EXPECT_EQ(credentials.runs(), 2);
  // A 401 seen with the credential already replaced does not throw the new one away.
  credentials.invalidate(*first);
  ASSERT_TRUE(credentials.get());
  EXPECT_EQ(credentials.runs(), 2);
}

TEST_F(ExecCredentialsTest, ClientCertificateAnswer) {
  ExecCredentials credentials(
      execConfig(answering(R"({"clientCertificateData": "CERT", "clientKeyData": "KEY"})")),
      cluster(), false, clock_);
  auto got = credentials.get();
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ((*got)->clientCertPem, "CERT");
  EXPECT_EQ((*got)->clientKeyPem, "KEY");
  EXPECT_TRUE((*got)->token.empty());
}

TEST_F(ExecCredentialsTest, AFailingPluginSaysWhatItPrinted) {
  auto failing =
      plugin("login", "echo 'error: you must log in first (run corp-login)' >&2\nexit 3\n");
  ExecCredentials credentials(execConfig(failing), cluster(), false, clock_);
  auto got = credentials.get();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::Unauthorized);
  EXPECT_NE(got.error().message.find("exited with code 3"), std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("you must log in first (run corp-login)"), std::string::npos)
      << got.error().message;
  // Not cached: the next request tries again (the person may have logged in meanwhile).
  EXPECT_FALSE(credentials.get());
  EXPECT_EQ(credentials.runs(), 2);
}

TEST_F(ExecCredentialsTest, AHangingPluginIsKilledAtTheTimeout) {
  // The plugin's own child must die too, or it would hold the pipe open.
  auto hanging =
      plugin("hang", fmt::format("sleep 30 &\necho $! > '{}/child'\nwait\n", dir_.string()));
  auto config = execConfig(hanging);
  config.timeout = 300ms;
  ExecCredentials credentials(config, cluster(), false, clock_);
  auto got = credentials.get();
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().kind, ErrorKind::Timeout);
  EXPECT_NE(got.error().message.find("did not finish within 300 ms"), std::string::npos)
      << got.error().message;
  auto child = std::stoi(readAll(dir_ / "child"));
  ASSERT_GT(child, 0);
  EXPECT_TRUE(e2e::pollUntil([&] { return ::kill(child, 0) != 0; }, 10s))
      << "the plugin's child " << child << " is still running";
}

TEST_F(ExecCredentialsTest, AMissingCommandShowsTheInstallHint) {
  auto config = execConfig("mc-no-such-credential-plugin");
  config.installHint = "Install it with: apt-get install mc-login";
  ExecCredentials credentials(config, cluster(), false, clock_);
  auto got = credentials.get();
  ASSERT_FALSE(got);
  EXPECT_NE(got.error().message.find("mc-no-such-credential-plugin: not found on $PATH"),
            std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("Install it with: apt-get install mc-login"),
            std::string::npos)
      << got.error().message;
}

TEST_F(ExecCredentialsTest, ARelativeCommandRunsFromTheKubeconfigFolder) {
  std::filesystem::create_directory(dir_ / "bin");
  auto path = answering(R"({"token": "relative"})");
  std::filesystem::rename(path, dir_ / "bin" / "answer");
  ExecCredentials credentials(execConfig("bin/answer"), cluster(), false, clock_);
  auto got = credentials.get();
  ASSERT_TRUE(got) << got.error().describe();
  EXPECT_EQ((*got)->token, "relative");
}

TEST_F(ExecCredentialsTest, InteractiveModes) {
  auto config = execConfig(answering(R"({"token": "t"})"));
  config.interactiveMode = ExecConfig::InteractiveMode::Always;
  ExecCredentials noTerminal(config, cluster(), /*interactive=*/false, clock_);
  auto refused = noTerminal.get();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("standard input is not a terminal"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(noTerminal.runs(), 1);

  // Never: not interactive even where a person is at the terminal.
  config.interactiveMode = ExecConfig::InteractiveMode::Never;
  ExecCredentials never(config, cluster(), /*interactive=*/true, clock_);
  ASSERT_TRUE(never.get());
  EXPECT_NE(readAll(dir_ / "info").find(R"("interactive":false)"), std::string::npos);

  config.interactiveMode = ExecConfig::InteractiveMode::IfAvailable;
  ExecCredentials available(config, cluster(), /*interactive=*/true, clock_);
  ASSERT_TRUE(available.get());
  EXPECT_NE(readAll(dir_ / "info").find(R"("interactive":true)"), std::string::npos);
}

TEST(ParseExecCredentialTest, RejectsWhatKubectlRejects) {
  struct Case {
    std::string text;
    std::string message;
  };
  auto wrap = [](const std::string& status) {
    return fmt::format(R"({{"apiVersion": "{}", "kind": "ExecCredential", "status": {}}})", kV1,
                       status);
  };
  std::vector<Case> cases = {
      {"token: abc", "not an ExecCredential in JSON"},
      {R"({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
           "status": {"token": "t"}})",
       "apiVersion is \"client.authentication.k8s.io/v1beta1\", not the"},
      {fmt::format(R"({{"apiVersion": "{}", "kind": "Secret", "status": {{}}}})", kV1),
       "kind is not ExecCredential"},
      {fmt::format(R"({{"apiVersion": "{}", "kind": "ExecCredential"}})", kV1),
       "status is missing"},
      {wrap("{}"), "has neither a token nor clientCertificateData"},
      {wrap(R"({"clientCertificateData": "C"})"), "only one of clientCertificateData"},
      {wrap(R"({"token": "t", "expirationTimestamp": "tomorrow"})"),
       "\"tomorrow\" is not an RFC 3339 time"},
  };
  for (const auto& c : cases) {
    auto parsed = parseExecCredential(c.text, kV1);
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_NE(parsed.error().message.find(c.message), std::string::npos)
        << "\"" << parsed.error().message << "\" lacks \"" << c.message << "\"";
  }
  auto good = parseExecCredential(
      wrap(R"({"token": "t", "expirationTimestamp": "2030-01-02T03:04:05Z"})"), kV1);
  ASSERT_TRUE(good) << good.error().describe();
  EXPECT_EQ(good->token, "t");
  ASSERT_TRUE(good->expiry);
}

TEST(SubprocessTest, CollectsOutputAndExitCode) {
  auto program = findProgram("sh", {});
  ASSERT_FALSE(program.empty());
  auto ran = runSubprocess({program, {"-c", "echo out; echo err >&2; exit 7"}, {}, false, 10s});
  ASSERT_TRUE(ran) << ran.error().describe();
  EXPECT_EQ(ran->exitCode, 7);
  EXPECT_EQ(ran->out, "out\n");
  EXPECT_EQ(ran->err, "err\n");
  EXPECT_TRUE(findProgram("mc-surely-not-a-program", {}).empty());
}

}  // namespace
}  // namespace mc::kube
