#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/signing/manifest.h"

// cosign's signature format (v2, the "legacy" `.sig` tag that cosign v2 writes and v3 still
// reads): where the signatures of a digest live, what a signature manifest's layers carry, and the
// simple-signing payload each signature is over.
namespace mc::signing {

inline constexpr std::string_view kSimpleSigningMediaType =
    "application/vnd.dev.cosign.simplesigning.v1+json";
inline constexpr std::string_view kSignatureAnnotation = "dev.cosignproject.cosign/signature";
inline constexpr std::string_view kCertificateAnnotation = "dev.sigstore.cosign/certificate";
inline constexpr std::string_view kChainAnnotation = "dev.sigstore.cosign/chain";
// A Rekor entry's signed timestamp for the signature, and an RFC 3161 timestamp of it.
inline constexpr std::string_view kRekorBundleAnnotation = "dev.sigstore.cosign/bundle";
inline constexpr std::string_view kRfc3161Annotation = "dev.sigstore.cosign/rfc3161timestamp";
inline constexpr std::string_view kDsseLayerMediaType = "application/vnd.dsse.envelope.v1+json";
inline constexpr std::string_view kCosignSignatureType = "cosign container image signature";

// The tag holding the signatures of `digest`, in the image's own repository:
// "sha256:<hex>" -> "sha256-<hex>.sig". Invalid unless `digest` is a sha256 digest.
Result<std::string> signatureTag(std::string_view digest);
// The same for v2 attestations: "sha256-<hex>.att".
Result<std::string> attestationTag(std::string_view digest);

// One signature: a layer of the signature manifest.
struct SignatureLayer {
  size_t index = 0;           // its place among the manifest's layers, for messages
  std::string payloadDigest;  // the blob holding the signed payload
  int64_t payloadSize = 0;
  std::string signature;    // base64, as the annotation holds it
  std::string certificate;  // PEM, keyless signatures only; empty otherwise
  std::string chain;        // PEM, the certificate's chain; empty when absent
  std::string rekorBundle;  // JSON, a transparency-log entry's promise; empty when absent
  std::string rfc3161;      // JSON, an RFC 3161 timestamp; empty when absent
};

// The signatures of a signature manifest, and what was passed over: layers of other media types
// and signature layers without a signature annotation. One bad layer does not hide the others,
// as in cosign, where each signature is tried in turn.
struct SignatureLayers {
  std::vector<SignatureLayer> layers;
  std::vector<Error> skipped;  // field "layers[i]...", message saying why
};

// Invalid when `manifest` is an index, or when it has no signature layer at all.
Result<SignatureLayers> signatureLayers(const Manifest& manifest);

// The attestations of an `.att` manifest: its DSSE envelope layers (whose blobs hold the
// envelopes, signatures inside; `signature` stays empty). Invalid as signatureLayers.
Result<SignatureLayers> attestationLayers(const Manifest& manifest);

// The simple-signing payload that a cosign signature signs.
struct SimpleSigningPayload {
  std::string dockerReference;   // critical.identity.docker-reference: the repository as signed
  std::string manifestDigest;    // critical.image.docker-manifest-digest
  std::string type;              // critical.type: always kCosignSignatureType
  boost::json::object optional;  // annotations the signer added (`cosign sign -a`); may be empty
};

// The payload's bytes read as cosign reads them: keys matched case-insensitively (Go's
// encoding/json does), `optional` null or an object. Invalid, naming the field, when it is not
// JSON, when critical.type is not a cosign image signature, or when the digest is missing or not
// a sha256 digest. Two keys of one object differing only in case are refused as ambiguous.
Result<SimpleSigningPayload> parseSimpleSigningPayload(std::string_view bytes);

// Whether a (verified) payload is about `expectedDigest`: a signature is only worth what it
// names, and one copied from another image names that image. Terminal naming both digests
// when they differ.
Result<void> checkPayloadDigest(const SimpleSigningPayload& payload,
                                std::string_view expectedDigest);

}  // namespace mc::signing
