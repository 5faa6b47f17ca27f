// Keyless signatures through verifyArtifacts: a certificate for an identity, its chain to the
// policy's root, and the time rule — a certificate that has expired by the check passes only
// with a trusted signing time (an RFC 3161 timestamp, or a Rekor entry's signed timestamp).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/runtime/secret.h"
#include "mc/signing/verify.h"
#include "test_keys.h"
#include "test_timestamps.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Clock = std::chrono::system_clock;

constexpr std::string_view kDigest =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr const char* kIssuer = "https://issuer.example.com";

std::time_t toTimeT(Clock::time_point time) { return Clock::to_time_t(time); }

class KeylessVerifyTest : public ::testing::Test {
 protected:
  KeylessVerifyTest()
      : ca_(issueCertificate(caSpec("MC test CA"))),
        otherCa_(issueCertificate(caSpec("another CA"))),
        tsa_(witnesses::makeTsa("MC test TSA", toTimeT(now_ - 24h), toTimeT(now_ + 24h))),
        log_(generate("EC", "P-256")) {}

  CertSpec caSpec(std::string name) const {
    CertSpec spec;
    spec.commonName = std::move(name);
    spec.ca = true;
    spec.extendedKeyUsages = {};
    spec.notBefore = now_ - 48h;
    spec.notAfter = now_ + 48h;
    return spec;
  }

  // A Fulcio-like leaf for ci@example.com, valid ten minutes from `from`.
  TestCert leaf(Clock::time_point from, const TestCert& issuer) const {
    CertSpec spec;
    spec.subjectAltNames = {"email:ci@example.com"};
    spec.extensions = {{kOidIssuerV2, derUtf8String(kIssuer)}};
    spec.notBefore = from;
    spec.notAfter = from + 10min;
    return issueCertificate(spec, &issuer);
  }

  // A v2 signature of kDigest by `signer`, its certificate and the CA in the layer.
  static FetchedSignature signedWith(const TestCert& signer, const TestCert& chain) {
    FetchedSignature fetched;
    fetched.payload = fmt::format(
        R"({{"critical":{{"identity":{{"docker-reference":"ghcr.io/acme/web"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}})",
        kDigest);
    fetched.layer.signature = kube::base64Encode(signer.key.sign(fetched.payload, EVP_sha256()));
    fetched.layer.certificate = signer.pem();
    fetched.layer.chain = chain.pem();
    return fetched;
  }

  TrustPolicy policy(std::string subject = "ci@example.com", std::string issuer = kIssuer) const {
    auto logKey = PublicKey::fromPem(log_.publicPem(), "rekor").value();
    auto trust = KeylessTrust::make({{std::move(subject), "", std::move(issuer), ""}}, {ca_.pem()},
                                    {logKey}, {tsa_.chainPem()});
    EXPECT_TRUE(trust) << trust.error().fieldMessage();
    TrustPolicy out;
    out.keyless = std::move(*trust);
    return out;
  }

  DigestVerdict judge(const FetchedSignature& signature, const TrustPolicy& trust) const {
    SignedArtifacts artifacts;
    artifacts.signatures = {signature};
    return verifyArtifacts(kDigest, artifacts, trust, {"ghcr.io/acme/web", now_});
  }

  static std::string rawSignature(const FetchedSignature& fetched) {
    return kube::base64Decode(fetched.layer.signature).value();
  }

  // cosign v2's RFC 3161 annotation for a timestamp of the signature at `at` by `tsa`.
  static std::string rfc3161Annotation(const witnesses::Tsa& tsa, const FetchedSignature& fetched,
                                       Clock::time_point at) {
    auto response = witnesses::timestampResponse(tsa.leaf, rawSignature(fetched), toTimeT(at));
    return boost::json::serialize(
        boost::json::object{{"SignedRFC3161Timestamp", kube::base64Encode(response)}});
  }

  // cosign v2's Rekor annotation: a hashedrekord entry of the signature at `at`, promised by
  // `logKey`.
  static std::string rekorAnnotation(const KeyPair& logKey, const FetchedSignature& fetched,
                                     std::string_view certificatePem, Clock::time_point at) {
    auto body = witnesses::hashedRekordBody(rawSignature(fetched), fetched.payload, certificatePem);
    auto logId = witnesses::logIdOf(logKey);
    int64_t time = toTimeT(at);
    auto set = witnesses::signEntryTimestamp(logKey, body, time, logId, 7);
    return boost::json::serialize(
        boost::json::object{{"SignedEntryTimestamp", kube::base64Encode(set)},
                            {"Payload",
                             {{"body", kube::base64Encode(body)},
                              {"integratedTime", time},
                              {"logIndex", 7},
                              {"logID", witnesses::hex(logId)}}}});
  }

  const Clock::time_point now_ = Clock::now();
  TestCert ca_;
  TestCert otherCa_;
  witnesses::Tsa tsa_;
  KeyPair log_;
};

TEST_F(KeylessVerifyTest, ACertificateValidNowForTheIdentityVerifies) {
  auto signer = leaf(now_ - 2min, ca_);
  auto verdict = judge(signedWith(signer, ca_), policy());
  ASSERT_TRUE(verdict.verified) << verdict.describe(kDigest);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("certificate for ci@example.com"));
  EXPECT_THAT(verdict.verifiedBy, HasSubstr(kIssuer));
  // Trusted for being valid now, so only until it expires (the verifier caches no longer).
  ASSERT_TRUE(verdict.validUntil.has_value());
  EXPECT_EQ(Clock::to_time_t(*verdict.validUntil), toTimeT(now_ - 2min + 10min));
}

TEST_F(KeylessVerifyTest, WrongIdentityWrongIssuerOrAnotherRootIsRefused) {
  auto signer = leaf(now_ - 2min, ca_);
  auto fetched = signedWith(signer, ca_);
  auto wrongSubject = judge(fetched, policy("other@example.com"));
  EXPECT_FALSE(wrongSubject.verified);
  EXPECT_THAT(wrongSubject.describe(kDigest), HasSubstr("do not match subject"));
  auto wrongIssuer = judge(fetched, policy("ci@example.com", "https://wrong.example.com"));
  EXPECT_FALSE(wrongIssuer.verified);
  EXPECT_THAT(wrongIssuer.describe(kDigest), HasSubstr("https://wrong.example.com"));

  auto stranger = leaf(now_ - 2min, otherCa_);
  auto otherRoot = judge(signedWith(stranger, otherCa_), policy());
  EXPECT_FALSE(otherRoot.verified) << "a chain the signature brings is no trust anchor";
}

TEST_F(KeylessVerifyTest, TheCertificatesKeyMustHaveMadeTheSignature) {
  auto signer = leaf(now_ - 2min, ca_);
  auto fetched = signedWith(signer, ca_);
  fetched.layer.signature =
      kube::base64Encode(generate("EC", "P-256").sign(fetched.payload, EVP_sha256()));
  auto verdict = judge(fetched, policy());
  EXPECT_FALSE(verdict.verified);
  EXPECT_THAT(verdict.describe(kDigest), HasSubstr("did not make it"));
}

TEST_F(KeylessVerifyTest, AnExpiredCertificateWithoutATrustedTimeIsRefusedSayingSo) {
  auto signer = leaf(now_ - 2h, ca_);  // expired 110 minutes ago
  auto verdict = judge(signedWith(signer, ca_), policy());
  EXPECT_FALSE(verdict.verified);
  EXPECT_THAT(verdict.describe(kDigest), HasSubstr("no trusted signing time"));
  EXPECT_THAT(verdict.describe(kDigest),
              HasSubstr("no transparency-log entry or RFC 3161 timestamp"));
}

TEST_F(KeylessVerifyTest, AnRfc3161TimestampInsideTheWindowProvesTheSigningTime) {
  auto signer = leaf(now_ - 2h, ca_);
  auto fetched = signedWith(signer, ca_);
  fetched.layer.rfc3161 = rfc3161Annotation(tsa_, fetched, now_ - 2h + 3min);
  auto verdict = judge(fetched, policy());
  ASSERT_TRUE(verdict.verified) << verdict.describe(kDigest);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("RFC 3161"));
  EXPECT_FALSE(verdict.validUntil.has_value()) << "a proved signing time does not expire";

  // Stamped after the certificate expired: it proves the signature came too late.
  auto late = signedWith(signer, ca_);
  late.layer.rfc3161 = rfc3161Annotation(tsa_, late, now_ - 1h);
  EXPECT_FALSE(judge(late, policy()).verified);

  // Stamped by an authority the policy does not trust.
  auto strangerTsa = witnesses::makeTsa("other TSA", toTimeT(now_ - 24h), toTimeT(now_ + 24h));
  auto untrusted = signedWith(signer, ca_);
  untrusted.layer.rfc3161 = rfc3161Annotation(strangerTsa, untrusted, now_ - 2h + 3min);
  auto refused = judge(untrusted, policy());
  EXPECT_FALSE(refused.verified);
  EXPECT_THAT(refused.describe(kDigest), HasSubstr("RFC 3161 timestamp:"));
}

TEST_F(KeylessVerifyTest, ARekorSignedEntryTimestampProvesTheSigningTime) {
  auto signer = leaf(now_ - 2h, ca_);
  auto fetched = signedWith(signer, ca_);
  fetched.layer.rekorBundle = rekorAnnotation(log_, fetched, signer.pem(), now_ - 2h + 1min);
  auto verdict = judge(fetched, policy());
  ASSERT_TRUE(verdict.verified) << verdict.describe(kDigest);
  EXPECT_THAT(verdict.verifiedBy, HasSubstr("transparency-log entry 7"));

  // Promised by a log the policy does not trust.
  auto otherLog = generate("EC", "P-256");
  auto untrusted = signedWith(signer, ca_);
  untrusted.layer.rekorBundle = rekorAnnotation(otherLog, untrusted, signer.pem(), now_ - 2h);
  EXPECT_FALSE(judge(untrusted, policy()).verified);

  // A genuine entry of another certificate's signature, replayed beside this one.
  auto other = leaf(now_ - 2h, ca_);
  auto replayed = signedWith(signer, ca_);
  auto otherSigned = signedWith(other, ca_);
  replayed.layer.rekorBundle = rekorAnnotation(log_, otherSigned, other.pem(), now_ - 2h);
  auto refused = judge(replayed, policy());
  EXPECT_FALSE(refused.verified);
  EXPECT_THAT(refused.describe(kDigest), HasSubstr("log entry 7"));
}

TEST_F(KeylessVerifyTest, APolicyIsCheckedWhenMade) {
  EXPECT_FALSE(KeylessTrust::make({}, {ca_.pem()}, {}, {}));
  EXPECT_FALSE(KeylessTrust::make({{"ci@example.com", "", "", ""}}, {ca_.pem()}, {}, {}))
      << "an identity without an issuer rule";
  EXPECT_FALSE(KeylessTrust::make({{"", "([", kIssuer, ""}}, {ca_.pem()}, {}, {}))
      << "a regular expression that does not compile";
  auto noRoots = KeylessTrust::make({{"ci@example.com", "", kIssuer, ""}}, {}, {}, {});
  ASSERT_FALSE(noRoots);
  EXPECT_EQ(noRoots.error().field, "roots");
  auto badPem = KeylessTrust::make({{"ci@example.com", "", kIssuer, ""}}, {"not a PEM"}, {}, {});
  ASSERT_FALSE(badPem);
  EXPECT_EQ(badPem.error().field, "roots[0]");
}

}  // namespace
}  // namespace mc::signing
