#include "mc/cli/audit_view.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/cli/rollout_view.h"

namespace mc::cli {
namespace {

using ::testing::HasSubstr;

audit::ChainRecord record(int64_t seq, std::string action, std::string actor) {
  crds::AuditRecordSpec spec;
  spec.chain = "rollout-web";
  spec.seq = seq;
  spec.actor = std::move(actor);
  spec.action = std::move(action);
  spec.from = "web=registry.local/web:1";
  spec.to = "web=registry.local/web:2";
  spec.reason = "step 2/4: setWeight 30";
  spec.at = "2026-12-03T10:00:0" + std::to_string(seq) + "Z";
  return {"web.r" + std::to_string(seq), spec};
}

TEST(AuditLogTable, OneRowARecordInSeqOrder) {
  auto promoted = record(2, "Promoted", "alice@example.com");
  auto started = record(1, "CanaryStarted", "mc");
  std::string out = auditLogTable({promoted, started});
  EXPECT_THAT(out, HasSubstr("SEQ   WHEN"));
  EXPECT_LT(out.find("CanaryStarted"), out.find("Promoted"));
  EXPECT_THAT(out, HasSubstr("alice@example.com   Promoted"));
  EXPECT_THAT(out, HasSubstr("registry.local/web:1 -> registry.local/web:2"));
}

TEST(AuditLogTable, ShowsSeveralContainersWhole) {
  EXPECT_EQ(shortImages("web=a:1"), "a:1");
  EXPECT_EQ(shortImages("web=a:1,log=b:2"), "web=a:1,log=b:2");
}

TEST(AuditLogJson, IsTheRecordsWholeInSeqOrder) {
  auto parsed = boost::json::parse(auditLogJson({record(2, "Promoted", "a"), record(1, "X", "b")}));
  ASSERT_EQ(parsed.as_array().size(), 2u);
  EXPECT_EQ(parsed.at(0).at("name"), "web.r1");
  EXPECT_EQ(parsed.at(1).at("spec").at("actor"), "a");
  EXPECT_EQ(parsed.at(1).at("spec").at("seq"), 2);
}

TEST(VerifyReport, SaysWhereTheChainBreaks) {
  audit::ChainVerdict broken;
  broken.broken = audit::ChainBreak{4, "web.r4", "its content does not match its hash"};
  EXPECT_EQ(verifyReport("rollout-web", broken, {}),
            "chain rollout-web is BROKEN at seq 4 (web.r4): its content does not match its "
            "hash\n");
  audit::ChainVerdict intact;
  intact.records = 12;
  intact.first = 1;
  intact.last = 12;
  EXPECT_THAT(verifyReport("rollout-web", intact, {12, "h", "web.r12", 0}),
              HasSubstr("12 records (seq 1 to 12), every hash and link verified; head seq 12"));
}

TEST(WithRequester, NamesTheRequesterAndDropsAStaleReason) {
  auto patched = boost::json::parse(withRequester(R"({"status":{"abort":true}})", "alice", ""));
  EXPECT_EQ(patched.at("status").at("abort"), true);
  EXPECT_EQ(patched.at("status").at("requestedBy"), "alice");
  EXPECT_TRUE(patched.at("status").at("requestReason").is_null());
  auto reasoned = boost::json::parse(withRequester(
      R"({"metadata":{"resourceVersion":"7"},"status":{"promoteStep":1}})", "bob", "CHG-1"));
  EXPECT_EQ(reasoned.at("metadata").at("resourceVersion"), "7");
  EXPECT_EQ(reasoned.at("status").at("requestReason"), "CHG-1");
}

TEST(WithRequester, JoinsAJsonPatchAsOperations) {
  EXPECT_EQ(boost::json::parse(withRequester(
                R"([{"op":"add","path":"/status/promoteStep","value":1}])", "alice", "")),
            boost::json::parse(R"([{"op":"add","path":"/status/promoteStep","value":1},
                                   {"op":"add","path":"/status/requestedBy","value":"alice"},
                                   {"op":"add","path":"/status/requestReason","value":""}])"));
}

}  // namespace
}  // namespace mc::cli
