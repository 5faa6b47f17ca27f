#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"

// DSSE envelopes and the in-toto statements they carry: how cosign signs attestations (v2's `.att`
// layers and every v3 bundle, whose image signatures are statements too). A DSSE signature is
// over the envelope's pre-authentication encoding, never over the payload alone, so a signature
// cannot be lifted into an envelope of another payload type.
namespace mc::signing {

inline constexpr std::string_view kDsseEnvelopeMediaType = "application/vnd.dsse.envelope.v1+json";
inline constexpr std::string_view kInTotoPayloadType = "application/vnd.in-toto+json";
// The predicate type of the statement cosign v3 signs for `cosign sign` in the bundle format.
inline constexpr std::string_view kCosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1";
// What cosign's `--type slsaprovenance1` writes; a policy names predicate types in full.
inline constexpr std::string_view kSlsaProvenanceV1 = "https://slsa.dev/provenance/v1";

struct DsseSignature {
  std::string keyId;      // a hint only, never trusted
  std::string signature;  // decoded bytes
};

struct DsseEnvelope {
  std::string payloadType;
  std::string payload;  // decoded bytes
  std::vector<DsseSignature> signatures;

  // What each signature is over: "DSSEv1 <len(type)> <type> <len(payload)> <payload>".
  std::string preAuthEncoding() const;
};

// An envelope as JSON ({"payloadType", "payload", "signatures": [{"keyid", "sig"}]}), read as
// Go's DSSE library reads it: keys ignoring case, base64 standard or URL-safe, padded or not.
// Invalid, naming the field under `path`, when a field is missing or malformed, or when there is
// no signature at all.
Result<DsseEnvelope> parseDsseEnvelope(std::string_view bytes);
Result<DsseEnvelope> readDsseEnvelope(const boost::json::object& envelope, std::string_view path);

struct StatementSubject {
  std::string name;
  std::map<std::string, std::string> digest;  // algorithm -> lower-case hex
};

// An in-toto statement (v0.1 or v1): what was attested, about which artifacts.
struct InTotoStatement {
  std::string type;  // "_type"
  std::string predicateType;
  std::vector<StatementSubject> subjects;
  boost::json::value predicate;
};

// Invalid, naming the field, when not JSON, when `_type` is not an in-toto statement, when the
// predicate type or the subjects are missing, or a subject's digest is not a map of strings.
Result<InTotoStatement> parseInTotoStatement(std::string_view bytes);

// The statement's first subject that is `digest` ("sha256:<hex>"): what the signer said about
// this digest (its name, say, is the repository it was signed for). Terminal, naming what the
// statement is about, when none is: a statement of another image says nothing of this one.
Result<StatementSubject> checkStatementSubject(const InTotoStatement& statement,
                                               std::string_view digest);

// Decodes base64 as Go's DSSE and protobuf-JSON readers accept it: standard or URL-safe
// alphabet, with or without padding; nullopt when it is not base64.
std::optional<std::string> decodeBase64Lenient(std::string_view encoded);

}  // namespace mc::signing
