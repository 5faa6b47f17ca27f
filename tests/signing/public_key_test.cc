#include "mc/signing/public_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "mc/runtime/secret.h"
#include "mc/signing/cosign.h"
#include "mc/signing/digest.h"
#include "test_keys.h"

namespace mc::signing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// PEM armour around DER, 64 characters a line.
std::string pemOf(std::string_view type, std::string_view der) {
  auto base64 = kube::base64Encode(der);
  std::string out = "-----BEGIN " + std::string(type) + "-----\n";
  for (size_t i = 0; i < base64.size(); i += 64) {
    out += base64.substr(i, 64) + "\n";
  }
  return out + "-----END " + std::string(type) + "-----\n";
}

const std::string kPayload =
    R"({"critical":{"identity":{"docker-reference":"registry.local/app"},"image":)"
    R"({"docker-manifest-digest":)"
    R"("sha256:4f1d0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7"},)"
    R"("type":"cosign container image signature"},"optional":null})";

struct KeyCase {
  const char* name;
  const char* type;
  const char* curve;
  unsigned bits;
  const EVP_MD* (*md)();  // the digest cosign signs with for this key; null for Ed25519
  KeyAlgorithm algorithm;
  int expectedBits;
};

// gtest names a failing case by this rather than by its bytes.
void PrintTo(const KeyCase& c, std::ostream* os) { *os << c.name; }

const EVP_MD* noDigest() { return nullptr; }

const std::vector<KeyCase>& keyCases() {
  static const std::vector<KeyCase> cases{
      {"ecdsa-p256", "EC", "P-256", 0, EVP_sha256, KeyAlgorithm::EcdsaP256, 256},
      {"ecdsa-p384", "EC", "P-384", 0, EVP_sha384, KeyAlgorithm::EcdsaP384, 384},
      {"ecdsa-p521", "EC", "P-521", 0, EVP_sha512, KeyAlgorithm::EcdsaP521, 521},
      {"rsa-2048", "RSA", nullptr, 2048, EVP_sha256, KeyAlgorithm::Rsa, 2048},
      {"ed25519", "ED25519", nullptr, 0, noDigest, KeyAlgorithm::Ed25519, 256},
  };
  return cases;
}

class SignatureCheck : public ::testing::TestWithParam<KeyCase> {
 protected:
  // Two key pairs of the case's kind, made once per kind (RSA generation takes a while).
  static const KeyPair& signer(const KeyCase& c) { return pairs(c).first; }
  static const KeyPair& stranger(const KeyCase& c) { return pairs(c).second; }

 private:
  static const std::pair<KeyPair, KeyPair>& pairs(const KeyCase& c) {
    static std::map<std::string, std::pair<KeyPair, KeyPair>> made;
    auto found = made.find(c.name);
    if (found == made.end()) {
      found = made.emplace(c.name, std::pair{generate(c.type, c.curve, c.bits),
                                             generate(c.type, c.curve, c.bits)})
                  .first;
    }
    return found->second;
  }
};

TEST_P(SignatureCheck, TheRightKeyVerifies) {
  const auto& c = GetParam();
  auto key = PublicKey::fromPem(signer(c).publicPem(), "default/cosign-key cosign.pub");
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_EQ(key->algorithm(), c.algorithm);
  EXPECT_EQ(key->bits(), c.expectedBits);
  EXPECT_EQ(key->fingerprint(), digestOf(signer(c).publicDer()));
  EXPECT_EQ(*publicKeyFingerprint(signer(c).publicPem()), key->fingerprint());
  EXPECT_THAT(key->describe(), HasSubstr("default/cosign-key cosign.pub"));

  auto signature = kube::base64Encode(signer(c).sign(kPayload, c.md()));
  auto verdict = key->verify(kPayload, signature);
  EXPECT_TRUE(verdict) << verdict.reason;
  EXPECT_THAT(verdict.reason, HasSubstr("verified with"));
}

TEST_P(SignatureCheck, EverythingElseIsRefusedWithAReason) {
  const auto& c = GetParam();
  auto key = PublicKey::fromPem(signer(c).publicPem());
  auto wrongKey = PublicKey::fromPem(stranger(c).publicPem(), "other.pub");
  ASSERT_TRUE(key && wrongKey);
  const std::string raw = signer(c).sign(kPayload, c.md());
  const std::string signature = kube::base64Encode(raw);

  auto byStranger = wrongKey->verify(kPayload, signature);
  EXPECT_FALSE(byStranger);
  EXPECT_THAT(byStranger.reason, HasSubstr("does not verify with key \"other.pub\""));
  EXPECT_THAT(byStranger.reason, HasSubstr(wrongKey->fingerprint()));

  for (size_t at : {size_t{0}, kPayload.size() / 2, kPayload.size() - 1}) {
    std::string changed = kPayload;
    changed[at] ^= 0x01;
    auto verdict = key->verify(changed, signature);
    EXPECT_FALSE(verdict) << "byte " << at;
    EXPECT_THAT(verdict.reason, HasSubstr("does not verify with key " + key->fingerprint()));
  }
  EXPECT_FALSE(key->verify(kPayload + " ", signature));

  auto truncated = key->verifyBytes(kPayload, raw.substr(0, raw.size() - 1));
  EXPECT_FALSE(truncated);
  EXPECT_THAT(truncated.reason, HasSubstr("does not verify"));
  EXPECT_FALSE(key->verifyBytes(kPayload, raw.substr(0, raw.size() / 2)));
  EXPECT_FALSE(key->verifyBytes(kPayload, raw + '\0'));

  auto empty = key->verify(kPayload, "");
  EXPECT_FALSE(empty);
  EXPECT_THAT(empty.reason, HasSubstr("empty"));
  EXPECT_FALSE(key->verifyBytes(kPayload, ""));

  for (const char* garbage : {"!!!not base64!!!", "abc", "YWJj=ZGVm"}) {
    auto verdict = key->verify(kPayload, garbage);
    EXPECT_FALSE(verdict) << garbage;
  }
  EXPECT_THAT(key->verify(kPayload, "!!!not base64!!!").reason, HasSubstr("not base64"));
}

TEST_P(SignatureCheck, RandomBytesNeverVerifyNorCrash) {
  const auto& c = GetParam();
  auto key = PublicKey::fromPem(signer(c).publicPem());
  ASSERT_TRUE(key);
  std::mt19937 random(42);
  for (size_t length : {1, 2, 8, 63, 64, 65, 70, 71, 72, 103, 104, 132, 139, 255, 256, 257, 600}) {
    std::string bytes(length, '\0');
    for (auto& b : bytes) {
      b = static_cast<char>(random() & 0xff);
    }
    auto verdict = key->verifyBytes(kPayload, bytes);
    EXPECT_FALSE(verdict) << length;
    EXPECT_FALSE(verdict.reason.empty());
    // A DER SEQUENCE header in front, so ECDSA parsing gets further in.
    bytes[0] = 0x30;
    if (length > 1) {
      bytes[1] = static_cast<char>(length - 2);
    }
    EXPECT_FALSE(key->verifyBytes(kPayload, bytes)) << length;
  }
}

INSTANTIATE_TEST_SUITE_P(KeyTypes, SignatureCheck, ::testing::ValuesIn(keyCases()),
                         [](const auto& info) {
                           std::string name = info.param.name;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(PublicKey, LargeCurvesAlsoAcceptSha256AsCosignVerifyDoes) {
  for (const char* curve : {"P-384", "P-521"}) {
    auto pair = generate("EC", curve);
    auto key = PublicKey::fromPem(pair.publicPem());
    ASSERT_TRUE(key);
    auto verdict = key->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha256()));
    EXPECT_TRUE(verdict) << curve << ": " << verdict.reason;
    EXPECT_THAT(verdict.reason, HasSubstr("SHA-256")) << curve;
    EXPECT_FALSE(key->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha1()))) << curve;
  }
  // P-256 is bound to SHA-256 alone.
  auto p256 = generate("EC", "P-256");
  auto key = PublicKey::fromPem(p256.publicPem());
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->verifyBytes(kPayload, p256.sign(kPayload, EVP_sha384())));
}

TEST(PublicKey, RsaTakesPkcs1v15WithSha256Only) {
  auto pair = generate("RSA", nullptr, 2048);
  auto key = PublicKey::fromPem(pair.publicPem());
  ASSERT_TRUE(key);
  EXPECT_TRUE(key->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha256())));
  EXPECT_FALSE(key->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha256(), /*pss=*/true)));
  EXPECT_FALSE(key->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha512())));

  // The same key as a PKCS#1 "RSA PUBLIC KEY" block, which sigstore reads too.
  std::unique_ptr<OSSL_ENCODER_CTX, decltype(&OSSL_ENCODER_CTX_free)> encoder(
      OSSL_ENCODER_CTX_new_for_pkey(pair.key.get(), EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific",
                                    nullptr),
      &OSSL_ENCODER_CTX_free);
  unsigned char* data = nullptr;
  size_t length = 0;
  ASSERT_EQ(OSSL_ENCODER_to_data(encoder.get(), &data, &length), 1);
  std::string pkcs1(reinterpret_cast<char*>(data), length);
  OPENSSL_free(data);
  ASSERT_THAT(pkcs1, StartsWith("-----BEGIN RSA PUBLIC KEY-----"));
  auto fromPkcs1 = PublicKey::fromPem(pkcs1);
  ASSERT_TRUE(fromPkcs1) << fromPkcs1.error().describe();
  EXPECT_EQ(fromPkcs1->fingerprint(), key->fingerprint());
  EXPECT_TRUE(fromPkcs1->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha256())));
}

TEST(PublicKey, SkipsTextBeforeTheFirstBlockAndTakesOnlyIt) {
  auto first = generate("EC", "P-256");
  auto second = generate("EC", "P-256");
  auto key = PublicKey::fromPem("cosign.pub from the release page\n" + first.publicPem() +
                                second.publicPem());
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_EQ(key->fingerprint(), digestOf(first.publicDer()));
}

TEST(PublicKey, RefusesWhatIsNotAKeyCosignUses) {
  auto p256 = generate("EC", "P-256");
  std::string pkix = p256.publicPem();
  std::string ecType = pkix;
  for (auto at = ecType.find("PUBLIC KEY"); at != std::string::npos;
       at = ecType.find("PUBLIC KEY", at + 13)) {
    ecType.replace(at, 10, "EC PUBLIC KEY");
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), p256.key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* privateData = nullptr;
  long privateLength = BIO_get_mem_data(bio.get(), &privateData);
  const std::string privatePem(privateData, static_cast<size_t>(privateLength));

  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "no well-formed PEM block"},
      {"not a key at all", "no well-formed PEM block"},
      {"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n", "no well-formed PEM block"},
      {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "does not hold a valid"},
      {"-----BEGIN PUBLIC KEY-----\n" + std::string(20, '!') + "\n-----END PUBLIC KEY-----\n",
       "no well-formed PEM block"},
      {pkix.substr(0, pkix.size() / 2), "no well-formed PEM block"},
      {ecType, "\"EC PUBLIC KEY\""},
      {privatePem, "\"PRIVATE KEY\""},
      {pemOf("CERTIFICATE", p256.publicDer()), "\"CERTIFICATE\""},
      {pemOf("PUBLIC KEY", p256.publicDer() + std::string(1, '\0')), "does not hold a valid"},
      {pemOf("PUBLIC KEY", p256.publicDer().substr(0, 40)), "does not hold a valid"},
      {generate("EC", "P-224").publicPem(), "curve secp224r1"},
      {generate("EC", "secp256k1").publicPem(), "curve secp256k1"},
      {generate("RSA", nullptr, 1024).publicPem(), "1024 bits"},
      {generate("ED448").publicPem(), "not supported"},
      {generate("X25519").publicPem(), "not supported"},
  };
  for (const auto& [pem, problem] : cases) {
    auto key = PublicKey::fromPem(pem, "ns/keys cosign.pub");
    ASSERT_FALSE(key) << pem;
    EXPECT_EQ(key.error().kind, ErrorKind::Invalid) << pem;
    EXPECT_THAT(key.error().message, HasSubstr(problem)) << pem;
    EXPECT_THAT(key.error().message, HasSubstr("ns/keys cosign.pub")) << pem;
    EXPECT_THAT(key.error().message, Not(HasSubstr("PRIVATE KEY-----"))) << pem;
  }
}

TEST(PublicKey, FromSpkiDerIsHeldToTheSameKeyTypes) {
  auto pair = generate("EC", "P-384");
  auto key = PublicKey::fromSpkiDer(pair.publicDer(), "a certificate");
  ASSERT_TRUE(key) << key.error().describe();
  EXPECT_EQ(key->algorithm(), KeyAlgorithm::EcdsaP384);
  EXPECT_EQ(key->fingerprint(), PublicKey::fromPem(pair.publicPem())->fingerprint());
  EXPECT_TRUE(key->verifyBytes(kPayload, pair.sign(kPayload, EVP_sha384())));

  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "empty"},
      {"not DER", "not a well-formed DER SubjectPublicKeyInfo"},
      {pair.publicDer() + std::string(1, '\0'), "not a well-formed DER SubjectPublicKeyInfo"},
      {pair.publicDer().substr(0, 40), "not a well-formed DER SubjectPublicKeyInfo"},
      {generate("EC", "P-224").publicDer(), "curve secp224r1"},
      {generate("RSA", nullptr, 1024).publicDer(), "1024 bits"},
  };
  for (const auto& [der, problem] : cases) {
    auto refused = PublicKey::fromSpkiDer(der, "a certificate");
    ASSERT_FALSE(refused) << problem;
    EXPECT_EQ(refused.error().kind, ErrorKind::Invalid) << problem;
    EXPECT_THAT(refused.error().message, HasSubstr(problem));
    EXPECT_THAT(refused.error().message, HasSubstr("\"a certificate\""));
  }
}

TEST(PublicKey, OneKeyChecksFromManyThreads) {
  auto pair = generate("EC", "P-256");
  auto key = PublicKey::fromPem(pair.publicPem());
  ASSERT_TRUE(key);
  const std::string good = pair.sign(kPayload, EVP_sha256());
  std::atomic<int> verified{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, copy = *key] {
      for (int i = 0; i < 25; ++i) {
        (copy.verifyBytes(kPayload, good) ? verified : refused)++;
        (copy.verifyBytes(kPayload + "x", good) ? verified : refused)++;
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(verified.load(), 100);
  EXPECT_EQ(refused.load(), 100);
}

// The whole cosign check on values: a layer's signature verifies over its payload, and the
// payload must name the digest being verified. A valid signature copied from another image
// verifies, and is caught by the digest it names.
TEST(CosignCheck, ASignedPayloadOfAnotherImageIsCaught) {
  auto pair = generate("EC", "P-256");
  auto key = PublicKey::fromPem(pair.publicPem(), "cosign.pub");
  ASSERT_TRUE(key);
  const std::string wanted =
      "sha256:1111111111111111111111111111111111111111111111111111111111111111";
  const std::string signedDigest =
      "sha256:4f1d0a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7";

  Manifest manifest;
  manifest.kind = ManifestKind::OciManifest;
  manifest.layers.push_back(Descriptor{
      std::string(kSimpleSigningMediaType),
      digestOf(kPayload),
      static_cast<int64_t>(kPayload.size()),
      {{std::string(kSignatureAnnotation), kube::base64Encode(pair.sign(kPayload, EVP_sha256()))}},
      std::nullopt,
      ""});
  auto layers = signatureLayers(manifest);
  ASSERT_TRUE(layers);
  const auto& layer = layers->layers.at(0);
  ASSERT_TRUE(verifyDigest(kPayload, layer.payloadDigest));
  ASSERT_TRUE(key->verify(kPayload, layer.signature));
  auto payload = parseSimpleSigningPayload(kPayload);
  ASSERT_TRUE(payload);
  EXPECT_TRUE(checkPayloadDigest(*payload, signedDigest));
  auto mismatch = checkPayloadDigest(*payload, wanted);
  ASSERT_FALSE(mismatch);
  EXPECT_THAT(mismatch.error().message, HasSubstr(signedDigest));
  EXPECT_THAT(mismatch.error().message, HasSubstr(wanted));
}

}  // namespace
}  // namespace mc::signing
