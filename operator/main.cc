// mc-operator: connects to the apiserver of a kubeconfig, optionally campaigns for leadership,
// and runs MC's controllers with health and metrics endpoints.
// Exit codes: 0 clean stop, 1 runtime failure (apiserver unreachable, leadership lost),
// 2 bad flags or config.
#include <fmt/format.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "mc/audit/sink.h"
#include "mc/audit/writer.h"
#include "mc/common/duration.h"
#include "mc/reconcilers/analysis_run_reconciler.h"
#include "mc/reconcilers/audit_retention_reconciler.h"
#include "mc/reconcilers/rollout_reconciler.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/logging.h"
#include "mc/runtime/manager.h"
#include "mc/runtime/version.h"
#include "mc/signing/policy.h"
#include "mc/signing/registry_client.h"
#include "mc/signing/registry_signatures.h"
#include "mc/signing/verifier.h"

namespace {

namespace asio = boost::asio;

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr auto kConnectDeadline = std::chrono::seconds(30);

struct Options {
  std::string kubeconfig;
  std::string context;
  std::string metricsAddress = ":8080";
  std::string healthAddress = ":8081";
  std::string logFormat;
  bool leaderElect = false;
  std::string leaderElectionNamespace;
  std::string leaderElectionId = "mc-operator-leader";
  std::vector<std::string> namespaces;  // empty: all
  std::string scaleDownDelay = "30s";
  std::string auditSink = "-";
  bool auditRetention = true;
  std::string auditMaxAge = "2160h";  // 90 days
  int64_t auditKeep = 1000;
  std::string auditRetentionInterval = "1h";
  int workers = 4;
  bool verifyImages = true;
  std::vector<std::string> insecureRegistries;
  std::string registryCaFile;
  std::string registryTimeout = "10s";
  std::string platform = "linux/amd64";
  std::string reverifyEvery = "10m";
};

// In a pod, the service account's namespace; elsewhere "default".
std::string defaultLeaderElectionNamespace() {
  std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  std::getline(in, ns);
  return ns.empty() ? "default" : ns;
}

int usageError(const std::string& message) {
  fmt::print(stderr, "mc-operator: {}\n", message);
  return kExitUsage;
}

// Reaches the apiserver (GET /version), retrying transport errors with backoff until a
// deadline; a TLS or credential failure will not heal, so it ends the attempt at once.
asio::awaitable<int> connect(mc::kube::KubeClient& client, std::atomic<bool>& connected) {
  auto deadline = std::chrono::steady_clock::now() + kConnectDeadline;
  auto backoff = std::chrono::milliseconds(250);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const std::string versionPath = "/version";
  for (;;) {
    auto version = co_await client.getPath(versionPath);
    if (version) {
      std::string gitVersion = "unknown";
      if (auto* v = version->as_object().if_contains("gitVersion"); v && v->is_string()) {
        gitVersion = v->as_string();
      }
      spdlog::info("connected to apiserver {} (Kubernetes {}) with {}", client.config().server,
                   gitVersion, client.config().origin);
      connected = true;
      // Without the CRDs the informers cannot list and /readyz stays failing: say why.
      const std::string groupVersion = "/apis/mc.maestro.dev/v1alpha1";
      auto crd = co_await client.getPath(groupVersion);
      if (!crd && crd.error().kind == mc::ErrorKind::NotFound) {
        spdlog::error(
            "MC's CRDs (mc.maestro.dev/v1alpha1) are not installed: kubectl apply -f crds/, or "
            "install the chart; not ready until they are");
      }
      co_return 0;
    }
    const auto& error = version.error();
    if (!error.retryable()) {
      fmt::print(stderr, "mc-operator: cannot use apiserver {} ({}): {}\n", client.config().server,
                 client.config().origin, error.describe());
      co_return kExitUsage;
    }
    if (std::chrono::steady_clock::now() + backoff > deadline) {
      fmt::print(stderr, "mc-operator: apiserver {} unreachable for {} s: {}\n",
                 client.config().server, kConnectDeadline.count(), error.describe());
      co_return kExitRuntime;
    }
    spdlog::warn("apiserver {} not reachable yet: {}", client.config().server, error.describe());
    timer.expires_after(backoff);
    co_await timer.async_wait(asio::use_awaitable);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(4000));
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  options.logFormat = isatty(STDERR_FILENO) ? "text" : "json";
  CLI::App app{"mc-operator: Maestro Conductor, a progressive-delivery canary controller"};
  app.set_version_flag("--version", std::string("mc-operator ") + mc::kVersion);
  app.add_option("--kubeconfig", options.kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, then the pod's service account in a "
                 "pod, then ~/.kube/config)");
  app.add_option("--context", options.context, "kubeconfig context (default: current-context)");
  app.add_option("--metrics-bind-address", options.metricsAddress,
                 "host:port for /metrics (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--health-probe-bind-address", options.healthAddress,
                 "host:port for /healthz and /readyz")
      ->capture_default_str();
  app.add_option("--log-format", options.logFormat,
                 "json (default off a terminal) or text (default on a terminal)");
  app.add_flag("--leader-elect", options.leaderElect,
               "campaign for a Lease and reconcile only while leading (for several replicas)");
  app.add_option("--leader-election-namespace", options.leaderElectionNamespace,
                 "namespace of the Lease (default: the pod's, else default)");
  app.add_option("--leader-election-id", options.leaderElectionId, "name of the Lease")
      ->capture_default_str();
  app.add_option("--namespace", options.namespaces,
                 "watch Rollouts in this namespace (repeat for several; default: all)");
  app.add_option("--scale-down-delay", options.scaleDownDelay,
                 "how long a replaced stable ReplicaSet keeps its pods, so routes settle first")
      ->capture_default_str();
  app.add_option("--audit-sink", options.auditSink,
                 "mirror every audit record as a JSON line: - for stdout (logs go to stderr), a "
                 "file path (appended), or none")
      ->capture_default_str();
  app.add_option("--audit-retention", options.auditRetention,
                 "prune audit records older than --audit-max-age and beyond the newest "
                 "--audit-keep of their chain, behind a checkpoint (copies go to the sink first)")
      ->capture_default_str();
  app.add_option("--audit-max-age", options.auditMaxAge, "age past which records may go")
      ->capture_default_str();
  app.add_option("--audit-keep", options.auditKeep, "records each chain keeps whatever their age")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--audit-retention-interval", options.auditRetentionInterval,
                 "how often each chain is looked at")
      ->capture_default_str();
  app.add_option("--workers", options.workers, "Rollouts reconciled at once (per namespace)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--verify-images", options.verifyImages,
                 "verify the images of Rollouts that a VerificationPolicy, a "
                 "ClusterVerificationPolicy or spec.verify covers (needs those CRDs)")
      ->capture_default_str();
  app.add_option("--insecure-registry", options.insecureRegistries,
                 "a registry host:port spoken to in plain HTTP (repeat for several); every other "
                 "registry is HTTPS with its certificate verified");
  app.add_option("--registry-ca-file", options.registryCaFile,
                 "PEM bundle that registry certificates are verified against (default: the "
                 "system's)");
  app.add_option("--registry-timeout", options.registryTimeout,
                 "bound on each registry request; past it the verdict is an Error, never a pass")
      ->capture_default_str();
  app.add_option("--reverify-every", options.reverifyEvery,
                 "how often the digests a Rollout runs are verified again (a key removed, a "
                 "waiver expired: reported, never evicted)")
      ->capture_default_str();
  app.add_option("--platform", options.platform,
                 "os/arch[/variant] whose manifest a multi-platform image's tag resolves for")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return usageError(fmt::format("{} (see --help)", e.what()));
  }

  auto format = mc::logging::parseFormat(options.logFormat);
  if (!format) {
    return usageError(format.error().message);
  }
  for (const auto& [flag, address] :
       {std::pair{"--metrics-bind-address", options.metricsAddress},
        std::pair{"--health-probe-bind-address", options.healthAddress}}) {
    if (auto parsed = mc::http::splitHostPort(address); !parsed) {
      return usageError(fmt::format("{}: {}", flag, parsed.error().message));
    }
  }
  auto scaleDownDelay = mc::parseDuration(options.scaleDownDelay);
  if (!scaleDownDelay) {
    return usageError(fmt::format("--scale-down-delay: \"{}\" is not a duration such as 30s",
                                  options.scaleDownDelay));
  }
  auto auditMaxAge = mc::parseDuration(options.auditMaxAge);
  auto auditInterval = mc::parseDuration(options.auditRetentionInterval);
  for (const auto& [flag, parsed, text] :
       {std::tuple{"--audit-max-age", auditMaxAge, options.auditMaxAge},
        std::tuple{"--audit-retention-interval", auditInterval, options.auditRetentionInterval}}) {
    if (!parsed || parsed->count() <= 0) {
      return usageError(fmt::format("{}: \"{}\" is not a duration such as 2160h", flag, text));
    }
  }
  auto registryTimeout = mc::parseDuration(options.registryTimeout);
  if (!registryTimeout || registryTimeout->count() <= 0) {
    return usageError(fmt::format("--registry-timeout: \"{}\" is not a duration such as 10s",
                                  options.registryTimeout));
  }
  auto reverifyEvery = mc::parseDuration(options.reverifyEvery);
  if (!reverifyEvery || reverifyEvery->count() <= 0) {
    return usageError(fmt::format("--reverify-every: \"{}\" is not a duration such as 10m",
                                  options.reverifyEvery));
  }
  auto platform = mc::signing::parsePlatform(options.platform);
  if (!platform) {
    return usageError(fmt::format("--platform: {}", platform.error().message));
  }
  mc::signing::HttpRegistryOptions registryOptions;
  registryOptions.insecureHosts.insert(options.insecureRegistries.begin(),
                                       options.insecureRegistries.end());
  registryOptions.timeout = std::chrono::ceil<std::chrono::milliseconds>(*registryTimeout);
  if (!options.registryCaFile.empty()) {
    std::ifstream in(options.registryCaFile);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || pem.str().empty()) {
      return usageError(fmt::format("--registry-ca-file: cannot read {}", options.registryCaFile));
    }
    registryOptions.caPem = pem.str();
  }
  if (options.namespaces.empty()) {
    options.namespaces.emplace_back();  // all namespaces
  }
  // In a pod with no kubeconfig named, use the pod's service account, as client-go does.
  const char* kubeconfigEnv = std::getenv("KUBECONFIG");
  bool useInCluster = options.kubeconfig.empty() &&
                      (kubeconfigEnv == nullptr || *kubeconfigEnv == '\0') && mc::kube::inCluster();
  auto config = useInCluster
                    ? mc::kube::loadInClusterConfig()
                    : mc::kube::loadKubeconfig({options.kubeconfig, options.context, false});
  if (!config) {
    return usageError(config.error().message);
  }
  mc::logging::setup(*format);

  asio::io_context io;
  auto registry = std::make_shared<prometheus::Registry>();
  mc::kube::ClientOptions clientOptions;
  clientOptions.registry = registry;
  auto client = mc::kube::KubeClient::create(io.get_executor(), *config, clientOptions);
  if (!client) {
    return usageError(client.error().message);
  }

  prometheus::BuildGauge()
      .Name("mc_build_info")
      .Help("Build information of the running mc-operator; always 1")
      .Register(*registry)
      .Add({{"version", mc::kVersion}})
      .Set(1);

  mc::kube::ManagerOptions managerOptions;
  managerOptions.metricsAddress = options.metricsAddress;
  managerOptions.healthAddress = options.healthAddress;
  if (options.leaderElect) {
    mc::kube::LeaderElectionOptions election;
    election.ns = options.leaderElectionNamespace.empty() ? defaultLeaderElectionNamespace()
                                                          : options.leaderElectionNamespace;
    election.name = options.leaderElectionId;
    managerOptions.leaderElection = election;
  }
  mc::kube::Manager manager(io, **client, managerOptions, registry);
  // Decisions go on record through one writer, which only the leader's controllers call: one
  // writer per chain.
  std::unique_ptr<mc::audit::Sink> auditSink;
  if (options.auditSink != "none") {
    auto opened = mc::audit::openJsonLinesSink(options.auditSink);
    if (!opened) {
      return usageError(fmt::format("--audit-sink: {}", opened.error().message));
    }
    auditSink = std::move(*opened);
  }
  mc::audit::ChainWriter auditLog(**client, auditSink.get());
  mc::audit::RetentionPolicy retentionPolicy;
  retentionPolicy.maxAge = std::chrono::ceil<std::chrono::seconds>(*auditMaxAge);
  retentionPolicy.keep = options.auditKeep;
  mc::audit::Retention retention(**client, auditLog, auditSink.get(), retentionPolicy);
  std::vector<std::unique_ptr<mc::reconcilers::AuditRetentionReconciler>> retentionReconcilers;
  // One registry client and one verifier (its pool and verdict cache) for every controller.
  mc::signing::HttpRegistryClient registryClient(io.get_executor(), registryOptions);
  mc::signing::RegistrySignatures signatureSource(registryClient);
  mc::signing::Verifier verifier(signatureSource, mc::systemClock());
  mc::signing::RegistryImageChecker imageChecker(registryClient, verifier, *platform);
  mc::signing::ImageChecker* checker = options.verifyImages ? &imageChecker : nullptr;
  // One Rollout controller and one AnalysisRun controller per watched namespace, each with its
  // own reconciler and caches.
  std::vector<std::unique_ptr<mc::reconcilers::RolloutReconciler>> reconcilers;
  std::vector<std::unique_ptr<mc::reconcilers::AnalysisRunReconciler>> analysisReconcilers;
  for (const auto& ns : options.namespaces) {
    mc::reconcilers::RolloutReconcilerOptions reconcilerOptions;
    reconcilerOptions.scaleDownDelay = std::chrono::ceil<std::chrono::seconds>(*scaleDownDelay);
    reconcilerOptions.reverifyEvery = std::chrono::ceil<std::chrono::seconds>(*reverifyEvery);
    reconcilers.push_back(std::make_unique<mc::reconcilers::RolloutReconciler>(
        **client, manager.events(), reconcilerOptions));
    reconcilers.back()->useAuditLog(auditLog);
    mc::kube::ControllerOptions controllerOptions;
    controllerOptions.workers = options.workers;
    controllerOptions.registry = registry;
    manager.add(mc::reconcilers::makeRolloutController(**client, *reconcilers.back(), ns,
                                                       controllerOptions, checker));
    analysisReconcilers.push_back(std::make_unique<mc::reconcilers::AnalysisRunReconciler>(
        **client, &mc::analysis::makeProvider));
    analysisReconcilers.back()->useAuditLog(auditLog);
    manager.add(mc::reconcilers::makeAnalysisRunController(**client, *analysisReconcilers.back(),
                                                           ns, controllerOptions));
    if (options.auditRetention) {
      retentionReconcilers.push_back(
          std::make_unique<mc::reconcilers::AuditRetentionReconciler>(retention, *auditInterval));
      manager.add(mc::reconcilers::makeAuditRetentionController(
          **client, *retentionReconcilers.back(), ns, controllerOptions));
    }
  }
  std::atomic<bool> connected{false};
  manager.addReadyCheck("apiserver connection", [&connected] { return connected.load(); });
  if (auto bound = manager.bind(); !bound) {
    fmt::print(stderr, "mc-operator: {}\n", bound.error().message);
    return kExitRuntime;
  }
  spdlog::info("mc-operator {} serving /metrics on port {}, /healthz and /readyz on port {}",
               mc::kVersion, manager.metricsPort(), manager.healthPort());
  // Reach the apiserver first: a bad CA or credentials end here with one clear line.
  int connectCode = -1;
  asio::co_spawn(io, connect(**client, connected), [&](std::exception_ptr e, int code) {
    if (e) {
      std::rethrow_exception(e);
    }
    connectCode = code;
  });
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) {
      connectCode = 0;
      io.stop();
    }
  });
  while (connectCode < 0 && !io.stopped()) {
    io.run_one();
  }
  signals.cancel();
  if (connectCode != 0 || !connected) {
    return connectCode < 0 ? 0 : connectCode;
  }
  io.restart();
  return manager.run();
}