#include "mc/signing/signing_time.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <functional>

#include "mc/runtime/secret.h"
#include "test_keys.h"
#include "test_timestamps.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using namespace mc::signing::witnesses;

constexpr std::time_t kDay = 24 * 60 * 60;
// 2024-03-01T10:00:00Z: when the timestamps below say the signature existed.
constexpr std::time_t kGenTime = 1709287200;

SystemTime at(std::time_t seconds) { return std::chrono::system_clock::from_time_t(seconds); }

// ---------------------------------------------------------------------------------------------
// RFC 3161

class Rfc3161TimestampTest : public ::testing::Test {
 protected:
  Tsa tsa_ = makeTsa("MC test TSA", kGenTime - 30 * kDay, kGenTime + 365 * kDay);
  std::string signature_ = "the signature's bytes: 30 45 02 20 ...";
};

TEST_F(Rfc3161TimestampTest, GoodResponseGivesItsGenTime) {
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_TRUE(time) << time.error().describe();
  EXPECT_EQ(*time, at(kGenTime));
}

TEST_F(Rfc3161TimestampTest, Sha384AndSha512ImprintsAreAccepted) {
  for (const EVP_MD* md : {EVP_sha384(), EVP_sha512()}) {
    TimestampRequest request;
    request.imprintMd = md;
    auto response = timestampResponse(tsa_.leaf, signature_, kGenTime, request);
    auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
    ASSERT_TRUE(time) << EVP_MD_get0_name(md) << ": " << time.error().describe();
    EXPECT_EQ(*time, at(kGenTime));
  }
}

TEST_F(Rfc3161TimestampTest, Sha1ImprintIsRefused) {
  TimestampRequest request;
  request.imprintMd = EVP_sha1();
  request.accepted.push_back(EVP_sha1());
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime, request);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("SHA1"));
}

TEST_F(Rfc3161TimestampTest, ResponseWithoutEmbeddedCertificateVerifiesWithTheChainsLeaf) {
  TimestampRequest request;
  request.certReq = false;
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime, request);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_TRUE(time) << time.error().describe();
  EXPECT_EQ(*time, at(kGenTime));
}

TEST_F(Rfc3161TimestampTest, TsaCertificateExpiredNowButValidAtGenTimeIsAccepted) {
  // Certificates of two hours in 2020: long expired by any clock that runs this test.
  constexpr std::time_t kIn2020 = 1583056800;
  auto shortLived = makeTsa("short-lived TSA", kIn2020 - 3600, kIn2020 + 3600);
  auto response = timestampResponse(shortLived.leaf, signature_, kIn2020);
  auto time = verifyRfc3161Timestamp(response, signature_, shortLived.chainPem());
  ASSERT_TRUE(time) << time.error().describe();
  EXPECT_EQ(*time, at(kIn2020));
}

TEST_F(Rfc3161TimestampTest, GenTimeOutsideTheTsaCertificatesValidityIsRefused) {
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime + 400 * kDay);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("at its genTime 2025-04-05T10:00:00Z"));
  EXPECT_THAT(time.error().message, HasSubstr("certificate has expired"));
}

TEST_F(Rfc3161TimestampTest, ImprintOfOtherBytesIsRefused) {
  auto response = timestampResponse(tsa_.leaf, "another signature", kGenTime);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("over other bytes"));
}

TEST_F(Rfc3161TimestampTest, TimestampOfTheSignatureDoesNotCoverTamperedBytes) {
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime);
  std::string tampered = signature_;
  tampered.back() ^= 0x01;
  auto time = verifyRfc3161Timestamp(response, tampered, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("over other bytes"));
}

TEST_F(Rfc3161TimestampTest, ResponseFromAnotherTsaIsRefused) {
  auto other = makeTsa("another TSA", kGenTime - kDay, kGenTime + kDay);
  auto response = timestampResponse(other.leaf, signature_, kGenTime);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message,
              HasSubstr("certificate does not verify with the configured TSA chain"));
}

TEST_F(Rfc3161TimestampTest, AnotherTimestampingCertificateUnderTheSameRootIsRefused) {
  auto sibling = issue({"sibling timestamping", kGenTime - kDay, kGenTime + kDay, false,
                        CertSpec::Eku::TimeStamping},
                       &tsa_.root);
  auto response = timestampResponse(sibling, signature_, kGenTime);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("other than the configured TSA's"));
}

TEST_F(Rfc3161TimestampTest, TamperedSignatureIsRefused) {
  auto response = withTamperedSignature(timestampResponse(tsa_.leaf, signature_, kGenTime));
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("does not verify with the configured TSA chain: "
                                              "signature failure"));
}

TEST_F(Rfc3161TimestampTest, RejectedRequestIsNoTimestamp) {
  TimestampRequest request;
  request.accepted = {EVP_sha512()};  // the request's SHA-256 imprint is refused
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime, request);
  auto time = verifyRfc3161Timestamp(response, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(time.error().message, HasSubstr("did not grant it (PKIStatus 2)"));
}

TEST_F(Rfc3161TimestampTest, BareTokenIsInvalidAsInSigstore) {
  auto token = bareToken(timestampResponse(tsa_.leaf, signature_, kGenTime));
  auto time = verifyRfc3161Timestamp(token, signature_, tsa_.chainPem());
  ASSERT_FALSE(time);
  EXPECT_EQ(time.error().kind, ErrorKind::Invalid);
  EXPECT_THAT(time.error().message, HasSubstr("bare TimeStampToken"));
}

TEST_F(Rfc3161TimestampTest, GarbageIsInvalid) {
  for (std::string garbage :
       {std::string(), std::string("not DER at all"), std::string("\x30\x03\x02\x01\x00", 5)}) {
    auto time = verifyRfc3161Timestamp(garbage, signature_, tsa_.chainPem());
    ASSERT_FALSE(time);
    EXPECT_EQ(time.error().kind, ErrorKind::Invalid) << time.error().describe();
  }
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime);
  auto trailing = verifyRfc3161Timestamp(response + "x", signature_, tsa_.chainPem());
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().kind, ErrorKind::Invalid);
}

TEST_F(Rfc3161TimestampTest, ChainWithoutCertificatesOrRootIsInvalid) {
  auto response = timestampResponse(tsa_.leaf, signature_, kGenTime);
  auto none = verifyRfc3161Timestamp(response, signature_, "not PEM");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::Invalid);
  EXPECT_THAT(none.error().message, HasSubstr("no PEM certificate"));
  auto leafOnly = verifyRfc3161Timestamp(response, signature_, tsa_.leaf.pem());
  ASSERT_FALSE(leafOnly);
  EXPECT_EQ(leafOnly.error().kind, ErrorKind::Invalid);
  EXPECT_THAT(leafOnly.error().message, HasSubstr("no self-signed root"));
}

TEST_F(Rfc3161TimestampTest, IntermediatesAreChainedAndTheirUsageChecked) {
  auto root = issue({"TSA root", kGenTime - kDay, kGenTime + kDay, true}, nullptr);
  auto intermediate = issue({"TSA intermediate", kGenTime - kDay, kGenTime + kDay, true,
                             CertSpec::Eku::TimeStampingNotCritical},
                            &root);
  auto leaf =
      issue({"TSA leaf", kGenTime - kDay, kGenTime + kDay, false, CertSpec::Eku::TimeStamping},
            &intermediate);
  TimestampRequest request;
  request.certReq = false;  // the intermediate comes from the configured chain alone
  auto response = timestampResponse(leaf, signature_, kGenTime, request);
  auto time =
      verifyRfc3161Timestamp(response, signature_, leaf.pem() + intermediate.pem() + root.pem());
  ASSERT_TRUE(time) << time.error().describe();
  EXPECT_EQ(*time, at(kGenTime));

  auto withoutIntermediate = verifyRfc3161Timestamp(response, signature_, leaf.pem() + root.pem());
  ASSERT_FALSE(withoutIntermediate);
  EXPECT_EQ(withoutIntermediate.error().kind, ErrorKind::Terminal);

  auto codeSigningCa = issue({"code-signing intermediate", kGenTime - kDay, kGenTime + kDay, true,
                              CertSpec::Eku::CodeSigning},
                             &root);
  auto underIt =
      issue({"TSA leaf 2", kGenTime - kDay, kGenTime + kDay, false, CertSpec::Eku::TimeStamping},
            &codeSigningCa);
  auto refused =
      verifyRfc3161Timestamp(timestampResponse(underIt, signature_, kGenTime), signature_,
                             underIt.pem() + codeSigningCa.pem() + root.pem());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(refused.error().message, HasSubstr("does not allow time stamping"));
}

// ---------------------------------------------------------------------------------------------
// Rekor v1 entries

constexpr int64_t kIntegratedTime = 1709287260;
constexpr int64_t kLogIndex = 123456789;

class TlogEntryTest : public ::testing::Test {
 protected:
  // An entry whose body is the third of five leaves, with an SET and/or an inclusion proof.
  TlogEntry entry(bool promise, bool proof) const {
    TlogEntry out;
    out.logIndex = kLogIndex;
    out.logId = logIdOf(log_);
    out.integratedTime = kIntegratedTime;
    out.canonicalizedBody = body_;
    out.kind = "hashedrekord";
    out.version = "0.0.1";
    if (promise) {
      out.signedEntryTimestamp =
          signEntryTimestamp(log_, body_, kIntegratedTime, out.logId, kLogIndex);
    }
    if (proof) {
      auto tree = treeWithBodyAt(2, 5);
      out.inclusionProof = InclusionProof{2, 5, tree.root(), tree.inclusionProof(2),
                                          signedCheckpoint(log_, log_, 5, tree.root())};
    }
    return out;
  }

  MerkleTree treeWithBodyAt(size_t index, size_t size) const {
    MerkleTree tree;
    for (size_t i = 0; i < size; ++i) {
      tree.leaves.push_back(i == index ? body_ : fmt::format("{{\"other entry\":{}}}", i));
    }
    return tree;
  }

  std::vector<PublicKey> trusted() const { return {logPublicKey_}; }

  KeyPair log_ = generate("EC", "P-256");
  KeyPair other_ = generate("EC", "P-256");
  KeyPair signer_ = generate("EC", "P-256");
  std::string payload_ = R"({"critical":{"image":{"docker-manifest-digest":"sha256:abc"}}})";
  std::string signature_ = signer_.sign(payload_, EVP_sha256());
  std::string body_ = hashedRekordBody(signature_, payload_, signer_.publicPem());
  PublicKey logPublicKey_ = PublicKey::fromPem(log_.publicPem(), "rekor").value();
};

TEST_F(TlogEntryTest, GoodSignedEntryTimestampGivesIntegratedTime) {
  auto verified = verifyTlogEntry(entry(true, false), trusted());
  ASSERT_TRUE(verified) << verified.error().describe();
  ASSERT_TRUE(verified->integratedTime.has_value());
  EXPECT_EQ(*verified->integratedTime, at(kIntegratedTime));
  EXPECT_TRUE(verified->promiseVerified);
  EXPECT_FALSE(verified->inclusionVerified);
  EXPECT_THAT(verified->logKey, HasSubstr("rekor"));
}

TEST_F(TlogEntryTest, LogKeyIsFoundAmongSeveral) {
  auto another = PublicKey::fromPem(other_.publicPem()).value();
  auto verified = verifyTlogEntry(entry(true, false), {another, logPublicKey_});
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_TRUE(verified->promiseVerified);
}

TEST_F(TlogEntryTest, SignedEntryTimestampByAnotherKeyIsRefused) {
  auto forged = entry(false, false);
  forged.signedEntryTimestamp =
      signEntryTimestamp(other_, body_, kIntegratedTime, forged.logId, kLogIndex);
  auto verified = verifyTlogEntry(forged, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message, HasSubstr("signed entry timestamp does not verify"));
}

TEST_F(TlogEntryTest, TamperedFieldsBreakTheSignedEntryTimestamp) {
  auto later = entry(true, false);
  later.integratedTime += 3600;  // an expired certificate's signature made to look on time
  auto otherIndex = entry(true, false);
  otherIndex.logIndex += 1;
  auto otherBody = entry(true, false);
  otherBody.canonicalizedBody = hashedRekordBody(signature_, "other payload", signer_.publicPem());
  for (const auto& tampered : {later, otherIndex, otherBody}) {
    auto verified = verifyTlogEntry(tampered, trusted());
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
    EXPECT_THAT(verified.error().message, HasSubstr("signed entry timestamp does not verify"));
  }
}

TEST_F(TlogEntryTest, EntryOfAnUntrustedLogIsRefused) {
  auto foreign = entry(false, false);
  foreign.logId = logIdOf(other_);
  foreign.signedEntryTimestamp =
      signEntryTimestamp(other_, body_, kIntegratedTime, foreign.logId, kLogIndex);
  auto verified = verifyTlogEntry(foreign, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message,
              HasSubstr(fmt::format("the entry is from log {}, which the policy does not trust",
                                    hex(logIdOf(other_)))));
}

TEST_F(TlogEntryTest, EntryWithNoProofIsRefused) {
  auto verified = verifyTlogEntry(entry(false, false), trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message,
              HasSubstr("has neither a signed entry timestamp nor an inclusion proof"));
}

TEST_F(TlogEntryTest, GoodInclusionProofVerifiesButGivesNoTrustedTime) {
  auto verified = verifyTlogEntry(entry(false, true), trusted());
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_TRUE(verified->inclusionVerified);
  EXPECT_FALSE(verified->promiseVerified);
  EXPECT_FALSE(verified->integratedTime.has_value());
}

TEST_F(TlogEntryTest, InclusionProofsVerifyAtEveryPositionOfTreesOfSeveralSizes) {
  for (size_t size = 1; size <= 9; ++size) {
    for (size_t index = 0; index < size; ++index) {
      auto tree = treeWithBodyAt(index, size);
      auto e = entry(false, false);
      e.inclusionProof = InclusionProof{static_cast<int64_t>(index), static_cast<int64_t>(size),
                                        tree.root(), tree.inclusionProof(index),
                                        signedCheckpoint(log_, log_, size, tree.root())};
      auto verified = verifyTlogEntry(e, trusted());
      ASSERT_TRUE(verified) << index << " of " << size << ": " << verified.error().describe();
      EXPECT_TRUE(verified->inclusionVerified);
      // The same proof read for the neighbouring leaf does not lead to the root.
      if (size > 1) {
        e.inclusionProof->logIndex = static_cast<int64_t>((index + 1) % size);
        EXPECT_FALSE(verifyTlogEntry(e, trusted())) << index << " of " << size;
      }
    }
  }
}

TEST_F(TlogEntryTest, BothProofsAreChecked) {
  auto verified = verifyTlogEntry(entry(true, true), trusted());
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_TRUE(verified->promiseVerified);
  EXPECT_TRUE(verified->inclusionVerified);
  EXPECT_EQ(verified->integratedTime, at(kIntegratedTime));

  auto badProof = entry(true, true);
  badProof.inclusionProof->hashes[0][0] ^= 0x01;
  auto refused = verifyTlogEntry(badProof, trusted());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::Terminal);
}

TEST_F(TlogEntryTest, WrongRootHashIsRefused) {
  // A root hash the proof does not lead to, with a checkpoint the log signed for it.
  auto e = entry(false, true);
  auto otherRoot = treeWithBodyAt(0, 5).root();
  e.inclusionProof->rootHash = otherRoot;
  e.inclusionProof->checkpoint = signedCheckpoint(log_, log_, 5, otherRoot);
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message, HasSubstr("does not lead from the entry's body"));
}

TEST_F(TlogEntryTest, CheckpointForAnotherRootIsRefused) {
  auto e = entry(false, true);
  e.inclusionProof->checkpoint = signedCheckpoint(log_, log_, 5, treeWithBodyAt(0, 5).root());
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message, HasSubstr("is not the inclusion proof's"));
}

TEST_F(TlogEntryTest, TamperedProofHashIsRefused) {
  auto e = entry(false, true);
  e.inclusionProof->hashes.back()[5] ^= 0x20;
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
}

TEST_F(TlogEntryTest, ProofWithMissingOrExtraHashesIsRefused) {
  auto missing = entry(false, true);
  missing.inclusionProof->hashes.pop_back();
  auto extra = entry(false, true);
  extra.inclusionProof->hashes.push_back(sha256Bytes("extra"));
  for (const auto& e : {missing, extra}) {
    auto verified = verifyTlogEntry(e, trusted());
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
    EXPECT_THAT(verified.error().message, HasSubstr("not the number"));
  }
}

TEST_F(TlogEntryTest, CheckpointSignedByAnotherKeyIsRefused) {
  auto e = entry(false, true);
  auto root = e.inclusionProof->rootHash;
  // Signed by another key under the log key's hint, so only the signature can tell.
  e.inclusionProof->checkpoint = signedCheckpoint(other_, log_, 5, root);
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message, HasSubstr("checkpoint's signature does not verify"));

  e.inclusionProof->checkpoint = signedCheckpoint(other_, other_, 5, root);
  auto otherHint = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(otherHint);
  EXPECT_EQ(otherHint.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(otherHint.error().message, HasSubstr("key other than the log's"));
}

TEST_F(TlogEntryTest, CheckpointTextIsWhatIsSigned) {
  auto e = entry(false, true);
  auto& note = e.inclusionProof->checkpoint;
  note.replace(note.find("Timestamp: 17"), 14, "Timestamp: 18");
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message, HasSubstr("checkpoint's signature does not verify"));
}

TEST_F(TlogEntryTest, CheckpointTreeSizeMismatchIsRefused) {
  // A checkpoint the log did sign, for the same root but another size.
  auto e = entry(false, true);
  e.inclusionProof->checkpoint = signedCheckpoint(log_, log_, 6, e.inclusionProof->rootHash);
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(verified.error().message, HasSubstr("a tree of 6 entries"));
}

TEST_F(TlogEntryTest, MalformedCheckpointsAreInvalid) {
  for (std::string note : {std::string("no blank line\n"),
                           std::string("rekor.test\n5\nAAAA\n\n- rekor.test AAAAAAAA\n"),
                           std::string("rekor.test\n5\nAAAA\n\n\u2014 rekor.test !!!\n"),
                           std::string("rekor.test\n5\nAAAA\n\n")}) {
    auto e = entry(false, true);
    e.inclusionProof->checkpoint = note;
    auto verified = verifyTlogEntry(e, trusted());
    ASSERT_FALSE(verified) << note;
    EXPECT_EQ(verified.error().kind, ErrorKind::Invalid) << note << verified.error().describe();
  }
}

TEST_F(TlogEntryTest, ProofIndexOutsideTheTreeIsInvalid) {
  auto e = entry(false, true);
  e.inclusionProof->logIndex = 5;
  auto verified = verifyTlogEntry(e, trusted());
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, ErrorKind::Invalid);
}

// --- what the body records

TEST_F(TlogEntryTest, HashedRekordBodyCoversItsSignatureAndPayload) {
  auto covered = entryCoversSignature(entry(true, false), signature_, payload_);
  ASSERT_TRUE(covered) << covered.error().describe();
  EXPECT_EQ(*covered, signer_.publicPem());
}

TEST_F(TlogEntryTest, HashedRekordBodyDoesNotCoverAnotherSignatureOrPayload) {
  auto otherSignature =
      entryCoversSignature(entry(true, false), signer_.sign("other", EVP_sha256()), payload_);
  ASSERT_FALSE(otherSignature);
  EXPECT_EQ(otherSignature.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(otherSignature.error().message, HasSubstr("records another signature"));

  auto otherPayload = entryCoversSignature(entry(true, false), signature_, payload_ + " ");
  ASSERT_FALSE(otherPayload);
  EXPECT_EQ(otherPayload.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(otherPayload.error().message, HasSubstr("over other bytes"));
}

TEST_F(TlogEntryTest, DsseBodyCoversItsSignatureAndPayload) {
  auto e = entry(false, false);
  e.canonicalizedBody = dsseBody(signature_, payload_, signer_.publicPem());
  e.kind = "dsse";
  auto covered = entryCoversSignature(e, signature_, payload_);
  ASSERT_TRUE(covered) << covered.error().describe();
  EXPECT_EQ(*covered, signer_.publicPem());

  auto otherSignature = entryCoversSignature(e, "another signature", payload_);
  ASSERT_FALSE(otherSignature);
  EXPECT_EQ(otherSignature.error().kind, ErrorKind::Terminal);
  auto otherPayload = entryCoversSignature(e, signature_, "another payload");
  ASSERT_FALSE(otherPayload);
  EXPECT_EQ(otherPayload.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(otherPayload.error().message, HasSubstr("another payload"));
}

TEST_F(TlogEntryTest, OtherKindsAreRefusedClearly) {
  auto e = entry(false, false);
  e.canonicalizedBody = R"({"apiVersion":"0.0.2","kind":"intoto","spec":{}})";
  auto covered = entryCoversSignature(e, signature_, payload_);
  ASSERT_FALSE(covered);
  EXPECT_EQ(covered.error().kind, ErrorKind::Terminal);
  EXPECT_THAT(covered.error().message, HasSubstr("intoto 0.0.2 are not supported"));
}

TEST_F(TlogEntryTest, UnreadableBodyIsInvalid) {
  auto e = entry(false, false);
  e.canonicalizedBody = R"({"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{}}})";
  auto covered = entryCoversSignature(e, signature_, payload_);
  ASSERT_FALSE(covered);
  EXPECT_EQ(covered.error().kind, ErrorKind::Invalid);
  EXPECT_EQ(covered.error().field, "canonicalizedBody.spec.signature");
}

// --- parsing

// The element of a bundle's verificationMaterial.tlogEntries[] for `e`, as protojson writes it.
boost::json::object bundleJson(const TlogEntry& e) {
  boost::json::object out{
      {"logIndex", std::to_string(e.logIndex)},
      {"logId", {{"keyId", kube::base64Encode(e.logId)}}},
      {"kindVersion", {{"kind", e.kind}, {"version", e.version}}},
      {"integratedTime", std::to_string(e.integratedTime)},
      {"canonicalizedBody", kube::base64Encode(e.canonicalizedBody)},
  };
  if (!e.signedEntryTimestamp.empty()) {
    out["inclusionPromise"] = {
        {"signedEntryTimestamp", kube::base64Encode(e.signedEntryTimestamp)}};
  }
  if (e.inclusionProof) {
    boost::json::array hashes;
    for (const auto& hash : e.inclusionProof->hashes) {
      hashes.emplace_back(kube::base64Encode(hash));
    }
    out["inclusionProof"] = {{"logIndex", std::to_string(e.inclusionProof->logIndex)},
                             {"rootHash", kube::base64Encode(e.inclusionProof->rootHash)},
                             {"treeSize", std::to_string(e.inclusionProof->treeSize)},
                             {"hashes", hashes},
                             {"checkpoint", {{"envelope", e.inclusionProof->checkpoint}}}};
  }
  return out;
}

TEST_F(TlogEntryTest, BundleEntryParsesAndVerifies) {
  auto original = entry(true, true);
  auto parsed = parseBundleTlogEntry(bundleJson(original), "verificationMaterial.tlogEntries[0]");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->logIndex, kLogIndex);
  EXPECT_EQ(parsed->logId, original.logId);
  EXPECT_EQ(parsed->integratedTime, kIntegratedTime);
  EXPECT_EQ(parsed->canonicalizedBody, body_);
  EXPECT_EQ(parsed->signedEntryTimestamp, original.signedEntryTimestamp);
  EXPECT_EQ(parsed->kind, "hashedrekord");
  EXPECT_EQ(parsed->version, "0.0.1");
  ASSERT_TRUE(parsed->inclusionProof.has_value());
  EXPECT_EQ(parsed->inclusionProof->hashes, original.inclusionProof->hashes);
  EXPECT_EQ(parsed->inclusionProof->checkpoint, original.inclusionProof->checkpoint);
  auto verified = verifyTlogEntry(*parsed, trusted());
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->integratedTime, at(kIntegratedTime));
}

TEST_F(TlogEntryTest, BundleEntryTakesNumbersAndUrlSafeUnpaddedBase64AsProtojsonDoes) {
  auto original = entry(true, false);
  auto json = bundleJson(original);
  json["logIndex"] = kLogIndex;
  json["integratedTime"] = kIntegratedTime;
  std::string keyId = kube::base64Encode(original.logId);
  std::replace(keyId.begin(), keyId.end(), '+', '-');
  std::replace(keyId.begin(), keyId.end(), '/', '_');
  keyId.erase(keyId.find_last_not_of('=') + 1);
  json["logId"] = {{"keyId", keyId}};
  auto parsed = parseBundleTlogEntry(json, "tlogEntries[0]");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->logIndex, kLogIndex);
  EXPECT_EQ(parsed->integratedTime, kIntegratedTime);
  EXPECT_EQ(parsed->logId, original.logId);
}

TEST_F(TlogEntryTest, MalformedBundleEntryNamesTheField) {
  struct Case {
    std::function<void(boost::json::object&)> change;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](auto& j) { j.erase("logId"); }, "tlogEntries[0].logId"},
      {[](auto& j) {
         j["logId"] = {{"keyId", "not base64!"}};
       },
       "tlogEntries[0].logId.keyId"},
      {[](auto& j) {
         j["logId"] = {{"keyId", "AAAA"}};
       },
       "tlogEntries[0].logId.keyId"},
      {[](auto& j) { j["logIndex"] = "12x"; }, "tlogEntries[0].logIndex"},
      {[](auto& j) { j["integratedTime"] = true; }, "tlogEntries[0].integratedTime"},
      {[](auto& j) { j.erase("kindVersion"); }, "tlogEntries[0].kindVersion"},
      {[](auto& j) {
         j["kindVersion"] = {{"kind", "dsse"}, {"version", "0.0.1"}};
       },
       "tlogEntries[0].kindVersion"},
      {[](auto& j) { j.erase("canonicalizedBody"); }, "tlogEntries[0].canonicalizedBody"},
      {[](auto& j) { j["canonicalizedBody"] = kube::base64Encode("not json"); },
       "tlogEntries[0].canonicalizedBody"},
      {[](auto& j) {
         j["inclusionPromise"] = {{"signedEntryTimestamp", "%%%"}};
       },
       "tlogEntries[0].inclusionPromise.signedEntryTimestamp"},
      {[](auto& j) { j["inclusionProof"].as_object()["hashes"].as_array()[1] = "AAAA"; },
       "tlogEntries[0].inclusionProof.hashes[1]"},
      {[](auto& j) { j["inclusionProof"].as_object().erase("checkpoint"); },
       "tlogEntries[0].inclusionProof.checkpoint"},
      {[](auto& j) { j["inclusionProof"].as_object()["rootHash"] = "AAAA"; },
       "tlogEntries[0].inclusionProof.rootHash"},
  };
  for (const auto& c : cases) {
    auto json = bundleJson(entry(true, true));
    c.change(json);
    auto parsed = parseBundleTlogEntry(json, "tlogEntries[0]");
    ASSERT_FALSE(parsed) << c.field;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Invalid) << c.field;
    EXPECT_EQ(parsed.error().field, c.field) << parsed.error().describe();
  }
}

TEST_F(TlogEntryTest, CosignAnnotationParsesAndVerifies) {
  auto original = entry(true, false);
  auto annotation = boost::json::serialize(boost::json::object{
      {"SignedEntryTimestamp", kube::base64Encode(original.signedEntryTimestamp)},
      {"Payload",
       {{"body", kube::base64Encode(body_)},
        {"integratedTime", kIntegratedTime},
        {"logIndex", kLogIndex},
        {"logID", hex(original.logId)}}}});
  auto parsed = parseCosignBundleAnnotation(annotation);
  ASSERT_TRUE(parsed) << parsed.error().describe();
  EXPECT_EQ(parsed->kind, "hashedrekord");
  EXPECT_EQ(parsed->version, "0.0.1");
  EXPECT_EQ(parsed->logId, original.logId);
  auto verified = verifyTlogEntry(*parsed, trusted());
  ASSERT_TRUE(verified) << verified.error().describe();
  EXPECT_EQ(verified->integratedTime, at(kIntegratedTime));
  EXPECT_TRUE(entryCoversSignature(*parsed, signature_, payload_));
}

TEST_F(TlogEntryTest, MalformedCosignAnnotationNamesTheField) {
  auto base = boost::json::object{{"SignedEntryTimestamp", kube::base64Encode("set")},
                                  {"Payload",
                                   {{"body", kube::base64Encode(body_)},
                                    {"integratedTime", kIntegratedTime},
                                    {"logIndex", kLogIndex},
                                    {"logID", hex(logIdOf(log_))}}}};
  auto badLogId = base;
  badLogId["Payload"].as_object()["logID"] = "xyz";
  auto noBody = base;
  noBody["Payload"].as_object().erase("body");
  for (const auto& [json, field] : std::vector<std::pair<std::string, std::string>>{
           {boost::json::serialize(badLogId), "dev.sigstore.cosign/bundle.Payload.logID"},
           {boost::json::serialize(noBody), "dev.sigstore.cosign/bundle.Payload.body"},
           {"{not json", "dev.sigstore.cosign/bundle"}}) {
    auto parsed = parseCosignBundleAnnotation(json);
    ASSERT_FALSE(parsed) << json;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Invalid);
    EXPECT_EQ(parsed.error().field, field) << parsed.error().describe();
  }
}

}  // namespace
}  // namespace mc::signing
