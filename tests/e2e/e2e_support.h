#pragma once

// What the e2e suites that drive mc-operator share: kubectl and its JSON, the ReplicaSets and
// Events of a namespace, the chart's ServiceAccount credentials, and an mc-operator process.
#include <fmt/format.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mc/e2e/controlplane.h"
#include "mc/e2e/process.h"

namespace mc::e2e {

inline constexpr const char* kHashLabel = "mc.maestro.dev/pod-template-hash";
inline constexpr const char* kOperatorNamespace = "mc-system";

inline ControlPlane& cp() { return ControlPlaneEnvironment::get(); }

std::string readFile(const std::filesystem::path& path);
void writeFile(const std::filesystem::path& path, const std::string& text);
CommandResult kubectl(const std::vector<std::string>& args);
// `kubectl get ARGS -o json`, or null if it fails.
boost::json::value getJson(std::vector<std::string> args);

// Reads a path like {"status", "phase"} out of a JSON value ("" / -1 if absent); in an array a
// key is an index ({"items", "0", "name"}).
const boost::json::value* at(const boost::json::value& value,
                             std::initializer_list<std::string_view> path);
std::string text(const boost::json::value& value, std::initializer_list<std::string_view> path);
int64_t number(const boost::json::value& value, std::initializer_list<std::string_view> path);

struct RsState {
  std::string name;
  int64_t replicas = 0;
  int64_t available = 0;
};
// The namespace's MC ReplicaSets by pod-template hash.
std::map<std::string, RsState> replicaSets(const std::string& ns);
// Events MC recorded about a Rollout, by reason.
std::map<std::string, int> eventCounts(const std::string& ns, const std::string& rollout);

// The apiserver's audit log: every write, with who made it, the object and the response code
// (Metadata level, reads not recorded: e2e/controlplane/audit-policy.yaml), one JSON object a line.
std::filesystem::path auditLogPath();
uintmax_t auditLogSize();
std::vector<boost::json::value> auditEntriesSince(uintmax_t offset);

// Every CRD in crds/ applied and Established, and the chart's RBAC (rendered into `dir` with
// helm's `--set` values `chartValues`, "key=value").
void installCrdsAndChartRbac(const std::filesystem::path& dir,
                             const std::vector<std::string>& chartValues = {});

// Rollout "web" of `replicas` pods (label app: web, one container "web") running `image`, with
// strategy.canary `canary` (YAML flow) and `moreSpec`: further lines of its spec, indented by two
// spaces and ending in a newline.
std::string rolloutYaml(const std::string& image, const std::string& canary, int replicas = 10,
                        const std::string& moreSpec = "");

// Waits until Rollout "web" in `ns` is in `phase` as of its current generation.
bool waitForPhase(const std::string& ns, const std::string& phase,
                  std::chrono::milliseconds timeout = std::chrono::seconds(120));

// `kubectl apply -n NS` of `yaml`, written to a file of its own under `dir` (a test failure if
// kubectl refuses it).
void applyIn(const std::filesystem::path& dir, const std::string& ns, const std::string& yaml);

// One mc-operator (MC_OPERATOR_BINARY) for `namespaces`, created here, with the credential of
// `kubeconfig`, text logs in `dir`/mc-operator.log, a scale-down delay of 2 s and `extraArgs`.
// Null (and a test failure) if a namespace cannot be created.
std::unique_ptr<Process> startOperator(const std::filesystem::path& dir,
                                       const std::string& kubeconfig,
                                       const std::vector<std::string>& namespaces,
                                       const std::vector<std::string>& extraArgs = {});

// A token of its own for the chart's ServiceAccount, in a kubeconfig `<dir>/<name>.kubeconfig`,
// and the id the apiserver gives that token (user.extra's authentication.kubernetes.io/
// credential-id in its audit log, "JTI=<the token's jti>"), so processes with the same
// ServiceAccount are told apart as the apiserver tells them apart. Empty fields (and a test
// failure) on error.
// A kubeconfig `<dir>/<name>.kubeconfig` with a fresh token of ServiceAccount `serviceAccount` in
// `ns` (its context's namespace), as a person's or MC's credential; "" (and a test failure) on
// error. `token`, if given, receives the token.
std::string tokenKubeconfig(const std::filesystem::path& dir, const std::string& ns,
                            const std::string& serviceAccount, const std::string& name,
                            std::string* token = nullptr);

struct OperatorCredential {
  std::string kubeconfig;
  std::string credentialId;
};
OperatorCredential operatorCredential(const std::filesystem::path& dir, const std::string& name);

// An mc-operator of its own for one namespace, as the chart's ServiceAccount; one log file per
// incarnation, so a test can follow what this run of it said.
class OwnOperator {
 public:
  // `name` tells the logs of several operators of one namespace apart.
  OwnOperator(std::filesystem::path dir, std::string ns, std::string kubeconfig,
              std::vector<std::string> extraArgs = {}, std::string name = "")
      : dir_(std::move(dir)),
        ns_(std::move(ns)),
        kubeconfig_(std::move(kubeconfig)),
        extraArgs_(std::move(extraArgs)),
        name_(name.empty() ? ns_ : std::move(name)) {}
  void start() {
    ++incarnation_;
    metricsPort_ = freePort();
    process_.reset();
    std::vector<std::string> args{MC_OPERATOR_BINARY,
                                  "--kubeconfig",
                                  kubeconfig_,
                                  fmt::format("--metrics-bind-address=127.0.0.1:{}", metricsPort_),
                                  "--health-probe-bind-address=127.0.0.1:0",
                                  "--log-format=text",
                                  "--scale-down-delay=2s",
                                  "--namespace=" + ns_};
    args.insert(args.end(), extraArgs_.begin(), extraArgs_.end());
    process_ = std::make_unique<Process>(args, log());
  }
  void kill() {
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds(10));
  }
  // SIGTERM, as Kubernetes stops a pod; the exit code (-1 if it did not exit in time).
  int terminate() {
    process_->signal(SIGTERM);
    return process_->wait(std::chrono::seconds(20));
  }
  std::filesystem::path log() const {
    return dir_ / fmt::format("mc-operator-{}-{}.log", name_, incarnation_);
  }
  bool logContains(const std::string& text) const {
    return readFile(log()).find(text) != std::string::npos;
  }
  // Whether the incarnation before this one said `text` (after the test last looked: a loaded
  // machine can let it take one more decision before the SIGKILL lands).
  bool previousLogContains(const std::string& text) const {
    return incarnation_ > 1 &&
           readFile(dir_ / fmt::format("mc-operator-{}-{}.log", name_, incarnation_ - 1))
                   .find(text) != std::string::npos;
  }
  unsigned short metricsPort() const { return metricsPort_; }
  std::string logTail() const { return process_ ? process_->logTail(30) : ""; }

 private:
  std::filesystem::path dir_;
  std::string ns_;
  std::string kubeconfig_;
  std::vector<std::string> extraArgs_;
  std::string name_;
  int incarnation_ = 0;
  unsigned short metricsPort_ = 0;
  std::unique_ptr<Process> process_;
};

// A suite of e2e tests that share one mc-operator, running as the chart's ServiceAccount (a
// missing RBAC rule fails here) and watching Derived::kSuiteNamespaces, created for it. Every CRD
// and the chart's RBAC (rendered with Derived::chartValues()) are installed first;
// Derived::installMore() adds what the suite needs, and Derived::operatorArgs() are mc-operator's
// further flags.
template <class Derived>
class OperatorSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(makeTempDir(Derived::kSuiteName));
    ASSERT_NO_FATAL_FAILURE(installCrdsAndChartRbac(*dir_, Derived::chartValues()));
    ASSERT_NO_FATAL_FAILURE(Derived::installMore());
    auto credential = operatorCredential(*dir_, "mc-sa");
    ASSERT_FALSE(credential.kubeconfig.empty());
    serviceAccountKubeconfig_ = credential.kubeconfig;
    operator_ =
        startOperator(*dir_, credential.kubeconfig,
                      {std::begin(Derived::kSuiteNamespaces), std::end(Derived::kSuiteNamespaces)},
                      Derived::operatorArgs())
            .release();
    ASSERT_NE(operator_, nullptr);
  }

  static void TearDownTestSuite() {
    if (operator_ != nullptr) {
      operator_->stop();
      delete operator_;
      operator_ = nullptr;
    }
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  static void installMore() {}
  static std::vector<std::string> chartValues() { return {}; }
  static std::vector<std::string> operatorArgs() { return {}; }
  static const std::string& serviceAccountKubeconfig() { return serviceAccountKubeconfig_; }
  static void apply(const std::string& ns, const std::string& yaml) { applyIn(*dir_, ns, yaml); }

  static inline std::filesystem::path* dir_ = nullptr;
  static inline Process* operator_ = nullptr;
  static inline std::string serviceAccountKubeconfig_;
};

}  // namespace mc::e2e
