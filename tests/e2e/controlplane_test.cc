// The local control plane is a real Kubernetes: Deployments get Ready pods (kwok plays the
// kubelet), namespaces are deleted by the namespace controller, and `up` fails fast and
// leaves nothing behind.
#include "mc/e2e/controlplane.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/algorithm/string.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <sstream>

#include "mc/e2e/poll.h"

namespace mc::e2e {
namespace {

using namespace std::chrono_literals;

// PIDs of processes whose command line mentions `needle` (e.g. a control plane's temp dir).
std::vector<int> processesMentioning(const std::string& needle) {
  std::vector<int> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "cmdline");
    std::stringstream text;
    text << in.rdbuf();
    if (text.str().find(needle) != std::string::npos) {
      found.push_back(std::stoi(name));
    }
  }
  return found;
}

int countReadyPods(const ControlPlane& cp, const std::string& ns) {
  auto out = cp.kubectl(
      {"get", "pods", "-n", ns, "-l", "app=web", "-o",
       R"(jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end})"});
  if (out.exitCode != 0) {
    return -1;
  }
  int ready = 0;
  std::istringstream lines(out.output);
  for (std::string line; std::getline(lines, line);) {
    ready += boost::algorithm::trim_copy(line) == "True" ? 1 : 0;
  }
  return ready;
}

int countPods(const ControlPlane& cp, const std::string& ns) {
  auto out = cp.kubectl({"get", "pods", "-n", ns, "--no-headers", "-o", "name"});
  if (out.exitCode != 0) {
    return -1;
  }
  return static_cast<int>(std::count(out.output.begin(), out.output.end(), '\n'));
}

TEST(ControlPlaneTest, DeploymentGetsReadyPodsScalesAndNamespaceDeletes) {
  auto& cp = ControlPlaneEnvironment::get();
  const std::string ns = "cp-deploy";
  auto dir = makeTempDir("mc-manifest");
  std::ofstream(dir / "deploy.yaml") << R"(apiVersion: v1
kind: Namespace
metadata:
  name: cp-deploy
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: cp-deploy
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
)";
  auto applied = cp.kubectl({"apply", "-f", (dir / "deploy.yaml").string()});
  ASSERT_EQ(applied.exitCode, 0) << applied.output;

  EXPECT_TRUE(pollUntil([&] { return countReadyPods(cp, ns) == 3; }, 60s))
      << "pods: " << cp.kubectl({"get", "pods", "-n", ns, "-o", "wide"}).output;

  auto scaled = cp.kubectl({"scale", "deployment/web", "-n", ns, "--replicas=0"});
  ASSERT_EQ(scaled.exitCode, 0) << scaled.output;
  EXPECT_TRUE(pollUntil([&] { return countPods(cp, ns) == 0; }, 60s))
      << cp.kubectl({"get", "pods", "-n", ns}).output;

  auto deleted = cp.kubectl({"delete", "namespace", ns, "--wait=false"});
  ASSERT_EQ(deleted.exitCode, 0) << deleted.output;
  EXPECT_TRUE(pollUntil(
      [&] {
        auto get = cp.kubectl({"get", "namespace", ns});
        return get.exitCode != 0 && get.output.find("NotFound") != std::string::npos;
      },
      60s));
  std::filesystem::remove_all(dir);
}

TEST(ControlPlaneTest, UpFailsFastNamingTheComponentWhenItsPortIsTaken) {
  // Occupy a port, then ask for the apiserver on it.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor holder(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto port = holder.local_endpoint().port();

  auto dir = makeTempDir("mc-cp-taken");
  auto started = std::chrono::steady_clock::now();
  auto result = run({(sourceDir() / "e2e/controlplane/controlplane.sh").string(), "up", "--dir",
                     dir.string(), "--apiserver-port", std::to_string(port)},
                    120s);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.exitCode, 1) << result.output;
  EXPECT_NE(result.output.find("kube-apiserver exited during start-up"), std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("address already in use"), std::string::npos) << result.output;
  EXPECT_LT(took, 60s) << "up must fail fast, not wait for its deadline";
  EXPECT_FALSE(std::filesystem::exists(dir / "kubeconfig"));
  EXPECT_TRUE(pollUntil([&] { return processesMentioning(dir.string()).empty(); }, 10s))
      << "stray processes remain";
  std::filesystem::remove_all(dir);
}

TEST(ControlPlaneTest, DownAfterOwnerDiesLeavesNoProcess) {
  // The owner stands in for a test binary that crashes without running destructors.
  auto ownerDir = makeTempDir("mc-owner");
  Process owner({"sleep", "600"}, ownerDir / "log");
  auto dir = makeTempDir("mc-cp-owned");
  auto up = run({(sourceDir() / "e2e/controlplane/controlplane.sh").string(), "up", "--dir",
                 dir.string(), "--owner-pid", std::to_string(owner.pid())},
                180s);
  ASSERT_EQ(up.exitCode, 0) << up.output;
  ASSERT_FALSE(processesMentioning(dir.string()).empty());

  owner.signal(SIGKILL);
  owner.wait(5s);  // reaped, as the crashed test's parent would: a zombie still counts as alive
  EXPECT_TRUE(pollUntil(
      [&] { return processesMentioning(dir.string()).empty() && !std::filesystem::exists(dir); },
      30s))
      << "left behind: " << processesMentioning(dir.string()).size() << " processes";
  std::filesystem::remove_all(ownerDir);
}

}  // namespace
}  // namespace mc::e2e
