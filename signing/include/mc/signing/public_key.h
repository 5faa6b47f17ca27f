#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mc/common/error.h"

// A public key that signatures are checked against, as cosign checks them with `--key` (sigstore's
// LoadVerifier): the key types cosign makes and imports, each with the signature scheme sigstore
// binds to it. OpenSSL stays behind the pimpl.
namespace mc::signing {

enum class KeyAlgorithm {
  EcdsaP256,  // ECDSA, ASN.1 DER signature, over SHA-256
  EcdsaP384,  // over SHA-384 (and SHA-256, see verify)
  EcdsaP521,  // over SHA-512 (and SHA-256, see verify)
  Rsa,        // RSASSA-PKCS1-v1_5 over SHA-256; PSS is not accepted (cosign's --key never uses it)
  Ed25519,    // pure Ed25519 over the message itself
};

// "ECDSA P-256 with SHA-256", for messages.
std::string_view toString(KeyAlgorithm algorithm);

// The outcome of one signature check. `reason` says why a signature was refused, in words a
// person can act on, naming the key; when verified it says how ("ECDSA P-384 with SHA-256").
struct SignatureVerdict {
  bool verified = false;
  std::string reason;

  explicit operator bool() const { return verified; }
};

// An immutable public key. Copies share one OpenSSL key; verify() may be called from any number
// of threads at once (each call has its own OpenSSL context), so the verifier's pool shares keys.
class PublicKey {
 public:
  // The first PEM block of `pem`: "PUBLIC KEY" (PKIX SubjectPublicKeyInfo, what cosign.pub holds)
  // or "RSA PUBLIC KEY" (PKCS#1), as sigstore's UnmarshalPEMToPublicKey reads them; "EC PUBLIC
  // KEY" and other blocks are refused as sigstore refuses them. Keys other than ECDSA on P-256,
  // P-384 or P-521, RSA of 2048 to 8192 bits, or Ed25519 are Invalid. `name` (a Secret's
  // namespace/name and key, say) names the key in messages; the fingerprint does without one.
  static Result<PublicKey> fromPem(std::string_view pem, std::string name = "");
  // A DER SubjectPublicKeyInfo, as a certificate carries its key (Certificate::publicKey), held to
  // the same key types as fromPem. Trailing bytes after the key are Invalid, as Go refuses them.
  static Result<PublicKey> fromSpkiDer(std::string_view der, std::string name = "");

  KeyAlgorithm algorithm() const;
  int bits() const;
  // "sha256:<hex>" of the DER SubjectPublicKeyInfo: one key, one name, whatever its PEM looks like.
  const std::string& fingerprint() const;
  // As given to fromPem, or empty.
  const std::string& name() const;
  // "key \"ns/secret cosign.pub\" (sha256:...)" or "key sha256:...", for messages.
  std::string describe() const;

  // Whether `signatureBase64` (base64 as cosign writes it in an annotation) is this key's
  // signature over `payload`. Never throws; any input, however malformed, is a refusal with a
  // reason. For P-384 and P-521 keys a signature over SHA-256 of the payload is accepted too:
  // `cosign verify --key` hashes with SHA-256 whatever the curve (its --signature-digest-algorithm
  // default), and older cosign releases signed that way.
  SignatureVerdict verify(std::string_view payload, std::string_view signatureBase64) const;
  // The same for a signature already decoded.
  SignatureVerdict verifyBytes(std::string_view payload, std::string_view signature) const;

 private:
  struct Impl;
  explicit PublicKey(std::shared_ptr<const Impl> impl);
  // The one home of the key-type checks: every decoded key becomes a PublicKey here, classified
  // (or refused) and fingerprinted, whichever encoding it came in.
  static Result<PublicKey> fromDecoded(std::shared_ptr<Impl> impl);

  std::shared_ptr<const Impl> impl_;
};

// The fingerprint of the first public key in `pem` (PublicKey::fingerprint), Invalid as fromPem.
Result<std::string> publicKeyFingerprint(std::string_view pem);

}  // namespace mc::signing
