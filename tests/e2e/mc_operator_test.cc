// mc-operator as users run it: against the real apiserver, with its flags, health and metrics.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/tcp_proxy.h"
#include "mc/runtime/http_client.h"

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
  // mc-operator is ready only once its informers synced, which needs MC's CRDs.
  static void SetUpTestSuite() {
    auto& cp = ControlPlaneEnvironment::get();
    auto applied = cp.kubectl({"apply", "-f", (sourceDir() / "crds").string()});
    ASSERT_EQ(applied.exitCode, 0) << applied.output;
    auto established =
        cp.kubectl({"wait", "--for=condition=Established", "crd/rollouts.mc.maestro.dev",
                    "crd/analysisruns.mc.maestro.dev", "crd/analysistemplates.mc.maestro.dev",
                    "crd/clusteranalysistemplates.mc.maestro.dev", "--timeout=60s"});
    ASSERT_EQ(established.exitCode, 0) << established.output;
  }
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

// A kubeconfig for the local cluster whose user is the exec plugin `script` (a shell script).
std::filesystem::path execKubeconfig(const std::filesystem::path& dir, const std::string& script) {
  auto& cp = ControlPlaneEnvironment::get();
  auto plugin = dir / "plugin";
  std::ofstream(plugin) << "#!/bin/sh\n" << script;
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  auto kubeconfig = dir / "exec.kubeconfig";
  std::ofstream(kubeconfig) << fmt::format(R"(apiVersion: v1
kind: Config
current-context: exec
clusters: [{{name: local, cluster: {{server: "{}", certificate-authority: "{}"}}}}]
users:
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./plugin
      interactiveMode: Never
      installHint: the test writes ./plugin
contexts: [{{name: exec, context: {{cluster: local, user: plugin}}}}]
)",
                                           cp.apiserverUrl(), cp.caFile().string());
  return kubeconfig;
}

TEST_F(McOperatorTest, RunsWithAnExecCredentialPlugin) {
  // The plugin hands over the admin's client certificate, as cloud plugins hand over tokens.
  auto kubeconfig = execKubeconfig(dir_, "");
  ControlPlaneEnvironment::get().writeAdminCredentialPlugin(
      dir_ / "plugin", "client.authentication.k8s.io/v1",
      fmt::format("echo ran >> {}/runs\n", dir_.string()));
  auto healthPort = freePort();
  auto op = start({"--kubeconfig", kubeconfig.string(), "--metrics-bind-address", "127.0.0.1:0",
                   "--health-probe-bind-address", fmt::format("127.0.0.1:{}", healthPort)});
  auto health = fmt::format("http://127.0.0.1:{}", healthPort);
  ASSERT_TRUE(pollUntil([&] { return statusOf(health + "/readyz") == 200; }, 30s)) << op.logTail();
  EXPECT_EQ(readFile(dir_ / "runs"), "ran\n") << "one run, cached for every later request";
  op.signal(SIGTERM);
  EXPECT_EQ(op.wait(10s), 0) << op.logTail();
}

TEST_F(McOperatorTest, AFailingCredentialPluginExitsTwoSayingWhy) {
  auto kubeconfig = execKubeconfig(dir_, "echo 'token expired: run corp-login' >&2\nexit 1\n");
  auto result = runOperator({"--kubeconfig", kubeconfig.string(), "--metrics-bind-address",
                             "127.0.0.1:0", "--health-probe-bind-address", "127.0.0.1:0"});
  EXPECT_EQ(result.exitCode, 2) << result.output;
  EXPECT_NE(result.output.find("credential plugin ./plugin: exited with code 1: token expired: "
                               "run corp-login"),
            std::string::npos)
      << result.output;
}

// The value of an unlabelled gauge on /metrics, or -1 if unreachable.
double gauge(unsigned short port, const std::string& name) {
  auto metrics =
      http::fetchBlocking(fmt::format("http://127.0.0.1:{}/metrics", port), {.timeout = 2s});
  if (!metrics || metrics->status != 200) {
    return -1;
  }
  std::istringstream lines(metrics->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) {
      return std::stod(line.substr(name.size() + 1));
    }
  }
  return -1;
}

TEST_F(McOperatorTest, MetricsPassPromtool) {
  auto& cp = ControlPlaneEnvironment::get();
  auto metricsPort = freePort();
  auto op = start({"--kubeconfig", cp.kubeconfig().string(), "--metrics-bind-address",
                   fmt::format("127.0.0.1:{}", metricsPort), "--health-probe-bind-address",
                   "127.0.0.1:0"});
  ASSERT_TRUE(pollUntil([&] { return gauge(metricsPort, "mc_leader") == 1; }, 30s)) << op.logTail();
  auto metrics = http::fetchBlocking(fmt::format("http://127.0.0.1:{}/metrics", metricsPort));
  ASSERT_TRUE(metrics);
  std::ofstream(dir_ / "metrics.txt") << metrics->body;
  auto checked = run({"bash", "-c", "promtool check metrics < " + (dir_ / "metrics.txt").string()});
  EXPECT_EQ(checked.exitCode, 0) << checked.output << metrics->body;
  for (const auto* name : {"mc_build_info", "mc_leader", "mc_kube_requests_total",
                           "mc_kube_request_duration_seconds"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  }
}

// Two replicas with --leader-elect: exactly one leads; a killed leader is replaced once its
// Lease runs out; a stopped leader hands the Lease over at once.
TEST_F(McOperatorTest, LeaderElectionFailoverAndHandover) {
  auto& cp = ControlPlaneEnvironment::get();
  struct Replica {
    std::unique_ptr<Process> process;
    unsigned short metricsPort;
  };
  int started = 0;
  auto startReplica = [&] {
    auto port = freePort();
    std::vector<std::string> args{MC_OPERATOR_BINARY,
                                  "--kubeconfig",
                                  cp.kubeconfig().string(),
                                  "--leader-elect",
                                  "--leader-election-namespace",
                                  "default",
                                  "--leader-election-id",
                                  "mc-e2e-leader",
                                  "--metrics-bind-address",
                                  fmt::format("127.0.0.1:{}", port),
                                  "--health-probe-bind-address",
                                  "127.0.0.1:0",
                                  "--log-format",
                                  "text"};
    auto log = dir_ / fmt::format("replica-{}.log", started++);
    return Replica{std::make_unique<Process>(args, log), port};
  };
  auto leaders = [&](std::vector<Replica*> replicas) {
    int count = 0;
    for (auto* replica : replicas) {
      count += gauge(replica->metricsPort, "mc_leader") == 1 ? 1 : 0;
    }
    return count;
  };
  auto a = startReplica();
  auto b = startReplica();
  ASSERT_TRUE(pollUntil(
      [&] {
        return leaders({&a, &b}) == 1;
      },
      40s))
      << a.process->logTail() << b.process->logTail();
  // Both are up; still exactly one leads a few renewals later.
  ASSERT_TRUE(pollUntil(
      [&] {
        return gauge(a.metricsPort, "mc_leader") == 0 || gauge(b.metricsPort, "mc_leader") == 0;
      },
      5s));
  EXPECT_EQ(leaders({&a, &b}), 1);
  auto& leader = gauge(a.metricsPort, "mc_leader") == 1 ? a : b;
  auto& standby = &leader == &a ? b : a;

  // SIGKILL: no release; the standby must wait out the Lease (15 s) and take over.
  auto killedAt = std::chrono::steady_clock::now();
  leader.process->signal(SIGKILL);
  leader.process->wait(5s);
  ASSERT_TRUE(pollUntil([&] { return gauge(standby.metricsPort, "mc_leader") == 1; }, 30s))
      << standby.process->logTail();
  auto takeover =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killedAt).count();
  std::cout << "[ measured ] takeover after SIGKILL of the leader: " << takeover << " s\n";
  EXPECT_GE(takeover, 10.0) << "the standby must not take a Lease that is still held";

  // SIGTERM: the leader releases the Lease and a new standby takes over within a few seconds.
  auto c = startReplica();
  ASSERT_TRUE(pollUntil([&] { return gauge(c.metricsPort, "mc_leader") == 0; }, 20s));
  auto stoppedAt = std::chrono::steady_clock::now();
  standby.process->signal(SIGTERM);
  EXPECT_EQ(standby.process->wait(20s), 0) << standby.process->logTail();
  ASSERT_TRUE(pollUntil([&] { return gauge(c.metricsPort, "mc_leader") == 1; }, 10s))
      << c.process->logTail();
  auto handover =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stoppedAt).count();
  std::cout << "[ measured ] handover after SIGTERM of the leader: " << handover << " s\n";
  c.process->signal(SIGTERM);
  EXPECT_EQ(c.process->wait(20s), 0);
}

// A leader cut off from the apiserver cannot renew: it stops at once and exits non-zero rather
// than reconcile beside the next leader.
TEST_F(McOperatorTest, LeaderThatCannotRenewExitsNonZero) {
  auto& cp = ControlPlaneEnvironment::get();
  auto apiserverPort = static_cast<unsigned short>(
      std::stoi(cp.apiserverUrl().substr(cp.apiserverUrl().rfind(':') + 1)));
  TcpProxy proxy("127.0.0.1", apiserverPort);
  auto kubeconfig = dir_ / "proxied.kubeconfig";
  std::ofstream(kubeconfig) << replaceAll(readFile(cp.kubeconfig()), cp.apiserverUrl(),
                                          fmt::format("https://127.0.0.1:{}", proxy.port()));
  auto metricsPort = freePort();
  auto op = start(
      {"--kubeconfig", kubeconfig.string(), "--leader-elect", "--leader-election-namespace",
       "default", "--leader-election-id", "mc-e2e-cutoff", "--metrics-bind-address",
       fmt::format("127.0.0.1:{}", metricsPort), "--health-probe-bind-address", "127.0.0.1:0"});
  ASSERT_TRUE(pollUntil([&] { return gauge(metricsPort, "mc_leader") == 1; }, 30s)) << op.logTail();
  auto cutAt = std::chrono::steady_clock::now();
  proxy.cut();
  EXPECT_EQ(op.wait(30s), 1) << op.logTail();
  auto stoppedAfter =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - cutAt).count();
  std::cout << "[ measured ] leader cut off from the apiserver exited after " << stoppedAfter
            << " s\n";
  EXPECT_NE(op.logTail().find("lost the Lease"), std::string::npos) << op.logTail();
}

}  // namespace
}  // namespace mc::e2e
