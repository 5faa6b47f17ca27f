#include "mc/signing/signing_time.h"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <limits>
#include <memory>

#include "mc/common/text.h"
#include "mc/common/timefmt.h"
#include "mc/runtime/hash.h"
#include "mc/runtime/secret.h"
#include "mc/signing/dsse.h"
#include "openssl_owners.h"

namespace mc::signing {
namespace {

namespace json = boost::json;

constexpr size_t kSha256Size = 32;
// A Rekor checkpoint's signature line starts with an em dash (U+2014) and a space.
constexpr std::string_view kNoteSignaturePrefix = "\xE2\x80\x94 ";
constexpr size_t kKeyHintSize = 4;
// Sizes MC reads at most: a bundle's entries and timestamps are small; these only bound work.
constexpr size_t kMaxTimestampBytes = 64 * 1024;
constexpr size_t kMaxProofHashes = 64;

struct X509StackFree {
  void operator()(STACK_OF(X509) * certs) const { sk_X509_pop_free(certs, X509_free); }
};
struct TsRespFree {
  void operator()(TS_RESP* response) const { TS_RESP_free(response); }
};
struct TsVerifyCtxFree {
  void operator()(TS_VERIFY_CTX* ctx) const { TS_VERIFY_CTX_free(ctx); }
};
struct Pkcs7Free {
  void operator()(PKCS7* p7) const { PKCS7_free(p7); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;
using TsRespPtr = std::unique_ptr<TS_RESP, TsRespFree>;
using TsVerifyCtxPtr = std::unique_ptr<TS_VERIFY_CTX, TsVerifyCtxFree>;
using Pkcs7Ptr = std::unique_ptr<PKCS7, Pkcs7Free>;

const unsigned char* bytesOf(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

std::string digestBytes(const EVP_MD* md, std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, md, nullptr) != 1) {
    return {};
  }
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string sha256(std::string_view bytes) { return digestBytes(EVP_sha256(), bytes); }

std::string hexOf(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex += kHex[c >> 4];
    hex += kHex[c & 0xf];
  }
  return hex;
}

std::optional<std::string> fromHex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  };
  if (hex.size() % 2 != 0) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int high = nibble(hex[i]);
    int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 3161

Error refusedTimestamp(std::string message) {
  return makeError(ErrorKind::Terminal, fmt::format("RFC 3161 timestamp: {}", message));
}
Error invalidTimestamp(std::string message) {
  return makeError(ErrorKind::Invalid, fmt::format("RFC 3161 timestamp: {}", message));
}

// The first error OpenSSL queued, with its data ("Verify error:certificate has expired") for a
// message; reason 0 when none.
struct OpensslFailure {
  int reason = 0;
  std::string text;
};
OpensslFailure firstOpensslFailure() {
  const char* data = nullptr;
  int flags = 0;
  unsigned long code = ERR_peek_error_data(&data, &flags);
  if (code == 0) {
    return {0, "no reason given"};
  }
  const char* reason = ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : fmt::format("error {:#x}", code);
  if (data != nullptr && (flags & ERR_TXT_STRING) != 0 && *data != '\0') {
    text += fmt::format(" ({})", data);
  }
  return {ERR_GET_REASON(code), std::move(text)};
}

struct TsaChain {
  X509Ptr leaf;
  // The leaf and the intermediates: where OpenSSL looks for the signer and its issuers.
  X509StackPtr untrusted;
  X509StorePtr anchors;
  int anchorCount = 0;
};

Result<TsaChain> readTsaChain(std::string_view pem) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return invalidTimestamp("the TSA certificate chain is too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  TsaChain chain;
  chain.untrusted.reset(sk_X509_new_null());
  chain.anchors.reset(X509_STORE_new());
  if (!bio || !chain.untrusted || !chain.anchors) {
    return makeError(ErrorKind::Transient, "out of memory reading a TSA certificate chain");
  }
  int count = 0;
  while (X509* raw = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509Ptr cert(raw);
    ++count;
    bool selfSigned = X509_self_signed(cert.get(), 1) == 1;
    if (selfSigned) {
      if (X509_STORE_add_cert(chain.anchors.get(), cert.get()) != 1) {
        return makeError(ErrorKind::Transient, "could not add a TSA root to a certificate store");
      }
      ++chain.anchorCount;
    }
    if (count == 1) {
      X509_up_ref(cert.get());
      chain.leaf.reset(cert.get());
    } else if (selfSigned) {
      continue;
    }
    // RFC 3161 and sigstore: a CA between the TSA and its root either says nothing of extended
    // key usage or allows time stamping. OpenSSL checks the leaf's (sole, critical timeStamping)
    // but not an intermediate's, so this is checked here.
    if (count > 1) {
      uint32_t usage = X509_get_extended_key_usage(cert.get());
      if (usage != UINT32_MAX && (usage & (XKU_TIMESTAMP | XKU_ANYEKU)) == 0) {
        return refusedTimestamp(fmt::format(
            "certificate {} of the TSA chain is a CA whose extended key usage does not allow "
            "time stamping",
            count));
      }
    }
    if (sk_X509_push(chain.untrusted.get(), cert.get()) == 0) {
      return makeError(ErrorKind::Transient, "out of memory reading a TSA certificate chain");
    }
    cert.release();
  }
  ERR_clear_error();  // PEM_read_bio_X509 ends with "no start line" at the end of the input
  if (count == 0 || !chain.leaf) {
    return invalidTimestamp(
        "the TSA certificate chain holds no PEM certificate (want leaf, intermediates, root)");
  }
  if (chain.anchorCount == 0) {
    return invalidTimestamp(
        "the TSA certificate chain has no self-signed root to trust; add the TSA's root "
        "certificate at its end");
  }
  return chain;
}

Result<SystemTime> toSystemTime(const ASN1_GENERALIZEDTIME* time) {
  struct tm parts = {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &parts) != 1) {
    return invalidTimestamp("genTime is not a valid time");
  }
  namespace chrono = std::chrono;
  auto day = chrono::year{parts.tm_year + 1900} /
             chrono::month{static_cast<unsigned>(parts.tm_mon + 1)} /
             chrono::day{static_cast<unsigned>(parts.tm_mday)};
  // Fractions of a second (GeneralizedTime may carry them) are dropped: a second is finer than
  // any certificate's validity.
  return SystemTime(chrono::sys_days(day).time_since_epoch() + chrono::hours(parts.tm_hour) +
                    chrono::minutes(parts.tm_min) + chrono::seconds(parts.tm_sec));
}

// The hash the imprint names, if MC accepts it: SHA-1 and MD5 imprints are refused, since
// another signature with the same weak hash would then carry this time.
const EVP_MD* imprintHash(const TS_MSG_IMPRINT* imprint, std::string& name) {
  const X509_ALGOR* algorithm = TS_MSG_IMPRINT_get_algo(const_cast<TS_MSG_IMPRINT*>(imprint));
  const ASN1_OBJECT* object = nullptr;
  X509_ALGOR_get0(&object, nullptr, nullptr, algorithm);
  int nid = OBJ_obj2nid(object);
  name = nid != NID_undef ? OBJ_nid2sn(nid) : "an unknown algorithm";
  switch (nid) {
    case NID_sha256:
      return EVP_sha256();
    case NID_sha384:
      return EVP_sha384();
    case NID_sha512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON fields, each error naming its path.

Result<json::value> parseJson(std::string_view text, std::string_view field) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) {
    return fieldError(std::string(field), fmt::format("is not JSON: {}", ec.message()));
  }
  return value;
}

std::string join(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

Result<const json::object*> objectField(const json::object& object, std::string_view key,
                                        std::string_view parent, bool required) {
  auto found = object.find(key);
  if (found == object.end() || found->value().is_null()) {
    if (required) {
      return fieldError(join(parent, key), "is required");
    }
    return nullptr;
  }
  if (!found->value().is_object()) {
    return fieldError(join(parent, key), "must be an object");
  }
  return &found->value().get_object();
}

Result<std::string> stringField(const json::object& object, std::string_view key,
                                std::string_view parent, bool required) {
  auto found = object.find(key);
  if (found == object.end() || found->value().is_null()) {
    if (required) {
      return fieldError(join(parent, key), "is required");
    }
    return std::string();
  }
  if (!found->value().is_string()) {
    return fieldError(join(parent, key), "must be a string");
  }
  return std::string(found->value().get_string());
}

Result<std::string> base64Field(const json::object& object, std::string_view key,
                                std::string_view parent, bool required) {
  auto text = stringField(object, key, parent, required);
  if (!text) {
    return text.error();
  }
  auto decoded = decodeBase64Lenient(*text);
  if (!decoded) {
    return fieldError(join(parent, key), "is not base64");
  }
  if (required && decoded->empty()) {
    return fieldError(join(parent, key), "is required");
  }
  return *decoded;
}

// A protobuf int64: protojson writes a string of digits and reads a number too; absent is 0 (the
// proto3 default, which protojson leaves out).
Result<int64_t> int64Field(const json::object& object, std::string_view key,
                           std::string_view parent) {
  auto found = object.find(key);
  if (found == object.end() || found->value().is_null()) {
    return int64_t{0};
  }
  const json::value& value = found->value();
  if (value.is_int64()) {
    return value.get_int64();
  }
  if (value.is_uint64() && value.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(value.get_uint64());
  }
  if (value.is_string()) {
    std::string_view text = value.get_string();
    int64_t parsed = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) {
      return parsed;
    }
  }
  return fieldError(join(parent, key), "must be an int64 (a number, or a string of digits)");
}

// The body's kind and apiVersion: the log signed these, unlike a bundle's kindVersion.
struct BodyKind {
  json::value body;
  std::string kind;
  std::string version;
};

Result<BodyKind> readBody(std::string_view canonicalizedBody, std::string_view field) {
  auto body = parseJson(canonicalizedBody, field);
  if (!body) {
    return body.error();
  }
  if (!body->is_object()) {
    return fieldError(std::string(field), "must be a JSON object (a Rekor entry)");
  }
  const auto& object = body->get_object();
  auto kind = stringField(object, "kind", field, true);
  if (!kind) {
    return kind.error();
  }
  auto version = stringField(object, "apiVersion", field, true);
  if (!version) {
    return version.error();
  }
  return BodyKind{std::move(*body), std::move(*kind), std::move(*version)};
}

// ---------------------------------------------------------------------------------------------
// Rekor v1 proofs

// The bytes the log signs for an inclusion promise: rekor's VerifySignedEntryTimestamp and
// sigstore-go's VerifySET marshal {body, integratedTime, logIndex, logID} and canonicalize it
// (RFC 8785): keys sorted, no spaces, body standard base64, logID lower-case hex. Base64 and hex
// need no JSON escapes and int64s print as plain integers, so this is the canonical form.
std::string signedEntryTimestampPayload(const TlogEntry& entry) {
  return fmt::format(R"({{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}})",
                     kube::base64Encode(entry.canonicalizedBody), entry.integratedTime,
                     hexOf(entry.logId), entry.logIndex);
}

std::string hashChildren(std::string_view left, std::string_view right) {
  std::string input;
  input.reserve(1 + left.size() + right.size());
  input += '\x01';
  input += left;
  input += right;
  return sha256(input);
}

// RFC 9162 2.1.3.2 (transparency-dev/merkle's proof.VerifyInclusion, which rekor calls): the root
// that `hashes` lead to from `leafHash` at `index` in a tree of `size`; nullopt when the proof
// has the wrong number of hashes for that position.
std::optional<std::string> rootFromInclusionProof(uint64_t index, uint64_t size,
                                                  std::string leafHash,
                                                  const std::vector<std::string>& hashes) {
  uint64_t fn = index;
  uint64_t sn = size - 1;
  std::string root = std::move(leafHash);
  for (const auto& sibling : hashes) {
    if (sn == 0) {
      return std::nullopt;
    }
    if ((fn & 1) == 1 || fn == sn) {
      root = hashChildren(sibling, root);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      root = hashChildren(root, sibling);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return std::nullopt;
  }
  return root;
}

Error refusedEntry(const TlogEntry& entry, std::string problem) {
  return makeError(ErrorKind::Terminal,
                   fmt::format("transparency log entry {}: {}", entry.logIndex, problem));
}
Error invalidEntry(const TlogEntry& entry, std::string problem) {
  return makeError(ErrorKind::Invalid,
                   fmt::format("transparency log entry {}: {}", entry.logIndex, problem));
}

// A Rekor v1 checkpoint (a signed note, rekor's util.SignedCheckpoint): the text up to and
// including the newline before the blank line is signed; each line after it is
// "— <name> <base64(4-byte key hint || signature)>", the hint being the first four bytes of the
// SHA-256 of the log key's DER SubjectPublicKeyInfo. rekor's SignedNote.Verify refuses a note
// with any signature line by another key hint or one that does not verify, and so does MC.
Result<void> verifyCheckpoint(const TlogEntry& entry, const InclusionProof& proof,
                              const PublicKey& key, std::string_view keyHint) {
  std::string_view note = proof.checkpoint;
  auto split = note.rfind("\n\n");
  if (split == std::string_view::npos || note.back() != '\n') {
    return invalidEntry(entry,
                        "the checkpoint is not a signed note (text, a blank line, then signature "
                        "lines)");
  }
  std::string_view text = note.substr(0, split + 1);
  std::string_view signatures = note.substr(split + 2);
  int verified = 0;
  while (!signatures.empty()) {
    // Every line ends with a newline: the note does, and the blank line precedes this block.
    auto end = signatures.find('\n');
    std::string_view line = signatures.substr(0, end);
    signatures.remove_prefix(end == std::string_view::npos ? signatures.size() : end + 1);
    if (line.substr(0, kNoteSignaturePrefix.size()) != kNoteSignaturePrefix) {
      return invalidEntry(entry, "a checkpoint signature line does not start with \"— \"");
    }
    line.remove_prefix(kNoteSignaturePrefix.size());
    auto space = line.find(' ');
    if (space == std::string_view::npos || space == 0) {
      return invalidEntry(entry, "a checkpoint signature line is not \"— <name> <signature>\"");
    }
    auto decoded = kube::base64Decode(line.substr(space + 1));
    if (!decoded || decoded->size() <= kKeyHintSize) {
      return invalidEntry(entry,
                          "a checkpoint signature is not base64 of a key hint and a "
                          "signature");
    }
    if (std::string_view(*decoded).substr(0, kKeyHintSize) != keyHint) {
      return refusedEntry(entry,
                          fmt::format("the checkpoint carries a signature by a key other "
                                      "than the log's (key hint {}, the log's is {})",
                                      hexOf(decoded->substr(0, kKeyHintSize)), hexOf(keyHint)));
    }
    auto verdict = key.verifyBytes(text, std::string_view(*decoded).substr(kKeyHintSize));
    if (!verdict) {
      return refusedEntry(
          entry, fmt::format("the checkpoint's signature does not verify: {}", verdict.reason));
    }
    ++verified;
  }
  if (verified == 0) {
    return invalidEntry(entry, "the checkpoint has no signature line");
  }
  // The signed text: origin, tree size, base64 root hash, then other lines (rekor's Checkpoint).
  std::vector<std::string_view> lines;
  for (std::string_view rest = text; !rest.empty();) {
    auto end = rest.find('\n');
    lines.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
  }
  if (lines.size() < 3 || lines[0].empty()) {
    return invalidEntry(entry,
                        "the checkpoint does not start with origin, tree size and root "
                        "hash lines");
  }
  uint64_t size = 0;
  auto [end, ec] = std::from_chars(lines[1].data(), lines[1].data() + lines[1].size(), size);
  if (ec != std::errc() || end != lines[1].data() + lines[1].size() || lines[1].empty()) {
    return invalidEntry(entry, "the checkpoint's tree size is not a number");
  }
  auto root = kube::base64Decode(lines[2]);
  if (!root) {
    return invalidEntry(entry, "the checkpoint's root hash is not base64");
  }
  if (size != static_cast<uint64_t>(proof.treeSize)) {
    return refusedEntry(entry, fmt::format("the checkpoint is for a tree of {} entries, the "
                                           "inclusion proof for one of {}",
                                           size, proof.treeSize));
  }
  if (*root != proof.rootHash) {
    return refusedEntry(entry, fmt::format("the checkpoint's root hash {} is not the inclusion "
                                           "proof's {}",
                                           hexOf(*root), hexOf(proof.rootHash)));
  }
  return {};
}

Result<void> verifyInclusion(const TlogEntry& entry, const InclusionProof& proof,
                             const PublicKey& key, std::string_view keyHint) {
  if (proof.treeSize <= 0 || proof.logIndex < 0 || proof.logIndex >= proof.treeSize) {
    return invalidEntry(entry, fmt::format("the inclusion proof's index {} is not within its "
                                           "tree of {} entries",
                                           proof.logIndex, proof.treeSize));
  }
  if (proof.rootHash.size() != kSha256Size || proof.hashes.size() > kMaxProofHashes ||
      std::any_of(proof.hashes.begin(), proof.hashes.end(),
                  [](const std::string& hash) { return hash.size() != kSha256Size; })) {
    return invalidEntry(entry, "the inclusion proof's hashes are not SHA-256 hashes");
  }
  std::string leaf;
  leaf.reserve(1 + entry.canonicalizedBody.size());
  leaf += '\x00';
  leaf += entry.canonicalizedBody;
  auto root =
      rootFromInclusionProof(static_cast<uint64_t>(proof.logIndex),
                             static_cast<uint64_t>(proof.treeSize), sha256(leaf), proof.hashes);
  if (!root) {
    return refusedEntry(entry, fmt::format("the inclusion proof has {} hashes, not the number a "
                                           "leaf at {} of {} needs",
                                           proof.hashes.size(), proof.logIndex, proof.treeSize));
  }
  if (*root != proof.rootHash) {
    return refusedEntry(entry, fmt::format("the inclusion proof does not lead from the entry's "
                                           "body to root hash {}: the body or the proof was "
                                           "changed",
                                           hexOf(proof.rootHash)));
  }
  return verifyCheckpoint(entry, proof, key, keyHint);
}

// ---------------------------------------------------------------------------------------------
// What an entry's body records

Result<std::string> hashedRekordCovers(const json::object& spec, std::string_view signature,
                                       std::string_view signedPayload) {
  constexpr std::string_view kSpec = "canonicalizedBody.spec";
  auto signatureObject = objectField(spec, "signature", kSpec, true);
  if (!signatureObject) {
    return signatureObject.error();
  }
  auto content = base64Field(**signatureObject, "content", join(kSpec, "signature"), true);
  if (!content) {
    return content.error();
  }
  if (*content != signature) {
    return makeError(ErrorKind::Terminal,
                     "the transparency log entry records another signature (hashedrekord "
                     "spec.signature.content); it is not evidence for this one");
  }
  auto data = objectField(spec, "data", kSpec, true);
  if (!data) {
    return data.error();
  }
  auto hash = objectField(**data, "hash", join(kSpec, "data"), true);
  if (!hash) {
    return hash.error();
  }
  std::string hashField = join(kSpec, "data.hash");
  auto algorithm = stringField(**hash, "algorithm", hashField, true);
  if (!algorithm) {
    return algorithm.error();
  }
  auto value = stringField(**hash, "value", hashField, true);
  if (!value) {
    return value.error();
  }
  const EVP_MD* md = nullptr;
  if (*algorithm == "sha256") {
    md = EVP_sha256();
  } else if (*algorithm == "sha384") {
    md = EVP_sha384();
  } else if (*algorithm == "sha512") {
    md = EVP_sha512();
  } else {
    return fieldError(join(hashField, "algorithm"),
                      fmt::format("\"{}\" is not a hash hashedrekord allows (sha256, sha384, "
                                  "sha512)",
                                  *algorithm));
  }
  std::string expected = hexOf(digestBytes(md, signedPayload));
  if (asciiLower(*value) != expected) {
    return makeError(ErrorKind::Terminal,
                     fmt::format("the transparency log entry records the signature over other "
                                 "bytes ({} {}, the payload's is {})",
                                 *algorithm, *value, expected));
  }
  auto publicKey = objectField(**signatureObject, "publicKey", join(kSpec, "signature"), true);
  if (!publicKey) {
    return publicKey.error();
  }
  return base64Field(**publicKey, "content", join(kSpec, "signature.publicKey"), true);
}

Result<std::string> dsseCovers(const json::object& spec, std::string_view signature,
                               std::string_view signedPayload) {
  constexpr std::string_view kSpec = "canonicalizedBody.spec";
  auto signatures = spec.find("signatures");
  if (signatures == spec.end() || !signatures->value().is_array()) {
    return fieldError(join(kSpec, "signatures"), "must be an array");
  }
  std::optional<std::string> verifier;
  const auto& items = signatures->value().get_array();
  for (size_t i = 0; i < items.size() && !verifier; ++i) {
    std::string field = fmt::format("{}.signatures[{}]", kSpec, i);
    if (!items[i].is_object()) {
      return fieldError(field, "must be an object");
    }
    auto recorded = base64Field(items[i].get_object(), "signature", field, true);
    if (!recorded) {
      return recorded.error();
    }
    if (*recorded == signature) {
      auto pem = base64Field(items[i].get_object(), "verifier", field, true);
      if (!pem) {
        return pem.error();
      }
      verifier = std::move(*pem);
    }
  }
  if (!verifier) {
    return makeError(ErrorKind::Terminal,
                     "the transparency log entry records other signatures (dsse "
                     "spec.signatures[]); it is not evidence for this one");
  }
  auto payloadHash = objectField(spec, "payloadHash", kSpec, true);
  if (!payloadHash) {
    return payloadHash.error();
  }
  std::string hashField = join(kSpec, "payloadHash");
  auto algorithm = stringField(**payloadHash, "algorithm", hashField, true);
  if (!algorithm) {
    return algorithm.error();
  }
  auto value = stringField(**payloadHash, "value", hashField, true);
  if (!value) {
    return value.error();
  }
  if (*algorithm != "sha256") {
    return fieldError(join(hashField, "algorithm"),
                      fmt::format("\"{}\" is not sha256, the one dsse 0.0.1 allows", *algorithm));
  }
  std::string expected = kube::sha256Hex(signedPayload);
  if (asciiLower(*value) != expected) {
    return makeError(ErrorKind::Terminal,
                     fmt::format("the transparency log entry records the signature over another "
                                 "payload (sha256 {}, this envelope's is {})",
                                 *value, expected));
  }
  return *verifier;
}

}  // namespace

Result<SystemTime> verifyRfc3161Timestamp(std::string_view responseDer,
                                          std::string_view signedBytes,
                                          std::string_view tsaChainPem) {
  ClearErrorsOnExit clearErrors;
  if (responseDer.empty() || responseDer.size() > kMaxTimestampBytes) {
    return invalidTimestamp(
        fmt::format("{} bytes is not the size of a TimeStampResp", responseDer.size()));
  }
  if (signedBytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return invalidTimestamp("the signed bytes are too large");
  }
  auto chain = readTsaChain(tsaChainPem);
  if (!chain) {
    return chain.error();
  }
  const unsigned char* cursor = bytesOf(responseDer);
  TsRespPtr response(d2i_TS_RESP(nullptr, &cursor, static_cast<long>(responseDer.size())));
  if (!response || cursor != bytesOf(responseDer) + responseDer.size()) {
    cursor = bytesOf(responseDer);
    Pkcs7Ptr token(d2i_PKCS7(nullptr, &cursor, static_cast<long>(responseDer.size())));
    if (token) {
      return invalidTimestamp(
          "this is a bare TimeStampToken; a Sigstore bundle's signedTimestamp is the whole DER "
          "TimeStampResp, which is all sigstore reads");
    }
    return invalidTimestamp("not a DER TimeStampResp");
  }
  const ASN1_INTEGER* status = TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(response.get()));
  long statusValue = status != nullptr ? ASN1_INTEGER_get(status) : -1;
  if (statusValue != TS_STATUS_GRANTED) {
    // sigstore (digitorus/timestamp) takes only "granted"; grantedWithMods is refused too.
    return refusedTimestamp(fmt::format("the TSA did not grant it (PKIStatus {})", statusValue));
  }
  TS_TST_INFO* info = TS_RESP_get_tst_info(response.get());
  if (info == nullptr || TS_RESP_get_token(response.get()) == nullptr) {
    return invalidTimestamp("the response holds no timestamp token");
  }
  auto genTime = toSystemTime(TS_TST_INFO_get_time(info));
  if (!genTime) {
    return genTime.error();
  }

  // The imprint first, in MC's words: "over other bytes" is the refusal people most need told.
  std::string hashName;
  TS_MSG_IMPRINT* imprint = TS_TST_INFO_get_msg_imprint(info);
  const EVP_MD* md = imprintHash(imprint, hashName);
  if (md == nullptr) {
    return refusedTimestamp(
        fmt::format("its message imprint is a {} hash; MC takes SHA-256, "
                    "SHA-384 and SHA-512",
                    hashName));
  }
  const ASN1_OCTET_STRING* digest = TS_MSG_IMPRINT_get_msg(imprint);
  std::string expected = digestBytes(md, signedBytes);
  if (digest == nullptr ||
      std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(digest)),
                       static_cast<size_t>(ASN1_STRING_length(digest))) != expected) {
    return refusedTimestamp(
        "it is over other bytes (its message imprint is not the hash of this signature); it "
        "vouches for another signature's time");
  }

  // A TSA's certificate may have expired since it signed (they are rotated, and a signature is
  // checked for years): what matters is that it was valid when it signed. So the chain is checked
  // at genTime, as sigstore checks it at the token's signing time, not at the clock's.
  X509_VERIFY_PARAM* param = X509_STORE_get0_param(chain->anchors.get());
  X509_VERIFY_PARAM_set_time(param, std::chrono::system_clock::to_time_t(*genTime));

  TsVerifyCtxPtr ctx(TS_VERIFY_CTX_new());
  BioPtr data(BIO_new_mem_buf(signedBytes.data(), static_cast<int>(signedBytes.size())));
  if (!ctx || !data) {
    return makeError(ErrorKind::Transient, "out of memory checking an RFC 3161 timestamp");
  }
  // VERSION: v1 TSTInfo; SIGNATURE: the CMS signature, the ESS signing-certificate attribute and
  // the signer's chain to an anchor with the timeStamping purpose (sole, critical EKU); DATA: the
  // imprint again, by OpenSSL; SIGNER: a tsa name in the token, if any, names the signer.
  TS_VERIFY_CTX_set_flags(ctx.get(),
                          TS_VFY_VERSION | TS_VFY_SIGNATURE | TS_VFY_DATA | TS_VFY_SIGNER);
  // The context owns what it is given, and frees it with itself.
  TS_VERIFY_CTX_set_data(ctx.get(), data.release());
  TS_VERIFY_CTX_set_store(ctx.get(), chain->anchors.release());
  TS_VERIFY_CTX_set_certs(ctx.get(), X509_chain_up_ref(chain->untrusted.get()));
  if (TS_RESP_verify_response(ctx.get(), response.get()) != 1) {
    auto failure = firstOpensslFailure();
    if (failure.reason == TS_R_CERTIFICATE_VERIFY_ERROR) {
      return refusedTimestamp(fmt::format(
          "its signer's certificate does not verify with the configured TSA chain at its "
          "genTime {}: {}. Is it from another TSA, or was the TSA's certificate not valid then?",
          formatTime(*genTime), failure.text));
    }
    return refusedTimestamp(fmt::format(
        "it does not verify with the configured TSA chain: {}. Was it made by another TSA, or "
        "changed since it was made?",
        failure.text));
  }

  // sigstore's timestamp-authority verification also pins the TSA: the signer must be the chain's
  // leaf, not merely some time-stamping certificate under the same root.
  STACK_OF(X509)* found =
      PKCS7_get0_signers(TS_RESP_get_token(response.get()), chain->untrusted.get(), 0);
  bool signedByLeaf = found != nullptr && sk_X509_num(found) == 1 &&
                      X509_cmp(sk_X509_value(found, 0), chain->leaf.get()) == 0;
  sk_X509_free(found);  // get0: the certificates belong to the token or the chain
  if (!signedByLeaf) {
    return refusedTimestamp(
        "it was signed by a time-stamping certificate other than the configured TSA's (the "
        "chain's first certificate)");
  }
  return *genTime;
}

Result<TlogEntry> parseBundleTlogEntry(const json::value& value, std::string_view field) {
  if (!value.is_object()) {
    return fieldError(std::string(field), "must be an object");
  }
  const auto& object = value.get_object();
  TlogEntry entry;
  auto logIndex = int64Field(object, "logIndex", field);
  if (!logIndex) {
    return logIndex.error();
  }
  entry.logIndex = *logIndex;
  auto logId = objectField(object, "logId", field, true);
  if (!logId) {
    return logId.error();
  }
  auto keyId = base64Field(**logId, "keyId", join(field, "logId"), true);
  if (!keyId) {
    return keyId.error();
  }
  if (keyId->size() != kSha256Size) {
    return fieldError(join(field, "logId.keyId"),
                      fmt::format("is {} bytes; a log ID is a SHA-256 (32 bytes)", keyId->size()));
  }
  entry.logId = std::move(*keyId);
  auto kindVersion = objectField(object, "kindVersion", field, true);
  if (!kindVersion) {
    return kindVersion.error();
  }
  auto kind = stringField(**kindVersion, "kind", join(field, "kindVersion"), true);
  if (!kind) {
    return kind.error();
  }
  auto version = stringField(**kindVersion, "version", join(field, "kindVersion"), true);
  if (!version) {
    return version.error();
  }
  entry.kind = std::move(*kind);
  entry.version = std::move(*version);
  auto integratedTime = int64Field(object, "integratedTime", field);
  if (!integratedTime) {
    return integratedTime.error();
  }
  entry.integratedTime = *integratedTime;
  auto promise = objectField(object, "inclusionPromise", field, false);
  if (!promise) {
    return promise.error();
  }
  if (*promise != nullptr) {
    auto set =
        base64Field(**promise, "signedEntryTimestamp", join(field, "inclusionPromise"), false);
    if (!set) {
      return set.error();
    }
    entry.signedEntryTimestamp = std::move(*set);
  }
  auto proofObject = objectField(object, "inclusionProof", field, false);
  if (!proofObject) {
    return proofObject.error();
  }
  if (*proofObject != nullptr) {
    const auto& proofJson = **proofObject;
    std::string proofField = join(field, "inclusionProof");
    InclusionProof proof;
    auto index = int64Field(proofJson, "logIndex", proofField);
    if (!index) {
      return index.error();
    }
    proof.logIndex = *index;
    auto treeSize = int64Field(proofJson, "treeSize", proofField);
    if (!treeSize) {
      return treeSize.error();
    }
    proof.treeSize = *treeSize;
    auto rootHash = base64Field(proofJson, "rootHash", proofField, true);
    if (!rootHash) {
      return rootHash.error();
    }
    if (rootHash->size() != kSha256Size) {
      return fieldError(join(proofField, "rootHash"), "is not a SHA-256 hash (32 bytes)");
    }
    proof.rootHash = std::move(*rootHash);
    auto hashes = proofJson.find("hashes");
    if (hashes != proofJson.end() && !hashes->value().is_null()) {
      if (!hashes->value().is_array()) {
        return fieldError(join(proofField, "hashes"), "must be an array");
      }
      const auto& items = hashes->value().get_array();
      if (items.size() > kMaxProofHashes) {
        return fieldError(join(proofField, "hashes"),
                          fmt::format("has {} hashes; a proof in a tree of 2^63 entries has at "
                                      "most 63",
                                      items.size()));
      }
      for (size_t i = 0; i < items.size(); ++i) {
        std::string hashField = fmt::format("{}.hashes[{}]", proofField, i);
        auto decoded =
            items[i].is_string() ? decodeBase64Lenient(items[i].get_string()) : std::nullopt;
        if (!decoded || decoded->size() != kSha256Size) {
          return fieldError(hashField, "is not a base64 SHA-256 hash (32 bytes)");
        }
        proof.hashes.push_back(std::move(*decoded));
      }
    }
    auto checkpoint = objectField(proofJson, "checkpoint", proofField, true);
    if (!checkpoint) {
      return checkpoint.error();
    }
    auto envelope = stringField(**checkpoint, "envelope", join(proofField, "checkpoint"), true);
    if (!envelope) {
      return envelope.error();
    }
    if (envelope->empty()) {
      return fieldError(join(proofField, "checkpoint.envelope"), "is required");
    }
    proof.checkpoint = std::move(*envelope);
    entry.inclusionProof = std::move(proof);
  }
  auto body = base64Field(object, "canonicalizedBody", field, true);
  if (!body) {
    return body.error();
  }
  entry.canonicalizedBody = std::move(*body);
  // sigstore-go's ParseTransparencyLogEntry refuses a kindVersion that is not the body's.
  auto bodyKind = readBody(entry.canonicalizedBody, join(field, "canonicalizedBody"));
  if (!bodyKind) {
    return bodyKind.error();
  }
  if (bodyKind->kind != entry.kind || bodyKind->version != entry.version) {
    return fieldError(join(field, "kindVersion"),
                      fmt::format("says {} {}, but the body is a {} {} entry", entry.kind,
                                  entry.version, bodyKind->kind, bodyKind->version));
  }
  return entry;
}

Result<TlogEntry> parseCosignBundleAnnotation(std::string_view text) {
  constexpr std::string_view kField = "dev.sigstore.cosign/bundle";
  auto value = parseJson(text, kField);
  if (!value) {
    return value.error();
  }
  if (!value->is_object()) {
    return fieldError(std::string(kField), "must be a JSON object");
  }
  TlogEntry entry;
  auto set = base64Field(value->get_object(), "SignedEntryTimestamp", kField, false);
  if (!set) {
    return set.error();
  }
  entry.signedEntryTimestamp = std::move(*set);
  auto payload = objectField(value->get_object(), "Payload", kField, true);
  if (!payload) {
    return payload.error();
  }
  std::string payloadField = join(kField, "Payload");
  auto body = base64Field(**payload, "body", payloadField, true);
  if (!body) {
    return body.error();
  }
  entry.canonicalizedBody = std::move(*body);
  auto integratedTime = int64Field(**payload, "integratedTime", payloadField);
  if (!integratedTime) {
    return integratedTime.error();
  }
  entry.integratedTime = *integratedTime;
  auto logIndex = int64Field(**payload, "logIndex", payloadField);
  if (!logIndex) {
    return logIndex.error();
  }
  entry.logIndex = *logIndex;
  auto logIdHex = stringField(**payload, "logID", payloadField, true);
  if (!logIdHex) {
    return logIdHex.error();
  }
  auto logId = fromHex(*logIdHex);
  if (!logId || logId->size() != kSha256Size) {
    return fieldError(join(payloadField, "logID"),
                      "is not a log ID (64 hex digits: the SHA-256 of the log's key)");
  }
  entry.logId = std::move(*logId);
  // The annotation has no kindVersion; the body says what it is.
  auto bodyKind = readBody(entry.canonicalizedBody, join(payloadField, "body"));
  if (!bodyKind) {
    return bodyKind.error();
  }
  entry.kind = std::move(bodyKind->kind);
  entry.version = std::move(bodyKind->version);
  return entry;
}

Result<TlogVerification> verifyTlogEntry(const TlogEntry& entry,
                                         const std::vector<PublicKey>& logKeys) {
  std::string logIdHex = hexOf(entry.logId);
  const PublicKey* key = nullptr;
  for (const auto& candidate : logKeys) {
    // A fingerprint is "sha256:<hex>" of the DER SubjectPublicKeyInfo: the log ID, RFC 6962 3.2.
    std::string_view fingerprint = candidate.fingerprint();
    if (fingerprint.substr(fingerprint.find(':') + 1) == logIdHex) {
      key = &candidate;
      break;
    }
  }
  if (key == nullptr) {
    return refusedEntry(entry, fmt::format("the entry is from log {}, which the policy does not "
                                           "trust",
                                           logIdHex.empty() ? "(none named)" : logIdHex));
  }
  if (entry.signedEntryTimestamp.empty() && !entry.inclusionProof) {
    return refusedEntry(entry,
                        "has neither a signed entry timestamp nor an inclusion proof; nothing "
                        "shows the log holds it");
  }
  TlogVerification result;
  result.logKey = key->describe();
  if (!entry.signedEntryTimestamp.empty()) {
    auto verdict = key->verifyBytes(signedEntryTimestampPayload(entry), entry.signedEntryTimestamp);
    if (!verdict) {
      return refusedEntry(entry, fmt::format("its signed entry timestamp does not verify: the "
                                             "body, integratedTime, logIndex or log ID were "
                                             "changed, or another key signed it ({})",
                                             verdict.reason));
    }
    result.promiseVerified = true;
    result.integratedTime = SystemTime(std::chrono::seconds(entry.integratedTime));
  }
  if (entry.inclusionProof) {
    // The checkpoint's key hint is the first bytes of the key's SHA-256, which is the log ID.
    auto verified = verifyInclusion(entry, *entry.inclusionProof, *key,
                                    std::string_view(entry.logId).substr(0, kKeyHintSize));
    if (!verified) {
      return verified.error();
    }
    result.inclusionVerified = true;
  }
  return result;
}

Result<std::string> entryCoversSignature(const TlogEntry& entry, std::string_view signature,
                                         std::string_view signedPayload) {
  auto body = readBody(entry.canonicalizedBody, "canonicalizedBody");
  if (!body) {
    return body.error();
  }
  auto spec = objectField(body->body.get_object(), "spec", "canonicalizedBody", true);
  if (!spec) {
    return spec.error();
  }
  if (body->kind == "hashedrekord" && body->version == "0.0.1") {
    return hashedRekordCovers(**spec, signature, signedPayload);
  }
  if (body->kind == "dsse" && body->version == "0.0.1") {
    return dsseCovers(**spec, signature, signedPayload);
  }
  return makeError(ErrorKind::Terminal,
                   fmt::format("transparency log entries of kind {} {} are not supported; MC "
                               "reads hashedrekord 0.0.1 and dsse 0.0.1",
                               body->kind, body->version));
}

}  // namespace mc::signing
