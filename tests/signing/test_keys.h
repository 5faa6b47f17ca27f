#pragma once

// Keys made by the tests with OpenSSL, as `cosign generate-key-pair` or `cosign import-key-pair`
// would hold them: the private half signs, the public half is a PEM.
#include <openssl/bio.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>

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

}  // namespace mc::signing
