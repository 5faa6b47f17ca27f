// kubectl-mc: the `kubectl mc` plugin. Shows Rollouts and their AnalysisRuns and carries a person's
// requests to MC (promote, abort, retry, pause, resume, undo) by writing the Rollout, with the same
// client library as mc-operator. Exit codes: 0 done (status: Healthy), 1 refused, failed or timed
// out, 2 bad flags or usage.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>

#include "mc/cli/rollout_list.h"
#include "mc/common/duration.h"
#include "mc/runtime/exec_credentials.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/logging.h"
#include "mc/runtime/version.h"
#include "src/commands.h"

namespace {

namespace asio = boost::asio;
using mc::cli::kExitFailed;
using mc::cli::kExitUsage;

struct Options {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  bool verbose = false;
  std::string name;
  bool watch = false;
  bool full = false;
  int64_t toRevision = 0;
  std::string timeout = "0";
  bool allNamespaces = false;
  std::vector<std::string> phases;
  std::string output;
  std::string reason;
  std::vector<std::string> setEnv;
  std::string patchFile;
  std::string drillTimeout = "10m";
  std::string report;
  bool keep = false;
};

// A request a person makes of MC: who they are goes with it (the apiserver's word, from a
// SelfSubjectReview), and why.
CLI::App* withReason(CLI::App* command, Options& options) {
  command->add_option("--reason", options.reason,
                      "why, for the audit record (a change ticket, say); required in namespaces "
                      "labelled mc.maestro.dev/environment=production");
  return command;
}

CLI::App* withName(CLI::App* command, Options& options, const char* what = "the Rollout") {
  command->add_option("NAME", options.name, std::string("name of ") + what)->required();
  return command;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"kubectl mc: show and steer Maestro Conductor Rollouts and their AnalysisRuns",
               "kubectl-mc"};
  app.set_version_flag("--version", std::string("kubectl-mc ") + mc::kVersion);
  app.require_subcommand(1);
  // Global flags are accepted after the subcommand too, as kubectl accepts them.
  app.fallthrough();
  app.add_option("--kubeconfig", options.kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)");
  app.add_option("--context", options.context, "kubeconfig context (default: current-context)");
  app.add_option("-n,--namespace", options.ns,
                 "namespace of the Rollout or AnalysisRun (default: the kubeconfig context's, else "
                 "default)");
  app.add_flag("-v,--verbose", options.verbose, "log the client's retries and requests to stderr");

  auto* get = app.add_subcommand("get", "show a Rollout or an AnalysisRun")->require_subcommand(1);
  auto* getRollout = withName(
      get->add_subcommand("rollout",
                          "show a Rollout, its ReplicaSets and the AnalysisRuns of its current "
                          "attempt (each metric's last value, phase and counts)"),
      options);
  getRollout->alias("rollouts")->alias("ro")->alias("mcro");
  getRollout->add_flag(
      "-w,--watch", options.watch,
      "show it again whenever it, its ReplicaSets or its AnalysisRuns change, until Ctrl-C");
  auto* getRun = withName(
      get->add_subcommand("analysisrun",
                          "show an AnalysisRun: phase, args, and per metric its query, success "
                          "condition, limits, counts and last measurements"),
      options, "the AnalysisRun");
  getRun->alias("analysisruns")->alias("ar")->alias("mcar");
  auto* list = app.add_subcommand("list", "list Rollouts: phase, step, weight, images, age");
  list->alias("ls");
  list->add_flag("-A,--all-namespaces", options.allNamespaces,
                 "list the Rollouts of every namespace (adds a NAMESPACE column)");
  list->add_option("--phase", options.phases,
                   "only Rollouts in these phases (Progressing, Paused, Healthy, Degraded, "
                   "RolledBack; comma-separated or repeated, any case)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  list->add_option("-o,--output", options.output, "name: print rollout.mc.maestro.dev/NAME lines")
      ->check(CLI::IsMember({"name"}));
  auto* promote = withName(
      app.add_subcommand("promote", "pass the canary's current step (a pause or an analysis)"),
      options);
  promote->add_flag("--full", options.full, "skip all remaining steps: the canary becomes stable");
  withReason(promote, options);
  auto* abort = withReason(
      withName(app.add_subcommand("abort", "abort the canary: all traffic back to the stable"),
               options),
      options);
  auto* retry = withReason(
      withName(app.add_subcommand("retry", "restart an aborted canary from its first step"),
               options),
      options);
  auto* pause = withName(
      app.add_subcommand("pause", "hold the canary at its current step (spec.paused)"), options);
  auto* resume = withName(app.add_subcommand("resume", "let a paused Rollout continue"), options);
  auto* undo =
      withName(app.add_subcommand("undo",
                                  "restore the pod template of the last known-good (or an earlier) "
                                  "revision"),
               options);
  undo->add_option("--to-revision", options.toRevision,
                   "revision to restore (default: the last known-good template, status."
                   "lastKnownGood; without verification, the one before the current template's)")
      ->check(CLI::PositiveNumber);
  auto* audit =
      app.add_subcommand("audit", "read and verify a Rollout's audit chain")->require_subcommand(1);
  auto* auditLog =
      withName(audit->add_subcommand("log",
                                     "the Rollout's decisions on record: seq, when, actor, action, "
                                     "from -> to, reason"),
               options);
  auditLog->add_option("-o,--output", options.output, "json: the records whole, for tools")
      ->check(CLI::IsMember({"json"}));
  auto* auditVerify = withName(
      audit->add_subcommand("verify",
                            "recompute every record's hash and check the links and the head; "
                            "names the first broken link and exits 1"),
      options);
  auto* drill =
      withName(app.add_subcommand(
                   "drill",
                   "game day: deploy a deliberately bad revision as a canary, follow it until "
                   "MC rolls it back (exit 0) or not (exit 1), and report the timings"),
               options);
  drill
      ->add_option("--set-env", options.setEnv,
                   "KEY=VALUE set on every container of the bad revision (repeat for several)")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  drill->add_option("--patch-file", options.patchFile,
                    "a JSON merge patch (RFC 7386) of the pod template: the bad revision");
  drill
      ->add_option("--timeout", options.drillTimeout,
                   "how long MC has to roll back before the drill fails")
      ->capture_default_str();
  drill->add_option("--report", options.report,
                    "also write the report to FILE (Markdown) and FILE.json (JSON)");
  drill->add_flag("--keep", options.keep,
                  "leave the bad revision in spec.template afterwards (default: put the template "
                  "back)");
  auto* status = withName(
      app.add_subcommand("status", "wait until the Rollout is Healthy (exit 0) or Degraded (1)"),
      options);
  status
      ->add_option("--timeout", options.timeout,
                   "give up after this long, exit 1 (30s, 5m; 0: wait for ever)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;  // --help, --version, or a usage error
  }

  auto phases = mc::cli::parsePhases(options.phases);
  if (!phases) {
    fmt::print(stderr, "Error: {}\n", phases.error().message);
    return kExitUsage;
  }

  auto timeout = mc::parseDuration(options.timeout);
  if (options.timeout == "0") {
    timeout = std::chrono::milliseconds(0);
  }
  if (!timeout) {
    fmt::print(stderr, "Error: --timeout: \"{}\" is not a duration such as 30s or 5m\n",
               options.timeout);
    return kExitUsage;
  }

  std::optional<mc::cli::Commands::DrillOptions> drillOptions;
  if (drill->parsed()) {
    drillOptions.emplace();
    std::vector<std::string> said;
    for (const auto& assignment : options.setEnv) {
      auto parsed = mc::cli::parseEnvAssignment(assignment);
      if (!parsed) {
        fmt::print(stderr, "Error: {}\n", parsed.error().fieldMessage());
        return kExitUsage;
      }
      drillOptions->change.env.push_back(*parsed);
      said.push_back(assignment);
    }
    if (!options.patchFile.empty()) {
      std::ifstream in(options.patchFile);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      boost::system::error_code ec;
      auto patch = boost::json::parse(text, ec);
      if (!in || ec || !patch.is_object()) {
        fmt::print(stderr, "Error: --patch-file: {} is not a JSON object{}\n", options.patchFile,
                   ec ? ": " + ec.message() : "");
        return kExitUsage;
      }
      drillOptions->change.patch = patch.as_object();
      said.push_back("patch " + options.patchFile);
    }
    drillOptions->changeText = fmt::format("{}", fmt::join(said, ", "));
    auto drillTimeout = mc::parseDuration(options.drillTimeout);
    if (!drillTimeout || drillTimeout->count() <= 0) {
      fmt::print(stderr, "Error: --timeout: \"{}\" is not a duration such as 10m\n",
                 options.drillTimeout);
      return kExitUsage;
    }
    drillOptions->timeout = *drillTimeout;
    drillOptions->reportFile = options.report;
    drillOptions->keep = options.keep;
  }

  // $KUBECONFIG and the in-cluster service account as mc-operator takes them.
  const char* kubeconfigEnv = std::getenv("KUBECONFIG");
  bool useInCluster = options.kubeconfig.empty() &&
                      (kubeconfigEnv == nullptr || *kubeconfigEnv == '\0') && mc::kube::inCluster();
  auto config = useInCluster
                    ? mc::kube::loadInClusterConfig()
                    : mc::kube::loadKubeconfig({options.kubeconfig, options.context, false});
  if (!config) {
    fmt::print(stderr, "Error: {}\n", config.error().message);
    return kExitFailed;
  }
  mc::logging::setup(mc::logging::Format::Text);
  spdlog::set_level(options.verbose ? spdlog::level::info : spdlog::level::warn);
  if (options.ns.empty()) {
    // As kubectl: the context's namespace (in a pod, the service account's), else default.
    options.ns = config->ns.empty() ? "default" : config->ns;
  }

  asio::io_context io;
  mc::kube::ClientOptions clientOptions;
  clientOptions.fieldManager = "kubectl-mc";
  clientOptions.interactive = mc::kube::stdinIsTerminal();  // a credential plugin may prompt
  auto client = mc::kube::KubeClient::create(io.get_executor(), *config, clientOptions);
  if (!client) {
    fmt::print(stderr, "Error: {}\n", client.error().message);
    return kExitFailed;
  }
  mc::cli::Commands commands(**client, options.ns, isatty(STDOUT_FILENO) == 1);
  commands.setReason(options.reason);

  asio::awaitable<int> command = [&]() -> asio::awaitable<int> {
    if (getRollout->parsed()) {
      return commands.get(options.name, options.watch);
    }
    if (getRun->parsed()) {
      return commands.getAnalysisRun(options.name);
    }
    if (list->parsed()) {
      return commands.list(options.allNamespaces, *phases, options.output == "name");
    }
    if (drill->parsed()) {
      return commands.drill(options.name, *drillOptions);
    }
    if (auditLog->parsed()) {
      return commands.auditLog(options.name, options.output == "json");
    }
    if (auditVerify->parsed()) {
      return commands.auditVerify(options.name);
    }
    if (promote->parsed()) {
      return commands.promote(options.name, options.full);
    }
    if (abort->parsed()) {
      return commands.abort(options.name);
    }
    if (retry->parsed()) {
      return commands.retry(options.name);
    }
    if (pause->parsed() || resume->parsed()) {
      return commands.setPaused(options.name, pause->parsed());
    }
    if (undo->parsed()) {
      std::optional<int64_t> toRevision;
      if (options.toRevision > 0) {
        toRevision = options.toRevision;
      }
      return commands.undo(options.name, toRevision);
    }
    return commands.status(options.name, *timeout, options.timeout);
  }();

  int exitCode = kExitFailed;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec && !commands.interrupt()) {
      exitCode = mc::cli::kExitInterrupted;  // a single request: nothing to finish
      io.stop();
    }
  });
  asio::co_spawn(io, std::move(command), [&](std::exception_ptr e, int code) {
    if (e) {
      std::rethrow_exception(e);
    }
    exitCode = code;
    signals.cancel();
  });
  io.run();
  return exitCode;
}
