#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mc/common/error.h"

// `kubectl mc drill`: a deliberately bad revision deployed as a canary, followed until MC rolls
// it back (or does not), and the game-day report. The pure parts: the template a drill deploys,
// and the report of what was seen.
namespace mc::cli {

using WallTime = std::chrono::system_clock::time_point;

struct DrillChange {
  std::vector<std::pair<std::string, std::string>> env;  // --set-env KEY=VALUE, every container
  std::optional<boost::json::object> patch;              // --patch-file: a JSON merge patch
};

// "KEY=VALUE" -> {KEY, VALUE}; Invalid naming the flag otherwise.
Result<std::pair<std::string, std::string>> parseEnvAssignment(const std::string& text);

// The pod template of the drill: `current` with the merge patch applied and the variables set on
// every container (replacing a variable of the same name), marked with the drill's id
// (mc.maestro.dev/drill), so that it is a new revision MC knows for a drill. Invalid if nothing
// would change.
Result<boost::json::object> drillTemplate(const boost::json::object& current,
                                          const DrillChange& change, const std::string& id);

// What the drill saw, each moment as the apiserver or MC recorded it where they did (the canary's
// ReplicaSet's creation, a measurement's finishedAt, MC's audit record of the abort), else when
// kubectl-mc first saw it.
struct DrillTimeline {
  std::string ns;
  std::string rollout;
  std::string id;
  std::string change;  // what the bad revision is: "ERROR_RATE=0.2"
  std::chrono::seconds timeout{0};
  WallTime started;                       // the bad revision applied
  std::optional<WallTime> canaryStarted;  // its ReplicaSet created
  std::optional<WallTime> firstFailure;   // the first Failed measurement finished
  std::string failure;                    // "error-rate of web-2-1: 0.21 > max 0.02"
  std::optional<WallTime> aborted;        // MC's decision
  std::string abortedBy;                  // "analysis/web-2-1"
  std::string abortReason;
  std::optional<WallTime> trafficBack;  // status.canaryWeight 0 after the abort
  std::optional<WallTime> podsGone;     // the canary's ReplicaSet at 0 replicas
  bool promoted = false;                // MC promoted the bad revision: the drill failed
  bool restored = false;                // the template was put back afterwards

  // MC rolled back: traffic back on the stable and the canary's pods gone within the timeout.
  bool passed() const { return !promoted && trafficBack.has_value() && podsGone.has_value(); }
};

std::string drillMarkdown(const DrillTimeline& drill);
std::string drillJson(const DrillTimeline& drill);

}  // namespace mc::cli
