// libFuzzer target for everything MC reads from a registry or a Secret before it trusts it:
// manifests and indexes, cosign signature manifests, simple-signing payloads, public keys, image
// references, docker config JSON, WWW-Authenticate challenges, DSSE envelopes with their in-toto
// statements, Sigstore bundles, X.509 certificates, transparency-log entries and RFC 3161
// timestamps. The first byte of an input picks
// the parser, the rest is its input. Beyond "no crash, no sanitizer report" it checks what the
// callers rely on: what parses once parses the same way again, and derived values keep the
// invariants their readers assume.
#include <boost/json/parse.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mc/signing/auth_challenge.h"
#include "mc/signing/bundle.h"
#include "mc/signing/certificate.h"
#include "mc/signing/cosign.h"
#include "mc/signing/digest.h"
#include "mc/signing/docker_config.h"
#include "mc/signing/dsse.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/manifest.h"
#include "mc/signing/public_key.h"
#include "mc/signing/signing_time.h"
#include "mc/signing/verify.h"

namespace {

using namespace mc::signing;

// A broken invariant: abort, so libFuzzer keeps the input as a crash.
void require(bool ok) {
  if (!ok) {
    std::abort();
  }
}

constexpr std::string_view kContentTypes[] = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/json",
    "",
};

void fuzzManifest(std::string_view input) {
  if (input.empty()) {
    return;
  }
  auto contentType = kContentTypes[static_cast<uint8_t>(input[0]) % std::size(kContentTypes)];
  input.remove_prefix(1);
  auto manifest = parseManifest(input, contentType);
  if (!manifest) {
    return;
  }
  for (const auto& d : manifest->isIndex() ? manifest->manifests : manifest->layers) {
    require(checkDigest(d.digest).has_value());  // a descriptor's digest was checked
  }
  if (manifest->isIndex()) {
    auto picked = selectPlatform(*manifest);
    require(!picked || checkDigest(picked->digest).has_value());
    return;
  }
  auto signatures = signatureLayers(*manifest);
  if (signatures) {
    for (const auto& layer : signatures->layers) {
      require(!layer.signature.empty());
      require(checkDigest(layer.payloadDigest).has_value());
    }
  }
}

void fuzzPayload(std::string_view input) {
  auto payload = parseSimpleSigningPayload(input);
  if (!payload) {
    return;
  }
  require(checkSha256Digest(payload->manifestDigest).has_value());
  require(checkPayloadDigest(*payload, payload->manifestDigest).has_value());
  auto again = parseSimpleSigningPayload(input);
  require(again && again->manifestDigest == payload->manifestDigest &&
          again->dockerReference == payload->dockerReference);
}

void fuzzPublicKey(std::string_view input) {
  // The PEM and a signature to check with it, split at the first NUL.
  auto split = input.find('\0');
  std::string_view pem = input.substr(0, split);
  std::string_view signature = split == std::string_view::npos ? "" : input.substr(split + 1);
  auto key = PublicKey::fromPem(pem, "fuzz");
  if (!key) {
    return;
  }
  require(key->fingerprint().rfind("sha256:", 0) == 0);
  // Any signature over any payload is a refusal with a reason, never a crash or a pass by luck
  // of a malformed input (a real signature over "payload" cannot come out of a fuzzer). Ed25519
  // is left out of the pass check: a small-order public key verifies a forged signature in
  // OpenSSL as in Go's crypto/ed25519, which cosign uses, so MC agrees with cosign there.
  auto verdict = key->verify("payload", signature);
  require(verdict.verified || !verdict.reason.empty());
  require(!verdict.verified || key->algorithm() == KeyAlgorithm::Ed25519);
}

void fuzzImageReference(std::string_view input) {
  auto ref = ImageReference::parse(input);
  if (!ref) {
    return;
  }
  // The normalised form is a fixed point: it reads back as the same reference.
  auto again = ImageReference::parse(ref->str());
  require(again && *again == *ref);
  require(ref->hasDigest() == ref->pinned().has_value());
}

void fuzzDockerConfig(std::string_view input) {
  (void)parseDockerConfigJson(input);
  (void)parseDockerCfg(input);
}

void fuzzAuthChallenge(std::string_view input) {
  auto challenges = parseAuthChallenges(input);
  if (!challenges) {
    return;
  }
  for (const auto& challenge : *challenges) {
    (void)tokenRequestUrl(challenge, "org/app");
  }
}

constexpr std::string_view kDigest =
    "sha256:d2b6b33ffe8d3588aaaebdf774c65b43de6e6edcb4636c47d3e094a74a28be9a";

// A key whose private half was thrown away when it was made: whatever verifies with it is a
// broken check.
const TrustPolicy& fuzzPolicy() {
  static const TrustPolicy policy = [] {
    TrustPolicy p;
    p.keys.push_back(
        PublicKey::fromPem("-----BEGIN PUBLIC KEY-----\n"
                           "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEr3nGcENaEdh5CeSQNreCXqBwMuYI\n"
                           "1blpaY9fn9RgU4d7whb7H+TOMykRGTFgvhQaZmG+CpiO5aZbXG1pyqSxlA==\n"
                           "-----END PUBLIC KEY-----\n",
                           "fuzz")
            .value());
    p.attestations = {std::string(kSlsaProvenanceV1)};
    return p;
  }();
  return policy;
}

void fuzzEnvelope(std::string_view input) {
  auto envelope = parseDsseEnvelope(input);
  if (envelope) {
    require(!envelope->signatures.empty());
    for (const auto& signature : envelope->signatures) {
      require(!signature.signature.empty());
    }
    auto encoded = envelope->preAuthEncoding();
    require(encoded.size() > envelope->payload.size());
  }
  auto statement = parseInTotoStatement(input);
  if (statement) {
    require(!statement->subjects.empty() && !statement->predicateType.empty());
    (void)checkStatementSubject(*statement, kDigest);
  }
  mc::signing::SignedArtifacts artifacts;
  artifacts.attestations.push_back({0, std::string(input), {}});
  auto verdict = verifyArtifacts(kDigest, artifacts, fuzzPolicy(), {"r", {}});
  require(!verdict.verified && !verdict.attestations.at(0).verified);
}

void fuzzBundle(std::string_view input) {
  auto bundle = parseSigstoreBundle(input);
  if (bundle) {
    require(bundle->dsse.has_value() != bundle->messageSignature.has_value());
  }
  mc::signing::SignedArtifacts artifacts;
  artifacts.bundles.push_back({"sha256:fuzz", std::string(input)});
  auto verdict = verifyArtifacts(kDigest, artifacts, fuzzPolicy(), {"r", {}});
  require(!verdict.verified && verdict.verifiedBy.empty());
}

// PEM or DER certificates: what parses has a fingerprint and a key or a reason, never a crash;
// a fuzzed leaf never chains to a root it was not issued by.
void fuzzCertificate(std::string_view input) {
  auto certificates = Certificate::allFromPem(input);
  auto der = Certificate::fromDer(input);
  std::vector<Certificate> parsed = certificates ? *certificates : std::vector<Certificate>{};
  if (der) {
    parsed.push_back(*der);
  }
  for (const auto& certificate : parsed) {
    require(certificate.fingerprint().rfind("sha256:", 0) == 0);
    (void)certificate.publicKey();
    (void)certificate.describe();
    auto again = Certificate::fromDer(certificate.der());
    require(again && again->fingerprint() == certificate.fingerprint());
    (void)matchIdentity(certificate, {"", "^ci@", "", ".*"});
  }
}

// Transparency-log entries (a bundle's JSON, cosign v2's annotation) and RFC 3161 responses: no
// fuzzed entry is promised by a log whose private key is gone, no fuzzed timestamp verifies.
void fuzzSigningTime(std::string_view input) {
  boost::system::error_code ec;
  auto json = boost::json::parse(input, ec);
  std::vector<mc::Result<TlogEntry>> entries;
  if (!ec) {
    entries.push_back(parseBundleTlogEntry(json, "entry"));
  }
  entries.push_back(parseCosignBundleAnnotation(input));
  for (const auto& entry : entries) {
    if (entry) {
      auto verified = verifyTlogEntry(*entry, fuzzPolicy().keys);
      require(!verified);
      (void)entryCoversSignature(*entry, "sig", "payload");
    }
  }
  require(!verifyRfc3161Timestamp(input, "sig", ""));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
    case 0:
      fuzzManifest(input);
      break;
    case 1:
      fuzzPayload(input);
      break;
    case 2:
      fuzzPublicKey(input);
      break;
    case 3:
      fuzzImageReference(input);
      break;
    case 4:
      fuzzDockerConfig(input);
      break;
    case 5:
      fuzzAuthChallenge(input);
      break;
    case 6:
      fuzzEnvelope(input);
      break;
    case 7:
      fuzzBundle(input);
      break;
    case 8:
      fuzzCertificate(input);
      break;
    case 9:
      fuzzSigningTime(input);
      break;
  }
  return 0;
}
