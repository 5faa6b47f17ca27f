// Gather, for image verification: the policies that may cover the current template's images
// (ClusterVerificationPolicies from their cache, spec.verify inline or by reference), their keys
// and the pull credentials read from Secrets, and the verdict on each image. Asked only while the
// current template has no ReplicaSet: once it has one, its pods run the digests verified then.
#include <fmt/format.h>

#include <boost/json.hpp>
#include <map>

#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/pod_template_hash.h"
#include "mc/runtime/secret.h"
#include "mc/signing/docker_config.h"
#include "rollout_pass.h"

namespace mc::reconcilers {
namespace json = boost::json;

// Secrets read in one pass, by namespace/name: a key Secret named by two policies is read once.
class SecretReader {
 public:
  explicit SecretReader(kube::Client& client) : client_(client) {}

  // The Secret, or nullopt with `problem` set when it cannot be used; an apiserver failure other
  // than NotFound or Forbidden is returned (the reconcile is retried).
  boost::asio::awaitable<Result<std::optional<json::object>>> get(std::string ns, std::string name,
                                                                  std::string& problem) {
    std::string key = ns + "/" + name;
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      auto found = co_await client_.get(kube::resources::kSecrets, ns, name);
      if (!found && found.error().kind != ErrorKind::NotFound &&
          found.error().kind != ErrorKind::Forbidden) {
        co_return found.error();
      }
      it = cache_.emplace(key, std::move(found)).first;
    }
    if (!it->second) {
      problem = it->second.error().kind == ErrorKind::NotFound
                    ? fmt::format("Secret {} not found", key)
                    : fmt::format("Secret {} cannot be read: {}", key, it->second.error().message);
      co_return std::nullopt;
    }
    co_return *it->second;
  }

 private:
  kube::Client& client_;
  std::map<std::string, Result<json::object>> cache_;
};

namespace {

std::vector<signing::Waiver> readWaivers(const crds::VerificationPolicySpec& spec,
                                         std::string& problem) {
  std::vector<signing::Waiver> waivers;
  for (const auto& w : spec.waivers) {
    auto expires = parseTime(w.expires);
    if (!expires) {
      problem = fmt::format("waiver of {} for {}: expires \"{}\" is not an RFC 3339 time", w.owner,
                            w.digest, w.expires);
      continue;
    }
    waivers.push_back({w.digest, w.owner, w.reason, *expires});
  }
  return waivers;
}

// The text of a Secret's `dataKey` (or `inline` when given), named `what` in problems; nullopt
// with `problem` set when it cannot be had.
boost::asio::awaitable<Result<std::optional<std::string>>> readText(
    SecretReader& secrets, std::optional<std::string> inlineText, std::string ns,
    std::optional<std::string> name, std::string dataKey, std::string what, std::string& problem) {
  if (inlineText) {
    co_return inlineText;
  }
  auto secret = co_await secrets.get(ns, name.value_or(""), problem);
  if (!secret) {
    co_return secret.error();
  }
  if (!*secret) {
    co_return std::nullopt;
  }
  auto value = kube::secretValue(**secret, dataKey);
  if (!value || !*value) {
    problem =
        fmt::format("{}: {}", what, value ? "no such key in the Secret" : value.error().message);
    co_return std::nullopt;
  }
  co_return std::optional<std::string>(**value);
}

// The public keys of `keys` (a policy's signing keys, or its transparency logs' keys), named for
// messages; what cannot be read becomes `problem`.
boost::asio::awaitable<Result<std::vector<signing::PublicKey>>> readKeys(
    SecretReader& secrets, std::vector<crds::PolicyKey> keys, std::string policyName,
    std::string ns, std::string& problem) {
  std::vector<signing::PublicKey> out;
  for (const auto& key : keys) {
    std::string secretNs = key.secretNamespace.value_or(ns);
    std::string dataKey = key.secretKey.value_or(crds::kDefaultPublicKeyKey);
    std::string keyName =
        key.publicKey ? policyName + " inline key"
                      : fmt::format("{}/{} {}", secretNs, key.secretName.value_or(""), dataKey);
    auto pem = co_await readText(secrets, key.publicKey, secretNs, key.secretName, dataKey,
                                 "key " + keyName, problem);
    if (!pem) {
      co_return pem.error();
    }
    if (!*pem) {
      continue;
    }
    auto parsed = signing::PublicKey::fromPem(**pem, keyName);
    if (!parsed) {
      problem = fmt::format("key {}: {}", keyName, parsed.error().message);
      continue;
    }
    out.push_back(std::move(*parsed));
  }
  co_return out;
}

// The PEM documents of `sources` (a keyless policy's roots or timestamp authorities).
boost::asio::awaitable<Result<std::vector<std::string>>> readPems(
    SecretReader& secrets, std::vector<crds::PemSource> sources, std::string ns,
    std::string& problem) {
  std::vector<std::string> out;
  for (const auto& source : sources) {
    std::string secretNs = source.secretNamespace.value_or(ns);
    auto what = fmt::format("certificates {}/{} {}", secretNs, source.secretName.value_or(""),
                            source.secretKey.value_or(""));
    auto pem = co_await readText(secrets, source.pem, secretNs, source.secretName,
                                 source.secretKey.value_or(""), what, problem);
    if (!pem) {
      co_return pem.error();
    }
    if (*pem) {
      out.push_back(std::move(**pem));
    }
  }
  co_return out;
}

// A policy's keyless trust, its documents read; nullopt with `problem` set when it cannot be had.
boost::asio::awaitable<Result<std::optional<signing::KeylessTrust>>> readKeyless(
    SecretReader& secrets, crds::KeylessPolicy spec, std::string policyName, std::string ns,
    std::string& problem) {
  std::vector<signing::CertificateIdentity> identities;
  for (const auto& id : spec.identities) {
    identities.push_back({id.subject.value_or(""), id.subjectRegExp.value_or(""),
                          id.issuer.value_or(""), id.issuerRegExp.value_or("")});
  }
  auto roots = co_await readPems(secrets, spec.roots, ns, problem);
  auto logKeys = co_await readKeys(secrets, spec.transparencyLogKeys, policyName, ns, problem);
  auto authorities = co_await readPems(secrets, spec.timestampAuthorities, ns, problem);
  if (!roots || !logKeys || !authorities) {
    co_return !roots ? roots.error() : !logKeys ? logKeys.error() : authorities.error();
  }
  if (!problem.empty()) {
    co_return std::nullopt;
  }
  auto trust = signing::KeylessTrust::make(std::move(identities), *roots, std::move(*logKeys),
                                           std::move(*authorities));
  if (!trust) {
    problem = fmt::format("keyless.{}", trust.error().fieldMessage());
    co_return std::nullopt;
  }
  co_return std::optional<signing::KeylessTrust>(std::move(*trust));
}

// The first Secret a namespace's policy names in another namespace; nullopt when none. The CRD's
// rule refuses such a policy, but an object stored before the rule was in place is read here, and
// a namespace's policy must never make MC read another namespace's Secrets.
std::optional<std::string> foreignSecret(const crds::VerificationPolicySpec& spec,
                                         const std::string& ns) {
  auto foreign = [&](const std::optional<std::string>& secretNs) {
    return secretNs && *secretNs != ns;
  };
  for (const auto& key : spec.keys) {
    if (foreign(key.secretNamespace)) {
      return fmt::format("{}/{}", *key.secretNamespace, key.secretName.value_or(""));
    }
  }
  if (spec.keyless) {
    for (const auto* sources : {&spec.keyless->roots, &spec.keyless->timestampAuthorities}) {
      for (const auto& source : *sources) {
        if (foreign(source.secretNamespace)) {
          return fmt::format("{}/{}", *source.secretNamespace, source.secretName.value_or(""));
        }
      }
    }
    for (const auto& key : spec.keyless->transparencyLogKeys) {
      if (foreign(key.secretNamespace)) {
        return fmt::format("{}/{}", *key.secretNamespace, key.secretName.value_or(""));
      }
    }
  }
  return std::nullopt;
}

// A policy as the verifier applies it: its keys and keyless trust read from their Secrets (or
// inline) and its waivers parsed. What cannot be read becomes the policy's problem: an Error for
// every image it covers, never a pass.
boost::asio::awaitable<Result<signing::Policy>> resolvePolicy(SecretReader& secrets,
                                                              crds::VerificationPolicySpec spec,
                                                              std::string name, bool cluster,
                                                              std::string ns) {
  signing::Policy policy;
  policy.name = std::move(name);
  policy.cluster = cluster;
  policy.images = spec.images;
  policy.required = spec.required.value_or(true);
  policy.allowNamespaceWaivers = cluster && spec.allowNamespaceWaivers.value_or(false);
  policy.trust.matchRepository = spec.matchRepository.value_or(false);
  policy.trust.attestations = spec.attestations;
  policy.waivers = readWaivers(spec, policy.problem);
  if (auto foreign = cluster ? std::nullopt : foreignSecret(spec, ns)) {
    policy.problem = fmt::format(
        "names Secret {} of another namespace; a namespace's policy reads "
        "only its own Secrets",
        *foreign);
    co_return policy;
  }
  auto keys = co_await readKeys(secrets, spec.keys, policy.name, ns, policy.problem);
  if (!keys) {
    co_return keys.error();
  }
  policy.trust.keys = std::move(*keys);
  if (spec.keyless) {
    auto keyless = co_await readKeyless(secrets, *spec.keyless, policy.name, ns, policy.problem);
    if (!keyless) {
      co_return keyless.error();
    }
    policy.trust.keyless = std::move(*keyless);
  }
  bool signers = !spec.keys.empty() || spec.keyless;
  if (!signers && !cluster && !spec.waivers.empty()) {
    policy.waiversOnly = true;  // the namespace's waivers, for the policies that judge
  } else if (!signers && policy.problem.empty()) {
    policy.problem = "names no key and no keyless signer: nothing could verify a signature";
  }
  co_return policy;
}

// The credentials of the pod template's imagePullSecrets, as the kubelet would use them; Secrets
// missing or unreadable are skipped (the kubelet too pulls without them).
boost::asio::awaitable<Result<std::vector<signing::DockerConfig>>> pullConfigs(
    SecretReader& secrets, const json::object& podTemplate, std::string ns) {
  std::vector<signing::DockerConfig> configs;
  const json::array* refs = arrayAt(objectAt(podTemplate, "spec"), "imagePullSecrets");
  if (refs == nullptr) {
    co_return configs;
  }
  for (const auto& ref : *refs) {
    if (!ref.is_object()) {
      continue;
    }
    std::string problem;
    auto secret = co_await secrets.get(ns, stringAt(ref.as_object(), "name"), problem);
    if (!secret) {
      co_return secret.error();
    }
    if (*secret) {
      if (auto config = signing::readPullSecret(**secret)) {
        configs.push_back(std::move(*config));
      }
    }
  }
  co_return configs;
}

std::optional<signing::RegistryCredentials> credentialsFor(
    const std::vector<signing::DockerConfig>& configs, const std::string& image) {
  auto reference = signing::ImageReference::parse(image);
  if (!reference) {
    return std::nullopt;
  }
  for (const auto& config : configs) {
    if (auto found = config.lookup(reference->registry())) {
      return found;
    }
  }
  return std::nullopt;
}

// (container, image) of the template's init containers and containers.
std::vector<std::pair<std::string, std::string>> containerImages(const json::object& podTemplate) {
  std::vector<std::pair<std::string, std::string>> out;
  const json::object* spec = objectAt(podTemplate, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    if (const json::array* containers = arrayAt(spec, list)) {
      for (const auto& container : *containers) {
        if (container.is_object()) {
          out.emplace_back(stringAt(container.as_object(), "name"),
                           stringAt(container.as_object(), "image"));
        }
      }
    }
  }
  return out;
}

// A verified image at the digest it was verified at ("registry/repo:tag@sha256:..."), nullopt
// when its name does not parse.
std::optional<std::string> pinnedRef(const crds::VerifiedImage& image) {
  auto reference = signing::ImageReference::parse(image.image);
  auto pinned = reference ? reference->withDigest(image.digest) : reference;
  return pinned ? std::optional<std::string>(pinned->str()) : std::nullopt;
}

// (container, image) of a ReplicaSetView's "container=image,..." list.
std::vector<std::pair<std::string, std::string>> imagesOfView(const std::string& list) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < list.size()) {
    size_t end = list.find(',', start);
    std::string entry = list.substr(start, end == std::string::npos ? end : end - start);
    size_t eq = entry.find('=');
    if (eq != std::string::npos) {
      out.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return out;
}

}  // namespace

boost::asio::awaitable<Result<void>> RolloutReconciler::gatherVerification(Pass& pass) {
  auto& context = pass.context;
  const auto& spec = context.rollout.spec;
  const auto& status = context.rollout.status;
  if (checker_ == nullptr) {
    if (spec.verify) {
      context.referenceError =
          FieldError{"spec.verify", "this mc-operator runs without image verification"};
    }
    co_return Result<void>();
  }
  context.reverifyEvery = options_.reverifyEvery;
  co_await gatherRevokedKnownGood(pass);
  const std::string hash =
      crds::podTemplateHash(spec.podTemplate, status.collisionCount.value_or(0));
  const ReplicaSetView* existing = nullptr;
  for (const auto& rs : context.replicaSets) {
    if (rs.podHash == hash) {
      existing = &rs;
    }
  }
  bool onRecord = status.verified && status.verified->podHash == hash;
  bool isStable = status.stablePodHash == hash;
  // Three cases: a template without a ReplicaSet is admitted (or not) before it gets one; one
  // whose ReplicaSet exists from before without a verdict on record (an undo or revert to an old
  // revision) is admitted on what that ReplicaSet runs, before it gets pods or traffic again; the
  // digests of one on record are verified again once a period (reported, never evicted). The
  // stable without a verdict (verification switched on later) is left as it runs: the KnownGood
  // condition says it is unverified.
  std::vector<std::pair<std::string, std::string>> images;
  bool reverifying = false;
  if (existing == nullptr) {
    images = containerImages(spec.podTemplate);
  } else if (!onRecord && !isStable) {
    images = imagesOfView(existing->images);
  } else if (onRecord) {
    auto last = parseTime(status.verified->checkedAt.empty() ? status.verified->at
                                                             : status.verified->checkedAt);
    if (last && context.now < *last + options_.reverifyEvery) {
      co_return Result<void>();
    }
    reverifying = true;
    for (const auto& image : status.verified->images) {
      images.emplace_back(image.container, pinnedRef(image).value_or(image.image));
    }
  } else {
    co_return Result<void>();
  }
  SecretReader secrets(client_);
  auto policies = co_await collectPolicies(pass, secrets);
  if (!policies) {
    co_return policies.error();
  }
  if (policies->empty()) {
    co_return Result<void>();
  }
  auto configs = co_await pullConfigs(secrets, spec.podTemplate, pass.request.ns);
  if (!configs) {
    co_return configs.error();
  }
  std::vector<ContainerVerdict> verdicts;
  for (const auto& [container, image] : images) {
    auto verdict = co_await signing::checkImage(*checker_, image, *policies,
                                                credentialsFor(*configs, image), context.now);
    if (verdict) {
      verdicts.push_back({container, std::move(*verdict)});
    }
  }
  if (existing != nullptr && !reverifying) {
    // An old ReplicaSet runs what its template says: a tag there could be any image now.
    for (auto& [container, verdict] : verdicts) {
      auto reference = signing::ImageReference::parse(verdict.image);
      if (verdict.allowed() && (!reference || !reference->hasDigest())) {
        verdict.outcome = signing::Outcome::Rejected;
        verdict.message = fmt::format(
            "ReplicaSet {} runs {} by tag, not by the digest verified: delete it and MC makes it "
            "again, pinned",
            existing->name, verdict.image);
      }
    }
  }
  if (!verdicts.empty()) {
    (reverifying ? context.reverification : context.verification) = std::move(verdicts);
  }
  co_return Result<void>();
}

// Asked only when the bake run of the template in its window has failed (the rollback is this
// reconcile's), so the window costs no registry or Secret reads of its own. The known-goods left
// are asked in the rollback's order, down to the first the policies do not refuse: that one is
// the target. A known-good without a verdict (the registry down) is not passed over, and a
// policy or Secret that cannot be read passes over nothing: a rollback never waits for them.
boost::asio::awaitable<void> RolloutReconciler::gatherRevokedKnownGood(Pass& pass) {
  auto& context = pass.context;
  const auto& status = context.rollout.status;
  if (!status.bake || (!status.lastKnownGood && status.knownGoodHistory.empty())) {
    co_return;
  }
  const std::string bakeRun = fmt::format("{}-{}-bake", context.name, status.attempt.value_or(0));
  bool breached = std::any_of(
      context.analysisRuns.begin(), context.analysisRuns.end(), [&](const AnalysisRunView& run) {
        return run.name == bakeRun && (run.phase == "Failed" || run.phase == "Error");
      });
  if (!breached) {
    co_return;
  }
  SecretReader secrets(client_);
  auto policies = co_await collectPolicies(pass, secrets);
  if (!policies || policies->empty()) {
    if (!policies) {
      pass.request.log.warn("rolling back without checking the known-goods again: {}",
                            policies.error().describe());
    }
    co_return;
  }
  auto configs = co_await pullConfigs(secrets, context.rollout.spec.podTemplate, pass.request.ns);
  std::vector<signing::DockerConfig> credentials =
      configs ? std::move(*configs) : std::vector<signing::DockerConfig>{};
  std::vector<const crds::KnownGood*> knownGoods;
  if (status.lastKnownGood) {
    knownGoods.push_back(&*status.lastKnownGood);
  }
  for (const auto& good : status.knownGoodHistory) {
    knownGoods.push_back(&good);
  }
  for (const auto* good : knownGoods) {
    bool left = std::any_of(context.replicaSets.begin(), context.replicaSets.end(),
                            [&](const ReplicaSetView& rs) { return rs.podHash == good->podHash; });
    if (!left) {
      continue;
    }
    std::string refused;
    for (const auto& image : good->images) {
      auto ref = pinnedRef(image);
      if (!ref) {
        continue;
      }
      auto verdict = co_await signing::checkImage(*checker_, *ref, *policies,
                                                  credentialsFor(credentials, *ref), context.now);
      if (verdict && !verdict->allowed() && verdict->outcome != signing::Outcome::Error) {
        refused = verdict->message;
        break;
      }
    }
    if (refused.empty()) {
      break;  // the rollback's target
    }
    context.revokedKnownGood[good->podHash] = std::move(refused);
  }
}

boost::asio::awaitable<Result<std::vector<signing::Policy>>> RolloutReconciler::collectPolicies(
    Pass& pass, SecretReader& secrets) {
  auto& context = pass.context;
  const auto& spec = context.rollout.spec;
  std::vector<signing::Policy> policies;
  std::optional<std::string> referenced;  // the cluster policy spec.verify names, if it does
  if (spec.verify && spec.verify->policyRef) {
    const auto& ref = *spec.verify->policyRef;
    bool cluster = ref.kind == crds::kClusterVerificationPolicyKind;
    kube::ObjectPtr found = cluster ? clusterPolicies_->get(ref.name)
                                    : policies_->get(pass.request.ns + "/" + ref.name);
    if (!found) {
      context.referenceError = FieldError{"spec.verify.policyRef",
                                          fmt::format("{} \"{}\" not found", ref.kind, ref.name)};
      co_return std::vector<signing::Policy>{};
    }
    auto read = crds::readVerificationPolicy(*found);
    if (!read) {
      context.referenceError =
          FieldError{"spec.verify.policyRef",
                     fmt::format("{} \"{}\": {}", ref.kind, ref.name, read.error().fieldMessage())};
      co_return std::vector<signing::Policy>{};
    }
    std::string name = cluster ? fmt::format("{}/{}", ref.kind, ref.name)
                               : fmt::format("{}/{}/{}", ref.kind, pass.request.ns, ref.name);
    auto policy = co_await resolvePolicy(secrets, std::move(*read), std::move(name), cluster,
                                         pass.request.ns);
    if (!policy) {
      co_return policy.error();
    }
    if (cluster) {
      referenced = ref.name;
    }
    policies.push_back(std::move(*policy));
  } else if (spec.verify) {
    auto policy = co_await resolvePolicy(secrets, spec.verify->inlinePolicy, "spec.verify", false,
                                         pass.request.ns);
    if (!policy) {
      co_return policy.error();
    }
    policies.push_back(std::move(*policy));
  }
  // Cluster policies cover what their patterns match, named or not; one without patterns only
  // the Rollouts that name it.
  for (const auto& object : clusterPolicies_->list()) {
    std::string name = kube::nameOf(*object);
    auto read = crds::readVerificationPolicy(*object);
    if (!read) {
      // What it covers cannot be known: it covers everything, and passes nothing.
      signing::Policy unreadable;
      unreadable.name = fmt::format("{}/{}", crds::kClusterVerificationPolicyKind, name);
      unreadable.cluster = true;
      unreadable.problem = "cannot be read: " + read.error().fieldMessage();
      policies.push_back(std::move(unreadable));
      continue;
    }
    if (referenced == name || read->images.empty()) {
      continue;
    }
    auto policy = co_await resolvePolicy(
        secrets, std::move(*read), fmt::format("{}/{}", crds::kClusterVerificationPolicyKind, name),
        true, pass.request.ns);
    if (!policy) {
      co_return policy.error();
    }
    policies.push_back(std::move(*policy));
  }
  co_return policies;
}

}  // namespace mc::reconcilers
