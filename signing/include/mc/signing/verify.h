#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/signing/certificate.h"
#include "mc/signing/cosign.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/public_key.h"

// The verdict on one digest from what the registry holds for it, as `cosign verify --key` reaches
// it, and the policy pieces around it (which images a rule covers, waivers). Pure: the registry
// client fetches, these decide, so every rule is table-tested without a registry.
namespace mc::signing {

// What came with one signature to say who made it, beyond the signature itself: a keyless
// signer's certificate and chain, and the proofs of when it signed. Raw as fetched; only a policy
// that trusts keyless signers reads it.
struct SignerMaterial {
  std::string certificatePem;                   // v2: the layer's certificate annotation
  std::string chainPem;                         // v2: its chain annotation
  std::vector<std::string> certificatesDer;     // a bundle's, the signing certificate first
  std::vector<boost::json::value> tlogEntries;  // a bundle's transparency-log entries
  std::string cosignBundle;                     // v2: the layer's Rekor bundle annotation
  std::vector<std::string> rfc3161Timestamps;   // DER
  std::string rfc3161Annotation;                // v2: the layer's RFC 3161 annotation (JSON)

  bool hasCertificate() const { return !certificatePem.empty() || !certificatesDer.empty(); }
  // What a v2 layer's annotations carry.
  static SignerMaterial of(const SignatureLayer& layer);
};

// One v2 signature as fetched: its layer and the payload blob's bytes, which the fetcher has
// checked against the layer's digest.
struct FetchedSignature {
  SignatureLayer layer;
  std::string payload;
};

// One v2 attestation: a layer of the digest's `.att` manifest and its DSSE envelope's bytes.
struct FetchedAttestation {
  size_t index = 0;      // its place among the manifest's layers, for messages
  std::string envelope;  // JSON, checked against the layer's digest
  SignerMaterial material;
};

// One v3 bundle: a referrer of the digest, and the bundle's bytes.
struct FetchedBundle {
  std::string manifestDigest;  // the referrer manifest's, for messages
  std::string bundle;          // JSON, checked against its layer's digest
};

// Everything the registry holds that may vouch for a digest, in both of cosign's formats.
struct SignedArtifacts {
  std::vector<FetchedSignature> signatures;      // v2 `.sig`
  std::vector<FetchedAttestation> attestations;  // v2 `.att`
  std::vector<FetchedBundle> bundles;            // v3 referrers (signatures and attestations)
};

// Keyless signers a policy trusts: a certificate for one of `identities` that chains to one of
// `roots` (each a trust anchor: a CA's root, or an intermediate a policy pins; the signature's own
// chain only helps build the path) and was valid when it signed. That time comes from a
// transparency-log entry signed by one of `transparencyLogKeys` or an RFC 3161 timestamp by one
// of `timestampAuthorities` (PEM chains, one per authority); without either, the certificate
// must be valid at the check.
struct KeylessTrust {
  std::vector<CertificateIdentity> identities;
  std::vector<Certificate> roots;
  std::vector<PublicKey> transparencyLogKeys;
  std::vector<std::string> timestampAuthorities;

  // Trust from a policy's documents: `authorities` are PEM bundles whose certificates all become
  // roots. Invalid, naming the field, when an identity has a bad regular expression or lacks a
  // rule, a document holds no certificate or a malformed one, or there is no root at all.
  static Result<KeylessTrust> make(std::vector<CertificateIdentity> identities,
                                   const std::vector<std::string>& authorities,
                                   std::vector<PublicKey> transparencyLogKeys,
                                   std::vector<std::string> timestampAuthorities);
};

// Who a policy trusts to sign, and what it asks of what they signed.
struct TrustPolicy {
  std::vector<PublicKey> keys;
  std::optional<KeylessTrust> keyless;
  // cosign does not check the payload's docker-reference (a signature follows its digest across
  // repositories); a policy that wants it checked says so, and then a mismatch refuses.
  bool matchRepository = false;
  // In-toto predicate types ("https://slsa.dev/provenance/v1") of which the digest must also
  // carry a verified attestation, signed by a signer the policy trusts.
  std::vector<std::string> attestations;

  // What the verdict depends on, for the cache: the keys' fingerprints (in any order), the
  // keyless identities, roots and proofs of time, the flag and the predicate types. Key names are
  // left out: renaming a Secret changes no verdict.
  std::string cacheKey() const;
};

struct VerifyOptions {
  // The image's name as pulled (ImageReference::name(), "docker.io/library/nginx").
  std::string repository;
  // When the check happens: a keyless certificate is judged at this time unless a trusted
  // signing time says otherwise.
  std::chrono::system_clock::time_point now;
};

// A required attestation's verdict.
struct AttestationVerdict {
  std::string predicateType;
  bool verified = false;
  std::string verifiedBy;
  std::vector<std::string> refusals;  // why each candidate failed; empty: none was found
};

// Verified when one signature verifies by a signer the policy trusts over a payload that names
// this digest (and, with matchRepository, this repository): one good signature among bad ones is
// enough, as in cosign, in either format. And then each required attestation too. Otherwise
// `refusals` (and the attestation's) hold why each candidate failed.
struct DigestVerdict {
  bool verified = false;
  std::string verifiedBy;       // the signer that verified it (PublicKey::describe(), say)
  std::string dockerReference;  // what the verified payload names, normalised; reported
  std::vector<std::string> refusals;
  std::vector<AttestationVerdict> attestations;
  // When a verified verdict stops holding: the earliest expiry of a keyless certificate that
  // vouched only because it is valid now (no trusted signing time). nullopt: no such limit.
  std::optional<std::chrono::system_clock::time_point> validUntil;
  // Predicate types of statements found that are neither signatures nor asked for (claimed, not
  // verified): only to tell "no signature" from "only attestations" in messages.
  std::vector<std::string> unaskedStatements;

  // One line for a condition or Event: "verified by key ... " or "no signature of sha256:...
  // verifies: signature 1: ...; signature 2: ..." or "... but no attestation of type ...".
  std::string describe(std::string_view digest) const;
};

DigestVerdict verifyArtifacts(std::string_view digest, const SignedArtifacts& artifacts,
                              const TrustPolicy& policy, const VerifyOptions& options);

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
