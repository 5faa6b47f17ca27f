#include "mc/signing/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "mc/common/text.h"
#include "mc/common/timefmt.h"
#include "mc/runtime/secret.h"
#include "mc/signing/bundle.h"
#include "mc/signing/digest.h"
#include "mc/signing/dsse.h"
#include "mc/signing/signing_time.h"

namespace mc::signing {
namespace {

// A time the policy trusts for when `signature` was made, and what proved it.
struct SigningTime {
  std::chrono::system_clock::time_point at;
  std::string provedBy;
};

// The transparency-log entries that came with a signature: a bundle's, or v2's annotation.
std::vector<Result<TlogEntry>> tlogEntries(const SignerMaterial& material) {
  std::vector<Result<TlogEntry>> entries;
  for (size_t i = 0; i < material.tlogEntries.size(); ++i) {
    entries.push_back(parseBundleTlogEntry(material.tlogEntries[i],
                                           fmt::format("verificationMaterial.tlogEntries[{}]", i)));
  }
  if (!material.cosignBundle.empty()) {
    entries.push_back(parseCosignBundleAnnotation(material.cosignBundle));
  }
  return entries;
}

// The RFC 3161 timestamps that came with a signature (DER): a bundle's, or v2's annotation
// ({"SignedRFC3161Timestamp": base64}).
std::vector<std::string> rfc3161Timestamps(const SignerMaterial& material) {
  std::vector<std::string> out = material.rfc3161Timestamps;
  if (!material.rfc3161Annotation.empty()) {
    boost::system::error_code ec;
    auto json = boost::json::parse(material.rfc3161Annotation, ec);
    if (!ec && json.is_object()) {
      if (const auto* value = json.as_object().if_contains("SignedRFC3161Timestamp");
          value != nullptr && value->is_string()) {
        if (auto der = decodeBase64Lenient(value->get_string())) {
          out.push_back(std::move(*der));
        }
      }
    }
  }
  return out;
}

// When `leaf` made `signature` over `coveredPayload`, as a proof the policy trusts says; nullopt
// and why not (in `notes`) when none does.
std::optional<SigningTime> trustedSigningTime(
    const KeylessTrust& trust, const SignerMaterial& material, std::string_view signature,
    std::string_view coveredPayload, const Certificate& leaf, std::vector<std::string>& notes) {
  for (auto& entry : tlogEntries(material)) {
    if (!entry) {
      notes.push_back(fmt::format("a log entry cannot be read: {}", entry.error().fieldMessage()));
      continue;
    }
    auto verified = verifyTlogEntry(*entry, trust.transparencyLogKeys);
    if (!verified) {
      notes.push_back(fmt::format("log entry {}: {}", entry->logIndex, verified.error().message));
      continue;
    }
    if (!verified->integratedTime) {
      notes.push_back(
          fmt::format("log entry {} has no signed entry timestamp (an inclusion "
                      "proof alone dates nothing)",
                      entry->logIndex));
      continue;
    }
    auto named = entryCoversSignature(*entry, signature, coveredPayload);
    if (!named) {
      notes.push_back(fmt::format("log entry {}: {}", entry->logIndex, named.error().message));
      continue;
    }
    auto recorded = Certificate::fromPem(*named);
    if (!recorded || recorded->fingerprint() != leaf.fingerprint()) {
      notes.push_back(fmt::format("log entry {} records another certificate than the signature's",
                                  entry->logIndex));
      continue;
    }
    return SigningTime{*verified->integratedTime, fmt::format("transparency-log entry {} ({})",
                                                              entry->logIndex, verified->logKey)};
  }
  for (const auto& timestamp : rfc3161Timestamps(material)) {
    for (const auto& authority : trust.timestampAuthorities) {
      auto at = verifyRfc3161Timestamp(timestamp, signature, authority);
      if (at) {
        return SigningTime{*at, "an RFC 3161 timestamp"};
      }
      notes.push_back(fmt::format("RFC 3161 timestamp: {}", at.error().message));
    }
  }
  return std::nullopt;
}

// The signature's certificates, its signing certificate first: a bundle's (DER), or v2's
// certificate and chain annotations (PEM).
Result<std::vector<Certificate>> signerCertificates(const SignerMaterial& material) {
  std::vector<Certificate> out;
  for (const auto& der : material.certificatesDer) {
    auto certificate = Certificate::fromDer(der);
    if (!certificate) {
      return certificate.error();
    }
    out.push_back(std::move(*certificate));
  }
  if (!material.certificatePem.empty()) {
    auto certificate = Certificate::fromPem(material.certificatePem);
    if (!certificate) {
      return certificate.error();
    }
    out.push_back(std::move(*certificate));
    if (!material.chainPem.empty()) {
      auto chain = Certificate::allFromPem(material.chainPem);
      if (!chain) {
        return chain.error();
      }
      out.insert(out.end(), chain->begin(), chain->end());
    }
  }
  return out;
}

// Who made a signature the policy trusts, and until when that holds: a keyless certificate
// trusted only because it is valid now (no trusted signing time) stops vouching when it expires.
struct Signer {
  std::string who;
  std::optional<std::chrono::system_clock::time_point> until;
};

// A keyless signer: the certificate that came with the signature, whose key made it, which chains
// to the policy's roots at the signing time, for one of the policy's identities.
Result<Signer> keylessSigner(const KeylessTrust& trust, std::string_view signedBytes,
                             std::string_view signature, std::string_view coveredPayload,
                             const SignerMaterial& material, const VerifyOptions& options) {
  auto certificates = signerCertificates(material);
  if (!certificates) {
    return makeError(ErrorKind::Terminal, fmt::format("its certificate cannot be read: {}",
                                                      certificates.error().message));
  }
  if (certificates->empty()) {
    return makeError(ErrorKind::Terminal, "it carries no certificate for a keyless signer");
  }
  const Certificate& leaf = certificates->front();
  auto key = leaf.publicKey();
  if (!key) {
    return makeError(ErrorKind::Terminal,
                     fmt::format("{}: {}", leaf.describe(), key.error().message));
  }
  if (auto made = key->verifyBytes(signedBytes, signature); !made) {
    return makeError(ErrorKind::Terminal,
                     fmt::format("{} did not make it: {}", leaf.describe(), made.reason));
  }
  std::vector<std::string> notes;
  auto signedAt = trustedSigningTime(trust, material, signature, coveredPayload, leaf, notes);
  std::vector<Certificate> intermediates(certificates->begin() + 1, certificates->end());
  auto at = signedAt ? signedAt->at : options.now;
  if (auto chained = verifyChain(leaf, intermediates, trust.roots, at); !chained) {
    if (!signedAt && (at > leaf.notAfter() || at < leaf.notBefore())) {
      return makeError(
          ErrorKind::Terminal,
          fmt::format("{} is valid from {} to {}, not now, and no trusted signing time proves "
                      "it signed while valid: no transparency-log entry or RFC 3161 timestamp "
                      "the policy trusts{}",
                      leaf.describe(), formatTime(leaf.notBefore()), formatTime(leaf.notAfter()),
                      notes.empty() ? std::string(" came with it")
                                    : fmt::format(" ({})", fmt::join(notes, "; "))));
    }
    return chained.error();
  }
  std::vector<std::string> mismatches;
  for (const auto& identity : trust.identities) {
    auto matched = matchIdentity(leaf, identity);
    if (matched) {
      if (signedAt) {
        return Signer{fmt::format("{}, signed at {} ({})", leaf.describe(),
                                  formatTime(signedAt->at), signedAt->provedBy),
                      std::nullopt};
      }
      return Signer{leaf.describe(), leaf.notAfter()};
    }
    mismatches.push_back(matched.error().message);
  }
  return makeError(ErrorKind::Terminal, fmt::format("{}", fmt::join(mismatches, "; ")));
}

// Who among the policy's trusted signers made `signature` over `signedBytes`, as the signer's
// description; otherwise why none did, in the error's message. `coveredPayload` is what a
// transparency-log entry records a hash of: the payload itself, not a DSSE envelope's encoding.
Result<Signer> trustedSigner(const TrustPolicy& policy, std::string_view signedBytes,
                             std::string_view signature, std::string_view coveredPayload,
                             const SignerMaterial& material, const VerifyOptions& options) {
  if (policy.keys.empty() && !policy.keyless) {
    return makeError(ErrorKind::Terminal, "no trusted key to check it with");
  }
  std::vector<std::string> reasons;
  for (const auto& key : policy.keys) {
    auto checked = key.verifyBytes(signedBytes, signature);
    if (checked) {
      return Signer{key.describe(), std::nullopt};
    }
    reasons.push_back(checked.reason);
  }
  // A key's signature may carry a certificate too (cosign sign --certificate): keys first, then
  // the certificate, each judged on its own.
  if (policy.keyless && (material.hasCertificate() || policy.keys.empty())) {
    auto signer =
        keylessSigner(*policy.keyless, signedBytes, signature, coveredPayload, material, options);
    if (signer) {
      return signer;
    }
    reasons.push_back(signer.error().message);
  }
  return makeError(ErrorKind::Terminal, fmt::format("{}", fmt::join(reasons, "; ")));
}

// The repository a signature names, normalised as ImageReference::name() writes it; what was
// written when it does not parse.
std::string signedRepository(const std::string& written) {
  auto reference = ImageReference::parse(written);
  return reference ? reference->name() : written;
}

Result<void> checkRepository(const TrustPolicy& policy, const std::string& signedName,
                             const VerifyOptions& options) {
  if (policy.matchRepository && signedName != options.repository) {
    return makeError(
        ErrorKind::Terminal,
        fmt::format("it was signed for {}, not {} (the policy asks for "
                    "matchRepository)",
                    signedName.empty() ? "no repository" : signedName, options.repository));
  }
  return {};
}

// A v2 `.sig` signature: a trusted signer over the payload, which names this digest. Returns the
// signer and sets the verdict's docker reference.
Result<Signer> checkSimpleSigning(std::string_view digest, const FetchedSignature& fetched,
                                  const TrustPolicy& policy, const VerifyOptions& options,
                                  DigestVerdict& verdict) {
  if (fetched.layer.signature.empty()) {
    return makeError(ErrorKind::Terminal, "the signature is empty");
  }
  auto signature = kube::base64Decode(fetched.layer.signature);
  if (!signature) {
    return makeError(ErrorKind::Terminal,
                     "the signature is not base64 (cosign writes it base64 in the layer's "
                     "dev.cosignproject.cosign/signature annotation)");
  }
  auto material = SignerMaterial::of(fetched.layer);
  auto signer =
      trustedSigner(policy, fetched.payload, *signature, fetched.payload, material, options);
  if (!signer) {
    return signer.error();
  }
  // Only a verified payload is worth reading: before that its bytes say nothing.
  auto payload = parseSimpleSigningPayload(fetched.payload);
  if (!payload) {
    return makeError(ErrorKind::Terminal, fmt::format("its payload is not a cosign signature: {}",
                                                      payload.error().fieldMessage()));
  }
  if (auto named = checkPayloadDigest(*payload, digest); !named) {
    return named.error();
  }
  std::string signedName = signedRepository(payload->dockerReference);
  if (auto matched = checkRepository(policy, signedName, options); !matched) {
    return matched.error();
  }
  verdict.dockerReference = signedName;
  return signer;
}

// What a verified DSSE envelope says: its signer and its statement.
struct Statement {
  Signer signer;
  InTotoStatement statement;
  StatementSubject subject;  // the one that is this digest
};

// A DSSE envelope (a v2 attestation, or a v3 bundle's): one of its signatures by a trusted
// signer over its pre-authentication encoding, an in-toto payload, a statement about `digest`.
Result<Statement> checkEnvelope(std::string_view digest, const DsseEnvelope& envelope,
                                const SignerMaterial& material, const TrustPolicy& policy,
                                const VerifyOptions& options) {
  const std::string signedBytes = envelope.preAuthEncoding();
  Result<Signer> signer = makeError(ErrorKind::Terminal, "the envelope has no signature");
  for (const auto& signature : envelope.signatures) {
    signer = trustedSigner(policy, signedBytes, signature.signature, envelope.payload, material,
                           options);
    if (signer) {
      break;
    }
  }
  if (!signer) {
    return signer.error();
  }
  if (envelope.payloadType != kInTotoPayloadType) {
    return makeError(ErrorKind::Terminal,
                     fmt::format("its payload is of type \"{}\", not an in-toto statement ({})",
                                 envelope.payloadType, kInTotoPayloadType));
  }
  auto statement = parseInTotoStatement(envelope.payload);
  if (!statement) {
    return makeError(ErrorKind::Terminal, fmt::format("its statement cannot be read: {}",
                                                      statement.error().fieldMessage()));
  }
  auto about = checkStatementSubject(*statement, digest);
  if (!about) {
    return about.error();
  }
  return Statement{std::move(*signer), std::move(*statement), std::move(*about)};
}

// The predicate type an envelope claims before it is verified: only to say, of a refusal, whether
// it was a signature or which attestation. Never trusted.
std::string claimedPredicateType(const DsseEnvelope& envelope) {
  auto statement = parseInTotoStatement(envelope.payload);
  return statement ? statement->predicateType : std::string();
}

// The verdict being built: the signature's and each required attestation's.
class Judge {
 public:
  Judge(std::string_view digest, const TrustPolicy& policy, const VerifyOptions& options)
      : digest_(digest), policy_(policy), options_(options) {
    for (const auto& type : policy.attestations) {
      verdict_.attestations.push_back({type, false, {}, {}});
    }
  }

  void simpleSigning(const FetchedSignature& fetched) {
    if (verdict_.verified) {
      return;
    }
    auto signer = checkSimpleSigning(digest_, fetched, policy_, options_, verdict_);
    signatureResult(fmt::format("signature {}", fetched.layer.index + 1), std::move(signer));
  }

  // An envelope of `label`: a signature when its statement is cosign's (and it came where
  // signatures are: a bundle, not v2's `.att` tag, which is read only when attestations are
  // asked for, so reading a signature there would make the verdict depend on that), an
  // attestation when of a required predicate type; anything else is not asked for.
  void envelope(const std::string& label, const DsseEnvelope& envelope,
                const SignerMaterial& material, bool maySign) {
    std::string claimed = claimedPredicateType(envelope);
    AttestationVerdict* attestation = required(claimed);
    bool signature = maySign && (claimed == kCosignSignPredicateType || claimed.empty());
    if (!signature && attestation == nullptr) {
      auto& seen = verdict_.unaskedStatements;
      if (!claimed.empty() && std::find(seen.begin(), seen.end(), claimed) == seen.end()) {
        seen.push_back(claimed);
      }
      return;
    }
    if ((signature && verdict_.verified) || (attestation != nullptr && attestation->verified)) {
      return;
    }
    auto checked = checkEnvelope(digest_, envelope, material, policy_, options_);
    if (attestation != nullptr) {
      attestationResult(*attestation, label, std::move(checked));
      return;
    }
    if (checked) {
      // The repository the signer named for this digest, not for another subject.
      std::string signedName = signedRepository(checked->subject.name);
      if (auto matched = checkRepository(policy_, signedName, options_); !matched) {
        signatureResult(label, matched.error());
        return;
      }
      verdict_.dockerReference = signedName;
      signatureResult(label, std::move(checked->signer));
      return;
    }
    signatureResult(label, checked.error());
  }

  // A refusal of something MC could not read at all, counted against the signature.
  void unreadable(const std::string& label, const std::string& why) {
    if (!verdict_.verified) {
      verdict_.refusals.push_back(fmt::format("{}: {}", label, why));
    }
  }

  DigestVerdict finish() && {
    bool attested = std::all_of(verdict_.attestations.begin(), verdict_.attestations.end(),
                                [](const auto& a) { return a.verified; });
    verdict_.verified = verdict_.verified && attested;
    return std::move(verdict_);
  }

 private:
  AttestationVerdict* required(const std::string& predicateType) {
    for (auto& attestation : verdict_.attestations) {
      if (attestation.predicateType == predicateType) {
        return &attestation;
      }
    }
    return nullptr;
  }

  void signatureResult(const std::string& label, Result<Signer> signer) {
    if (signer) {
      verdict_.verified = true;
      verdict_.verifiedBy = std::move(signer->who);
      holdsUntil(signer->until);
      verdict_.refusals.clear();
      return;
    }
    verdict_.refusals.push_back(fmt::format("{}: {}", label, signer.error().message));
  }

  void attestationResult(AttestationVerdict& attestation, const std::string& label,
                         Result<Statement> checked) {
    if (checked) {
      attestation.verified = true;
      attestation.verifiedBy = std::move(checked->signer.who);
      holdsUntil(checked->signer.until);
      attestation.refusals.clear();
      return;
    }
    attestation.refusals.push_back(fmt::format("{}: {}", label, checked.error().message));
  }

  void holdsUntil(std::optional<std::chrono::system_clock::time_point> until) {
    if (until && (!verdict_.validUntil || *until < *verdict_.validUntil)) {
      verdict_.validUntil = until;
    }
  }

  std::string_view digest_;
  const TrustPolicy& policy_;
  const VerifyOptions& options_;
  DigestVerdict verdict_;
};

// The material a bundle carries for its signer.
SignerMaterial bundleMaterial(SigstoreBundle& bundle) {
  SignerMaterial material;
  material.certificatesDer = std::move(bundle.certificates);
  material.tlogEntries = std::move(bundle.tlogEntries);
  material.rfc3161Timestamps = std::move(bundle.rfc3161Timestamps);
  return material;
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

SignerMaterial SignerMaterial::of(const SignatureLayer& layer) {
  SignerMaterial material;
  material.certificatePem = layer.certificate;
  material.chainPem = layer.chain;
  material.cosignBundle = layer.rekorBundle;
  material.rfc3161Annotation = layer.rfc3161;
  return material;
}

Result<KeylessTrust> KeylessTrust::make(std::vector<CertificateIdentity> identities,
                                        const std::vector<std::string>& authorities,
                                        std::vector<PublicKey> transparencyLogKeys,
                                        std::vector<std::string> timestampAuthorities) {
  KeylessTrust trust;
  if (identities.empty()) {
    return fieldError("identities", "is empty: no one could sign");
  }
  for (size_t i = 0; i < identities.size(); ++i) {
    if (auto valid = validateIdentity(identities[i], fmt::format("identities[{}]", i)); !valid) {
      return valid.error();
    }
  }
  trust.identities = std::move(identities);
  for (size_t i = 0; i < authorities.size(); ++i) {
    auto certificates = Certificate::allFromPem(authorities[i]);
    if (!certificates) {
      auto error = certificates.error();
      error.field = fmt::format("roots[{}]", i);
      return error;
    }
    trust.roots.insert(trust.roots.end(), certificates->begin(), certificates->end());
  }
  if (trust.roots.empty()) {
    return fieldError("roots", "is empty: nothing to anchor a chain");
  }
  for (size_t i = 0; i < timestampAuthorities.size(); ++i) {
    if (auto chain = Certificate::allFromPem(timestampAuthorities[i]); !chain) {
      auto error = chain.error();
      error.field = fmt::format("timestampAuthorities[{}]", i);
      return error;
    }
  }
  trust.transparencyLogKeys = std::move(transparencyLogKeys);
  trust.timestampAuthorities = std::move(timestampAuthorities);
  return trust;
}

namespace {

// Each part of what a verdict depends on as one JSON string, sorted: a user's regular expression
// or predicate type may hold any separator, and two policies must never share a key.
void addSorted(boost::json::array& key, std::string_view kind, std::vector<std::string> parts) {
  std::sort(parts.begin(), parts.end());
  key.emplace_back(kind);
  boost::json::array list;
  for (auto& part : parts) {
    list.emplace_back(std::move(part));
  }
  key.emplace_back(std::move(list));
}

}  // namespace

std::string TrustPolicy::cacheKey() const {
  boost::json::array key;
  std::vector<std::string> fingerprints;
  for (const auto& k : keys) {
    fingerprints.push_back(k.fingerprint());
  }
  addSorted(key, "keys", std::move(fingerprints));
  if (keyless) {
    std::vector<std::string> identities;
    for (const auto& id : keyless->identities) {
      identities.push_back(boost::json::serialize(
          boost::json::array{id.subject, id.subjectRegExp, id.issuer, id.issuerRegExp}));
    }
    addSorted(key, "identities", std::move(identities));
    std::vector<std::string> roots;
    for (const auto& root : keyless->roots) {
      roots.push_back(root.fingerprint());
    }
    addSorted(key, "roots", std::move(roots));
    std::vector<std::string> logs;
    for (const auto& log : keyless->transparencyLogKeys) {
      logs.push_back(log.fingerprint());
    }
    addSorted(key, "logs", std::move(logs));
    std::vector<std::string> authorities;
    for (const auto& chain : keyless->timestampAuthorities) {
      authorities.push_back(digestOf(chain));
    }
    addSorted(key, "authorities", std::move(authorities));
  }
  key.emplace_back(matchRepository);
  addSorted(key, "attestations", attestations);
  return boost::json::serialize(key);
}

std::string DigestVerdict::describe(std::string_view digest) const {
  if (verified) {
    return fmt::format("{} verified by {}", digest, verifiedBy);
  }
  if (verifiedBy.empty()) {
    if (refusals.empty() && !unaskedStatements.empty()) {
      return fmt::format("{} has no signature, only attestations ({}), which are no signatures",
                         digest, fmt::join(unaskedStatements, ", "));
    }
    if (refusals.empty()) {
      return fmt::format("{} has no signature", digest);
    }
    return fmt::format("no signature of {} verifies: {}", digest, fmt::join(refusals, "; "));
  }
  std::vector<std::string> missing;
  for (const auto& attestation : attestations) {
    if (attestation.verified) {
      continue;
    }
    missing.push_back(
        attestation.refusals.empty()
            ? fmt::format("no attestation of type {} (none found)", attestation.predicateType)
            : fmt::format("no attestation of type {} verifies: {}", attestation.predicateType,
                          fmt::join(attestation.refusals, "; ")));
  }
  return fmt::format("{} is signed (by {}), but has {}", digest, verifiedBy,
                     fmt::join(missing, "; and "));
}

DigestVerdict verifyArtifacts(std::string_view digest, const SignedArtifacts& artifacts,
                              const TrustPolicy& policy, const VerifyOptions& options) {
  Judge judge(digest, policy, options);
  for (const auto& bundle : artifacts.bundles) {
    auto label = fmt::format("bundle {}", bundle.manifestDigest.substr(0, 19));
    auto parsed = parseSigstoreBundle(bundle.bundle);
    if (!parsed) {
      judge.unreadable(label,
                       fmt::format("not a Sigstore bundle: {}", parsed.error().fieldMessage()));
      continue;
    }
    if (!parsed->dsse) {
      judge.unreadable(label, "it signs a message digest, not a statement about an image");
      continue;
    }
    judge.envelope(label, *parsed->dsse, bundleMaterial(*parsed), true);
  }
  for (const auto& signature : artifacts.signatures) {
    judge.simpleSigning(signature);
  }
  for (const auto& attestation : artifacts.attestations) {
    auto label = fmt::format("attestation {}", attestation.index + 1);
    auto envelope = parseDsseEnvelope(attestation.envelope);
    if (!envelope) {
      continue;  // says nothing of the signature, and its type is unknown
    }
    judge.envelope(label, *envelope, attestation.material, false);
  }
  return std::move(judge).finish();
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
