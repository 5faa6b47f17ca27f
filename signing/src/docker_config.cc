#include "mc/signing/docker_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

#include "mc/common/json.h"
#include "mc/runtime/secret.h"
#include "mc/signing/image_reference.h"

namespace mc::signing {
namespace {

namespace json = boost::json;

// Every name Docker Hub's registry goes by in a config's keys.
constexpr std::string_view kDockerHubWebHost = "registry.hub.docker.com";

// A string field of an entry; Invalid naming the field (never showing the value) when it is
// there but not a string.
Result<std::string> credentialField(const json::object& entry, std::string_view key,
                                    std::string_view field) {
  const auto* value = entry.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return std::string();
  }
  if (!value->is_string()) {
    return fieldError(fmt::format("{}.{}", field, key), "must be a string");
  }
  return std::string(value->get_string());
}

Result<RegistryCredentials> readEntry(const json::value& value, std::string_view field) {
  if (!value.is_object()) {
    return fieldError(std::string(field), "must be an object");
  }
  const auto& entry = value.get_object();
  RegistryCredentials credentials;
  for (auto [key, target] :
       {std::pair{"username", &credentials.username}, std::pair{"password", &credentials.password},
        std::pair{"identitytoken", &credentials.identityToken},
        std::pair{"registrytoken", &credentials.registryToken}}) {
    auto read = credentialField(entry, key, field);
    if (!read) {
      return read.error();
    }
    *target = std::move(*read);
  }
  auto auth = credentialField(entry, "auth", field);
  if (!auth) {
    return auth.error();
  }
  if (!auth->empty()) {
    auto decoded = kube::base64Decode(*auth);
    auto colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      return fieldError(fmt::format("{}.auth", field), "is not base64 of \"username:password\"");
    }
    credentials.username = decoded->substr(0, colon);
    credentials.password = decoded->substr(colon + 1);
  }
  return credentials;
}

Result<DockerConfig> readAuths(const json::value& auths, std::string_view field) {
  if (!auths.is_object()) {
    return fieldError(std::string(field), "must be an object keyed by registry");
  }
  DockerConfig config;
  for (const auto& member : auths.get_object()) {
    auto entry =
        readEntry(member.value(), fmt::format("{}[\"{}\"]", field, std::string_view(member.key())));
    if (!entry) {
      return entry.error();
    }
    config.add(member.key(), std::move(*entry));
  }
  return config;
}

Result<json::value> parseJson(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) {
    // The parser's message names a position and a kind of error, never the text itself.
    return makeError(ErrorKind::Invalid, fmt::format("{} is not JSON: {}", what, ec.message()));
  }
  return value;
}

}  // namespace

std::string registryKey(std::string_view key) {
  if (auto scheme = key.find("://"); scheme != std::string_view::npos) {
    key.remove_prefix(scheme + 3);
  }
  std::string host = canonicalRegistry(key.substr(0, key.find('/')));
  // The Docker CLI's config also names Docker Hub by its web host.
  return host == kDockerHubWebHost ? std::string(kDockerHub) : host;
}

void DockerConfig::add(std::string_view key, RegistryCredentials credentials) {
  auths_.insert_or_assign(registryKey(key), std::move(credentials));
}

std::optional<RegistryCredentials> DockerConfig::lookup(std::string_view registry) const {
  auto found = auths_.find(registryKey(registry));
  if (found == auths_.end()) {
    return std::nullopt;
  }
  return found->second;
}

Result<DockerConfig> parseDockerConfigJson(std::string_view text) {
  auto value = parseJson(text, kDockerConfigJsonKey);
  if (!value) {
    return value.error();
  }
  if (!value->is_object()) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("{} is not a JSON object", kDockerConfigJsonKey));
  }
  const auto* auths = value->get_object().if_contains("auths");
  if (auths == nullptr || auths->is_null()) {
    return DockerConfig();
  }
  return readAuths(*auths, "auths");
}

Result<DockerConfig> parseDockerCfg(std::string_view text) {
  auto value = parseJson(text, kDockerCfgKey);
  if (!value) {
    return value.error();
  }
  return readAuths(*value, "");
}

Result<DockerConfig> readPullSecret(const boost::json::object& secret) {
  auto type = stringAt(secret, "type");
  bool legacyFirst = type == kDockerCfgType;
  for (auto key : legacyFirst ? std::array{kDockerCfgKey, kDockerConfigJsonKey}
                              : std::array{kDockerConfigJsonKey, kDockerCfgKey}) {
    auto value = kube::secretValue(secret, key);
    if (!value) {
      return value.error();
    }
    if (!*value) {
      continue;
    }
    auto config = key == kDockerCfgKey ? parseDockerCfg(**value) : parseDockerConfigJson(**value);
    if (!config) {
      auto error = config.error();
      // The field inside the decoded document, under the Secret's data key.
      bool index = !error.field.empty() && error.field.front() == '[';
      error.field = error.field.empty()
                        ? fmt::format("data[{}]", key)
                        : fmt::format("data[{}]{}{}", key, index ? "" : ".", error.field);
      return error;
    }
    return config;
  }
  return fieldError(fmt::format("data[{}]", legacyFirst ? kDockerCfgKey : kDockerConfigJsonKey),
                    "is required in an image pull Secret");
}

}  // namespace mc::signing
