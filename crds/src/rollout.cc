#include "mc/crds/rollout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include "mc/common/json.h"
#include "reader.h"

namespace mc::crds {
namespace {

namespace json = boost::json;

RolloutAnalysis readAnalysis(Reader& r, const json::object& in, const std::string& path) {
  RolloutAnalysis a;
  if (auto* templates = r.optArray(in, "templates", path)) {
    for (size_t i = 0; i < templates->size(); ++i) {
      auto refPath = path + ".templates[" + std::to_string(i) + "]";
      if (const auto* ref = r.asObject((*templates)[i], refPath)) {
        a.templates.push_back({r.optString(*ref, "templateName", refPath).value_or(""),
                               r.optBool(*ref, "clusterScope", refPath)});
      }
    }
  }
  a.args = readArgs(r, in, path);
  a.onError = r.optString(in, "onError", path);
  a.startingStep = r.optInt<int32_t>(in, "startingStep", path);
  return a;
}

json::object writeAnalysis(const RolloutAnalysis& analysis) {
  json::array templates;
  for (const auto& ref : analysis.templates) {
    json::object t{{"templateName", ref.templateName}};
    put(t, "clusterScope", ref.clusterScope);
    templates.push_back(std::move(t));
  }
  json::object out{{"templates", std::move(templates)}};
  if (!analysis.args.empty()) {
    out["args"] = writeArgs(analysis.args);
  }
  put(out, "onError", analysis.onError);
  put(out, "startingStep", analysis.startingStep);
  return out;
}

CanaryStep readStep(Reader& r, const json::object& in, const std::string& path) {
  CanaryStep step;
  step.setWeight = r.optInt<int32_t>(in, "setWeight", path);
  if (auto* pause = r.optObject(in, "pause", path)) {
    step.pause = PauseStep{r.optString(*pause, "duration", path + ".pause")};
  }
  if (auto* analysis = r.optObject(in, "analysis", path)) {
    step.analysis = readAnalysis(r, *analysis, path + ".analysis");
  }
  return step;
}

json::object writeStep(const CanaryStep& step) {
  json::object out;
  put(out, "setWeight", step.setWeight);
  if (step.pause) {
    json::object pause;
    put(pause, "duration", step.pause->duration);
    out["pause"] = std::move(pause);
  }
  if (step.analysis) {
    out["analysis"] = writeAnalysis(*step.analysis);
  }
  return out;
}

Condition readCondition(Reader& r, const json::object& in, const std::string& path) {
  return Condition{r.optString(in, "type", path).value_or(""),
                   r.optString(in, "status", path).value_or(""),
                   r.optString(in, "reason", path).value_or(""),
                   r.optString(in, "message", path).value_or(""),
                   r.optString(in, "lastTransitionTime", path).value_or(""),
                   r.optInt<int64_t>(in, "observedGeneration", path)};
}

json::object writeVerifiedImage(const VerifiedImage& image) {
  json::object out{{"container", image.container},
                   {"image", image.image},
                   {"digest", image.digest},
                   {"verifiedBy", image.verifiedBy}};
  if (!image.outcome.empty()) {
    out["outcome"] = image.outcome;
  }
  return out;
}

std::vector<VerifiedImage> readVerifiedImages(Reader& r, const json::object& in,
                                              const std::string& path) {
  std::vector<VerifiedImage> out;
  if (const auto* images = r.optArray(in, "images", path)) {
    for (size_t i = 0; i < images->size(); ++i) {
      auto imagePath = path + ".images[" + std::to_string(i) + "]";
      if (const auto* image = r.asObject((*images)[i], imagePath)) {
        out.push_back({r.optString(*image, "container", imagePath).value_or(""),
                       r.optString(*image, "image", imagePath).value_or(""),
                       r.optString(*image, "digest", imagePath).value_or(""),
                       r.optString(*image, "verifiedBy", imagePath).value_or(""),
                       r.optString(*image, "outcome", imagePath).value_or("")});
      }
    }
  }
  return out;
}

KnownGood readKnownGood(Reader& r, const json::object& in, const std::string& path) {
  KnownGood out;
  out.podHash = r.optString(in, "podHash", path).value_or("");
  out.image = r.optString(in, "image", path).value_or("");
  out.digest = r.optString(in, "digest", path).value_or("");
  out.verifiedBy = r.optString(in, "verifiedBy", path).value_or("");
  out.at = r.optString(in, "at", path).value_or("");
  out.images = readVerifiedImages(r, in, path);
  return out;
}

json::object writeVerification(const TemplateVerification& verification) {
  json::array images;
  for (const auto& image : verification.images) {
    images.push_back(writeVerifiedImage(image));
  }
  json::object out{
      {"podHash", verification.podHash}, {"at", verification.at}, {"images", std::move(images)}};
  if (!verification.checkedAt.empty()) {
    out["checkedAt"] = verification.checkedAt;
  }
  return out;
}

json::object writeKnownGood(const KnownGood& good) {
  json::array images;
  for (const auto& image : good.images) {
    images.push_back(writeVerifiedImage(image));
  }
  return {{"podHash", good.podHash},       {"image", good.image}, {"digest", good.digest},
          {"verifiedBy", good.verifiedBy}, {"at", good.at},       {"images", std::move(images)}};
}

TemplateVerification readVerification(Reader& r, const json::object& in, const std::string& path) {
  TemplateVerification out;
  out.podHash = r.optString(in, "podHash", path).value_or("");
  out.at = r.optString(in, "at", path).value_or("");
  out.checkedAt = r.optString(in, "checkedAt", path).value_or("");
  out.images = readVerifiedImages(r, in, path);
  return out;
}
}  // namespace

std::vector<CanaryStep> effectiveSteps(const RolloutSpec& spec) {
  if (spec.canary && spec.canary->steps) {
    return *spec.canary->steps;
  }
  std::vector<CanaryStep> steps;
  for (int32_t weight : {10, 30, 60, 100}) {
    steps.push_back(CanaryStep{weight, std::nullopt, std::nullopt});
  }
  return steps;
}

void tag_invoke(const json::value_from_tag&, json::value& out, const Rollout& rollout) {
  json::object spec;
  put(spec, "replicas", rollout.spec.replicas);
  spec["selector"] = rollout.spec.selector;
  spec["template"] = rollout.spec.podTemplate;
  put(spec, "revisionHistoryLimit", rollout.spec.revisionHistoryLimit);
  put(spec, "paused", rollout.spec.paused);
  put(spec, "progressDeadlineSeconds", rollout.spec.progressDeadlineSeconds);
  if (const auto& canary = rollout.spec.canary) {
    json::object c;
    put(c, "stableService", canary->stableService);
    put(c, "canaryService", canary->canaryService);
    if (canary->steps) {
      json::array steps;
      for (const auto& step : *canary->steps) {
        steps.push_back(writeStep(step));
      }
      c["steps"] = std::move(steps);
    }
    if (canary->trafficRouting) {
      c["trafficRouting"] = *canary->trafficRouting;
    }
    if (canary->analysis) {
      c["analysis"] = writeAnalysis(*canary->analysis);
    }
    if (canary->bake) {
      json::object bake{{"duration", canary->bake->duration}};
      if (canary->bake->analysis) {
        bake["analysis"] = writeAnalysis(*canary->bake->analysis);
      }
      c["bake"] = std::move(bake);
    }
    spec["strategy"] = {{"canary", std::move(c)}};
  }
  if (rollout.spec.verify) {
    spec["verify"] = json::value_from(*rollout.spec.verify);
  }
  const auto& s = rollout.status;
  json::object status = s.unknown;
  put(status, "phase", s.phase);
  put(status, "currentStepIndex", s.currentStepIndex);
  put(status, "canaryWeight", s.canaryWeight);
  put(status, "stableRS", s.stableRS);
  put(status, "canaryRS", s.canaryRS);
  put(status, "observedGeneration", s.observedGeneration);
  put(status, "replicas", s.replicas);
  put(status, "updatedReplicas", s.updatedReplicas);
  put(status, "availableReplicas", s.availableReplicas);
  put(status, "selector", s.selector);
  put(status, "collisionCount", s.collisionCount);
  put(status, "currentPodHash", s.currentPodHash);
  put(status, "stablePodHash", s.stablePodHash);
  put(status, "pauseStartTime", s.pauseStartTime);
  put(status, "attempt", s.attempt);
  put(status, "stepStartTime", s.stepStartTime);
  put(status, "backgroundRun", s.backgroundRun);
  put(status, "message", s.message);
  if (s.verified) {
    status["verified"] = writeVerification(*s.verified);
  }
  if (s.lastKnownGood) {
    status["lastKnownGood"] = writeKnownGood(*s.lastKnownGood);
  }
  if (s.bake) {
    status["bake"] = json::object{{"podHash", s.bake->podHash},
                                  {"previousPodHash", s.bake->previousPodHash},
                                  {"startedAt", s.bake->startedAt}};
  }
  if (s.rolledBack) {
    status["rolledBack"] = json::object{{"fromPodHash", s.rolledBack->fromPodHash},
                                        {"toPodHash", s.rolledBack->toPodHash},
                                        {"at", s.rolledBack->at},
                                        {"reason", s.rolledBack->reason}};
  }
  if (!s.knownGoodHistory.empty()) {
    json::array history;
    for (const auto& good : s.knownGoodHistory) {
      history.push_back(writeKnownGood(good));
    }
    status["knownGoodHistory"] = std::move(history);
  }
  put(status, "abort", s.abort);
  put(status, "promoteFull", s.promoteFull);
  put(status, "promoteStep", s.promoteStep);
  put(status, "requestedBy", s.requestedBy);
  put(status, "requestReason", s.requestReason);
  if (!s.conditions.empty()) {
    status["conditions"] = writeConditions(s.conditions);
  }
  json::object object{{"apiVersion", kApiVersion},
                      {"kind", "Rollout"},
                      {"metadata", rollout.metadata},
                      {"spec", std::move(spec)}};
  if (!status.empty()) {
    object["status"] = std::move(status);
  }
  out = std::move(object);
}

Result<Rollout> readRollout(const json::value& in) {
  Reader r;
  const auto* asRollout = r.asObject(in, "rollout");
  if (asRollout == nullptr) {
    return *r.fault;
  }
  const json::object& object = *asRollout;
  Rollout rollout;
  if (auto* metadata = r.optObject(object, "metadata", "")) {
    rollout.metadata = *metadata;
  }
  const auto* spec = r.optObject(object, "spec", "");
  if (spec == nullptr) {
    r.missing("spec");
    return *r.fault;
  }
  auto& out = rollout.spec;
  out.replicas = r.optInt<int32_t>(*spec, "replicas", "spec");
  if (auto* selector = r.optObject(*spec, "selector", "spec")) out.selector = *selector;
  if (auto* podTemplate = r.optObject(*spec, "template", "spec")) out.podTemplate = *podTemplate;
  out.revisionHistoryLimit = r.optInt<int32_t>(*spec, "revisionHistoryLimit", "spec");
  out.paused = r.optBool(*spec, "paused", "spec");
  out.progressDeadlineSeconds = r.optInt<int32_t>(*spec, "progressDeadlineSeconds", "spec");
  if (auto* strategy = r.optObject(*spec, "strategy", "spec")) {
    if (auto* canary = r.optObject(*strategy, "canary", "spec.strategy")) {
      const std::string path = "spec.strategy.canary";
      CanaryStrategy c;
      c.stableService = r.optString(*canary, "stableService", path);
      c.canaryService = r.optString(*canary, "canaryService", path);
      if (auto* steps = r.optArray(*canary, "steps", path)) {
        c.steps.emplace();
        for (size_t i = 0; i < steps->size(); ++i) {
          auto stepPath = path + ".steps[" + std::to_string(i) + "]";
          if (const auto* step = r.asObject((*steps)[i], stepPath)) {
            c.steps->push_back(readStep(r, *step, stepPath));
          }
        }
      }
      if (auto* routing = r.optObject(*canary, "trafficRouting", path)) {
        c.trafficRouting = *routing;  // each router reads its own block
      }
      if (auto* analysis = r.optObject(*canary, "analysis", path)) {
        c.analysis = readAnalysis(r, *analysis, path + ".analysis");
      }
      if (auto* bake = r.optObject(*canary, "bake", path)) {
        BakeSpec b;
        b.duration = r.optString(*bake, "duration", path + ".bake").value_or("");
        if (auto* analysis = r.optObject(*bake, "analysis", path + ".bake")) {
          b.analysis = readAnalysis(r, *analysis, path + ".bake.analysis");
        }
        c.bake = std::move(b);
      }
      out.canary = std::move(c);
    }
  }
  if (auto* verify = r.optObject(*spec, "verify", "spec")) {
    auto read = readRolloutVerify(*verify, "spec.verify");
    if (!read && !r.fault) {
      r.fault = read.error();
    } else if (read) {
      out.verify = std::move(*read);
    }
  }
  if (auto* status = r.optObject(object, "status", "")) {
    auto& s = rollout.status;
    const std::string path = "status";
    s.phase = r.optString(*status, "phase", path);
    s.currentStepIndex = r.optInt<int32_t>(*status, "currentStepIndex", path);
    s.canaryWeight = r.optInt<int32_t>(*status, "canaryWeight", path);
    s.stableRS = r.optString(*status, "stableRS", path);
    s.canaryRS = r.optString(*status, "canaryRS", path);
    s.observedGeneration = r.optInt<int64_t>(*status, "observedGeneration", path);
    s.replicas = r.optInt<int32_t>(*status, "replicas", path);
    s.updatedReplicas = r.optInt<int32_t>(*status, "updatedReplicas", path);
    s.availableReplicas = r.optInt<int32_t>(*status, "availableReplicas", path);
    s.selector = r.optString(*status, "selector", path);
    s.collisionCount = r.optInt<int32_t>(*status, "collisionCount", path);
    s.currentPodHash = r.optString(*status, "currentPodHash", path);
    s.stablePodHash = r.optString(*status, "stablePodHash", path);
    s.pauseStartTime = r.optString(*status, "pauseStartTime", path);
    s.attempt = r.optInt<int32_t>(*status, "attempt", path);
    s.stepStartTime = r.optString(*status, "stepStartTime", path);
    s.backgroundRun = r.optString(*status, "backgroundRun", path);
    s.message = r.optString(*status, "message", path);
    if (auto* verified = r.optObject(*status, "verified", path)) {
      s.verified = readVerification(r, *verified, path + ".verified");
    }
    if (auto* good = r.optObject(*status, "lastKnownGood", path)) {
      s.lastKnownGood = readKnownGood(r, *good, path + ".lastKnownGood");
    }
    if (auto* bake = r.optObject(*status, "bake", path)) {
      const std::string at = path + ".bake";
      s.bake = BakeStatus{r.optString(*bake, "podHash", at).value_or(""),
                          r.optString(*bake, "previousPodHash", at).value_or(""),
                          r.optString(*bake, "startedAt", at).value_or("")};
    }
    if (auto* back = r.optObject(*status, "rolledBack", path)) {
      const std::string at = path + ".rolledBack";
      s.rolledBack = RollbackStatus{r.optString(*back, "fromPodHash", at).value_or(""),
                                    r.optString(*back, "toPodHash", at).value_or(""),
                                    r.optString(*back, "at", at).value_or(""),
                                    r.optString(*back, "reason", at).value_or("")};
    }
    if (auto* history = r.optArray(*status, "knownGoodHistory", path)) {
      for (size_t i = 0; i < history->size(); ++i) {
        auto entryPath = path + ".knownGoodHistory[" + std::to_string(i) + "]";
        if (const auto* entry = r.asObject((*history)[i], entryPath)) {
          s.knownGoodHistory.push_back(readKnownGood(r, *entry, entryPath));
        }
      }
    }
    s.abort = r.optBool(*status, "abort", path);
    s.promoteFull = r.optBool(*status, "promoteFull", path);
    s.promoteStep = r.optInt<int32_t>(*status, "promoteStep", path);
    s.requestedBy = r.optString(*status, "requestedBy", path);
    s.requestReason = r.optString(*status, "requestReason", path);
    if (auto* conditions = r.optArray(*status, "conditions", path)) {
      for (size_t i = 0; i < conditions->size(); ++i) {
        auto cpath = path + ".conditions[" + std::to_string(i) + "]";
        if (const auto* condition = r.asObject((*conditions)[i], cpath)) {
          s.conditions.push_back(readCondition(r, *condition, cpath));
        }
      }
    }
    static const std::initializer_list<std::string_view> kKnown = {
        "phase",          "currentStepIndex", "canaryWeight",
        "stableRS",       "canaryRS",         "observedGeneration",
        "replicas",       "updatedReplicas",  "availableReplicas",
        "selector",       "collisionCount",   "conditions",
        "currentPodHash", "stablePodHash",    "pauseStartTime",
        "attempt",        "message",          "abort",
        "stepStartTime",  "backgroundRun",    "promoteFull",
        "promoteStep",    "requestedBy",      "requestReason",
        "verified",       "lastKnownGood",    "knownGoodHistory",
        "bake",           "rolledBack"};
    for (const auto& [key, value] : *status) {
      if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
        s.unknown[key] = value;
      }
    }
  }
  if (r.fault) {
    return *r.fault;
  }
  return rollout;
}

std::string describeStep(const CanaryStep& step) {
  if (step.setWeight) {
    return fmt::format("setWeight {}", *step.setWeight);
  }
  if (step.pause) {
    return step.pause->duration ? fmt::format("pause {}", *step.pause->duration)
                                : "pause (until promoted)";
  }
  if (step.analysis) {
    std::vector<std::string> names;
    for (const auto& ref : step.analysis->templates) {
      names.push_back(ref.templateName);
    }
    return fmt::format("analysis {}", fmt::join(names, ","));
  }
  return "empty step";
}

void setCondition(std::vector<Condition>& conditions, Condition condition) {
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Condition& c) { return c.type == condition.type; });
  if (it == conditions.end()) {
    conditions.push_back(std::move(condition));
    return;
  }
  if (it->status == condition.status) {
    condition.lastTransitionTime = std::move(it->lastTransitionTime);
  }
  *it = std::move(condition);
}

const Condition* findCondition(const std::vector<Condition>& conditions, std::string_view type) {
  auto it = std::find_if(conditions.begin(), conditions.end(),
                         [&](const Condition& c) { return c.type == type; });
  return it == conditions.end() ? nullptr : &*it;
}

std::vector<Condition> readConditionsLeniently(const json::object& object) {
  std::vector<Condition> conditions;
  const auto* list = arrayAt(objectAt(object, "status"), "conditions");
  if (list == nullptr) {
    return conditions;
  }
  for (const auto& entry : *list) {
    if (!entry.is_object()) {
      continue;
    }
    const auto& c = entry.as_object();
    auto generation = intAt(c, "observedGeneration", -1);
    conditions.push_back({stringAt(c, "type"), stringAt(c, "status"), stringAt(c, "reason"),
                          stringAt(c, "message"), stringAt(c, "lastTransitionTime"),
                          generation >= 0 ? std::optional<int64_t>(generation) : std::nullopt});
  }
  return conditions;
}

json::array writeConditions(const std::vector<Condition>& conditions) {
  json::array out;
  for (const auto& c : conditions) {
    json::object o{{"type", c.type},
                   {"status", c.status},
                   {"reason", c.reason},
                   {"message", c.message},
                   {"lastTransitionTime", c.lastTransitionTime}};
    put(o, "observedGeneration", c.observedGeneration);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace mc::crds
