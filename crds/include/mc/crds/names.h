#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "mc/common/resource_type.h"

// The names of MC's API in one place: its resources, the labels and annotations MC writes, the
// values of status.phase, condition types and reasons, and Event reasons. The reconcilers, the
// routers and kubectl-mc all read them from here, so a name is spelt once.
namespace mc::crds {

inline constexpr const char* kGroup = "mc.maestro.dev";
inline constexpr const char* kVersion = "v1alpha1";
inline constexpr const char* kApiVersion = "mc.maestro.dev/v1alpha1";
inline constexpr const char* kRolloutKind = "Rollout";
inline constexpr const char* kAnalysisTemplateKind = "AnalysisTemplate";
inline constexpr const char* kClusterAnalysisTemplateKind = "ClusterAnalysisTemplate";
inline constexpr const char* kAnalysisRunKind = "AnalysisRun";
inline constexpr const char* kAuditRecordKind = "AuditRecord";
inline constexpr const char* kAuditChainKind = "AuditChain";
inline constexpr const char* kVerificationPolicyKind = "VerificationPolicy";
inline constexpr const char* kClusterVerificationPolicyKind = "ClusterVerificationPolicy";

namespace resources {
inline const kube::ResourceType kRollouts{kGroup, kVersion, "rollouts"};
inline const kube::ResourceType kAnalysisTemplates{kGroup, kVersion, "analysistemplates"};
inline const kube::ResourceType kClusterAnalysisTemplates{kGroup, kVersion,
                                                          "clusteranalysistemplates", false};
inline const kube::ResourceType kAnalysisRuns{kGroup, kVersion, "analysisruns"};
inline const kube::ResourceType kAuditRecords{kGroup, kVersion, "auditrecords"};
inline const kube::ResourceType kAuditChains{kGroup, kVersion, "auditchains"};
inline const kube::ResourceType kVerificationPolicies{kGroup, kVersion, "verificationpolicies"};
inline const kube::ResourceType kClusterVerificationPolicies{kGroup, kVersion,
                                                             "clusterverificationpolicies", false};
}  // namespace resources

// On MC's ReplicaSets, their pods, and the Services it points at them: which template they run.
inline constexpr std::string_view kPodTemplateHashLabel = "mc.maestro.dev/pod-template-hash";
// On MC's ReplicaSets: the order templates were deployed in (as a Deployment's revision).
inline constexpr std::string_view kRevisionAnnotation = "mc.maestro.dev/revision";
// On a demoted stable: when it may scale to zero (the routes settle first).
inline constexpr std::string_view kScaleDownAtAnnotation = "mc.maestro.dev/scale-down-at";
// The pod template exactly as the Rollout had it, so `kubectl mc undo` restores it byte for byte
// (the ReplicaSet's own template has the apiserver's defaults filled in).
inline constexpr std::string_view kPodTemplateAnnotation = "mc.maestro.dev/pod-template";
// On MC's AnalysisRuns: which analysis of the Rollout made them, kBackgroundAnalysis or
// "step-N"; the Rollout's name is in kRolloutLabel, its canary's hash in kPodTemplateHashLabel.
inline constexpr std::string_view kAnalysisLabel = "mc.maestro.dev/analysis";
inline constexpr std::string_view kBackgroundAnalysis = "background";
inline constexpr std::string_view kBakeAnalysis = "bake";
// On route objects MC creates (e.g. the NGINX canary Ingress) and on AnalysisRuns: the Rollout
// they belong to.
inline constexpr std::string_view kRolloutLabel = "mc.maestro.dev/rollout";
// On a pod template `kubectl mc drill` deployed: the drill's id. A canary of such a template is
// a deliberately bad revision, and MC records when the drill starts and how it ended.
inline constexpr std::string_view kDrillAnnotation = "mc.maestro.dev/drill";
// On AuditRecords: the chain they belong to (its AuditChain's name, cut as a label value is), and
// their seq, so a chain is listed, and read in order, without reading every record.
inline constexpr std::string_view kAuditChainLabel = "mc.maestro.dev/audit-chain";
inline constexpr std::string_view kAuditSeqLabel = "mc.maestro.dev/audit-seq";

// status.phase of a Rollout.
namespace phase {
inline constexpr const char* kProgressing = "Progressing";
inline constexpr const char* kPaused = "Paused";
inline constexpr const char* kHealthy = "Healthy";
inline constexpr const char* kDegraded = "Degraded";
inline constexpr const char* kRolledBack = "RolledBack";
inline constexpr std::array<std::string_view, 5> kAll{kProgressing, kPaused, kHealthy, kDegraded,
                                                      kRolledBack};
}  // namespace phase

// status.conditions[].type of a Rollout.
namespace condition {
inline constexpr const char* kProgressing = "Progressing";
inline constexpr const char* kAvailable = "Available";
inline constexpr const char* kPaused = "Paused";
inline constexpr const char* kCompleted = "Completed";
inline constexpr const char* kInvalidSpec = "InvalidSpec";
// Whether the current template's images verified under the policies that cover them, before
// its ReplicaSet was made (absent when no policy covers them).
inline constexpr const char* kVerified = "Verified";
// Whether status.lastKnownGood names a template a rollback can return to; False while verification
// is in use but none has been verified, promoted and healthy yet (the stable is unverified).
inline constexpr const char* kKnownGood = "KnownGood";
}  // namespace condition

// status.conditions[].reason of a Rollout.
namespace reason {
inline constexpr const char* kReplicaSetUpdated = "ReplicaSetUpdated";
inline constexpr const char* kNewReplicaSetAvailable = "NewReplicaSetAvailable";
inline constexpr const char* kMinimumReplicasAvailable = "MinimumReplicasAvailable";
inline constexpr const char* kMinimumReplicasUnavailable = "MinimumReplicasUnavailable";
inline constexpr const char* kNotPaused = "NotPaused";
inline constexpr const char* kPausedByUser = "PausedByUser";
inline constexpr const char* kCanaryPauseStep = "CanaryPauseStep";
// While a canary waits at spec.replicas 0: with no pods there is nothing to weigh, so it holds
// its step until the Rollout is scaled up (also the Event's reason).
inline constexpr const char* kScaledToZero = "ScaledToZero";
inline constexpr const char* kRolloutProgressing = "RolloutProgressing";
inline constexpr const char* kRolloutCompleted = "RolloutCompleted";
inline constexpr const char* kRolloutAborted = "RolloutAborted";
inline constexpr const char* kInvalidSpec = "InvalidSpec";
inline constexpr const char* kSpecValid = "SpecValid";
// A canary aborted by its analysis (a run Failed, or Error without onError: pause), by its
// progress deadline, or paused by an analysis without a verdict (also the Events' reasons).
inline constexpr const char* kAnalysisFailed = "AnalysisFailed";
inline constexpr const char* kProgressDeadlineExceeded = "ProgressDeadlineExceeded";
inline constexpr const char* kAnalysisInconclusive = "AnalysisInconclusive";
// The Verified condition's reasons (and the Events'): every image verified; one excused by a
// valid waiver; one refused (unsigned, wrongly signed, signed for another digest); one excused
// only by a waiver that has expired; one unverified under a policy that does not require it; the
// verdict could not be reached (registry unreachable, a key Secret unreadable): never a pass.
inline constexpr const char* kVerified = "Verified";
inline constexpr const char* kWaiverApplied = "WaiverApplied";
inline constexpr const char* kSignatureRejected = "SignatureRejected";
inline constexpr const char* kWaiverExpired = "WaiverExpired";
inline constexpr const char* kUnverifiedAllowed = "UnverifiedAllowed";
inline constexpr const char* kVerificationError = "VerificationError";
// The KnownGood condition's reasons; KnownGood is also the Event's when a template becomes it.
inline constexpr const char* kKnownGood = "KnownGood";
inline constexpr const char* kStableUnverified = "StableUnverified";
// A promoted template in its bake window, and one rolled back from it (also the Events').
inline constexpr const char* kBaking = "Baking";
inline constexpr const char* kRolledBack = "RolledBack";
}  // namespace reason

// status.phase of an AnalysisRun, and of each of its metrics and measurements (docs/analysis.md).
namespace analysis {
inline constexpr const char* kPending = "Pending";
inline constexpr const char* kRunning = "Running";
inline constexpr const char* kSuccessful = "Successful";
inline constexpr const char* kFailed = "Failed";
inline constexpr const char* kError = "Error";
inline constexpr const char* kInconclusive = "Inconclusive";
// spec.terminate.reason of an AnalysisRun MC ends: only CanaryCompleted can end it Successful.
inline constexpr const char* kCanaryCompleted = "CanaryCompleted";
inline constexpr const char* kSuperseded = "Superseded";
inline constexpr const char* kAborted = "Aborted";
inline constexpr const char* kPassed = "Promoted";  // its step was promoted past it
// A Rollout analysis block's onError.
inline constexpr const char* kOnErrorAbort = "abort";
inline constexpr const char* kOnErrorPause = "pause";
}  // namespace analysis

// Reasons of the Events MC records on a Rollout, one per decision.
namespace event {
inline constexpr const char* kRolloutStarted = "RolloutStarted";
inline constexpr const char* kStepAdvanced = "StepAdvanced";
inline constexpr const char* kPaused = "Paused";
inline constexpr const char* kScaledToZero = reason::kScaledToZero;
inline constexpr const char* kPromoted = "Promoted";
inline constexpr const char* kAborted = "Aborted";
inline constexpr const char* kStableMissing = "StableMissing";
inline constexpr const char* kRolloutCompleted = "RolloutCompleted";
inline constexpr const char* kDrillStarted = "DrillStarted";
inline constexpr const char* kDrillCompleted = "DrillCompleted";
inline constexpr const char* kInvalidSpec = "InvalidSpec";
inline constexpr const char* kAnalysisFailed = reason::kAnalysisFailed;
inline constexpr const char* kProgressDeadlineExceeded = reason::kProgressDeadlineExceeded;
inline constexpr const char* kAnalysisInconclusive = reason::kAnalysisInconclusive;
inline constexpr const char* kVerified = reason::kVerified;
inline constexpr const char* kWaiverApplied = reason::kWaiverApplied;
inline constexpr const char* kSignatureRejected = reason::kSignatureRejected;
inline constexpr const char* kWaiverExpired = reason::kWaiverExpired;
inline constexpr const char* kUnverifiedAllowed = reason::kUnverifiedAllowed;
inline constexpr const char* kVerificationError = reason::kVerificationError;
inline constexpr const char* kKnownGood = reason::kKnownGood;
inline constexpr const char* kBakeStarted = "BakeStarted";
inline constexpr const char* kBakeCompleted = "BakeCompleted";
inline constexpr const char* kRolledBack = reason::kRolledBack;
}  // namespace event

// The value of kRolloutLabel for a Rollout: its name, cut to the 63 characters a label value may
// hold (ending in a letter or digit). Longer names may share a value, so readers also check the
// controller ownerReference.
std::string rolloutLabelValue(std::string_view rolloutName);

// What MC's labels and annotations say about one of its ReplicaSets: its pod-template hash ("" if
// none) and revision (0 if absent or not a number).
std::string podHashOf(const boost::json::object& replicaSet);
int64_t revisionOf(const boost::json::object& replicaSet);

}  // namespace mc::crds
