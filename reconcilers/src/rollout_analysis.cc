// The Rollout's analyses: the AnalysisRuns it owns (read for plan()), each analysis of its spec
// resolved against its templates (so a missing template or argument is InvalidSpec before any
// canary depends on it), and the runs plan() wants made or ended.
#include <fmt/format.h>

#include <boost/json.hpp>

#include "mc/analysis/evaluator.h"
#include "mc/analysis/provider.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/analysis.h"
#include "mc/crds/pod_template_hash.h"
#include "rollout_pass.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;

AnalysisRunView viewOf(const json::object& run) {
  const auto* labels = objectAt(objectAt(run, "metadata"), "labels");
  const auto* status = objectAt(run, "status");
  return {kube::nameOf(run),
          stringAt(labels, crds::kPodTemplateHashLabel),
          stringAt(labels, crds::kAnalysisLabel) == crds::kBackgroundAnalysis,
          stringAt(status, "phase"),
          stringAt(status, "message"),
          objectAt(objectAt(run, "spec"), "terminate") != nullptr};
}

// When the canary's ReplicaSet was made; now, for a run made before its ReplicaSet is cached.
WallTime canaryStartedAt(const RolloutContext& context, const std::string& canaryHash) {
  for (const auto& rs : context.replicaSets) {
    if (rs.podHash == canaryHash && rs.createdAt) {
      return *rs.createdAt;
    }
  }
  return context.now;
}

// The arguments MC gives every run; a Rollout's own may not redefine them.
std::vector<crds::AnalysisArg> builtinArgs(const RolloutContext& context,
                                           const std::string& canaryHash) {
  const auto& rollout = context.rollout;
  std::vector<crds::AnalysisArg> args{
      {"canary-hash", canaryHash},
      {"canary-started-at", formatTime(canaryStartedAt(context, canaryHash))},
      {"stable-hash", rollout.status.stablePodHash.value_or("")},
      {"namespace", context.ns},
      {"rollout", context.name}};
  if (rollout.spec.canary && rollout.spec.canary->stableService) {
    args.push_back({"stable-service", rollout.spec.canary->stableService});
  }
  if (rollout.spec.canary && rollout.spec.canary->canaryService) {
    args.push_back({"canary-service", rollout.spec.canary->canaryService});
  }
  return args;
}

}  // namespace

void RolloutReconciler::gatherAnalysis(Pass& pass) {
  auto& context = pass.context;
  if (analysisRuns_ != nullptr) {
    for (const auto& run : analysisRuns_->byIndex(kube::kOwnerUidIndex, pass.uid)) {
      if (ownedBy(*run, pass.uid)) {
        context.analysisRuns.push_back(viewOf(*run));
      }
    }
  }
  if (context.referenceError) {
    return;  // the runs are known (their verdicts still count); the spec is not usable
  }
  const auto& spec = context.rollout.spec;
  std::vector<std::pair<std::optional<int32_t>, const crds::RolloutAnalysis*>> blocks;
  if (spec.canary && spec.canary->analysis) {
    blocks.emplace_back(std::nullopt, &*spec.canary->analysis);
  }
  if (spec.canary && spec.canary->bake && spec.canary->bake->analysis) {
    blocks.emplace_back(kBakeStep, &*spec.canary->bake->analysis);
  }
  const auto steps = crds::effectiveSteps(spec);
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].analysis) {
      blocks.emplace_back(static_cast<int32_t>(i), &*steps[i].analysis);
    }
  }
  const std::string canaryHash =
      crds::podTemplateHash(spec.podTemplate, context.rollout.status.collisionCount.value_or(0));
  for (const auto& [step, block] : blocks) {
    const std::string field = !step ? std::string("spec.strategy.canary.analysis")
                              : *step == kBakeStep
                                  ? std::string("spec.strategy.canary.bake.analysis")
                                  : fmt::format("spec.strategy.canary.steps[{}].analysis", *step);
    auto fault = [&](std::string at, std::string message) {
      context.referenceError = FieldError{std::move(at), std::move(message)};
    };
    if (templates_ == nullptr) {
      return fault(field, "this MC runs no AnalysisRun controller");
    }
    std::vector<analysis::NamedTemplate> templates;
    for (size_t t = 0; t < block->templates.size(); ++t) {
      const auto& ref = block->templates[t];
      bool cluster = ref.clusterScope.value_or(false);
      const char* kind = cluster ? crds::kClusterAnalysisTemplateKind : crds::kAnalysisTemplateKind;
      std::string at = fmt::format("{}.templates[{}].templateName", field, t);
      auto object = cluster ? clusterTemplates_->get(ref.templateName)
                            : templates_->get(context.ns + "/" + ref.templateName);
      if (!object) {
        return fault(at, fmt::format("{} \"{}\" not found", kind, ref.templateName));
      }
      auto read = crds::readAnalysisTemplate(json::value(*object));
      if (!read) {
        return fault(
            at, fmt::format("{} \"{}\": {}", kind, ref.templateName, read.error().fieldMessage()));
      }
      for (size_t m = 0; m < read->spec.metrics.size(); ++m) {
        auto policy = analysis::policyOf(read->spec.metrics[m], fmt::format("spec.metrics[{}]", m));
        if (!policy) {
          return fault(at, fmt::format("{} \"{}\": {}", kind, ref.templateName,
                                       policy.error().fieldMessage()));
        }
        if (step && *step != kBakeStep && !policy->count) {
          // A step waits for its run's verdict; a metric without a count never gives one.
          return fault(at, fmt::format("{} \"{}\": metric \"{}\" has an interval and no count, "
                                       "so it never ends: a step's analysis needs a count "
                                       "(strategy.canary.analysis runs until the canary ends)",
                                       kind, ref.templateName, policy->name));
        }
      }
      templates.push_back({fmt::format("{} \"{}\"", kind, ref.templateName), read->spec});
    }
    auto args = builtinArgs(context, canaryHash);
    for (size_t a = 0; a < block->args.size(); ++a) {
      const auto& arg = block->args[a];
      for (const auto& builtin : builtinArgs(context, canaryHash)) {
        if (builtin.name == arg.name) {
          return fault(fmt::format("{}.args[{}].name", field, a),
                       fmt::format("\"{}\" is MC's to give", arg.name));
        }
      }
      args.push_back(arg);
    }
    auto resolved = analysis::resolveRun(templates, args, field);
    if (!resolved) {
      return fault(resolved.error().field, resolved.error().message);
    }
    // A block that cannot be measured is the Rollout's fault now, not an Error of its run later.
    const analysis::RunScope scope{context.ns, resolved->args};
    for (const auto& metric : resolved->metrics) {
      auto usable = analysis::checkProvider(scope, metric.provider, "provider");
      if (!usable) {
        return fault(field,
                     fmt::format("metric \"{}\": {}", metric.name, usable.error().fieldMessage()));
      }
    }
    pass.analyses[step] = std::move(*resolved);
  }
}

boost::asio::awaitable<Result<void>> RolloutReconciler::createRuns(Pass& pass) {
  const auto& request = pass.request;
  const auto& status = pass.planned.status;
  for (const auto& want : pass.planned.runs) {
    bool exists = std::any_of(pass.context.analysisRuns.begin(), pass.context.analysisRuns.end(),
                              [&](const AnalysisRunView& run) { return run.name == want.name; });
    std::string key = "analysisruns/" + request.ns + "/" + want.name;
    auto resolved = pass.analyses.find(want.step);
    if (exists || writes_.inFlight(key, "") || resolved == pass.analyses.end()) {
      continue;
    }
    crds::AnalysisRun run;
    run.metadata = {
        {"name", want.name},
        {"namespace", request.ns},
        {"labels",
         {{crds::kRolloutLabel, crds::rolloutLabelValue(request.name)},
          {crds::kPodTemplateHashLabel, status.currentPodHash.value_or("")},
          {crds::kAnalysisLabel, !want.step                ? std::string(crds::kBackgroundAnalysis)
                                 : *want.step == kBakeStep ? std::string(crds::kBakeAnalysis)
                                                           : fmt::format("step-{}", *want.step)}}},
        {"ownerReferences", json::array{kube::controllerReference(
                                crds::kApiVersion, crds::kRolloutKind, request.name, pass.uid)}}};
    run.spec.metrics = resolved->second.metrics;
    run.spec.args = resolved->second.args;
    json::object body = json::value_from(run).as_object();
    auto created =
        co_await client_.create(crds::resources::kAnalysisRuns, request.ns, std::move(body));
    if (!created && created.error().kind == ErrorKind::AlreadyExists) {
      // Ours, and the cache has not shown it yet; or someone else's, which MC leaves alone.
      std::string name = want.name;
      auto existing = co_await client_.get(crds::resources::kAnalysisRuns, request.ns, name);
      if (!existing) {
        co_return existing.error();
      }
      if (!ownedBy(*existing, pass.uid)) {
        co_return makeError(ErrorKind::Conflict,
                            fmt::format("AnalysisRun {} exists and is not this Rollout's", name));
      }
    } else if (!created) {
      co_return created.error();
    }
    writes_.wrote(key, "");
    request.log.info("created AnalysisRun {}", want.name);
  }
  co_return Result<void>();
}

boost::asio::awaitable<Result<void>> RolloutReconciler::terminateRuns(Pass& pass) {
  for (const auto& end : pass.planned.terminations) {
    std::string name = end.name;
    json::object patch{{"spec", {{"terminate", {{"reason", end.reason}}}}}};
    std::string body = json::serialize(patch);
    auto patched = co_await client_.patch(crds::resources::kAnalysisRuns, pass.request.ns, name,
                                          kube::PatchType::Merge, std::move(body));
    if (!patched && patched.error().kind != ErrorKind::NotFound) {
      co_return patched.error();
    }
    pass.request.log.info("AnalysisRun {} terminated: {}", name, end.reason);
  }
  co_return Result<void>();
}

}  // namespace mc::reconcilers
