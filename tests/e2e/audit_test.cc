// The audit chain end to end: mc-operator as the chart's ServiceAccount with the chart's RBAC and
// admission policies, records written through the real apiserver and read back, their hashes
// recomputed from what the apiserver returns, people named as the apiserver authenticated them,
// and the chain whole after SIGKILLs and a leader change.
#include "mc/crds/audit.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <sstream>

#include "e2e_support.h"
#include "mc/audit/chain.h"
#include "mc/e2e/poll.h"

namespace mc::e2e {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Rollout "web" of 4 pods running `image` with canary `steps` (a YAML flow sequence).
std::string stepsRolloutYaml(const std::string& image, const std::string& steps) {
  return rolloutYaml(image, "{steps: " + steps + "}", 4);
}

struct Chain {
  std::vector<audit::ChainRecord> records;  // in seq order
  crds::AuditChainHead head;
  audit::ChainVerdict verdict;
  // "Action by actor", in seq order.
  std::vector<std::string> trail() const {
    std::vector<std::string> out;
    for (const auto& record : records) {
      out.push_back(record.spec.action + " by " + record.spec.actor);
    }
    return out;
  }
  const crds::AuditRecordSpec* find(const std::string& action) const {
    for (const auto& record : records) {
      if (record.spec.action == action) return &record.spec;
    }
    return nullptr;
  }
};

// The Rollout's chain as the apiserver returns it, every hash recomputed from those bytes.
Chain readChain(const std::string& ns) {
  Chain chain;
  auto list = getJson({"auditrecords", "-n", ns, "-l", "mc.maestro.dev/audit-chain=rollout-web"});
  if (auto* items = at(list, {"items"}); items && items->is_array()) {
    for (const auto& item : items->as_array()) {
      auto spec = crds::readAuditRecordSpec(*at(item, {"spec"}));
      EXPECT_TRUE(spec) << json::serialize(item);
      if (spec) chain.records.push_back({text(item, {"metadata", "name"}), *spec});
    }
  }
  std::sort(chain.records.begin(), chain.records.end(),
            [](const auto& a, const auto& b) { return a.spec.seq < b.spec.seq; });
  auto head = getJson({"auditchain", "rollout-web", "-n", ns});
  if (head.is_object()) chain.head = *crds::readAuditChainHead(head.as_object());
  chain.verdict = audit::verifyChain("rollout-web", chain.records, chain.head);
  return chain;
}

class AuditE2ETest : public OperatorSuite<AuditE2ETest> {
 protected:
  static CommandResult kubectlMc(std::vector<std::string> args,
                                 const std::string& kubeconfig = "") {
    args.insert(args.begin(), KUBECTL_MC_BINARY);
    args.push_back("--kubeconfig");
    args.push_back(kubeconfig.empty() ? cp().kubeconfig().string() : kubeconfig);
    return run(args, 120s);
  }
  static json::value rollout(const std::string& ns) { return getJson({"mcro", "web", "-n", ns}); }
  static bool waitFor(const std::string& ns, int64_t step, const std::string& phase,
                      std::chrono::seconds timeout = 90s) {
    return pollUntil(
        [&] {
          auto r = rollout(ns);
          return number(r, {"status", "currentStepIndex"}) == step &&
                 text(r, {"status", "phase"}) == phase &&
                 number(r, {"status", "observedGeneration"}) ==
                     number(r, {"metadata", "generation"});
        },
        timeout, 200ms);
  }
  static std::string diagnostics(const std::string& ns) {
    return kubectl({"get", "mcro,rs,auditrecords", "-n", ns, "-o", "wide"}).output + "\n" +
           kubectl({"get", "mcro", "web", "-n", ns, "-o", "jsonpath={.status}"}).output;
  }
  // `kubectl patch` of the Rollout's status as the user of `kubeconfig`.
  static CommandResult patchStatus(const std::string& ns, const std::string& kubeconfig,
                                   const std::string& body) {
    return run({"kubectl", "--kubeconfig", kubeconfig, "-n", ns, "patch", "mcro", "web",
                "--subresource=status", "--type=merge", "-p", body});
  }

  friend OperatorSuite<AuditE2ETest>;
  static constexpr const char* kSuiteName = "audit-e2e";
  static constexpr const char* kSuiteNamespaces[] = {"life", "people"};
  static constexpr const char* kTimedSteps =
      "[{setWeight: 50}, {pause: {duration: 1s}}, {setWeight: 100}]";
};

// A canary's whole life writes exactly its decisions, in order, once each; the records come back
// from the apiserver with their hashes intact; the apiserver refuses to change or delete one;
// and a record deleted behind the policy's back is named by `kubectl mc audit verify`.
TEST_F(AuditE2ETest, ACanarysLifeIsOnRecordInOrderAndVerifies) {
  const std::string ns = "life";
  apply(ns, stepsRolloutYaml("example/web:1", kTimedSteps));
  ASSERT_TRUE(waitFor(ns, 3, "Healthy")) << diagnostics(ns);
  apply(ns, stepsRolloutYaml("example/web:2", kTimedSteps));
  ASSERT_TRUE(pollUntil(
      [&] {
        return text(rollout(ns), {"status", "stablePodHash"}) ==
                   text(rollout(ns), {"status", "currentPodHash"}) &&
               readChain(ns).find("Completed") != nullptr;
      },
      90s))
      << diagnostics(ns);

  Chain chain = readChain(ns);
  EXPECT_EQ(chain.trail(), (std::vector<std::string>{"CanaryStarted by mc", "StepAdvanced by mc",
                                                     "StepAdvanced by mc", "Paused by mc",
                                                     "StepAdvanced by mc", "Completed by mc"}));
  EXPECT_TRUE(chain.verdict.intact()) << chain.verdict.broken->problem;
  EXPECT_EQ(chain.head.seq, 6);
  const auto* started = chain.find("CanaryStarted");
  ASSERT_NE(started, nullptr);
  EXPECT_EQ(started->from, "web=example/web:1");
  EXPECT_EQ(started->to, "web=example/web:2");
  EXPECT_EQ(started->revision, 2);
  EXPECT_EQ(started->evidence.at("canaryWeight"), "50") << "a decimal string, kept as written";

  auto verified = kubectlMc({"audit", "verify", "web", "-n", ns});
  EXPECT_EQ(verified.exitCode, 0) << verified.output;
  EXPECT_NE(verified.output.find("6 records (seq 1 to 6), every hash and link verified"),
            std::string::npos)
      << verified.output;
  auto log = kubectlMc({"audit", "log", "web", "-n", ns});
  EXPECT_EQ(log.exitCode, 0) << log.output;
  EXPECT_NE(log.output.find("example/web:1 -> example/web:2"), std::string::npos) << log.output;
  // The sink: each record as a JSON line on mc-operator's stdout (its logs are on stderr).
  EXPECT_TRUE(pollUntil(
      [&] {
        return readFile(*dir_ / "mc-operator.log")
                   .find(fmt::format(R"("name":"{}")", chain.records.back().name)) !=
               std::string::npos;
      },
      10s));

  // The spec is immutable (the CRD's CEL rule), for the admin too; deletes and label edits are
  // MC's alone (the chart's policy); MC itself has no update (RBAC: it creates records, and
  // deletes them only for retention, which the chart grants while retention is on).
  const std::string first = chain.records.front().name;
  auto edited = kubectl({"patch", "auditrecord", first, "-n", ns, "--type=merge", "-p",
                         R"({"spec":{"reason":"nothing happened"}})"});
  EXPECT_NE(edited.exitCode, 0);
  EXPECT_NE(edited.output.find("an AuditRecord is immutable"), std::string::npos) << edited.output;
  auto deleted = kubectl({"delete", "auditrecord", first, "-n", ns});
  EXPECT_NE(deleted.exitCode, 0);
  EXPECT_NE(deleted.output.find("written by MC"), std::string::npos) << deleted.output;
  auto relabelled = kubectl({"label", "auditrecord", first, "-n", ns, "hidden=yes"});
  EXPECT_NE(relabelled.exitCode, 0) << relabelled.output;
  auto byMc = run({"kubectl", "--kubeconfig", serviceAccountKubeconfig(), "-n", ns, "label",
                   "auditrecord", first, "hidden=yes"});
  EXPECT_NE(byMc.exitCode, 0);
  EXPECT_NE(byMc.output.find("forbidden"), std::string::npos) << byMc.output;
  EXPECT_TRUE(readChain(ns).verdict.intact());

  // A cluster admin who lifts the policy can still delete a record: verify says where.
  ASSERT_EQ(kubectl({"delete", "validatingadmissionpolicybinding", "mc-audit-records"}).exitCode,
            0);
  ASSERT_TRUE(pollUntil(
      [&] {
        return kubectl({"delete", "auditrecord", chain.records[2].name, "-n", ns}).exitCode == 0;
      },
      30s))
      << "the binding's removal takes a moment to reach the apiserver's admission";
  auto broken = kubectlMc({"audit", "verify", "web", "-n", ns});
  EXPECT_EQ(broken.exitCode, 1) << broken.output;
  EXPECT_NE(broken.output.find("BROKEN at seq 3"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("deleted"), std::string::npos) << broken.output;
  ASSERT_EQ(kubectl({"apply", "-f", (*dir_ / "rbac.yaml").string()}).exitCode, 0);
}

// A person's request names them as the apiserver authenticated them, and the policy holds them
// to it: not in another's name, not beyond the request fields, not without a reason in
// production. MC's records of what the requests caused name them and quote their reason.
TEST_F(AuditE2ETest, PeopleAreOnRecordAsTheApiserverKnowsThem) {
  const std::string ns = "people";
  const std::string steps = "[{setWeight: 50}, {pause: {}}, {setWeight: 100}]";
  apply(ns, stepsRolloutYaml("example/web:1", steps));
  ASSERT_TRUE(waitFor(ns, 3, "Healthy")) << diagnostics(ns);
  apply(ns, R"(apiVersion: v1
kind: ServiceAccount
metadata: {name: alice}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: release-manager}
rules:
  - apiGroups: [mc.maestro.dev]
    resources: [rollouts, auditrecords, auditchains]
    verbs: [get, list, watch]
  - apiGroups: [mc.maestro.dev]
    resources: [rollouts/status]
    verbs: [get, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-release-manager}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: release-manager}
subjects: [{kind: ServiceAccount, name: alice, namespace: people}]
)");
  const std::string alice = tokenKubeconfig(*dir_, ns, "alice", "alice");
  ASSERT_FALSE(alice.empty());
  const std::string aliceName = "system:serviceaccount:people:alice";

  apply(ns, stepsRolloutYaml("example/web:2", steps));
  ASSERT_TRUE(waitFor(ns, 1, "Paused")) << diagnostics(ns);
  auto asBob = patchStatus(ns, alice, R"({"status":{"promoteStep":1,"requestedBy":"bob"}})");
  EXPECT_NE(asBob.exitCode, 0);
  EXPECT_NE(asBob.output.find("must name its requester: status.requestedBy must be " + aliceName),
            std::string::npos)
      << asBob.output;
  auto mcsState = patchStatus(
      ns, alice,
      fmt::format(R"({{"status":{{"phase":"Healthy","requestedBy":"{}"}}}})", aliceName));
  EXPECT_NE(mcsState.exitCode, 0);
  EXPECT_NE(mcsState.output.find("only MC writes a Rollout's status"), std::string::npos)
      << mcsState.output;
  EXPECT_EQ(text(rollout(ns), {"status", "phase"}), "Paused") << "neither request landed";

  auto promoted = kubectlMc({"promote", "web", "--reason", "CHG-1: canary looks good"}, alice);
  ASSERT_EQ(promoted.exitCode, 0) << promoted.output;
  ASSERT_TRUE(waitFor(ns, 3, "Healthy")) << diagnostics(ns);
  ASSERT_TRUE(pollUntil([&] { return readChain(ns).find("Completed") != nullptr; }, 30s));
  Chain chain = readChain(ns);
  const auto* promotion = chain.find("Promoted");
  ASSERT_NE(promotion, nullptr) << diagnostics(ns);
  EXPECT_EQ(promotion->actor, aliceName);
  EXPECT_EQ(promotion->reason.rfind("CHG-1: canary looks good (", 0), 0u) << promotion->reason;

  // Production: a manual request needs a reason.
  ASSERT_EQ(kubectl({"label", "namespace", ns, "mc.maestro.dev/environment=production"}).exitCode,
            0);
  apply(ns, stepsRolloutYaml("example/web:3", steps));
  ASSERT_TRUE(waitFor(ns, 1, "Paused")) << diagnostics(ns);
  bool refused = pollUntil(
      [&] {
        auto bare = kubectlMc({"abort", "web"}, alice);
        return bare.exitCode != 0 && bare.output.find("production") != std::string::npos;
      },
      30s);
  EXPECT_TRUE(refused) << "an abort without a reason in production";
  EXPECT_EQ(text(rollout(ns), {"status", "phase"}), "Paused");
  auto aborted = kubectlMc({"abort", "web", "--reason", "INC-9: checkout errors"}, alice);
  ASSERT_EQ(aborted.exitCode, 0) << aborted.output;
  ASSERT_TRUE(pollUntil([&] { return readChain(ns).find("Aborted") != nullptr; }, 30s))
      << diagnostics(ns);
  chain = readChain(ns);
  const auto* abort = chain.find("Aborted");
  EXPECT_EQ(abort->actor, aliceName);
  EXPECT_EQ(abort->from, "web=example/web:3") << "an abort rolls the canary back";
  EXPECT_EQ(abort->to, "web=example/web:2");
  EXPECT_EQ(abort->reason.rfind("INC-9: checkout errors (", 0), 0u) << abort->reason;
  EXPECT_TRUE(chain.verdict.intact()) << chain.verdict.broken->problem;
  ASSERT_EQ(kubectl({"label", "namespace", ns, "mc.maestro.dev/environment-"}).exitCode, 0);
}

// SIGKILL the moment MC decides each step (before or after its record, its head, its Event or its
// status lands, as the race falls): the chain ends with every decision once, no gap, no copy.
TEST_F(AuditE2ETest, SigkillAtEveryDecisionLeavesTheChainWhole) {
  const std::string ns = "audit-crash";
  ASSERT_EQ(kubectl({"create", "namespace", ns}).exitCode, 0);
  const std::string steps =
      "[{setWeight: 20}, {pause: {duration: 1s}}, {setWeight: 60}, {pause: {duration: 1s}}, "
      "{setWeight: 100}]";
  OwnOperator op(*dir_, ns, serviceAccountKubeconfig());
  op.start();
  apply(ns, stepsRolloutYaml("example/web:1", steps));
  ASSERT_TRUE(waitFor(ns, 5, "Healthy")) << diagnostics(ns) << op.logTail();
  apply(ns, stepsRolloutYaml("example/web:2", steps));
  std::vector<std::string> decisions{"RolloutStarted:"};
  for (int step = 1; step <= 5; ++step) {
    decisions.push_back(fmt::format("StepAdvanced: step {}/5", step));
  }
  decisions.push_back("RolloutCompleted:");
  int kills = 0;
  for (const auto& decision : decisions) {
    ASSERT_TRUE(pollUntil(
        [&] { return op.logContains(decision) || op.previousLogContains(decision); }, 120s, 5ms))
        << decision << "\n"
        << diagnostics(ns) << "\n"
        << op.logTail();
    if (op.logContains(decision)) {
      op.kill();
      ++kills;
      op.start();
    }
  }
  EXPECT_GE(kills, 4) << "the kills must have happened for the test to prove anything";
  ASSERT_TRUE(pollUntil([&] { return readChain(ns).find("Completed") != nullptr; }, 120s))
      << diagnostics(ns) << op.logTail();
  Chain chain = readChain(ns);
  EXPECT_EQ(chain.trail(), (std::vector<std::string>{
                               "CanaryStarted by mc", "StepAdvanced by mc", "StepAdvanced by mc",
                               "Paused by mc", "StepAdvanced by mc", "StepAdvanced by mc",
                               "Paused by mc", "StepAdvanced by mc", "Completed by mc"}))
      << "killed " << kills << " times";
  EXPECT_TRUE(chain.verdict.intact()) << chain.verdict.broken->problem;
  EXPECT_EQ(chain.head.seq, static_cast<int64_t>(chain.records.size()));
  ::testing::Test::RecordProperty("kills", kills);
}

// Two replicas, as the chart runs them; the leader is SIGKILLed mid-canary and the standby takes
// the Lease once it expires: one chain, no fork, every decision once.
TEST_F(AuditE2ETest, ALeaderKilledMidCanaryLeavesOneChain) {
  const std::string ns = "audit-leaders";
  const std::string lease = "mc-e2e-audit";
  ASSERT_EQ(kubectl({"create", "namespace", ns}).exitCode, 0);
  const std::vector<std::string> election = {
      "--leader-elect", std::string("--leader-election-namespace=") + kOperatorNamespace,
      "--leader-election-id=" + lease};
  OwnOperator first(*dir_, ns, serviceAccountKubeconfig(), election, "first");
  OwnOperator second(*dir_, ns, serviceAccountKubeconfig(), election, "second");
  first.start();
  ASSERT_TRUE(pollUntil([&] { return first.logContains("is the leader"); }, 30s))
      << first.logTail();
  second.start();
  const std::string steps =
      "[{setWeight: 25}, {pause: {duration: 2s}}, {setWeight: 75}, {pause: {duration: 2s}}, "
      "{setWeight: 100}]";
  apply(ns, stepsRolloutYaml("example/web:1", steps));
  ASSERT_TRUE(waitFor(ns, 5, "Healthy")) << diagnostics(ns) << first.logTail();
  apply(ns, stepsRolloutYaml("example/web:2", steps));
  ASSERT_TRUE(pollUntil([&] { return first.logContains("StepAdvanced: step 2/5"); }, 60s))
      << diagnostics(ns) << first.logTail();
  first.kill();
  ASSERT_TRUE(pollUntil([&] { return readChain(ns).find("Completed") != nullptr; }, 120s))
      << diagnostics(ns) << second.logTail();
  EXPECT_TRUE(second.logContains("StepAdvanced: step 5/5"))
      << "the standby finished the canary: " << second.logTail();
  Chain chain = readChain(ns);
  EXPECT_TRUE(chain.verdict.intact()) << chain.verdict.broken->problem;
  EXPECT_EQ(chain.trail(), (std::vector<std::string>{
                               "CanaryStarted by mc", "StepAdvanced by mc", "StepAdvanced by mc",
                               "Paused by mc", "StepAdvanced by mc", "StepAdvanced by mc",
                               "Paused by mc", "StepAdvanced by mc", "Completed by mc"}));
}

// Retention on the real apiserver, with limits a test can reach: records older than 1 s beyond
// the newest 4 go to the sink, behind a checkpoint, then away; verify still proves the rest.
TEST_F(AuditE2ETest, RetentionPrunesBehindACheckpointThatVerifyAccepts) {
  const std::string ns = "audit-retention";
  ASSERT_EQ(kubectl({"create", "namespace", ns}).exitCode, 0);
  const auto sink = *dir_ / "retention-sink.jsonl";
  OwnOperator op(*dir_, ns, serviceAccountKubeconfig(),
                 {"--audit-max-age=1s", "--audit-keep=4", "--audit-retention-interval=1s",
                  "--audit-sink=" + sink.string()});
  op.start();
  apply(ns, stepsRolloutYaml("example/web:1", kTimedSteps));
  ASSERT_TRUE(waitFor(ns, 3, "Healthy")) << diagnostics(ns) << op.logTail();
  apply(ns, stepsRolloutYaml("example/web:2", kTimedSteps));
  ASSERT_TRUE(pollUntil(
      [&] {
        auto chain = readChain(ns);
        return chain.find("Checkpoint") != nullptr && !chain.records.empty() &&
               chain.records.front().spec.seq > 1;
      },
      90s))
      << diagnostics(ns) << op.logTail();
  Chain chain = readChain(ns);
  EXPECT_TRUE(chain.verdict.intact()) << chain.verdict.broken->problem;
  const auto* checkpoint = chain.find("Checkpoint");
  const std::string through(checkpoint->evidence.at("prunedThrough").as_string());
  EXPECT_EQ(chain.records.front().spec.seq, std::stoll(through) + 1);
  EXPECT_EQ(json::value(chain.records.front().spec.prevHash),
            checkpoint->evidence.at("prunedHash"));
  // Every pruned record is in the sink, written before it went.
  const std::string mirrored = readFile(sink);
  for (int64_t seq = 1; seq <= std::stoll(through); ++seq) {
    EXPECT_NE(mirrored.find(fmt::format(R"("seq":{},)", seq)), std::string::npos) << seq;
  }
  auto verified = kubectlMc({"audit", "verify", "web", "-n", ns});
  EXPECT_EQ(verified.exitCode, 0) << verified.output;
  EXPECT_NE(verified.output.find("pruned behind a checkpoint"), std::string::npos)
      << verified.output;
}

}  // namespace
}  // namespace mc::e2e
