#pragma once

#include <functional>
#include <memory>
#include <string>

#include "mc/analysis/evaluator.h"
#include "mc/analysis/provider.h"
#include "mc/audit/writer.h"
#include "mc/common/clock.h"
#include "mc/runtime/controller.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/writes_in_flight.h"

namespace mc::reconcilers {

// Makes the provider of one metric; analysis::makeProvider in MC, a fake in tests.
using ProviderFactory = std::function<Result<analysis::MetricProviderPtr>(
    analysis::ProviderDeps& deps, const analysis::RunScope& run,
    const boost::json::object& provider, const std::string& path)>;

// The AnalysisRun controller's reconcile: each metric that is due is measured, its measurement
// judged and counted by the evaluator (analysis/evaluator.h), and the run's status written
// once, with the run's resourceVersion, so a measurement made on a stale view is refused (409)
// rather than counted twice. Requeues itself for the next measurement due. The status is the
// whole state: a restarted MC resumes every run where its status left it.
class AnalysisRunReconciler final : public kube::Reconciler {
 public:
  AnalysisRunReconciler(kube::Client& client, ProviderFactory providers,
                        const Clock& clock = systemClock());

  void useCache(kube::Store& runs) { runs_ = &runs; }
  // Where verdicts go on record (in their Rollout's chain) before they are written; without one
  // (tests of the measuring alone) none are.
  void useAuditLog(audit::AuditLog& log) { audit_ = &log; }

  boost::asio::awaitable<Result<kube::ReconcileResult>> reconcile(
      const kube::ReconcileRequest& request) override;

 private:
  boost::asio::awaitable<Result<void>> writeStatus(const kube::ReconcileRequest& request,
                                                   const std::string& resourceVersion,
                                                   boost::json::object status);
  boost::asio::awaitable<Result<void>> recordVerdict(
      const boost::json::object& object, const crds::AnalysisRun& run,
      const std::vector<analysis::MetricPolicy>& policies, const crds::AnalysisRunStatus& status);

  kube::Client& client_;
  ProviderFactory providers_;
  const Clock& clock_;
  kube::Store* runs_ = nullptr;
  audit::AuditLog* audit_ = nullptr;
  kube::WritesInFlight writes_;
};

// The AnalysisRun controller for namespace `ns` ("" for all).
std::unique_ptr<kube::Controller> makeAnalysisRunController(kube::Client& client,
                                                            AnalysisRunReconciler& reconciler,
                                                            std::string ns,
                                                            kube::ControllerOptions options);

}  // namespace mc::reconcilers
