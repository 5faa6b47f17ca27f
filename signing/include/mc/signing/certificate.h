#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/signing/public_key.h"

// X.509 certificates of cosign's "keyless" signatures: a short-lived certificate that a
// Fulcio-style CA issues for an OIDC identity, the chain it hangs from, and the identity rules a
// policy holds it to (`cosign verify --certificate-identity … --certificate-oidc-issuer …`).
// OpenSSL stays behind the pimpl.
namespace mc::signing {

// An immutable certificate. Copies share one OpenSSL X509; every accessor may be called from any
// number of threads at once (all that is read is decoded when the certificate is parsed).
class Certificate {
 public:
  // The first PEM block of `pem`, which must be a "CERTIFICATE" (text before it is skipped). A
  // block of another type, a malformed block or malformed DER is Invalid.
  static Result<Certificate> fromPem(std::string_view pem);
  // DER, consumed whole: trailing bytes are Invalid, as Go's x509.ParseCertificate refuses them.
  static Result<Certificate> fromDer(std::string_view der);
  // Every PEM block of `pem`, in order (a chain as cosign's chain annotation or
  // --certificate-chain holds it). Invalid when there is none, or when any block is malformed or
  // not a "CERTIFICATE" (sigstore's UnmarshalCertificatesFromPEM refuses other types too).
  static Result<std::vector<Certificate>> allFromPem(std::string_view pem);

  std::chrono::system_clock::time_point notBefore() const;
  std::chrono::system_clock::time_point notAfter() const;

  // The subject alternative names of each kind, in the certificate's order.
  const std::vector<std::string>& emails() const;
  const std::vector<std::string>& uris() const;
  // What cosign matches --certificate-identity against: every subject alternative name, in the
  // order of sigstore's cryptoutils.GetSubjectAlternateNames — DNS names, emails, IP addresses
  // (as Go prints them), URIs, then Fulcio's username OtherName (1.3.6.1.4.1.57264.1.7) when
  // there is exactly one. Fulcio puts one identity in a certificate (an email or a URI).
  const std::vector<std::string>& subjects() const;
  // The OIDC issuer Fulcio recorded: extension 1.3.6.1.4.1.57264.1.8 (a DER string) when
  // present, else the deprecated 1.3.6.1.4.1.57264.1.1 (whose raw value is the URL); empty when
  // the certificate has neither. A malformed 1.8 makes the certificate Invalid rather than
  // falling back to 1.1.
  const std::string& oidcIssuer() const;
  // Whether the extended key usage lists codeSigning (a certificate without the extension has no
  // usage here, though Go's x509 would count it as any usage).
  bool hasCodeSigningUsage() const;

  // The certificate's key, held to PublicKey's key types, named by this certificate.
  Result<PublicKey> publicKey() const;
  std::string der() const;
  // "sha256:<hex>" of the DER: one certificate, one name.
  const std::string& fingerprint() const;
  // The subject's distinguished name, RFC 2253 ("CN=sigstore-intermediate,O=sigstore.dev").
  const std::string& subjectName() const;
  // "certificate for ci@example.com issued by https://issuer.example (sha256:…)", for messages;
  // a certificate without alternative names (a CA's) is named by its subject's DN.
  std::string describe() const;

 private:
  struct Impl;
  explicit Certificate(std::shared_ptr<const Impl> impl);

  friend Result<void> verifyChain(const Certificate& leaf,
                                  const std::vector<Certificate>& intermediates,
                                  const std::vector<Certificate>& roots,
                                  std::chrono::system_clock::time_point at);

  std::shared_ptr<const Impl> impl_;
};

// Whether `leaf` is a code-signing certificate that `roots` vouch for at `at`:
// - it chains through `intermediates` (untrusted: from the signature or the policy; used only to
//   build the path) to a certificate in `roots`. Every certificate in `roots` is a trust anchor,
//   self-signed or not (X509_V_FLAG_PARTIAL_CHAIN), as Go's x509 treats its Roots pool: a policy
//   may pin Fulcio's intermediate as well as its root, and cosign's --certificate-chain trusts its
//   last certificate whatever it is;
// - every certificate of the path, the anchor included, is valid at `at` (notBefore <= at <=
//   notAfter, both ends inclusive as in RFC 5280 and Go). `at` is the signing time the caller
//   trusts (a transparency log's or a timestamp authority's), or now when there is none: a
//   certificate that has expired since it signed passes when `at` is that time;
// - the leaf's extended key usage lists codeSigning, and no CA of the path has an extended key
//   usage that excludes it (Go's rule for x509.VerifyOptions.KeyUsages).
// Terminal naming the rule that failed and the certificate it failed on (a refusal is a verdict);
// Invalid when `roots` is empty.
Result<void> verifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                         const std::vector<Certificate>& roots,
                         std::chrono::system_clock::time_point at);

// Who a policy expects to have signed: one rule for the subject and one for the issuer, each an
// exact value or a regular expression (cosign's --certificate-identity[-regexp] and
// --certificate-oidc-issuer[-regexp]).
//
// Regular expressions are searched for, not matched whole, as Go's regexp.MatchString does in
// cosign and sigstore-go: "acme" matches "https://github.com/acme-evil/…". Anchor them with ^…$.
// They are ECMAScript (std::regex); what RE2 and ECMAScript read differently is refused rather
// than misread: groups such as (?i), (?P<name>…) or look-arounds (any (?… but (?:…), and escapes
// of letters or digits other than \d \D \w \W \s \S \b \B \f \n \r \t \v \x (\A, \z, \pL,
// back-references). A subject over 4 KiB is never matched by a regexp.
struct CertificateIdentity {
  std::string subject;
  std::string subjectRegExp;
  std::string issuer;
  std::string issuerRegExp;

  // "subject \"ci@example.com\" with issuer matching /^https://…$/", for messages.
  std::string describe() const;
};

// Invalid, about the field at fault (under `field`, "spec.verify.identities[0]" say), unless the
// identity has exactly one subject rule and exactly one issuer rule (cosign requires both; given
// both an exact value and a regexp it would silently use the regexp, MC refuses the ambiguity)
// and each regexp compiles.
Result<void> validateIdentity(const CertificateIdentity& identity, std::string_view field = "");

// Whether `certificate` is of `identity`: the subject rule matches one of its subjects() and the
// issuer rule its oidcIssuer(). Terminal naming what the certificate has when it does not (both
// sides, when both differ); Invalid as validateIdentity.
Result<void> matchIdentity(const Certificate& certificate, const CertificateIdentity& identity);

}  // namespace mc::signing
