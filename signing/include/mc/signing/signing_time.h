#pragma once

#include <boost/json/fwd.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/signing/public_key.h"

// A trusted signing time for a keyless (cosign/Fulcio) signature, whose certificate lives ten
// minutes: once it has expired, a signature counts only if someone MC trusts vouches that it
// existed while the certificate was valid. Two kinds of witness do, as in sigstore-go: an RFC 3161
// timestamp authority (TSA), and a transparency log (Rekor v1) that signed the time it took the
// entry in. These are pure functions over bytes; fetching the bundle and checking the certificate
// (that the time falls within its validity) are the caller's. OpenSSL stays in the .cc.
namespace mc::signing {

using SystemTime = std::chrono::system_clock::time_point;

// The time an RFC 3161 timestamp vouches for: its genTime, when
// - `responseDer` is a DER TimeStampResp with status "granted" (what a Sigstore bundle's
//   timestampVerificationData.rfc3161Timestamps[].signedTimestamp holds, base64-decoded; sigstore
//   reads no bare TimeStampToken and refuses other statuses, and so does MC);
// - its message imprint is the hash (SHA-256/384/512) of `signedBytes` (in sigstore, the
//   signature's bytes: the time is when the signature existed);
// - it is signed by the leaf of `tsaChainPem` (PEM certificates: leaf, intermediates, root(s);
//   the self-signed ones are the trust anchors), which chains to a root there, was valid at
//   genTime and has timeStamping as its one, critical, extended key usage (RFC 3161 2.3, and what
//   sigstore's timestamp-authority verification requires).
// Refusals (bad signature, another imprint, another TSA) are Terminal; input that is not what it
// should be (not DER, no certificate in the chain) is Invalid.
Result<SystemTime> verifyRfc3161Timestamp(std::string_view responseDer,
                                          std::string_view signedBytes,
                                          std::string_view tsaChainPem);

// An RFC 6962 inclusion proof of an entry, with the log's signed checkpoint for its root.
struct InclusionProof {
  // The entry's index in this tree (Rekor v1: the shard's index, not the entry's logIndex).
  int64_t logIndex = 0;
  int64_t treeSize = 0;
  std::string rootHash;             // raw bytes (32)
  std::vector<std::string> hashes;  // raw bytes, leaf to root
  std::string checkpoint;           // the signed note, as the log wrote it
};

// One Rekor v1 entry as a Sigstore bundle (v0.3, verificationMaterial.tlogEntries[]) or cosign's
// dev.sigstore.cosign/bundle annotation carries it. Nothing in it is trusted until
// verifyTlogEntry has checked it against a log key.
struct TlogEntry {
  int64_t logIndex = 0;
  std::string logId;                 // raw bytes: SHA-256 of the log key's DER SubjectPublicKeyInfo
  int64_t integratedTime = 0;        // seconds since the epoch
  std::string canonicalizedBody;     // raw bytes (JSON)
  std::string signedEntryTimestamp;  // raw DER signature (the inclusion promise); empty if none
  std::optional<InclusionProof> inclusionProof;
  // From the bundle's kindVersion (unsigned), or the body for cosign's annotation; checked
  // against the body when parsed.
  std::string kind;
  std::string version;
};

// The protobuf-JSON form of a bundle's tlogEntries[] element. `field` names it in errors
// ("verificationMaterial.tlogEntries[0]"), so a bad field is reported as
// "verificationMaterial.tlogEntries[0].logId.keyId". Invalid when a required field is absent or
// malformed, or kindVersion disagrees with the body.
Result<TlogEntry> parseBundleTlogEntry(const boost::json::value& entry, std::string_view field);

// cosign v2's dev.sigstore.cosign/bundle annotation: {"SignedEntryTimestamp": base64,
// "Payload": {"body": base64, "integratedTime": N, "logIndex": N, "logID": hex}}. Invalid when
// malformed.
Result<TlogEntry> parseCosignBundleAnnotation(std::string_view json);

// What verifyTlogEntry established.
struct TlogVerification {
  // The entry's integratedTime, when the log signed it (a verified signed entry timestamp); the
  // trusted signing time. Empty when the entry has only an inclusion proof: that proves the entry
  // is in the log, but no one signed its integratedTime, so sigstore-go does not use it as a time,
  // nor does MC.
  std::optional<SystemTime> integratedTime;
  bool promiseVerified = false;
  bool inclusionVerified = false;
  // The log key that vouched, as PublicKey::describe() names it.
  std::string logKey;
};

// Checks an entry against the logs MC trusts (`logKeys`; a key's log ID is the SHA-256 of its DER
// SubjectPublicKeyInfo, its fingerprint). Each proof the entry carries must verify: the signed
// entry timestamp (the log key's signature over the canonical JSON of body, integratedTime,
// logID and logIndex) and the inclusion proof (the body's leaf hash up to rootHash, and a
// checkpoint for that root and tree size signed by the same key). Terminal when the log is not
// trusted, a proof does not verify, or there is none; Invalid when a proof is malformed.
// This does not check that the entry is about a given signature: see entryCoversSignature.
Result<TlogVerification> verifyTlogEntry(const TlogEntry& entry,
                                         const std::vector<PublicKey>& logKeys);

// Whether the entry's body (signed by the log, unlike kindVersion) records `signature` (raw
// bytes) over `signedPayload`; without this check any valid entry could be replayed for another
// signature. For "hashedrekord" 0.0.1: spec.signature.content is the signature and spec.data.hash
// the hash of `signedPayload` (the bytes signed, e.g. cosign's simple-signing payload). For "dsse"
// 0.0.1: one of spec.signatures[] is the signature and spec.payloadHash the SHA-256 of
// `signedPayload`, the envelope's payload (decoded, not its PAE). Other kinds are refused.
// Returns the PEM (certificate or public key) the entry names for the signature, which the
// caller compares with the certificate it verified. Terminal when the body is about something
// else; Invalid when it cannot be read.
Result<std::string> entryCoversSignature(const TlogEntry& entry, std::string_view signature,
                                         std::string_view signedPayload);

}  // namespace mc::signing
