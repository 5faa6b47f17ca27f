#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mc/common/error.h"

namespace mc::kube {

// A kubeconfig user's `exec` credential plugin (client.authentication.k8s.io/v1 or v1beta1),
// as kubectl runs it; see ExecCredentials.
struct ExecConfig {
  enum class InteractiveMode { Never, IfAvailable, Always };

  std::string apiVersion;  // of the ExecCredential exchanged with the plugin
  std::string command;  // a name on $PATH, or a path (relative ones from the kubeconfig's folder)
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string installHint;  // shown when the command is not found
  bool provideClusterInfo = false;
  InteractiveMode interactiveMode = InteractiveMode::IfAvailable;
  std::filesystem::path baseDir;  // the kubeconfig's folder
  // How long one run may take before it is killed (not a kubeconfig field; kubectl has none).
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
};

// Everything needed to reach one apiserver as one user. PEM material is held in memory so a
// rotated file on disk does not change a running client halfway through.
struct RestConfig {
  std::string server;         // "https://127.0.0.1:6443", no trailing slash
  std::string caPem;          // empty: the system trust store
  std::string clientCertPem;  // with clientKeyPem: client-certificate auth
  std::string clientKeyPem;
  std::string bearerToken;
  std::string tokenFile;  // if set, the token is re-read from here (service-account rotation)
  std::optional<ExecConfig> exec;  // credentials from a plugin, run when they are needed
  bool insecureSkipTlsVerify = false;
  std::string origin;  // where it came from, for messages: "kubeconfig /x, context admin"
  // The context's namespace (in a pod: the service account's); empty if the config names none.
  // What kubectl commands act on when no -n is given.
  std::string ns;
};

struct KubeconfigOptions {
  std::filesystem::path path;  // empty: $KUBECONFIG (first entry), then ~/.kube/config
  std::string context;         // empty: current-context
  bool allowInsecure = false;  // insecure-skip-tls-verify is refused unless this is set
};

// Loads a kubeconfig file. Errors are Invalid and name the file and the field at fault.
Result<RestConfig> loadKubeconfig(const KubeconfigOptions& options);

// Parses kubeconfig text; relative file paths are resolved against `baseDir`, as kubectl does.
Result<RestConfig> parseKubeconfig(std::string_view yaml, const std::filesystem::path& baseDir,
                                   const KubeconfigOptions& options);

// In a pod: the apiserver from KUBERNETES_SERVICE_HOST/PORT, the service account's CA, and its
// token file (re-read on every request, since projected tokens rotate). `accountDir` is where
// the service account is mounted. Invalid, naming what is missing, outside a pod.
Result<RestConfig> loadInClusterConfig(
    const std::filesystem::path& accountDir = "/var/run/secrets/kubernetes.io/serviceaccount");

// Whether this process runs in a pod (KUBERNETES_SERVICE_HOST is set).
bool inCluster();

// The token in a file without its trailing newline; "" if the file cannot be read.
std::string readTokenFile(const std::filesystem::path& path);

// The path loadKubeconfig would read for `options`.
std::filesystem::path resolveKubeconfigPath(const KubeconfigOptions& options);

}  // namespace mc::kube
