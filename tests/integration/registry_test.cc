// A real OCI registry (docker-registry) takes a blob and a manifest through the distribution
// API and gives them back by digest.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "mc/e2e/servers.h"
#include "mc/runtime/hash.h"
#include "mc/runtime/http_client.h"

namespace mc::e2e {
namespace {

std::string sha256Digest(std::string_view data) { return "sha256:" + kube::sha256Hex(data); }

class RegistryTest : public ::testing::Test {
 protected:
  // Monolithic blob upload: POST to open an upload, PUT the bytes with their digest.
  void pushBlob(const std::string& repo, const std::string& data) {
    auto opened = http::fetchBlocking(registry_.url() + "/v2/" + repo + "/blobs/uploads/",
                                      {.method = "POST"});
    ASSERT_TRUE(opened) << opened.error().describe();
    ASSERT_EQ(opened->status, 202) << opened->body;
    std::string location = opened->header("Location");
    ASSERT_FALSE(location.empty());
    if (location.front() == '/') {
      location = registry_.url() + location;
    }
    location += (location.find('?') == std::string::npos ? "?" : "&");
    location += "digest=" + sha256Digest(data);
    auto put = http::fetchBlocking(
        location,
        {.method = "PUT", .headers = {{"Content-Type", "application/octet-stream"}}, .body = data});
    ASSERT_TRUE(put) << put.error().describe();
    ASSERT_EQ(put->status, 201) << put->body;
    EXPECT_EQ(put->header("Docker-Content-Digest"), sha256Digest(data));
  }

  OciRegistry registry_;
};

TEST_F(RegistryTest, PushesAndPullsByDigest) {
  const std::string repo = "mc/demo";
  const std::string layer = "layer bytes of a demo image\n";
  const std::string configBlob = R"({"architecture":"amd64","os":"linux"})";
  pushBlob(repo, layer);
  pushBlob(repo, configBlob);

  boost::json::object manifest{
      {"schemaVersion", 2},
      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
      {"config",
       {{"mediaType", "application/vnd.oci.image.config.v1+json"},
        {"digest", sha256Digest(configBlob)},
        {"size", configBlob.size()}}},
      {"layers", boost::json::array{{{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                                     {"digest", sha256Digest(layer)},
                                     {"size", layer.size()}}}}};
  std::string manifestText = boost::json::serialize(manifest);
  std::string manifestDigest = sha256Digest(manifestText);
  auto put = http::fetchBlocking(
      registry_.url() + "/v2/" + repo + "/manifests/v1",
      {.method = "PUT",
       .headers = {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}},
       .body = manifestText});
  ASSERT_TRUE(put) << put.error().describe();
  ASSERT_EQ(put->status, 201) << put->body;
  EXPECT_EQ(put->header("Docker-Content-Digest"), manifestDigest);

  // By digest: the same bytes back, and the registry names the same digest.
  auto byDigest =
      http::fetchBlocking(registry_.url() + "/v2/" + repo + "/manifests/" + manifestDigest,
                          {.headers = {{"Accept", "application/vnd.oci.image.manifest.v1+json"}}});
  ASSERT_TRUE(byDigest);
  ASSERT_EQ(byDigest->status, 200);
  EXPECT_EQ(byDigest->body, manifestText);
  EXPECT_EQ(sha256Digest(byDigest->body), manifestDigest);
  EXPECT_EQ(byDigest->header("Docker-Content-Digest"), manifestDigest);

  // The tag resolves to that digest.
  auto byTag = http::fetchBlocking(
      registry_.url() + "/v2/" + repo + "/manifests/v1",
      {.method = "HEAD", .headers = {{"Accept", "application/vnd.oci.image.manifest.v1+json"}}});
  ASSERT_TRUE(byTag);
  EXPECT_EQ(byTag->header("Docker-Content-Digest"), manifestDigest);

  auto blob =
      http::fetchBlocking(registry_.url() + "/v2/" + repo + "/blobs/" + sha256Digest(layer));
  ASSERT_TRUE(blob);
  ASSERT_EQ(blob->status, 200);
  EXPECT_EQ(blob->body, layer);
}

TEST_F(RegistryTest, UnknownDigestIsNotFound) {
  auto missing = http::fetchBlocking(registry_.url() + "/v2/mc/demo/manifests/" +
                                     sha256Digest("never pushed"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("MANIFEST_UNKNOWN"), std::string::npos) << missing->body;
}

TEST_F(RegistryTest, WrongDigestIsRejected) {
  auto opened =
      http::fetchBlocking(registry_.url() + "/v2/mc/demo/blobs/uploads/", {.method = "POST"});
  ASSERT_TRUE(opened);
  std::string location = opened->header("Location");
  if (location.front() == '/') {
    location = registry_.url() + location;
  }
  location += (location.find('?') == std::string::npos ? "?" : "&");
  auto put = http::fetchBlocking(location + "digest=" + sha256Digest("other bytes"),
                                 {.method = "PUT", .body = "these bytes"});
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 400);
  EXPECT_NE(put->body.find("DIGEST_INVALID"), std::string::npos) << put->body;
}

}  // namespace
}  // namespace mc::e2e
