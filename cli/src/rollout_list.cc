#include "mc/cli/rollout_list.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <tuple>

#include "mc/cli/table.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/names.h"
#include "mc/runtime/kube_client.h"

namespace mc::cli {
namespace {

namespace json = boost::json;

constexpr const char* kNone = "-";
// A canary runs but its stable's ReplicaSet is not there (deleted, or not listed yet).
constexpr const char* kUnknown = "<unknown>";

// The containers' images of a pod template, comma-separated as kubectl's IMAGES column has them.
std::string imagesOf(const json::object* podTemplate) {
  const auto* podSpec = objectAt(podTemplate, "spec");
  const auto* containers = podSpec != nullptr ? podSpec->if_contains("containers") : nullptr;
  std::vector<std::string> images;
  if (containers != nullptr && containers->is_array()) {
    for (const auto& c : containers->as_array()) {
      if (c.is_object()) {
        images.push_back(stringAt(&c.as_object(), "image"));
      }
    }
  }
  return fmt::format("{}", fmt::join(images, ","));
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t");
  auto end = text.find_last_not_of(" \t");
  return begin == std::string_view::npos ? "" : std::string(text.substr(begin, end - begin + 1));
}

}  // namespace

Result<std::vector<std::string>> parsePhases(const std::vector<std::string>& values) {
  std::vector<std::string> phases;
  for (const auto& value : values) {
    std::string_view rest = value;
    for (;;) {
      auto comma = rest.find(',');
      std::string wanted = trim(rest.substr(0, comma));
      auto known =
          std::find_if(crds::phase::kAll.begin(), crds::phase::kAll.end(),
                       [&](std::string_view phase) { return lower(phase) == lower(wanted); });
      if (known == crds::phase::kAll.end()) {
        return makeError(ErrorKind::Invalid,
                         fmt::format("--phase: {} is not a phase of a Rollout; valid phases: {}",
                                     wanted.empty() ? "an empty name" : "\"" + wanted + "\"",
                                     fmt::join(crds::phase::kAll, ", ")));
      }
      if (std::find(phases.begin(), phases.end(), *known) == phases.end()) {
        phases.emplace_back(*known);
      }
      if (comma == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(comma + 1);
    }
  }
  return phases;
}

RolloutList::RolloutList(std::vector<std::string> phases) : phases_(std::move(phases)) {}

void RolloutList::addRollout(const json::object& object) {
  const auto* metadata = objectAt(&object, "metadata");
  Row row;
  row.ns = kube::namespaceOf(object);
  row.name = kube::nameOf(object);
  row.uid = kube::uidOf(object);
  row.created = parseTime(stringAt(metadata, "creationTimestamp"));
  row.templateImages = imagesOf(objectAt(objectAt(&object, "spec"), "template"));
  row.step = kNone;
  row.weight = kNone;
  auto parsed = parseRollout(object);
  if (parsed) {
    const auto& status = parsed->status;
    row.phase = status.phase.value_or("");
    row.stableRS = status.stableRS;
    row.canaryRS = status.canaryRS;
    if (status.canaryRS) {
      // A canary past its last step is being promoted: it shows its last step.
      Progress progress = progressOf(*parsed);
      row.step =
          fmt::format("{}/{}", progress.step > 0 ? progress.step : progress.steps, progress.steps);
      row.weight = std::to_string(status.canaryWeight.value_or(0));
    }
  } else {
    // A status kubectl-mc cannot read (MC marks such a Rollout Degraded): its phase, if any.
    row.phase = stringAt(objectAt(&object, "status"), "phase");
  }
  if (!phases_.empty() && std::find(phases_.begin(), phases_.end(), row.phase) == phases_.end()) {
    return;
  }
  if (row.phase.empty()) {
    row.phase = "Unknown";  // MC has not written a status yet
  }
  size_t index = rows_.size();
  if (row.stableRS) {
    wanted_.emplace(std::pair(row.ns, *row.stableRS), std::pair(index, false));
  }
  if (row.canaryRS) {
    wanted_.emplace(std::pair(row.ns, *row.canaryRS), std::pair(index, true));
  }
  rows_.push_back(std::move(row));
}

void RolloutList::addReplicaSet(const json::object& rs) {
  auto [begin, end] = wanted_.equal_range(std::pair(kube::namespaceOf(rs), kube::nameOf(rs)));
  if (begin == end) {
    return;
  }
  auto controller = kube::controllerOf(rs);
  std::string images = imagesOf(objectAt(objectAt(&rs, "spec"), "template"));
  for (auto it = begin; it != end; ++it) {
    auto& row = rows_[it->second.first];
    if (!controller || controller->uid != row.uid) {
      continue;  // a ReplicaSet of that name that is not this Rollout's
    }
    (it->second.second ? row.canaryImages : row.stableImages) = images;
  }
}

bool RolloutList::needsReplicaSets() const {
  return std::any_of(rows_.begin(), rows_.end(), [](const Row& row) {
    return (row.stableRS && row.stableImages.empty()) || (row.canaryRS && row.canaryImages.empty());
  });
}

std::vector<RolloutList::Row> RolloutList::sorted() const {
  std::vector<Row> rows = rows_;
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.ns, a.name) < std::tie(b.ns, b.name);
  });
  return rows;
}

std::string RolloutList::render(WallTime now, bool allNamespaces) const {
  if (rows_.empty()) {
    return "";
  }
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header{"NAME", "PHASE", "STEP", "WEIGHT", "STABLE", "CANARY", "AGE"};
  if (allNamespaces) {
    header.insert(header.begin(), "NAMESPACE");
  }
  lines.push_back(std::move(header));
  for (const auto& row : sorted()) {
    // Without a canary the Rollout's template is what runs (or will, before MC acts); the
    // canary's template stands in for its ReplicaSet until MC has created it.
    std::string stable = !row.stableImages.empty() ? row.stableImages
                         : row.canaryRS            ? kUnknown
                                                   : row.templateImages;
    std::string canary = !row.canaryRS               ? kNone
                         : !row.canaryImages.empty() ? row.canaryImages
                                                     : row.templateImages;
    std::vector<std::string> line{
        row.name,
        row.phase,
        row.step,
        row.weight,
        stable.empty() ? kNone : stable,
        canary.empty() ? kNone : canary,
        row.created ? formatAge(std::chrono::floor<std::chrono::seconds>(now - *row.created))
                    : "<unknown>"};
    if (allNamespaces) {
      line.insert(line.begin(), row.ns);
    }
    lines.push_back(std::move(line));
  }
  return table(lines, 3);
}

std::string RolloutList::emptyMessage(std::string_view ns, bool allNamespaces) const {
  std::string where = allNamespaces ? "" : fmt::format(" in namespace {}", ns);
  std::string which =
      phases_.empty() ? "" : fmt::format(" with phase {}", fmt::join(phases_, " or "));
  return fmt::format("No rollouts found{}{}.\n", where, which);
}

std::string RolloutList::renderNames() const {
  std::string out;
  for (const auto& row : sorted()) {
    out += fmt::format("rollout.{}/{}\n", crds::kGroup, row.name);
  }
  return out;
}

}  // namespace mc::cli
