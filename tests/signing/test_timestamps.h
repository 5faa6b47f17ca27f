#pragma once

// Witnesses of a signing time, made by the tests with OpenSSL: a timestamp authority (its root and
// its leaf with the critical timeStamping EKU) that answers RFC 3161 requests at a chosen time,
// and the parts of a Rekor v1 log (entry bodies, signed entry timestamps, Merkle trees, signed
// checkpoints). Self-contained: its certificates are its own, not test_keys' (which another
// certificate builder may extend).
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "test_keys.h"

namespace mc::signing::witnesses {

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// One certificate and its private key.
struct IssuedCert {
  X509Ptr cert;
  KeyPair key;

  std::string pem() const;
};

struct CertSpec {
  std::string commonName;
  std::time_t notBefore = 0;
  std::time_t notAfter = 0;
  bool ca = false;
  // Extended key usage: none, timeStamping alone (critical or not), or codeSigning.
  enum class Eku { None, TimeStamping, TimeStampingNotCritical, CodeSigning } eku = Eku::None;
};

// Signed by `issuer`, or self-signed when it is null. EC P-256 keys.
IssuedCert issue(const CertSpec& spec, const IssuedCert* issuer);

// A TSA: a root and a leaf it issued for time stamping, both valid in [notBefore, notAfter].
struct Tsa {
  IssuedCert root;
  IssuedCert leaf;

  // Leaf then root, as a Sigstore trusted root lists a TSA's chain.
  std::string chainPem() const;
};
Tsa makeTsa(std::string_view name, std::time_t notBefore, std::time_t notAfter);

struct TimestampRequest {
  const EVP_MD* imprintMd = EVP_sha256();
  // Whether the response embeds the signer's certificate (certReq in the request).
  bool certReq = true;
  // The hashes the TSA accepts; a request with another is answered with status "rejection".
  std::vector<const EVP_MD*> accepted = {EVP_sha256(), EVP_sha384(), EVP_sha512()};
};

// The DER TimeStampResp `signer` (a TSA leaf) gives for `bytes` at `genTime`, made with OpenSSL's
// TS_RESP_CTX from a DER TimeStampReq, as a TSA server would.
std::string timestampResponse(const IssuedCert& signer, std::string_view bytes, std::time_t genTime,
                              const TimestampRequest& request = {});
// The TimeStampToken (a CMS SignedData) inside a TimeStampResp.
std::string bareToken(std::string_view responseDer);
// The response with one bit of its CMS signature flipped.
std::string withTamperedSignature(std::string_view responseDer);

// --- Rekor v1 ----------------------------------------------------------------------------------

// The log ID of a key: SHA-256 of its DER SubjectPublicKeyInfo (raw bytes).
std::string logIdOf(const KeyPair& key);
std::string sha256Bytes(std::string_view bytes);
std::string hex(std::string_view bytes);

// A hashedrekord 0.0.1 body as rekor canonicalizes it (keys sorted, no spaces).
std::string hashedRekordBody(std::string_view signature, std::string_view payload,
                             std::string_view publicKeyPem);
// A dsse 0.0.1 body: one signature, its verifier, and the payload's and envelope's hashes.
std::string dsseBody(std::string_view signature, std::string_view payload,
                     std::string_view verifierPem);

// The log's signature over {"body","integratedTime","logID","logIndex"}, canonical JSON, as rekor
// makes an inclusion promise.
std::string signEntryTimestamp(const KeyPair& logKey, std::string_view body, int64_t integratedTime,
                               std::string_view logId, int64_t logIndex);

// An RFC 6962 Merkle tree over `leaves` (entry bodies), computed from the RFC's recursive
// definitions (MTH and PATH), independently of the verifier's iterative check.
struct MerkleTree {
  std::vector<std::string> leaves;

  std::string root() const;
  std::vector<std::string> inclusionProof(size_t index) const;
};

// A Rekor v1 checkpoint for (size, root), signed by `signer` under the key hint of `hintKey`.
std::string signedCheckpoint(const KeyPair& signer, const KeyPair& hintKey, uint64_t treeSize,
                             std::string_view rootHash);

}  // namespace mc::signing::witnesses
