#pragma once

#include <boost/json/array.hpp>
#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/names.h"
#include "mc/crds/verification.h"

// C++ types of the Rollout CRD (crds/rollout.yaml), mapped to JSON with Boost.JSON's
// tag_invoke. Absent and null differ in the API (a merge patch with null deletes a field), so
// optional fields are std::optional and stay absent when unset. The pod template and selector
// are kept as JSON objects, whole, so no field a user wrote is dropped on a round trip.
namespace mc::crds {

struct PauseStep {
  std::optional<std::string> duration;  // "30s", "5m"; absent: wait for a promote
};

struct AnalysisArg {
  std::string name;
  std::optional<std::string> value;
};

struct AnalysisTemplateRef {
  std::string templateName;
  std::optional<bool> clusterScope;  // a ClusterAnalysisTemplate
};

// The analysis of a step (it waits for the run) or of the whole canary (in the background, from
// startingStep on). docs/analysis.md says what each field means.
struct RolloutAnalysis {
  std::vector<AnalysisTemplateRef> templates;
  std::vector<AnalysisArg> args;
  std::optional<std::string> onError;   // "abort" (default) | "pause"
  std::optional<int32_t> startingStep;  // background analysis only
};
using AnalysisStep = RolloutAnalysis;

// Exactly one of the three is set (the CRD's CEL rule enforces it).
struct CanaryStep {
  std::optional<int32_t> setWeight;
  std::optional<PauseStep> pause;
  std::optional<AnalysisStep> analysis;
};

// strategy.canary.bake: after promotion the previous stable stays scaled for `duration` while
// `analysis` (if any) keeps judging; a breach rolls back to the previous known-good template.
struct BakeSpec {
  std::string duration;
  std::optional<RolloutAnalysis> analysis;
};

struct CanaryStrategy {
  std::optional<std::string> stableService;
  std::optional<std::string> canaryService;
  std::optional<std::vector<CanaryStep>> steps;  // absent: the default 10, 30, 60, 100
  // One block keyed by the router's kind ({"gatewayAPI": {"httpRoute": "web"}}), read by that
  // router (reconcilers/routers/), so a new router needs no change here.
  std::optional<boost::json::object> trafficRouting;
  std::optional<RolloutAnalysis> analysis;  // background analysis
  std::optional<BakeSpec> bake;
};

struct RolloutSpec {
  std::optional<int32_t> replicas;
  boost::json::object selector;
  boost::json::object podTemplate;  // "template"
  std::optional<int32_t> revisionHistoryLimit;
  std::optional<bool> paused;
  std::optional<int32_t> progressDeadlineSeconds;  // absent: 600
  std::optional<CanaryStrategy> canary;            // strategy.canary
  std::optional<RolloutVerify> verify;  // absent: only ClusterVerificationPolicies that match
};

struct Condition {
  std::string type;
  std::string status;  // "True" | "False" | "Unknown"
  std::string reason;
  std::string message;
  std::string lastTransitionTime;
  std::optional<int64_t> observedGeneration;
};

// One container's image as MC verified it, before its pods ran it.
struct VerifiedImage {
  std::string container;
  std::string image;       // as the template names it ("registry/web:v2")
  std::string digest;      // "sha256:<hex>": what the ReplicaSet runs, pinned
  std::string verifiedBy;  // the key that verified it, or the waiver that excused it
  std::string outcome;     // "Verified", "Waived" or "Unverified" (allowed, not required)
};

// What MC verified of one pod template before it got a ReplicaSet (status.verified).
struct TemplateVerification {
  std::string podHash;
  std::string at;         // RFC 3339
  std::string checkedAt;  // RFC 3339: when its digests were last verified again ("" never)
  std::vector<VerifiedImage> images;
};

// A template whose every covered image was verified (not waived), fully promoted and healthy:
// what a rollback returns to (status.lastKnownGood and its history).
struct KnownGood {
  std::string podHash;
  std::string image;       // the first container's pinned image, "registry/repo@sha256:..."
  std::string digest;      // its digest
  std::string verifiedBy;  // what verified it
  std::string at;          // RFC 3339: when it became known-good
  std::vector<VerifiedImage> images;  // every container's
};

// A promoted template in its bake window (status.bake), or rolled back from it (status.rolledBack).
struct BakeStatus {
  std::string podHash;          // the template promoted
  std::string previousPodHash;  // the stable it replaced: kept scaled through the window
  std::string startedAt;        // RFC 3339
};
struct RollbackStatus {
  std::string fromPodHash;  // the template rolled back: no pods until the template changes
  std::string toPodHash;    // what runs instead
  std::string at;           // RFC 3339
  std::string reason;       // the breach, for people
};

// status.knownGoodHistory keeps this many known-good templates before lastKnownGood.
inline constexpr size_t kKnownGoodHistory = 5;

struct RolloutStatus {
  std::optional<std::string> phase;
  std::optional<int32_t> currentStepIndex;
  std::optional<int32_t> canaryWeight;
  std::optional<std::string> stableRS;
  std::optional<std::string> canaryRS;
  std::optional<int64_t> observedGeneration;
  std::optional<int32_t> replicas;
  std::optional<int32_t> updatedReplicas;
  std::optional<int32_t> availableReplicas;
  std::optional<std::string> selector;  // for the scale subresource
  std::optional<int32_t> collisionCount;
  std::optional<std::string> currentPodHash;  // hash of spec.template (the canary while one runs)
  std::optional<std::string> stablePodHash;
  std::optional<std::string> pauseStartTime;  // RFC 3339: a timed pause survives a restart
  std::optional<int32_t> attempt;             // canaries started; names their decision Events
  std::optional<std::string> stepStartTime;   // RFC 3339: when the current step began (deadline)
  std::optional<std::string> backgroundRun;   // the AnalysisRun of the background analysis
  std::optional<std::string> message;         // one line for people: what MC waits for
  // The current template's images as verified when its ReplicaSet was made (absent when no
  // policy covers them).
  std::optional<TemplateVerification> verified;
  std::optional<KnownGood> lastKnownGood;
  std::vector<KnownGood> knownGoodHistory;  // the ones before it, newest first
  std::optional<BakeStatus> bake;
  std::optional<RollbackStatus> rolledBack;
  // Requests from `kubectl mc`, written to status by the user and cleared by MC once handled:
  std::optional<bool> abort;           // abort the canary (stays set while Degraded; retry clears)
  std::optional<bool> promoteFull;     // skip the remaining steps
  std::optional<int32_t> promoteStep;  // skip this step (if it is still the current one)
  // Who wrote the latest request, as the apiserver authenticated them (the chart's admission
  // policy holds it to request.userInfo.username), and why: the actor and reason of the
  // decisions the request causes, on record.
  std::optional<std::string> requestedBy;
  std::optional<std::string> requestReason;
  std::vector<Condition> conditions;
  boost::json::object unknown;  // fields this version does not know, kept as they were
};

struct Rollout {
  boost::json::object metadata;
  RolloutSpec spec;
  RolloutStatus status;
};

// The steps a canary runs: the spec's, or the default 10 -> 30 -> 60 -> 100.
std::vector<CanaryStep> effectiveSteps(const RolloutSpec& spec);

// A step for people: "setWeight 30", "pause 30s", "pause (until promoted)".
std::string describeStep(const CanaryStep& step);

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& out,
                const Rollout& rollout);
// Reads a Rollout as the apiserver holds it; Invalid, naming the field at fault (`field` of the
// Error), if a field has the wrong type or spec is missing.
Result<Rollout> readRollout(const boost::json::value& in);

// Sets the condition of `condition.type` as meta.SetStatusCondition does: lastTransitionTime
// is kept unless the status changes (then, or for a new type, the one given is used).
void setCondition(std::vector<Condition>& conditions, Condition condition);
const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type);

// The conditions of any object's status as far as they can be read (entries that are not
// objects are skipped), and back: for a Rollout whose status cannot be read whole.
std::vector<Condition> readConditionsLeniently(const boost::json::object& object);
boost::json::array writeConditions(const std::vector<Condition>& conditions);

}  // namespace mc::crds
