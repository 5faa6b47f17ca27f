#include "mc/signing/verify.h"

#include <fmt/format.h>

#include <algorithm>

#include "mc/common/text.h"

namespace mc::signing {
namespace {

// Why the signature in `fetched` does not vouch for `digest`, or nullopt when it does (and then
// `verdict` says by which key).
std::optional<std::string> check(std::string_view digest, const FetchedSignature& fetched,
                                 const std::vector<PublicKey>& keys, const VerifyOptions& options,
                                 DigestVerdict& verdict) {
  std::vector<std::string> keyReasons;
  const PublicKey* verifiedBy = nullptr;
  for (const auto& key : keys) {
    auto checked = key.verify(fetched.payload, fetched.layer.signature);
    if (checked) {
      verifiedBy = &key;
      break;
    }
    keyReasons.push_back(checked.reason);
  }
  if (verifiedBy == nullptr) {
    return keys.empty() ? std::string("no trusted key to check it with")
                        : fmt::format("{}", fmt::join(keyReasons, "; "));
  }
  // Only a verified payload is worth reading: before that its bytes say nothing.
  auto payload = parseSimpleSigningPayload(fetched.payload);
  if (!payload) {
    return fmt::format("its payload is not a cosign signature: {}", payload.error().fieldMessage());
  }
  if (auto named = checkPayloadDigest(*payload, digest); !named) {
    return named.error().message;
  }
  auto reference = ImageReference::parse(payload->dockerReference);
  std::string signedName = reference ? reference->name() : payload->dockerReference;
  if (options.matchRepository && signedName != options.repository) {
    return fmt::format("it was signed for {}, not {} (the policy asks for matchRepository)",
                       signedName.empty() ? "no repository" : signedName, options.repository);
  }
  verdict.verifiedBy = verifiedBy->describe();
  verdict.dockerReference = signedName;
  return std::nullopt;
}

// Glob matching of `text` against `pattern` from the given positions: '*' stays within a path
// component, "**" crosses them.
bool globMatches(std::string_view pattern, std::string_view text) {
  if (pattern.empty()) {
    return text.empty();
  }
  if (pattern.substr(0, 2) == "**") {
    auto rest = pattern.substr(2);
    for (size_t skip = 0; skip <= text.size(); ++skip) {
      if (globMatches(rest, text.substr(skip))) {
        return true;
      }
    }
    return false;
  }
  if (pattern.front() == '*') {
    auto rest = pattern.substr(1);
    for (size_t skip = 0; skip <= text.size(); ++skip) {
      if (globMatches(rest, text.substr(skip))) {
        return true;
      }
      if (skip < text.size() && text[skip] == '/') {
        return false;
      }
    }
    return false;
  }
  return !text.empty() && pattern.front() == text.front() &&
         globMatches(pattern.substr(1), text.substr(1));
}

}  // namespace

std::string DigestVerdict::describe(std::string_view digest) const {
  if (verified) {
    return fmt::format("{} verified by {}", digest, verifiedBy);
  }
  if (refusals.empty()) {
    return fmt::format("{} has no signature", digest);
  }
  return fmt::format("no signature of {} verifies: {}", digest, fmt::join(refusals, "; "));
}

DigestVerdict verifySignatures(std::string_view digest,
                               const std::vector<FetchedSignature>& signatures,
                               const std::vector<PublicKey>& keys, const VerifyOptions& options) {
  DigestVerdict verdict;
  for (const auto& fetched : signatures) {
    auto refused = check(digest, fetched, keys, options, verdict);
    if (!refused) {
      verdict.verified = true;
      verdict.refusals.clear();
      return verdict;
    }
    verdict.refusals.push_back(
        fmt::format("signature {}: {}", fetched.layer.index + 1, std::move(*refused)));
  }
  return verdict;
}

// Without regard to case: repositories are lower case by rule, so this is the registry's case,
// which names the same host however written (a pattern "MyHost/**" covers "MYHOST/app").
bool imageMatches(std::string_view pattern, const ImageReference& image) {
  return globMatches(asciiLower(pattern), asciiLower(image.name()));
}

WaiverMatch findWaiver(std::string_view digest, const std::vector<Waiver>& waivers,
                       std::chrono::system_clock::time_point now) {
  WaiverMatch match;
  for (const auto& waiver : waivers) {
    if (waiver.digest != digest) {
      continue;
    }
    auto state = waiver.expires > now ? WaiverState::Valid : WaiverState::Expired;
    bool better = state == WaiverState::Valid && match.state != WaiverState::Valid;
    bool later = state == match.state && waiver.expires > match.waiver->expires;
    if (match.state == WaiverState::None || better || later) {
      match = {state, waiver};
    }
  }
  return match;
}

}  // namespace mc::signing
