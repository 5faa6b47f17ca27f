#include "mc/signing/verifier.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "mc/runtime/secret.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"
#include "test_keys.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr std::string_view kDigest =
    "sha256:3333333333333333333333333333333333333333333333333333333333333333";

const KeyPair& signer() {
  static const KeyPair pair = generate("EC", "P-256");
  return pair;
}

// A registry as the verifier sees it: the signatures it holds now, or an outage. It counts the
// requests, so a test tells a cached verdict from a fresh one, and notes the thread that asked.
class FakeSource final : public SignatureSource {
 public:
  asio::awaitable<Result<SignedArtifacts>> artifacts(ImageReference pinned,
                                                     std::optional<RegistryCredentials> credentials,
                                                     bool /*attestations*/) override {
    ++requests;
    lastDigest = pinned.digest();
    lastCredentials = credentials;
    if (outage) {
      co_return makeError(ErrorKind::Transient, "registry.example: connection refused");
    }
    SignedArtifacts out;
    out.signatures = held;
    co_return out;
  }

  void sign() {
    auto payload = fmt::format(
        R"({{"critical":{{"identity":{{"docker-reference":"registry.example/web"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}})",
        kDigest);
    FetchedSignature fetched;
    fetched.layer.signature = kube::base64Encode(signer().sign(payload, EVP_sha256()));
    fetched.payload = payload;
    held.push_back(fetched);
  }

  std::vector<FetchedSignature> held;
  bool outage = false;
  std::atomic<int> requests{0};
  std::string lastDigest;
  std::optional<RegistryCredentials> lastCredentials;
};

class VerifierTest : public ::testing::Test {
 protected:
  Result<DigestVerdict> verify(const TrustPolicy& policy,
                               std::optional<RegistryCredentials> credentials = std::nullopt) {
    return io_.run(verifier_.verify(image_, policy, std::move(credentials)));
  }
  static TrustPolicy trusting(const KeyPair& pair) {
    TrustPolicy policy;
    policy.keys.push_back(*PublicKey::fromPem(pair.publicPem(), "ns/cosign-pub"));
    return policy;
  }

  test::IoThread io_;
  test::FakeClock clock_;
  FakeSource source_;
  Verifier verifier_{source_, clock_, VerifierOptions{2, 600s, 30s, 16}};
  ImageReference image_ = *ImageReference::parse("registry.example/web:v2@" + std::string(kDigest));
};

TEST_F(VerifierTest, AVerifiedDigestIsCheckedOnceAndThenAnsweredFromTheCache) {
  source_.sign();
  auto first = verify(trusting(signer()));
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->verified) << first->describe(kDigest);
  EXPECT_EQ(source_.lastDigest, kDigest);
  auto second = verify(trusting(signer()));
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->verified);
  EXPECT_EQ(source_.requests, 1) << "the second answer came from the cache";
  EXPECT_EQ(verifier_.stats().hits, 1u);
  EXPECT_EQ(verifier_.stats().checks, 1u);

  clock_.advance(601s);
  ASSERT_TRUE(verify(trusting(signer())));
  EXPECT_EQ(source_.requests, 2) << "a verified verdict is asked again once it is old";
}

TEST_F(VerifierTest, ARefusalIsAskedAgainSoonSoASignaturePushedLaterIsSeen) {
  auto unsigned_ = verify(trusting(signer()));
  ASSERT_TRUE(unsigned_);
  EXPECT_FALSE(unsigned_->verified);
  source_.sign();
  clock_.advance(10s);
  EXPECT_FALSE(verify(trusting(signer()))->verified) << "within refusedFor: cached";
  EXPECT_EQ(source_.requests, 1);
  clock_.advance(21s);
  EXPECT_TRUE(verify(trusting(signer()))->verified);
  EXPECT_EQ(source_.requests, 2);
}

TEST_F(VerifierTest, AnotherPolicyIsAnotherVerdict) {
  source_.sign();
  auto stranger = generate("EC", "P-256");
  EXPECT_TRUE(verify(trusting(signer()))->verified);
  EXPECT_FALSE(verify(trusting(stranger))->verified) << "not the first policy's cached verdict";
  EXPECT_EQ(source_.requests, 2);
  auto both = trusting(stranger);
  both.keys.push_back(trusting(signer()).keys.front());
  auto reordered = trusting(signer());
  reordered.keys.push_back(trusting(stranger).keys.front());
  EXPECT_EQ(both.cacheKey(), reordered.cacheKey()) << "the order of keys changes no verdict";
  auto strict = trusting(signer());
  strict.matchRepository = true;
  EXPECT_NE(strict.cacheKey(), trusting(signer()).cacheKey());
}

TEST_F(VerifierTest, AnOutageIsAnErrorNeverAVerdictAndNeverCached) {
  source_.sign();
  source_.outage = true;
  auto failed = verify(trusting(signer()));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().kind, ErrorKind::Transient);
  EXPECT_THAT(failed.error().message, HasSubstr("connection refused"));
  source_.outage = false;
  auto recovered = verify(trusting(signer()));
  ASSERT_TRUE(recovered);
  EXPECT_TRUE(recovered->verified);
  EXPECT_EQ(source_.requests, 2);
}

TEST_F(VerifierTest, OnlyADigestCanBeVerifiedAndCredentialsReachTheSource) {
  auto tagOnly = *ImageReference::parse("registry.example/web:v2");
  auto refused = io_.run(verifier_.verify(tagOnly, trusting(signer())));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Invalid);
  EXPECT_EQ(source_.requests, 0);

  RegistryCredentials credentials;
  credentials.username = "robot";
  credentials.password = "s3cret";
  ASSERT_TRUE(verify(trusting(signer()), credentials));
  ASSERT_TRUE(source_.lastCredentials);
  EXPECT_EQ(source_.lastCredentials->username, "robot");
}

TEST_F(VerifierTest, ACallerResumesOnItsOwnThreadAfterTheCheck) {
  source_.sign();
  std::thread::id before;
  std::thread::id after;
  auto probe = [&]() -> asio::awaitable<Result<DigestVerdict>> {
    before = std::this_thread::get_id();
    auto verdict = co_await verifier_.verify(image_, trusting(signer()));
    after = std::this_thread::get_id();
    co_return verdict;
  };
  ASSERT_TRUE(io_.run(probe()));
  EXPECT_EQ(before, after) << "the caller's coroutine continues on its own io thread";
}

TEST_F(VerifierTest, TheCacheStaysWithinItsBound) {
  source_.sign();
  for (int i = 0; i < 40; ++i) {
    auto other = *ImageReference::parse(fmt::format("registry.example/web{}@{}", i, kDigest));
    ASSERT_TRUE(io_.run(verifier_.verify(other, trusting(signer()))));
    clock_.advance(1s);  // each verdict expires a second after the one before
  }
  EXPECT_EQ(verifier_.stats().checks, 40u);
  // The newest verdicts are still there: the bound drops the oldest first.
  auto newest = *ImageReference::parse(fmt::format("registry.example/web39@{}", kDigest));
  ASSERT_TRUE(io_.run(verifier_.verify(newest, trusting(signer()))));
  EXPECT_EQ(verifier_.stats().hits, 1u);
  auto oldest = *ImageReference::parse(fmt::format("registry.example/web0@{}", kDigest));
  ASSERT_TRUE(io_.run(verifier_.verify(oldest, trusting(signer()))));
  EXPECT_EQ(verifier_.stats().checks, 41u) << "the oldest verdict was dropped to keep the bound";
}

}  // namespace
}  // namespace mc::signing
