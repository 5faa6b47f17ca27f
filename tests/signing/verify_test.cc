#include "mc/signing/verify.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/runtime/secret.h"
#include "mc/signing/bundle.h"
#include "mc/signing/dsse.h"
#include "test_keys.h"
#include "testdata.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr std::string_view kDigest =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr std::string_view kOtherDigest =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

// A payload as cosign v2 writes it: the bare repository as go-containerregistry names it.
std::string payloadFor(std::string_view digest,
                       std::string_view reference = "index.docker.io/acme/web") {
  return fmt::format(
      R"({{"critical":{{"identity":{{"docker-reference":"{}"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}})",
      reference, digest);
}

PublicKey trusted(const KeyPair& pair, std::string name) {
  auto key = PublicKey::fromPem(pair.publicPem(), std::move(name));
  EXPECT_TRUE(key) << key.error().message;
  return *key;
}

FetchedSignature signedBy(const KeyPair& pair, std::string payload, size_t index = 0,
                          std::string_view signedPayload = {}) {
  FetchedSignature fetched;
  fetched.layer.index = index;
  fetched.layer.signature = kube::base64Encode(
      pair.sign(signedPayload.empty() ? std::string_view(payload) : signedPayload, EVP_sha256()));
  fetched.payload = std::move(payload);
  return fetched;
}

// The v2 checks as they were first written: signatures and keys, nothing else.
struct SimpleOptions {
  std::string repository;
  bool matchRepository = false;
};

DigestVerdict verifySignatures(std::string_view digest, std::vector<FetchedSignature> signatures,
                               std::vector<PublicKey> keys, const SimpleOptions& options) {
  SignedArtifacts artifacts;
  artifacts.signatures = std::move(signatures);
  TrustPolicy policy;
  policy.keys = std::move(keys);
  policy.matchRepository = options.matchRepository;
  return verifyArtifacts(digest, artifacts, policy,
                         {options.repository, std::chrono::system_clock::now()});
}

class VerifySignaturesTest : public ::testing::Test {
 protected:
  static const KeyPair& signer() {
    static const KeyPair pair = generate("EC", "P-256");
    return pair;
  }
  static const KeyPair& stranger() {
    static const KeyPair pair = generate("EC", "P-256");
    return pair;
  }
  SimpleOptions options_{"docker.io/acme/web", false};
};

TEST_F(VerifySignaturesTest, ASignatureOfTheDigestByATrustedKeyVerifies) {
  auto verdict = verifySignatures(kDigest, {signedBy(signer(), payloadFor(kDigest))},
                                  {trusted(signer(), "team/cosign.pub")}, options_);
  ASSERT_TRUE(verdict.verified) << verdict.describe(kDigest);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("team/cosign.pub"));
  EXPECT_EQ(verdict.dockerReference, "docker.io/acme/web") << "index.docker.io read as docker.io";
  EXPECT_THAT(verdict.describe(kDigest), HasSubstr("verified by"));
}

TEST_F(VerifySignaturesTest, EachWayASignatureFailsIsRefusedSayingWhy) {
  struct Case {
    std::string name;
    FetchedSignature signature;
    std::string why;
  };
  auto tampered = signedBy(signer(), payloadFor(kDigest), 0, payloadFor(kOtherDigest));
  auto truncated = signedBy(signer(), payloadFor(kDigest));
  truncated.layer.signature.resize(truncated.layer.signature.size() / 2);
  auto garbage = signedBy(signer(), "not json at all");
  std::vector<Case> cases{
      {"another key", signedBy(stranger(), payloadFor(kDigest)), "team/cosign.pub"},
      {"a payload changed after signing", tampered, "team/cosign.pub"},
      {"a truncated signature", truncated, "team/cosign.pub"},
      {"a valid signature of another digest", signedBy(signer(), payloadFor(kOtherDigest)),
       std::string(kOtherDigest)},
      {"a signed payload that is no cosign payload", garbage, "not a cosign signature"},
  };
  for (const auto& c : cases) {
    auto verdict =
        verifySignatures(kDigest, {c.signature}, {trusted(signer(), "team/cosign.pub")}, options_);
    EXPECT_FALSE(verdict.verified) << c.name;
    ASSERT_EQ(verdict.refusals.size(), 1u) << c.name;
    EXPECT_THAT(verdict.refusals[0], HasSubstr("signature 1: ")) << c.name;
    EXPECT_THAT(verdict.refusals[0], HasSubstr(c.why)) << c.name;
    EXPECT_THAT(verdict.describe(kDigest), HasSubstr("no signature of " + std::string(kDigest)))
        << c.name;
  }
}

TEST_F(VerifySignaturesTest, OneGoodSignatureAmongBadOnesIsEnough) {
  auto verdict = verifySignatures(
      kDigest,
      {signedBy(stranger(), payloadFor(kDigest), 0), signedBy(signer(), payloadFor(kDigest), 1)},
      {trusted(signer(), "new")}, options_);
  EXPECT_TRUE(verdict.verified) << verdict.describe(kDigest);
  EXPECT_TRUE(verdict.refusals.empty());
}

TEST_F(VerifySignaturesTest, AnyKeyOfSeveralVerifiesSoKeysRotate) {
  auto verdict = verifySignatures(kDigest, {signedBy(signer(), payloadFor(kDigest))},
                                  {trusted(stranger(), "old"), trusted(signer(), "new")}, options_);
  ASSERT_TRUE(verdict.verified) << verdict.describe(kDigest);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("new"));
}

TEST_F(VerifySignaturesTest, NoSignatureOrNoKeyIsNeverAPass) {
  auto none = verifySignatures(kDigest, {}, {trusted(signer(), "k")}, options_);
  EXPECT_FALSE(none.verified);
  EXPECT_EQ(none.describe(kDigest), std::string(kDigest) + " has no signature");
  auto keyless = verifySignatures(kDigest, {signedBy(signer(), payloadFor(kDigest))}, {}, options_);
  EXPECT_FALSE(keyless.verified);
  EXPECT_THAT(keyless.describe(kDigest), HasSubstr("no trusted key"));
}

TEST_F(VerifySignaturesTest, TheSignedRepositoryIsReportedAndCheckedOnlyWhenAsked) {
  auto elsewhere = signedBy(signer(), payloadFor(kDigest, "ghcr.io/mallory/web"));
  auto reported = verifySignatures(kDigest, {elsewhere}, {trusted(signer(), "k")}, options_);
  ASSERT_TRUE(reported.verified) << "cosign does not check docker-reference";
  EXPECT_EQ(reported.dockerReference, "ghcr.io/mallory/web");

  auto strict = options_;
  strict.matchRepository = true;
  auto refused = verifySignatures(kDigest, {elsewhere}, {trusted(signer(), "k")}, strict);
  EXPECT_FALSE(refused.verified);
  ASSERT_EQ(refused.refusals.size(), 1u);
  EXPECT_THAT(refused.refusals[0],
              HasSubstr("signed for ghcr.io/mallory/web, not docker.io/acme/web"));
  // cosign v3 writes repo@digest: the same repository, so it passes the strict check.
  auto v3 = signedBy(signer(), payloadFor(kDigest, "acme/web@" + std::string(kDigest)));
  EXPECT_TRUE(verifySignatures(kDigest, {v3}, {trusted(signer(), "k")}, strict).verified);
}

TEST(ImageMatchesTest, PatternsSayWhatTheyCover) {
  auto image = [](std::string_view text) { return *ImageReference::parse(text); };
  struct Case {
    std::string pattern;
    std::string image;
    bool matches;
  };
  for (const auto& c : std::vector<Case>{
           {"docker.io/library/nginx", "nginx:1.27", true},
           {"docker.io/library/nginx", "nginx@" + std::string(kDigest), true},
           {"docker.io/library/*", "nginx", true},
           {"docker.io/library/*", "acme/nginx", false},
           {"ghcr.io/acme/*", "ghcr.io/acme/web:v2", true},
           {"ghcr.io/acme/*", "ghcr.io/acme/team/web", false},
           {"ghcr.io/acme/**", "ghcr.io/acme/team/web", true},
           {"ghcr.io/acme/**", "ghcr.io/acmecorp/web", false},
           {"**", "registry.example:5000/any/thing", true},
           {"*/acme/web", "ghcr.io/acme/web", true},
           {"nginx", "nginx", false},  // patterns are not normalised: write docker.io/library/nginx
           {"ghcr.io/acme/web", "ghcr.io/acme/web2", false},
           // A registry is one host however written: no spelling escapes a pattern.
           {"GHCR.io/acme/**", "ghcr.io/acme/web", true},
           {"ghcr.io/acme/**", "GHCR.IO:443/acme/web", true},
           {"MyHost/**", "MYHOST/app", true},
           {"myhost/**", "myhost:443/app", true},
           {"MYHOST/**", "MyHoSt/app", true},
       }) {
    EXPECT_EQ(imageMatches(c.pattern, image(c.image)), c.matches) << c.pattern << " vs " << c.image;
  }
}

TEST(FindWaiverTest, AValidWaiverWinsAndAnExpiredOneIsNamed) {
  const auto now = std::chrono::system_clock::time_point(1800000000s);
  Waiver valid{std::string(kDigest), "alice", "CHG-1", now + 1h};
  Waiver lapsed{std::string(kDigest), "bob", "CHG-0", now - 1h};
  Waiver older{std::string(kDigest), "carol", "CHG-00", now - 48h};
  Waiver other{std::string(kOtherDigest), "dave", "elsewhere", now + 1h};
  Waiver atNow{std::string(kDigest), "erin", "ends now", now};

  EXPECT_EQ(findWaiver(kDigest, {}, now).state, WaiverState::None);
  EXPECT_EQ(findWaiver(kDigest, {other}, now).state, WaiverState::None);

  auto found = findWaiver(kDigest, {lapsed, valid, other}, now);
  EXPECT_EQ(found.state, WaiverState::Valid);
  EXPECT_EQ(found.waiver->owner, "alice");

  auto expired = findWaiver(kDigest, {older, lapsed}, now);
  EXPECT_EQ(expired.state, WaiverState::Expired);
  EXPECT_EQ(expired.waiver->owner, "bob") << "the latest to expire is the one to name";

  EXPECT_EQ(findWaiver(kDigest, {atNow}, now).state, WaiverState::Expired)
      << "a waiver ends at its expiry";
  EXPECT_EQ(findWaiver(kDigest, {valid}, now + 2h).state, WaiverState::Expired)
      << "the clock decides, not the waiver's presence";
}

}  // namespace
}  // namespace mc::signing

namespace mc::signing {
namespace {

// What the real cosign wrote for image v1 of tests/signing/testdata/cosign: a v3 signature
// bundle, a v3 provenance bundle and a v2 provenance attestation, all by cosign.pub's key.
class CosignFixturesTest : public ::testing::Test {
 protected:
  static constexpr std::string_view kV1 =
      "sha256:d2b6b33ffe8d3588aaaebdf774c65b43de6e6edcb4636c47d3e094a74a28be9a";

  static FetchedBundle bundle(const std::string& file) {
    return {"sha256:fixture-" + file, readTestdata("cosign/" + file)};
  }
  static FetchedAttestation v2Attestation() {
    return {0, readTestdata("cosign/att-v2-envelope.json"), {}};
  }
  static TrustPolicy trusting(std::vector<std::string> attestations = {}) {
    TrustPolicy policy;
    policy.keys.push_back(
        PublicKey::fromPem(readTestdata("cosign/cosign.pub"), "ns/cosign").value());
    policy.attestations = std::move(attestations);
    return policy;
  }
  static DigestVerdict judge(std::string_view digest, const SignedArtifacts& artifacts,
                             const TrustPolicy& policy) {
    return verifyArtifacts(digest, artifacts, policy,
                           {"127.0.0.1:34429/demo/app", std::chrono::system_clock::now()});
  }
};

TEST_F(CosignFixturesTest, AV3SignatureBundleVerifiesWithTheKey) {
  SignedArtifacts artifacts;
  artifacts.bundles = {bundle("bundle-v3-sign.json")};
  auto verdict = judge(kV1, artifacts, trusting());
  ASSERT_TRUE(verdict.verified) << verdict.describe(kV1);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("ns/cosign"));
}

TEST_F(CosignFixturesTest, AV3BundleRefusesAnotherKeyAnotherDigestAndATamperedStatement) {
  SignedArtifacts artifacts;
  artifacts.bundles = {bundle("bundle-v3-sign.json")};
  TrustPolicy stranger;
  stranger.keys.push_back(PublicKey::fromPem(generate("EC", "P-256").publicPem(), "x").value());
  auto wrongKey = judge(kV1, artifacts, stranger);
  EXPECT_FALSE(wrongKey.verified);
  EXPECT_THAT(wrongKey.describe(kV1), HasSubstr("no signature of"));

  auto otherDigest = judge(kOtherDigest, artifacts, trusting());
  EXPECT_FALSE(otherDigest.verified);
  EXPECT_THAT(otherDigest.describe(kOtherDigest), HasSubstr("another artifact"));

  // The statement re-encoded to name another digest, the signature left as it was.
  auto json = boost::json::parse(artifacts.bundles[0].bundle).as_object();
  auto& envelope = json["dsseEnvelope"].as_object();
  auto statement = kube::base64Decode(envelope["payload"].as_string()).value();
  auto at = statement.find(kV1.substr(7));
  ASSERT_NE(at, std::string::npos);
  statement.replace(at, 64, kOtherDigest.substr(7));
  envelope["payload"] = kube::base64Encode(statement);
  artifacts.bundles[0].bundle = boost::json::serialize(json);
  auto tampered = judge(kOtherDigest, artifacts, trusting());
  EXPECT_FALSE(tampered.verified);
  EXPECT_THAT(tampered.describe(kOtherDigest), HasSubstr("ns/cosign"))
      << "refused at the signature, which no longer covers the statement";
}

TEST_F(CosignFixturesTest, AnAttestationIsNoSignature) {
  // cosign v3's verify accepts any bundle about the digest; MC wants cosign's signature statement.
  SignedArtifacts artifacts;
  artifacts.bundles = {bundle("bundle-v3-attest.json")};
  artifacts.attestations = {v2Attestation()};
  auto verdict = judge(kV1, artifacts, trusting());
  EXPECT_FALSE(verdict.verified);
  EXPECT_EQ(verdict.describe(kV1), std::string(kV1) + " has no signature, only attestations (" +
                                       std::string(kSlsaProvenanceV1) +
                                       "), which are no signatures");
}

TEST_F(CosignFixturesTest, ARequiredAttestationIsFoundInEitherFormat) {
  for (bool v3 : {true, false}) {
    SignedArtifacts artifacts;
    artifacts.bundles = {bundle("bundle-v3-sign.json")};
    if (v3) {
      artifacts.bundles.push_back(bundle("bundle-v3-attest.json"));
    } else {
      artifacts.attestations = {v2Attestation()};
    }
    auto verdict = judge(kV1, artifacts, trusting({std::string(kSlsaProvenanceV1)}));
    ASSERT_TRUE(verdict.verified) << verdict.describe(kV1);
    ASSERT_EQ(verdict.attestations.size(), 1u);
    EXPECT_TRUE(verdict.attestations[0].verified);
    EXPECT_THAT(verdict.attestations[0].verifiedBy, HasSubstr("ns/cosign"));
  }
}

TEST_F(CosignFixturesTest, AMissingAttestationRefusesNamingItsType) {
  SignedArtifacts artifacts;
  artifacts.bundles = {bundle("bundle-v3-sign.json"), bundle("bundle-v3-attest.json")};
  auto verdict = judge(kV1, artifacts,
                       trusting({std::string(kSlsaProvenanceV1), "https://spdx.dev/Document"}));
  EXPECT_FALSE(verdict.verified);
  EXPECT_THAT(verdict.describe(kV1),
              HasSubstr("no attestation of type https://spdx.dev/Document (none found)"));
  EXPECT_THAT(verdict.describe(kV1), ::testing::Not(HasSubstr("slsa")));

  // Signed, but the provenance is by a key the policy does not trust.
  TrustPolicy other = trusting({std::string(kSlsaProvenanceV1)});
  artifacts.bundles = {bundle("bundle-v3-sign.json")};
  auto v2 = v2Attestation();
  auto json = boost::json::parse(v2.envelope).as_object();
  json["signatures"].as_array()[0].as_object()["sig"] =
      kube::base64Encode(generate("EC", "P-256").sign("x", EVP_sha256()));
  v2.envelope = boost::json::serialize(json);
  artifacts.attestations = {v2};
  auto untrusted = judge(kV1, artifacts, other);
  EXPECT_FALSE(untrusted.verified);
  EXPECT_THAT(untrusted.describe(kV1),
              HasSubstr("no attestation of type https://slsa.dev/provenance/v1 verifies: "
                        "attestation 1:"));
}

TEST_F(CosignFixturesTest, V2AndV3SignaturesAreAcceptedSideBySide) {
  // A bad v3 bundle (another digest's) beside a good v2 signature: one good signature suffices.
  auto pair = generate("EC", "P-256");
  TrustPolicy policy = trusting();
  policy.keys.push_back(PublicKey::fromPem(pair.publicPem(), "ns/v2").value());
  SignedArtifacts artifacts;
  artifacts.bundles = {bundle("bundle-v3-sign.json")};
  artifacts.signatures = {signedBy(pair, payloadFor(kOtherDigest))};
  auto verdict = judge(kOtherDigest, artifacts, policy);
  ASSERT_TRUE(verdict.verified) << verdict.describe(kOtherDigest);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("ns/v2"));
}

TEST_F(CosignFixturesTest, MatchRepositoryRefusesAV3SignatureThatNamesNoRepository) {
  // cosign v3's signature statement names only the digest: nothing to match a repository with.
  SignedArtifacts artifacts;
  artifacts.bundles = {bundle("bundle-v3-sign.json")};
  TrustPolicy strict = trusting();
  strict.matchRepository = true;
  auto verdict = judge(kV1, artifacts, strict);
  EXPECT_FALSE(verdict.verified);
  EXPECT_THAT(verdict.describe(kV1), HasSubstr("signed for no repository"));
}

}  // namespace
}  // namespace mc::signing

namespace mc::signing {
namespace {

// A v3 bundle of `statement`, signed by `signer` as cosign signs one (DSSE over the PAE).
std::string bundleOf(const std::string& statement, const KeyPair& signer) {
  DsseEnvelope envelope{std::string(kInTotoPayloadType), statement, {}};
  auto sig = signer.sign(envelope.preAuthEncoding(), EVP_sha256());
  boost::json::object bundle{
      {"mediaType", kBundleV03MediaType},
      {"verificationMaterial", {{"publicKey", {{"hint", ""}}}}},
      {"dsseEnvelope",
       {{"payloadType", kInTotoPayloadType},
        {"payload", kube::base64Encode(statement)},
        {"signatures", boost::json::array{{{"sig", kube::base64Encode(sig)}}}}}}};
  return boost::json::serialize(bundle);
}

std::string statementOf(std::string_view predicateType, std::string_view subjects) {
  return fmt::format(
      R"({{"_type":"https://in-toto.io/Statement/v1","subject":{},"predicateType":"{}","predicate":{{}}}})",
      subjects, predicateType);
}

class SignedStatementsTest : public ::testing::Test {
 protected:
  static const KeyPair& signer() {
    static const KeyPair pair = generate("EC", "P-256");
    return pair;
  }
  static TrustPolicy trusting() {
    TrustPolicy policy;
    policy.keys.push_back(PublicKey::fromPem(signer().publicPem(), "ns/cosign").value());
    return policy;
  }
  static DigestVerdict judge(const SignedArtifacts& artifacts, const TrustPolicy& policy) {
    return verifyArtifacts(kDigest, artifacts, policy,
                           {"ghcr.io/acme/app", std::chrono::system_clock::now()});
  }
  static std::string hex() { return std::string(kDigest.substr(7)); }
};

TEST_F(SignedStatementsTest, MatchRepositoryReadsTheSubjectThatIsThisDigest) {
  // The signer bound this digest to evil/x; another subject names the wanted repository.
  auto subjects = fmt::format(
      R"([{{"name":"ghcr.io/acme/app","digest":{{"sha256":"{}"}}}},{{"name":"ghcr.io/evil/x","digest":{{"sha256":"{}"}}}}])",
      std::string(64, '9'), hex());
  SignedArtifacts artifacts;
  artifacts.bundles = {
      {"sha256:b", bundleOf(statementOf(kCosignSignPredicateType, subjects), signer())}};
  auto strict = trusting();
  strict.matchRepository = true;
  auto verdict = judge(artifacts, strict);
  EXPECT_FALSE(verdict.verified);
  EXPECT_THAT(verdict.describe(kDigest), HasSubstr("signed for ghcr.io/evil/x"));

  auto right = fmt::format(R"([{{"name":"ghcr.io/acme/app","digest":{{"sha256":"{}"}}}}])", hex());
  artifacts.bundles = {
      {"sha256:b", bundleOf(statementOf(kCosignSignPredicateType, right), signer())}};
  EXPECT_TRUE(judge(artifacts, strict).verified);
}

TEST_F(SignedStatementsTest, AV2AttestationNeverCountsAsASignature) {
  // A `.att` envelope claiming cosign's signature type: read only when attestations are asked
  // for, so counting it would make the verdict depend on the policy asking.
  auto subjects = fmt::format(R"([{{"digest":{{"sha256":"{}"}}}}])", hex());
  auto bundle =
      boost::json::parse(bundleOf(statementOf(kCosignSignPredicateType, subjects), signer()));
  FetchedAttestation att{0, boost::json::serialize(bundle.at("dsseEnvelope")), {}};
  SignedArtifacts artifacts;
  artifacts.attestations = {att};
  EXPECT_FALSE(judge(artifacts, trusting()).verified);
}

TEST(TrustPolicyTest, CacheKeysOfDifferentPoliciesDiffer) {
  TrustPolicy joined;
  joined.attestations = {"a,b"};
  TrustPolicy split;
  split.attestations = {"a", "b"};
  EXPECT_NE(joined.cacheKey(), split.cacheKey());
  TrustPolicy reordered;
  reordered.attestations = {"b", "a"};
  EXPECT_EQ(split.cacheKey(), reordered.cacheKey()) << "order says nothing";
  TrustPolicy strict = split;
  strict.matchRepository = true;
  EXPECT_NE(split.cacheKey(), strict.cacheKey());
}

}  // namespace
}  // namespace mc::signing
