#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/crds/rollout.h"
#include "mc/signing/policy.h"

// The Rollout controller's decisions as a pure function: the state gathered from the caches in,
// the actions and the new status out. No I/O and no clock here, so every case is a table test.
namespace mc::reconcilers {

using WallTime = std::chrono::system_clock::time_point;

// What the planner needs of one ReplicaSet the Rollout owns.
struct ReplicaSetView {
  std::string name;
  std::string podHash;  // its kPodTemplateHashLabel
  int64_t revision = 0;
  int32_t replicas = 0;  // spec.replicas
  int32_t statusReplicas = 0;
  int32_t availableReplicas = 0;
  bool statusCurrent = true;  // status.observedGeneration caught up with metadata.generation
  std::optional<WallTime> scaleDownAt;
  std::optional<WallTime> createdAt;  // metadata.creationTimestamp
  std::string images;                 // its pod template's "container=image", comma-separated
};

// What the planner needs of one AnalysisRun the Rollout owns.
struct AnalysisRunView {
  std::string name;
  std::string podHash;       // the canary it judges (its kPodTemplateHashLabel)
  bool background = false;   // of spec.strategy.canary.analysis (kAnalysisLabel)
  std::string phase;         // "" until the AnalysisRun controller first wrote it
  std::string message;       // the verdict: the metric, its value and the limit crossed
  bool terminating = false;  // spec.terminate is set
};

// A pod template's images as an audit record names them: "web=registry/web:v2,log=...".
std::string imagesOf(const boost::json::object& podTemplate);

// A spec field at fault and why: the InvalidSpec condition's message and Event.
struct FieldError {
  std::string field;  // "spec.strategy.canary.stableService"
  std::string message;
  std::string describe() const { return field + ": " + message; }
};

// One container of the current template and the verdict of the policies on its image.
struct ContainerVerdict {
  std::string container;
  signing::ImageVerdict verdict;
};

struct RolloutContext {
  crds::Rollout rollout;
  std::string name;
  std::string ns;
  int64_t generation = 0;
  std::vector<ReplicaSetView> replicaSets;    // owned by the Rollout (controller ownerReference)
  std::vector<AnalysisRunView> analysisRuns;  // owned by the Rollout
  // From the router: whether it shapes traffic itself (else the replica ratio), and whether the
  // route holds status.canaryWeight now.
  bool trafficRouted = false;
  bool routeVerified = true;
  // Services named in the strategy: name -> the pod-template hash their selector has ("" none).
  std::map<std::string, std::string> serviceHashes;
  // What the gather step found wrong with objects the spec names (a missing Service or route).
  std::optional<FieldError> referenceError;
  // The policies' verdicts on the current template's images, asked only while it has no
  // ReplicaSet (its pods will run the digests verified now), and only for the containers a
  // policy covers. nullopt: no verdict was asked (no policy covers an image, or it has pods).
  std::optional<std::vector<ContainerVerdict>> verification;
  // The policies' verdicts on the digests the current template's pods run (status.verified),
  // asked again once `reverifyEvery` has passed since the last time.
  std::optional<std::vector<ContainerVerdict>> reverification;
  std::chrono::seconds reverifyEvery{std::chrono::minutes(10)};
  // At a breach in the bake window: the known-good templates (pod-template hash) whose digests
  // no longer verify (a key removed from the policy, say), and why. A rollback passes over them
  // to the newest known-good that still does.
  std::map<std::string, std::string> revokedKnownGood;
  WallTime now;
  std::chrono::seconds scaleDownDelay{30};
};

struct CreateReplicaSet {
  std::string name;
  std::string podHash;
  int32_t replicas = 0;
  int64_t revision = 0;
  // container -> "registry/repo@sha256:...": the images verified, which its pods run instead of
  // the template's tags, so a tag moved later cannot slip another image in.
  std::map<std::string, std::string> pinnedImages;
};

struct ScaleReplicaSet {
  std::string name;
  int32_t replicas = 0;
  // Set: write this scale-down deadline; nullopt with clearScaleDownAt: remove it.
  std::optional<WallTime> scaleDownAt;
  bool clearScaleDownAt = false;
  // Set: a ReplicaSet of an older template that is current again takes the newest revision
  // (as a Deployment's does), so history pruning and `kubectl mc undo` see it as the newest.
  std::optional<int64_t> revision;
};

// A Service whose selector must carry this pod-template hash.
struct SelectPods {
  std::string service;
  std::string podHash;
};

enum class RouteChange { None, SetWeight, Reset };

// WantRun::step of the bake window's analysis (spec.strategy.canary.bake.analysis).
inline constexpr int32_t kBakeStep = -1;

// An AnalysisRun that must exist now: of the background analysis, of the step's, or of the bake
// window's.
struct WantRun {
  std::string name;
  std::optional<int32_t> step;  // nullopt: spec.strategy.canary.analysis; kBakeStep: the bake's
};

// An AnalysisRun to end (spec.terminate): its canary was superseded, aborted or completed.
struct TerminateRun {
  std::string name;
  std::string reason;  // crds::analysis::kCanaryCompleted, kSuperseded, kAborted, ...
};

// A decision, put on record as an AuditRecord and an Event (RolloutStarted, StepAdvanced,
// Paused, Promoted, Aborted, RolloutCompleted). `id` is deterministic for the decision, so a
// decision re-planned after a crash finds its record and Event already written instead of
// writing second ones.
struct DecisionEvent {
  std::string id;
  std::string reason;  // the Event's reason; the record's action unless `action` says otherwise
  std::string note;
  bool warning = false;
  // Who decided: "mc", "analysis/<run>", or the person whose request it carried out
  // (status.requestedBy).
  std::string actor = "mc";
  std::string action;  // "" : `reason`
  // The canary's images go back to the stable's: `from` is the canary, `to` the stable.
  bool rollsBack = false;
  // Numbers of this decision alone (a drill's time to roll back), as decimal strings.
  std::map<std::string, std::string> evidence;
  // What ran before and runs after the decision, when it is not what the record would otherwise
  // say (the template as written, the old canary's images): the record's `from` and `to`. A
  // rollback in the bake window comes from the promoted ReplicaSet, pinned to its digests.
  std::optional<std::string> from;
  std::optional<std::string> to;
};

struct Plan {
  crds::RolloutStatus status;  // the status to write (if it differs from the one read)
  std::vector<DecisionEvent> events;
  std::vector<CreateReplicaSet> creates;
  std::vector<ScaleReplicaSet> scales;
  std::vector<std::string> deletes;  // ReplicaSet names past revisionHistoryLimit
  std::vector<SelectPods> services;
  std::vector<WantRun> runs;
  std::vector<TerminateRun> terminations;
  RouteChange route = RouteChange::None;
  int32_t routeWeight = 0;
  std::optional<FieldError> invalidSpec;  // also in status; the reconciler records an Event
  // Why the current template's images could not be verified (no verdict, not a refusal): a
  // Warning Event, not a decision on record.
  std::optional<std::string> verificationError;
  std::chrono::milliseconds requeueAfter{0};
};

Plan plan(const RolloutContext& context);

// The ReplicaSet name of a pod-template hash: "<rollout>-<hash>".
std::string replicaSetName(std::string_view rollout, std::string_view podHash);

// spec.selector as a label selector string ("app=web,tier in (a,b)"), for status.selector (the
// scale subresource's) and list calls.
std::string selectorString(const boost::json::object& selector);

}  // namespace mc::reconcilers
