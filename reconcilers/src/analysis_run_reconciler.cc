#include "mc/reconcilers/analysis_run_reconciler.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/this_coro.hpp>
#include <boost/json.hpp>

#include "mc/analysis/evaluator.h"
#include "mc/common/timefmt.h"
#include "mc/crds/analysis.h"
#include "mc/crds/names.h"

namespace mc::reconcilers {
namespace {

namespace json = boost::json;
namespace phase = crds::analysis;

// Named, not a temporary: GCC 12 mishandles class temporaries inside co_await expressions.
const std::string kStatus = "status";

crds::MetricResult& resultFor(crds::AnalysisRunStatus& status, const std::string& name) {
  auto it = std::find_if(status.metricResults.begin(), status.metricResults.end(),
                         [&](const crds::MetricResult& r) { return r.name == name; });
  if (it != status.metricResults.end()) {
    return *it;
  }
  crds::MetricResult fresh;
  fresh.name = name;
  fresh.phase = phase::kPending;
  status.metricResults.push_back(std::move(fresh));
  return status.metricResults.back();
}

// A run that cannot be measured as written: Error, saying which field.
void invalid(crds::AnalysisRunStatus& status, const Error& error, analysis::WallTime now) {
  status.phase = phase::kError;
  status.message = error.fieldMessage();
  if (!status.completedAt) {
    status.completedAt = formatTime(now);
  }
}

// The PromQL as run, for people to paste: the judged one, and all of them when there are more.
void showQueries(crds::MetricResult& result, std::vector<crds::MetricQuery> queries) {
  result.query = queries.empty() ? std::string() : queries.front().query;
  if (queries.size() > 1) {
    result.queries = std::move(queries);
  } else {
    result.queries.clear();
  }
}

}  // namespace

AnalysisRunReconciler::AnalysisRunReconciler(kube::Client& client, ProviderFactory providers,
                                             const Clock& clock)
    : client_(client), providers_(std::move(providers)), clock_(clock), writes_(clock) {}

boost::asio::awaitable<Result<kube::ReconcileResult>> AnalysisRunReconciler::reconcile(
    const kube::ReconcileRequest& request) {
  kube::ObjectPtr cached = runs_->get(request.key());
  if (!cached) {
    co_return kube::ReconcileResult{};
  }
  const std::string version = kube::resourceVersionOf(*cached);
  if (writes_.inFlight(request.key(), version)) {
    // Our own status write has not reached the cache: measuring now would count a tick twice.
    co_return kube::ReconcileResult{false, std::chrono::seconds(1)};
  }
  auto read = crds::readAnalysisRun(json::value(*cached));
  const auto now = clock_.wallNow();
  if (!read) {
    // Only the verdict: the measurements on record stay as they are.
    crds::AnalysisRunStatus status;
    invalid(status, read.error(), now);
    json::object verdict{{"phase", *status.phase},
                         {"message", *status.message},
                         {"completedAt", *status.completedAt}};
    auto written = co_await writeStatus(request, version, std::move(verdict));
    if (!written) {
      co_return written.error();
    }
    co_return kube::ReconcileResult{};
  }
  const crds::AnalysisRun& run = *read;
  if (run.status.phase && analysis::isDecided(*run.status.phase)) {
    co_return kube::ReconcileResult{};  // a verdict stands
  }

  crds::AnalysisRunStatus status = run.status;
  if (!status.startedAt) {
    status.startedAt = formatMicroTime(now);
  }
  const auto startedAt = parseTime(*status.startedAt).value_or(now);
  std::vector<analysis::MetricPolicy> policies;
  std::optional<Error> fault;
  for (size_t i = 0; i < run.spec.metrics.size() && !fault; ++i) {
    auto policy = analysis::policyOf(run.spec.metrics[i], fmt::format("spec.metrics[{}]", i));
    if (!policy) {
      fault = policy.error();
    } else {
      policies.push_back(std::move(*policy));
      resultFor(status, run.spec.metrics[i].name);
    }
  }

  auto executor = co_await boost::asio::this_coro::executor;
  analysis::ProviderDeps deps{client_, executor, clock_};
  const analysis::RunScope scope{request.ns, run.spec.args};
  for (size_t i = 0; i < policies.size() && !fault && !run.spec.terminate; ++i) {
    const auto& policy = policies[i];
    auto& result = resultFor(status, policy.name);
    auto due = analysis::nextDue(policy, result, startedAt);
    if (!due || *due > now) {
      continue;
    }
    std::string path = fmt::format("spec.metrics[{}].provider", i);
    auto provider = providers_(deps, scope, run.spec.metrics[i].provider, path);
    if (!provider) {
      fault = provider.error();
      break;
    }
    const auto measuredFrom = clock_.wallNow();
    analysis::Observation observation = co_await (*provider)->measure();
    const auto measuredTo = clock_.wallNow();
    showQueries(result, (*provider)->queries());
    analysis::record(
        policy, result,
        analysis::judge(observation, policy.successCondition, measuredFrom, measuredTo));
    request.log.info("metric {}: {} {}", policy.name, result.measurements.back().phase,
                     result.measurements.back().message);
  }
  if (fault) {
    invalid(status, *fault, now);
  } else {
    analysis::conclude(policies, run.spec.terminate, status, clock_.wallNow());
  }

  if (status.phase && analysis::isDecided(*status.phase)) {
    auto recorded = co_await recordVerdict(*cached, run, policies, status);
    if (!recorded) {
      co_return recorded.error();  // not on record: not written either
    }
  }
  json::object written = crds::writeRunStatus(status);
  if (written != crds::writeRunStatus(run.status)) {
    auto done = co_await writeStatus(request, version, std::move(written));
    if (!done) {
      co_return done.error();
    }
  }
  if (status.phase && analysis::isDecided(*status.phase)) {
    co_return kube::ReconcileResult{};
  }
  // Again when the next measurement is due.
  std::optional<analysis::WallTime> next;
  for (const auto& policy : policies) {
    auto due = analysis::nextDue(policy, resultFor(status, policy.name), startedAt);
    if (due && (!next || *due < *next)) {
      next = due;
    }
  }
  if (!next) {
    co_return kube::ReconcileResult{};
  }
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.wallNow());
  co_return kube::ReconcileResult{false, std::max(wait, std::chrono::milliseconds(1))};
}

// The verdict in the chain of the Rollout that owns the run (its namespace's chain for a run of
// no Rollout), with each metric's counts, last value and limits.
boost::asio::awaitable<Result<void>> AnalysisRunReconciler::recordVerdict(
    const json::object& object, const crds::AnalysisRun& run,
    const std::vector<analysis::MetricPolicy>& policies, const crds::AnalysisRunStatus& status) {
  if (audit_ == nullptr) {
    co_return Result<void>();
  }
  const std::string name = kube::nameOf(object);
  const std::string uid = kube::uidOf(object);
  auto owner = kube::controllerOf(object);
  audit::Entry entry;
  entry.name = fmt::format("{}.{}.verdict", name, uid.substr(0, std::min<size_t>(8, uid.size())));
  entry.chain = owner && owner->kind == crds::kRolloutKind ? audit::rolloutChain(owner->name)
                                                           : std::string(audit::kNamespaceChain);
  auto& spec = entry.spec;
  spec.actor = "analysis/" + name;
  spec.action = "AnalysisVerdict";
  spec.subject = owner ? fmt::format("{}/{}", owner->kind, owner->name)
                       : fmt::format("{}/{}", crds::kAnalysisRunKind, name);
  spec.from = phase::kRunning;
  spec.to = *status.phase;
  spec.reason =
      fmt::format("analysis {} is {}: {}", name, *status.phase, status.message.value_or(""));
  spec.at = formatMicroTime(clock_.wallNow());
  json::object& evidence = spec.evidence;
  evidence["analysisRun"] = name;
  for (const auto& arg : run.spec.args) {
    if (arg.value) evidence["args." + arg.name] = *arg.value;
  }
  for (const auto& policy : policies) {
    auto it = std::find_if(status.metricResults.begin(), status.metricResults.end(),
                           [&](const auto& r) { return r.name == policy.name; });
    if (it == status.metricResults.end()) continue;
    const std::string key = "metrics." + policy.name + ".";
    evidence[key + "phase"] = it->phase;
    evidence[key + "measurements"] = std::to_string(it->count);
    evidence[key + "successful"] = std::to_string(it->successful);
    evidence[key + "failed"] = std::to_string(it->failed);
    evidence[key + "inconclusive"] = std::to_string(it->inconclusive);
    evidence[key + "error"] = std::to_string(it->error);
    if (!it->measurements.empty() && it->measurements.back().value) {
      evidence[key + "value"] = *it->measurements.back().value;
    }
    if (policy.successCondition.min) {
      evidence[key + "min"] = fmt::format("{}", *policy.successCondition.min);
    }
    if (policy.successCondition.max) {
      evidence[key + "max"] = fmt::format("{}", *policy.successCondition.max);
    }
    if (!it->query.empty()) {
      evidence[key + "query"] = it->query;
    }
  }
  co_return co_await audit_->append(kube::namespaceOf(object), std::move(entry));
}

boost::asio::awaitable<Result<void>> AnalysisRunReconciler::writeStatus(
    const kube::ReconcileRequest& request, const std::string& resourceVersion,
    json::object status) {
  // The resourceVersion makes the write conditional: a 409 if the run changed since it was read.
  json::object patch{{"metadata", {{"resourceVersion", resourceVersion}}},
                     {"status", std::move(status)}};
  kube::PatchOptions options{kStatus};
  std::string body = json::serialize(patch);
  auto patched = co_await client_.patch(crds::resources::kAnalysisRuns, request.ns, request.name,
                                        kube::PatchType::Merge, std::move(body), options);
  if (!patched) {
    co_return patched.error();
  }
  writes_.wrote(request.key(), resourceVersion);
  co_return Result<void>();
}

std::unique_ptr<kube::Controller> makeAnalysisRunController(kube::Client& client,
                                                            AnalysisRunReconciler& reconciler,
                                                            std::string ns,
                                                            kube::ControllerOptions options) {
  auto controller = std::make_unique<kube::Controller>(
      "analysisrun", client, crds::resources::kAnalysisRuns, crds::kAnalysisRunKind, std::move(ns),
      reconciler, options);
  reconciler.useCache(controller->primaryInformer().store());
  return controller;
}

}  // namespace mc::reconcilers
