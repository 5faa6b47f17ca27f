#include "mc/signing/docker_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/runtime/secret.h"
#include "mc/signing/image_reference.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kConfig = R"({
  "auths": {
    "https://index.docker.io/v1/": {"auth": ")" +
                            kube::base64Encode("hubuser:hub:pass") + R"("},
    "ghcr.io": {"username": "ghuser", "password": "ghpass"},
    "HTTPS://Registry.Example.com:5000/v2/": {"identitytoken": "refresh-token"},
    "localhost:5000": {"auth": ")" +
                            kube::base64Encode("a:b") + R"(", "username": "ignored",
                       "password": "ignored"},
    "quay.io": {"registrytoken": "bearer-token"}
  }
})";

TEST(DockerConfig, LooksUpByRegistryHost) {
  auto config = parseDockerConfigJson(kConfig);
  ASSERT_TRUE(config) << config.error().describe();
  EXPECT_EQ(config->size(), 5u);

  // Docker Hub under the CLI's key, found by every name Hub goes by.
  for (const char* host : {"docker.io", "index.docker.io", "registry-1.docker.io"}) {
    auto hub = config->lookup(host);
    ASSERT_TRUE(hub) << host;
    EXPECT_EQ(hub->username, "hubuser");
    EXPECT_EQ(hub->password, "hub:pass");  // the first ':' splits, the password keeps the rest
  }
  auto ghcr = config->lookup("ghcr.io");
  ASSERT_TRUE(ghcr);
  EXPECT_EQ(ghcr->username, "ghuser");
  EXPECT_EQ(ghcr->password, "ghpass");

  auto example = config->lookup("registry.example.com:5000");
  ASSERT_TRUE(example);
  EXPECT_EQ(example->identityToken, "refresh-token");
  EXPECT_FALSE(config->lookup("registry.example.com"));  // another port, another registry

  auto local = config->lookup("localhost:5000");
  ASSERT_TRUE(local);
  EXPECT_EQ(local->username, "a");  // auth wins over username/password
  EXPECT_EQ(local->password, "b");
  EXPECT_EQ(config->lookup("quay.io")->registryToken, "bearer-token");

  EXPECT_FALSE(config->lookup("gcr.io"));
}

TEST(DockerConfig, RegistryKeyDropsSchemeAndPath) {
  EXPECT_EQ(registryKey("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(registryKey("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(registryKey("http://LocalHost:5000"), "localhost:5000");
  EXPECT_EQ(registryKey("ghcr.io/v2/"), "ghcr.io");
  EXPECT_EQ(registryKey("registry.hub.docker.com"), "docker.io");
}

// A pull secret's entry is found for an image however either spells the registry: both are named
// as ImageReference names registries.
TEST(DockerConfig, AnEntryIsFoundForTheImageHoweverEitherSpellsTheRegistry) {
  DockerConfig config;
  config.add("https://ghcr.io:443/v2/", RegistryCredentials{.username = "a", .password = "1"});
  config.add("MyHost", RegistryCredentials{.username = "b", .password = "2"});
  for (const char* image : {"ghcr.io/acme/web", "GHCR.IO:443/acme/web", "ghcr.io:443/acme/web"}) {
    auto ref = ImageReference::parse(image);
    ASSERT_TRUE(ref);
    auto found = config.lookup(ref->registry());
    ASSERT_TRUE(found) << image;
    EXPECT_EQ(found->username, "a") << image;
  }
  for (const char* image : {"myhost:443/app", "MYHOST/app", "myHost/app"}) {
    auto ref = ImageReference::parse(image);
    ASSERT_TRUE(ref);
    auto found = config.lookup(ref->registry());
    ASSERT_TRUE(found) << image;
    EXPECT_EQ(found->username, "b") << image;
  }
}

TEST(DockerConfig, ReadsLegacyDockercfgAndEmptyConfigs) {
  auto legacy = parseDockerCfg(R"({"https://index.docker.io/v1/": {"auth": ")" +
                               kube::base64Encode("old:secret") + R"(", "email": "x@y"}})");
  ASSERT_TRUE(legacy) << legacy.error().describe();
  EXPECT_EQ(legacy->lookup("docker.io")->username, "old");

  auto empty = parseDockerConfigJson(R"({"credsStore": "desktop"})");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->size(), 0u);
  auto anonymous = parseDockerConfigJson(R"({"auths": {"ghcr.io": {}}})");
  ASSERT_TRUE(anonymous);
  EXPECT_TRUE(anonymous->lookup("ghcr.io")->anonymous());
}

TEST(DockerConfig, RefusesMalformedConfigsWithoutShowingCredentials) {
  const std::string secret = "hunter2-SECRET";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {R"({"auths": {"ghcr.io": {"username": "u", "password": ")" + secret + R"(")", "",
       "not JSON"},
      {R"(["auths"])", "", "not a JSON object"},
      {R"({"auths": []})", "auths", "object"},
      {R"({"auths": {"ghcr.io": ")" + secret + R"("}})", R"(auths["ghcr.io"])", "object"},
      {R"({"auths": {"ghcr.io": {"password": 12345, "username": ")" + secret + R"("}}})",
       R"(auths["ghcr.io"].password)", "string"},
      {R"({"auths": {"ghcr.io": {"auth": ")" + secret + R"(!"}}})", R"(auths["ghcr.io"].auth)",
       "base64"},
      // base64 of a string without ':'
      {R"({"auths": {"ghcr.io": {"auth": ")" + kube::base64Encode(secret) + R"("}}})",
       R"(auths["ghcr.io"].auth)", "username:password"},
  };
  for (const auto& [text, field, message] : cases) {
    auto config = parseDockerConfigJson(text);
    ASSERT_FALSE(config) << text;
    EXPECT_EQ(config.error().field, field) << text;
    EXPECT_THAT(config.error().message, HasSubstr(message)) << text;
    EXPECT_THAT(config.error().describe(), Not(HasSubstr(secret))) << text;
    EXPECT_THAT(config.error().describe(), Not(HasSubstr(kube::base64Encode(secret)))) << text;
  }
}

boost::json::object pullSecret(std::string_view type, std::string_view key,
                               std::string_view document) {
  return boost::json::object{
      {"apiVersion", "v1"},
      {"kind", "Secret"},
      {"type", type},
      {"data", boost::json::object{{key, kube::base64Encode(document)}}},
  };
}

TEST(ReadPullSecret, ReadsBothSecretTypes) {
  auto modern = readPullSecret(pullSecret(kDockerConfigJsonType, kDockerConfigJsonKey, kConfig));
  ASSERT_TRUE(modern) << modern.error().describe();
  EXPECT_EQ(modern->lookup("ghcr.io")->username, "ghuser");

  auto legacy = readPullSecret(pullSecret(kDockerCfgType, kDockerCfgKey,
                                          R"({"ghcr.io": {"username": "l", "password": "p"}})"));
  ASSERT_TRUE(legacy) << legacy.error().describe();
  EXPECT_EQ(legacy->lookup("ghcr.io")->username, "l");
}

TEST(ReadPullSecret, NamesTheSecretFieldAtFault) {
  auto missing = readPullSecret(pullSecret(kDockerConfigJsonType, "other", "{}"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, "data[.dockerconfigjson]");

  auto bad = readPullSecret(
      pullSecret(kDockerConfigJsonType, kDockerConfigJsonKey, R"({"auths": {"ghcr.io": 1}})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, R"(data[.dockerconfigjson].auths["ghcr.io"])");

  auto badLegacy = readPullSecret(pullSecret(kDockerCfgType, kDockerCfgKey, R"({"ghcr.io": 1})"));
  ASSERT_FALSE(badLegacy);
  EXPECT_EQ(badLegacy.error().field, R"(data[.dockercfg]["ghcr.io"])");

  auto notJson = readPullSecret(pullSecret(kDockerConfigJsonType, kDockerConfigJsonKey, "{"));
  ASSERT_FALSE(notJson);
  EXPECT_EQ(notJson.error().field, "data[.dockerconfigjson]");

  boost::json::object notBase64{{"type", kDockerConfigJsonType},
                                {"data", boost::json::object{{kDockerConfigJsonKey, "%%%"}}}};
  EXPECT_FALSE(readPullSecret(notBase64));
}

}  // namespace
}  // namespace mc::signing
