// HttpRegistryClient on a real registry (Debian's docker-registry): two platform images, an OCI
// index over them and a cosign-style signature of the index are pushed through the distribution
// API, then read back through the client by tag and by digest.
#include "mc/signing/registry_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include "mc/e2e/servers.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/secret.h"
#include "mc/signing/cosign.h"
#include "mc/signing/digest.h"
#include "mc/signing/registry_signatures.h"
#include "mc/signing/verifier.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"
#include "signing/registry_calls.h"
#include "signing/test_keys.h"

namespace mc::signing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kRepository = "mc/signed";

json::object descriptor(std::string_view mediaType, const std::string& bytes) {
  return {{"mediaType", mediaType}, {"digest", digestOf(bytes)}, {"size", bytes.size()}};
}

std::string imageManifest(const std::string& config, const std::string& layer) {
  json::object manifest{
      {"schemaVersion", 2},
      {"mediaType", kOciManifestType},
      {"config", descriptor("application/vnd.oci.image.config.v1+json", config)},
      {"layers", json::array{descriptor("application/vnd.oci.image.layer.v1.tar", layer)}}};
  return json::serialize(manifest);
}

class RegistryClientIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_unique<e2e::OciRegistry>();
    HttpRegistryOptions options;
    options.insecureHosts = {registry_->host()};
    options.timeout = 5s;
    client_ = std::make_unique<HttpRegistryClient>(io_.executor(), options);
    host_ = registry_->host();

    const std::string layer = "the one layer both platforms share\n";
    const std::string amd64Config = R"({"architecture":"amd64","os":"linux"})";
    const std::string arm64Config = R"({"architecture":"arm64","os":"linux","variant":"v8"})";
    for (const auto* blob : {&layer, &amd64Config, &arm64Config}) {
      pushBlob(*blob);
    }
    const std::string amd64 = imageManifest(amd64Config, layer);
    const std::string arm64 = imageManifest(arm64Config, layer);
    amd64Digest_ = pushManifest("v1-amd64", kOciManifestType, amd64);
    arm64Digest_ = pushManifest(digestOf(arm64), kOciManifestType, arm64);  // by digest alone

    auto entry = [](const std::string& bytes, std::string_view arch, std::string_view variant) {
      auto out = descriptor(kOciManifestType, bytes);
      json::object platform{{"os", "linux"}, {"architecture", arch}};
      if (!variant.empty()) {
        platform["variant"] = variant;
      }
      out["platform"] = std::move(platform);
      return out;
    };
    json::object index{
        {"schemaVersion", 2},
        {"mediaType", kOciIndexType},
        {"manifests", json::array{entry(amd64, "amd64", ""), entry(arm64, "arm64", "v8")}}};
    indexBytes_ = json::serialize(index);
    indexDigest_ = pushManifest("v1", kOciIndexType, indexBytes_);

    // What `cosign sign` writes for the index: the simple-signing payload naming its digest, as
    // a layer of a manifest under the tag sha256-<hex>.sig (the signature itself is not checked
    // here, only carried).
    json::object payload{
        {"critical",
         {{"identity", {{"docker-reference", host_ + "/" + std::string(kRepository)}}},
          {"image", {{"docker-manifest-digest", indexDigest_}}},
          {"type", kCosignSignatureType}}},
        {"optional", nullptr}};
    payload_ = json::serialize(payload);
    const std::string signatureConfig = R"({"architecture":"","os":"","config":{}})";
    pushBlob(payload_);
    pushBlob(signatureConfig);
    auto layerDescriptor = descriptor(kSimpleSigningMediaType, payload_);
    layerDescriptor["annotations"] =
        json::object{{kSignatureAnnotation, "MEUCIQDnot+a+real+sig=="}};
    json::object signature{
        {"schemaVersion", 2},
        {"mediaType", kOciManifestType},
        {"config", descriptor("application/vnd.oci.image.config.v1+json", signatureConfig)},
        {"layers", json::array{layerDescriptor}}};
    signatureTag_ = signatureTag(indexDigest_).value();
    pushManifest(signatureTag_, kOciManifestType, json::serialize(signature));
    signatureManifest_ = signature;
  }

  // Adds a layer signed by `pair` over the same payload to the index's signature manifest, as a
  // second `cosign sign` appends its signature.
  void signIndex(const KeyPair& pair) {
    auto layer = signatureManifest_.at("layers").as_array().front().as_object();
    layer["annotations"] =
        json::object{{kSignatureAnnotation, kube::base64Encode(pair.sign(payload_, EVP_sha256()))}};
    signatureManifest_.at("layers").as_array().push_back(layer);
    pushManifest(signatureTag_, kOciManifestType, json::serialize(signatureManifest_));
  }

  void TearDown() override { io_.run(dropClient()); }
  asio::awaitable<void> dropClient() {
    client_.reset();  // its sockets live on the io thread
    co_return;
  }

  // Monolithic upload: POST opens an upload, PUT gives the bytes with their digest.
  void pushBlob(const std::string& data) {
    auto opened = http::fetchBlocking(
        fmt::format("{}/v2/{}/blobs/uploads/", registry_->url(), kRepository), {.method = "POST"});
    ASSERT_TRUE(opened) << opened.error().describe();
    ASSERT_EQ(opened->status, 202) << opened->body;
    std::string location = opened->header("Location");
    ASSERT_FALSE(location.empty());
    if (location.front() == '/') {
      location = registry_->url() + location;
    }
    location += location.find('?') == std::string::npos ? "?" : "&";
    location += "digest=" + digestOf(data);
    auto put = http::fetchBlocking(
        location,
        {.method = "PUT", .headers = {{"Content-Type", "application/octet-stream"}}, .body = data});
    ASSERT_TRUE(put) << put.error().describe();
    ASSERT_EQ(put->status, 201) << put->body;
  }

  // The digest the registry reports for the manifest it stored.
  std::string pushManifest(const std::string& reference, std::string_view mediaType,
                           const std::string& body) {
    auto put = http::fetchBlocking(
        fmt::format("{}/v2/{}/manifests/{}", registry_->url(), kRepository, reference),
        {.method = "PUT", .headers = {{"Content-Type", std::string(mediaType)}}, .body = body});
    EXPECT_TRUE(put) << put.error().describe();
    if (!put) {
      return {};
    }
    EXPECT_EQ(put->status, 201) << put->body;
    EXPECT_EQ(put->header("Docker-Content-Digest"), digestOf(body));
    return put->header("Docker-Content-Digest");
  }

  ImageReference ref(std::string_view suffix) const {
    return ImageReference::parse(fmt::format("{}/{}{}", host_, kRepository, suffix)).value();
  }

  Result<FetchedManifest> manifest(std::string_view suffix) {
    return io_.run(manifestOn(*client_, ref(suffix)));
  }

  test::IoThread io_;
  std::unique_ptr<e2e::OciRegistry> registry_;
  std::unique_ptr<HttpRegistryClient> client_;
  std::string host_;
  std::string amd64Digest_;
  std::string arm64Digest_;
  std::string indexBytes_;
  std::string indexDigest_;
  std::string payload_;
  std::string signatureTag_;
  json::object signatureManifest_;
};

TEST_F(RegistryClientIntegrationTest, ResolvesTagsToTheDigestsTheRegistryReports) {
  auto index = manifest(":v1");
  ASSERT_TRUE(index) << index.error().describe();
  EXPECT_EQ(index->digest, indexDigest_);
  EXPECT_EQ(index->bytes, indexBytes_);
  EXPECT_EQ(index->mediaType, kOciIndexType);
  ASSERT_TRUE(index->manifest.isIndex());
  EXPECT_EQ(index->manifest.manifests.size(), 2u);

  auto amd64 = manifest(":v1-amd64");
  ASSERT_TRUE(amd64) << amd64.error().describe();
  EXPECT_EQ(amd64->digest, amd64Digest_);
  EXPECT_FALSE(amd64->manifest.isIndex());
}

TEST_F(RegistryClientIntegrationTest, ResolvesAnIndexAndReadsItsPlatformManifest) {
  auto arm = io_.run(resolveOn(*client_, ref(":v1"), Platform{"linux", "arm64", ""}));
  ASSERT_TRUE(arm) << arm.error().describe();
  EXPECT_EQ(arm->digest, indexDigest_);  // what a pinned reference and cosign name
  ASSERT_TRUE(arm->platformManifest);
  EXPECT_EQ(arm->platformManifest->digest, arm64Digest_);

  auto amd = io_.run(resolveOn(*client_, ref(":v1"), kDefaultPlatform));
  ASSERT_TRUE(amd) << amd.error().describe();
  ASSERT_TRUE(amd->platformManifest);
  EXPECT_EQ(amd->platformManifest->digest, amd64Digest_);

  // The platform's manifest by digest, as a node pulls it through the index.
  auto platform = manifest("@" + arm64Digest_);
  ASSERT_TRUE(platform) << platform.error().describe();
  EXPECT_EQ(platform->digest, arm64Digest_);
  EXPECT_EQ(platform->mediaType, kOciManifestType);
  ASSERT_TRUE(platform->manifest.config);
  EXPECT_EQ(platform->manifest.config->digest,
            digestOf(R"({"architecture":"arm64","os":"linux","variant":"v8"})"));
}

TEST_F(RegistryClientIntegrationTest, ReadsTheSignatureManifestAndItsPayload) {
  auto signature = manifest(":" + signatureTag_);
  ASSERT_TRUE(signature) << signature.error().describe();
  auto layers = signatureLayers(signature->manifest);
  ASSERT_TRUE(layers) << layers.error().describe();
  ASSERT_EQ(layers->layers.size(), 1u);
  const auto& layer = layers->layers.front();
  EXPECT_EQ(layer.payloadDigest, digestOf(payload_));

  auto blob = io_.run(blobOn(*client_, ref(""), layer.payloadDigest, 64 * 1024));
  ASSERT_TRUE(blob) << blob.error().describe();
  EXPECT_EQ(*blob, payload_);
  auto parsed = parseSimpleSigningPayload(*blob);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_TRUE(checkPayloadDigest(*parsed, indexDigest_));
}

TEST_F(RegistryClientIntegrationTest, WhatTheRegistryLacksIsNotFound) {
  auto tag = manifest(":never-pushed");
  ASSERT_FALSE(tag);
  EXPECT_EQ(tag.error().kind, ErrorKind::NotFound) << tag.error().describe();
  EXPECT_NE(tag.error().message.find("mc/signed:never-pushed"), std::string::npos)
      << tag.error().message;

  auto blob = io_.run(blobOn(*client_, ref(""), digestOf("never pushed"), 64 * 1024));
  ASSERT_FALSE(blob);
  EXPECT_EQ(blob.error().kind, ErrorKind::NotFound) << blob.error().describe();
}

TEST_F(RegistryClientIntegrationTest, AStoppedRegistryIsAnErrorNeverASuccess) {
  auto before = manifest(":v1");
  ASSERT_TRUE(before) << before.error().describe();

  registry_.reset();  // the process is gone, with the connection the client kept alive
  auto after = manifest(":v1");
  ASSERT_FALSE(after);
  EXPECT_TRUE(after.error().kind == ErrorKind::Transient ||
              after.error().kind == ErrorKind::Timeout)
      << after.error().describe();
  EXPECT_NE(after.error().message.find(host_), std::string::npos) << after.error().message;
}

// The verifier's whole path on the real registry: the `.sig` tag and its payload blobs fetched by
// RegistrySignatures through the client, checked by the Verifier on its pool.
TEST_F(RegistryClientIntegrationTest, VerifiesWhatTheRegistryHoldsForADigest) {
  const auto signer = generate("EC", "P-256");
  const auto stranger = generate("EC", "P-256");
  signIndex(signer);
  RegistrySignatures source(*client_);
  test::FakeClock clock;
  Verifier verifier(source, clock);
  auto verify = [&](const std::string& digest, const KeyPair& trusted) {
    TrustPolicy policy;
    policy.keys.push_back(PublicKey::fromPem(trusted.publicPem(), "ns/cosign-pub").value());
    return io_.run(verifier.verify(ref("@" + digest), std::move(policy)));
  };

  auto good = verify(indexDigest_, signer);
  ASSERT_TRUE(good) << good.error().describe();
  EXPECT_TRUE(good->verified) << "one good signature after the fake one: "
                              << good->describe(indexDigest_);
  EXPECT_EQ(good->dockerReference, host_ + "/" + std::string(kRepository));

  auto other = verify(indexDigest_, stranger);
  ASSERT_TRUE(other) << other.error().describe();
  EXPECT_FALSE(other->verified);
  EXPECT_EQ(other->refusals.size(), 2u) << other->describe(indexDigest_);

  auto bare = verify(amd64Digest_, signer);  // never signed: no .sig tag at all
  ASSERT_TRUE(bare) << bare.error().describe();
  EXPECT_FALSE(bare->verified);
  EXPECT_EQ(bare->describe(amd64Digest_), amd64Digest_ + " has no signature");

  registry_.reset();
  clock.advance(std::chrono::hours(1));  // past every cached verdict
  auto down = verify(indexDigest_, signer);
  ASSERT_FALSE(down) << "a registry that is gone is an Error, never a verdict";
  EXPECT_TRUE(down.error().kind == ErrorKind::Transient || down.error().kind == ErrorKind::Timeout)
      << down.error().describe();
}

}  // namespace
}  // namespace mc::signing
