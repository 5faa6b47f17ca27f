#include "mc/crds/rollout.h"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <stdexcept>

namespace mc::crds {
namespace {

namespace json = boost::json;

// Reading: each accessor names the field at fault, so an invalid object gives an error a
// person can act on ("spec.strategy.canary.steps[2].setWeight: expected an integer").
[[noreturn]] void wrongType(const std::string& path, const char* expected) {
  throw std::invalid_argument(path + ": expected " + expected);
}

const json::value* member(const json::object& object, std::string_view key) {
  auto* value = object.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

std::optional<std::string> optString(const json::object& object, std::string_view key,
                                     const std::string& path) {
  auto* value = member(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) wrongType(path + "." + std::string(key), "a string");
  return std::string(value->as_string());
}

template <class Int>
std::optional<Int> optInt(const json::object& object, std::string_view key,
                          const std::string& path) {
  auto* value = member(object, key);
  if (value == nullptr) return std::nullopt;
  boost::system::error_code ec;
  auto number = value->to_number<Int>(ec);
  if (ec) wrongType(path + "." + std::string(key), "an integer");
  return number;
}

std::optional<bool> optBool(const json::object& object, std::string_view key,
                            const std::string& path) {
  auto* value = member(object, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_bool()) wrongType(path + "." + std::string(key), "true or false");
  return value->as_bool();
}

const json::object* optObject(const json::object& object, std::string_view key,
                              const std::string& path) {
  auto* value = member(object, key);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) wrongType(path + "." + std::string(key), "an object");
  return &value->as_object();
}

const json::array* optArray(const json::object& object, std::string_view key,
                            const std::string& path) {
  auto* value = member(object, key);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) wrongType(path + "." + std::string(key), "a list");
  return &value->as_array();
}

const json::object& asObject(const json::value& value, const std::string& path) {
  if (!value.is_object()) wrongType(path, "an object");
  return value.as_object();
}

// Writing: optional fields are written only when set.
template <class T>
void put(json::object& out, std::string_view key, const std::optional<T>& value) {
  if (value) out[key] = *value;
}

CanaryStep readStep(const json::object& in, const std::string& path) {
  CanaryStep step;
  step.setWeight = optInt<int32_t>(in, "setWeight", path);
  if (auto* pause = optObject(in, "pause", path)) {
    step.pause = PauseStep{optString(*pause, "duration", path + ".pause")};
  }
  if (auto* analysis = optObject(in, "analysis", path)) {
    AnalysisStep a;
    auto apath = path + ".analysis";
    if (auto* templates = optArray(*analysis, "templates", apath)) {
      for (size_t i = 0; i < templates->size(); ++i) {
        if (!(*templates)[i].is_string())
          wrongType(apath + ".templates[" + std::to_string(i) + "]", "a string");
        a.templates.emplace_back((*templates)[i].as_string());
      }
    }
    if (auto* args = optArray(*analysis, "args", apath)) {
      for (size_t i = 0; i < args->size(); ++i) {
        auto argPath = apath + ".args[" + std::to_string(i) + "]";
        const auto& arg = asObject((*args)[i], argPath);
        a.args.push_back(
            {optString(arg, "name", argPath).value_or(""), optString(arg, "value", argPath)});
      }
    }
    step.analysis = std::move(a);
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
    json::array templates(step.analysis->templates.begin(), step.analysis->templates.end());
    json::object analysis{{"templates", std::move(templates)}};
    if (!step.analysis->args.empty()) {
      json::array args;
      for (const auto& arg : step.analysis->args) {
        json::object a{{"name", arg.name}};
        put(a, "value", arg.value);
        args.push_back(std::move(a));
      }
      analysis["args"] = std::move(args);
    }
    out["analysis"] = std::move(analysis);
  }
  return out;
}

Condition readCondition(const json::object& in, const std::string& path) {
  return Condition{optString(in, "type", path).value_or(""),
                   optString(in, "status", path).value_or(""),
                   optString(in, "reason", path).value_or(""),
                   optString(in, "message", path).value_or(""),
                   optString(in, "lastTransitionTime", path).value_or(""),
                   optInt<int64_t>(in, "observedGeneration", path)};
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
    if (const auto& routing = canary->trafficRouting) {
      json::object r;
      if (routing->gatewayHttpRoute) r["gatewayAPI"] = {{"httpRoute", *routing->gatewayHttpRoute}};
      if (routing->nginxStableIngress)
        r["nginx"] = {{"stableIngress", *routing->nginxStableIngress}};
      if (routing->istioVirtualService)
        r["istio"] = {{"virtualService", *routing->istioVirtualService}};
      c["trafficRouting"] = std::move(r);
    }
    spec["strategy"] = {{"canary", std::move(c)}};
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
  put(status, "message", s.message);
  put(status, "abort", s.abort);
  put(status, "promoteFull", s.promoteFull);
  put(status, "promoteStep", s.promoteStep);
  if (!s.conditions.empty()) {
    json::array conditions;
    for (const auto& c : s.conditions) {
      json::object o{{"type", c.type},
                     {"status", c.status},
                     {"reason", c.reason},
                     {"message", c.message},
                     {"lastTransitionTime", c.lastTransitionTime}};
      put(o, "observedGeneration", c.observedGeneration);
      conditions.push_back(std::move(o));
    }
    status["conditions"] = std::move(conditions);
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

Rollout tag_invoke(const json::value_to_tag<Rollout>&, const json::value& in) {
  const auto& object = asObject(in, "rollout");
  Rollout rollout;
  if (auto* metadata = optObject(object, "metadata", "")) {
    rollout.metadata = *metadata;
  }
  const auto* spec = optObject(object, "spec", "");
  if (spec == nullptr) {
    throw std::invalid_argument("spec: missing");
  }
  auto& out = rollout.spec;
  out.replicas = optInt<int32_t>(*spec, "replicas", "spec");
  if (auto* selector = optObject(*spec, "selector", "spec")) out.selector = *selector;
  if (auto* podTemplate = optObject(*spec, "template", "spec")) out.podTemplate = *podTemplate;
  out.revisionHistoryLimit = optInt<int32_t>(*spec, "revisionHistoryLimit", "spec");
  out.paused = optBool(*spec, "paused", "spec");
  if (auto* strategy = optObject(*spec, "strategy", "spec")) {
    if (auto* canary = optObject(*strategy, "canary", "spec.strategy")) {
      const std::string path = "spec.strategy.canary";
      CanaryStrategy c;
      c.stableService = optString(*canary, "stableService", path);
      c.canaryService = optString(*canary, "canaryService", path);
      if (auto* steps = optArray(*canary, "steps", path)) {
        c.steps.emplace();
        for (size_t i = 0; i < steps->size(); ++i) {
          auto stepPath = path + ".steps[" + std::to_string(i) + "]";
          c.steps->push_back(readStep(asObject((*steps)[i], stepPath), stepPath));
        }
      }
      if (auto* routing = optObject(*canary, "trafficRouting", path)) {
        auto rpath = path + ".trafficRouting";
        TrafficRouting r;
        if (auto* g = optObject(*routing, "gatewayAPI", rpath))
          r.gatewayHttpRoute = optString(*g, "httpRoute", rpath + ".gatewayAPI");
        if (auto* n = optObject(*routing, "nginx", rpath))
          r.nginxStableIngress = optString(*n, "stableIngress", rpath + ".nginx");
        if (auto* i = optObject(*routing, "istio", rpath))
          r.istioVirtualService = optString(*i, "virtualService", rpath + ".istio");
        c.trafficRouting = std::move(r);
      }
      out.canary = std::move(c);
    }
  }
  if (auto* status = optObject(object, "status", "")) {
    auto& s = rollout.status;
    const std::string path = "status";
    s.phase = optString(*status, "phase", path);
    s.currentStepIndex = optInt<int32_t>(*status, "currentStepIndex", path);
    s.canaryWeight = optInt<int32_t>(*status, "canaryWeight", path);
    s.stableRS = optString(*status, "stableRS", path);
    s.canaryRS = optString(*status, "canaryRS", path);
    s.observedGeneration = optInt<int64_t>(*status, "observedGeneration", path);
    s.replicas = optInt<int32_t>(*status, "replicas", path);
    s.updatedReplicas = optInt<int32_t>(*status, "updatedReplicas", path);
    s.availableReplicas = optInt<int32_t>(*status, "availableReplicas", path);
    s.selector = optString(*status, "selector", path);
    s.collisionCount = optInt<int32_t>(*status, "collisionCount", path);
    s.currentPodHash = optString(*status, "currentPodHash", path);
    s.stablePodHash = optString(*status, "stablePodHash", path);
    s.pauseStartTime = optString(*status, "pauseStartTime", path);
    s.attempt = optInt<int32_t>(*status, "attempt", path);
    s.message = optString(*status, "message", path);
    s.abort = optBool(*status, "abort", path);
    s.promoteFull = optBool(*status, "promoteFull", path);
    s.promoteStep = optInt<int32_t>(*status, "promoteStep", path);
    if (auto* conditions = optArray(*status, "conditions", path)) {
      for (size_t i = 0; i < conditions->size(); ++i) {
        auto cpath = path + ".conditions[" + std::to_string(i) + "]";
        s.conditions.push_back(readCondition(asObject((*conditions)[i], cpath), cpath));
      }
    }
    static const std::initializer_list<std::string_view> kKnown = {
        "phase",          "currentStepIndex", "canaryWeight",
        "stableRS",       "canaryRS",         "observedGeneration",
        "replicas",       "updatedReplicas",  "availableReplicas",
        "selector",       "collisionCount",   "conditions",
        "currentPodHash", "stablePodHash",    "pauseStartTime",
        "attempt",        "message",          "abort",
        "promoteFull",    "promoteStep"};
    for (const auto& [key, value] : *status) {
      if (std::find(kKnown.begin(), kKnown.end(), key) == kKnown.end()) {
        s.unknown[key] = value;
      }
    }
  }
  return rollout;
}

}  // namespace mc::crds
