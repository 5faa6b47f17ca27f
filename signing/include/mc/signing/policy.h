#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "mc/common/error.h"
#include "mc/signing/docker_config.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/manifest.h"
#include "mc/signing/registry_client.h"
#include "mc/signing/verifier.h"
#include "mc/signing/verify.h"

// Verification policies as MC applies them to one image: which policies cover it, whether each
// is satisfied by a signature or a waiver, and the verdict the Rollout (and later PreSyncVerify
// and admission) acts on. docs/signing.md states the rules; decideImage() is them, pure.
namespace mc::signing {

using WallTime = std::chrono::system_clock::time_point;

// A policy with its keys read and its waivers' times parsed.
struct Policy {
  // For messages: "ClusterVerificationPolicy/prod", "VerificationPolicy/team/strict",
  // "spec.verify".
  std::string name;
  bool cluster = false;
  std::vector<std::string> images;  // patterns (imageMatches); empty: every image
  TrustPolicy trust;
  bool required = true;
  bool allowNamespaceWaivers = false;  // cluster policies only
  std::vector<Waiver> waivers;
  // A namespace's policy with waivers and no keys: it judges no image, it only offers its
  // waivers to the policies that do (a cluster policy only if it allows namespace waivers).
  bool waiversOnly = false;
  // Why the policy cannot be applied (a key Secret missing or unreadable): every image it covers
  // is an Error, never a pass.
  std::string problem;

  bool covers(const ImageReference& image) const;
};

// Worst last: a verdict of several policies is the worst of theirs.
enum class Outcome {
  Verified,       // a trusted key signed this digest
  Waived,         // refused, but excused by a valid waiver
  Unverified,     // refused by a policy that does not require signatures: allowed, reported
  Error,          // no verdict (registry unreachable, a policy's key unreadable): not allowed
  Rejected,       // unsigned, wrongly signed, or signed for another digest
  WaiverExpired,  // refused, and its only waiver has expired
};

std::string_view toString(Outcome outcome);

struct ImageVerdict {
  std::string image;   // as the pod template names it
  std::string digest;  // "sha256:..." it resolved to ("" when it could not be resolved)
  std::string pinned;  // ImageReference::name() + "@" + digest ("" without a digest)
  Outcome outcome = Outcome::Error;
  // What vouched for it, one entry per covering policy: "spec.verify: key sha256:…" or
  // "ClusterVerificationPolicy/prod: waiver of alice until 2026-12-31T00:00:00Z".
  std::string verifiedBy;
  std::optional<Waiver> waiver;  // the waiver applied, or the one that expired
  std::string message;           // why, in one line, for a condition and an Event

  bool allowed() const { return outcome <= Outcome::Unverified; }
};

// The verdict on `image`, resolved to `digest`, from each covering policy's DigestVerdict (or
// the Error reaching it), at `now`. `covering` and `verdicts` are parallel, and at least one
// covering policy judges (is not waiversOnly; their verdicts are not read).
ImageVerdict decideImage(const ImageReference& image, const std::string& digest,
                         const std::vector<const Policy*>& covering,
                         const std::vector<Result<DigestVerdict>>& verdicts, WallTime now);

// The registry behind a check, as an interface so the reconcilers' tests use a fake.
// Parameters are values (coroutines); called on the io executor.
class ImageChecker {
 public:
  virtual ~ImageChecker() = default;
  // The digest `image`'s tag names now (the index's own digest for a multi-platform image).
  virtual boost::asio::awaitable<Result<std::string>> resolve(
      ImageReference image, std::optional<RegistryCredentials> credentials) = 0;
  virtual boost::asio::awaitable<Result<DigestVerdict>> verify(
      ImageReference pinned, TrustPolicy trust, std::optional<RegistryCredentials> credentials) = 0;
};

// The real one: tags resolved by the registry client, signatures checked by the Verifier (its
// pool and cache). Both must outlive it.
class RegistryImageChecker final : public ImageChecker {
 public:
  RegistryImageChecker(RegistryClient& registry, Verifier& verifier,
                       Platform platform = {"linux", "amd64", ""});
  boost::asio::awaitable<Result<std::string>> resolve(
      ImageReference image, std::optional<RegistryCredentials> credentials) override;
  boost::asio::awaitable<Result<DigestVerdict>> verify(
      ImageReference pinned, TrustPolicy trust,
      std::optional<RegistryCredentials> credentials) override;

 private:
  RegistryClient& registry_;
  Verifier& verifier_;
  Platform platform_;
};

// The verdict on `image` under the policies that cover it; nullopt when none judges it. An image
// that names a digest is checked at that digest; a tag is resolved first (an Error if it cannot
// be). Each covering policy is checked once. An image reference Docker would refuse is Rejected
// whatever the policies say: nothing could vouch for it. The verdict's `image` is `image` as
// given (the pod template's spelling).
boost::asio::awaitable<std::optional<ImageVerdict>> checkImage(
    ImageChecker& checker, std::string image, std::vector<Policy> policies,
    std::optional<RegistryCredentials> credentials, WallTime now);

}  // namespace mc::signing
