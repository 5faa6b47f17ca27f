#include "mc/reconcilers/rollout_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "mc/analysis/evaluator.h"
#include "mc/common/duration.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/pod_template_hash.h"
#include "mc/reconcilers/canary_math.h"
#include "mc/runtime/hash.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;
using crds::CanaryStep;
using crds::Condition;
using crds::RolloutStatus;
namespace condition = crds::condition;
namespace event = crds::event;
namespace phase = crds::phase;
namespace reason = crds::reason;
namespace verdict = crds::analysis;

constexpr const char* kTrue = "True";
constexpr const char* kFalse = "False";
constexpr std::chrono::seconds kReferenceRecheck{10};
constexpr std::chrono::milliseconds kRouteRecheck{500};
// A refused template is asked about again this often (a signature or waiver may be added; the
// verifier keeps a refusal 30 s), one without a verdict sooner.
constexpr std::chrono::seconds kRefusedRecheck{30};
constexpr std::chrono::seconds kVerifyRetry{10};

// Sets conditions of one plan: all stamped with the plan's time and generation.
class Conditions {
 public:
  Conditions(std::vector<Condition>& list, WallTime now, int64_t generation)
      : list_(list), now_(formatTime(now)), generation_(generation) {}

  void set(const std::string& type, bool status, std::string reason, std::string message) {
    crds::setCondition(list_, {type, status ? kTrue : kFalse, std::move(reason), std::move(message),
                               now_, generation_});
  }

 private:
  std::vector<Condition>& list_;
  std::string now_;
  int64_t generation_;
};

std::string conditionReason(const RolloutStatus& status, std::string_view type) {
  const Condition* condition = crds::findCondition(status.conditions, type);
  return condition != nullptr ? condition->reason : "";
}

// Whether the status is of an aborted canary (by a person, its analysis or its deadline).
bool abortedIn(const RolloutStatus& status) {
  auto why = conditionReason(status, condition::kProgressing);
  return status.phase == phase::kDegraded &&
         (why == reason::kRolloutAborted || why == reason::kAnalysisFailed ||
          why == reason::kProgressDeadlineExceeded);
}

// Why a canary is aborted: the Event's and the condition's reason, and what people read.
struct AbortCause {
  std::string reason;
  std::string note;
  std::string actor;  // "analysis/<run>", or "mc" for a deadline
};

// What the apiserver cannot judge at apply time but MC must before it creates anything.
std::optional<FieldError> validateSpec(const crds::RolloutSpec& spec,
                                       const std::vector<CanaryStep>& steps) {
  const json::object* templateMeta = objectAt(spec.podTemplate, "metadata");
  const json::object* labels = templateMeta ? objectAt(*templateMeta, "labels") : nullptr;
  const json::object* matchLabels = objectAt(spec.selector, "matchLabels");
  const auto* expressions = spec.selector.if_contains("matchExpressions");
  bool hasExpressions =
      expressions != nullptr && expressions->is_array() && !expressions->as_array().empty();
  if ((matchLabels == nullptr || matchLabels->empty()) && !hasExpressions) {
    return FieldError{"spec.selector", "must select pods: matchLabels or matchExpressions"};
  }
  if (matchLabels != nullptr) {
    for (const auto& [key, value] : *matchLabels) {
      const json::value* label = labels ? labels->if_contains(key) : nullptr;
      if (label == nullptr || *label != value) {
        return FieldError{"spec.selector",
                          fmt::format("matchLabels {}={} is not among "
                                      "spec.template.metadata.labels, so it would select no pod",
                                      std::string_view(key), json::serialize(value))};
      }
    }
  }
  if (labels != nullptr && labels->contains(crds::kPodTemplateHashLabel)) {
    return FieldError{"spec.template.metadata.labels",
                      fmt::format("{} is MC's to set", crds::kPodTemplateHashLabel)};
  }
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].pause && steps[i].pause->duration && !parseDuration(*steps[i].pause->duration)) {
      return FieldError{
          fmt::format("spec.strategy.canary.steps[{}].pause.duration", i),
          fmt::format("\"{}\" is not a duration such as 30s or 5m", *steps[i].pause->duration)};
    }
  }
  if (spec.canary && spec.canary->bake) {
    auto duration = parseDuration(spec.canary->bake->duration);
    if (!duration || duration->count() <= 0) {
      return FieldError{
          "spec.strategy.canary.bake.duration",
          fmt::format("\"{}\" is not a duration such as 10m", spec.canary->bake->duration)};
    }
  }
  if (spec.canary && spec.canary->stableService && spec.canary->canaryService &&
      *spec.canary->stableService == *spec.canary->canaryService) {
    return FieldError{"spec.strategy.canary.canaryService",
                      "must differ from stableService: each selects one ReplicaSet's pods"};
  }
  return std::nullopt;
}

// One reconcile's decisions. Status is the record of where the canary is; the actions converge
// the ReplicaSets, Services and route on what that status says, so re-running a plan after a
// crash repeats idempotent actions and never skips or repeats a step.
class Planner {
 public:
  explicit Planner(const RolloutContext& context)
      : ctx_(context),
        spec_(context.rollout.spec),
        old_(context.rollout.status),
        replicas_(spec_.replicas.value_or(1)),
        steps_(crds::effectiveSteps(spec_)),
        stepCount_(static_cast<int32_t>(steps_.size())) {
    plan_.status = old_;
  }

  Plan run() {
    auto& st = plan_.status;
    st.observedGeneration = ctx_.generation;
    st.selector = selectorString(spec_.selector);
    Conditions conditions(st.conditions, ctx_.now, ctx_.generation);

    auto invalid = validateSpec(spec_, steps_);
    if (!invalid) {
      invalid = ctx_.referenceError;
    }
    if (invalid) {
      // Nothing else changes: a Rollout MC cannot understand keeps what it has.
      conditions.set(condition::kInvalidSpec, true, reason::kInvalidSpec, invalid->describe());
      st.phase = phase::kDegraded;
      st.message = invalid->describe();
      plan_.invalidSpec = invalid;
      if (ctx_.referenceError) {
        // The missing object may be created any moment, and MC does not watch it: look again.
        plan_.requeueAfter = kReferenceRecheck;
      }
      abortRecordedCanaryOnVerdict(conditions);
      countReplicas();
      return std::move(plan_);
    }
    conditions.set(condition::kInvalidSpec, false, reason::kSpecValid, "the spec is valid");

    current_ = crds::podTemplateHash(spec_.podTemplate, old_.collisionCount.value_or(0));
    currentRs_ = find(current_);
    if (old_.stablePodHash) {
      stableRs_ = find(*old_.stablePodHash);
    }
    for (const auto& rs : ctx_.replicaSets) {
      nextRevision_ = std::max(nextRevision_, rs.revision + 1);
    }
    if (currentRs_ != nullptr && (!old_.verified || old_.verified->podHash != current_)) {
      forgetVerdict();  // of another template: this one runs without a verdict on record
    }
    if (currentRs_ != nullptr && ctx_.reverification) {
      reverify(conditions);
    }
    if (currentRs_ != nullptr) {
      scheduleReverification();
    }
    // A template is admitted before it gets a ReplicaSet, or before an old ReplicaSet of it gets
    // pods again (gather asks only then).
    if (ctx_.verification && !(stableRs_ != nullptr && stableRs_->podHash == current_) &&
        !admit(conditions)) {
      scaleDownOthers();
      pruneHistory();
      terminateOthers();
      countReplicas();
      return std::move(plan_);
    }

    if (old_.bake && old_.bake->podHash != current_) {
      plan_.status.bake.reset();  // a new template (or a revert) ends the window
    }
    if (old_.rolledBack && old_.rolledBack->fromPodHash == current_ &&
        (stableRs_ == nullptr || stableRs_->podHash != current_)) {
      holdRolledBack(conditions);
    } else if (stableRs_ == nullptr || stableRs_->podHash == current_) {
      plan_.status.rolledBack.reset();  // a new template (or the stable's again) ends it
      steady(conditions);
    } else {
      plan_.status.rolledBack.reset();
      canary(conditions);
    }
    scaleDownOthers();
    pruneHistory();
    terminateOthers();
    countReplicas();
    return std::move(plan_);
  }

 private:
  const ReplicaSetView* find(const std::string& hash) const {
    for (const auto& rs : ctx_.replicaSets) {
      if (rs.podHash == hash) {
        return &rs;
      }
    }
    return nullptr;
  }

  std::string rsName(const std::string& hash) const { return replicaSetName(ctx_.name, hash); }

  // Creates the ReplicaSet of `hash` or scales it to `replicas` (a pending scale-down dropped).
  void converge(const std::string& hash, int32_t replicas) {
    keep_.insert(hash);
    const ReplicaSetView* rs = find(hash);
    if (rs == nullptr) {
      // Only the current template's ReplicaSet is ever made (from spec.template, admitted and
      // pinned); any other that is gone stays gone.
      if (hash == current_) {
        plan_.creates.push_back({rsName(hash), hash, replicas, nextRevision_, pinned_});
      }
      return;
    }
    bool older = hash == current_ && rs->revision < nextRevision_ - 1;
    if (rs->replicas != replicas || rs->scaleDownAt || older) {
      plan_.scales.push_back({rs->name, replicas, std::nullopt, rs->scaleDownAt.has_value(),
                              older ? std::optional<int64_t>(nextRevision_) : std::nullopt});
    }
  }

  // Whether `rs` runs `replicas` available pods, as of a status that saw its latest spec.
  static bool available(const ReplicaSetView* rs, int32_t replicas) {
    return rs != nullptr && rs->statusCurrent && rs->replicas == replicas &&
           rs->availableReplicas >= replicas;
  }

  void selectPods(const std::optional<std::string>& service, const std::string& hash) {
    if (!service) {
      return;
    }
    auto it = ctx_.serviceHashes.find(*service);
    if (it == ctx_.serviceHashes.end() || it->second != hash) {
      plan_.services.push_back({*service, hash});
    }
  }

  void selectServices(const std::string& stableHash, const std::string& canaryHash) {
    if (spec_.canary) {
      selectPods(spec_.canary->stableService, stableHash);
      selectPods(spec_.canary->canaryService, canaryHash);
    }
  }

  void requeueAfter(std::chrono::milliseconds delay) {
    delay = std::max(delay, std::chrono::milliseconds(1));
    if (plan_.requeueAfter.count() == 0 || delay < plan_.requeueAfter) {
      plan_.requeueAfter = delay;
    }
  }

  DecisionEvent& event(std::string id, std::string reason, std::string note, bool warning = false) {
    return plan_.events.emplace_back(
        DecisionEvent{std::move(id), std::move(reason), std::move(note), warning});
  }

  // Who asked for what the plan does on a request (promote, abort, retry), as status says.
  std::string requester() const {
    return old_.requestedBy.value_or("unidentified (the request names no requestedBy)");
  }
  // A person's decision: their name, and their reason before MC's note.
  DecisionEvent& requested(DecisionEvent& decision) const {
    decision.actor = requester();
    if (old_.requestReason && !old_.requestReason->empty()) {
      decision.note = fmt::format("{} ({})", *old_.requestReason, decision.note);
    }
    return decision;
  }

  // The drill the current template is, if `kubectl mc drill` deployed it.
  std::optional<std::string> drillId() const {
    const json::object* metadata = objectAt(spec_.podTemplate, "metadata");
    std::string id =
        stringAt(metadata ? objectAt(*metadata, "annotations") : nullptr, crds::kDrillAnnotation);
    return id.empty() ? std::nullopt : std::optional(id);
  }
  // A drill's canary ended: rolled back (it passed) or promoted (MC missed the bad revision).
  void endDrill(bool rolledBack, std::string actor) {  // by value: events may move
    auto drill = drillId();
    if (!drill) {
      return;
    }
    std::optional<std::chrono::seconds> age;
    if (currentRs_ != nullptr && currentRs_->createdAt) {
      age = std::chrono::duration_cast<std::chrono::seconds>(ctx_.now - *currentRs_->createdAt);
    }
    std::string after = age ? fmt::format(" {} s after the canary started", age->count()) : "";
    auto& ended =
        event(attemptId() + ".drill-completed", event::kDrillCompleted,
              rolledBack ? fmt::format("drill {}: rolled back by {}{}", *drill, actor, after)
                         : fmt::format("drill {}: NOT caught: the bad revision {} was promoted{}",
                                       *drill, rsName(current_), after),
              !rolledBack);
    ended.action = event::kDrillCompleted;
    ended.rollsBack = rolledBack;
    ended.evidence["drill"] = *drill;
    ended.evidence["outcome"] = rolledBack ? "RolledBack" : "Promoted";
    if (age) {
      ended.evidence["secondsSinceCanaryStarted"] = std::to_string(age->count());
    }
  }

  std::string attemptId() const { return fmt::format("a{}", plan_.status.attempt.value_or(0)); }

  // --- Verification ---

  void forgetVerdict() {
    auto& st = plan_.status;
    st.verified.reset();
    std::erase_if(st.conditions, [](const Condition& c) { return c.type == condition::kVerified; });
  }

  // "web=registry/web@sha256:...,log=...": what the template's pods run once pinned.
  static std::string pinnedList(const std::vector<ContainerVerdict>& images) {
    std::vector<std::string> out;
    for (const auto& [container, verdict] : images) {
      out.push_back(
          fmt::format("{}={}", container, verdict.pinned.empty() ? verdict.image : verdict.pinned));
    }
    return fmt::format("{}", fmt::join(out, ","));
  }

  static const char* reasonOf(signing::Outcome outcome) {
    switch (outcome) {
      case signing::Outcome::Verified:
        return reason::kVerified;
      case signing::Outcome::Waived:
        return reason::kWaiverApplied;
      case signing::Outcome::Unverified:
        return reason::kUnverifiedAllowed;
      case signing::Outcome::Rejected:
        return reason::kSignatureRejected;
      case signing::Outcome::WaiverExpired:
        return reason::kWaiverExpired;
      case signing::Outcome::Error:
        break;
    }
    return reason::kVerificationError;
  }

  // The worst verdict on a template's images, and why, naming each container that has it.
  struct TemplateVerdict {
    signing::Outcome worst = signing::Outcome::Verified;
    std::string message;
  };
  static TemplateVerdict summarize(const std::vector<ContainerVerdict>& images) {
    TemplateVerdict out;
    for (const auto& image : images) {
      out.worst = std::max(out.worst, image.verdict.outcome);
    }
    std::vector<std::string> why;
    for (const auto& image : images) {
      if (image.verdict.outcome == out.worst) {
        why.push_back(fmt::format("{}: {}", image.container, image.verdict.message));
      }
    }
    out.message = fmt::format("{}", fmt::join(why, "; "));
    return out;
  }

  // "SignatureRejected" as a part of a decision's id, which names Events and AuditRecords (DNS
  // subdomains: lower case): "signature-rejected".
  static std::string kebab(std::string_view reason) {
    std::string out;
    for (char c : reason) {
      if (c >= 'A' && c <= 'Z') {
        if (!out.empty()) {
          out += '-';
        }
        out += static_cast<char>(c - 'A' + 'a');
      } else {
        out += c;
      }
    }
    return out;
  }

  // A short key of the digests a verdict is about, so a decision on other digests of the same
  // template (a tag moved between two attempts) is a decision of its own, never taken for one
  // already on record.
  static std::string digestsKey(const std::vector<ContainerVerdict>& images) {
    return kube::sha256Hex(pinnedList(images)).substr(0, 10);
  }

  // A verification decision on record: its action, the pinned images, each one's digest and
  // outcome as evidence.
  static DecisionEvent& withVerdicts(DecisionEvent& decision, const char* action,
                                     const std::vector<ContainerVerdict>& images) {
    decision.action = action;
    decision.to = pinnedList(images);
    for (const auto& [container, verdict] : images) {
      decision.evidence[container + ".digest"] = verdict.digest;
      decision.evidence[container + ".outcome"] = std::string(signing::toString(verdict.outcome));
    }
    return decision;
  }

  // The policies' verdict on the current template, before it has a ReplicaSet. Allowed: its
  // images are pinned to the digests verified and the verdict goes on record. Refused, or no
  // verdict: it gets no ReplicaSet at all, and the stable (if any) serves all traffic.
  bool admit(Conditions& conditions) {
    auto& st = plan_.status;
    const auto& images = *ctx_.verification;
    const auto [worst, message] = summarize(images);
    const std::string id = fmt::format("verify-{}-{}", current_, digestsKey(images));
    const char* verdictReason = reasonOf(worst);
    auto withEvidence = [&](DecisionEvent& decision) -> DecisionEvent& {
      return withVerdicts(decision, verdictReason, images);
    };
    if (worst <= signing::Outcome::Unverified) {
      crds::TemplateVerification verified{current_, formatTime(ctx_.now), {}};
      // The verdict's Event names each waiver (owner, expiry) when waivers are the worst of it;
      // when an unverified image is worse, each waived image gets a WaiverApplied of its own.
      std::map<std::string, std::string> waivers;  // evidence of the verdict's Event
      for (const auto& [container, verdict] : images) {
        pinned_[container] = verdict.pinned;
        verified.images.push_back({container, verdict.image, verdict.digest, verdict.verifiedBy,
                                   std::string(signing::toString(verdict.outcome))});
        if (verdict.outcome != signing::Outcome::Waived || !verdict.waiver) {
          continue;
        }
        std::map<std::string, std::string> evidence{
            {container + ".waiverOwner", verdict.waiver->owner},
            {container + ".waiverExpires", formatTime(verdict.waiver->expires)}};
        if (worst == signing::Outcome::Waived) {
          waivers.insert(evidence.begin(), evidence.end());
          continue;
        }
        auto& waived =
            event(fmt::format("{}.waiver-{}", id, container), event::kWaiverApplied,
                  fmt::format("{} runs unverified under the waiver of {} (expires {}): {}",
                              verdict.pinned, verdict.waiver->owner,
                              formatTime(verdict.waiver->expires), verdict.waiver->reason));
        withEvidence(waived).action = event::kWaiverApplied;
        waived.evidence.insert(evidence.begin(), evidence.end());
      }
      auto& decision = withEvidence(
          event(id + ".verified", verdictReason, message, worst == signing::Outcome::Unverified));
      decision.evidence.insert(waivers.begin(), waivers.end());
      st.verified = std::move(verified);
      conditions.set(condition::kVerified, worst != signing::Outcome::Unverified, verdictReason,
                     message);
      return true;
    }
    st.verified.reset();
    const crds::Condition* before = crds::findCondition(old_.conditions, condition::kVerified);
    bool changed =
        before == nullptr || before->reason != verdictReason || before->message != message;
    conditions.set(condition::kVerified, false, verdictReason, message);
    if (worst == signing::Outcome::Error) {
      plan_.verificationError = message;
      requeueAfter(kVerifyRetry);
    } else {
      if (changed) {
        withEvidence(event(fmt::format("{}.{}", id, kebab(verdictReason)), verdictReason,
                           fmt::format("{} gets no ReplicaSet: {}", rsName(current_), message),
                           true));
      }
      requeueAfter(kRefusedRecheck);
    }
    holdStable(conditions, worst != signing::Outcome::Error, verdictReason, message);
    return false;
  }

  // The digests the current template's pods run, verified again: a key removed from a policy or
  // a waiver expired is reported (condition, and an Event and record on the change), and the pods
  // keep running; a person decides what to do. No verdict is a Warning Event, nothing changes.
  void reverify(Conditions& conditions) {
    auto& st = plan_.status;
    if (!st.verified) {
      return;
    }
    st.verified->checkedAt = formatTime(ctx_.now);
    const auto& images = *ctx_.reverification;
    auto [worst, message] = summarize(images);
    if (worst == signing::Outcome::Error) {
      plan_.verificationError = "verifying the running digests again: " + message;
      return;
    }
    const char* verdictReason = reasonOf(worst);
    if (worst > signing::Outcome::Unverified) {
      message = fmt::format("the digests {} runs no longer verify (its pods keep running): {}",
                            rsName(current_), message);
    }
    const crds::Condition* before = crds::findCondition(old_.conditions, condition::kVerified);
    bool changed = before == nullptr || before->reason != verdictReason;
    conditions.set(condition::kVerified, worst < signing::Outcome::Unverified, verdictReason,
                   message);
    if (changed && worst > signing::Outcome::Unverified) {
      // Named by the check before this one (the status read): re-planned after a crash, the
      // same decision finds its record.
      std::string previous = !old_.verified                     ? ""
                             : old_.verified->checkedAt.empty() ? old_.verified->at
                                                                : old_.verified->checkedAt;
      auto previousAt = parseTime(previous);
      int64_t since =
          previousAt
              ? std::chrono::duration_cast<std::chrono::seconds>(previousAt->time_since_epoch())
                    .count()
              : 0;
      withVerdicts(event(fmt::format("reverify-{}-{}.{}-{}", current_, digestsKey(images),
                                     kebab(verdictReason), since),
                         verdictReason, message, true),
                   verdictReason, images);
    }
  }

  // A template verified when its ReplicaSet was made is asked about again once a period.
  void scheduleReverification() {
    const auto& verified = plan_.status.verified;
    if (!verified || verified->podHash != current_) {
      return;
    }
    auto last = parseTime(verified->checkedAt.empty() ? verified->at : verified->checkedAt);
    if (last) {
      requeueAfter(std::max(
          std::chrono::milliseconds(std::chrono::seconds(1)),
          std::chrono::ceil<std::chrono::milliseconds>(*last + ctx_.reverifyEvery - ctx_.now)));
    }
  }

  // The current template waits for a verdict (or was refused): the stable, if there is one,
  // serves all traffic and a canary of an older template is superseded.
  void holdStable(Conditions& conditions, bool refused, const char* why,
                  const std::string& message) {
    auto& st = plan_.status;
    int32_t ready = 0;
    if (stableRs_ != nullptr) {
      const std::string& stable = stableRs_->podHash;
      clearCanaryState();
      st.currentPodHash = stable;  // what runs; a verified template starts a fresh canary
      st.stableRS = rsName(stable);
      converge(stable, replicas_);
      selectServices(stable, stable);
      if (old_.canaryWeight.value_or(0) != 0 || !ctx_.routeVerified) {
        plan_.route = RouteChange::Reset;
      }
      ready = stableRs_->availableReplicas;
    }
    st.phase = refused ? phase::kDegraded : phase::kProgressing;
    st.message = fmt::format("{} {}: {}", rsName(current_),
                             refused ? "is refused" : "waits for a verdict on its images", message);
    conditions.set(condition::kProgressing, !refused, why, *st.message);
    conditions.set(condition::kAvailable, ready >= replicas_,
                   ready >= replicas_ ? reason::kMinimumReplicasAvailable
                                      : reason::kMinimumReplicasUnavailable,
                   fmt::format("{}/{} pods available", ready, replicas_));
    conditions.set(condition::kPaused, false, reason::kNotPaused, "no canary is running");
    conditions.set(condition::kCompleted, false, why, "the current template has no ReplicaSet");
  }

  // --- The bake window after promotion ---

  std::chrono::milliseconds bakeDuration() const {
    return parseDuration(spec_.canary->bake->duration).value_or(std::chrono::milliseconds(0));
  }

  void bakeAnalysis() {
    if (spec_.canary->bake->analysis) {
      wantRun(runName("bake"), kBakeStep);
    }
  }

  // The promoted template in its window: the previous stable kept scaled and the bake analysis
  // judging, until the window has passed (then the template may become the last known-good) or
  // the analysis breaches (a rollback, and true).
  bool bakeWindow(Conditions& conditions) {
    auto& st = plan_.status;
    const auto& bake = *old_.bake;
    if (!spec_.canary || !spec_.canary->bake) {
      st.bake.reset();  // bake removed from the spec: the window ends now
      return false;
    }
    if (spec_.canary->bake->analysis) {
      const AnalysisRunView* run = findRun(runName("bake"));
      const auto& onError = spec_.canary->bake->analysis->onError;
      if (run != nullptr && !run->terminating && abortsOn(*run, onError)) {
        std::string cause =
            fmt::format("bake analysis {} is {}: {}", run->name, run->phase, run->message);
        if (rollBack(conditions, cause)) {
          return true;
        }
        // Nothing left to return to: the window stays open (the template never becomes
        // known-good) and people are told.
        event(attemptId() + ".rollback-impossible", event::kRolledBack,
              fmt::format("{}; no ReplicaSet of a known-good or the previous template is left "
                          "to roll back to: {} keeps serving",
                          cause, rsName(current_)),
              true)
            .action = "RollbackImpossible";
        bakeAnalysis();
        return false;
      }
    }
    auto started = parseTime(bake.startedAt).value_or(ctx_.now);
    auto ends = started + bakeDuration();
    if (ctx_.now >= ends) {
      st.bake.reset();
      event(attemptId() + ".bake-completed", event::kBakeCompleted,
            fmt::format("bake window of {} passed without a breach: {} scales to 0",
                        spec_.canary->bake->duration, rsName(bake.previousPodHash)))
          .action = event::kBakeCompleted;
      return false;
    }
    bakeAnalysis();
    if (find(bake.previousPodHash) != nullptr) {
      keep_.insert(bake.previousPodHash);
      converge(bake.previousPodHash, replicas_);
    }
    requeueAfter(std::chrono::ceil<std::chrono::milliseconds>(ends - ctx_.now));
    return false;
  }

  // A breach in the bake window: all traffic to the last known-good template (or, without one, to
  // the stable the promotion replaced) at once, then its pods; the promoted template keeps no pod
  // until the template changes. Phase RolledBack.
  bool rollBack(Conditions& conditions, std::string cause) {
    auto& st = plan_.status;
    const auto& bake = *old_.bake;
    // The newest known-good whose ReplicaSet is left, else the stable the promotion replaced;
    // a ReplicaSet that is gone is never made again here (from spec.template, the bad one).
    std::vector<std::string> candidates;
    if (st.lastKnownGood) {
      candidates.push_back(st.lastKnownGood->podHash);
    }
    for (const auto& good : st.knownGoodHistory) {
      candidates.push_back(good.podHash);
    }
    size_t knownGoods = candidates.size();
    candidates.push_back(bake.previousPodHash);
    std::string target;
    bool knownGood = false;
    // Known-goods that no longer verify are passed over; the newest of them is still a better
    // place than the breach when nothing else is left.
    std::vector<std::pair<std::string, std::string>> passedOver;  // pod hash, why
    std::string lastResort;
    for (size_t i = 0; i < candidates.size() && target.empty(); ++i) {
      if (candidates[i] == current_ || find(candidates[i]) == nullptr) {
        continue;
      }
      auto revoked = ctx_.revokedKnownGood.find(candidates[i]);
      if (i < knownGoods && revoked != ctx_.revokedKnownGood.end()) {
        passedOver.emplace_back(candidates[i], revoked->second);
        if (lastResort.empty()) {
          lastResort = candidates[i];
        }
        continue;
      }
      target = candidates[i];
      knownGood = i < knownGoods;
    }
    if (target.empty()) {
      target = lastResort;
    }
    std::erase_if(passedOver, [&](const auto& passed) { return passed.first == target; });
    if (target.empty()) {
      return false;
    }
    aborted_ = true;
    st.bake.reset();
    st.stablePodHash = target;
    st.stableRS = rsName(target);
    st.currentPodHash = current_;
    st.rolledBack = crds::RollbackStatus{current_, target, formatTime(ctx_.now), cause};
    clearCanaryState();
    keep_.insert(target);
    converge(target, replicas_);
    selectServices(target, target);
    plan_.route = RouteChange::Reset;
    const ReplicaSetView* to = find(target);
    std::vector<std::string> passed;
    for (const auto& [hash, why] : passedOver) {
      passed.push_back(fmt::format("{} ({})", rsName(hash), why));
    }
    std::string kind =
        ctx_.revokedKnownGood.count(target) != 0
            ? "known-good once, it no longer verifies, and no known-good that does is left"
        : knownGood && passedOver.empty() ? "known-good, the last that is left"
        : knownGood                       ? "the newest known-good that still verifies"
                                          : "the previous stable, which is not known-good";
    auto& back =
        event(attemptId() + ".rolled-back", event::kRolledBack,
              fmt::format("{}; all traffic back to {} ({}), {} scales to 0{}", cause,
                          rsName(target), kind, rsName(current_),
                          passed.empty() ? ""
                                         : fmt::format("; passed over, no longer verifying: {}",
                                                       fmt::join(passed, "; "))),
              true);
    back.action = event::kRolledBack;
    back.rollsBack = true;
    back.to = to != nullptr ? to->images : rsName(target);
    back.evidence["fromReplicaSet"] = rsName(current_);
    back.evidence["toReplicaSet"] = rsName(target);
    back.evidence["toKnownGood"] = knownGood ? "true" : "false";
    if (!passed.empty()) {
      back.evidence["passedOver"] = fmt::format("{}", fmt::join(passed, "; "));
    }
    if (currentRs_ != nullptr) {
      back.from = currentRs_->images;
    }
    rolledBackStatus(conditions);
    return true;
  }

  // A template rolled back from: it keeps no pod, and no canary of it starts, until the template
  // changes (a new one, or `kubectl mc undo`).
  void holdRolledBack(Conditions& conditions) {
    auto& st = plan_.status;
    st.currentPodHash = current_;
    clearCanaryState();
    if (stableRs_ != nullptr) {
      const std::string& target = stableRs_->podHash;
      keep_.insert(target);
      converge(target, replicas_);
      selectServices(target, target);
    }  // else its ReplicaSet was deleted: still nothing of the template rolled back from runs
    if (old_.canaryWeight.value_or(0) != 0 || !ctx_.routeVerified) {
      plan_.route = RouteChange::Reset;
    }
    aborted_ = true;
    rolledBackStatus(conditions);
  }

  void rolledBackStatus(Conditions& conditions) {
    auto& st = plan_.status;
    st.phase = phase::kRolledBack;
    st.message = fmt::format(
        "rolled back from {} to {}: {}; a new template (or `kubectl mc undo "
        "{}`) replaces it",
        rsName(current_), st.stableRS.value_or(""), st.rolledBack ? st.rolledBack->reason : "",
        ctx_.name);
    conditions.set(condition::kProgressing, false, reason::kRolledBack, *st.message);
    conditions.set(condition::kCompleted, false, reason::kRolledBack, *st.message);
    conditions.set(condition::kPaused, false, reason::kNotPaused, "no canary is running");
    const ReplicaSetView* target = find(st.stablePodHash.value_or(""));
    int32_t ready = target != nullptr ? target->availableReplicas : 0;
    conditions.set(condition::kAvailable, ready >= replicas_,
                   ready >= replicas_ ? reason::kMinimumReplicasAvailable
                                      : reason::kMinimumReplicasUnavailable,
                   fmt::format("{}/{} pods available", ready, replicas_));
  }

  // --- Analysis ---

  // This attempt's AnalysisRun of `what` ("2": step 2's; "bg": the background one).
  std::string runName(const std::string& what) const {
    return fmt::format("{}-{}-{}", ctx_.name, plan_.status.attempt.value_or(0), what);
  }
  std::string backgroundName() const { return plan_.status.backgroundRun.value_or(runName("bg")); }
  std::optional<std::string> backgroundOnError() const {
    return spec_.canary && spec_.canary->analysis ? spec_.canary->analysis->onError : std::nullopt;
  }
  // Whether the background analysis judges the canary at step `index` (and while it is
  // promoted to all replicas, until it completes).
  bool backgroundActive(int32_t index) const {
    return spec_.canary && spec_.canary->analysis &&
           index >= spec_.canary->analysis->startingStep.value_or(0);
  }

  const AnalysisRunView* findRun(const std::string& name) const {
    for (const auto& run : ctx_.analysisRuns) {
      if (run.name == name) {
        return &run;
      }
    }
    return nullptr;
  }

  void wantRun(const std::string& name, std::optional<int32_t> step) {
    if (wanted_.insert(name).second) {
      plan_.runs.push_back({name, step});
    }
  }

  // Whether `run` pauses the canary: no verdict (Inconclusive), or Error with onError: pause.
  static bool pausesOn(const AnalysisRunView& run, const std::optional<std::string>& onError) {
    return run.phase == verdict::kInconclusive ||
           (run.phase == verdict::kError && onError == verdict::kOnErrorPause);
  }
  // Whether `run` aborts the canary: Failed, or Error unless onError: pause.
  static bool abortsOn(const AnalysisRunView& run, const std::optional<std::string>& onError) {
    return run.phase == verdict::kFailed ||
           (run.phase == verdict::kError && onError != verdict::kOnErrorPause);
  }

  // Whether the status read was already paused for `why` (an Event is recorded on the change).
  bool pausedBefore(const char* why) const {
    return conditionReason(old_, condition::kPaused) == why && !freshCanary_;
  }

  // `run` if it holds the canary (no verdict, or Error with onError: pause), else null.
  static const AnalysisRunView* pausing(const AnalysisRunView* run,
                                        const std::optional<std::string>& onError) {
    return run != nullptr && pausesOn(*run, onError) ? run : nullptr;
  }

  std::string analysisHoldMessage(const std::string& where, const AnalysisRunView& run) const {
    return fmt::format(
        "{}: analysis {} is {}: {}; `kubectl mc promote {}` passes it, "
        "`kubectl mc abort {}` ends the canary",
        where, run.name, run.phase, run.message, ctx_.name, ctx_.name);
  }

  // With a spec MC cannot use (a template deleted mid-canary, say), the canary the status records
  // still answers to the verdicts of its runs: a run of its attempt that aborts takes all traffic
  // off it, as with a valid spec. Nothing else changes until the spec is fixed.
  void abortRecordedCanaryOnVerdict(Conditions& conditions) {
    if (!old_.canaryRS || !old_.currentPodHash || !old_.stablePodHash || abortedIn(old_) ||
        old_.abort.value_or(false)) {
      return;
    }
    const std::string prefix = runName("");
    for (const auto& run : ctx_.analysisRuns) {
      bool ofThisCanary = run.name.rfind(prefix, 0) == 0 && run.podHash == *old_.currentPodHash;
      if (!ofThisCanary || !abortsOn(run, std::nullopt)) {
        continue;
      }
      current_ = *old_.currentPodHash;
      currentRs_ = find(current_);
      stableRs_ = find(*old_.stablePodHash);
      if (currentRs_ == nullptr || stableRs_ == nullptr) {
        return;
      }
      plan_.status.abort = true;
      cause_ = AbortCause{reason::kAnalysisFailed,
                          fmt::format("analysis {} is {}: {}", run.name, run.phase, run.message),
                          "analysis/" + run.name};
      abort(conditions, false);
      return;
    }
  }

  // An abort if the background run (while active) or the step's run says so.
  std::optional<AbortCause> analysisAbort(int32_t index) {
    std::vector<std::pair<const AnalysisRunView*, std::optional<std::string>>> verdicts;
    if (backgroundActive(index)) {
      verdicts.emplace_back(findRun(backgroundName()), backgroundOnError());
    }
    if (index < stepCount_ && steps_[index].analysis) {
      verdicts.emplace_back(findRun(runName(fmt::format("{}", index))),
                            steps_[index].analysis->onError);
    }
    for (const auto& [run, onError] : verdicts) {
      if (run != nullptr && abortsOn(*run, onError)) {
        return AbortCause{reason::kAnalysisFailed,
                          fmt::format("analysis {} is {}: {}", run->name, run->phase, run->message),
                          "analysis/" + run->name};
      }
    }
    return std::nullopt;
  }

  // spec.progressDeadlineSeconds: a step that waits for canary pods longer than this aborts.
  std::optional<AbortCause> deadlinePassed(int32_t index) {
    auto& st = plan_.status;
    int32_t want = index < stepCount_ ? canaryTarget(weightAt(index)) : replicas_;
    bool waitsForPods = index >= stepCount_ || steps_[index].setWeight.has_value();
    if (!waitsForPods || available(currentRs_, want)) {
      return std::nullopt;
    }
    auto started = st.stepStartTime ? parseTime(*st.stepStartTime) : std::nullopt;
    if (!started) {
      st.stepStartTime = formatTime(ctx_.now);  // lost or unreadable: the step starts now
      started = ctx_.now;
    }
    const std::chrono::seconds deadline(spec_.progressDeadlineSeconds.value_or(600));
    if (ctx_.now < *started + deadline) {
      requeueAfter(std::chrono::ceil<std::chrono::milliseconds>(*started + deadline - ctx_.now));
      return std::nullopt;
    }
    int32_t ready = currentRs_ ? currentRs_->availableReplicas : 0;
    return AbortCause{reason::kProgressDeadlineExceeded,
                      fmt::format("{}/{} canary pods available after progressDeadlineSeconds {}",
                                  ready, want, deadline.count())};
  }

  // The runs no longer wanted end: the canary was superseded, aborted, completed or promoted
  // past them. Runs with a verdict keep it.
  void terminateOthers() {
    for (const auto& run : ctx_.analysisRuns) {
      if (wanted_.count(run.name) != 0 || run.terminating || analysis::isDecided(run.phase)) {
        continue;
      }
      std::string why = run.podHash != current_ ? verdict::kSuperseded
                        : aborted_              ? verdict::kAborted
                        : completed_ && (run.background || run.name == runName("bake"))
                            ? verdict::kCanaryCompleted
                            : verdict::kPassed;
      plan_.terminations.push_back({run.name, why});
    }
  }

  void clearCanaryState() {
    auto& st = plan_.status;
    st.canaryRS.reset();
    st.currentStepIndex = stepCount_;
    st.canaryWeight = 0;
    st.pauseStartTime.reset();
    st.abort.reset();
    st.promoteFull.reset();
    st.promoteStep.reset();
    st.stepStartTime.reset();
    st.backgroundRun.reset();
  }

  // No canary: the template is the stable's (or this is the first version). All of it runs at
  // once; a canary that was running when the template went back is scaled down at once.
  void steady(Conditions& conditions) {
    auto& st = plan_.status;
    bool first = stableRs_ == nullptr;
    bool reverted = !first && old_.currentPodHash && *old_.currentPodHash != current_;
    if (reverted && old_.canaryRS && !abortedIn(old_)) {
      auto& reverted =
          event(attemptId() + ".reverted", event::kAborted,
                fmt::format("template is the stable's again ({}): canary {} scaled to 0 at once",
                            rsName(current_), *old_.canaryRS),
                true);
      reverted.action = "RolledBack";
      reverted.rollsBack = true;
    }
    if (first && old_.stablePodHash && *old_.stablePodHash != current_) {
      // Someone deleted the stable ReplicaSet: there is nothing to canary against, so the
      // current template takes all replicas. Say so: it skips the steps.
      event(fmt::format("{}.stable-missing-{}", attemptId(), *old_.stablePodHash),
            event::kStableMissing,
            fmt::format("stable ReplicaSet {} is gone: {} runs all replicas without canary steps",
                        rsName(*old_.stablePodHash), rsName(current_)),
            true);
    }
    if (!first && old_.bake && old_.bake->podHash == current_ && bakeWindow(conditions)) {
      return;  // rolled back
    }
    if (old_.bake && old_.bake->podHash != current_) {
      st.bake.reset();  // the template changed during the window (a revert): it is over
    }
    st.currentPodHash = current_;
    st.stablePodHash = current_;
    st.stableRS = rsName(current_);
    completed_ = true;  // runs still judging this template's canary: it completed
    clearCanaryState();
    converge(current_, replicas_);
    selectServices(current_, current_);
    if (old_.canaryWeight.value_or(0) != 0 || !ctx_.routeVerified) {
      plan_.route = RouteChange::Reset;
    }
    steadyStatus(conditions);
  }

  // The status once the template is the stable's: Healthy when all its pods are available.
  void steadyStatus(Conditions& conditions) {
    auto& st = plan_.status;
    bool healthy = available(currentRs_, replicas_);
    int32_t ready = currentRs_ ? currentRs_->availableReplicas : 0;
    if (replicas_ == 0) {
      // Scaled to zero (maintenance, cost, an autoscaler): the stable stays the stable at 0 pods,
      // with its history, and is Healthy once its last pod is gone.
      healthy = healthy && podsLeft() == 0;
      st.message =
          healthy ? scaledToZeroMessage() : fmt::format("scaling to 0: {} pods left", podsLeft());
    } else {
      st.message =
          healthy && st.bake && st.bake->podHash == current_
              ? fmt::format("{} serves all traffic; bake window since {}, {} kept scaled",
                            rsName(current_), st.bake->startedAt, rsName(st.bake->previousPodHash))
          : healthy ? fmt::format("{} serves all traffic", rsName(current_))
                    : fmt::format("waiting for {}: {}/{} pods available", rsName(current_), ready,
                                  replicas_);
    }
    st.phase = healthy ? phase::kHealthy : phase::kProgressing;
    conditions.set(condition::kProgressing, true,
                   healthy ? reason::kNewReplicaSetAvailable : reason::kReplicaSetUpdated,
                   *st.message);
    conditions.set(condition::kAvailable, ready >= replicas_,
                   ready >= replicas_ ? reason::kMinimumReplicasAvailable
                                      : reason::kMinimumReplicasUnavailable,
                   fmt::format("{}/{} pods available", ready, replicas_));
    conditions.set(condition::kPaused, false, reason::kNotPaused, "no canary is running");
    conditions.set(condition::kCompleted, healthy,
                   healthy ? reason::kRolloutCompleted : reason::kRolloutProgressing,
                   healthy          ? "the rollout to the current template is complete"
                   : replicas_ == 0 ? "pods are still terminating"
                                    : "pods of the current template are not all available yet");
    knownGood(conditions, healthy);
  }

  // "registry/repo@sha256:..." of a verified image.
  static std::string pinnedOf(const crds::VerifiedImage& image) {
    auto reference = signing::ImageReference::parse(image.image);
    return (reference ? reference->name() : image.image) + "@" + image.digest;
  }

  // The current template, once the stable and healthy, becomes the last known-good if every
  // image it runs was verified (a waiver excuses, it does not vouch); the one before goes to the
  // history. Until one exists, a rollback can only return to a stable no one verified: the
  // condition says so.
  void knownGood(Conditions& conditions, bool healthy) {
    auto& st = plan_.status;
    const auto& verified = st.verified;
    bool allVerified =
        verified && verified->podHash == current_ && !verified->images.empty() &&
        std::all_of(verified->images.begin(), verified->images.end(), [](const auto& image) {
          return image.outcome == signing::toString(signing::Outcome::Verified);
        });
    bool baking = st.bake && st.bake->podHash == current_;
    if (healthy && allVerified && !baking &&
        (!st.lastKnownGood || st.lastKnownGood->podHash != current_)) {
      if (st.lastKnownGood) {
        std::erase_if(st.knownGoodHistory,
                      [&](const auto& good) { return good.podHash == st.lastKnownGood->podHash; });
        st.knownGoodHistory.insert(st.knownGoodHistory.begin(), *st.lastKnownGood);
        if (st.knownGoodHistory.size() > crds::kKnownGoodHistory) {
          st.knownGoodHistory.resize(crds::kKnownGoodHistory);
        }
      }
      const auto& first = verified->images.front();
      std::vector<std::string> pinned;
      for (const auto& image : verified->images) {
        pinned.push_back(fmt::format("{}={}", image.container, pinnedOf(image)));
      }
      st.lastKnownGood = crds::KnownGood{current_,         pinnedOf(first),      first.digest,
                                         first.verifiedBy, formatTime(ctx_.now), verified->images};
      auto& good = event(fmt::format("known-good-{}-{}", current_, attemptId()), event::kKnownGood,
                         fmt::format("{} ({}) is the last known-good: verified, promoted and "
                                     "healthy",
                                     rsName(current_), fmt::join(pinned, ", ")));
      good.action = event::kKnownGood;
      good.to = fmt::format("{}", fmt::join(pinned, ","));
      for (const auto& image : verified->images) {
        good.evidence[image.container + ".digest"] = image.digest;
      }
    }
    if (st.lastKnownGood) {
      conditions.set(condition::kKnownGood, true, reason::kKnownGood,
                     fmt::format("{} ({}) is what a rollback returns to",
                                 rsName(st.lastKnownGood->podHash), st.lastKnownGood->image));
    } else if (verified) {
      conditions.set(condition::kKnownGood, false, reason::kStableUnverified,
                     fmt::format("no template has been verified, promoted and healthy yet: a "
                                 "rollback returns to {}, which is unverified",
                                 st.stableRS.value_or(rsName(current_))));
    }
  }

  // Pods of any of the Rollout's ReplicaSets that still exist (as their status counts them).
  int32_t podsLeft() const {
    int32_t pods = 0;
    for (const auto& rs : ctx_.replicaSets) {
      pods += rs.statusReplicas;
    }
    return pods;
  }

  std::string scaledToZeroMessage() const {
    return fmt::format(
        "scaled to 0: stable {} is kept at 0 pods; `kubectl scale rollout/{} --replicas=N` "
        "brings it back",
        plan_.status.stableRS.value_or(rsName(current_)), ctx_.name);
  }

  int32_t weightAt(int32_t index) const {
    if (index >= stepCount_) {
      return 100;
    }
    for (int32_t i = index; i >= 0; --i) {
      if (steps_[i].setWeight) {
        return std::clamp(*steps_[i].setWeight, 0, 100);
      }
    }
    return 0;
  }

  int32_t canaryTarget(int32_t weight) const {
    return weight <= 0 ? 0 : canaryReplicas(replicas_, weight);
  }

  // With a router the stable keeps every replica. With the replica ratio it shrinks as the
  // canary grows, but only once the canary's pods are available, so capacity never dips.
  int32_t stableTarget(int32_t weight) const {
    if (ctx_.trafficRouted) {
      return replicas_;
    }
    int32_t target = std::max(0, replicas_ - canaryTarget(weight));
    if (target < stableRs_->replicas && !available(currentRs_, canaryTarget(weight))) {
      return stableRs_->replicas;
    }
    return target;
  }

  // Whether step `index` (the current one, its targets already applied) is done.
  bool stepDone(int32_t index) {
    const auto& step = steps_[index];
    auto& st = plan_.status;
    if (step.setWeight) {
      int32_t weight = weightAt(index);
      bool stableDone = ctx_.trafficRouted || available(stableRs_, stableTarget(weight));
      return old_.canaryWeight.value_or(-1) == weight && ctx_.routeVerified &&
             available(currentRs_, canaryTarget(weight)) && stableDone;
    }
    if (step.pause && step.pause->duration) {
      auto duration = parseDuration(*step.pause->duration).value_or(std::chrono::milliseconds(0));
      auto started = st.pauseStartTime ? parseTime(*st.pauseStartTime) : std::nullopt;
      if (!started) {
        st.pauseStartTime = formatTime(ctx_.now);  // lost or unreadable: the pause starts now
        requeueAfter(duration);
        return false;
      }
      auto ends = *started + duration;
      if (ctx_.now >= ends) {
        return true;
      }
      requeueAfter(std::chrono::ceil<std::chrono::milliseconds>(ends - ctx_.now));
      return false;
    }
    if (step.analysis) {
      const auto* run = findRun(runName(fmt::format("{}", index)));
      // A run someone ended (spec.terminate) passes nothing, whatever it concluded.
      return run != nullptr && run->phase == verdict::kSuccessful && !run->terminating;
    }
    return false;  // pause without duration: until promoted
  }

  void enterStep(int32_t index) {
    auto& st = plan_.status;
    st.pauseStartTime.reset();
    st.stepStartTime = formatTime(ctx_.now);
    if (index >= stepCount_) {
      return;
    }
    const auto& step = steps_[index];
    event(fmt::format("{}.step-{}", attemptId(), index), event::kStepAdvanced,
          fmt::format("step {}/{}: {}", index + 1, stepCount_, crds::describeStep(step)));
    if (step.pause) {
      st.pauseStartTime = formatTime(ctx_.now);
      event(fmt::format("{}.pause-{}", attemptId(), index), event::kPaused,
            step.pause->duration ? fmt::format("paused at step {}/{} for {}", index + 1, stepCount_,
                                               *step.pause->duration)
                                 : fmt::format("paused at step {}/{} until `kubectl mc promote {}`",
                                               index + 1, stepCount_, ctx_.name));
      if (step.pause->duration) {
        requeueAfter(parseDuration(*step.pause->duration).value_or(std::chrono::milliseconds(0)));
      }
    }
  }

  void canary(Conditions& conditions) {
    auto& st = plan_.status;
    const std::string& stable = stableRs_->podHash;
    bool wasAborted = abortedIn(old_);
    bool newCanary = old_.currentPodHash.value_or("") != current_;
    bool retried = !newCanary && wasAborted && !old_.abort.value_or(false);
    bool entered = false;
    st.stableRS = rsName(stable);
    freshCanary_ = newCanary || retried;
    if (newCanary || retried) {
      st.attempt = old_.attempt.value_or(0) + 1;
      clearCanaryState();
      st.currentStepIndex = 0;
      st.currentPodHash = current_;
      st.canaryRS = rsName(current_);
      std::string superseded;
      if (newCanary && old_.canaryRS && *old_.canaryRS != rsName(current_)) {
        superseded = fmt::format("; canary {} superseded and scaled to 0", *old_.canaryRS);
      }
      auto& started = event(
          attemptId() + ".started", event::kRolloutStarted,
          fmt::format("{}canary {} (revision {}) against stable {}{}", retried ? "retrying: " : "",
                      rsName(current_), currentRs_ ? currentRs_->revision : nextRevision_,
                      rsName(stable), superseded));
      started.action = "CanaryStarted";
      if (retried) {
        requested(started).action = "Retried";
      }
      if (auto drill = drillId()) {
        event(attemptId() + ".drill-started", event::kDrillStarted,
              fmt::format("drill {}: canary {} is a deliberately bad revision, for MC to catch",
                          *drill, rsName(current_)))
            .action = event::kDrillStarted;
      }
      entered = true;
    }
    selectServices(stable, current_);

    if (st.abort.value_or(false)) {
      abort(conditions, wasAborted);
      return;
    }

    int32_t index = std::clamp(st.currentStepIndex.value_or(0), 0, stepCount_);
    // The analyses' verdicts come first, before any promote request: a Failed run aborts the
    // canary at once, at any step.
    if (auto cause = analysisAbort(index)) {
      st.abort = true;
      cause_ = std::move(cause);
      abort(conditions, false);
      return;
    }
    // A background run without a verdict holds the canary where it is, whatever the step.
    const AnalysisRunView* held =
        backgroundActive(index) ? pausing(findRun(backgroundName()), backgroundOnError()) : nullptr;
    if (st.promoteFull.value_or(false)) {
      if (held != nullptr) {
        st.backgroundRun = runName(fmt::format("bg-{}", stepCount_ + 1));
        held = nullptr;
      }
      if (index < stepCount_) {
        requested(event(attemptId() + ".promoted-full", event::kPromoted,
                        fmt::format("promoted fully from step {}/{}: the remaining steps are "
                                    "skipped",
                                    index + 1, stepCount_)));
      }
      index = stepCount_;
      entered = true;
    } else if (st.promoteStep && *st.promoteStep == index && (index < stepCount_ || held)) {
      // A promote also passes a background analysis that paused without a verdict: a fresh run
      // of it judges the canary from here on.
      if (held != nullptr) {
        st.backgroundRun = runName(fmt::format("bg-{}", index + 1));
        held = nullptr;
      }
      if (index < stepCount_) {
        requested(event(fmt::format("{}.promoted-{}", attemptId(), index), event::kPromoted,
                        fmt::format("step {}/{} ({}) promoted by request", index + 1, stepCount_,
                                    crds::describeStep(steps_[index]))));
        ++index;
        entered = true;
      }
    }
    st.promoteFull.reset();
    st.promoteStep.reset();

    bool userPaused = spec_.paused.value_or(false);
    bool atZero = replicas_ == 0;
    if (!entered && !userPaused && !atZero && !held && index < stepCount_ && stepDone(index)) {
      ++index;
      entered = true;
    }
    if (entered) {
      enterStep(index);
    }
    st.currentStepIndex = index;
    if (userPaused || atZero || held) {
      // Held by a person, a scale to 0 or an analysis: the deadline counts once the hold ends.
      st.stepStartTime.reset();
    } else if (auto cause = deadlinePassed(index)) {
      st.abort = true;
      cause_ = std::move(cause);
      abort(conditions, false);
      return;
    }
    // The runs this step needs, whatever holds it: a run not wanted is terminated.
    if (backgroundActive(index)) {
      plan_.status.backgroundRun = backgroundName();
      wantRun(backgroundName(), std::nullopt);
    }
    if (index < stepCount_ && steps_[index].analysis) {
      wantRun(runName(fmt::format("{}", index)), index);
    }
    if (index < stepCount_ && atZero) {
      holdAtZero(conditions, index);
    } else if (index < stepCount_) {
      holdStep(conditions, index, userPaused, held);
    } else if (held != nullptr) {
      holdCompletion(conditions, *held);
    } else {
      promote(conditions);
    }
  }

  // The canary at step `index`: its weight's replica counts and route, and why it waits.
  void holdStep(Conditions& conditions, int32_t index, bool userPaused,
                const AnalysisRunView* held) {
    auto& st = plan_.status;
    int32_t weight = weightAt(index);
    st.canaryWeight = weight;
    // With the replica ratio a falling weight grows the stable first: the canary shrinks only
    // once the stable's pods are available, as the stable shrinks only after the canary grew.
    int32_t canaryWant = canaryTarget(weight);
    if (!ctx_.trafficRouted && currentRs_ != nullptr && canaryWant < currentRs_->replicas &&
        !available(stableRs_, stableTarget(weight))) {
      canaryWant = currentRs_->replicas;
    }
    converge(current_, canaryWant);
    converge(stableRs_->podHash, stableTarget(weight));
    // More traffic goes to the canary only once its pods are available; less at once. A fresh
    // canary inherits no weight: the route holds the superseded canary's, which the canary
    // Service (now selecting the fresh pods) would send to pods not ready yet.
    int32_t routedWeight = freshCanary_ ? 0 : old_.canaryWeight.value_or(0);
    bool routeHolds = weight == old_.canaryWeight.value_or(0) && ctx_.routeVerified;
    bool canaryReady = available(currentRs_, canaryTarget(weight));
    if (!routeHolds && (canaryReady || weight < routedWeight)) {
      plan_.route = RouteChange::SetWeight;
      plan_.routeWeight = weight;
    } else if (freshCanary_ && old_.canaryWeight.value_or(0) != 0) {
      plan_.route = RouteChange::Reset;
    }
    if (plan_.route != RouteChange::None && ctx_.trafficRouted) {
      requeueAfter(kRouteRecheck);  // MC does not watch routes: look whether it holds
    }
    const auto& step = steps_[index];
    std::string where =
        fmt::format("step {}/{} ({})", index + 1, stepCount_, crds::describeStep(step));
    std::string pausedReason;
    if (userPaused) {
      pausedReason = reason::kPausedByUser;
      st.message = where + ": paused (spec.paused); `kubectl mc resume` continues";
      bool wasUserPaused = conditionReason(old_, condition::kPaused) == reason::kPausedByUser;
      if (!wasUserPaused) {
        event(fmt::format("{}.paused-g{}", attemptId(), ctx_.generation), event::kPaused,
              fmt::format("paused by spec.paused at {}", where));
      }
    } else if (held != nullptr) {
      pausedReason = reason::kAnalysisInconclusive;
      st.message = analysisHoldMessage(where, *held);
      if (!pausedBefore(reason::kAnalysisInconclusive)) {
        event(fmt::format("{}.paused-{}", attemptId(), held->name), event::kAnalysisInconclusive,
              *st.message, true)
            .action = event::kPaused;
      }
    } else if (step.pause) {
      pausedReason = reason::kCanaryPauseStep;
      st.message = where + (step.pause->duration
                                ? ": pausing"
                                : fmt::format(": waiting for `kubectl mc promote {}`", ctx_.name));
    } else if (step.analysis) {
      std::string name = runName(fmt::format("{}", index));
      const auto* run = findRun(name);
      if (pausing(run, step.analysis->onError) != nullptr) {
        pausedReason = reason::kAnalysisInconclusive;
        st.message = analysisHoldMessage(where, *run);
        if (!pausedBefore(reason::kAnalysisInconclusive)) {
          event(fmt::format("{}.paused-{}", attemptId(), name), event::kAnalysisInconclusive,
                *st.message, true)
              .action = event::kPaused;
        }
      } else {
        st.message = fmt::format("{}: analysis {} {}", where, name,
                                 run == nullptr || run->phase.empty()
                                     ? std::string("starting")
                                     : fmt::format("{}: {}", run->phase, run->message));
      }
    } else {
      int32_t ready = currentRs_ ? currentRs_->availableReplicas : 0;
      st.message =
          fmt::format("{}: {}/{} canary pods available{}", where, ready, canaryTarget(weight),
                      ctx_.routeVerified ? "" : ", waiting for the route's weight");
    }
    st.phase = pausedReason.empty() ? phase::kProgressing : phase::kPaused;
    conditions.set(condition::kProgressing, true, reason::kReplicaSetUpdated,
                   fmt::format("canary {} at {}", rsName(current_), where));
    conditions.set(condition::kPaused, !pausedReason.empty(),
                   pausedReason.empty() ? reason::kNotPaused : pausedReason, *st.message);
    conditions.set(condition::kCompleted, false, reason::kRolloutProgressing,
                   "a canary is running");
    setAvailable(conditions);
  }

  // spec.replicas is 0: no pod to weigh and no traffic to judge, so the canary holds its step
  // (a promote still moves it) with both ReplicaSets at 0 and no weight on the route. Scaled up,
  // the step runs again from its start: the weight rises once the canary's pods are available,
  // and a timed pause counts from then.
  void holdAtZero(Conditions& conditions, int32_t index) {
    auto& st = plan_.status;
    converge(current_, 0);
    converge(stableRs_->podHash, 0);
    st.canaryWeight = 0;
    st.pauseStartTime.reset();
    if (old_.canaryWeight.value_or(0) != 0 || !ctx_.routeVerified) {
      plan_.route = RouteChange::Reset;
    }
    std::string where =
        fmt::format("step {}/{} ({})", index + 1, stepCount_, crds::describeStep(steps_[index]));
    st.message = fmt::format(
        "{}: scaled to 0 replicas, nothing to weigh; the canary waits until "
        "`kubectl scale rollout/{} --replicas=N`",
        where, ctx_.name);
    if (freshCanary_ || conditionReason(old_, condition::kPaused) != crds::reason::kScaledToZero) {
      event(fmt::format("{}.zero-g{}", attemptId(), ctx_.generation), crds::reason::kScaledToZero,
            fmt::format("canary {} waits at {}: spec.replicas is 0, nothing to weigh",
                        rsName(current_), where));
    }
    st.phase = phase::kPaused;
    conditions.set(condition::kProgressing, true, reason::kReplicaSetUpdated,
                   fmt::format("canary {} at {}, scaled to 0", rsName(current_), where));
    conditions.set(condition::kPaused, true, crds::reason::kScaledToZero, *st.message);
    conditions.set(condition::kCompleted, false, reason::kRolloutProgressing,
                   "a canary is running");
    setAvailable(conditions);
  }

  // All steps passed but the background analysis has no verdict: the canary runs all replicas
  // and does not become the stable until a promote (a fresh background run) or an abort.
  void holdCompletion(Conditions& conditions, const AnalysisRunView& held) {
    auto& st = plan_.status;
    converge(current_, replicas_);
    keep_.insert(stableRs_->podHash);
    st.canaryWeight = 100;
    st.message = analysisHoldMessage("promotion", held);
    if (!pausedBefore(reason::kAnalysisInconclusive)) {
      event(fmt::format("{}.paused-{}", attemptId(), held.name), event::kAnalysisInconclusive,
            *st.message, true)
          .action = event::kPaused;
    }
    st.phase = phase::kPaused;
    conditions.set(condition::kProgressing, true, reason::kReplicaSetUpdated,
                   fmt::format("canary {} at all replicas, not promoted", rsName(current_)));
    conditions.set(condition::kPaused, true, reason::kAnalysisInconclusive, *st.message);
    conditions.set(condition::kCompleted, false, reason::kRolloutProgressing,
                   "a canary is running");
    setAvailable(conditions);
  }

  // All steps passed: the canary scales to the full count, then becomes the stable; the old
  // stable keeps its pods until the scale-down delay has passed (so the routes settle first).
  void promote(Conditions& conditions) {
    auto& st = plan_.status;
    converge(current_, replicas_);
    keep_.insert(stableRs_->podHash);
    if (!available(currentRs_, replicas_)) {
      int32_t ready = currentRs_ ? currentRs_->availableReplicas : 0;
      st.phase = phase::kProgressing;
      st.message = fmt::format("promoting: {}/{} canary pods available", ready, replicas_);
      conditions.set(condition::kProgressing, true, reason::kReplicaSetUpdated, *st.message);
      conditions.set(condition::kPaused, false, reason::kNotPaused, "promoting");
      conditions.set(condition::kCompleted, false, reason::kRolloutProgressing,
                     "promoting the canary");
      setAvailable(conditions);
      return;
    }
    std::string oldStable = stableRs_->name;
    completed_ = true;
    // The canary is done: its background analysis ends here, Successful if no limit was crossed.
    wanted_.erase(backgroundName());
    std::erase_if(plan_.runs, [](const WantRun& run) { return !run.step; });
    endDrill(false, "mc");
    event(
        attemptId() + ".completed", event::kRolloutCompleted,
        fmt::format("{} (revision {}) is the stable now; {} scales to 0 in {} s", rsName(current_),
                    currentRs_->revision, oldStable, ctx_.scaleDownDelay.count()))
        .action = "Completed";
    st.stablePodHash = current_;
    st.stableRS = rsName(current_);
    clearCanaryState();
    plan_.services.clear();
    selectServices(current_, current_);
    plan_.route = RouteChange::Reset;
    if (spec_.canary && spec_.canary->bake && replicas_ > 0) {
      // The old stable stays scaled, a warm standby, until the bake window has passed.
      st.bake = crds::BakeStatus{current_, stableRs_->podHash, formatTime(ctx_.now)};
      event(attemptId() + ".bake-started", event::kBakeStarted,
            fmt::format("bake window of {}: {} stays scaled until it has passed{}",
                        spec_.canary->bake->duration, oldStable,
                        spec_.canary->bake->analysis ? ", and the bake analysis judges "
                                                       "the new stable"
                                                     : ""))
          .action = event::kBakeStarted;
      keep_.insert(stableRs_->podHash);
      converge(stableRs_->podHash, replicas_);
      bakeAnalysis();
      requeueAfter(bakeDuration());
    } else if (replicas_ == 0) {
      // Nothing serves at 0: the routes have nothing to settle, so no scale-down delay.
      if (stableRs_->replicas > 0 || stableRs_->scaleDownAt) {
        plan_.scales.push_back({oldStable, 0, std::nullopt, stableRs_->scaleDownAt.has_value()});
      }
    } else if (stableRs_->replicas > 0) {
      plan_.scales.push_back(
          {oldStable, stableRs_->replicas, ctx_.now + ctx_.scaleDownDelay, false});
      requeueAfter(ctx_.scaleDownDelay);
    }
    steadyStatus(conditions);
  }

  void abort(Conditions& conditions, bool wasAborted) {
    auto& st = plan_.status;
    aborted_ = true;
    std::string why = reason::kRolloutAborted;
    std::string note = "aborted by request";
    if (wasAborted) {
      // The cause was recorded when it happened; later passes keep it.
      why = conditionReason(old_, condition::kProgressing);
      const Condition* progressing = crds::findCondition(old_.conditions, condition::kProgressing);
      note = progressing != nullptr ? progressing->message : note;
    } else {
      if (cause_) {
        why = cause_->reason;
        note = cause_->note;
      }
      auto& aborted =
          event(attemptId() + ".aborted", why == reason::kRolloutAborted ? event::kAborted : why,
                fmt::format("canary {} aborted at step {}/{}: {}; all traffic back to {}",
                            rsName(current_), st.currentStepIndex.value_or(0) + 1, stepCount_, note,
                            stableRs_->name),
                true);
      aborted.action = event::kAborted;
      aborted.rollsBack = true;
      if (why == reason::kRolloutAborted) {
        requested(aborted);
      } else if (cause_ && !cause_->actor.empty()) {
        aborted.actor = cause_->actor;
      }
      endDrill(true, aborted.actor);
      note =
          fmt::format("{}; `kubectl mc retry {}` restarts the canary, a new template replaces it",
                      note, ctx_.name);
    }
    converge(current_, 0);
    converge(stableRs_->podHash, replicas_);
    st.canaryWeight = 0;
    st.pauseStartTime.reset();
    if (old_.canaryWeight.value_or(0) != 0 || !ctx_.routeVerified) {
      plan_.route = RouteChange::Reset;
    }
    st.phase = phase::kDegraded;
    st.message = "canary aborted: " + note;
    conditions.set(condition::kProgressing, false, why, note);
    conditions.set(condition::kPaused, false, reason::kNotPaused, "aborted");
    conditions.set(condition::kCompleted, false, reason::kRolloutAborted, "the canary was aborted");
    setAvailable(conditions);
  }

  void setAvailable(Conditions& conditions) {
    int32_t ready = 0;
    for (const auto& rs : ctx_.replicaSets) {
      ready += rs.availableReplicas;
    }
    conditions.set(condition::kAvailable, ready >= replicas_,
                   ready >= replicas_ ? reason::kMinimumReplicasAvailable
                                      : reason::kMinimumReplicasUnavailable,
                   fmt::format("{}/{} pods available", ready, replicas_));
  }

  // ReplicaSets that are neither the stable nor the canary scale to zero, a demoted stable only
  // once its scale-down time has come.
  void scaleDownOthers() {
    for (const auto& rs : ctx_.replicaSets) {
      if (keep_.count(rs.podHash) != 0 || rs.replicas == 0) {
        continue;
      }
      // At spec.replicas 0 nothing serves, so a demoted stable need not wait for routes.
      if (rs.scaleDownAt && ctx_.now < *rs.scaleDownAt && replicas_ > 0) {
        requeueAfter(std::chrono::ceil<std::chrono::milliseconds>(*rs.scaleDownAt - ctx_.now));
        continue;
      }
      plan_.scales.push_back({rs.name, 0, std::nullopt, rs.scaleDownAt.has_value()});
    }
  }

  // Old ReplicaSets at zero beyond spec.revisionHistoryLimit (newest kept) are deleted.
  void pruneHistory() {
    std::vector<const ReplicaSetView*> old;
    std::set<std::string> knownGood;  // what a rollback or `kubectl mc undo` returns to
    if (plan_.status.lastKnownGood) {
      knownGood.insert(plan_.status.lastKnownGood->podHash);
    }
    for (const auto& good : plan_.status.knownGoodHistory) {
      knownGood.insert(good.podHash);
    }
    for (const auto& rs : ctx_.replicaSets) {
      if (keep_.count(rs.podHash) == 0 && knownGood.count(rs.podHash) == 0 && rs.replicas == 0 &&
          rs.statusReplicas == 0) {
        old.push_back(&rs);
      }
    }
    size_t limit = static_cast<size_t>(std::max(0, spec_.revisionHistoryLimit.value_or(10)));
    if (old.size() <= limit) {
      return;
    }
    std::sort(old.begin(), old.end(), [](auto* a, auto* b) { return a->revision > b->revision; });
    for (size_t i = limit; i < old.size(); ++i) {
      plan_.deletes.push_back(old[i]->name);
    }
  }

  void countReplicas() {
    auto& st = plan_.status;
    int32_t total = 0, available = 0, updated = 0;
    for (const auto& rs : ctx_.replicaSets) {
      total += rs.statusReplicas;
      available += rs.availableReplicas;
      if (!current_.empty() && rs.podHash == current_) {
        updated = rs.statusReplicas;
      }
    }
    st.replicas = total;
    st.availableReplicas = available;
    st.updatedReplicas = updated;
  }

  const RolloutContext& ctx_;
  const crds::RolloutSpec& spec_;
  const RolloutStatus& old_;
  const int32_t replicas_;
  const std::vector<CanaryStep> steps_;
  const int32_t stepCount_;
  Plan plan_;
  std::string current_;
  const ReplicaSetView* currentRs_ = nullptr;
  const ReplicaSetView* stableRs_ = nullptr;
  int64_t nextRevision_ = 1;
  std::set<std::string> keep_;       // hashes this plan scales itself
  bool freshCanary_ = false;         // this plan starts the canary (new template or retry)
  std::set<std::string> wanted_;     // AnalysisRuns this plan wants
  std::optional<AbortCause> cause_;  // why this plan aborts the canary
  bool aborted_ = false;
  bool completed_ = false;  // this plan completes the canary
  // container -> digest-pinned image, for the current template's ReplicaSet (admit()).
  std::map<std::string, std::string> pinned_;
};

}  // namespace

Plan plan(const RolloutContext& context) { return Planner(context).run(); }

std::string replicaSetName(std::string_view rollout, std::string_view podHash) {
  return fmt::format("{}-{}", rollout, podHash);
}

std::string selectorString(const json::object& selector) {
  std::vector<std::string> parts;
  if (const auto* matchLabels = objectAt(selector, "matchLabels")) {
    for (const auto& [key, value] : *matchLabels) {
      parts.push_back(
          fmt::format("{}={}", std::string_view(key),
                      value.is_string() ? std::string(value.as_string()) : json::serialize(value)));
    }
  }
  if (const auto* expressions = selector.if_contains("matchExpressions");
      expressions != nullptr && expressions->is_array()) {
    for (const auto& e : expressions->as_array()) {
      if (!e.is_object()) {
        continue;
      }
      const auto& expression = e.as_object();
      auto text = [&](std::string_view k) {
        const auto* v = expression.if_contains(k);
        return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      std::string key = text("key"), op = text("operator");
      std::vector<std::string> values;
      if (const auto* v = expression.if_contains("values"); v != nullptr && v->is_array()) {
        for (const auto& item : v->as_array()) {
          if (item.is_string()) {
            values.emplace_back(item.as_string());
          }
        }
      }
      if (op == "Exists") {
        parts.push_back(key);
      } else if (op == "DoesNotExist") {
        parts.push_back("!" + key);
      } else if (op == "In" || op == "NotIn") {
        parts.push_back(
            fmt::format("{} {} ({})", key, op == "In" ? "in" : "notin", fmt::join(values, ",")));
      }
    }
  }
  std::sort(parts.begin(), parts.end());
  return fmt::format("{}", fmt::join(parts, ","));
}

}  // namespace mc::reconcilers

namespace mc::reconcilers {

std::string imagesOf(const json::object& podTemplate) {
  std::string out;
  const json::object* spec = objectAt(podTemplate, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    const json::value* containers = spec != nullptr ? spec->if_contains(list) : nullptr;
    if (containers == nullptr || !containers->is_array()) {
      continue;
    }
    for (const auto& container : containers->as_array()) {
      if (!container.is_object()) continue;
      out +=
          fmt::format("{}{}={}", out.empty() ? "" : ",", stringAt(&container.as_object(), "name"),
                      stringAt(&container.as_object(), "image"));
    }
  }
  return out;
}

}  // namespace mc::reconcilers
