#include "mc/audit/chain.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace mc::audit {
namespace {

using ::testing::HasSubstr;

crds::AuditRecordSpec firstRecord() {
  crds::AuditRecordSpec spec;
  spec.chain = "rollout-web";
  spec.seq = 1;
  spec.actor = "mc";
  spec.action = "CanaryStarted";
  spec.subject = "Rollout/web";
  spec.revision = 2;
  spec.from = "web=registry.local/web:v1";
  spec.to = "web=registry.local/web:v2";
  spec.reason = "a new pod template: canary at step 1 of 4";
  spec.evidence = {{"weight", "10"}, {"errorRate", "0.0125"}};
  spec.at = "2026-12-03T10:00:00Z";
  spec.prevHash = std::string(kGenesisHash);
  return spec;
}

// The vector computed apart from MC (Python's hashlib over json.dumps with sorted keys and no
// spaces, which is RFC 8785 for a record of ASCII strings and integers); docs/audit.md shows it.
TEST(RecordHash, IsSha256OfPrevHashAndTheCanonicalRest) {
  auto hash = recordHash(firstRecord());
  ASSERT_TRUE(hash) << hash.error().describe();
  EXPECT_EQ(*hash, "5e2283714b13aeecccdea87fee9883118720c882be69eb182632e02601fd357f");
}

TEST(RecordHash, CoversEveryFieldButItself) {
  const std::string base = *recordHash(firstRecord());
  auto withHash = firstRecord();
  withHash.hash = "ignored";
  EXPECT_EQ(*recordHash(withHash), base);
  std::vector<void (*)(crds::AuditRecordSpec&)> edits{
      [](auto& s) { s.seq = 2; },           [](auto& s) { s.actor = "alice"; },
      [](auto& s) { s.reason += "."; },     [](auto& s) { s.revision = 3; },
      [](auto& s) { s.revision.reset(); },  [](auto& s) { s.evidence["weight"] = "30"; },
      [](auto& s) { s.prevHash[0] = '1'; }, [](auto& s) { s.at = "2026-12-03T10:00:01Z"; }};
  for (size_t i = 0; i < edits.size(); ++i) {
    auto edited = firstRecord();
    edits[i](edited);
    EXPECT_NE(*recordHash(edited), base) << "edit " << i;
  }
}

TEST(RecordHash, RefusesNumbersInEvidence) {
  auto spec = firstRecord();
  spec.evidence["errorRate"] = 0.0125;
  auto hash = recordHash(spec);
  ASSERT_FALSE(hash);
  EXPECT_THAT(hash.error().message, HasSubstr("decimal strings"));
}

// A chain of `n` records as MC writes it, and its head.
struct Chain {
  std::vector<ChainRecord> records;
  crds::AuditChainHead head;

  explicit Chain(int n) {
    for (int i = 0; i < n; ++i) append("StepAdvanced", {{"step", std::to_string(i)}});
  }
  void append(std::string action, boost::json::object evidence) {
    auto spec = firstRecord();
    spec.seq = head.seq + 1;
    spec.action = std::move(action);
    spec.evidence = std::move(evidence);
    spec.prevHash = head.seq == 0 ? std::string(kGenesisHash) : head.hash;
    spec.hash = *recordHash(spec);
    records.push_back({"web.r" + std::to_string(spec.seq), spec});
    head = {spec.seq, spec.hash, records.back().name, head.checkpoint};
  }
  // Retention: a checkpoint at the end, then the records up to `through` deleted.
  void prune(int64_t through) {
    std::string hash;
    for (const auto& record : records) {
      if (record.spec.seq == through) hash = record.spec.hash;
    }
    append(kCheckpointAction, {{"prunedThrough", std::to_string(through)}, {"prunedHash", hash}});
    head.checkpoint = head.seq;
    std::erase_if(records, [&](const auto& record) { return record.spec.seq <= through; });
  }
  ChainVerdict verify() const { return verifyChain("rollout-web", records, head); }
};

TEST(VerifyChain, AcceptsAnIntactChainInAnyOrder) {
  Chain chain(5);
  std::reverse(chain.records.begin(), chain.records.end());  // as a list may return them
  auto verdict = chain.verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
  EXPECT_EQ(verdict.records, 5u);
  EXPECT_EQ(verdict.first, 1);
  EXPECT_EQ(verdict.last, 5);
  EXPECT_TRUE(Chain(0).verify().intact());
}

TEST(VerifyChain, NamesADeletedRecord) {
  Chain chain(5);
  chain.records.erase(chain.records.begin() + 2);  // seq 3
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 3);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("seq 3 is missing"));
  EXPECT_THAT(verdict.broken->problem, HasSubstr("deleted"));
}

TEST(VerifyChain, NamesTheNewestRecordDeletedBehindTheHead) {
  Chain chain(5);
  chain.records.pop_back();
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 5);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("the head is seq 5"));
}

TEST(VerifyChain, NamesADeletedFirstRecord) {
  Chain chain(3);
  chain.records.erase(chain.records.begin());
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_THAT(verdict.broken->problem, HasSubstr("no checkpoint"));
}

TEST(VerifyChain, NamesAnEditedRecord) {
  Chain chain(5);
  chain.records[1].spec.reason = "nothing to see here";
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 2);
  EXPECT_EQ(verdict.broken->record, "web.r2");
  EXPECT_THAT(verdict.broken->problem, HasSubstr("edited"));
}

// Deleted and made again with other content and a hash that matches it: the next record no
// longer links to it.
TEST(VerifyChain, NamesARecordRecreatedWithOtherContent) {
  Chain chain(5);
  auto& forged = chain.records[2].spec;
  forged.actor = "mallory";
  forged.hash = *recordHash(forged);
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 4);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("does not link to seq 3"));
}

TEST(VerifyChain, NamesTheNewestRecordRecreatedAfterTheHeadNamedIt) {
  Chain chain(3);
  auto& forged = chain.records[2].spec;
  forged.actor = "mallory";
  forged.hash = *recordHash(forged);
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 3);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("not the head's"));
}

// Two records swap places (their seqs swapped and rehashed, so each is self-consistent).
TEST(VerifyChain, NamesReorderedRecords) {
  Chain chain(5);
  auto& a = chain.records[1].spec;
  auto& b = chain.records[2].spec;
  std::swap(a.seq, b.seq);
  std::swap(a.prevHash, b.prevHash);
  a.hash = *recordHash(a);
  b.hash = *recordHash(b);
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 3);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("does not link"));
}

TEST(VerifyChain, NamesAFork) {
  Chain chain(3);
  auto copy = chain.records[1];
  copy.name = "web.other";
  copy.spec.action = "Promoted";
  copy.spec.hash = *recordHash(copy.spec);
  chain.records.push_back(copy);
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 2);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("held by two records"));
}

TEST(VerifyChain, NamesARecordOfAnotherChain) {
  Chain chain(2);
  chain.records[0].spec.chain = "rollout-api";
  chain.records[0].spec.hash = *recordHash(chain.records[0].spec);
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_THAT(verdict.broken->problem, HasSubstr("belongs to chain rollout-api"));
}

// A record written just before MC stopped, before it moved the head: it links, so it stands,
// and verify says how many there are.
TEST(VerifyChain, CountsRecordsBeyondTheHeadThatLink) {
  Chain chain(4);
  auto head = chain.records[2].spec;
  chain.head = {head.seq, head.hash, chain.records[2].name, 0};
  auto verdict = chain.verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
  EXPECT_EQ(verdict.beyondHead, 1u);
}

TEST(VerifyChain, ProvesTheRestAfterACheckpoint) {
  Chain chain(6);
  chain.prune(4);
  chain.append("Promoted", {});
  ASSERT_EQ(chain.records.front().spec.seq, 5);
  auto verdict = chain.verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
  EXPECT_EQ(verdict.first, 5);
  EXPECT_EQ(verdict.last, 8);
}

TEST(VerifyChain, RefusesACheckpointThatVouchesForAnotherPrefix) {
  Chain chain(6);
  chain.prune(4);
  auto& checkpoint = chain.records[2].spec;  // seq 7
  ASSERT_EQ(checkpoint.action, kCheckpointAction);
  checkpoint.evidence["prunedHash"] = std::string(64, 'f');
  checkpoint.hash = *recordHash(checkpoint);
  chain.head.hash = checkpoint.hash;
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_EQ(verdict.broken->seq, 5);
  EXPECT_THAT(verdict.broken->problem, HasSubstr("pruned prefix"));
}

TEST(VerifyChain, NamesARecordDeletedAfterTheCheckpointsPrefix) {
  Chain chain(6);
  chain.prune(3);
  chain.records.erase(chain.records.begin());  // seq 4, not pruned by the checkpoint
  auto verdict = chain.verify();
  ASSERT_FALSE(verdict.intact());
  EXPECT_THAT(verdict.broken->problem, HasSubstr("no checkpoint"));
}

}  // namespace
}  // namespace mc::audit
