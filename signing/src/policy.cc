#include "mc/signing/policy.h"

#include <fmt/format.h>

#include <algorithm>

#include "mc/common/timefmt.h"

namespace mc::signing {
namespace {

// Waivers a policy accepts: its own, and the namespace's (those of the non-cluster policies
// covering the image) unless it is a cluster policy that does not allow them.
std::vector<Waiver> acceptedWaivers(const Policy& policy,
                                    const std::vector<const Policy*>& covering) {
  std::vector<Waiver> waivers = policy.waivers;
  if (policy.cluster && !policy.allowNamespaceWaivers) {
    return waivers;
  }
  for (const Policy* other : covering) {
    if (other != &policy && !other->cluster) {
      waivers.insert(waivers.end(), other->waivers.begin(), other->waivers.end());
    }
  }
  return waivers;
}

bool namespaceWaives(const std::string& digest, const std::vector<const Policy*>& covering,
                     WallTime now) {
  for (const Policy* policy : covering) {
    if (!policy->cluster && findWaiver(digest, policy->waivers, now).state == WaiverState::Valid) {
      return true;
    }
  }
  return false;
}

std::string describeWaiver(const Waiver& waiver) {
  return fmt::format("waiver of {} until {} ({})", waiver.owner, formatTime(waiver.expires),
                     waiver.reason);
}

// One covering policy's verdict.
struct PolicyVerdict {
  Outcome outcome;
  std::string note;  // what vouched (allowed) or why not
  std::optional<Waiver> waiver;
};

PolicyVerdict judge(const Policy& policy, const std::string& digest,
                    const Result<DigestVerdict>& checked,
                    const std::vector<const Policy*>& covering, WallTime now) {
  if (!policy.problem.empty()) {
    return {Outcome::Error, policy.problem, std::nullopt};
  }
  if (!checked) {
    return {Outcome::Error, fmt::format("cannot check signatures: {}", checked.error().describe()),
            std::nullopt};
  }
  if (checked->verified) {
    return {Outcome::Verified, checked->verifiedBy, std::nullopt};
  }
  std::string refused = checked->describe(digest);
  auto match = findWaiver(digest, acceptedWaivers(policy, covering), now);
  if (match.state == WaiverState::Valid) {
    return {Outcome::Waived, describeWaiver(*match.waiver), match.waiver};
  }
  if (!policy.required) {
    return {Outcome::Unverified, "signatures not required: " + refused, match.waiver};
  }
  if (match.state == WaiverState::Expired) {
    return {Outcome::WaiverExpired,
            fmt::format("{}; the waiver of {} for {} expired at {}", refused, match.waiver->owner,
                        digest, formatTime(match.waiver->expires)),
            match.waiver};
  }
  if (policy.cluster && namespaceWaives(digest, covering, now)) {
    refused +=
        "; the namespace's waiver does not apply: the policy does not allow namespace "
        "waivers";
  }
  return {Outcome::Rejected, refused, std::nullopt};
}

}  // namespace

std::string_view toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::Verified:
      return "Verified";
    case Outcome::Waived:
      return "Waived";
    case Outcome::Unverified:
      return "Unverified";
    case Outcome::Error:
      return "Error";
    case Outcome::Rejected:
      return "Rejected";
    case Outcome::WaiverExpired:
      return "WaiverExpired";
  }
  return "Error";
}

bool Policy::covers(const ImageReference& image) const {
  return images.empty() || std::any_of(images.begin(), images.end(), [&](const auto& pattern) {
           return imageMatches(pattern, image);
         });
}

ImageVerdict decideImage(const ImageReference& image, const std::string& digest,
                         const std::vector<const Policy*>& covering,
                         const std::vector<Result<DigestVerdict>>& verdicts, WallTime now) {
  ImageVerdict out;
  out.image = image.str();
  out.digest = digest;
  out.pinned = image.name() + "@" + digest;
  out.outcome = Outcome::Verified;
  std::vector<std::string> vouched;
  std::vector<std::string> worst;
  for (size_t i = 0; i < covering.size(); ++i) {
    if (covering[i]->waiversOnly) {
      continue;  // it judges nothing: its waivers are offered to the others (acceptedWaivers)
    }
    auto verdict = judge(*covering[i], digest, verdicts[i], covering, now);
    std::string line = fmt::format("{}: {}", covering[i]->name, verdict.note);
    if (verdict.outcome > out.outcome) {
      out.outcome = verdict.outcome;
      worst.clear();
      out.waiver.reset();
    }
    if (verdict.outcome == out.outcome) {
      worst.push_back(line);
      if (verdict.waiver &&
          (out.outcome == Outcome::Waived || out.outcome == Outcome::WaiverExpired)) {
        out.waiver = verdict.waiver;  // the one applied, or the one that expired
      }
    }
    if (verdict.outcome <= Outcome::Unverified) {
      vouched.push_back(line);
    }
  }
  out.verifiedBy = fmt::format("{}", fmt::join(vouched, "; "));
  out.message = fmt::format("{}: {}", out.pinned, fmt::join(worst, "; "));
  return out;
}

RegistryImageChecker::RegistryImageChecker(RegistryClient& registry, Verifier& verifier,
                                           Platform platform)
    : registry_(registry), verifier_(verifier), platform_(std::move(platform)) {}

boost::asio::awaitable<Result<std::string>> RegistryImageChecker::resolve(
    ImageReference image, std::optional<RegistryCredentials> credentials) {
  Platform platform = platform_;
  auto resolved = co_await resolveDigest(registry_, std::move(image), std::move(platform),
                                         std::move(credentials));
  if (!resolved) {
    co_return resolved.error();
  }
  co_return resolved->digest;
}

boost::asio::awaitable<Result<DigestVerdict>> RegistryImageChecker::verify(
    ImageReference pinned, TrustPolicy trust, std::optional<RegistryCredentials> credentials) {
  co_return co_await verifier_.verify(std::move(pinned), std::move(trust), std::move(credentials));
}

boost::asio::awaitable<std::optional<ImageVerdict>> checkImage(
    ImageChecker& checker, std::string image, std::vector<Policy> policies,
    std::optional<RegistryCredentials> credentials, WallTime now) {
  auto reference = ImageReference::parse(image);
  if (!reference) {
    // An image Docker would refuse: no policy can vouch for it.
    ImageVerdict refused;
    refused.image = image;
    refused.outcome = Outcome::Rejected;
    refused.message =
        fmt::format("{}: not an image reference: {}", image, reference.error().message);
    co_return refused;
  }
  std::vector<const Policy*> covering;
  bool judged = false;
  for (const auto& policy : policies) {
    if (policy.covers(*reference)) {
      covering.push_back(&policy);
      judged = judged || !policy.waiversOnly;
    }
  }
  if (!judged) {
    co_return std::nullopt;
  }
  std::string digest = reference->digest();
  if (digest.empty()) {
    auto resolved = co_await checker.resolve(*reference, credentials);
    if (!resolved) {
      ImageVerdict failed;
      failed.image = image;
      failed.outcome = Outcome::Error;
      failed.message = fmt::format("cannot resolve {} to a digest: {}", reference->str(),
                                   resolved.error().describe());
      co_return failed;
    }
    digest = *resolved;
  }
  auto pinned = reference->withDigest(digest);
  if (!pinned) {
    ImageVerdict failed;
    failed.image = image;
    failed.outcome = Outcome::Error;
    failed.message = fmt::format("{}: the registry answered digest {}: {}", reference->str(),
                                 digest, pinned.error().message);
    co_return failed;
  }
  std::vector<Result<DigestVerdict>> verdicts;
  for (const Policy* policy : covering) {
    if (!policy->problem.empty() || policy->waiversOnly) {
      verdicts.emplace_back(DigestVerdict{});  // not asked: the problem decides, or nothing
      continue;
    }
    auto verdict = co_await checker.verify(*pinned, policy->trust, credentials);
    verdicts.push_back(std::move(verdict));
  }
  auto verdict = decideImage(*reference, digest, covering, verdicts, now);
  verdict.image = image;
  co_return verdict;
}

}  // namespace mc::signing
