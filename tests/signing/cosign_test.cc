#include "mc/signing/cosign.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

const std::string kImageDigest =
    "sha256:4f1d0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";
const std::string kOtherDigest =
    "sha256:0000000000000000000000000000000000000000000000000000000000000001";

// What cosign v2 writes: compact JSON, docker-reference the bare repository.
const std::string kPayload =
    R"({"critical":{"identity":{"docker-reference":"registry.local:5000/demo/app"},)"
    R"("image":{"docker-manifest-digest":")" +
    kImageDigest +
    R"("},"type":"cosign container image signature"},"optional":{"creator":"ci","build":"42"}})";

TEST(SignatureTag, IsTheDigestWithADashAndSig) {
  auto tag = signatureTag(kImageDigest);
  ASSERT_TRUE(tag);
  EXPECT_EQ(*tag, "sha256-" + kImageDigest.substr(7) + ".sig");
  EXPECT_FALSE(signatureTag("sha256:abc"));
  EXPECT_FALSE(signatureTag("sha512:" + std::string(128, 'a')));
  EXPECT_FALSE(signatureTag(kImageDigest.substr(7)));
}

TEST(ParseSimpleSigningPayload, ReadsWhatCosignWrites) {
  auto payload = parseSimpleSigningPayload(kPayload);
  ASSERT_TRUE(payload) << payload.error().describe();
  EXPECT_EQ(payload->manifestDigest, kImageDigest);
  EXPECT_EQ(payload->dockerReference, "registry.local:5000/demo/app");
  EXPECT_EQ(payload->type, kCosignSignatureType);
  EXPECT_EQ(payload->optional.at("creator").as_string(), "ci");
  EXPECT_TRUE(checkPayloadDigest(*payload, kImageDigest));
}

TEST(ParseSimpleSigningPayload, ReadsKeysIgnoringCaseAsGoDoes) {
  // Early cosign tagged the field "Docker-manifest-digest"; Go matches either way.
  auto payload = parseSimpleSigningPayload(
      R"({"Critical":{"Identity":{"Docker-Reference":"r/a"},"IMAGE":{"Docker-manifest-digest":")" +
      kImageDigest + R"("},"Type":"cosign container image signature"},"Optional":null})");
  ASSERT_TRUE(payload) << payload.error().describe();
  EXPECT_EQ(payload->manifestDigest, kImageDigest);
  EXPECT_EQ(payload->dockerReference, "r/a");
  EXPECT_TRUE(payload->optional.empty());
  // No identity and no optional: cosign does not require them.
  EXPECT_TRUE(parseSimpleSigningPayload(R"({"critical":{"image":{"docker-manifest-digest":")" +
                                        kImageDigest +
                                        R"("},"type":"cosign container image signature"}})"));
}

TEST(CheckPayloadDigest, DetectsASignatureOfAnotherImage) {
  auto payload = parseSimpleSigningPayload(kPayload);
  ASSERT_TRUE(payload);
  auto other = checkPayloadDigest(*payload, kOtherDigest);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().kind, ErrorKind::Terminal);
  EXPECT_EQ(other.error().field, "critical.image.docker-manifest-digest");
  EXPECT_THAT(other.error().message, HasSubstr(kImageDigest));
  EXPECT_THAT(other.error().message, HasSubstr(kOtherDigest));
}

std::string withCritical(std::string_view critical) {
  return R"({"critical":)" + std::string(critical) + R"(,"optional":null})";
}

TEST(ParseSimpleSigningPayload, RefusesMalformedPayloadsNamingTheField) {
  const std::string type = R"("type":"cosign container image signature")";
  const std::string image = R"("image":{"docker-manifest-digest":")" + kImageDigest + R"("})";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {kPayload.substr(0, 40), "", "not JSON"},
      {"", "", "not JSON"},
      {"[]", "", "not a JSON object"},
      {R"({"optional":null})", "critical", "required"},
      {R"({"critical":"x"})", "critical", "must be an object"},
      {withCritical("{" + image + "}"), "critical.type", "is \"\""},
      {withCritical("{" + image + R"(,"type":"atomic container signature"})"), "critical.type",
       "atomic container signature"},
      {withCritical("{" + image + R"(,"type":7})"), "critical.type", "string"},
      {withCritical("{" + type + "}"), "critical.image", "required"},
      {withCritical("{" + type + R"(,"image":{}})"), "critical.image.docker-manifest-digest",
       "required"},
      {withCritical("{" + type + R"(,"image":{"docker-manifest-digest":"sha256:abc"}})"),
       "critical.image.docker-manifest-digest", "64 lower-case hex"},
      {withCritical("{" + type + R"(,"image":{"docker-manifest-digest":")" + std::string(64, 'a') +
                    R"("}})"),
       "critical.image.docker-manifest-digest", "not a sha256 digest"},
      {withCritical("{" + type + R"(,"image":{"docker-manifest-digest":42}})"),
       "critical.image.docker-manifest-digest", "string"},
      {withCritical("{" + type + "," + image + R"(,"identity":"r/a"})"), "critical.identity",
       "object"},
      {withCritical("{" + type + "," + image + R"(,"identity":{"docker-reference":["r/a"]}})"),
       "critical.identity.docker-reference", "string"},
      {R"({"critical":{)" + type + "," + image + R"(},"optional":[1]})", "optional", "object"},
      // Two keys one reader could take for the other: refused, not guessed.
      {withCritical("{" + type + "," + image + R"(,"Image":{"docker-manifest-digest":")" +
                    kOtherDigest + R"("}})"),
       "critical.image", "twice"},
  };
  for (const auto& [text, field, message] : cases) {
    auto payload = parseSimpleSigningPayload(text);
    ASSERT_FALSE(payload) << text;
    EXPECT_EQ(payload.error().kind, ErrorKind::Invalid) << text;
    EXPECT_EQ(payload.error().field, field) << text << ": " << payload.error().describe();
    EXPECT_THAT(payload.error().message, HasSubstr(message)) << text;
  }
}

Manifest signatureManifest() {
  Manifest manifest;
  manifest.kind = ManifestKind::OciManifest;
  manifest.mediaType = std::string(kOciManifestType);
  Descriptor signed1{std::string(kSimpleSigningMediaType),
                     "sha256:" + std::string(64, 'a'),
                     250,
                     {{std::string(kSignatureAnnotation), "MEUCIQDs"}},
                     std::nullopt,
                     ""};
  Descriptor other{
      "application/vnd.example.other", "sha256:" + std::string(64, 'b'), 3, {}, std::nullopt, ""};
  Descriptor unsigned1{std::string(kSimpleSigningMediaType),
                       "sha256:" + std::string(64, 'c'),
                       250,
                       {},
                       std::nullopt,
                       ""};
  Descriptor keyless{std::string(kSimpleSigningMediaType),
                     "sha256:" + std::string(64, 'd'),
                     251,
                     {{std::string(kSignatureAnnotation), "MEYCIQ"},
                      {std::string(kCertificateAnnotation), "-----BEGIN CERTIFICATE-----\nleaf"},
                      {std::string(kChainAnnotation), "-----BEGIN CERTIFICATE-----\nca"}},
                     std::nullopt,
                     ""};
  manifest.layers = {signed1, other, unsigned1, keyless};
  return manifest;
}

TEST(SignatureLayers, ListsEachSignatureAndWhatWasPassedOver) {
  auto layers = signatureLayers(signatureManifest());
  ASSERT_TRUE(layers) << layers.error().describe();
  ASSERT_EQ(layers->layers.size(), 2u);
  EXPECT_EQ(layers->layers[0].index, 0u);
  EXPECT_EQ(layers->layers[0].payloadDigest, "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(layers->layers[0].payloadSize, 250);
  EXPECT_EQ(layers->layers[0].signature, "MEUCIQDs");
  EXPECT_TRUE(layers->layers[0].certificate.empty());
  EXPECT_EQ(layers->layers[1].index, 3u);
  EXPECT_THAT(layers->layers[1].certificate, HasSubstr("leaf"));
  EXPECT_THAT(layers->layers[1].chain, HasSubstr("ca"));
  ASSERT_EQ(layers->skipped.size(), 2u);
  EXPECT_EQ(layers->skipped[0].field, "layers[1].mediaType");
  EXPECT_EQ(layers->skipped[1].field, "layers[2].annotations[dev.cosignproject.cosign/signature]");
}

TEST(SignatureLayers, RefusesAManifestWithoutSignaturesAndAnIndex) {
  auto manifest = signatureManifest();
  manifest.layers = {manifest.layers[1], manifest.layers[2]};
  auto none = signatureLayers(manifest);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().field, "layers");
  EXPECT_THAT(none.error().message, HasSubstr("no cosign signature layer"));
  manifest.layers.clear();
  EXPECT_FALSE(signatureLayers(manifest));

  Manifest index;
  index.kind = ManifestKind::OciIndex;
  index.mediaType = std::string(kOciIndexType);
  EXPECT_FALSE(signatureLayers(index));
}

}  // namespace
}  // namespace mc::signing
