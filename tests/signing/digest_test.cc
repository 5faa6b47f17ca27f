#include "mc/signing/digest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

// sha256("") and sha256("abc"), the FIPS 180-2 vectors.
constexpr std::string_view kEmpty =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr std::string_view kAbc =
    "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view kAbcSha512 =
    "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c2"
    "3a3feebbd454d4423643ce80e2a9ac94fa54ca49f";

TEST(DigestOf, IsSha256InLowerHex) {
  EXPECT_EQ(digestOf(""), kEmpty);
  EXPECT_EQ(digestOf("abc"), kAbc);
}

TEST(CheckDigest, AcceptsSha256AndSha512) {
  EXPECT_TRUE(checkDigest(kAbc));
  EXPECT_TRUE(checkDigest(kAbcSha512));
  EXPECT_TRUE(checkSha256Digest(kAbc));
  EXPECT_FALSE(checkSha256Digest(kAbcSha512));
}

TEST(CheckDigest, RefusesMalformedDigestsNamingTheField) {
  const std::string hex(kAbc.substr(7));
  const std::vector<std::string> bads{std::string(""),
                                      hex,
                                      "sha256:" + hex.substr(1),
                                      "sha256:" + hex + "0",
                                      "SHA256:" + hex,
                                      "sha256:" + std::string(64, 'A'),
                                      "sha256:" + std::string(63, 'a') + "g",
                                      "md5:" + hex,
                                      "sha256-" + hex,
                                      "sha256:"};
  for (const auto& bad : bads) {
    auto result = checkDigest(bad, "layers[0].digest");
    ASSERT_FALSE(result) << bad;
    EXPECT_EQ(result.error().field, "layers[0].digest") << bad;
    EXPECT_EQ(result.error().kind, ErrorKind::Invalid) << bad;
  }
}

TEST(VerifyDigest, PassesTheRightBytesAndNamesBothDigestsOtherwise) {
  EXPECT_TRUE(verifyDigest("abc", kAbc));
  EXPECT_TRUE(verifyDigest("abc", kAbcSha512));
  auto wrong = verifyDigest("abd", kAbc);
  ASSERT_FALSE(wrong);
  EXPECT_THAT(wrong.error().message, HasSubstr(std::string(kAbc)));
  EXPECT_THAT(wrong.error().message, HasSubstr(digestOf("abd")));
  EXPECT_FALSE(verifyDigest("abc", "sha256:abc"));
}

TEST(CheckContentDigest, ComparesTheHeaderWithTheBody) {
  EXPECT_TRUE(checkContentDigest("abc", kAbc));
  EXPECT_TRUE(checkContentDigest("abc", ""));  // no header: the caller checks what it asked for
  auto mismatch = checkContentDigest("abc ", kAbc);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().field, "Docker-Content-Digest");
  EXPECT_THAT(mismatch.error().message, HasSubstr(std::string(kAbc)));
  EXPECT_THAT(mismatch.error().message, HasSubstr(digestOf("abc ")));
  auto garbage = checkContentDigest("abc", "not-a-digest");
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().field, "Docker-Content-Digest");
  EXPECT_EQ(garbage.error().kind, ErrorKind::Invalid);
}

}  // namespace
}  // namespace mc::signing
