// HttpRegistryClient against in-process stand-ins: a registry, its token server and the storage
// it redirects blobs to, each an HttpServer on 127.0.0.1 that checks what it is sent.
#include "mc/signing/registry_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <strings.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <set>

#include "mc/runtime/http_server.h"
#include "mc/runtime/secret.h"
#include "mc/signing/digest.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"
#include "registry_calls.h"

namespace mc::signing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr std::string_view kPassword = "s3cret-pa55word";

const std::string kConfig = R"({"architecture":"amd64","os":"linux"})";
const std::string kLayer = "layer bytes";

std::string ociManifest(const std::string& config) {
  return fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}",)"
      R"("config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},)"
      R"("layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}})",
      kOciManifestType, digestOf(config), config.size(), digestOf(kLayer), kLayer.size());
}

const std::string kManifest = ociManifest(kConfig);

RegistryCredentials alice(std::string_view password = kPassword) {
  RegistryCredentials credentials;
  credentials.username = "alice";
  credentials.password = std::string(password);
  return credentials;
}

std::string headerOf(const http::Request& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return {};
}

http::Response manifestResponse(const std::string& body, std::string_view type = kOciManifestType) {
  return http::Response{
      200, {{"Content-Type", std::string(type)}, {"Docker-Content-Digest", digestOf(body)}}, body};
}

http::Response registryError(int status, std::string_view code, std::string_view message) {
  return http::Response{
      status,
      {{"Content-Type", "application/json"}},
      fmt::format(R"({{"errors":[{{"code":"{}","message":"{}","detail":null}}]}})", code, message)};
}

class RegistryClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = bind();
    tokenServer_ = bind();
    storage_ = bind();
    options_.insecureHosts = {hostOf(*registry_), hostOf(*tokenServer_), hostOf(*storage_)};
    client_ = std::make_unique<HttpRegistryClient>(io_.executor(), options_, clock_);
  }

  // Servers and client go on the io thread, where their sockets live.
  void TearDown() override { io_.run(shutDown()); }

  asio::awaitable<void> shutDown() {
    client_.reset();
    for (auto* server : {&registry_, &tokenServer_, &storage_}) {
      (*server)->stop();
    }
    co_return;
  }

  asio::awaitable<void> remakeClient() {
    client_ = std::make_unique<HttpRegistryClient>(io_.executor(), options_, clock_);
    co_return;
  }

  http::HttpServerPtr bind() {
    auto bound = http::HttpServer::bind(io_.executor(), "127.0.0.1:0");
    EXPECT_TRUE(bound) << bound.error().describe();
    auto server = std::move(*bound);
    server->start();
    return server;
  }

  static std::string hostOf(const http::HttpServer& server) {
    return fmt::format("127.0.0.1:{}", server.port());
  }

  ImageReference ref(std::string_view path) const {
    return ImageReference::parse(hostOf(*registry_) + "/" + std::string(path)).value();
  }

  Result<FetchedManifest> manifest(std::string_view path,
                                   std::optional<RegistryCredentials> creds = std::nullopt) {
    return io_.run(manifestOn(*client_, ref(path), std::move(creds)));
  }

  Result<std::string> blob(std::string digest, uint64_t maxBytes,
                           std::optional<RegistryCredentials> creds = std::nullopt) {
    return io_.run(blobOn(*client_, ref("mc/app"), std::move(digest), maxBytes, std::move(creds)));
  }

  std::string bearerChallenge() const {
    return fmt::format(
        R"(Bearer realm="http://{}/token",service="test-registry",scope="repository:mc/app:pull")",
        hostOf(*tokenServer_));
  }

  // `path` answers `ok` to a token the token server issued, and a Bearer challenge otherwise;
  // the token server issues tokens (living `lifetime` seconds) to alice's password only.
  void serveBearer(const std::string& path, http::Response ok) {
    registry_->routeAny(path, [this, ok](const http::Request& request) {
      ++registryHits_;
      auto authorization = headerOf(request, "Authorization");
      if (authorization.starts_with("Bearer ") && issued_.contains(authorization.substr(7))) {
        return ok;
      }
      auto refused = registryError(401, "UNAUTHORIZED", "authentication required");
      refused.headers.emplace_back("WWW-Authenticate", bearerChallenge());
      return refused;
    });
    tokenServer_->routeAny("/token", [this](const http::Request& request) {
      ++tokenFetches_;
      tokenTarget_ = request.target;
      auto expected = "Basic " + kube::base64Encode("alice:" + std::string(kPassword));
      if (headerOf(request, "Authorization") != expected) {
        return http::Response{401,
                              {{"Content-Type", "application/json"}},
                              R"({"details":"incorrect username or password"})"};
      }
      auto token = fmt::format("token-{}", tokenFetches_.load());
      issued_.insert(token);
      return http::Response{200,
                            {{"Content-Type", "application/json"}},
                            fmt::format(R"({{"token":"{}","expires_in":300}})", token)};
    });
  }

  test::IoThread io_;
  test::FakeClock clock_;
  http::HttpServerPtr registry_;
  http::HttpServerPtr tokenServer_;
  http::HttpServerPtr storage_;
  HttpRegistryOptions options_;
  std::unique_ptr<HttpRegistryClient> client_;

  // Touched by handlers on the io thread, read by the test after io_.run() returns.
  std::atomic<int> registryHits_{0};
  std::atomic<int> tokenFetches_{0};
  std::string tokenTarget_;
  std::set<std::string> issued_;
};

TEST_F(RegistryClientTest, BearerTokenIsFetchedReusedAndRefetchedAfterItExpires) {
  serveBearer("/v2/mc/app/manifests/v1", manifestResponse(kManifest));

  auto first = manifest("mc/app:v1", alice());
  ASSERT_TRUE(first) << first.error().describe();
  EXPECT_EQ(first->bytes, kManifest);
  EXPECT_EQ(first->digest, digestOf(kManifest));
  EXPECT_EQ(first->mediaType, kOciManifestType);
  EXPECT_EQ(first->manifest.layers.size(), 1u);
  EXPECT_EQ(registryHits_, 2);  // challenged, then with the token
  EXPECT_EQ(tokenFetches_, 1);
  EXPECT_NE(tokenTarget_.find("service=test-registry"), std::string::npos) << tokenTarget_;
  EXPECT_NE(tokenTarget_.find("scope=repository:mc/app:pull"), std::string::npos) << tokenTarget_;

  // The token is sent straight away while it lives...
  clock_.advance(299s);
  auto second = manifest("mc/app:v1", alice());
  ASSERT_TRUE(second) << second.error().describe();
  EXPECT_EQ(registryHits_, 3);
  EXPECT_EQ(tokenFetches_, 1);

  // ...and fetched anew once it has expired.
  clock_.advance(2s);
  auto third = manifest("mc/app:v1", alice());
  ASSERT_TRUE(third) << third.error().describe();
  EXPECT_EQ(registryHits_, 5);
  EXPECT_EQ(tokenFetches_, 2);
}

TEST_F(RegistryClientTest, RefusedCredentialsAreAClearErrorWithoutThePassword) {
  serveBearer("/v2/mc/app/manifests/v1", manifestResponse(kManifest));
  auto good = manifest("mc/app:v1", alice());
  ASSERT_TRUE(good) << good.error().describe();

  // Another pull Secret's request for the same repository is not answered with alice's token.
  const std::string wrong = "wrong-pa55word";
  auto refused = manifest("mc/app:v1", alice(wrong));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Unauthorized);
  const auto& message = refused.error().message;
  EXPECT_NE(message.find("mc/app"), std::string::npos) << message;
  EXPECT_NE(message.find("incorrect username or password"), std::string::npos) << message;
  EXPECT_EQ(message.find(wrong), std::string::npos) << message;
  EXPECT_EQ(message.find(kube::base64Encode("alice:" + wrong)), std::string::npos) << message;
  EXPECT_EQ(message.find("token-"), std::string::npos) << message;
  EXPECT_EQ(tokenFetches_, 2);
}

TEST_F(RegistryClientTest, ARegistryThatRefusesATokenIsTheLastWord) {
  tokenServer_->routeAny("/token", [this](const http::Request&) {
    ++tokenFetches_;
    return http::Response{200, {}, R"({"access_token":"a-token-it-will-refuse"})"};
  });
  registry_->routeAny("/v2/mc/app/manifests/v1", [this](const http::Request& request) {
    ++registryHits_;
    if (headerOf(request, "Authorization").empty()) {
      auto challenge = registryError(401, "UNAUTHORIZED", "authentication required");
      challenge.headers.emplace_back("WWW-Authenticate", bearerChallenge());
      return challenge;
    }
    return registryError(403, "DENIED", "requested access to the resource is denied");
  });

  auto denied = manifest("mc/app:v1", alice());
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().kind, ErrorKind::Forbidden);
  EXPECT_EQ(denied.error().httpStatus, 403);
  EXPECT_NE(denied.error().message.find("DENIED: requested access to the resource is denied"),
            std::string::npos)
      << denied.error().message;
  EXPECT_EQ(denied.error().message.find("a-token-it-will-refuse"), std::string::npos);
  EXPECT_EQ(registryHits_, 2);  // one challenge answered, no more
  EXPECT_EQ(tokenFetches_, 1);
}

TEST_F(RegistryClientTest, BasicChallengeIsAnsweredWithTheCredentials) {
  registry_->routeAny("/v2/mc/app/manifests/v1", [this](const http::Request& request) {
    ++registryHits_;
    if (headerOf(request, "Authorization") ==
        "Basic " + kube::base64Encode("alice:" + std::string(kPassword))) {
      return manifestResponse(kManifest);
    }
    auto challenge = registryError(401, "UNAUTHORIZED", "authentication required");
    challenge.headers.emplace_back("WWW-Authenticate", R"(Basic realm="test-registry")");
    return challenge;
  });
  auto fetched = manifest("mc/app:v1", alice());
  ASSERT_TRUE(fetched) << fetched.error().describe();
  EXPECT_EQ(fetched->bytes, kManifest);
  EXPECT_EQ(registryHits_, 2);

  auto anonymous = manifest("mc/app:v1");
  ASSERT_FALSE(anonymous);
  EXPECT_EQ(anonymous.error().kind, ErrorKind::Unauthorized);
  EXPECT_NE(anonymous.error().message.find("mc/app"), std::string::npos);
}

TEST_F(RegistryClientTest, ContentDigestHeaderMustMatchTheBytes) {
  auto response = manifestResponse(kManifest);
  response.headers = {{"Content-Type", std::string(kOciManifestType)},
                      {"Docker-Content-Digest", digestOf("other bytes")}};
  registry_->routeAny("/v2/mc/app/manifests/v1",
                      [response](const http::Request&) { return response; });
  auto fetched = manifest("mc/app:v1");
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, ErrorKind::Terminal);
  EXPECT_NE(fetched.error().message.find(digestOf("other bytes")), std::string::npos)
      << fetched.error().message;
}

TEST_F(RegistryClientTest, ADigestReferenceMustHashToItsDigest) {
  const std::string asked = digestOf("the manifest that was signed");
  // No Docker-Content-Digest: the digest in the reference alone must catch it.
  registry_->routeAny("/v2/mc/app/manifests/" + asked, [](const http::Request&) {
    return http::Response{200, {{"Content-Type", std::string(kOciManifestType)}}, kManifest};
  });
  auto fetched = manifest("mc/app@" + asked);
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, ErrorKind::Terminal);
  EXPECT_NE(fetched.error().message.find(asked), std::string::npos) << fetched.error().message;
}

TEST_F(RegistryClientTest, BlobsAreCheckedAndCappedAndSoAreManifests) {
  const std::string payload(2048, 'x');
  registry_->routeAny("/v2/mc/app/blobs/" + digestOf(payload), [payload](const http::Request&) {
    return http::Response{200, {{"Content-Type", "application/octet-stream"}}, payload};
  });
  auto fits = blob(digestOf(payload), 4096);
  ASSERT_TRUE(fits) << fits.error().describe();
  EXPECT_EQ(*fits, payload);

  auto tooBig = blob(digestOf(payload), 1024);
  ASSERT_FALSE(tooBig);
  EXPECT_EQ(tooBig.error().kind, ErrorKind::Terminal);
  EXPECT_NE(tooBig.error().message.find("1024"), std::string::npos) << tooBig.error().message;

  // A blob whose bytes are not the ones asked for.
  const std::string other = digestOf("another blob");
  registry_->routeAny("/v2/mc/app/blobs/" + other, [payload](const http::Request&) {
    return http::Response{200, {}, payload};
  });
  auto wrong = blob(other, 4096);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::Terminal);

  const std::string huge(kMaxManifestBytes + 1, ' ');
  registry_->routeAny("/v2/mc/app/manifests/huge", [huge](const http::Request&) {
    return http::Response{200, {{"Content-Type", std::string(kOciManifestType)}}, huge};
  });
  auto hugeManifest = manifest("mc/app:huge");
  ASSERT_FALSE(hugeManifest);
  EXPECT_EQ(hugeManifest.error().kind, ErrorKind::Terminal);
}

TEST_F(RegistryClientTest, AMissingManifestIsNotFoundNamingRepositoryAndTag) {
  registry_->routeAny("/v2/mc/app/manifests/missing", [](const http::Request&) {
    return registryError(404, "MANIFEST_UNKNOWN", "manifest unknown");
  });
  auto missing = manifest("mc/app:missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(missing.error().httpStatus, 404);
  const auto& message = missing.error().message;
  EXPECT_NE(message.find("mc/app:missing"), std::string::npos) << message;
  EXPECT_NE(message.find("MANIFEST_UNKNOWN"), std::string::npos) << message;

  registry_->routeAny("/v2/mc/app/manifests/broken", [](const http::Request&) {
    return registryError(500, "UNKNOWN", "storage backend down");
  });
  auto broken = manifest("mc/app:broken");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().kind, ErrorKind::Transient);
  EXPECT_NE(broken.error().message.find("500"), std::string::npos) << broken.error().message;
  EXPECT_NE(broken.error().message.find("storage backend down"), std::string::npos);
}

TEST_F(RegistryClientTest, BlobRedirectedToStorageGoesThereWithoutTheAuthorization) {
  const std::string payload = R"({"critical":{}})";
  const std::string digest = digestOf(payload);
  http::Response redirect{
      307,
      {{"Location",
        fmt::format("http://{}/storage/blob?X-Amz-Signature=presigned", hostOf(*storage_))}},
      ""};
  serveBearer("/v2/mc/app/blobs/" + digest, redirect);
  std::atomic<int> storageHits{0};
  std::string storageAuthorization = "unset";
  std::string storageTarget;
  storage_->routeAny("/storage/blob", [&, payload](const http::Request& request) {
    ++storageHits;
    storageAuthorization = headerOf(request, "Authorization");
    storageTarget = request.target;
    return http::Response{200, {}, payload};
  });

  auto fetched = blob(digest, 1024, alice());
  ASSERT_TRUE(fetched) << fetched.error().describe();
  EXPECT_EQ(*fetched, payload);
  EXPECT_EQ(storageHits, 1);
  EXPECT_EQ(storageAuthorization, "");
  EXPECT_EQ(storageTarget, "/storage/blob?X-Amz-Signature=presigned");
  EXPECT_EQ(tokenFetches_, 1);

  // A redirect to plain HTTP on a host not listed as insecure is not followed.
  const std::string elsewhere = digestOf("elsewhere");
  registry_->routeAny("/v2/mc/app/blobs/" + elsewhere, [](const http::Request&) {
    return http::Response{307, {{"Location", "http://storage.invalid/blob"}}, ""};
  });
  auto plain = blob(elsewhere, 1024);
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("plain HTTP"), std::string::npos) << plain.error().message;
}

TEST_F(RegistryClientTest, UnreachableStorageIsTransientAndThePresignedQueryStaysOut) {
  // A port that was just closed, allowed in plain HTTP like the others.
  auto gone = bind();
  const std::string goneHost = hostOf(*gone);
  io_.run([](http::HttpServerPtr server) -> asio::awaitable<void> {
    server->stop();
    server.reset();
    co_return;
  }(std::move(gone)));
  options_.insecureHosts.insert(goneHost);
  io_.run(remakeClient());

  const std::string digest = digestOf("a payload in storage");
  registry_->routeAny("/v2/mc/app/blobs/" + digest, [goneHost](const http::Request&) {
    return http::Response{
        307, {{"Location", fmt::format("http://{}/b?X-Amz-Signature=secret-sig", goneHost)}}, ""};
  });
  auto fetched = blob(digest, 1024);
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, ErrorKind::Transient) << fetched.error().describe();
  EXPECT_NE(fetched.error().message.find(goneHost), std::string::npos) << fetched.error().message;
  EXPECT_EQ(fetched.error().message.find("secret-sig"), std::string::npos)
      << fetched.error().message;
}

TEST_F(RegistryClientTest, AStoppedRegistryIsATransientErrorNamingItsHost) {
  registry_->routeAny("/v2/mc/app/manifests/v1",
                      [](const http::Request&) { return manifestResponse(kManifest); });
  auto before = manifest("mc/app:v1");
  ASSERT_TRUE(before) << before.error().describe();

  registry_->stop();  // also closes the connection the client keeps alive
  auto after = manifest("mc/app:v1");
  ASSERT_FALSE(after);
  EXPECT_TRUE(after.error().kind == ErrorKind::Transient ||
              after.error().kind == ErrorKind::Timeout)
      << after.error().describe();
  EXPECT_NE(after.error().message.find(hostOf(*registry_)), std::string::npos)
      << after.error().message;
}

TEST_F(RegistryClientTest, ResolvesAnIndexToItsOwnDigestAndThePlatformsManifest) {
  const std::string amd64 = kManifest;
  const std::string arm64 = ociManifest(R"({"architecture":"arm64","os":"linux"})");
  const std::string index = fmt::format(
      R"({{"schemaVersion":2,"mediaType":"{}","manifests":[)"
      R"({{"mediaType":"{}","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"amd64"}}}},)"
      R"({{"mediaType":"{}","digest":"{}","size":{},"platform":{{"os":"linux","architecture":"arm64"}}}}]}})",
      kOciIndexType, kOciManifestType, digestOf(amd64), amd64.size(), kOciManifestType,
      digestOf(arm64), arm64.size());
  registry_->routeAny("/v2/mc/app/manifests/multi", [index](const http::Request&) {
    return manifestResponse(index, kOciIndexType);
  });
  registry_->routeAny("/v2/mc/app/manifests/single",
                      [](const http::Request&) { return manifestResponse(kManifest); });

  auto resolved = io_.run(resolveOn(*client_, ref("mc/app:multi"), Platform{"linux", "arm64", ""}));
  ASSERT_TRUE(resolved) << resolved.error().describe();
  EXPECT_EQ(resolved->digest, digestOf(index));
  EXPECT_EQ(resolved->mediaType, kOciIndexType);
  ASSERT_TRUE(resolved->platformManifest);
  EXPECT_EQ(resolved->platformManifest->digest, digestOf(arm64));

  auto none = io_.run(resolveOn(*client_, ref("mc/app:multi"), Platform{"linux", "s390x", ""}));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::NotFound);

  auto single = io_.run(resolveOn(*client_, ref("mc/app:single"), kDefaultPlatform));
  ASSERT_TRUE(single) << single.error().describe();
  EXPECT_EQ(single->digest, digestOf(kManifest));
  EXPECT_FALSE(single->platformManifest);
}

}  // namespace
}  // namespace mc::signing

namespace mc::signing {
namespace {

asio::awaitable<Result<Manifest>> referrersOfOn(RegistryClient& client, ImageReference pinned) {
  auto result = co_await referrersOf(client, std::move(pinned), std::nullopt);
  co_return result;
}

TEST_F(RegistryClientTest, ReferrersComeFromTheApiElseFromTheTagFallback) {
  const std::string hex(64, 'a');
  const std::string digest = "sha256:" + hex;
  auto listing = [](std::string_view referrer) {
    return fmt::format(
        R"({{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:{}","size":10,"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}}]}})",
        std::string(64, referrer.front()));
  };
  auto index = [](std::string body) {
    return http::Response{
        200, {{"Content-Type", "application/vnd.oci.image.index.v1+json"}}, std::move(body)};
  };
  std::atomic<int> apiCalls{0};
  registry_->routeAny("/v2/mc/app/referrers/" + digest, [&](const http::Request&) {
    ++apiCalls;
    return index(listing("b"));
  });
  auto viaApi = io_.run(referrersOfOn(*client_, ref("mc/app@" + digest)));
  ASSERT_TRUE(viaApi) << viaApi.error().describe();
  ASSERT_EQ(viaApi->manifests.size(), 1u);
  EXPECT_EQ(viaApi->manifests[0].digest, "sha256:" + std::string(64, 'b'));
  EXPECT_EQ(apiCalls.load(), 1);

  // distribution 2.x: no referrers API (404), the pusher's fallback index at sha256-<hex>.
  registry_->routeAny("/v2/mc/web/referrers/" + digest, [](const http::Request&) {
    return registryError(404, "NOT_FOUND", "page not found");
  });
  registry_->routeAny("/v2/mc/web/manifests/sha256-" + hex,
                      [&](const http::Request&) { return index(listing("c")); });
  auto viaTag = io_.run(referrersOfOn(*client_, ref("mc/web@" + digest)));
  ASSERT_TRUE(viaTag) << viaTag.error().describe();
  ASSERT_EQ(viaTag->manifests.size(), 1u);
  EXPECT_EQ(viaTag->manifests[0].digest, "sha256:" + std::string(64, 'c'));

  // Neither: no referrers, which is no error.
  registry_->routeAny("/v2/mc/none/referrers/" + digest, [](const http::Request&) {
    return registryError(404, "NOT_FOUND", "page not found");
  });
  registry_->routeAny("/v2/mc/none/manifests/sha256-" + hex, [](const http::Request&) {
    return registryError(404, "MANIFEST_UNKNOWN", "manifest unknown");
  });
  auto none = io_.run(referrersOfOn(*client_, ref("mc/none@" + digest)));
  ASSERT_TRUE(none) << none.error().describe();
  EXPECT_TRUE(none->manifests.empty());

  // A registry answering 405 to the API has none either; a tag holding an image lists nothing.
  registry_->routeAny("/v2/mc/old/referrers/" + digest, [](const http::Request&) {
    return registryError(405, "UNSUPPORTED", "method not allowed");
  });
  registry_->routeAny("/v2/mc/old/manifests/sha256-" + hex, [](const http::Request&) {
    return http::Response{
        200,
        {{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}},
        R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:)" +
            std::string(64, 'd') + R"(","size":2},"layers":[]})"};
  });
  auto old = io_.run(referrersOfOn(*client_, ref("mc/old@" + digest)));
  ASSERT_TRUE(old) << old.error().describe();
  EXPECT_TRUE(old->manifests.empty());

  // A registry that fails is an Error, never "no referrers".
  registry_->routeAny("/v2/mc/down/referrers/" + digest, [](const http::Request&) {
    return registryError(503, "UNAVAILABLE", "try later");
  });
  auto down = io_.run(referrersOfOn(*client_, ref("mc/down@" + digest)));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().kind, ErrorKind::Transient);
}

}  // namespace
}  // namespace mc::signing
