#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "mc/common/error.h"

// Registry credentials from an image pull Secret, as kubelet and the Docker CLI read them.
// Everything here is a credential: nothing of it goes into an error message or a log.
namespace mc::signing {

// A Secret's type and data key for ~/.docker/config.json, and for the legacy ~/.dockercfg.
inline constexpr std::string_view kDockerConfigJsonType = "kubernetes.io/dockerconfigjson";
inline constexpr std::string_view kDockerConfigJsonKey = ".dockerconfigjson";
inline constexpr std::string_view kDockerCfgType = "kubernetes.io/dockercfg";
inline constexpr std::string_view kDockerCfgKey = ".dockercfg";

struct RegistryCredentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token, exchanged at the registry's token endpoint (Docker's
  // `identitytoken`); when set, username and password are not used.
  std::string identityToken;
  // A bearer token for the registry itself (Docker's `registrytoken`).
  std::string registryToken;

  bool anonymous() const {
    return username.empty() && password.empty() && identityToken.empty() && registryToken.empty();
  }
};

// The `auths` of a Docker config, keyed by normalised registry host (see registryKey).
class DockerConfig {
 public:
  // The credentials for a registry host as an ImageReference names it ("docker.io",
  // "index.docker.io", "ghcr.io", "localhost:5000"); nullopt when the config has none.
  std::optional<RegistryCredentials> lookup(std::string_view registry) const;
  size_t size() const { return auths_.size(); }

  // An entry, for parsers; a later entry for the same registry replaces an earlier one.
  void add(std::string_view key, RegistryCredentials credentials);

 private:
  std::map<std::string, RegistryCredentials, std::less<>> auths_;
};

// The registry an `auths` key names: scheme and path dropped ("https://ghcr.io/v2/" is
// "ghcr.io"), then named as images name it (canonicalRegistry: lower case, no :443, Docker Hub's
// names, "https://index.docker.io/v1/" and registry.hub.docker.com too, all "docker.io").
std::string registryKey(std::string_view key);

// A config.json document: {"auths": {"<host or URL>": {"auth": base64("user:password")} |
// {"username", "password"} | {"identitytoken"}}}. `auth`, when present, wins over
// username/password (as in the Docker CLI). Invalid, naming the entry's field but never its
// value, when it is not JSON or an entry is malformed.
Result<DockerConfig> parseDockerConfigJson(std::string_view json);
// A legacy .dockercfg document: the `auths` object alone, at the top level.
Result<DockerConfig> parseDockerCfg(std::string_view json);
// The config of a pull Secret (an object as the apiserver returns it): `.dockerconfigjson` of a
// kubernetes.io/dockerconfigjson Secret, `.dockercfg` of a kubernetes.io/dockercfg one (either
// key when the type is another). Invalid, naming the Secret's field, when it has neither.
Result<DockerConfig> readPullSecret(const boost::json::object& secret);

}  // namespace mc::signing
