#include "mc/signing/public_key.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "mc/runtime/secret.h"
#include "mc/signing/digest.h"
#include "openssl_owners.h"

namespace mc::signing {
namespace {

// RSA sizes MC accepts: sigstore's algorithm registry has 2048 to 4096; larger keys are
// allowed up to a bound that keeps one check cheap.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr size_t kEd25519SignatureSize = 64;

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

Error invalidKey(std::string_view name, std::string_view problem) {
  return makeError(ErrorKind::Invalid, name.empty()
                                           ? fmt::format("public key: {}", problem)
                                           : fmt::format("public key \"{}\": {}", name, problem));
}

// Decodes DER that must be consumed whole (Go's parsers refuse trailing bytes too).
template <class Decode>
PkeyPtr decodeWhole(const unsigned char* data, long length, Decode decode) {
  const unsigned char* cursor = data;
  PkeyPtr key(decode(&cursor, length));
  if (key && cursor != data + length) {
    return nullptr;
  }
  return key;
}

Result<std::pair<KeyAlgorithm, int>> classify(EVP_PKEY* key, std::string_view name) {
  int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t length = 0;
      if (EVP_PKEY_get_group_name(key, group, sizeof(group), &length) != 1) {
        return invalidKey(name, "an EC key without a named curve (MC takes P-256, P-384, P-521)");
      }
      std::string_view curve(group, length);
      if (curve == "prime256v1" || curve == "P-256") {
        return std::pair{KeyAlgorithm::EcdsaP256, bits};
      }
      if (curve == "secp384r1" || curve == "P-384") {
        return std::pair{KeyAlgorithm::EcdsaP384, bits};
      }
      if (curve == "secp521r1" || curve == "P-521") {
        return std::pair{KeyAlgorithm::EcdsaP521, bits};
      }
      return invalidKey(name,
                        fmt::format("EC curve {} is not supported (P-256, P-384, P-521)", curve));
    }
    case EVP_PKEY_RSA:
      if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        return invalidKey(name, fmt::format("an RSA key of {} bits; MC takes {} to {} bits", bits,
                                            kMinRsaBits, kMaxRsaBits));
      }
      return std::pair{KeyAlgorithm::Rsa, bits};
    case EVP_PKEY_ED25519:
      return std::pair{KeyAlgorithm::Ed25519, bits};
    default:
      return invalidKey(name, fmt::format("key type {} is not supported (ECDSA P-256/P-384/P-521, "
                                          "RSA, Ed25519)",
                                          OBJ_nid2sn(EVP_PKEY_get_base_id(key))));
  }
}

std::string fingerprintOf(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key, &der);
  if (length <= 0) {
    return {};
  }
  OpensslPtr<unsigned char> owned(der);
  return digestOf(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(length)));
}

// 1: verified; 0: refused; <0: OpenSSL could not even check it (a malformed signature).
int verifyWith(EVP_PKEY* key, const EVP_MD* md, std::string_view payload,
               std::string_view signature) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) {
    return -1;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(payload.data()),
                          payload.size());
}

}  // namespace

struct PublicKey::Impl {
  PkeyPtr key;
  KeyAlgorithm algorithm = KeyAlgorithm::EcdsaP256;
  int bits = 0;
  std::string fingerprint;
  std::string name;
};

std::string_view toString(KeyAlgorithm algorithm) {
  switch (algorithm) {
    case KeyAlgorithm::EcdsaP256:
      return "ECDSA P-256 with SHA-256";
    case KeyAlgorithm::EcdsaP384:
      return "ECDSA P-384 with SHA-384";
    case KeyAlgorithm::EcdsaP521:
      return "ECDSA P-521 with SHA-512";
    case KeyAlgorithm::Rsa:
      return "RSA PKCS#1 v1.5 with SHA-256";
    case KeyAlgorithm::Ed25519:
      return "Ed25519";
  }
  return "unknown";
}

PublicKey::PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<PublicKey> PublicKey::fromPem(std::string_view pem, std::string name) {
  ClearErrorsOnExit clearErrors;
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return invalidKey(name, "too large to be a PEM public key");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return makeError(ErrorKind::Transient, "out of memory reading a public key");
  }
  char* rawType = nullptr;
  char* rawHeader = nullptr;
  unsigned char* rawData = nullptr;
  long length = 0;
  int read = PEM_read_bio(bio.get(), &rawType, &rawHeader, &rawData, &length);
  OpensslPtr<char> type(rawType);
  OpensslPtr<char> header(rawHeader);
  OpensslPtr<unsigned char> data(rawData);
  if (read != 1) {
    return invalidKey(
        name, "no well-formed PEM block found (want -----BEGIN PUBLIC KEY-----, as in cosign.pub)");
  }
  std::string_view blockType(type.get());
  PkeyPtr key;
  if (blockType == "PUBLIC KEY") {
    key = decodeWhole(data.get(), length, [](const unsigned char** cursor, long size) {
      return d2i_PUBKEY(nullptr, cursor, size);
    });
  } else if (blockType == "RSA PUBLIC KEY") {
    key = decodeWhole(data.get(), length, [](const unsigned char** cursor, long size) {
      return d2i_PublicKey(EVP_PKEY_RSA, nullptr, cursor, size);
    });
  } else {
    return invalidKey(name, fmt::format("a PEM block of type \"{}\"; cosign's keys are \"PUBLIC "
                                        "KEY\" blocks",
                                        blockType));
  }
  if (!key) {
    return invalidKey(name,
                      fmt::format("the \"{}\" block does not hold a valid public key", blockType));
  }
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  impl->name = std::move(name);
  return fromDecoded(std::move(impl));
}

Result<PublicKey> PublicKey::fromSpkiDer(std::string_view der, std::string name) {
  ClearErrorsOnExit clearErrors;
  if (der.empty()) {
    return invalidKey(name, "no key: the SubjectPublicKeyInfo is empty");
  }
  if (der.size() > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return invalidKey(name, "too large to be a public key");
  }
  PkeyPtr key = decodeWhole(
      reinterpret_cast<const unsigned char*>(der.data()), static_cast<long>(der.size()),
      [](const unsigned char** cursor, long size) { return d2i_PUBKEY(nullptr, cursor, size); });
  if (!key) {
    return invalidKey(name, "not a well-formed DER SubjectPublicKeyInfo");
  }
  auto impl = std::make_shared<Impl>();
  impl->key = std::move(key);
  impl->name = std::move(name);
  return fromDecoded(std::move(impl));
}

Result<PublicKey> PublicKey::fromDecoded(std::shared_ptr<Impl> impl) {
  auto kind = classify(impl->key.get(), impl->name);
  if (!kind) {
    return kind.error();
  }
  impl->algorithm = kind->first;
  impl->bits = kind->second;
  impl->fingerprint = fingerprintOf(impl->key.get());
  return PublicKey(std::move(impl));
}

KeyAlgorithm PublicKey::algorithm() const { return impl_->algorithm; }
int PublicKey::bits() const { return impl_->bits; }
const std::string& PublicKey::fingerprint() const { return impl_->fingerprint; }
const std::string& PublicKey::name() const { return impl_->name; }

std::string PublicKey::describe() const {
  return impl_->name.empty() ? fmt::format("key {}", impl_->fingerprint)
                             : fmt::format("key \"{}\" ({})", impl_->name, impl_->fingerprint);
}

SignatureVerdict PublicKey::verify(std::string_view payload,
                                   std::string_view signatureBase64) const {
  if (signatureBase64.empty()) {
    return {false, fmt::format("the signature is empty; nothing to check with {}", describe())};
  }
  auto signature = kube::base64Decode(signatureBase64);
  if (!signature) {
    return {false,
            "the signature is not base64 (cosign writes it base64 in the layer's "
            "dev.cosignproject.cosign/signature annotation)"};
  }
  return verifyBytes(payload, *signature);
}

SignatureVerdict PublicKey::verifyBytes(std::string_view payload,
                                        std::string_view signature) const {
  ClearErrorsOnExit clearErrors;
  if (signature.empty()) {
    return {false, fmt::format("the signature is empty; nothing to check with {}", describe())};
  }
  auto algorithm = impl_->algorithm;
  if (algorithm == KeyAlgorithm::Ed25519 && signature.size() != kEd25519SignatureSize) {
    return {false, fmt::format("signature does not verify with {}: an Ed25519 signature is {} "
                               "bytes, this one is {}",
                               describe(), kEd25519SignatureSize, signature.size())};
  }
  const EVP_MD* md = nullptr;
  switch (algorithm) {
    case KeyAlgorithm::EcdsaP256:
    case KeyAlgorithm::Rsa:
      md = EVP_sha256();
      break;
    case KeyAlgorithm::EcdsaP384:
      md = EVP_sha384();
      break;
    case KeyAlgorithm::EcdsaP521:
      md = EVP_sha512();
      break;
    case KeyAlgorithm::Ed25519:
      md = nullptr;  // pure Ed25519 hashes inside the scheme
      break;
  }
  EVP_PKEY* key = impl_->key.get();
  int result = verifyWith(key, md, payload, signature);
  if (result == 1) {
    return {true, fmt::format("verified with {} ({})", describe(), toString(algorithm))};
  }
  if (algorithm == KeyAlgorithm::EcdsaP384 || algorithm == KeyAlgorithm::EcdsaP521) {
    int compat = verifyWith(key, EVP_sha256(), payload, signature);
    if (compat == 1) {
      return {true, fmt::format("verified with {} (ECDSA P-{} with SHA-256, cosign's default "
                                "digest)",
                                describe(), algorithm == KeyAlgorithm::EcdsaP384 ? 384 : 521)};
    }
    result = std::max(result, compat);
  }
  if (result < 0) {
    return {false, fmt::format("signature does not verify with {}: it is not a well-formed {} "
                               "signature ({} bytes); was it made with another kind of key?",
                               describe(), toString(algorithm), signature.size())};
  }
  return {false, fmt::format("signature does not verify with {} ({}): the payload was signed by "
                             "another key, or changed since it was signed",
                             describe(), toString(algorithm))};
}

Result<std::string> publicKeyFingerprint(std::string_view pem) {
  auto key = PublicKey::fromPem(pem);
  if (!key) {
    return key.error();
  }
  return key->fingerprint();
}

}  // namespace mc::signing
