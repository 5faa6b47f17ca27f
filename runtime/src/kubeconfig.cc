#include "mc/runtime/kubeconfig.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "mc/runtime/secret.h"

namespace mc::kube {
namespace {

Error invalid(const std::string& origin, std::string_view field, std::string_view what) {
  return makeError(ErrorKind::Invalid, fmt::format("{}: {}: {}", origin, field, what));
}

Result<std::string> readFile(const std::filesystem::path& path, const std::string& origin,
                             std::string_view field) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return invalid(origin, field, fmt::format("cannot read file {}", path.string()));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<std::string> decodeBase64(std::string_view encoded, const std::string& origin,
                                 std::string_view field) {
  auto decoded = base64Decode(encoded);
  if (!decoded) {
    return invalid(origin, field, "not valid base64");
  }
  return std::move(*decoded);
}

// Finds the entry `name` in a kubeconfig list such as `clusters: [{name, cluster: {...}}]`.
std::optional<YAML::Node> findNamed(const YAML::Node& list, std::string_view name,
                                    std::string_view inner) {
  if (!list || !list.IsSequence()) {
    return std::nullopt;
  }
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) {
      return entry[std::string(inner)];
    }
  }
  return std::nullopt;
}

std::string scalar(const YAML::Node& node, std::string_view key) {
  auto value = node[std::string(key)];
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

// "<x>-data" (base64) wins over "<x>" (a file path), as in client-go.
Result<std::string> fileOrData(const YAML::Node& node, std::string_view key,
                               const std::filesystem::path& baseDir, const std::string& origin,
                               std::string_view fieldPrefix) {
  std::string dataKey = fmt::format("{}-data", key);
  if (auto data = scalar(node, dataKey); !data.empty()) {
    return decodeBase64(data, origin, fmt::format("{}.{}", fieldPrefix, dataKey));
  }
  if (auto file = scalar(node, key); !file.empty()) {
    std::filesystem::path path(file);
    if (path.is_relative()) {
      path = baseDir / path;
    }
    return readFile(path, origin, fmt::format("{}.{}", fieldPrefix, key));
  }
  return std::string();
}

std::string trimTrailingSpace(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.pop_back();
  }
  return text;
}

bool looksLikePem(std::string_view text) { return text.find("-----BEGIN ") != text.npos; }

// users[].user.exec, checked as client-go's kubeconfig validation checks it.
Result<ExecConfig> parseExec(const YAML::Node& node, const std::filesystem::path& baseDir,
                             const std::string& origin, const std::string& field) {
  if (!node.IsMap()) {
    return invalid(origin, field, "must be a mapping");
  }
  ExecConfig exec;
  exec.baseDir = baseDir;
  exec.apiVersion = scalar(node, "apiVersion");
  if (exec.apiVersion == "client.authentication.k8s.io/v1alpha1") {
    return invalid(origin, field + ".apiVersion",
                   "client.authentication.k8s.io/v1alpha1 is no longer supported (kubectl "
                   "dropped it in 1.24); use v1 or v1beta1");
  }
  if (exec.apiVersion != "client.authentication.k8s.io/v1" &&
      exec.apiVersion != "client.authentication.k8s.io/v1beta1") {
    return invalid(origin, field + ".apiVersion",
                   exec.apiVersion.empty()
                       ? "not set (client.authentication.k8s.io/v1 or v1beta1)"
                       : fmt::format("\"{}\" is not client.authentication.k8s.io/v1 or v1beta1",
                                     exec.apiVersion));
  }
  exec.command = scalar(node, "command");
  if (exec.command.empty()) {
    return invalid(origin, field + ".command", "not set");
  }
  if (auto args = node["args"]; args) {
    if (!args.IsSequence()) {
      return invalid(origin, field + ".args", "must be a list of strings");
    }
    for (const auto& arg : args) {
      exec.args.push_back(arg.as<std::string>());
    }
  }
  if (auto env = node["env"]; env) {
    if (!env.IsSequence()) {
      return invalid(origin, field + ".env", "must be a list of {name, value}");
    }
    for (size_t i = 0; i < env.size(); ++i) {
      auto name = scalar(env[i], "name");
      if (name.empty()) {
        return invalid(origin, fmt::format("{}.env[{}].name", field, i), "not set");
      }
      exec.env.emplace_back(name, scalar(env[i], "value"));
    }
  }
  exec.installHint = scalar(node, "installHint");
  exec.provideClusterInfo = scalar(node, "provideClusterInfo") == "true";
  auto mode = scalar(node, "interactiveMode");
  if (mode == "Never") {
    exec.interactiveMode = ExecConfig::InteractiveMode::Never;
  } else if (mode == "Always") {
    exec.interactiveMode = ExecConfig::InteractiveMode::Always;
  } else if (mode == "IfAvailable" ||
             (mode.empty() && exec.apiVersion == "client.authentication.k8s.io/v1beta1")) {
    exec.interactiveMode = ExecConfig::InteractiveMode::IfAvailable;
  } else {
    // v1 made the field required, so a plugin's author says whether it may prompt.
    return invalid(origin, field + ".interactiveMode",
                   mode.empty() ? "required in client.authentication.k8s.io/v1 (Never, "
                                  "IfAvailable or Always)"
                                : fmt::format("\"{}\" is not Never, IfAvailable or Always", mode));
  }
  return exec;
}

}  // namespace

std::filesystem::path resolveKubeconfigPath(const KubeconfigOptions& options) {
  if (!options.path.empty()) {
    return options.path;
  }
  if (const char* env = std::getenv("KUBECONFIG"); env != nullptr && *env != '\0') {
    std::string_view list(env);
    return std::filesystem::path(std::string(list.substr(0, list.find(':'))));
  }
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home != nullptr ? home : "") / ".kube" / "config";
}

std::string readTokenFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return trimTrailingSpace(text.str());
}

bool inCluster() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  return host != nullptr && *host != '\0';
}

Result<RestConfig> loadInClusterConfig(const std::filesystem::path& accountDir) {
  const std::string origin = "in-cluster config";
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    return invalid(origin, "KUBERNETES_SERVICE_HOST/PORT", "not set: not running in a pod");
  }
  RestConfig config;
  std::string hostText(host);
  // An IPv6 service address needs brackets in a URL.
  if (hostText.find(':') != std::string::npos) {
    hostText = "[" + hostText + "]";
  }
  config.server = fmt::format("https://{}:{}", hostText, port);
  auto ca = readFile(accountDir / "ca.crt", origin, "ca.crt");
  if (!ca) {
    return ca.error();
  }
  config.caPem = std::move(*ca);
  config.tokenFile = (accountDir / "token").string();
  auto token = readFile(config.tokenFile, origin, "token");
  if (!token) {
    return token.error();
  }
  config.bearerToken = trimTrailingSpace(std::move(*token));
  config.origin = fmt::format("{} ({})", origin, accountDir.string());
  std::ifstream namespaceFile(accountDir / "namespace");
  std::getline(namespaceFile, config.ns);
  return config;
}

Result<RestConfig> loadKubeconfig(const KubeconfigOptions& options) {
  auto path = resolveKubeconfigPath(options);
  auto origin = fmt::format("kubeconfig {}", path.string());
  auto text = readFile(path, origin, "file");
  if (!text) {
    return makeError(ErrorKind::Invalid, fmt::format("{}: cannot read the file", origin));
  }
  KubeconfigOptions resolved = options;
  resolved.path = path;
  return parseKubeconfig(*text, path.parent_path(), resolved);
}

Result<RestConfig> parseKubeconfig(std::string_view yaml, const std::filesystem::path& baseDir,
                                   const KubeconfigOptions& options) {
  std::string origin = options.path.empty() ? std::string("kubeconfig")
                                            : fmt::format("kubeconfig {}", options.path.string());
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return invalid(origin, "file", fmt::format("not valid YAML: {}", e.what()));
  }
  if (!root.IsMap()) {
    return invalid(origin, "file", "not a kubeconfig (expected a mapping)");
  }

  try {
    std::string contextName = options.context;
    if (contextName.empty()) {
      contextName = scalar(root, "current-context");
      if (contextName.empty()) {
        return invalid(origin, "current-context", "not set, and no --context given");
      }
    }
    auto context = findNamed(root["contexts"], contextName, "context");
    if (!context || !context->IsMap()) {
      return invalid(origin, "contexts", fmt::format("no context named \"{}\"", contextName));
    }
    std::string clusterName = scalar(*context, "cluster");
    std::string userName = scalar(*context, "user");
    std::string contextField = fmt::format("contexts[{}].context", contextName);
    if (clusterName.empty()) {
      return invalid(origin, contextField + ".cluster", "not set");
    }
    auto cluster = findNamed(root["clusters"], clusterName, "cluster");
    if (!cluster || !cluster->IsMap()) {
      return invalid(origin, contextField + ".cluster",
                     fmt::format("no cluster named \"{}\" in clusters", clusterName));
    }

    RestConfig config;
    config.origin = fmt::format("{}, context {}", origin, contextName);
    config.ns = scalar(*context, "namespace");
    std::string clusterField = fmt::format("clusters[{}].cluster", clusterName);
    config.server = scalar(*cluster, "server");
    if (config.server.empty()) {
      return invalid(origin, clusterField + ".server", "not set");
    }
    while (!config.server.empty() && config.server.back() == '/') {
      config.server.pop_back();
    }
    if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0) {
      return invalid(origin, clusterField + ".server",
                     fmt::format("\"{}\" is not an http(s) URL", config.server));
    }
    auto ca = fileOrData(*cluster, "certificate-authority", baseDir, origin, clusterField);
    if (!ca) {
      return ca.error();
    }
    config.caPem = std::move(*ca);
    if (!config.caPem.empty() && !looksLikePem(config.caPem)) {
      return invalid(origin, clusterField + ".certificate-authority", "not a PEM certificate");
    }
    config.insecureSkipTlsVerify = scalar(*cluster, "insecure-skip-tls-verify") == "true";
    if (config.insecureSkipTlsVerify && !options.allowInsecure) {
      return invalid(origin, clusterField + ".insecure-skip-tls-verify",
                     "refused: TLS verification of the apiserver may not be turned off");
    }

    if (!userName.empty()) {
      auto user = findNamed(root["users"], userName, "user");
      std::string userField = fmt::format("users[{}].user", userName);
      if (!user) {
        return invalid(origin, contextField + ".user",
                       fmt::format("no user named \"{}\" in users", userName));
      }
      if (user->IsMap()) {
        auto cert = fileOrData(*user, "client-certificate", baseDir, origin, userField);
        if (!cert) {
          return cert.error();
        }
        auto key = fileOrData(*user, "client-key", baseDir, origin, userField);
        if (!key) {
          return key.error();
        }
        if (cert->empty() != key->empty()) {
          return invalid(origin, userField,
                         "client-certificate and client-key must be given together");
        }
        config.clientCertPem = std::move(*cert);
        config.clientKeyPem = std::move(*key);
        config.bearerToken = scalar(*user, "token");
        if (auto tokenFile = scalar(*user, "tokenFile"); !tokenFile.empty()) {
          std::filesystem::path path(tokenFile);
          if (path.is_relative()) {
            path = baseDir / path;
          }
          config.tokenFile = path.string();
          if (config.bearerToken.empty()) {
            auto token = readFile(path, origin, userField + ".tokenFile");
            if (!token) {
              return token.error();
            }
            config.bearerToken = trimTrailingSpace(std::move(*token));
          }
        }
        if ((*user)["auth-provider"]) {
          return invalid(origin, userField + ".auth-provider",
                         "auth-provider plugins were removed from kubectl; use an exec "
                         "credential plugin (your cloud's kubeconfig command writes one)");
        }
        if (auto exec = (*user)["exec"]) {
          auto parsed = parseExec(exec, baseDir, origin, userField + ".exec");
          if (!parsed) {
            return parsed.error();
          }
          config.exec = std::move(*parsed);
        }
      }
    }
    return config;
  } catch (const YAML::Exception& e) {
    return invalid(origin, "file", fmt::format("unexpected structure: {}", e.what()));
  }
}

}  // namespace mc::kube
