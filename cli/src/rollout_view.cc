#include "mc/cli/rollout_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <stdexcept>

#include "mc/cli/table.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/runtime/kube_client.h"

namespace mc::cli {
namespace {

namespace json = boost::json;
using crds::kPodTemplateAnnotation;

constexpr int kLabelWidth = 16;

using crds::podHashOf;
using crds::revisionOf;

bool controlledBy(const json::object& object, const std::string& uid) {
  auto controller = kube::controllerOf(object);
  return !uid.empty() && controller && controller->uid == uid;
}

const json::object* findByName(const std::vector<json::object>& replicaSets,
                               const std::optional<std::string>& name) {
  if (!name) {
    return nullptr;
  }
  for (const auto& rs : replicaSets) {
    if (kube::nameOf(rs) == *name) {
      return &rs;
    }
  }
  return nullptr;
}

// The images of a pod template's containers ("web: example/web:2" when there are several).
std::vector<std::string> imagesOf(const json::object* podTemplate) {
  std::vector<std::string> images;
  const auto* podSpec = objectAt(podTemplate, "spec");
  const auto* containers = podSpec != nullptr ? podSpec->if_contains("containers") : nullptr;
  if (containers == nullptr || !containers->is_array()) {
    return images;
  }
  const auto& list = containers->as_array();
  for (const auto& c : list) {
    if (!c.is_object()) {
      continue;
    }
    std::string image = stringAt(&c.as_object(), "image");
    images.push_back(
        list.size() > 1 ? fmt::format("{}: {}", stringAt(&c.as_object(), "name"), image) : image);
  }
  return images;
}

const json::object* templateOf(const json::object* rs) {
  return objectAt(objectAt(rs, "spec"), "template");
}

// Where the canary is: the current step's index, the step count when it passed them all (or when
// no canary runs).
int32_t stepIndexOf(const crds::Rollout& rollout, int32_t steps) {
  const auto& status = rollout.status;
  int32_t fallback = status.canaryRS ? 0 : steps;
  return std::clamp(status.currentStepIndex.value_or(fallback), 0, steps);
}

int32_t percent(int64_t part, int64_t whole) {
  return whole <= 0 ? 0 : static_cast<int32_t>((200 * part + whole) / (2 * whole));
}

void field(std::string& out, std::string_view label, std::string_view value, int indent = 0) {
  std::string name = std::string(static_cast<size_t>(indent), ' ') + std::string(label) + ":";
  fmt::format_to(std::back_inserter(out), "{:<{}}{}\n", name, kLabelWidth, value);
}

std::string statusLine(const crds::Rollout& rollout) {
  const auto& status = rollout.status;
  Progress progress = progressOf(rollout);
  std::string line = status.phase.value_or("Unknown");
  if (status.message && !status.message->empty()) {
    line += " - " + *status.message;
  }
  if (!status.phase) {
    line += " - the controller has not written a status yet";
  } else if (!progress.observed) {
    line += fmt::format(" (generation {} not observed by the controller yet)", progress.generation);
  }
  if (status.abort.value_or(false) && status.phase != crds::phase::kDegraded) {
    line += " (abort requested)";
  } else if (status.promoteFull.value_or(false) || status.promoteStep) {
    line += " (promotion requested)";
  }
  return line;
}

}  // namespace

bool noCanaryYet(const crds::Rollout& rollout) {
  // status.attempt counts the canaries MC started; a finished one leaves it at 1 or more.
  return !rollout.status.canaryRS && rollout.status.attempt.value_or(0) == 0;
}

std::string noCanaryYetText(const crds::Rollout& rollout) {
  const auto& status = rollout.status;
  if (!status.phase) {
    return "No canary has run yet: the controller has not acted on this Rollout (its first "
           "revision goes out at once, without steps).";
  }
  std::string revision = status.stableRS ? " (" + *status.stableRS + ")" : "";
  return status.phase == crds::phase::kHealthy
             ? fmt::format("No canary has run yet: the first revision{} was deployed at once.",
                           revision)
             : fmt::format(
                   "No canary has run yet: the first revision{} is being deployed at "
                   "once, without steps.",
                   revision);
}

Result<crds::Rollout> parseRollout(const json::object& object) {
  auto rollout = crds::readRollout(json::value(object));
  if (!rollout) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("rollout \"{}\" cannot be read: {}", kube::nameOf(object),
                                 rollout.error().fieldMessage()));
  }
  return rollout;
}

std::vector<json::object> ownedReplicaSets(const json::object& rollout,
                                           std::vector<json::object> candidates) {
  std::string uid = kube::uidOf(rollout);
  std::erase_if(candidates, [&](const json::object& rs) { return !controlledBy(rs, uid); });
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const json::object& a, const json::object& b) { return revisionOf(a) > revisionOf(b); });
  return candidates;
}

std::string formatAge(std::chrono::seconds age) {
  int64_t s = age.count();
  if (s < -1) {
    return "<invalid>";
  }
  if (s < 0) {
    return "0s";
  }
  if (s < 120) {
    return fmt::format("{}s", s);
  }
  int64_t m = s / 60;
  if (m < 10) {
    return s % 60 == 0 ? fmt::format("{}m", m) : fmt::format("{}m{}s", m, s % 60);
  }
  if (m < 180) {
    return fmt::format("{}m", m);
  }
  int64_t h = m / 60;
  if (h < 8) {
    return m % 60 == 0 ? fmt::format("{}h", h) : fmt::format("{}h{}m", h, m % 60);
  }
  if (h < 48) {
    return fmt::format("{}h", h);
  }
  if (h < 192) {
    return h % 24 == 0 ? fmt::format("{}d", h / 24) : fmt::format("{}d{}h", h / 24, h % 24);
  }
  int64_t d = h / 24;
  if (d < 365 * 2) {
    return fmt::format("{}d", d);
  }
  return d % 365 == 0 ? fmt::format("{}y", d / 365) : fmt::format("{}y{}d", d / 365, d % 365);
}

Progress progressOf(const crds::Rollout& rollout) {
  const auto& status = rollout.status;
  Progress progress;
  progress.generation = intAt(&rollout.metadata, "generation", 0);
  progress.observed =
      status.observedGeneration && *status.observedGeneration == progress.generation;
  progress.phase = status.phase.value_or("");
  progress.steps = static_cast<int32_t>(crds::effectiveSteps(rollout.spec).size());
  int32_t index = stepIndexOf(rollout, progress.steps);
  progress.step = status.canaryRS && index < progress.steps ? index + 1 : 0;
  progress.message = status.message.value_or("");
  return progress;
}

std::string Progress::describe() const {
  if (phase.empty()) {
    return "waiting for the controller to act on the rollout";
  }
  if (!observed) {
    return fmt::format("waiting for the controller to observe generation {}", generation);
  }
  if (!message.empty()) {
    return fmt::format("{}: {}", phase, message);
  }
  return step > 0 ? fmt::format("{}: step {}/{}", phase, step, steps) : phase;
}

std::string renderRollout(const json::object& object, const std::vector<json::object>& replicaSets,
                          WallTime now) {
  std::string out;
  field(out, "Name", kube::nameOf(object));
  field(out, "Namespace", kube::namespaceOf(object));
  auto parsed = parseRollout(object);
  if (!parsed) {
    field(out, "Status", "Unknown - " + parsed.error().message);
    return out;
  }
  const auto& rollout = *parsed;
  const auto& status = rollout.status;
  field(out, "Status", statusLine(rollout));
  if (rollout.spec.paused.value_or(false)) {
    field(out, "Paused", "spec.paused is set: `kubectl mc resume` continues");
  }

  auto steps = crds::effectiveSteps(rollout.spec);
  auto count = static_cast<int32_t>(steps.size());
  int32_t index = stepIndexOf(rollout, count);
  field(out, "Strategy", "Canary");
  bool neverCanaried = noCanaryYet(rollout);
  if (neverCanaried) {
    // Steps marked passed and a weight of 0 would describe a canary that never was.
    out += "  " + noCanaryYetText(rollout) + "\n";
    out += "  Steps of the next canary (a change of spec.template starts one):\n";
  } else {
    field(out, "Step", fmt::format("{}/{}", std::min(index + 1, count), count), 2);
  }
  for (int32_t i = 0; i < count; ++i) {
    const char* mark = neverCanaried ? "·" : i < index ? "✔" : i == index ? "►" : "·";
    fmt::format_to(std::back_inserter(out), "    {} {}. {}\n", mark, i + 1,
                   crds::describeStep(steps[static_cast<size_t>(i)]));
  }

  const json::object* stableRs = findByName(replicaSets, status.stableRS);
  const json::object* canaryRs = findByName(replicaSets, status.canaryRS);
  int64_t canaryAvailable = intAt(objectAt(canaryRs, "status"), "availableReplicas", 0);
  int64_t allAvailable = 0;
  for (const auto& rs : replicaSets) {
    allAvailable += intAt(objectAt(&rs, "status"), "availableReplicas", 0);
  }
  if (!neverCanaried) {
    field(out, "SetWeight", std::to_string(status.canaryWeight.value_or(0)), 2);
    field(out, "ActualWeight", std::to_string(percent(canaryAvailable, allAvailable)), 2);
  }

  // The ReplicaSets' templates are what runs; the Rollout's template stands in for one not
  // created yet.
  std::vector<std::string> images;
  auto addImages = [&](const json::object* podTemplate, std::string_view role) {
    for (const auto& image : imagesOf(podTemplate)) {
      images.push_back(fmt::format("{} ({})", image, role));
    }
  };
  addImages(
      stableRs != nullptr || status.canaryRS ? templateOf(stableRs) : &rollout.spec.podTemplate,
      "stable");
  if (status.canaryRS) {
    addImages(canaryRs != nullptr ? templateOf(canaryRs) : &rollout.spec.podTemplate, "canary");
  }
  if (images.empty()) {
    field(out, "Images", "<none>");
  }
  for (size_t i = 0; i < images.size(); ++i) {
    if (i == 0) {
      field(out, "Images", images[i]);
    } else {
      out += fmt::format("{:<{}}{}\n", "", kLabelWidth, images[i]);
    }
  }

  // What the verification policies said of the current template, and what a rollback returns to.
  if (const auto* verified = crds::findCondition(status.conditions, crds::condition::kVerified)) {
    field(out, "Verified",
          fmt::format("{} ({}): {}", verified->status, verified->reason, verified->message));
  }
  if (status.lastKnownGood) {
    field(out, "KnownGood",
          fmt::format("{} ({}-{}, since {})", status.lastKnownGood->image, kube::nameOf(object),
                      status.lastKnownGood->podHash, status.lastKnownGood->at));
  } else if (const auto* known =
                 crds::findCondition(status.conditions, crds::condition::kKnownGood)) {
    field(out, "KnownGood", "none: " + known->message);
  }

  out += "Replicas:\n";
  field(out, "Desired", std::to_string(rollout.spec.replicas.value_or(1)), 2);
  field(out, "Current", std::to_string(status.replicas.value_or(0)), 2);
  field(out, "Updated", std::to_string(status.updatedReplicas.value_or(0)), 2);
  field(out, "Available", std::to_string(status.availableReplicas.value_or(0)), 2);

  out += "\n";
  if (replicaSets.empty()) {
    out += "No ReplicaSets.\n";
    return out;
  }
  std::vector<std::vector<std::string>> rows{
      {"NAME", "REVISION", "ROLE", "DESIRED", "READY", "AVAILABLE", "AGE"}};
  for (const auto& rs : replicaSets) {
    std::string name = kube::nameOf(rs);
    const auto* rsStatus = objectAt(&rs, "status");
    std::string role = name == status.stableRS   ? "stable"
                       : name == status.canaryRS ? "canary"
                                                 : "old";
    auto created = parseTime(stringAt(objectAt(&rs, "metadata"), "creationTimestamp"));
    rows.push_back({name, std::to_string(revisionOf(rs)), role,
                    std::to_string(intAt(objectAt(&rs, "spec"), "replicas", 1)),
                    std::to_string(intAt(rsStatus, "readyReplicas", 0)),
                    std::to_string(intAt(rsStatus, "availableReplicas", 0)),
                    created ? formatAge(std::chrono::floor<std::chrono::seconds>(now - *created))
                            : "<unknown>"});
  }
  out += table(rows, 2);
  return out;
}

Result<void> checkPromotable(const crds::Rollout& rollout, std::string_view name, bool full) {
  const auto& status = rollout.status;
  auto steps = static_cast<int32_t>(crds::effectiveSteps(rollout.spec).size());
  int32_t index = stepIndexOf(rollout, steps);
  if (!status.canaryRS || (status.phase == crds::phase::kHealthy && index == steps)) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("rollout \"{}\" has no canary to promote", name));
  }
  if (status.abort.value_or(false)) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("rollout \"{}\" is aborted: `kubectl mc retry {}` restarts its "
                                 "canary",
                                 name, name));
  }
  if (!full && index >= steps) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("rollout \"{}\" has passed all {} steps: its canary is being "
                                 "promoted already",
                                 name, steps));
  }
  return {};
}

std::string promotePatch(const crds::Rollout& rollout, bool full) {
  const auto& status = rollout.status;
  json::array ops;
  auto op = [&ops](std::string_view name, std::string_view path, json::value value) {
    ops.push_back(json::object{{"op", name}, {"path", path}, {"value", std::move(value)}});
  };
  if (status.canaryRS) {
    op("test", "/status/canaryRS", json::value(*status.canaryRS));
  }
  if (status.attempt) {
    op("test", "/status/attempt", *status.attempt);
  }
  if (full) {
    op("add", "/status/promoteFull", true);
    return json::serialize(ops);
  }
  if (status.currentStepIndex) {
    op("test", "/status/currentStepIndex", *status.currentStepIndex);
  }
  auto steps = static_cast<int32_t>(crds::effectiveSteps(rollout.spec).size());
  op("add", "/status/promoteStep", stepIndexOf(rollout, steps));
  return json::serialize(ops);
}

std::string withRequester(const std::string& patch, const std::string& username,
                          const std::string& reason) {
  json::value body = json::parse(patch);
  if (auto* ops = body.if_array()) {
    // A JSON patch cannot remove a field that may be absent: an empty reason is no reason.
    ops->push_back({{"op", "add"}, {"path", "/status/requestedBy"}, {"value", username}});
    ops->push_back({{"op", "add"}, {"path", "/status/requestReason"}, {"value", reason}});
    return json::serialize(body);
  }
  auto& status = body.as_object()["status"].as_object();
  status["requestedBy"] = username;
  status["requestReason"] = reason.empty() ? json::value(nullptr) : json::value(reason);
  return json::serialize(body);
}

Result<void> checkRetryable(const crds::Rollout& rollout, std::string_view name) {
  if (rollout.status.abort.value_or(false) || rollout.status.phase == crds::phase::kDegraded) {
    return {};
  }
  return makeError(ErrorKind::Invalid,
                   fmt::format("rollout \"{}\" is {}, not aborted: there is no canary to retry",
                               name, rollout.status.phase.value_or("without a status")));
}

Result<UndoTarget> undoTarget(const crds::Rollout& rollout, std::string_view name,
                              const std::vector<json::object>& replicaSets,
                              std::optional<int64_t> toRevision) {
  std::optional<int64_t> current;
  std::vector<int64_t> revisions;
  for (const auto& rs : replicaSets) {
    int64_t revision = revisionOf(rs);
    if (revision <= 0) {
      continue;
    }
    revisions.push_back(revision);
    if (rollout.status.currentPodHash && podHashOf(rs) == *rollout.status.currentPodHash) {
      current = revision;
    }
  }
  std::sort(revisions.begin(), revisions.end());
  revisions.erase(std::unique(revisions.begin(), revisions.end()), revisions.end());

  std::optional<int64_t> wanted = toRevision;
  std::string knownGood;
  std::vector<const crds::KnownGood*> goods;
  if (rollout.status.lastKnownGood) {
    goods.push_back(&*rollout.status.lastKnownGood);
  }
  for (const auto& good : rollout.status.knownGoodHistory) {
    goods.push_back(&good);
  }
  if (!wanted && !goods.empty()) {
    std::vector<std::string> considered;
    for (const crds::KnownGood* good : goods) {
      if (rollout.status.currentPodHash && good->podHash == *rollout.status.currentPodHash) {
        continue;  // what runs now: nothing to return to
      }
      considered.push_back(good->image);
      for (const auto& rs : replicaSets) {
        if (podHashOf(rs) == good->podHash && revisionOf(rs) > 0) {
          wanted = revisionOf(rs);
          knownGood = good->image;
          break;
        }
      }
      if (wanted) {
        break;
      }
    }
    if (!wanted) {
      return makeError(
          ErrorKind::NotFound,
          considered.empty()
              ? fmt::format("rollout \"{}\" runs its last known-good template already; name "
                            "another revision with --to-revision",
                            name)
              : fmt::format("rollout \"{}\": no ReplicaSet of a known-good template ({}) is "
                            "left to return to; name a revision with --to-revision",
                            name, fmt::join(considered, ", ")));
    }
  }
  if (!wanted) {
    if (!current) {
      return makeError(
          ErrorKind::Invalid,
          fmt::format("rollout \"{}\" has no current revision to undo from (no "
                      "ReplicaSet of status.currentPodHash); name one with "
                      "--to-revision (available: {})",
                      name,
                      revisions.empty() ? "none" : fmt::format("{}", fmt::join(revisions, ", "))));
    }
    for (int64_t revision : revisions) {
      if (revision < *current) {
        wanted = revision;
      }
    }
    if (!wanted) {
      return makeError(
          ErrorKind::Invalid,
          fmt::format("rollout \"{}\" has no revision before {} to undo to", name, *current));
    }
  }
  const json::object* found = nullptr;
  for (const auto& rs : replicaSets) {
    if (revisionOf(rs) == *wanted) {
      found = &rs;
      break;
    }
  }
  if (found == nullptr) {
    return makeError(ErrorKind::NotFound,
                     revisions.empty()
                         ? fmt::format("rollout \"{}\" has no revision {} (it has no ReplicaSets)",
                                       name, *wanted)
                         : fmt::format("rollout \"{}\" has no revision {} (available: {})", name,
                                       *wanted, fmt::join(revisions, ", ")));
  }
  UndoTarget target;
  target.revision = *wanted;
  target.replicaSet = kube::nameOf(*found);
  const auto* annotations = objectAt(objectAt(found, "metadata"), "annotations");
  std::string stored = stringAt(annotations, kPodTemplateAnnotation);
  boost::system::error_code ec;
  auto podTemplate = json::parse(stored, ec);
  if (stored.empty() || ec || !podTemplate.is_object()) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("ReplicaSet {} (revision {}) has no readable {} annotation, so "
                                 "its pod template cannot be restored",
                                 target.replicaSet, target.revision, kPodTemplateAnnotation));
  }
  target.podTemplate = std::move(podTemplate.as_object());
  target.alreadyCurrent = target.podTemplate == rollout.spec.podTemplate;
  target.knownGood = std::move(knownGood);
  return target;
}

std::string undoPatch(const UndoTarget& target, std::string_view resourceVersion) {
  json::array patch{
      json::object{
          {"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", resourceVersion}},
      json::object{{"op", "replace"}, {"path", "/spec/template"}, {"value", target.podTemplate}}};
  return json::serialize(patch);
}

}  // namespace mc::cli
