#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mc/audit/writer.h"
#include "mc/common/clock.h"
#include "mc/reconcilers/rollout_plan.h"
#include "mc/runtime/controller.h"
#include "mc/runtime/events.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/writes_in_flight.h"
#include "mc/signing/policy.h"

namespace mc::reconcilers {

struct RolloutReconcilerOptions {
  std::chrono::seconds scaleDownDelay{30};  // a demoted stable keeps its pods this long
  // A status change of pod counts (and the messages quoting them) alone waits this long for
  // more to change with it, so pods becoming ready one by one cost one write, not one each.
  // Decisions (step, weight, phase, conditions) are written at once.
  std::chrono::milliseconds countsDebounce{2000};
  // The digests a template runs are verified again this often (a key removed from a policy, a
  // waiver expired): reported, never evicted.
  std::chrono::seconds reverifyEvery{std::chrono::minutes(10)};
};

class SecretReader;  // src/rollout_verify.cc

// The Rollout controller's reconcile: gather (the Rollout and its ReplicaSets from the caches,
// the Services and route from the apiserver) -> plan() -> record the decisions as Events -> one
// status write -> converge ReplicaSets, Services and route on that status. A 409 on the status
// write ends the reconcile before any action, and the requeue re-plans from fresh state.
// Each step is a function of its own, in a file of its own under src/ (rollout_gather.cc,
// rollout_status.cc, rollout_converge.cc). Runs on the controller's executor, one key at a time.
class RolloutReconciler final : public kube::Reconciler {
 public:
  RolloutReconciler(kube::Client& client, kube::EventRecorder& events,
                    RolloutReconcilerOptions options = {}, const Clock& clock = systemClock());

  // The caches the reconciler reads: Rollouts, and the ReplicaSets they own. From
  // makeRolloutController, before the controller runs.
  void useCaches(kube::Store& rollouts, kube::Store& replicaSets);
  // The AnalysisRuns Rollouts own and the templates they name. Without them (tests of the
  // canary alone) a Rollout that names an analysis is InvalidSpec.
  void useAnalysisCaches(kube::Store& runs, kube::Store& templates, kube::Store& clusterTemplates);
  // Where decisions go on record (AuditRecords) before their Events and before they act; without
  // one (tests of the canary alone) only Events are written.
  void useAuditLog(audit::AuditLog& log) { audit_ = &log; }
  // Image verification: the checker (registry and verifier) and the caches of the policies.
  // Without them (tests of the canary alone) no image is verified, and a Rollout whose spec
  // names a policy is InvalidSpec rather than let through unverified.
  void useVerification(signing::ImageChecker& checker, kube::Store& policies,
                       kube::Store& clusterPolicies);
  bool verifies() const { return checker_ != nullptr; }

  boost::asio::awaitable<Result<kube::ReconcileResult>> reconcile(
      const kube::ReconcileRequest& request) override;

 private:
  struct Pass;  // one reconcile's state (src/rollout_pass.h)
  template <class T = void>
  using Step = boost::asio::awaitable<Result<T>>;

  // rollout_gather.cc: the context plan() needs, and the router bound to this Rollout.
  Step<> gather(Pass& pass);
  // Whether another object holds the name of the ReplicaSet for the current template; then
  // collisionCount is bumped before anything is planned or recorded.
  Step<bool> claimCurrentName(Pass& pass);
  // rollout_status.cc: decisions on record, the one status write, an unreadable Rollout.
  Step<> recordDecisions(Pass& pass);
  Step<> writeStatus(Pass& pass);
  Step<> reportUnreadable(const kube::ReconcileRequest& request, const boost::json::object& object,
                          std::string problem);
  // rollout_converge.cc: ReplicaSets, Services and route brought to the status just written.
  // createReplicaSets answers true when a name collision needs a new hash (requeue at once).
  Step<bool> createReplicaSets(Pass& pass);
  Step<> bumpCollisionCount(Pass& pass, const std::string& takenName);
  Step<> applyScale(const kube::ReconcileRequest& request, ScaleReplicaSet scale);
  Step<> selectServices(Pass& pass);
  Step<> convergeRoute(Pass& pass);
  Step<> deleteHistory(Pass& pass);
  // rollout_analysis.cc: the runs the plan wants made, those it ends ended.
  Step<> createRuns(Pass& pass);
  Step<> terminateRuns(Pass& pass);
  // rollout_analysis.cc, from gather(): the runs the Rollout owns (always), and each analysis the
  // spec names resolved against its templates (a missing template or argument: InvalidSpec).
  void gatherAnalysis(Pass& pass);
  // rollout_verify.cc, from gather(): the policies' verdict on the current template's images
  // while it has no ReplicaSet.
  Step<> gatherVerification(Pass& pass);
  // rollout_verify.cc, from gatherVerification(): at a breach in the bake window, which
  // known-good templates no longer verify (context.revokedKnownGood).
  boost::asio::awaitable<void> gatherRevokedKnownGood(Pass& pass);
  Step<std::vector<signing::Policy>> collectPolicies(Pass& pass, SecretReader& secrets);

  kube::Client& client_;
  kube::EventRecorder& events_;
  RolloutReconcilerOptions options_;
  const Clock& clock_;
  kube::Store* rollouts_ = nullptr;
  kube::Store* replicaSets_ = nullptr;
  kube::Store* analysisRuns_ = nullptr;
  kube::Store* templates_ = nullptr;
  kube::Store* clusterTemplates_ = nullptr;
  audit::AuditLog* audit_ = nullptr;
  signing::ImageChecker* checker_ = nullptr;
  kube::Store* policies_ = nullptr;
  kube::Store* clusterPolicies_ = nullptr;
  // MC's own writes the caches have not shown yet: not repeated, and no plan on a stale status.
  kube::WritesInFlight writes_;
  std::mutex mutex_;  // guards countsHeldSince_
  // key -> when a counts-only status change was first held back.
  std::unordered_map<std::string, Clock::TimePoint> countsHeldSince_;
};

// The Rollout controller for namespace `ns` ("" for all): Rollouts as the primary type,
// ReplicaSets as owned, feeding `reconciler`. With `checker`, it also caches the verification
// policies and the reconciler verifies images with it.
std::unique_ptr<kube::Controller> makeRolloutController(kube::Client& client,
                                                        RolloutReconciler& reconciler,
                                                        std::string ns,
                                                        kube::ControllerOptions options,
                                                        signing::ImageChecker* checker = nullptr);

}  // namespace mc::reconcilers
