#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/cli/rollout_view.h"

// What `kubectl mc` shows of AnalysisRuns: a Rollout's runs under `get rollout`, and one run
// whole under `get analysisrun`. Pure functions of the objects the apiserver returned (and the
// time, for ages), as rollout_view.h.
namespace mc::cli {

// The label selector that lists a Rollout's AnalysisRuns (mc.maestro.dev/rollout=NAME); nullopt
// when NAME cannot be a label value (longer than 63 characters), so MC cannot have made any.
std::optional<std::string> analysisRunSelector(std::string_view rolloutName);

// The AnalysisRuns among `candidates` whose controller ownerReference is `rollout` (by uid),
// oldest first (creationTimestamp, then name).
std::vector<boost::json::object> ownedAnalysisRuns(const boost::json::object& rollout,
                                                   std::vector<boost::json::object> candidates);

// A Rollout's runs as `get rollout` read them: the owned ones (as ownedAnalysisRuns returns
// them), or why they could not be listed (no AnalysisRun API, no access), said in their place.
struct RolloutRuns {
  std::vector<boost::json::object> runs;
  std::optional<std::string> unavailable;
};

// Which analysis of its Rollout made `run`, from its mc.maestro.dev/analysis label:
// "background", "step 2" (1-based, as `get rollout` numbers the steps; the label says step-1),
// the label as written if it is neither, "" without one.
std::string analysisOf(const boost::json::object& run);

// The "AnalysisRuns" section of `get rollout`: the runs of the current attempt (status.attempt;
// runs are named <rollout>-<attempt>-...), each with its analysis, phase and message and a line
// per metric (last value and success condition, phase, counts), and one line summing up older
// attempts' runs. "" when the Rollout has no analysis and no runs.
std::string renderRolloutRuns(const boost::json::object& rollout, const RolloutRuns& runs);

// `get rollout` whole: renderRollout's view, then renderRolloutRuns'.
std::string renderRollout(const boost::json::object& rollout,
                          const std::vector<boost::json::object>& replicaSets,
                          const RolloutRuns& runs, WallTime now);

// The AnalysisRun as `kubectl mc get analysisrun` prints it: phase, message, started/completed,
// terminate, args; per metric the query as run (status, else the spec's provider), success
// condition, limits, counts and the last measurements as a table.
std::string renderAnalysisRun(const boost::json::object& run, WallTime now);

}  // namespace mc::cli
