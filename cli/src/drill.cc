#include "mc/cli/drill.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/names.h"

namespace mc::cli {
namespace {

namespace json = boost::json;

void setEnv(json::object& container, const std::string& name, const std::string& value) {
  json::value& env = container["env"];
  if (!env.is_array()) {
    env = json::array();
  }
  for (auto& entry : env.as_array()) {
    if (entry.is_object() && stringAt(entry.as_object(), "name") == name) {
      entry = json::object{{"name", name}, {"value", value}};  // a valueFrom goes too
      return;
    }
  }
  env.as_array().push_back(json::object{{"name", name}, {"value", value}});
}

std::optional<double> secondsBetween(const std::optional<WallTime>& from,
                                     const std::optional<WallTime>& to) {
  if (!from || !to) return std::nullopt;
  return std::chrono::duration<double>(*to - *from).count();
}

std::string seconds(std::optional<double> value) {
  return value ? fmt::format("{:.1f} s", *value) : "-";
}

std::string moment(const std::optional<WallTime>& at, const WallTime& started) {
  if (!at) return "not seen";
  return fmt::format("{} ({:+.1f} s)", formatMicroTime(*at),
                     std::chrono::duration<double>(*at - started).count());
}

json::value jsonTime(const std::optional<WallTime>& at) {
  return at ? json::value(formatMicroTime(*at)) : json::value(nullptr);
}

json::value jsonSeconds(std::optional<double> value) {
  return value ? json::value(fmt::format("{:.3f}", *value)) : json::value(nullptr);
}

std::string outcome(const DrillTimeline& drill) {
  if (drill.passed()) return "PASSED: MC rolled the bad revision back";
  if (drill.promoted) return "FAILED: MC promoted the bad revision";
  return fmt::format("FAILED: MC did not roll back within {} s", drill.timeout.count());
}

}  // namespace

Result<std::pair<std::string, std::string>> parseEnvAssignment(const std::string& text) {
  auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return fieldError("--set-env", fmt::format("\"{}\" is not KEY=VALUE", text));
  }
  return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

Result<json::object> drillTemplate(const json::object& current, const DrillChange& change,
                                   const std::string& id) {
  if (change.env.empty() && !change.patch) {
    return makeError(ErrorKind::Invalid,
                     "a drill needs a bad revision: --set-env KEY=VALUE or --patch-file FILE");
  }
  json::value out = current;
  if (change.patch) {
    applyMergePatch(out, *change.patch);
  }
  if (!out.is_object()) {
    return fieldError("--patch-file", "the patched pod template is not an object");
  }
  auto* spec = out.as_object().if_contains("spec");
  auto* containers =
      spec != nullptr && spec->is_object() ? spec->as_object().if_contains("containers") : nullptr;
  if (!change.env.empty() && (containers == nullptr || !containers->is_array())) {
    return fieldError("--set-env", "the pod template has no containers to set it on");
  }
  for (const auto& [name, value] : change.env) {
    for (auto& container : containers->as_array()) {
      if (container.is_object()) setEnv(container.as_object(), name, value);
    }
  }
  if (out.as_object() == current) {
    return makeError(ErrorKind::Invalid,
                     "the drill changes nothing in the pod template: it would be no bad revision");
  }
  auto& annotations = ensureObject(ensureObject(out.as_object(), "metadata"), "annotations");
  annotations[crds::kDrillAnnotation] = id;
  return out.as_object();
}

std::string drillMarkdown(const DrillTimeline& drill) {
  auto detect = secondsBetween(drill.canaryStarted, drill.firstFailure);
  auto decide = secondsBetween(drill.canaryStarted, drill.aborted);
  auto rollback = secondsBetween(drill.canaryStarted, drill.trafficBack);
  auto gone = secondsBetween(drill.canaryStarted, drill.podsGone);
  std::string out =
      fmt::format("# Drill {} of rollout {}/{}\n\n", drill.id, drill.ns, drill.rollout);
  out += fmt::format("**{}**\n\n", outcome(drill));
  out += fmt::format("Bad revision: {} (timeout {} s){}\n\n", drill.change, drill.timeout.count(),
                     drill.restored ? "; the template was put back afterwards" : "");
  out += "| moment | when |\n|---|---|\n";
  out += fmt::format("| drill applied | {} |\n", moment(drill.started, drill.started));
  out += fmt::format("| canary started | {} |\n", moment(drill.canaryStarted, drill.started));
  out += fmt::format("| first failed measurement | {}{} |\n",
                     moment(drill.firstFailure, drill.started),
                     drill.failure.empty() ? "" : ": " + drill.failure);
  out += fmt::format("| aborted | {}{} |\n", moment(drill.aborted, drill.started),
                     drill.abortedBy.empty() ? "" : " by " + drill.abortedBy);
  out += fmt::format("| traffic back on the stable | {} |\n",
                     moment(drill.trafficBack, drill.started));
  out += fmt::format("| canary's pods gone | {} |\n\n", moment(drill.podsGone, drill.started));
  out += "| measure | from the canary's start |\n|---|---|\n";
  out += fmt::format("| time to detect (first failed measurement) | {} |\n", seconds(detect));
  out += fmt::format("| time to decide (abort) | {} |\n", seconds(decide));
  out += fmt::format("| time to roll back (traffic on the stable) | {} |\n", seconds(rollback));
  out += fmt::format("| time to remove the canary's pods | {} |\n", seconds(gone));
  if (!drill.abortReason.empty()) {
    out += fmt::format("\nMC's reason: {}\n", drill.abortReason);
  }
  return out;
}

std::string drillJson(const DrillTimeline& drill) {
  json::object out{
      {"namespace", drill.ns},
      {"rollout", drill.rollout},
      {"drill", drill.id},
      {"change", drill.change},
      {"timeoutSeconds", drill.timeout.count()},
      {"passed", drill.passed()},
      {"outcome", drill.passed()   ? "RolledBack"
                  : drill.promoted ? "Promoted"
                                   : "TimedOut"},
      {"restored", drill.restored},
      {"at",
       {{"applied", jsonTime(drill.started)},
        {"canaryStarted", jsonTime(drill.canaryStarted)},
        {"firstFailedMeasurement", jsonTime(drill.firstFailure)},
        {"aborted", jsonTime(drill.aborted)},
        {"trafficBack", jsonTime(drill.trafficBack)},
        {"podsGone", jsonTime(drill.podsGone)}}},
      {"seconds",
       {{"toDetect", jsonSeconds(secondsBetween(drill.canaryStarted, drill.firstFailure))},
        {"toAbort", jsonSeconds(secondsBetween(drill.canaryStarted, drill.aborted))},
        {"toRollBack", jsonSeconds(secondsBetween(drill.canaryStarted, drill.trafficBack))},
        {"toRemovePods", jsonSeconds(secondsBetween(drill.canaryStarted, drill.podsGone))}}},
      {"failure", drill.failure},
      {"abortedBy", drill.abortedBy},
      {"abortReason", drill.abortReason}};
  return json::serialize(out) + "\n";
}

}  // namespace mc::cli
