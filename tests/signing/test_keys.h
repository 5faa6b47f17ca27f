#pragma once

// Keys made by the tests with OpenSSL, as `cosign generate-key-pair` or `cosign import-key-pair`
// would hold them: the private half signs, the public half is a PEM. And certificates made with
// them, as a Fulcio-style CA issues them for keyless signing.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mc::signing {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};

struct KeyPair {
  PkeyPtr key;

  std::string publicPem() const;
  // The DER SubjectPublicKeyInfo, to check the fingerprint apart from the code under test.
  std::string publicDer() const;
  // A signature over `payload`; `md` null for Ed25519; `pss` for RSA-PSS instead of PKCS#1 v1.5.
  std::string sign(std::string_view payload, const EVP_MD* md, bool pss = false) const;
};

// EVP_PKEY_keygen for "EC" (with a curve), "RSA" (with bits) or "ED25519".
KeyPair generate(const char* type, const char* curve = nullptr, unsigned bits = 0);

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// Fulcio's issuer extensions, for CertSpec::extensions.
inline constexpr const char* kOidIssuerV1 = "1.3.6.1.4.1.57264.1.1";
inline constexpr const char* kOidIssuerV2 = "1.3.6.1.4.1.57264.1.8";

// What a test certificate says. The defaults are a Fulcio-like leaf: no subject name, a critical
// SAN, codeSigning, not a CA.
struct CertSpec {
  std::string commonName;  // subject CN; empty for none
  bool ca = false;
  // In OpenSSL's config syntax: "email:ci@example.com", "URI:https://…", "DNS:…", "IP:…",
  // "otherName:1.3.6.1.4.1.57264.1.7;UTF8:octocat".
  std::vector<std::string> subjectAltNames;
  // Short names ("codeSigning", "serverAuth"); empty for no extended key usage extension.
  std::vector<std::string> extendedKeyUsages{"codeSigning"};
  // Extensions with a raw value: {oid, the extension's value bytes}.
  std::vector<std::pair<std::string, std::string>> extensions;
  std::chrono::system_clock::time_point notBefore;
  std::chrono::system_clock::time_point notAfter;
  long serial = 1;
};

// A DER UTF8String, as Fulcio encodes its v2 extensions.
std::string derUtf8String(std::string_view text);

struct TestCert {
  X509Ptr cert;
  KeyPair key;  // the certificate's own key pair

  std::string der() const;
  std::string pem() const;
};

// A certificate for `spec` with a fresh P-256 key, issued by `issuer` (self-signed when null) and
// signed with `signWith` (the issuer's key when null: another key makes a forged signature).
TestCert issueCertificate(const CertSpec& spec, const TestCert* issuer = nullptr,
                          const KeyPair* signWith = nullptr);

}  // namespace mc::signing
