#include "mc/signing/image_reference.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

const std::string kDigest =
    "sha256:9b7cd6a7b4a3a6b1e4e3b3e1b0a0c5c9f3d8a1e0f2b4c6d8e0f1a2b3c4d5e6f7";

struct Good {
  std::string text;
  std::string registry;
  std::string apiHost;
  std::string repository;
  std::string tag;
  std::string digest;
};

TEST(ImageReference, ParsesAsDockerDoes) {
  const std::vector<Good> cases{
      {"nginx", "docker.io", "index.docker.io", "library/nginx", "", ""},
      {"nginx:1.25", "docker.io", "index.docker.io", "library/nginx", "1.25", ""},
      {"bitnami/redis:7.2", "docker.io", "index.docker.io", "bitnami/redis", "7.2", ""},
      {"docker.io/nginx", "docker.io", "index.docker.io", "library/nginx", "", ""},
      {"index.docker.io/library/nginx", "docker.io", "index.docker.io", "library/nginx", "", ""},
      {"ghcr.io/org/team/app:v1.2.3", "ghcr.io", "ghcr.io", "org/team/app", "v1.2.3", ""},
      {"localhost/app", "localhost", "localhost", "app", "", ""},
      {"localhost:5000/app:dev", "localhost:5000", "localhost:5000", "app", "dev", ""},
      {"127.0.0.1:5000/a/b", "127.0.0.1:5000", "127.0.0.1:5000", "a/b", "", ""},
      {"[::1]:5000/app", "[::1]:5000", "[::1]:5000", "app", "", ""},
      {"registry.example.com/app@" + kDigest, "registry.example.com", "registry.example.com", "app",
       "", kDigest},
      {"nginx:1.25@" + kDigest, "docker.io", "index.docker.io", "library/nginx", "1.25", kDigest},
      // A first component without '.', ':' or "localhost" is a Docker Hub namespace.
      {"myregistry/app", "docker.io", "index.docker.io", "myregistry/app", "", ""},
      // ...unless it has an upper-case letter, which no repository may have.
      // Registries have one name however spelt, so a policy's pattern cannot be dodged.
      // ...but not into a name Docker would read as a Hub path: lower-cased, "MyRegistry" would
      // be one, and so would "myhost" without its :443; such a host is written in upper case,
      // one name for every spelling.
      {"MyRegistry/app", "MYREGISTRY", "MYREGISTRY", "app", "", ""},
      {"myregistrY/app", "MYREGISTRY", "MYREGISTRY", "app", "", ""},
      {"myhost:443/app", "MYHOST", "MYHOST", "app", "", ""},
      {"12:443/app", "12:443", "12:443", "app", "", ""},  // no letter: the port stays
      {"MYHOST.local/app", "myhost.local", "myhost.local", "app", "", ""},
      {"localhost:443/app", "localhost", "localhost", "app", "", ""},
      {"GHCR.IO/acme/app", "ghcr.io", "ghcr.io", "acme/app", "", ""},
      {"ghcr.io:443/acme/app", "ghcr.io", "ghcr.io", "acme/app", "", ""},
      {"registry-1.docker.io/library/nginx", "docker.io", "index.docker.io", "library/nginx", "",
       ""},
      {"Index.Docker.IO/nginx", "docker.io", "index.docker.io", "library/nginx", "", ""},
      {"a.b-c/x:T_a-g.1", "a.b-c", "a.b-c", "x", "T_a-g.1", ""},
      {"docker.io/a.b-c_d__e---f", "docker.io", "index.docker.io", "library/a.b-c_d__e---f", "",
       ""},
      // "localhost:5000" alone is the Hub image "localhost" at tag 5000, as Docker reads it.
      {"localhost:5000", "docker.io", "index.docker.io", "library/localhost", "5000", ""},
  };
  for (const auto& c : cases) {
    auto ref = ImageReference::parse(c.text);
    ASSERT_TRUE(ref) << c.text << ": " << ref.error().describe();
    EXPECT_EQ(ref->registry(), c.registry) << c.text;
    EXPECT_EQ(ref->apiHost(), c.apiHost) << c.text;
    EXPECT_EQ(ref->repository(), c.repository) << c.text;
    EXPECT_EQ(ref->tag(), c.tag) << c.text;
    EXPECT_EQ(ref->digest(), c.digest) << c.text;
    // The normalised reference (what a pinned ReplicaSet's image is made from) reads back as
    // the same image on the same registry.
    auto again = ImageReference::parse(ref->str());
    ASSERT_TRUE(again) << ref->str();
    EXPECT_EQ(*again, *ref) << c.text << " normalised to " << ref->str();
  }
}

TEST(ImageReference, RefusesWhatDockerRefusesSayingWhy) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "empty"},
      {"Nginx", "lowercase"},
      {"docker.io/Library/nginx", "lowercase"},
      {"nginx:", "tag"},
      {"nginx:-bad", "tag"},
      {"nginx:" + std::string(129, 'a'), "tag"},
      {"nginx:a b", "tag"},
      {"nginx@sha256:abc", "sha256"},
      {"nginx@sha512:" + std::string(128, 'a'), "sha256"},
      {"nginx@" + kDigest.substr(0, 20) + "X" + kDigest.substr(21), "hex"},
      {"nginx@" + std::string("sha256:") + std::string(64, 'A'), "hex"},
      {"ghcr.io/", "no repository"},
      {"ghcr.io//app", "component"},
      {"app/", "component"},
      {"a/b..c", "component"},
      {"a..b/c", "registry"},
      {"ghcr.io/-app", "component"},
      {"ghcr.io/app_", "component"},
      {"ghcr.io/a___b", "component"},
      {"bad_host.io/app", "registry"},
      {"host.io:port/app", "registry"},
      {"-host.io/app", "registry"},
      {"[zz::1]:5000/app", "registry"},
      {":tag", "no repository"},
      {"@" + kDigest, "no repository"},
      {"ghcr.io/" + std::string(250, 'a'), "longer than 255"},
  };
  for (const auto& [text, problem] : cases) {
    auto ref = ImageReference::parse(text);
    ASSERT_FALSE(ref) << text << " parsed as " << ref->str();
    EXPECT_EQ(ref.error().kind, ErrorKind::Invalid) << text;
    EXPECT_THAT(ref.error().message, HasSubstr(problem)) << text;
  }
}

TEST(ImageReference, PinnedUsesDockerIoAndDropsTheTag) {
  auto ref = ImageReference::parse("index.docker.io/nginx:1.25@" + kDigest);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->name(), "docker.io/library/nginx");
  EXPECT_EQ(ref->pinned(), "docker.io/library/nginx@" + kDigest);
  EXPECT_EQ(ref->str(), "docker.io/library/nginx:1.25@" + kDigest);

  auto tagged = ImageReference::parse("localhost:5000/app:v2");
  ASSERT_TRUE(tagged);
  EXPECT_FALSE(tagged->pinned());
  EXPECT_EQ(tagged->str(), "localhost:5000/app:v2");
  auto resolved = tagged->withDigest(kDigest);
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->pinned(), "localhost:5000/app@" + kDigest);
  EXPECT_EQ(resolved->tag(), "v2");
  EXPECT_FALSE(tagged->withDigest("sha256:short"));
}

TEST(ImageReference, SameImageWrittenTwoWaysIsEqual) {
  auto a = ImageReference::parse("nginx:1");
  auto b = ImageReference::parse("docker.io/library/nginx:1");
  auto c = ImageReference::parse("index.docker.io/library/nginx:1");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(*b, *c);
  EXPECT_NE(*a, *ImageReference::parse("nginx:2"));
}

}  // namespace
}  // namespace mc::signing
