// ChainWriter on the fake apiserver: records linked in order, each decision once, the head in
// the AuditChain's status, and a record written just before a crash taken in by the next writer.
#include "mc/audit/writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

#include "mc/audit/chain.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/io_thread.h"

namespace mc::audit {
namespace {

namespace json = boost::json;
using test::FakeApiServer;
using test::Verb;

const kube::ResourceType kRecords{"mc.maestro.dev", "v1alpha1", "auditrecords"};
const kube::ResourceType kChains{"mc.maestro.dev", "v1alpha1", "auditchains"};
constexpr const char* kNs = "shop";

class MemorySink final : public Sink {
 public:
  void write(const std::string&, const std::string& name, const crds::AuditRecordSpec&) override {
    names.push_back(name);
  }
  std::vector<std::string> names;
};

Entry decision(std::string name, std::string action) {
  Entry entry;
  entry.name = std::move(name);
  entry.chain = rolloutChain("web");
  entry.spec.actor = "mc";
  entry.spec.action = std::move(action);
  entry.spec.subject = "Rollout/web";
  entry.spec.revision = 2;
  entry.spec.reason = "because";
  entry.spec.evidence = {{"weight", "10"}};
  entry.spec.at = "2026-12-03T10:00:00Z";
  return entry;
}

class ChainWriterTest : public ::testing::Test {
 protected:
  Result<void> append(ChainWriter& writer, Entry entry) {
    return io.run(writer.append(kNs, std::move(entry)));
  }
  std::vector<ChainRecord> records() const {
    std::vector<ChainRecord> out;
    for (const auto& item : api.items(kRecords, kNs)) {
      out.push_back({kube::nameOf(item), *crds::readAuditRecordSpec(item.at("spec"))});
    }
    return out;
  }
  crds::AuditChainHead head() const {
    auto chain = api.read(kChains, kNs, "rollout-web");
    EXPECT_TRUE(chain.has_value());
    return chain ? *crds::readAuditChainHead(*chain) : crds::AuditChainHead{};
  }
  ChainVerdict verify() const { return verifyChain("rollout-web", records(), head()); }

  FakeApiServer api;
  test::IoThread io;
  MemorySink sink;
};

TEST_F(ChainWriterTest, LinksRecordsInOrderAndMovesTheHead) {
  ChainWriter writer(api, &sink);
  for (auto [name, action] : {std::pair{"web.a1.started", "CanaryStarted"},
                              {"web.a1.step-1", "StepAdvanced"},
                              {"web.a1.promoted", "Promoted"}}) {
    auto appended = append(writer, decision(name, action));
    ASSERT_TRUE(appended) << appended.error().describe();
  }
  auto all = records();
  ASSERT_EQ(all.size(), 3u);
  auto third = api.read(kRecords, kNs, "web.a1.promoted");
  ASSERT_TRUE(third);
  EXPECT_EQ(third->at("spec").at("seq"), 3);
  EXPECT_EQ(third->at("metadata").at("labels").at("mc.maestro.dev/audit-chain"), "rollout-web");
  EXPECT_EQ(third->at("metadata").at("labels").at("mc.maestro.dev/audit-seq"), "3");
  EXPECT_EQ(head().seq, 3);
  EXPECT_EQ(head().record, "web.a1.promoted");
  auto chain = api.read(kChains, kNs, "rollout-web");
  EXPECT_EQ(chain->at("spec").at("subject"), "Rollout/web");
  auto verdict = verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
  EXPECT_EQ(sink.names,
            (std::vector<std::string>{"web.a1.started", "web.a1.step-1", "web.a1.promoted"}));
}

TEST_F(ChainWriterTest, WritesADecisionOnce) {
  ChainWriter writer(api, &sink);
  ASSERT_TRUE(append(writer, decision("web.a1.started", "CanaryStarted")));
  ASSERT_TRUE(append(writer, decision("web.a1.started", "CanaryStarted")));
  EXPECT_EQ(api.writes(Verb::Create, "auditrecords"), 1);
  // A writer that starts afresh (MC restarted) finds it by its name too.
  ChainWriter restarted(api, &sink);
  ASSERT_TRUE(append(restarted, decision("web.a1.started", "CanaryStarted")));
  EXPECT_EQ(records().size(), 1u);
  EXPECT_EQ(head().seq, 1);
}

// MC killed between a record and its head: the record stands, and the next writer takes it into
// the head before it writes the next, so the chain neither forks nor loses it.
TEST_F(ChainWriterTest, TakesInARecordWrittenBeforeACrash) {
  {
    ChainWriter writer(api, &sink);
    ASSERT_TRUE(append(writer, decision("web.a1.started", "CanaryStarted")));
    api.failNext(Verb::Update, "auditchains/status", 1,
                 makeError(ErrorKind::Transient, "connection reset"));
    auto appended = append(writer, decision("web.a1.step-1", "StepAdvanced"));
    ASSERT_FALSE(appended);  // so the step is not acted on
  }
  ASSERT_EQ(records().size(), 2u);
  ASSERT_EQ(head().seq, 1);  // the fault happened: the head lags its newest record
  ChainWriter restarted(api, &sink);
  ASSERT_TRUE(append(restarted, decision("web.a1.step-1", "StepAdvanced")));  // re-planned
  ASSERT_TRUE(append(restarted, decision("web.a1.step-2", "StepAdvanced")));
  EXPECT_EQ(records().size(), 3u);
  EXPECT_EQ(head().seq, 3);
  auto verdict = verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
}

// The same, with the writer that failed going on (no restart): it reads the chain again.
TEST_F(ChainWriterTest, ReadsTheChainAgainAfterAFailedWrite) {
  ChainWriter writer(api, &sink);
  ASSERT_TRUE(append(writer, decision("web.a1.started", "CanaryStarted")));
  api.failNext(Verb::Update, "auditchains/status", 1,
               makeError(ErrorKind::Transient, "connection reset"));
  ASSERT_FALSE(append(writer, decision("web.a1.step-1", "StepAdvanced")));
  ASSERT_TRUE(append(writer, decision("web.a1.paused", "Paused")));  // another decision next
  EXPECT_EQ(records().size(), 3u);
  EXPECT_EQ(head().seq, 3);
  EXPECT_TRUE(verify().intact());
}

TEST_F(ChainWriterTest, AFailedCreateWritesNothing) {
  ChainWriter writer(api, &sink);
  api.failNext(Verb::Create, "auditrecords", 1, makeError(ErrorKind::Forbidden, "no", 403));
  auto appended = append(writer, decision("web.a1.started", "CanaryStarted"));
  ASSERT_FALSE(appended);
  EXPECT_EQ(appended.error().kind, ErrorKind::Forbidden);
  EXPECT_TRUE(records().empty());
  ASSERT_TRUE(append(writer, decision("web.a1.started", "CanaryStarted")));
  EXPECT_EQ(head().seq, 1);
}

// Two controllers deciding at once (a Rollout's step, its run's verdict) share one chain.
TEST_F(ChainWriterTest, SerialisesAppendsToOneChain) {
  ChainWriter writer(api, &sink);
  using namespace boost::asio::experimental::awaitable_operators;
  auto both = io.run([&]() -> boost::asio::awaitable<std::pair<bool, bool>> {
    auto [a, b] = co_await (writer.append(kNs, decision("web.a1.step-1", "StepAdvanced")) &&
                            writer.append(kNs, decision("web-1-1.verdict", "AnalysisVerdict")));
    co_return std::pair{bool(a), bool(b)};
  }());
  EXPECT_TRUE(both.first);
  EXPECT_TRUE(both.second);
  EXPECT_EQ(records().size(), 2u);
  auto verdict = verify();
  EXPECT_TRUE(verdict.intact()) << verdict.broken->problem;
}

TEST_F(ChainWriterTest, KeepsChainsApart) {
  ChainWriter writer(api, &sink);
  ASSERT_TRUE(append(writer, decision("web.a1.started", "CanaryStarted")));
  auto other = decision("api.a1.started", "CanaryStarted");
  other.chain = rolloutChain("api");
  other.spec.subject = "Rollout/api";
  ASSERT_TRUE(append(writer, other));
  auto apiChain = api.read(kChains, kNs, "rollout-api");
  ASSERT_TRUE(apiChain);
  EXPECT_EQ(crds::readAuditChainHead(*apiChain)->seq, 1);
  EXPECT_EQ(head().seq, 1);
}

TEST(RolloutChain, CutsLongNamesKeepingThemApart) {
  EXPECT_EQ(rolloutChain("web"), "rollout-web");
  std::string a(250, 'a');
  std::string b = a + "b";
  EXPECT_LE(rolloutChain(a).size(), 253u);
  EXPECT_NE(rolloutChain(a), rolloutChain(b));
}

}  // namespace
}  // namespace mc::audit
