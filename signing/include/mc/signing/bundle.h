#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/signing/dsse.h"

// Sigstore bundles (v0.1 to v0.3): what cosign v3 pushes for a signature or an attestation, as
// an OCI 1.1 referrer of the image. A bundle holds one signed thing (a DSSE envelope, or a
// signature over a message digest) and what vouches for its signer: a key hint or a certificate
// chain, transparency-log entries and RFC 3161 timestamps.
namespace mc::signing {

inline constexpr std::string_view kBundleV03MediaType =
    "application/vnd.dev.sigstore.bundle.v0.3+json";

struct MessageSignature {
  std::string digestAlgorithm;  // "SHA2_256"
  std::string digest;           // decoded
  std::string signature;        // decoded
};

struct SigstoreBundle {
  std::string mediaType;
  std::string publicKeyHint;              // verificationMaterial.publicKey.hint; never trusted
  std::vector<std::string> certificates;  // DER, the signing certificate first
  // Kept as JSON: the transparency-log reader (signing_time.h) reads them, and a bundle whose
  // entries MC never needs (a key signature) must not be refused over their shape.
  std::vector<boost::json::value> tlogEntries;
  std::vector<std::string> rfc3161Timestamps;  // DER, decoded
  std::optional<DsseEnvelope> dsse;
  std::optional<MessageSignature> messageSignature;
};

// A bundle's JSON as protobuf-JSON writes it (lowerCamelCase; the proto's snake_case names are
// accepted too, as protojson accepts them). Invalid, naming the field, when it is not a bundle
// media type MC reads (v0.1, v0.2, v0.3, in either spelling), has neither or both of a DSSE
// envelope and a message signature, or a field is malformed.
Result<SigstoreBundle> parseSigstoreBundle(std::string_view bytes);

}  // namespace mc::signing
