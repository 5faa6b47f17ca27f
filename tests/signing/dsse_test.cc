#include "mc/signing/dsse.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "mc/runtime/secret.h"
#include "testdata.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kFixtureDigest =
    "sha256:d2b6b33ffe8d3588aaaebdf774c65b43de6e6edcb4636c47d3e094a74a28be9a";

std::string statement(std::string_view subjects,
                      std::string_view type = "https://in-toto.io/Statement/v1") {
  return fmt::format(
      R"({{"_type":"{}","subject":{},"predicateType":"https://slsa.dev/provenance/v1","predicate":{{"a":1}}}})",
      type, subjects);
}

TEST(DsseTest, PreAuthEncodingIsTheSpecsWithByteLengths) {
  DsseEnvelope envelope{"application/vnd.in-toto+json", "héllo", {}};
  EXPECT_EQ(envelope.preAuthEncoding(), "DSSEv1 28 application/vnd.in-toto+json 6 héllo");
  DsseEnvelope empty{"t", "", {}};
  EXPECT_EQ(empty.preAuthEncoding(), "DSSEv1 1 t 0 ");
}

TEST(DsseTest, CosignsV2AttestationEnvelopeReads) {
  auto envelope = parseDsseEnvelope(readTestdata("cosign/att-v2-envelope.json"));
  ASSERT_TRUE(envelope) << envelope.error().fieldMessage();
  EXPECT_EQ(envelope->payloadType, kInTotoPayloadType);
  ASSERT_EQ(envelope->signatures.size(), 1u);
  EXPECT_EQ(envelope->signatures[0].keyId, "");
  auto parsed = parseInTotoStatement(envelope->payload);
  ASSERT_TRUE(parsed) << parsed.error().fieldMessage();
  EXPECT_EQ(parsed->predicateType, kSlsaProvenanceV1);
  EXPECT_EQ(parsed->type, "https://in-toto.io/Statement/v0.1");
  ASSERT_EQ(parsed->subjects.size(), 1u);
  EXPECT_EQ(parsed->subjects[0].name, "127.0.0.1:34429/demo/app");
  EXPECT_TRUE(checkStatementSubject(*parsed, kFixtureDigest));
  EXPECT_TRUE(parsed->predicate.is_object());
}

TEST(DsseTest, Base64IsReadInEitherAlphabetWithOrWithoutPadding) {
  std::string bytes = "\xfb\xff\xfe?";  // '+' and '/' in standard base64
  std::string standard = kube::base64Encode(bytes);
  std::string url = standard;
  std::replace(url.begin(), url.end(), '+', '-');
  std::replace(url.begin(), url.end(), '/', '_');
  std::string unpadded = standard.substr(0, standard.find('='));
  for (const auto& encoded : {standard, url, unpadded}) {
    EXPECT_EQ(decodeBase64Lenient(encoded).value_or("<none>"), bytes) << encoded;
  }
  EXPECT_FALSE(decodeBase64Lenient("not base64!"));
}

TEST(DsseTest, MalformedEnvelopesAreRefusedNamingTheField) {
  struct Case {
    std::string name, json, field;
  };
  std::vector<Case> cases{
      {"not JSON", "{", ""},
      {"an array", "[]", ""},
      {"no payload type", R"({"payload":"e30=","signatures":[{"sig":"AA=="}]})", "payloadType"},
      {"payload not base64", R"({"payloadType":"t","payload":"!!","signatures":[{"sig":"AA=="}]})",
       "payload"},
      {"no signatures", R"({"payloadType":"t","payload":"e30="})", "signatures"},
      {"empty signatures", R"({"payloadType":"t","payload":"e30=","signatures":[]})", "signatures"},
      {"a signature not an object", R"({"payloadType":"t","payload":"e30=","signatures":[1]})",
       "signatures[0]"},
      {"an empty sig", R"({"payloadType":"t","payload":"e30=","signatures":[{"sig":""}]})",
       "signatures[0].sig"},
      {"sig of the wrong type", R"({"payloadType":"t","payload":"e30=","signatures":[{"sig":1}]})",
       "signatures[0].sig"},
      {"two payloads by case",
       R"({"payloadType":"t","payload":"e30=","PAYLOAD":"e30=","signatures":[{"sig":"AA=="}]})",
       "payload"},
  };
  for (const auto& c : cases) {
    auto parsed = parseDsseEnvelope(c.json);
    ASSERT_FALSE(parsed) << c.name;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Invalid) << c.name;
    EXPECT_EQ(parsed.error().field, c.field) << c.name;
  }
}

TEST(DsseTest, StatementsAreReadAndMalformedOnesRefused) {
  auto hex = std::string(kFixtureDigest.substr(7));
  auto good = parseInTotoStatement(
      statement(fmt::format(R"([{{"name":"x","digest":{{"sha256":"{}"}}}}])", hex)));
  ASSERT_TRUE(good) << good.error().fieldMessage();
  EXPECT_EQ(good->subjects.at(0).digest.at("sha256"), hex);

  struct Case {
    std::string name, json, field;
  };
  std::vector<Case> cases{
      {"not a statement type", statement(R"([{"digest":{"sha256":"00"}}])", "https://x/Statement"),
       "_type"},
      {"no subjects", statement("[]"), "subject"},
      {"subject not an object", statement("[1]"), "subject[0]"},
      {"digest not a map", statement(R"([{"digest":"sha256:00"}])"), "subject[0].digest"},
      {"digest value not a string", statement(R"([{"digest":{"sha256":1}}])"),
       "subject[0].digest.sha256"},
      {"no predicate type",
       R"({"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"00"}}]})",
       "predicateType"},
  };
  for (const auto& c : cases) {
    auto parsed = parseInTotoStatement(c.json);
    ASSERT_FALSE(parsed) << c.name;
    EXPECT_EQ(parsed.error().field, c.field) << c.name;
  }
}

TEST(DsseTest, AStatementAboutAnotherDigestSaysSo) {
  auto other = parseInTotoStatement(statement(
      R"([{"name":"a","digest":{"sha512":"ff"}},{"name":"b","digest":{"sha256":"abcd"}}])"));
  ASSERT_TRUE(other);
  auto checked = checkStatementSubject(*other, kFixtureDigest);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(checked.error().message, HasSubstr("sha256:abcd"));
  EXPECT_THAT(checked.error().message, HasSubstr(std::string(kFixtureDigest)));
}

}  // namespace
}  // namespace mc::signing
