#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "mc/audit/retention.h"
#include "mc/runtime/controller.h"
#include "mc/runtime/kube_client.h"

namespace mc::reconcilers {

// Audit retention, one AuditChain at a time, again every `period`: records older than the
// policy's age and beyond its newest go to the sink, behind a checkpoint, then away
// (audit::Retention). Runs only on the leader, as every controller, so its checkpoints come from
// the one writer of the chain.
class AuditRetentionReconciler final : public kube::Reconciler {
 public:
  AuditRetentionReconciler(audit::Retention& retention, std::chrono::milliseconds period)
      : retention_(retention), period_(period) {}

  boost::asio::awaitable<Result<kube::ReconcileResult>> reconcile(
      const kube::ReconcileRequest& request) override;

 private:
  audit::Retention& retention_;
  std::chrono::milliseconds period_;
};

// The retention controller for namespace `ns` ("" for all): AuditChains as the primary type.
std::unique_ptr<kube::Controller> makeAuditRetentionController(kube::Client& client,
                                                               AuditRetentionReconciler& reconciler,
                                                               std::string ns,
                                                               kube::ControllerOptions options);

}  // namespace mc::reconcilers
