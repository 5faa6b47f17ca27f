// mc-operator as users run it: against the real apiserver, with its flags, health and metrics.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/operator/http_client.h"

namespace mc::e2e {
namespace {

using namespace std::chrono_literals;

int statusOf(const std::string& url) {
  auto response = http::fetchBlocking(url, {.timeout = 2s});
  return response ? response->status : 0;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class McOperatorTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = makeTempDir("mc-operator-test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Process start(std::vector<std::string> args) {
    args.insert(args.begin(), MC_OPERATOR_BINARY);
    return Process(std::move(args), dir_ / "mc-operator.log");
  }
  // Runs mc-operator to completion; it must not need long for a usage error.
  CommandResult runOperator(std::vector<std::string> args) {
    args.insert(args.begin(), MC_OPERATOR_BINARY);
    return run(args, 30s);
  }

  std::filesystem::path dir_;
};

TEST_F(McOperatorTest, ConnectsServesHealthAndMetricsAndStopsOnSigterm) {
  auto& cp = ControlPlaneEnvironment::get();
  auto metricsPort = freePort();
  auto healthPort = freePort();
  auto op = start({"--kubeconfig", cp.kubeconfig().string(), "--metrics-bind-address",
                   fmt::format("127.0.0.1:{}", metricsPort), "--health-probe-bind-address",
                   fmt::format("127.0.0.1:{}", healthPort), "--log-format", "json"});
  auto health = fmt::format("http://127.0.0.1:{}", healthPort);
  ASSERT_TRUE(pollUntil([&] { return statusOf(health + "/readyz") == 200; }, 30s)) << op.logTail();
  EXPECT_EQ(statusOf(health + "/healthz"), 200);

  auto metrics = http::fetchBlocking(fmt::format("http://127.0.0.1:{}/metrics", metricsPort));
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("mc_build_info{version=\""), std::string::npos) << metrics->body;

  op.signal(SIGTERM);
  EXPECT_EQ(op.wait(10s), 0) << op.logTail();

  // Every log line is a JSON object, and the connection names the real apiserver's version.
  auto log = readFile(op.logFile());
  std::istringstream lines(log);
  int parsed = 0;
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    ASSERT_FALSE(ec) << "not JSON: " << line;
    ASSERT_TRUE(value.is_object());
    ++parsed;
  }
  EXPECT_GE(parsed, 2);
  EXPECT_NE(log.find("connected to apiserver " + cp.apiserverUrl() + " (Kubernetes v1.33"),
            std::string::npos)
      << log;
}

TEST_F(McOperatorTest, NotReadyWhileTheApiserverIsUnreachable) {
  auto& cp = ControlPlaneEnvironment::get();
  // The same credentials, pointed at a port where nothing listens.
  auto kubeconfig = dir_ / "unreachable.kubeconfig";
  std::ofstream(kubeconfig) << replaceAll(readFile(cp.kubeconfig()), cp.apiserverUrl(),
                                          fmt::format("https://127.0.0.1:{}", freePort()));
  auto healthPort = freePort();
  auto op = start({"--kubeconfig", kubeconfig.string(), "--metrics-bind-address", "127.0.0.1:0",
                   "--health-probe-bind-address", fmt::format("127.0.0.1:{}", healthPort)});
  auto health = fmt::format("http://127.0.0.1:{}", healthPort);
  ASSERT_TRUE(pollUntil([&] { return statusOf(health + "/healthz") == 200; }, 10s));
  EXPECT_EQ(statusOf(health + "/readyz"), 503);
  op.signal(SIGTERM);
  EXPECT_EQ(op.wait(10s), 0);
}

TEST_F(McOperatorTest, BadFlagsExitTwoWithOneClearLine) {
  struct Case {
    std::vector<std::string> args;
    std::string mentions;
  };
  auto& cp = ControlPlaneEnvironment::get();
  std::vector<Case> cases = {
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--kubeconfig", cp.kubeconfig().string(), "--log-format", "xml"}, "log format \"xml\""},
      {{"--kubeconfig", cp.kubeconfig().string(), "--metrics-bind-address", "8080"},
       "--metrics-bind-address"},
      {{"--kubeconfig", (dir_ / "absent").string()}, (dir_ / "absent").string()},
      {{"--kubeconfig", cp.kubeconfig().string(), "--context", "nope"},
       "no context named \"nope\""},
  };
  for (const auto& c : cases) {
    auto result = runOperator(c.args);
    EXPECT_EQ(result.exitCode, 2) << result.output;
    EXPECT_NE(result.output.find(c.mentions), std::string::npos) << result.output;
    EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  }
  auto version = runOperator({"--version"});
  EXPECT_EQ(version.exitCode, 0);
  EXPECT_EQ(version.output.rfind("mc-operator ", 0), 0u) << version.output;
}

TEST_F(McOperatorTest, WrongCaIsAClearTlsError) {
  auto& cp = ControlPlaneEnvironment::get();
  auto otherCa = dir_ / "other-ca.crt";
  auto made =
      run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", (dir_ / "other-ca.key").string(), "-out", otherCa.string(), "-subj",
           "/CN=not-the-cluster-ca", "-days", "1"});
  ASSERT_EQ(made.exitCode, 0) << made.output;
  auto kubeconfig = dir_ / "wrong-ca.kubeconfig";
  std::ofstream(kubeconfig) << replaceAll(readFile(cp.kubeconfig()), cp.caFile().string(),
                                          otherCa.string());
  auto result = runOperator({"--kubeconfig", kubeconfig.string(), "--metrics-bind-address",
                             "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0"});
  EXPECT_EQ(result.exitCode, 2) << result.output;
  EXPECT_NE(result.output.find("certificate verify failed"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace mc::e2e
