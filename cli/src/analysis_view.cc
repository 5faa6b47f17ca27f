#include "mc/cli/analysis_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "mc/cli/table.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/analysis.h"
#include "mc/crds/names.h"
#include "mc/runtime/kube_client.h"

namespace mc::cli {
namespace {

namespace json = boost::json;
namespace phase = crds::analysis;

constexpr size_t kLabelWidth = 16;        // as `get rollout`'s fields
constexpr size_t kMetricLabelWidth = 24;  // "    Success condition:" and a gap
// Absent limits, as docs/analysis.md gives them.
constexpr int32_t kDefaultConsecutiveErrorLimit = 4;
// The order older attempts' runs are summed up in: the worst first.
constexpr std::array<std::string_view, 6> kPhaseOrder{phase::kFailed,       phase::kError,
                                                      phase::kInconclusive, phase::kRunning,
                                                      phase::kPending,      phase::kSuccessful};

bool terminal(std::string_view runPhase) {
  return runPhase == phase::kSuccessful || runPhase == phase::kFailed ||
         runPhase == phase::kError || runPhase == phase::kInconclusive;
}

// One line of a table cell or field: a message or query may hold line breaks.
std::string oneLine(std::string_view text) {
  std::string out;
  for (char c : text) {
    out += c == '\n' || c == '\r' || c == '\t' ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::vector<std::string> linesOf(const std::string& text) {
  std::vector<std::string> lines;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return lines;
}

std::string trimRight(std::string text) {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  return text;
}

// `label: value` with the value at column `width`; later lines of a multi-line value line up
// under its first.
void field(std::string& out, size_t indent, std::string_view label, std::string_view value,
           size_t width) {
  std::string name = std::string(indent, ' ') + std::string(label) + ":";
  auto lines = linesOf(trimRight(std::string(value)));
  if (lines.empty()) {
    lines.emplace_back();
  }
  for (size_t i = 0; i < lines.size(); ++i) {
    out += trimRight(fmt::format("{:<{}}{}", i == 0 ? name : "", width, lines[i])) + "\n";
  }
}

// A table's lines, each after `indent` spaces and without trailing blanks (an empty last cell).
std::vector<std::string> tableLines(const std::vector<std::vector<std::string>>& rows,
                                    size_t indent) {
  std::vector<std::string> lines;
  for (auto& line : linesOf(table(rows, 2))) {
    lines.push_back(trimRight(std::string(indent, ' ') + line));
  }
  return lines;
}

std::string number(double value) { return fmt::format("{}", value); }

std::string conditionText(const crds::SuccessCondition& condition) {
  std::vector<std::string> parts;
  if (condition.min) {
    parts.push_back("min " + number(*condition.min));
  }
  if (condition.max) {
    parts.push_back("max " + number(*condition.max));
  }
  return fmt::format("{}", fmt::join(parts, ", "));
}

// The value of the metric's last measurement that has one.
std::optional<std::string> lastValue(const crds::MetricResult* result) {
  if (result == nullptr) {
    return std::nullopt;
  }
  for (auto it = result->measurements.rbegin(); it != result->measurements.rend(); ++it) {
    if (it->value) {
      return *it->value;
    }
  }
  return std::nullopt;
}

// Measurements the metric takes: its count; 1 without an interval; unbounded (nullopt) with one.
std::optional<int32_t> plannedCount(const crds::Metric* metric) {
  if (metric == nullptr) {
    return std::nullopt;
  }
  if (metric->count) {
    return *metric->count;
  }
  return metric->interval ? std::nullopt : std::optional<int32_t>(1);
}

std::string measuredCount(const crds::Metric* metric, const crds::MetricResult* result) {
  int32_t taken = result != nullptr ? result->count : 0;
  auto planned = plannedCount(metric);
  return planned ? fmt::format("{}/{}", taken, *planned) : std::to_string(taken);
}

std::string plural(int32_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

// "1/3 measured, 1 failed": what `get rollout` says of a metric's counts.
std::string countsLine(const crds::Metric* metric, const crds::MetricResult* result) {
  std::string out = measuredCount(metric, result) + " measured";
  if (result != nullptr) {
    if (result->failed > 0) {
      out += fmt::format(", {} failed", result->failed);
    }
    if (result->inconclusive > 0) {
      out += fmt::format(", {} inconclusive", result->inconclusive);
    }
    if (result->error > 0) {
      out += ", " + plural(result->error, "error", "errors");
    }
  }
  if (metric != nullptr && metric->dryRun.value_or(false)) {
    out += ", dry run";
  }
  return out;
}

std::string metricPhase(const crds::MetricResult* result) {
  return result != nullptr && !result->phase.empty() ? result->phase : phase::kPending;
}

// A metric of the spec and its result in the status, by name; results of no spec metric last.
struct MetricView {
  std::string name;
  const crds::Metric* metric = nullptr;
  const crds::MetricResult* result = nullptr;
};

std::vector<MetricView> metricsOf(const crds::AnalysisRun& run) {
  std::vector<MetricView> views;
  for (const auto& metric : run.spec.metrics) {
    views.push_back({metric.name, &metric, nullptr});
  }
  for (const auto& result : run.status.metricResults) {
    auto it = std::find_if(views.begin(), views.end(),
                           [&](const MetricView& v) { return v.name == result.name; });
    if (it != views.end()) {
      it->result = &result;
    } else {
      views.push_back({result.name, nullptr, &result});
    }
  }
  return views;
}

// The provider's kind and its block ({"prometheus": {...}}: "prometheus").
std::pair<std::string, const json::object*> providerOf(const crds::Metric* metric) {
  if (metric == nullptr || metric->provider.empty()) {
    return {"", nullptr};
  }
  const auto& [kind, block] = *metric->provider.begin();
  return {std::string(kind), block.is_object() ? &block.as_object() : nullptr};
}

// The built-in a prometheus block names (errorRate, latency, sloBurn), or "".
std::string builtinOf(const json::object* block) {
  for (const char* kind : {"errorRate", "latency", "sloBurn"}) {
    if (block != nullptr && block->contains(kind)) {
      return kind;
    }
  }
  return "";
}

// The queries as run (the status has them with arguments substituted), else as the spec gives
// them: each labelled by what it is for when there are several.
std::vector<crds::MetricQuery> queriesOf(const MetricView& view) {
  if (view.result != nullptr && !view.result->queries.empty()) {
    return view.result->queries;
  }
  if (view.result != nullptr && !view.result->query.empty()) {
    return {{"", view.result->query}};
  }
  const auto* block = providerOf(view.metric).second;
  if (auto builtin = builtinOf(block); !builtin.empty()) {
    return {{"", fmt::format("<written by the built-in {} at the first measurement>", builtin)}};
  }
  std::vector<crds::MetricQuery> out{{"", stringAt(block, "query")}};
  if (auto guard = stringAt(block, "guard"); !guard.empty()) {
    out.front().name = "alert";
    out.push_back({"guard", guard});
  }
  return out;
}

std::string runPhase(const crds::AnalysisRun& run) {
  return run.status.phase && !run.status.phase->empty() ? *run.status.phase : phase::kPending;
}

std::string terminateText(const crds::Terminate& terminate) {
  return terminate.message && !terminate.message->empty()
             ? fmt::format("{} - {}", terminate.reason, *terminate.message)
             : terminate.reason;
}

// The run's message, or why it has none, and a terminate not yet carried out.
std::string runMessage(const crds::AnalysisRun& run) {
  std::string message = run.status.phase ? run.status.message.value_or("")
                                         : "the AnalysisRun controller has not written a status "
                                           "yet";
  if (run.spec.terminate && !terminal(runPhase(run))) {
    std::string requested = "terminate requested: " + run.spec.terminate->reason;
    message = message.empty() ? requested : message + " (" + requested + ")";
  }
  return message;
}

std::string timeField(const std::optional<std::string>& at, WallTime now) {
  if (!at || at->empty()) {
    return "<not yet>";
  }
  auto parsed = parseTime(*at);
  if (!parsed) {
    return *at;
  }
  return fmt::format("{} ({} ago)", *at,
                     formatAge(std::chrono::floor<std::chrono::seconds>(now - *parsed)));
}

// The attempt in a run's name, <rollout>-<attempt>-<what>; nullopt if it is not named so.
std::optional<int32_t> attemptOf(const std::string& runName, const std::string& rolloutName) {
  std::string prefix = rolloutName + "-";
  if (runName.rfind(prefix, 0) != 0) {
    return std::nullopt;
  }
  const char* begin = runName.data() + prefix.size();
  const char* end = runName.data() + runName.size();
  int32_t attempt = 0;
  auto [ptr, ec] = std::from_chars(begin, end, attempt);
  if (ec != std::errc() || ptr == begin || ptr == end || *ptr != '-') {
    return std::nullopt;
  }
  return attempt;
}

bool hasAnalysis(const crds::Rollout& rollout) {
  if (rollout.spec.canary && rollout.spec.canary->analysis) {
    return true;
  }
  auto steps = crds::effectiveSteps(rollout.spec);
  return std::any_of(steps.begin(), steps.end(),
                     [](const crds::CanaryStep& step) { return step.analysis.has_value(); });
}

std::string unreadable(const json::object& run, const Error& error) {
  return fmt::format("analysisrun \"{}\" cannot be read: {}", kube::nameOf(run),
                     error.fieldMessage());
}

}  // namespace

std::optional<std::string> analysisRunSelector(std::string_view rolloutName) {
  if (rolloutName.empty()) {
    return std::nullopt;
  }
  // A cut name may match other Rollouts' runs: ownedAnalysisRuns keeps only this one's.
  return fmt::format("{}={}", crds::kRolloutLabel, crds::rolloutLabelValue(rolloutName));
}

std::vector<json::object> ownedAnalysisRuns(const json::object& rollout,
                                            std::vector<json::object> candidates) {
  std::string uid = kube::uidOf(rollout);
  std::erase_if(candidates, [&](const json::object& run) {
    auto controller = kube::controllerOf(run);
    return uid.empty() || !controller || controller->uid != uid;
  });
  auto created = [](const json::object& o) {
    return stringAt(objectAt(o, "metadata"), "creationTimestamp");
  };
  std::sort(candidates.begin(), candidates.end(),
            [&](const json::object& a, const json::object& b) {
              auto ca = created(a);
              auto cb = created(b);
              return ca != cb ? ca < cb : kube::nameOf(a) < kube::nameOf(b);
            });
  return candidates;
}

std::string analysisOf(const json::object& run) {
  std::string label = stringAt(objectAt(objectAt(run, "metadata"), "labels"), crds::kAnalysisLabel);
  if (label == crds::kBackgroundAnalysis) {
    return label;
  }
  constexpr std::string_view kStep = "step-";
  if (label.rfind(kStep, 0) == 0) {
    int32_t index = 0;
    const char* begin = label.data() + kStep.size();
    const char* end = label.data() + label.size();
    auto [ptr, ec] = std::from_chars(begin, end, index);
    if (ec == std::errc() && ptr == end && ptr != begin && index >= 0) {
      return fmt::format("step {}", index + 1);
    }
  }
  return label;
}

std::string renderRolloutRuns(const json::object& object, const RolloutRuns& runs) {
  auto parsed = parseRollout(object);
  if (!parsed) {
    return "";
  }
  const auto& rollout = *parsed;
  const std::string rolloutName = kube::nameOf(object);
  const bool analyses = hasAnalysis(rollout);
  if (runs.unavailable) {
    return analyses || !runs.runs.empty()
               ? fmt::format("\nAnalysisRuns: not shown: {}\n", *runs.unavailable)
               : "";
  }
  const int32_t attempt = rollout.status.attempt.value_or(0);
  std::vector<const json::object*> current;
  std::vector<const json::object*> older;
  for (const auto& run : runs.runs) {
    (attemptOf(kube::nameOf(run), rolloutName) == attempt ? current : older).push_back(&run);
  }
  if (current.empty() && older.empty() && !analyses) {
    return "";
  }

  std::string out = "\n";
  if (current.empty()) {
    out += noCanaryYet(rollout) ? "AnalysisRuns: none, no canary has run yet.\n"
                                : fmt::format("AnalysisRuns of attempt {}: none yet.\n", attempt);
  } else {
    out += fmt::format("AnalysisRuns of attempt {}:\n", attempt);
    std::vector<std::vector<std::string>> runRows;
    std::vector<std::vector<std::string>> metricRows;
    std::vector<size_t> metricsPerRun;
    for (const auto* object : current) {
      std::string name = kube::nameOf(*object);
      std::string analysis = analysisOf(*object);
      if (analysis == crds::kBackgroundAnalysis && rollout.status.backgroundRun &&
          *rollout.status.backgroundRun != name) {
        analysis += " (replaced)";
      }
      auto run = crds::readAnalysisRun(json::value(*object));
      if (!run) {
        runRows.push_back({name, analysis, "Unknown", unreadable(*object, run.error())});
        metricsPerRun.push_back(0);
        continue;
      }
      runRows.push_back(
          {name, analysis.empty() ? "-" : analysis, runPhase(*run), oneLine(runMessage(*run))});
      auto metrics = metricsOf(*run);
      for (const auto& view : metrics) {
        auto value = lastValue(view.result);
        std::string condition =
            view.metric != nullptr ? conditionText(view.metric->successCondition) : "";
        std::string valueCell = value.value_or("<none>");
        if (!condition.empty()) {
          valueCell += " (" + condition + ")";
        }
        metricRows.push_back(
            {view.name, metricPhase(view.result), valueCell, countsLine(view.metric, view.result)});
      }
      metricsPerRun.push_back(metrics.size());
    }
    auto runLines = tableLines(runRows, 2);
    auto metricLines = tableLines(metricRows, 4);
    size_t next = 0;
    for (size_t i = 0; i < runLines.size(); ++i) {
      out += runLines[i] + "\n";
      for (size_t m = 0; m < metricsPerRun[i]; ++m) {
        out += metricLines[next++] + "\n";
      }
    }
  }

  if (!older.empty()) {
    std::map<std::string, int> byPhase;
    std::vector<int32_t> attempts;
    for (const auto* object : older) {
      auto run = crds::readAnalysisRun(json::value(*object));
      ++byPhase[run ? runPhase(*run) : std::string("Unknown")];
      if (auto a = attemptOf(kube::nameOf(*object), rolloutName)) {
        attempts.push_back(*a);
      }
    }
    std::sort(attempts.begin(), attempts.end());
    attempts.erase(std::unique(attempts.begin(), attempts.end()), attempts.end());
    std::vector<std::string> counts;
    for (auto p : kPhaseOrder) {
      if (auto it = byPhase.find(std::string(p)); it != byPhase.end()) {
        counts.push_back(fmt::format("{} {}", it->second, p));
        byPhase.erase(it);
      }
    }
    for (const auto& [p, n] : byPhase) {
      counts.push_back(fmt::format("{} {}", n, p));
    }
    std::string which = attempts.empty() ? "other attempts"
                        : attempts.size() == 1
                            ? fmt::format("attempt {}", attempts.front())
                            : fmt::format("attempts {}", fmt::join(attempts, ", "));
    out += fmt::format("  Older: {} of {} ({}); `kubectl mc get analysisrun NAME` shows one\n",
                       plural(static_cast<int32_t>(older.size()), "run", "runs"), which,
                       fmt::join(counts, ", "));
  }
  return out;
}

std::string renderRollout(const json::object& rollout, const std::vector<json::object>& replicaSets,
                          const RolloutRuns& runs, WallTime now) {
  return renderRollout(rollout, replicaSets, now) + renderRolloutRuns(rollout, runs);
}

std::string renderAnalysisRun(const json::object& object, WallTime now) {
  std::string out;
  field(out, 0, "Name", kube::nameOf(object), kLabelWidth);
  field(out, 0, "Namespace", kube::namespaceOf(object), kLabelWidth);
  const auto* labels = objectAt(objectAt(object, "metadata"), "labels");
  std::string rolloutName = stringAt(labels, crds::kRolloutLabel);
  if (rolloutName.empty()) {
    if (auto controller = kube::controllerOf(object)) {
      rolloutName = controller->name;
    }
  }
  if (!rolloutName.empty()) {
    field(out, 0, "Rollout", rolloutName, kLabelWidth);
  }
  if (auto analysis = analysisOf(object); !analysis.empty()) {
    field(out, 0, "Analysis", analysis, kLabelWidth);
  }
  auto parsed = crds::readAnalysisRun(json::value(object));
  if (!parsed) {
    field(out, 0, "Status", "Unknown - " + unreadable(object, parsed.error()), kLabelWidth);
    return out;
  }
  const auto& run = *parsed;
  std::string message = runMessage(run);
  field(out, 0, "Status", message.empty() ? runPhase(run) : runPhase(run) + " - " + message,
        kLabelWidth);
  field(out, 0, "Started", timeField(run.status.startedAt, now), kLabelWidth);
  field(out, 0, "Completed", timeField(run.status.completedAt, now), kLabelWidth);
  if (run.spec.terminate) {
    field(out, 0, "Terminate", terminateText(*run.spec.terminate), kLabelWidth);
  }

  if (run.spec.args.empty()) {
    field(out, 0, "Args", "<none>", kLabelWidth);
  } else {
    out += "Args:\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& arg : run.spec.args) {
      rows.push_back({arg.name + ":", arg.value ? oneLine(*arg.value) : "<none>"});
    }
    for (const auto& line : tableLines(rows, 2)) {
      out += line + "\n";
    }
  }

  out += "Metrics:\n";
  for (const auto& view : metricsOf(run)) {
    const auto* metric = view.metric;
    const auto* result = view.result;
    out += fmt::format("  {}:\n", view.name);
    auto metricField = [&](std::string_view label, std::string_view value) {
      field(out, 4, label, value, kMetricLabelWidth);
    };
    std::string phaseText = metricPhase(result);
    if (result != nullptr && !result->message.empty()) {
      phaseText += " - " + oneLine(result->message);
    }
    metricField("Phase", phaseText);
    if (metric == nullptr) {
      metricField("Spec", "<none>: the run's spec has no metric of this name");
    } else {
      auto [kind, block] = providerOf(metric);
      std::string address = stringAt(block, "address");
      std::string provider = kind.empty()      ? "<none>"
                             : address.empty() ? kind
                                               : kind + " " + address;
      if (auto builtin = builtinOf(block); !builtin.empty()) {
        provider += ", built-in " + builtin;
      }
      metricField("Provider", provider);
    }
    for (const auto& query : queriesOf(view)) {
      metricField(query.name.empty() ? "Query" : "Query " + query.name,
                  query.query.empty() ? "<none>" : query.query);
    }
    if (metric != nullptr) {
      std::string condition = conditionText(metric->successCondition);
      metricField("Success condition", condition.empty() ? "<none>" : condition);
      metricField(
          "Limits",
          fmt::format("failureLimit {}, inconclusiveLimit {}, consecutiveErrorLimit {}",
                      metric->failureLimit.value_or(0), metric->inconclusiveLimit.value_or(0),
                      metric->consecutiveErrorLimit.value_or(kDefaultConsecutiveErrorLimit)));
      auto planned = plannedCount(metric);
      std::string schedule = planned ? fmt::format("count {}", *planned) : "count unbounded";
      if (metric->interval) {
        schedule += ", interval " + *metric->interval;
      }
      if (metric->initialDelay) {
        schedule += ", initialDelay " + *metric->initialDelay;
      }
      metricField("Schedule", schedule);
      if (metric->dryRun.value_or(false)) {
        metricField("Dry run", "yes: measured and shown, never decides the run");
      }
    }
    int32_t successful = result != nullptr ? result->successful : 0;
    int32_t failed = result != nullptr ? result->failed : 0;
    int32_t inconclusive = result != nullptr ? result->inconclusive : 0;
    int32_t errors = result != nullptr ? result->error : 0;
    int32_t inARow = result != nullptr ? result->consecutiveErrors : 0;
    metricField("Measured", fmt::format("{} - {} successful, {} failed, {} inconclusive, {} ({} in "
                                        "a row)",
                                        measuredCount(metric, result), successful, failed,
                                        inconclusive, plural(errors, "error", "errors"), inARow));
    if (result == nullptr || result->measurements.empty()) {
      metricField("Measurements", "none yet");
      continue;
    }
    const auto& measurements = result->measurements;
    auto shown = static_cast<int32_t>(measurements.size());
    out += result->count > shown
               ? fmt::format("    Measurements (last {} of {}):\n", shown, result->count)
               : "    Measurements:\n";
    std::vector<std::vector<std::string>> rows{{"STARTED", "PHASE", "VALUE", "MESSAGE"}};
    for (const auto& m : measurements) {
      rows.push_back({m.startedAt.empty() ? "<none>" : m.startedAt,
                      m.phase.empty() ? std::string(phase::kPending) : m.phase,
                      m.value.value_or("<none>"), oneLine(m.message)});
    }
    for (const auto& line : tableLines(rows, 6)) {
      out += line + "\n";
    }
  }
  return out;
}

}  // namespace mc::cli
