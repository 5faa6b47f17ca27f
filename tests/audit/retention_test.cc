// Retention on the fake apiserver: old records beyond the newest `keep` go to the sink, then
// behind a checkpoint, then away; the chain verifies before, during and after, and a prune
// killed midway is finished by the next.
#include "mc/audit/retention.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/common/timefmt.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/fake_clock.h"
#include "mc/testing/io_thread.h"

namespace mc::audit {
namespace {

using namespace std::chrono_literals;
using test::FakeApiServer;
using test::Verb;

const kube::ResourceType kRecords{"mc.maestro.dev", "v1alpha1", "auditrecords"};
const kube::ResourceType kChains{"mc.maestro.dev", "v1alpha1", "auditchains"};
constexpr const char* kNs = "shop";

class CountingSink final : public Sink {
 public:
  void write(const std::string&, const std::string&, const crds::AuditRecordSpec& r) override {
    seqs.push_back(r.seq);
  }
  std::vector<int64_t> seqs;
};

class RetentionTest : public ::testing::Test {
 protected:
  // `n` decisions, one an hour, the first `age` ago.
  void write(int n, std::chrono::hours age) {
    for (int i = 0; i < n; ++i) {
      Entry entry;
      entry.name = fmt::format("web.d{}", written_++);
      entry.chain = "rollout-web";
      entry.spec.actor = "mc";
      entry.spec.action = "StepAdvanced";
      entry.spec.subject = "Rollout/web";
      entry.spec.at = formatTime(clock.wallNow() - age + std::chrono::hours(i));
      ASSERT_TRUE(io.run(writer.append(kNs, std::move(entry))));
    }
  }
  std::vector<ChainRecord> records() const {
    std::vector<ChainRecord> out;
    for (const auto& item : api.items(kRecords, kNs)) {
      out.push_back({kube::nameOf(item), *crds::readAuditRecordSpec(item.at("spec"))});
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.spec.seq < b.spec.seq; });
    return out;
  }
  ChainVerdict verify() const {
    auto chain = api.read(kChains, kNs, "rollout-web");
    return verifyChain("rollout-web", records(), *crds::readAuditChainHead(*chain));
  }
  Result<int64_t> prune() { return io.run(retention.prune(kNs, "rollout-web")); }

  test::FakeClock clock;
  FakeApiServer api{clock};
  test::IoThread io;
  CountingSink sink;
  ChainWriter writer{api, &sink};
  Retention retention{api, writer, &sink, RetentionPolicy{24h * 90, 20}, clock};
  int written_ = 0;
};

TEST_F(RetentionTest, PrunesOldRecordsBeyondTheNewestBehindACheckpoint) {
  write(25, 24h * 200);  // seq 1..25, all older than 90 days
  write(4, 1h);          // seq 26..29, recent
  sink.seqs.clear();
  auto pruned = prune();
  ASSERT_TRUE(pruned) << pruned.error().describe();
  // Beyond the newest 20 of head 29: seq 1..9; all of them old.
  EXPECT_EQ(*pruned, 9);
  auto kept = records();
  ASSERT_EQ(kept.front().spec.seq, 10);
  ASSERT_EQ(kept.back().spec.action, kCheckpointAction);
  EXPECT_EQ(kept.back().spec.evidence.at("prunedThrough"), "9");
  EXPECT_EQ(kept.back().spec.evidence.at("prunedRecords"), "9");
  EXPECT_EQ(sink.seqs, (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 30}))
      << "each pruned record went to the sink before the checkpoint (seq 30) was written";
  auto verdict = verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
  EXPECT_EQ(verdict.first, 10);
  // seq 10 is beyond the newest 20 of head 30 now, but one record is less than a batch of 2.
  EXPECT_EQ(*prune(), 0);
  write(1, 0h);
  EXPECT_TRUE(verify().intact());
}

TEST_F(RetentionTest, KeepsRecentRecordsHoweverMany) {
  write(40, 10h);
  EXPECT_EQ(*prune(), 0);
  EXPECT_EQ(records().size(), 40u);
}

TEST_F(RetentionTest, AChainBeyondItsLimitButYoungIsKept) {
  write(20, 24h * 200);
  EXPECT_EQ(*prune(), 0) << "20 records, no more than the newest 20";
}

// Killed after its checkpoint, with only some deletes done: the chain verifies as it stands, and
// the next run finishes the deletes without a second checkpoint.
TEST_F(RetentionTest, APruneKilledMidwayIsFinishedByTheNext) {
  write(30, 24h * 200);
  int deletes = 0;
  api.setWriteHook([&](const test::WriteRequest& request) -> std::optional<Error> {
    if (request.verb == Verb::Delete && ++deletes > 2) {
      return makeError(ErrorKind::Transient, "mc-operator was killed");
    }
    return std::nullopt;
  });
  ASSERT_FALSE(prune());
  ASSERT_EQ(records().front().spec.seq, 3) << "two deletes landed: the fault happened";
  auto midway = verify();
  EXPECT_TRUE(midway.intact()) << midway.broken->problem;
  api.setWriteHook({});
  auto finished = prune();
  ASSERT_TRUE(finished);
  EXPECT_EQ(*finished, 8) << "seq 3..10 of the prefix through 10";
  EXPECT_EQ(records().front().spec.seq, 11);
  int checkpoints = 0;
  for (const auto& r : records()) checkpoints += r.spec.action == kCheckpointAction ? 1 : 0;
  EXPECT_EQ(checkpoints, 1);
  EXPECT_TRUE(verify().intact());
}

TEST_F(RetentionTest, NothingIsDeletedWithoutItsCheckpoint) {
  write(30, 24h * 200);
  api.failNext(Verb::Create, "auditrecords", 1, makeError(ErrorKind::Forbidden, "no", 403));
  ASSERT_FALSE(prune());
  EXPECT_EQ(records().size(), 30u);
  EXPECT_EQ(api.writes(Verb::Delete, "auditrecords"), 0);
}

TEST(PrunableThrough, StopsAtTheFirstRecordTooYoungOrTooNew) {
  auto now = std::chrono::system_clock::time_point(std::chrono::hours(24 * 1000));
  std::vector<ChainRecord> records;
  for (int seq = 1; seq <= 6; ++seq) {
    crds::AuditRecordSpec spec;
    spec.seq = seq;
    spec.at = formatTime(now - std::chrono::hours(24 * (seq == 3 ? 1 : 100)));
    records.push_back({"r", spec});
  }
  crds::AuditChainHead head{6, "", "", 0};
  EXPECT_EQ(prunableThrough(records, head, now, {24h * 90, 2}), 2) << "seq 3 is young";
  records[2].spec.at = records[0].spec.at;
  EXPECT_EQ(prunableThrough(records, head, now, {24h * 90, 2}), 4) << "the newest 2 stay";
  EXPECT_EQ(prunableThrough(records, head, now, {24h * 90, 6}), 0);
}

}  // namespace
}  // namespace mc::audit
