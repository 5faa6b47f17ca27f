#include "test_keys.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace mc::signing {
namespace {

struct CtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

std::string KeyPair::publicPem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key.get()), 1);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

std::string KeyPair::publicDer() const {
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(key.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::string KeyPair::sign(std::string_view payload, const EVP_MD* md, bool pss) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, key.get()), 1);
  if (pss) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
  }
  size_t length = 0;
  auto data = reinterpret_cast<const unsigned char*>(payload.data());
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &length, data, payload.size()), 1);
  std::string signature(length, '\0');
  EXPECT_EQ(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                           data, payload.size()),
            1);
  signature.resize(length);
  return signature;
}

KeyPair generate(const char* type, const char* curve, unsigned bits) {
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EXPECT_TRUE(ctx);
  EXPECT_EQ(EVP_PKEY_keygen_init(ctx.get()), 1);
  if (curve != nullptr) {
    EXPECT_EQ(EVP_PKEY_CTX_set_group_name(ctx.get(), curve), 1);
  }
  if (bits != 0) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(bits)), 1);
  }
  EVP_PKEY* key = nullptr;
  EXPECT_EQ(EVP_PKEY_keygen(ctx.get(), &key), 1);
  return KeyPair{PkeyPtr(key)};
}

std::string derUtf8String(std::string_view text) {
  std::unique_ptr<ASN1_UTF8STRING, decltype(&ASN1_UTF8STRING_free)> string(ASN1_UTF8STRING_new(),
                                                                           ASN1_UTF8STRING_free);
  EXPECT_EQ(ASN1_STRING_set(string.get(), text.data(), static_cast<int>(text.size())), 1);
  unsigned char* der = nullptr;
  int length = i2d_ASN1_UTF8STRING(string.get(), &der);
  EXPECT_GT(length, 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::string TestCert::der() const {
  unsigned char* der = nullptr;
  int length = i2d_X509(cert.get(), &der);
  EXPECT_GT(length, 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::string TestCert::pem() const {
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_X509(bio.get(), cert.get()), 1);
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(length));
}

TestCert issueCertificate(const CertSpec& spec, const TestCert* issuer, const KeyPair* signWith) {
  TestCert out{X509Ptr(X509_new()), generate("EC", "P-256")};
  X509* cert = out.cert.get();
  EXPECT_EQ(X509_set_version(cert, X509_VERSION_3), 1);
  EXPECT_EQ(ASN1_INTEGER_set(X509_get_serialNumber(cert), spec.serial), 1);
  using Clock = std::chrono::system_clock;
  EXPECT_TRUE(ASN1_TIME_set(X509_getm_notBefore(cert), Clock::to_time_t(spec.notBefore)));
  EXPECT_TRUE(ASN1_TIME_set(X509_getm_notAfter(cert), Clock::to_time_t(spec.notAfter)));
  EXPECT_EQ(X509_set_pubkey(cert, out.key.key.get()), 1);
  X509_NAME* subject = X509_get_subject_name(cert);
  if (!spec.commonName.empty()) {
    EXPECT_EQ(X509_NAME_add_entry_by_txt(
                  subject, "CN", MBSTRING_UTF8,
                  reinterpret_cast<const unsigned char*>(spec.commonName.c_str()), -1, -1, 0),
              1);
  }
  X509* issuerCert = issuer != nullptr ? issuer->cert.get() : cert;
  EXPECT_EQ(X509_set_issuer_name(cert, X509_get_subject_name(issuerCert)), 1);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuerCert, cert, nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    ASSERT_NE(extension, nullptr) << value;
    EXPECT_EQ(X509_add_ext(cert, extension, -1), 1);
    X509_EXTENSION_free(extension);
  };
  auto join = [](const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& part : parts) {
      out += (out.empty() ? "" : ",") + part;
    }
    return out;
  };
  add(NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add(NID_key_usage, spec.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add(NID_subject_key_identifier, "hash");
  add(NID_authority_key_identifier, "keyid:always");
  if (!spec.subjectAltNames.empty()) {
    // Fulcio's leaves have no subject name, so their SAN is critical (RFC 5280 4.2.1.6).
    add(NID_subject_alt_name,
        (spec.commonName.empty() ? "critical," : "") + join(spec.subjectAltNames));
  }
  if (!spec.extendedKeyUsages.empty()) {
    add(NID_ext_key_usage, join(spec.extendedKeyUsages));
  }
  for (const auto& [oid, value] : spec.extensions) {
    std::unique_ptr<ASN1_OBJECT, decltype(&ASN1_OBJECT_free)> object(OBJ_txt2obj(oid.c_str(), 1),
                                                                     ASN1_OBJECT_free);
    std::unique_ptr<ASN1_OCTET_STRING, decltype(&ASN1_OCTET_STRING_free)> data(
        ASN1_OCTET_STRING_new(), ASN1_OCTET_STRING_free);
    EXPECT_EQ(
        ASN1_OCTET_STRING_set(data.get(), reinterpret_cast<const unsigned char*>(value.data()),
                              static_cast<int>(value.size())),
        1);
    X509_EXTENSION* extension = X509_EXTENSION_create_by_OBJ(nullptr, object.get(), 0, data.get());
    EXPECT_NE(extension, nullptr);
    EXPECT_EQ(X509_add_ext(cert, extension, -1), 1);
    X509_EXTENSION_free(extension);
  }
  const KeyPair& signer = signWith != nullptr ? *signWith
                          : issuer != nullptr ? issuer->key
                                              : out.key;
  EXPECT_GT(X509_sign(cert, signer.key.get(), EVP_sha256()), 0);
  return out;
}

}  // namespace mc::signing
