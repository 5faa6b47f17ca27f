#include "mc/signing/bundle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testdata.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

TEST(BundleTest, CosignV3KeyedSignatureBundleReads) {
  auto bundle = parseSigstoreBundle(readTestdata("cosign/bundle-v3-sign.json"));
  ASSERT_TRUE(bundle) << bundle.error().fieldMessage();
  EXPECT_EQ(bundle->mediaType, kBundleV03MediaType);
  EXPECT_FALSE(bundle->publicKeyHint.empty());
  EXPECT_TRUE(bundle->certificates.empty());
  EXPECT_TRUE(bundle->tlogEntries.empty());
  ASSERT_TRUE(bundle->dsse);
  EXPECT_FALSE(bundle->messageSignature);
  auto statement = parseInTotoStatement(bundle->dsse->payload);
  ASSERT_TRUE(statement) << statement.error().fieldMessage();
  EXPECT_EQ(statement->predicateType, kCosignSignPredicateType);
}

TEST(BundleTest, CosignV3CertificateBundleCarriesTheLeafOnly) {
  auto bundle = parseSigstoreBundle(readTestdata("cosign/bundle-v3-keyless.json"));
  ASSERT_TRUE(bundle) << bundle.error().fieldMessage();
  ASSERT_EQ(bundle->certificates.size(), 1u);
  EXPECT_EQ(static_cast<unsigned char>(bundle->certificates[0][0]), 0x30u) << "DER SEQUENCE";
}

TEST(BundleTest, TimestampsEntriesAndProtoNamesAreRead) {
  auto bundle = parseSigstoreBundle(R"({
    "media_type": "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "verification_material": {
      "certificate": {"raw_bytes": "MAA="},
      "tlog_entries": [{"logIndex": "7"}],
      "timestamp_verification_data": {"rfc3161_timestamps": [{"signed_timestamp": "AQI="}]}
    },
    "message_signature": {"message_digest": {"algorithm": "SHA2_256", "digest": "AAE="},
                          "signature": "AgM="}
  })");
  ASSERT_TRUE(bundle) << bundle.error().fieldMessage();
  EXPECT_EQ(bundle->certificates, std::vector<std::string>{std::string("\x30\x00", 2)});
  ASSERT_EQ(bundle->tlogEntries.size(), 1u);
  EXPECT_EQ(bundle->rfc3161Timestamps, std::vector<std::string>{"\x01\x02"});
  ASSERT_TRUE(bundle->messageSignature);
  EXPECT_EQ(bundle->messageSignature->digestAlgorithm, "SHA2_256");
  EXPECT_EQ(bundle->messageSignature->signature, "\x02\x03");
}

TEST(BundleTest, MalformedBundlesAreRefusedNamingTheField) {
  const std::string material = R"("verificationMaterial":{"publicKey":{"hint":"h"}})";
  const std::string envelope =
      R"("dsseEnvelope":{"payloadType":"t","payload":"e30=","signatures":[{"sig":"AA=="}]})";
  struct Case {
    std::string name, json, field;
  };
  std::vector<Case> cases{
      {"not JSON", "{", ""},
      {"another media type",
       R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.4+json",)" + material + "," +
           envelope + "}",
       "mediaType"},
      {"no material",
       R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",)" + envelope + "}",
       "verificationMaterial"},
      {"no content",
       R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",)" + material + "}",
       "dsseEnvelope"},
      {"both contents",
       R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",)" + material + "," +
           envelope + R"(,"messageSignature":{"signature":"AA=="}})",
       "dsseEnvelope"},
      {"a certificate that is not base64",
       R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"!"}]}},)" +
           envelope + "}",
       "verificationMaterial.x509CertificateChain.certificates[0].rawBytes"},
      {"an envelope without signatures",
       R"({"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",)" + material +
           R"(,"dsseEnvelope":{"payloadType":"t","payload":"e30="}})",
       "dsseEnvelope.signatures"},
  };
  for (const auto& c : cases) {
    auto parsed = parseSigstoreBundle(c.json);
    ASSERT_FALSE(parsed) << c.name;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Invalid) << c.name;
    EXPECT_EQ(parsed.error().field, c.field) << c.name << ": " << parsed.error().fieldMessage();
  }
}

}  // namespace
}  // namespace mc::signing
