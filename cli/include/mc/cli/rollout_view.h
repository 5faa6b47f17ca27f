#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/rollout.h"

// What `kubectl mc` reads out of a Rollout and its ReplicaSets, as pure functions of the objects
// the apiserver returned (and the time, for ages), so every rendering and every decision a
// command takes before it writes is unit-tested without an apiserver.
namespace mc::cli {

using WallTime = std::chrono::system_clock::time_point;

// The typed Rollout of an apiserver object; Invalid, naming the field, if it does not parse.
Result<crds::Rollout> parseRollout(const boost::json::object& object);

// The ReplicaSets among `candidates` whose controller ownerReference is `rollout` (by uid), in
// descending revision order (mc.maestro.dev/revision).
std::vector<boost::json::object> ownedReplicaSets(const boost::json::object& rollout,
                                                  std::vector<boost::json::object> candidates);

// The Rollout as `kubectl mc get rollout` prints it: status, the canary steps with the current
// one marked, weights, images, replica counts and a table of its ReplicaSets (`replicaSets` as
// ownedReplicaSets returns them). `now` gives the ages.
std::string renderRollout(const boost::json::object& rollout,
                          const std::vector<boost::json::object>& replicaSets, WallTime now);

// Whether no canary has run for this Rollout yet (its first revision went out at once, or MC has
// not acted on it): `get` says so instead of showing steps as passed, `list` shows no step.
bool noCanaryYet(const crds::Rollout& rollout);
// "No canary has run yet: the first revision (web-6d5f) was deployed at once.", as `get` says.
std::string noCanaryYetText(const crds::Rollout& rollout);

// An age as kubectl prints it: "45s", "5m30s", "150m", "5h30m", "3d".
std::string formatAge(std::chrono::seconds age);

// Where a Rollout stands, as `kubectl mc status` follows it.
struct Progress {
  // status.observedGeneration caught up with metadata.generation: only then is phase the
  // controller's verdict on the current spec.
  bool observed = false;
  int64_t generation = 0;
  std::string phase;  // "" before the controller wrote any status
  int32_t step = 0;   // 1-based step a canary is at; 0 when no canary runs
  int32_t steps = 0;
  std::string message;

  bool operator==(const Progress&) const = default;
  // One line for people: "Paused - step 2/4 - waiting for `kubectl mc promote web`".
  std::string describe() const;
};

Progress progressOf(const crds::Rollout& rollout);

// Whether a canary runs that `promote` can act on; if not, an Invalid error saying why
// ("rollout \"web\" has no canary to promote"). `full`: skipping all remaining steps.
Result<void> checkPromotable(const crds::Rollout& rollout, std::string_view name, bool full);

// The body of `kubectl mc promote`, a JSON patch setting promoteFull or promoteStep (the current
// step) whose test operations hold it to the canary, attempt and step that were read: a step the
// controller passed meanwhile is not skipped too, and a new canary is not promoted by a request
// meant for the old one. Edits elsewhere in the object (annotations, say) do not refuse it, as a
// resourceVersion precondition would under a stream of them.
std::string promotePatch(const crds::Rollout& rollout, bool full);

// A request's status patch (a merge patch, or a JSON patch's operations) with its requester
// (status.requestedBy, as the apiserver named them) and reason (status.requestReason; removed or
// emptied without one: never a stale one).
std::string withRequester(const std::string& patch, const std::string& username,
                          const std::string& reason);

// Whether there is an aborted or failed canary for `retry` to restart.
Result<void> checkRetryable(const crds::Rollout& rollout, std::string_view name);

// The revision `kubectl mc undo` goes back to and the pod template stored for it.
struct UndoTarget {
  int64_t revision = 0;
  std::string replicaSet;
  boost::json::object podTemplate;  // the template as the Rollout had it (kPodTemplateAnnotation)
  bool alreadyCurrent = false;      // spec.template is this template already
  std::string knownGood;            // the pinned image, when the target is a known-good template
};

// `toRevision` absent: the last known-good template (status.lastKnownGood, else the newest of
// status.knownGoodHistory) other than the current one, whose ReplicaSet still exists; without
// any known-good on record (no verification in use), the highest revision below the current
// template's ReplicaSet's (the one whose hash label is status.currentPodHash). A known-good on
// record that cannot be returned to is an error, never a silent undo to an unverified revision.
// `replicaSets`: the owned ones.
Result<UndoTarget> undoTarget(const crds::Rollout& rollout, std::string_view name,
                              const std::vector<boost::json::object>& replicaSets,
                              std::optional<int64_t> toRevision);

// The JSON patch that restores `target` if the Rollout is still at `resourceVersion`.
std::string undoPatch(const UndoTarget& target, std::string_view resourceVersion);

}  // namespace mc::cli
