#include "test_timestamps.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "mc/runtime/secret.h"

namespace mc::signing::witnesses {
namespace {

struct TsReqFree {
  void operator()(TS_REQ* request) const { TS_REQ_free(request); }
};
struct TsRespFree {
  void operator()(TS_RESP* response) const { TS_RESP_free(response); }
};
struct TsRespCtxFree {
  void operator()(TS_RESP_CTX* ctx) const { TS_RESP_CTX_free(ctx); }
};
struct TsMsgImprintFree {
  void operator()(TS_MSG_IMPRINT* imprint) const { TS_MSG_IMPRINT_free(imprint); }
};
struct X509AlgorFree {
  void operator()(X509_ALGOR* algorithm) const { X509_ALGOR_free(algorithm); }
};
struct Asn1ObjectFree {
  void operator()(ASN1_OBJECT* object) const { ASN1_OBJECT_free(object); }
};
using TsReqPtr = std::unique_ptr<TS_REQ, TsReqFree>;
using TsRespPtr = std::unique_ptr<TS_RESP, TsRespFree>;
using TsRespCtxPtr = std::unique_ptr<TS_RESP_CTX, TsRespCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string bioText(BIO* bio) {
  char* data = nullptr;
  long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(length));
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  ASSERT_NE(extension, nullptr) << value;
  EXPECT_EQ(X509_add_ext(cert, extension, -1), 1);
  X509_EXTENSION_free(extension);
}

TsRespPtr decodeResponse(std::string_view der) {
  auto cursor = reinterpret_cast<const unsigned char*>(der.data());
  TsRespPtr response(d2i_TS_RESP(nullptr, &cursor, static_cast<long>(der.size())));
  EXPECT_TRUE(response);
  return response;
}

std::string encodeResponse(TS_RESP* response) {
  unsigned char* der = nullptr;
  int length = i2d_TS_RESP(response, &der);
  EXPECT_GT(length, 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

// TS_RESP_CTX asks the time of this callback; `data` is the std::time_t to answer.
int fixedTime(TS_RESP_CTX*, void* data, long* seconds, long* microseconds) {
  *seconds = static_cast<long>(*static_cast<const std::time_t*>(data));
  *microseconds = 0;
  return 1;
}

std::string b64(std::string_view bytes) { return kube::base64Encode(bytes); }

size_t splitPoint(size_t n) {
  size_t k = 1;
  while (k * 2 < n) {
    k *= 2;
  }
  return k;
}

std::string leafHash(std::string_view leaf) {
  return sha256Bytes(std::string(1, '\0') + std::string(leaf));
}

std::string nodeHash(std::string_view left, std::string_view right) {
  return sha256Bytes(std::string(1, '\x01') + std::string(left) + std::string(right));
}

// RFC 6962 2.1: MTH(D[n]).
std::string treeHash(const std::vector<std::string>& leaves, size_t begin, size_t end) {
  if (end - begin == 1) {
    return leafHash(leaves[begin]);
  }
  size_t k = splitPoint(end - begin);
  return nodeHash(treeHash(leaves, begin, begin + k), treeHash(leaves, begin + k, end));
}

// RFC 6962 2.1.1: PATH(m, D[n]).
void auditPath(const std::vector<std::string>& leaves, size_t m, size_t begin, size_t end,
               std::vector<std::string>& out) {
  if (end - begin == 1) {
    return;
  }
  size_t k = splitPoint(end - begin);
  if (m < k) {
    auditPath(leaves, m, begin, begin + k, out);
    out.push_back(treeHash(leaves, begin + k, end));
  } else {
    auditPath(leaves, m - k, begin + k, end, out);
    out.push_back(treeHash(leaves, begin, begin + k));
  }
}

}  // namespace

std::string IssuedCert::pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_X509(bio.get(), cert.get()), 1);
  return bioText(bio.get());
}

IssuedCert issue(const CertSpec& spec, const IssuedCert* issuer) {
  static long serial = 1000;
  IssuedCert out{X509Ptr(X509_new()), generate("EC", "P-256")};
  X509* cert = out.cert.get();
  EXPECT_EQ(X509_set_version(cert, 2), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), ++serial);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.commonName.c_str()), -1,
                             -1, 0);
  X509* signerCert = issuer != nullptr ? issuer->cert.get() : cert;
  EXPECT_EQ(X509_set_issuer_name(cert, X509_get_subject_name(signerCert)), 1);
  ASN1_TIME_set(X509_getm_notBefore(cert), spec.notBefore);
  ASN1_TIME_set(X509_getm_notAfter(cert), spec.notAfter);
  EXPECT_EQ(X509_set_pubkey(cert, out.key.key.get()), 1);
  if (spec.ca) {
    addExtension(cert, signerCert, NID_basic_constraints, "critical,CA:TRUE");
    addExtension(cert, signerCert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert, signerCert, NID_basic_constraints, "critical,CA:FALSE");
    addExtension(cert, signerCert, NID_key_usage, "critical,digitalSignature");
  }
  switch (spec.eku) {
    case CertSpec::Eku::None:
      break;
    case CertSpec::Eku::TimeStamping:
      addExtension(cert, signerCert, NID_ext_key_usage, "critical,timeStamping");
      break;
    case CertSpec::Eku::TimeStampingNotCritical:
      addExtension(cert, signerCert, NID_ext_key_usage, "timeStamping");
      break;
    case CertSpec::Eku::CodeSigning:
      addExtension(cert, signerCert, NID_ext_key_usage, "codeSigning");
      break;
  }
  EVP_PKEY* signingKey = issuer != nullptr ? issuer->key.key.get() : out.key.key.get();
  EXPECT_GT(X509_sign(cert, signingKey, EVP_sha256()), 0);
  return out;
}

std::string Tsa::chainPem() const { return leaf.pem() + root.pem(); }

Tsa makeTsa(std::string_view name, std::time_t notBefore, std::time_t notAfter) {
  Tsa tsa;
  tsa.root = issue({fmt::format("{} root", name), notBefore, notAfter, true}, nullptr);
  tsa.leaf = issue({fmt::format("{} timestamping", name), notBefore, notAfter, false,
                    CertSpec::Eku::TimeStamping},
                   &tsa.root);
  return tsa;
}

std::string timestampResponse(const IssuedCert& signer, std::string_view bytes, std::time_t genTime,
                              const TimestampRequest& request) {
  // The request: version 1, the imprint of `bytes`, certReq.
  TsReqPtr tsReq(TS_REQ_new());
  EXPECT_EQ(TS_REQ_set_version(tsReq.get(), 1), 1);
  std::unique_ptr<X509_ALGOR, X509AlgorFree> algorithm(X509_ALGOR_new());
  X509_ALGOR_set_md(algorithm.get(), request.imprintMd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &length, request.imprintMd, nullptr), 1);
  std::unique_ptr<TS_MSG_IMPRINT, TsMsgImprintFree> imprint(TS_MSG_IMPRINT_new());
  EXPECT_EQ(TS_MSG_IMPRINT_set_algo(imprint.get(), algorithm.get()), 1);
  EXPECT_EQ(TS_MSG_IMPRINT_set_msg(imprint.get(), digest, static_cast<int>(length)), 1);
  EXPECT_EQ(TS_REQ_set_msg_imprint(tsReq.get(), imprint.get()), 1);
  EXPECT_EQ(TS_REQ_set_cert_req(tsReq.get(), request.certReq ? 1 : 0), 1);
  BioPtr requestDer(BIO_new(BIO_s_mem()));
  EXPECT_EQ(i2d_TS_REQ_bio(requestDer.get(), tsReq.get()), 1);

  // The TSA: its leaf and key, a policy, the hashes it takes, and the clock the test chose.
  TsRespCtxPtr ctx(TS_RESP_CTX_new());
  EXPECT_EQ(TS_RESP_CTX_set_signer_cert(ctx.get(), signer.cert.get()), 1);
  EXPECT_EQ(TS_RESP_CTX_set_signer_key(ctx.get(), signer.key.key.get()), 1);
  std::unique_ptr<ASN1_OBJECT, Asn1ObjectFree> policy(OBJ_txt2obj("1.3.6.1.4.1.57264.2", 1));
  EXPECT_EQ(TS_RESP_CTX_set_def_policy(ctx.get(), policy.get()), 1);
  for (const EVP_MD* md : request.accepted) {
    EXPECT_EQ(TS_RESP_CTX_add_md(ctx.get(), md), 1);
  }
  std::time_t at = genTime;
  TS_RESP_CTX_set_time_cb(ctx.get(), fixedTime, &at);
  TsRespPtr response(TS_RESP_create_response(ctx.get(), requestDer.get()));
  EXPECT_TRUE(response);
  return response ? encodeResponse(response.get()) : std::string();
}

std::string bareToken(std::string_view responseDer) {
  auto response = decodeResponse(responseDer);
  unsigned char* der = nullptr;
  int length = i2d_PKCS7(TS_RESP_get_token(response.get()), &der);
  EXPECT_GT(length, 0);
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::string withTamperedSignature(std::string_view responseDer) {
  auto response = decodeResponse(responseDer);
  STACK_OF(PKCS7_SIGNER_INFO)* signers = PKCS7_get_signer_info(TS_RESP_get_token(response.get()));
  EXPECT_EQ(sk_PKCS7_SIGNER_INFO_num(signers), 1);
  ASN1_OCTET_STRING* signature = sk_PKCS7_SIGNER_INFO_value(signers, 0)->enc_digest;
  // The last byte of an ECDSA signature's DER is the end of s: flipping it keeps the DER valid.
  std::string bytes(reinterpret_cast<const char*>(ASN1_STRING_get0_data(signature)),
                    static_cast<size_t>(ASN1_STRING_length(signature)));
  bytes.back() = static_cast<char>(bytes.back() ^ 0x01);
  EXPECT_EQ(ASN1_STRING_set(signature, bytes.data(), static_cast<int>(bytes.size())), 1);
  return encodeResponse(response.get());
}

std::string sha256Bytes(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr), 1);
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string hex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    out += fmt::format("{:02x}", c);
  }
  return out;
}

std::string logIdOf(const KeyPair& key) { return sha256Bytes(key.publicDer()); }

std::string hashedRekordBody(std::string_view signature, std::string_view payload,
                             std::string_view publicKeyPem) {
  return fmt::format(
      R"({{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}})",
      hex(sha256Bytes(payload)), b64(signature), b64(publicKeyPem));
}

std::string dsseBody(std::string_view signature, std::string_view payload,
                     std::string_view verifierPem) {
  return fmt::format(
      R"({{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"payloadHash":{{"algorithm":"sha256","value":"{}"}},"signatures":[{{"signature":"{}","verifier":"{}"}}]}}}})",
      hex(sha256Bytes("envelope")), hex(sha256Bytes(payload)), b64(signature), b64(verifierPem));
}

std::string signEntryTimestamp(const KeyPair& logKey, std::string_view body, int64_t integratedTime,
                               std::string_view logId, int64_t logIndex) {
  // rekor's VerifySignedEntryTimestamp: JCS of {body (base64), integratedTime, logID (hex),
  // logIndex}, keys in code-point order.
  std::string payload =
      fmt::format(R"({{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}})", b64(body),
                  integratedTime, hex(logId), logIndex);
  return logKey.sign(payload, EVP_sha256());
}

std::string MerkleTree::root() const { return treeHash(leaves, 0, leaves.size()); }

std::vector<std::string> MerkleTree::inclusionProof(size_t index) const {
  std::vector<std::string> path;
  auditPath(leaves, index, 0, leaves.size(), path);
  return path;
}

std::string signedCheckpoint(const KeyPair& signer, const KeyPair& hintKey, uint64_t treeSize,
                             std::string_view rootHash) {
  std::string text =
      fmt::format("rekor.test - 1193050959916656506\n{}\n{}\nTimestamp: 1700000000000000000\n",
                  treeSize, b64(rootHash));
  std::string hint = logIdOf(hintKey).substr(0, 4);
  std::string signature = signer.sign(text, EVP_sha256());
  return fmt::format("{}\n\u2014 rekor.test {}\n", text, b64(hint + signature));
}

}  // namespace mc::signing::witnesses
