#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mc/cli/rollout_view.h"
#include "mc/common/error.h"

// `kubectl mc list`: many Rollouts, one line each. The command feeds it the pages it lists (the
// Rollouts, then the ReplicaSets MC made), so a list of 10,000 Rollouts keeps one short row per
// Rollout, not the objects, and costs a few paged lists rather than a request per Rollout.
namespace mc::cli {

// The phases named by `--phase` values (each may hold several, comma-separated), matched
// case-insensitively and returned as the API spells them, without duplicates. Invalid, listing
// the valid phases, for an unknown or empty one.
Result<std::vector<std::string>> parsePhases(const std::vector<std::string>& values);

// One page at a time, the Rollouts to show and the images of their ReplicaSets.
// Not thread-safe; the command that owns it feeds it from one coroutine.
class RolloutList {
 public:
  // `phases` as parsePhases returns them; empty: every Rollout, with or without a status.
  explicit RolloutList(std::vector<std::string> phases = {});

  // Keeps a row for `rollout` if its phase is one of the wanted ones.
  void addRollout(const boost::json::object& rollout);
  // The images of `replicaSet` if a kept Rollout names it as its stable or canary (status
  // .stableRS / .canaryRS, in its namespace, controlled by it); any other is ignored.
  void addReplicaSet(const boost::json::object& replicaSet);

  bool empty() const { return rows_.empty(); }
  size_t size() const { return rows_.size(); }
  // Whether a kept Rollout names a ReplicaSet whose images are not known yet.
  bool needsReplicaSets() const;

  // The table, sorted by namespace then name, with a NAMESPACE column when `allNamespaces`.
  // Columns: NAME, PHASE, STEP ("2/7"; "-" with no canary), WEIGHT, STABLE and CANARY images
  // ("-" when none), AGE. "" when empty: see emptyMessage.
  std::string render(WallTime now, bool allNamespaces) const;
  // kubectl's line for an empty result: "No rollouts found in namespace shop." (with the
  // phases asked for, if any).
  std::string emptyMessage(std::string_view ns, bool allNamespaces) const;
  // `-o name`: "rollout.mc.maestro.dev/web" a line, in the table's order.
  std::string renderNames() const;

 private:
  struct Row {
    std::string ns;
    std::string name;
    std::string uid;
    std::string phase;
    std::string step;
    std::string weight;
    std::optional<std::string> stableRS;
    std::optional<std::string> canaryRS;
    std::string stableImages;  // "" until its ReplicaSet is seen
    std::string canaryImages;
    std::string templateImages;  // spec.template's: what runs when no ReplicaSet is known
    std::optional<WallTime> created;
  };
  std::vector<Row> sorted() const;

  std::vector<std::string> phases_;
  std::vector<Row> rows_;
  // (namespace, ReplicaSet name) -> the rows naming it, and as what (true: the canary).
  std::multimap<std::pair<std::string, std::string>, std::pair<size_t, bool>> wanted_;
};

}  // namespace mc::cli
