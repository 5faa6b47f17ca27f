#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/signing/cosign.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/public_key.h"

// The verdict on one digest from what the registry holds for it, as `cosign verify --key` reaches
// it, and the policy pieces around it (which images a rule covers, waivers). Pure: the registry
// client fetches, these decide, so every rule is table-tested without a registry.
namespace mc::signing {

// One signature as fetched: its layer and the payload blob's bytes, which the fetcher has
// checked against the layer's digest.
struct FetchedSignature {
  SignatureLayer layer;
  std::string payload;
};

struct VerifyOptions {
  // The image's name as pulled (ImageReference::name(), "docker.io/library/nginx").
  std::string repository;
  // cosign does not check the payload's docker-reference (a signature follows its digest across
  // repositories); a policy that wants it checked says so, and then a mismatch refuses.
  bool matchRepository = false;
};

// Verified when one signature verifies with one trusted key over a payload that names this
// digest (and, with matchRepository, this repository): one good signature among bad ones is
// enough, as in cosign. Otherwise `refusals` holds why each signature failed.
struct DigestVerdict {
  bool verified = false;
  std::string verifiedBy;       // the key that verified it, PublicKey::describe()
  std::string dockerReference;  // what the verified payload names, normalised; reported
  std::vector<std::string> refusals;

  // One line for a condition or Event: "verified by key ... " or "no signature of sha256:...
  // verifies: signature 1: ...; signature 2: ...".
  std::string describe(std::string_view digest) const;
};

DigestVerdict verifySignatures(std::string_view digest,
                               const std::vector<FetchedSignature>& signatures,
                               const std::vector<PublicKey>& keys, const VerifyOptions& options);

// Whether a policy's image pattern covers `image`. Patterns are written as ImageReference::name()
// writes images ("docker.io/library/nginx", "ghcr.io/acme/*"), with no normalisation of the
// pattern, so what a rule covers is what it says: `*` stands for any run of characters within
// one path component, `**` for any run across components ("ghcr.io/acme/**").
bool imageMatches(std::string_view pattern, const ImageReference& image);

// A person's exception for one digest, until it expires.
struct Waiver {
  std::string digest;
  std::string owner;
  std::string reason;
  std::chrono::system_clock::time_point expires;
};

enum class WaiverState { None, Valid, Expired };

struct WaiverMatch {
  WaiverState state = WaiverState::None;
  std::optional<Waiver> waiver;  // the one that decided: the valid one, or the expired one
};

// The waiver for `digest` at `now`: a valid one (expiring after now; the latest if several) wins
// over any expired one; only expired ones → Expired, naming the latest to expire, so the Event
// can say whose waiver lapsed and when.
WaiverMatch findWaiver(std::string_view digest, const std::vector<Waiver>& waivers,
                       std::chrono::system_clock::time_point now);

}  // namespace mc::signing
