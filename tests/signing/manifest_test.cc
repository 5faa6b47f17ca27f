#include "mc/signing/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

std::string hexOf(char c) { return std::string(64, c); }
std::string digestOfChar(char c) { return "sha256:" + hexOf(c); }

// The shape of Docker Hub's manifest list for an official image (golang, say): one entry per
// platform, arm64 with its variant, Windows entries with os.version.
const std::string kManifestList = R"({
  "manifests": [
    {"digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
     "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "amd64", "os": "linux"}, "size": 1796},
    {"digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
     "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "arm", "os": "linux", "variant": "v7"}, "size": 1796},
    {"digest": "sha256:3333333333333333333333333333333333333333333333333333333333333333",
     "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}, "size": 1796},
    {"digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444",
     "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
     "platform": {"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.2340"},
     "size": 2567}
  ],
  "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
  "schemaVersion": 2
})";

// What buildx pushes to Docker Hub today: an OCI index whose attestation manifests have the
// platform unknown/unknown.
const std::string kOciIndex = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.index.v1+json",
  "manifests": [
    {"mediaType": "application/vnd.oci.image.manifest.v1+json",
     "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "size": 1234,
     "platform": {"architecture": "arm64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json",
     "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
     "size": 1235,
     "platform": {"architecture": "amd64", "os": "linux"}},
    {"mediaType": "application/vnd.oci.image.manifest.v1+json",
     "digest": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
     "size": 566,
     "annotations": {"vnd.docker.reference.digest":
       "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
       "vnd.docker.reference.type": "attestation-manifest"},
     "platform": {"architecture": "unknown", "os": "unknown"}}
  ]
})";

const std::string kDockerManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
  "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
             "digest": "sha256:b5b2b2c507a0944348e0303114d8d93aaaa081732b86451d9bce1f432a537bc7"},
  "layers": [
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
     "digest": "sha256:e692418e4cbaf90ca69d05a66403747baa33ee08806650b51fab815ad7fc331f"},
    {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 16724,
     "digest": "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b"}
  ]
})";

const std::string kOciManifest = R"({
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "artifactType": "application/vnd.example+type",
  "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
             "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
  "layers": [
    {"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", "size": 250,
     "digest": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
     "annotations": {"dev.cosignproject.cosign/signature": "MEUCIQ=="}}
  ],
  "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1235,
              "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
  "annotations": {"org.opencontainers.image.created": "2026-12-01T00:00:00Z"}
})";

TEST(ParseManifest, ReadsADockerManifestList) {
  auto list =
      parseManifest(kManifestList, "application/vnd.docker.distribution.manifest.list.v2+json");
  ASSERT_TRUE(list) << list.error().describe();
  EXPECT_EQ(list->kind, ManifestKind::DockerManifestList);
  EXPECT_TRUE(list->isIndex());
  ASSERT_EQ(list->manifests.size(), 4u);
  EXPECT_EQ(list->manifests[2].platform->str(), "linux/arm64/v8");
  EXPECT_EQ(list->manifests[3].size, 2567);
  EXPECT_EQ(list->manifests[0].digest, digestOfChar('1'));
}

TEST(SelectPlatform, PicksLinuxAmd64ByDefaultAndArm64WithItsVariant) {
  auto list =
      parseManifest(kManifestList, "application/vnd.docker.distribution.manifest.list.v2+json");
  ASSERT_TRUE(list);
  auto amd64 = selectPlatform(*list);
  ASSERT_TRUE(amd64) << amd64.error().describe();
  EXPECT_EQ(amd64->digest, digestOfChar('1'));
  for (const char* text : {"linux/arm64/v8", "linux/arm64"}) {
    auto arm64 = selectPlatform(*list, *parsePlatform(text));
    ASSERT_TRUE(arm64) << text;
    EXPECT_EQ(arm64->digest, digestOfChar('3')) << text;
  }
  auto armv7 = selectPlatform(*list, *parsePlatform("linux/arm"));
  ASSERT_TRUE(armv7);
  EXPECT_EQ(armv7->digest, digestOfChar('2'));
  auto windows = selectPlatform(*list, *parsePlatform("windows/amd64"));
  ASSERT_TRUE(windows);
  EXPECT_EQ(windows->digest, digestOfChar('4'));

  auto missing = selectPlatform(*list, *parsePlatform("linux/arm/v6"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_THAT(missing.error().message, HasSubstr("linux/arm/v6"));
  EXPECT_THAT(missing.error().message, HasSubstr("linux/arm64/v8"));
}

TEST(SelectPlatform, NormalisesVariantsOfAnOciIndexAndSkipsAttestations) {
  auto index = parseManifest(kOciIndex, "application/vnd.oci.image.index.v1+json");
  ASSERT_TRUE(index) << index.error().describe();
  EXPECT_EQ(index->kind, ManifestKind::OciIndex);
  EXPECT_EQ(selectPlatform(*index)->digest, digestOfChar('b'));
  // The index writes arm64 without a variant, which is arm64/v8.
  EXPECT_EQ(selectPlatform(*index, *parsePlatform("linux/arm64/v8"))->digest, digestOfChar('a'));
  EXPECT_FALSE(selectPlatform(*index, *parsePlatform("linux/arm64/v9")));
  EXPECT_EQ(index->manifests[2].annotations.at("vnd.docker.reference.type"),
            "attestation-manifest");
}

TEST(SelectPlatform, RefusesAnImageManifest) {
  auto manifest =
      parseManifest(kDockerManifest, "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_TRUE(manifest);
  auto selected = selectPlatform(*manifest);
  ASSERT_FALSE(selected);
  EXPECT_EQ(selected.error().kind, ErrorKind::Invalid);
}

TEST(ParsePlatform, ReadsOsArchitectureAndVariant) {
  EXPECT_EQ(*parsePlatform("linux/amd64"), (Platform{"linux", "amd64", ""}));
  EXPECT_EQ(*parsePlatform("linux/arm/v7"), (Platform{"linux", "arm", "v7"}));
  for (const char* bad : {"", "linux", "linux/", "/amd64", "linux/arm/v7/x", "linux//v7"}) {
    EXPECT_FALSE(parsePlatform(bad)) << bad;
  }
}

TEST(ParseManifest, ReadsDockerAndOciImageManifests) {
  auto docker = parseManifest(
      kDockerManifest, "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8");
  ASSERT_TRUE(docker) << docker.error().describe();
  EXPECT_EQ(docker->kind, ManifestKind::DockerManifest);
  EXPECT_FALSE(docker->isIndex());
  ASSERT_TRUE(docker->config);
  EXPECT_EQ(docker->config->size, 7023);
  ASSERT_EQ(docker->layers.size(), 2u);
  EXPECT_EQ(docker->layers[1].digest,
            "sha256:3c3a4604a545cdc127456d94e421cd355bca5b528f4a9c1905b15da2eb4a4c6b");

  auto oci = parseManifest(kOciManifest, "application/vnd.oci.image.manifest.v1+json");
  ASSERT_TRUE(oci) << oci.error().describe();
  EXPECT_EQ(oci->kind, ManifestKind::OciManifest);
  EXPECT_EQ(oci->artifactType, "application/vnd.example+type");
  ASSERT_TRUE(oci->subject);
  EXPECT_EQ(oci->subject->digest, digestOfChar('b'));
  EXPECT_EQ(oci->layers[0].annotations.at("dev.cosignproject.cosign/signature"), "MEUCIQ==");
  EXPECT_EQ(oci->annotations.at("org.opencontainers.image.created"), "2026-12-01T00:00:00Z");
}

TEST(ParseManifest, FallsBackOnTheBodyWhenTheHeaderIsGeneric) {
  for (const char* header : {"", "application/json", "application/octet-stream", "text/plain"}) {
    auto list = parseManifest(kManifestList, header);
    ASSERT_TRUE(list) << header;
    EXPECT_EQ(list->kind, ManifestKind::DockerManifestList) << header;
    auto docker = parseManifest(kDockerManifest, header);
    ASSERT_TRUE(docker) << header;
    EXPECT_EQ(docker->kind, ManifestKind::DockerManifest) << header;
  }
  // OCI allows a manifest without mediaType: its shape decides.
  auto index = parseManifest(R"({"schemaVersion": 2, "manifests": []})", "application/json");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->kind, ManifestKind::OciIndex);
  auto image = parseManifest(
      R"({"schemaVersion": 2, "config": {"mediaType": "a/b", "size": 2, "digest": ")" +
          digestOfChar('e') + R"("}, "layers": []})",
      "");
  ASSERT_TRUE(image) << image.error().describe();
  EXPECT_EQ(image->kind, ManifestKind::OciManifest);
  // Upper-case media types are the same media types.
  EXPECT_TRUE(parseManifest(kOciIndex, "Application/VND.OCI.image.index.v1+json"));
}

struct Malformed {
  std::string name;
  std::string body;
  std::string contentType;
  std::string field;    // the field the error names ("" when it names none)
  std::string message;  // a part of the message
};

std::string replaced(std::string text, std::string_view from, std::string_view to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(ParseManifest, RefusesMalformedManifestsNamingTheField) {
  const std::string list = "application/vnd.docker.distribution.manifest.list.v2+json";
  const std::string oci = "application/vnd.oci.image.manifest.v1+json";
  const std::string first =
      R"("digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111")";
  const std::vector<Malformed> cases{
      {"truncated", kManifestList.substr(0, kManifestList.size() / 2), list, "", "not JSON"},
      {"not an object", "[1, 2]", list, "", "not a JSON object"},
      {"empty", "", list, "", "not JSON"},
      {"schema 1", R"({"schemaVersion": 1, "name": "x", "fsLayers": []})", "", "schemaVersion",
       "must be 2"},
      {"schema 1 header", kDockerManifest,
       "application/vnd.docker.distribution.manifest.v1+prettyjws", "Content-Type",
       "not a manifest"},
      {"unknown body type",
       replaced(kOciIndex, "application/vnd.oci.image.index.v1+json",
                "application/vnd.example.index"),
       "application/json", "mediaType", "not a manifest"},
      {"mediaType not a string",
       replaced(kOciIndex, R"("application/vnd.oci.image.index.v1+json")", "7"), "", "mediaType",
       "must be a string"},
      {"header contradicts body", kDockerManifest, oci, "mediaType", "contradicts"},
      {"no schemaVersion", replaced(kOciIndex, R"("schemaVersion": 2,)", ""), "", "schemaVersion",
       "required"},
      {"schemaVersion a string",
       replaced(kOciIndex, R"("schemaVersion": 2)", R"("schemaVersion": "2")"), "", "schemaVersion",
       "must be 2"},
      {"manifests missing", R"({"schemaVersion": 2, "mediaType": ")" + list + R"("})", "",
       "manifests", "required"},
      {"manifests an object",
       R"({"schemaVersion": 2, "manifests": {}, "mediaType": ")" + list + R"("})", "", "manifests",
       "array"},
      {"entry not an object",
       R"({"schemaVersion": 2, "manifests": ["x"], "mediaType": ")" + list + R"("})", "",
       "manifests[0]", "descriptor"},
      {"missing digest", replaced(kManifestList, first + ",", ""), list, "manifests[0].digest",
       "required"},
      {"digest a number", replaced(kManifestList, first, R"("digest": 5)"), list,
       "manifests[0].digest", "must be a string"},
      {"bad digest", replaced(kManifestList, first, R"("digest": "sha256:1234")"), list,
       "manifests[0].digest", "64 lower-case hex"},
      {"unknown algorithm", replaced(kManifestList, first, R"("digest": "md5:1234")"), list,
       "manifests[0].digest", "not supported"},
      {"size missing", replaced(kManifestList, R"("size": 2567)", R"("sizes": 2567)"), list,
       "manifests[3].size", "required"},
      {"size negative", replaced(kManifestList, R"("size": 2567)", R"("size": -1)"), list,
       "manifests[3].size", "size in bytes"},
      {"size a float", replaced(kManifestList, R"("size": 2567)", R"("size": 25.5)"), list,
       "manifests[3].size", "integer"},
      {"size a string", replaced(kManifestList, R"("size": 2567)", R"("size": "2567")"), list,
       "manifests[3].size", "integer"},
      {"platform not an object",
       replaced(kManifestList, R"({"architecture": "amd64", "os": "linux"})", R"("linux/amd64")"),
       list, "manifests[0].platform", "object"},
      {"platform without os",
       replaced(kManifestList, R"("architecture": "amd64", "os": "linux")",
                R"("architecture": "amd64")"),
       list, "manifests[0].platform.os", "required"},
      {"variant a number", replaced(kManifestList, R"("variant": "v7")", R"("variant": 7)"), list,
       "manifests[1].platform.variant", "string"},
      {"config missing", R"({"schemaVersion": 2, "mediaType": ")" + oci + R"(", "layers": []})", "",
       "config", "required"},
      {"layers missing", replaced(kOciManifest, R"("layers")", R"("notlayers")"), oci, "layers",
       "required"},
      {"layer without mediaType",
       replaced(kOciManifest,
                R"("mediaType": "application/vnd.dev.cosign.simplesigning.v1+json", )", ""),
       oci, "layers[0].mediaType", "required"},
      {"annotation not a string",
       replaced(kOciManifest, R"("dev.cosignproject.cosign/signature": "MEUCIQ==")",
                R"("dev.cosignproject.cosign/signature": true)"),
       oci, "layers[0].annotations[dev.cosignproject.cosign/signature]", "string"},
      {"annotations an array",
       replaced(kOciManifest, R"({"org.opencontainers.image.created": "2026-12-01T00:00:00Z"})",
                "[]"),
       oci, "annotations", "object"},
      {"config digest bad", replaced(kDockerManifest, "sha256:b5b2", "sha256:B5B2"), "",
       "config.digest", "hex"},
      {"subject without digest",
       replaced(kOciManifest,
                R"("size": 1235,
              "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")",
                R"("size": 1235)"),
       oci, "subject.digest", "required"},
      {"artifactType a number", replaced(kOciManifest, R"("application/vnd.example+type")", "1"),
       oci, "artifactType", "string"},
  };
  for (const auto& c : cases) {
    auto manifest = parseManifest(c.body, c.contentType);
    ASSERT_FALSE(manifest) << c.name;
    EXPECT_EQ(manifest.error().kind, ErrorKind::Invalid) << c.name;
    EXPECT_EQ(manifest.error().field, c.field) << c.name << ": " << manifest.error().describe();
    EXPECT_THAT(manifest.error().message, HasSubstr(c.message)) << c.name;
  }
}

}  // namespace
}  // namespace mc::signing
