#include "mc/reconcilers/audit_retention_reconciler.h"

#include "mc/crds/names.h"

namespace mc::reconcilers {

boost::asio::awaitable<Result<kube::ReconcileResult>> AuditRetentionReconciler::reconcile(
    const kube::ReconcileRequest& request) {
  auto pruned = co_await retention_.prune(request.ns, request.name);
  if (!pruned) {
    if (pruned.error().kind == ErrorKind::NotFound) {
      co_return kube::ReconcileResult{};  // the chain is gone
    }
    co_return pruned.error();
  }
  if (*pruned > 0) {
    request.log.info("audit retention: {} records of chain {} pruned behind a checkpoint", *pruned,
                     request.name);
  }
  co_return kube::ReconcileResult{false, period_};
}

std::unique_ptr<kube::Controller> makeAuditRetentionController(kube::Client& client,
                                                               AuditRetentionReconciler& reconciler,
                                                               std::string ns,
                                                               kube::ControllerOptions options) {
  return std::make_unique<kube::Controller>("audit-retention", client,
                                            crds::resources::kAuditChains, crds::kAuditChainKind,
                                            std::move(ns), reconciler, options);
}

}  // namespace mc::reconcilers
