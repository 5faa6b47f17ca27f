#include "mc/signing/certificate.h"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <limits>
#include <regex>

#include "mc/common/timefmt.h"
#include "mc/signing/digest.h"
#include "openssl_owners.h"

namespace mc::signing {
namespace {

using Clock = std::chrono::system_clock;

// Fulcio's extensions (github.com/sigstore/fulcio docs/oid-info.md).
constexpr const char* kOidIssuerV1 = "1.3.6.1.4.1.57264.1.1";
constexpr const char* kOidIssuerV2 = "1.3.6.1.4.1.57264.1.8";
constexpr const char* kOidOtherNameSan = "1.3.6.1.4.1.57264.1.7";

// libstdc++'s std::regex recurses once per character searched; a subject longer than this is
// never matched against a regexp, so a crafted certificate cannot exhaust a pool thread's stack.
// Real identities (a workflow URI, an email) are a few hundred characters at most.
constexpr size_t kMaxRegexSubject = 4096;
// Subjects quoted in messages are cut here, so a long one does not bury the reason.
constexpr size_t kMaxQuoted = 200;

struct ObjectFree {
  void operator()(ASN1_OBJECT* object) const { ASN1_OBJECT_free(object); }
};
struct AsnTypeFree {
  void operator()(ASN1_TYPE* type) const { ASN1_TYPE_free(type); }
};
struct GeneralNamesFree {
  void operator()(GENERAL_NAMES* names) const { GENERAL_NAMES_free(names); }
};
struct KeyUsagesFree {
  void operator()(EXTENDED_KEY_USAGE* usages) const {
    sk_ASN1_OBJECT_pop_free(usages, ASN1_OBJECT_free);
  }
};
struct StoreCtxFree {
  void operator()(X509_STORE_CTX* ctx) const { X509_STORE_CTX_free(ctx); }
};
struct StackFree {
  // The stack only borrows its certificates: the Certificates passed in own them.
  void operator()(STACK_OF(X509) * stack) const { sk_X509_free(stack); }
};

Error invalidCertificate(std::string_view problem) {
  return makeError(ErrorKind::Invalid, fmt::format("certificate: {}", problem));
}

std::string_view asView(const ASN1_STRING* string) {
  return {reinterpret_cast<const char*>(ASN1_STRING_get0_data(string)),
          static_cast<size_t>(ASN1_STRING_length(string))};
}

std::optional<Clock::time_point> toTimePoint(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return std::nullopt;
  }
  return Clock::from_time_t(timegm(&tm));
}

std::string distinguishedName(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) {
    return {};
  }
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(std::max(length, 0L)));
}

// An IP address SAN as Go's net.IP.String prints it, since cosign matches that text: dotted
// quads for IPv4 (and IPv4-mapped IPv6), otherwise RFC 5952 (lower-case hex, the longest run of
// two or more zero groups, the first of equals, shortened to "::").
std::optional<std::string> formatIp(std::string_view bytes) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  if (bytes.size() == 4) {
    return fmt::format("{}.{}.{}.{}", byte(0), byte(1), byte(2), byte(3));
  }
  if (bytes.size() != 16) {
    return std::nullopt;
  }
  bool mapped = std::all_of(bytes.begin(), bytes.begin() + 10, [](char c) { return c == 0; }) &&
                byte(10) == 0xff && byte(11) == 0xff;
  if (mapped) {
    return fmt::format("{}.{}.{}.{}", byte(12), byte(13), byte(14), byte(15));
  }
  unsigned groups[8];
  for (size_t i = 0; i < 8; ++i) {
    groups[i] = byte(2 * i) << 8 | byte(2 * i + 1);
  }
  int bestStart = -1;
  int bestLength = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) {
      ++j;
    }
    if (j - i >= 2 && j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == bestStart) {
      out += "::";
      i += bestLength - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') {
      out += ':';
    }
    out += fmt::format("{:x}", groups[i]);
  }
  return out;
}

// The extension with OID `oid`, or null; Invalid when it occurs more than once (which value
// would count?).
Result<const X509_EXTENSION*> findExtension(const X509* cert, const char* oid) {
  std::unique_ptr<ASN1_OBJECT, ObjectFree> object(OBJ_txt2obj(oid, 1));
  if (!object) {
    return makeError(ErrorKind::Transient, "out of memory reading a certificate");
  }
  int index = X509_get_ext_by_OBJ(cert, object.get(), -1);
  if (index < 0) {
    return nullptr;
  }
  if (X509_get_ext_by_OBJ(cert, object.get(), index) >= 0) {
    return invalidCertificate(fmt::format("extension {} occurs more than once", oid));
  }
  return X509_get_ext(cert, index);
}

// Fulcio's v2 extensions hold a DER string; Go's asn1.Unmarshal into a string (sigstore-go's
// ParseDERString) takes UTF8String, PrintableString or IA5String and refuses trailing bytes.
std::optional<std::string> derString(std::string_view der) {
  auto data = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = data;
  std::unique_ptr<ASN1_TYPE, AsnTypeFree> value(
      d2i_ASN1_TYPE(nullptr, &cursor, static_cast<long>(der.size())));
  if (!value || cursor != data + der.size()) {
    return std::nullopt;
  }
  switch (value->type) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_IA5STRING:
      return std::string(asView(value->value.asn1_string));
    default:
      return std::nullopt;
  }
}

// `values` joined with ", ", each cut at kMaxQuoted.
std::string joinCut(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) {
      out += ", ";
    }
    out += value.size() > kMaxQuoted ? value.substr(0, kMaxQuoted) + "…" : value;
  }
  return out;
}

std::string quoteList(const std::vector<std::string>& values) {
  return "[" + joinCut(values) + "]";
}

// What a certificate says, read once when it is parsed (Certificate::Impl is this).
struct Decoded {
  X509Ptr cert;
  std::string der;
  std::string fingerprint;
  std::string subjectName;
  Clock::time_point notBefore;
  Clock::time_point notAfter;
  std::vector<std::string> dnsNames;
  std::vector<std::string> emails;
  std::vector<std::string> ips;
  std::vector<std::string> uris;
  std::vector<std::string> subjects;
  std::string oidcIssuer;
  // Short names of the extended key usages ("codeSigning"), or OIDs for ones OpenSSL lacks.
  std::vector<std::string> keyUsages;
  bool hasKeyUsageExtension = false;
  bool codeSigning = false;

  // "certificate for a, b issued by i" (no fingerprint): also the name of the certificate's key.
  std::string label() const {
    if (subjects.empty()) {
      return fmt::format("certificate \"{}\"", subjectName);
    }
    auto names = joinCut(subjects);
    return oidcIssuer.empty() ? fmt::format("certificate for {}", names)
                              : fmt::format("certificate for {} issued by {}", names, oidcIssuer);
  }
};

// Reads what the accessors return, once, so they never touch OpenSSL (nor fail) later.
Result<Decoded> decode(X509Ptr cert, std::string der) {
  // X509_check_purpose with -1 decodes and caches the extensions, flagging any that are
  // malformed or repeated; reading the cache from several threads afterwards is safe.
  X509_check_purpose(cert.get(), -1, 0);
  uint32_t flags = X509_get_extension_flags(cert.get());
  if ((flags & EXFLAG_INVALID) != 0) {
    return invalidCertificate(
        "its extensions are malformed or repeated (key usage, basic constraints, alternative "
        "names or key identifiers)");
  }
  Decoded decoded;
  auto notBefore = toTimePoint(X509_get0_notBefore(cert.get()));
  auto notAfter = toTimePoint(X509_get0_notAfter(cert.get()));
  if (!notBefore || !notAfter) {
    return invalidCertificate("its validity period cannot be read");
  }
  decoded.notBefore = *notBefore;
  decoded.notAfter = *notAfter;
  decoded.subjectName = distinguishedName(X509_get_subject_name(cert.get()));

  int critical = 0;
  std::unique_ptr<GENERAL_NAMES, GeneralNamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert.get(), NID_subject_alt_name, &critical, nullptr)));
  if (!names && critical != -1) {
    return invalidCertificate("its subject alternative names are malformed or repeated");
  }
  // sigstore's UnmarshalOtherNameSAN: Fulcio's username OtherName counts only when it is the
  // one OtherName of the certificate, of Fulcio's OID, with a UTF8String; else none counts.
  std::vector<std::string> otherNames;
  bool otherNamesUsable = true;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    switch (name->type) {
      case GEN_DNS:
        decoded.dnsNames.emplace_back(asView(name->d.dNSName));
        break;
      case GEN_EMAIL:
        decoded.emails.emplace_back(asView(name->d.rfc822Name));
        break;
      case GEN_URI:
        decoded.uris.emplace_back(asView(name->d.uniformResourceIdentifier));
        break;
      case GEN_IPADD: {
        auto ip = formatIp(asView(name->d.iPAddress));
        if (!ip) {
          return invalidCertificate("an IP address alternative name is neither 4 nor 16 bytes");
        }
        decoded.ips.push_back(std::move(*ip));
        break;
      }
      case GEN_OTHERNAME: {
        char oid[80] = {};
        OBJ_obj2txt(oid, sizeof(oid), name->d.otherName->type_id, 1);
        const ASN1_TYPE* value = name->d.otherName->value;
        if (std::string_view(oid) != kOidOtherNameSan || value == nullptr ||
            value->type != V_ASN1_UTF8STRING) {
          otherNamesUsable = false;
        } else {
          otherNames.emplace_back(asView(value->value.utf8string));
        }
        break;
      }
      default:
        break;
    }
  }
  for (const auto* kind : {&decoded.dnsNames, &decoded.emails, &decoded.ips, &decoded.uris}) {
    decoded.subjects.insert(decoded.subjects.end(), kind->begin(), kind->end());
  }
  if (otherNamesUsable && otherNames.size() == 1) {
    decoded.subjects.push_back(otherNames.front());
  }

  auto v2 = findExtension(cert.get(), kOidIssuerV2);
  if (!v2) {
    return v2.error();
  }
  auto v1 = findExtension(cert.get(), kOidIssuerV1);
  if (!v1) {
    return v1.error();
  }
  if (*v2 != nullptr) {
    auto issuer = derString(asView(X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(*v2))));
    if (!issuer) {
      return invalidCertificate(fmt::format(
          "its OIDC issuer extension ({}) is not a DER string, as Fulcio writes it", kOidIssuerV2));
    }
    decoded.oidcIssuer = std::move(*issuer);
  } else if (*v1 != nullptr) {
    // The deprecated extension's value is the URL itself, not DER (cosign's GetIssuer).
    decoded.oidcIssuer = asView(X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(*v1)));
  }

  decoded.hasKeyUsageExtension = (flags & EXFLAG_XKUSAGE) != 0;
  if (decoded.hasKeyUsageExtension) {
    // X509_get_extended_key_usage has every bit set when the extension is absent: read it only
    // when present.
    uint32_t usages = X509_get_extended_key_usage(cert.get());
    decoded.codeSigning = (usages & XKU_CODE_SIGN) != 0;
    std::unique_ptr<EXTENDED_KEY_USAGE, KeyUsagesFree> list(static_cast<EXTENDED_KEY_USAGE*>(
        X509_get_ext_d2i(cert.get(), NID_ext_key_usage, nullptr, nullptr)));
    for (int i = 0; list && i < sk_ASN1_OBJECT_num(list.get()); ++i) {
      const ASN1_OBJECT* usage = sk_ASN1_OBJECT_value(list.get(), i);
      int nid = OBJ_obj2nid(usage);
      if (nid != NID_undef) {
        decoded.keyUsages.emplace_back(OBJ_nid2sn(nid));
      } else {
        char oid[80] = {};
        OBJ_obj2txt(oid, sizeof(oid), usage, 1);
        decoded.keyUsages.emplace_back(oid);
      }
    }
  }

  decoded.fingerprint = digestOf(der);
  decoded.der = std::move(der);
  decoded.cert = std::move(cert);
  return decoded;
}

Result<Decoded> decodeDer(std::string_view der) {
  if (der.empty()) {
    return invalidCertificate("empty; no DER to read");
  }
  if (der.size() > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return invalidCertificate("too large to be a certificate");
  }
  auto data = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* cursor = data;
  X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  if (!cert) {
    return invalidCertificate("not a well-formed DER X.509 certificate");
  }
  if (cursor != data + der.size()) {
    return invalidCertificate(fmt::format("{} bytes after the DER certificate",
                                          static_cast<size_t>(data + der.size() - cursor)));
  }
  return decode(std::move(cert), std::string(der));
}

struct PemBlock {
  std::string type;
  std::string data;
};

// The PEM blocks of `pem` in order (all, or only the first), skipping text between them as Go's
// pem.Decode does. Invalid when there is none or one is malformed.
Result<std::vector<PemBlock>> readPem(std::string_view pem, bool firstOnly) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return invalidCertificate("too large to be PEM");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return makeError(ErrorKind::Transient, "out of memory reading a certificate");
  }
  std::vector<PemBlock> blocks;
  while (true) {
    char* rawType = nullptr;
    char* rawHeader = nullptr;
    unsigned char* rawData = nullptr;
    long length = 0;
    ERR_clear_error();
    int read = PEM_read_bio(bio.get(), &rawType, &rawHeader, &rawData, &length);
    OpensslPtr<char> type(rawType);
    OpensslPtr<char> header(rawHeader);
    OpensslPtr<unsigned char> data(rawData);
    if (read != 1) {
      bool noMoreBlocks = ERR_GET_REASON(ERR_peek_last_error()) == PEM_R_NO_START_LINE;
      if (!noMoreBlocks) {
        return invalidCertificate(
            fmt::format("PEM block {} is malformed (its base64, or its -----END----- line)",
                        blocks.size() + 1));
      }
      break;
    }
    blocks.push_back({type.get(), std::string(reinterpret_cast<char*>(data.get()),
                                              static_cast<size_t>(length))});
    if (firstOnly) {
      break;
    }
  }
  if (blocks.empty()) {
    return invalidCertificate("no PEM block found (want -----BEGIN CERTIFICATE-----)");
  }
  return blocks;
}

Result<Decoded> decodeBlock(const PemBlock& block, size_t number) {
  if (block.type != "CERTIFICATE") {
    return invalidCertificate(
        fmt::format("PEM block {} is of type \"{}\"; want \"CERTIFICATE\"", number, block.type));
  }
  auto decoded = decodeDer(block.data);
  if (!decoded) {
    Error error = decoded.error();
    error.message = fmt::format("{} (PEM block {})", error.message, number);
    return error;
  }
  return decoded;
}

}  // namespace

struct Certificate::Impl : Decoded {
  explicit Impl(Decoded decoded) : Decoded(std::move(decoded)) {}
};

Certificate::Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<Certificate> Certificate::fromDer(std::string_view der) {
  ClearErrorsOnExit clearErrors;
  auto decoded = decodeDer(der);
  if (!decoded) {
    return decoded.error();
  }
  return Certificate(std::make_shared<const Impl>(std::move(*decoded)));
}

Result<Certificate> Certificate::fromPem(std::string_view pem) {
  ClearErrorsOnExit clearErrors;
  auto blocks = readPem(pem, true);
  if (!blocks) {
    return blocks.error();
  }
  auto decoded = decodeBlock(blocks->front(), 1);
  if (!decoded) {
    return decoded.error();
  }
  return Certificate(std::make_shared<const Impl>(std::move(*decoded)));
}

Result<std::vector<Certificate>> Certificate::allFromPem(std::string_view pem) {
  ClearErrorsOnExit clearErrors;
  auto blocks = readPem(pem, false);
  if (!blocks) {
    return blocks.error();
  }
  std::vector<Certificate> certificates;
  for (size_t i = 0; i < blocks->size(); ++i) {
    auto decoded = decodeBlock((*blocks)[i], i + 1);
    if (!decoded) {
      return decoded.error();
    }
    certificates.push_back(Certificate(std::make_shared<const Impl>(std::move(*decoded))));
  }
  return certificates;
}

Clock::time_point Certificate::notBefore() const { return impl_->notBefore; }
Clock::time_point Certificate::notAfter() const { return impl_->notAfter; }
const std::vector<std::string>& Certificate::emails() const { return impl_->emails; }
const std::vector<std::string>& Certificate::uris() const { return impl_->uris; }
const std::vector<std::string>& Certificate::subjects() const { return impl_->subjects; }
const std::string& Certificate::oidcIssuer() const { return impl_->oidcIssuer; }
bool Certificate::hasCodeSigningUsage() const { return impl_->codeSigning; }
std::string Certificate::der() const { return impl_->der; }
const std::string& Certificate::fingerprint() const { return impl_->fingerprint; }
const std::string& Certificate::subjectName() const { return impl_->subjectName; }

std::string Certificate::describe() const {
  return fmt::format("{} ({})", impl_->label(), impl_->fingerprint);
}

Result<PublicKey> Certificate::publicKey() const {
  ClearErrorsOnExit clearErrors;
  unsigned char* der = nullptr;
  int length = i2d_PUBKEY(X509_get0_pubkey(impl_->cert.get()), &der);
  if (length <= 0) {
    return invalidCertificate(fmt::format("{} has a public key OpenSSL cannot read", describe()));
  }
  OpensslPtr<unsigned char> owned(der);
  return PublicKey::fromSpkiDer(
      std::string_view(reinterpret_cast<const char*>(der), static_cast<size_t>(length)),
      impl_->label());
}

namespace {

// The verification time, for the callback below.
struct CheckTime {
  // Whether the time is a whole second, so "at == notAfter" is decidable from OpenSSL's seconds.
  bool wholeSecond = false;
  time_t seconds = 0;
};

// OpenSSL counts a certificate as expired in the last second of its validity (X509_cmp_time
// treats equal as earlier); RFC 5280 and Go count notAfter itself as valid. Only that case is
// overridden: every other failure stands.
int acceptLastSecond(int ok, X509_STORE_CTX* ctx) {
  if (ok == 1 || X509_STORE_CTX_get_error(ctx) != X509_V_ERR_CERT_HAS_EXPIRED) {
    return ok;
  }
  const auto* time = static_cast<const CheckTime*>(X509_STORE_CTX_get_app_data(ctx));
  X509* cert = X509_STORE_CTX_get_current_cert(ctx);
  if (time != nullptr && time->wholeSecond && cert != nullptr &&
      ASN1_TIME_cmp_time_t(X509_get0_notAfter(cert), time->seconds) == 0) {
    X509_STORE_CTX_set_error(ctx, X509_V_OK);
    return 1;
  }
  return ok;
}

}  // namespace

Result<void> verifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                         const std::vector<Certificate>& roots, Clock::time_point at) {
  ClearErrorsOnExit clearErrors;
  const Certificate::Impl& leafImpl = *leaf.impl_;
  if (roots.empty()) {
    return makeError(
        ErrorKind::Invalid,
        fmt::format("no trusted root certificates to check {} against", leaf.describe()));
  }
  X509StorePtr store(X509_STORE_new());
  std::unique_ptr<STACK_OF(X509), StackFree> untrusted(sk_X509_new_null());
  std::unique_ptr<X509_STORE_CTX, StoreCtxFree> ctx(X509_STORE_CTX_new());
  if (!store || !untrusted || !ctx) {
    return makeError(ErrorKind::Transient, "out of memory checking a certificate chain");
  }
  for (const auto& root : roots) {
    // A root given twice is ignored by OpenSSL 3; any other failure is memory.
    if (X509_STORE_add_cert(store.get(), root.impl_->cert.get()) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
      return makeError(ErrorKind::Transient, "out of memory checking a certificate chain");
    }
  }
  for (const auto& intermediate : intermediates) {
    if (sk_X509_push(untrusted.get(), intermediate.impl_->cert.get()) <= 0) {
      return makeError(ErrorKind::Transient, "out of memory checking a certificate chain");
    }
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leafImpl.cert.get(), untrusted.get()) != 1) {
    return makeError(ErrorKind::Transient, "out of memory checking a certificate chain");
  }
  auto seconds = std::chrono::floor<std::chrono::seconds>(at);
  CheckTime checkTime{seconds == at, Clock::to_time_t(Clock::time_point(seconds))};
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  // set_time also sets X509_V_FLAG_USE_CHECK_TIME: every certificate is judged at `at`.
  X509_VERIFY_PARAM_set_time(param, checkTime.seconds);
  X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_CTX_set_app_data(ctx.get(), &checkTime);
  X509_STORE_CTX_set_verify_cb(ctx.get(), acceptLastSecond);

  auto name = [&](const X509* cert) {
    if (cert == leafImpl.cert.get()) {
      return leaf.describe();
    }
    auto subject = distinguishedName(X509_get_subject_name(cert));
    for (const auto& root : roots) {
      if (root.impl_->cert.get() == cert) {
        return fmt::format("trusted root certificate \"{}\"", subject);
      }
    }
    return fmt::format("intermediate certificate \"{}\"", subject);
  };
  auto atText = checkTime.wholeSecond ? formatTime(at) : formatMicroTime(at);

  if (X509_verify_cert(ctx.get()) != 1) {
    int error = X509_STORE_CTX_get_error(ctx.get());
    X509* failed = X509_STORE_CTX_get_current_cert(ctx.get());
    std::string failedName = failed != nullptr ? name(failed) : leaf.describe();
    std::string message;
    switch (error) {
      case X509_V_ERR_CERT_HAS_EXPIRED:
        message = fmt::format("{} expired at {}, before the signing time {}", failedName,
                              formatTime(*toTimePoint(X509_get0_notAfter(failed))), atText);
        break;
      case X509_V_ERR_CERT_NOT_YET_VALID:
        message =
            fmt::format("{} was not yet valid at the signing time {} (valid from {})", failedName,
                        atText, formatTime(*toTimePoint(X509_get0_notBefore(failed))));
        break;
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: {
        auto issuer = failed != nullptr ? distinguishedName(X509_get_issuer_name(failed)) : "";
        message = fmt::format(
            "{} does not chain to a trusted root: {} ({} is issued by \"{}\", which is neither "
            "among the {} trusted roots nor the {} intermediates given)",
            leaf.describe(), X509_verify_cert_error_string(error), failedName, issuer, roots.size(),
            intermediates.size());
        break;
      }
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        message = fmt::format(
            "{} does not chain to a trusted root: the signature on {} does not verify with its "
            "issuer's key",
            leaf.describe(), failedName);
        break;
      case X509_V_ERR_INVALID_CA:
        message = fmt::format(
            "{} does not chain to a trusted root: {} issues certificates but is not a CA (its "
            "basic "
            "constraints)",
            leaf.describe(), failedName);
        break;
      default:
        message = fmt::format("{} does not chain to a trusted root: {}: {}", leaf.describe(),
                              failedName, X509_verify_cert_error_string(error));
        break;
    }
    return makeError(ErrorKind::Terminal, std::move(message));
  }

  if (!leafImpl.codeSigning) {
    return makeError(
        ErrorKind::Terminal,
        leafImpl.hasKeyUsageExtension
            ? fmt::format("{} is not for code signing: its extended key usage lists {}, not "
                          "codeSigning",
                          leaf.describe(), quoteList(leafImpl.keyUsages))
            : fmt::format("{} is not for code signing: it has no extended key usage (a signing "
                          "certificate lists codeSigning)",
                          leaf.describe()));
  }
  // Go's x509 rule for KeyUsages: a CA that restricts its extended key usage must allow code
  // signing (or any usage) for the certificates under it to be used for it.
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 1; i < sk_X509_num(chain); ++i) {
    X509* ca = sk_X509_value(chain, i);
    if ((X509_get_extension_flags(ca) & EXFLAG_XKUSAGE) == 0) {
      continue;
    }
    if ((X509_get_extended_key_usage(ca) & (XKU_CODE_SIGN | XKU_ANYEKU)) == 0) {
      return makeError(ErrorKind::Terminal,
                       fmt::format("{} is not for code signing: {} above it restricts the "
                                   "extended key usage of what it issues, without codeSigning",
                                   leaf.describe(), name(ca)));
    }
  }
  return {};
}

namespace {

// The escapes of letters (and digits) ECMAScript and RE2 read alike; others (\A, \z, \pL, \Q,
// back-references) mean something else, or nothing, in one of them.
constexpr std::string_view kCommonEscapes = "dDwWsSbBfnrtvx";

// Invalid, about `field`, when `pattern` uses what RE2 and ECMAScript read differently, or does
// not compile.
Result<std::regex> compilePattern(const std::string& pattern, const std::string& field) {
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      char next = pattern[i + 1];
      bool letterOrDigit = (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') ||
                           (next >= '0' && next <= '9');
      if (letterOrDigit && kCommonEscapes.find(next) == std::string_view::npos) {
        return fieldError(field, fmt::format("\"{}\": the escape \\{} is not supported (Go's RE2 "
                                             "and ECMAScript differ on it; anchor with ^ and $)",
                                             pattern, next));
      }
      ++i;
      continue;
    }
    if (c == '(' && i + 2 < pattern.size() && pattern[i + 1] == '?' && pattern[i + 2] != ':') {
      return fieldError(field, fmt::format("\"{}\": groups of the form (?…) other than (?:…) are "
                                           "not supported (flags, names and look-arounds differ "
                                           "between Go's RE2 and ECMAScript)",
                                           pattern));
    }
  }
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& error) {
    return fieldError(
        field, fmt::format("\"{}\" is not a valid regular expression: {}", pattern, error.what()));
  }
}

std::string fieldPath(std::string_view prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : fmt::format("{}.{}", prefix, name);
}

// Checks one side (subject or issuer) of an identity: exactly one rule, and a regexp that
// compiles. Returns the compiled regexp when the rule is one.
Result<std::optional<std::regex>> sideRule(const std::string& exact, const std::string& regExp,
                                           std::string_view prefix, std::string_view exactName,
                                           std::string_view regExpName) {
  if (exact.empty() && regExp.empty()) {
    return fieldError(fieldPath(prefix, exactName),
                      fmt::format("give {} or {}: a keyless signature is trusted only for a named "
                                  "identity and issuer, as cosign requires both",
                                  exactName, regExpName));
  }
  if (!exact.empty() && !regExp.empty()) {
    return fieldError(fieldPath(prefix, regExpName),
                      fmt::format("give {} or {}, not both", exactName, regExpName));
  }
  if (regExp.empty()) {
    return std::optional<std::regex>();
  }
  auto compiled = compilePattern(regExp, fieldPath(prefix, regExpName));
  if (!compiled) {
    return compiled.error();
  }
  return std::optional<std::regex>(std::move(*compiled));
}

// Go's regexp.MatchString: a match anywhere in `value`.
bool searches(const std::regex& pattern, const std::string& value) {
  if (value.size() > kMaxRegexSubject) {
    return false;
  }
  try {
    return std::regex_search(value, pattern);
  } catch (const std::regex_error&) {
    return false;  // too complex to decide: not a match, never a pass
  }
}

}  // namespace

std::string CertificateIdentity::describe() const {
  auto side = [](std::string_view what, const std::string& exact, const std::string& regExp) {
    return regExp.empty() ? fmt::format("{} \"{}\"", what, exact)
                          : fmt::format("{} matching /{}/", what, regExp);
  };
  return fmt::format("{} with {}", side("subject", subject, subjectRegExp),
                     side("issuer", issuer, issuerRegExp));
}

Result<void> validateIdentity(const CertificateIdentity& identity, std::string_view field) {
  auto subject =
      sideRule(identity.subject, identity.subjectRegExp, field, "subject", "subjectRegExp");
  if (!subject) {
    return subject.error();
  }
  auto issuer = sideRule(identity.issuer, identity.issuerRegExp, field, "issuer", "issuerRegExp");
  if (!issuer) {
    return issuer.error();
  }
  return {};
}

Result<void> matchIdentity(const Certificate& certificate, const CertificateIdentity& identity) {
  auto subjectRule =
      sideRule(identity.subject, identity.subjectRegExp, "", "subject", "subjectRegExp");
  if (!subjectRule) {
    return subjectRule.error();
  }
  auto issuerRule = sideRule(identity.issuer, identity.issuerRegExp, "", "issuer", "issuerRegExp");
  if (!issuerRule) {
    return issuerRule.error();
  }
  const auto& subjects = certificate.subjects();
  bool subjectMatches = std::any_of(subjects.begin(), subjects.end(), [&](const std::string& s) {
    return *subjectRule ? searches(**subjectRule, s) : s == identity.subject;
  });
  const auto& issuer = certificate.oidcIssuer();
  bool issuerMatches = *issuerRule ? searches(**issuerRule, issuer) : issuer == identity.issuer;
  if (subjectMatches && issuerMatches) {
    return {};
  }
  std::vector<std::string> reasons;
  if (!subjectMatches) {
    reasons.push_back(
        identity.subjectRegExp.empty()
            ? fmt::format("the certificate's subjects {} do not match subject \"{}\"",
                          quoteList(subjects), identity.subject)
            : fmt::format("the certificate's subjects {} do not match subjectRegExp \"{}\"",
                          quoteList(subjects), identity.subjectRegExp));
  }
  if (!issuerMatches) {
    std::string has = issuer.empty() ? std::string("the certificate names no OIDC issuer")
                                     : fmt::format("the certificate's issuer {}", issuer);
    reasons.push_back(
        identity.issuerRegExp.empty()
            ? fmt::format("{} is not {}", has, identity.issuer)
            : fmt::format("{} does not match issuerRegExp \"{}\"", has, identity.issuerRegExp));
  }
  std::string message =
      fmt::format("{} is not of {}: ", certificate.describe(), identity.describe());
  for (size_t i = 0; i < reasons.size(); ++i) {
    message += (i == 0 ? "" : "; ") + reasons[i];
  }
  return makeError(ErrorKind::Terminal, std::move(message));
}

}  // namespace mc::signing
