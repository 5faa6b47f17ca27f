#include "mc/signing/bundle.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>

#include "go_json.h"

namespace mc::signing {
namespace {

namespace json = boost::json;

constexpr std::array kBundleMediaTypes = {
    std::string_view("application/vnd.dev.sigstore.bundle+json;version=0.1"),
    std::string_view("application/vnd.dev.sigstore.bundle+json;version=0.2"),
    std::string_view("application/vnd.dev.sigstore.bundle+json;version=0.3"),
    std::string_view("application/vnd.dev.sigstore.bundle.v0.3+json"),
};

// A member by its protobuf-JSON name or its proto field name; protojson reads both, and only
// those (case matters).
const json::value* field(const json::object& object, std::string_view camel,
                         std::string_view snake = {}) {
  if (const auto* found = object.if_contains(camel)) {
    return found->is_null() ? nullptr : found;
  }
  if (!snake.empty()) {
    if (const auto* found = object.if_contains(snake)) {
      return found->is_null() ? nullptr : found;
    }
  }
  return nullptr;
}

Result<const json::object*> objectField(const json::object& object, const std::string& path,
                                        std::string_view camel, std::string_view snake = {}) {
  const auto* found = field(object, camel, snake);
  if (found == nullptr) {
    return static_cast<const json::object*>(nullptr);
  }
  if (!found->is_object()) {
    return fieldError(fmt::format("{}.{}", path, camel), "must be an object");
  }
  return &found->get_object();
}

Result<const json::array*> arrayField(const json::object& object, const std::string& path,
                                      std::string_view camel, std::string_view snake = {}) {
  const auto* found = field(object, camel, snake);
  if (found == nullptr) {
    return static_cast<const json::array*>(nullptr);
  }
  if (!found->is_array()) {
    return fieldError(fmt::format("{}.{}", path, camel), "must be an array");
  }
  return &found->get_array();
}

// protobuf `bytes`: base64 (standard or URL-safe, padding optional). Empty when absent.
Result<std::string> bytesField(const json::object& object, const std::string& path,
                               std::string_view camel, std::string_view snake = {}) {
  const auto* found = field(object, camel, snake);
  if (found == nullptr) {
    return std::string();
  }
  auto name = fmt::format("{}.{}", path, camel);
  if (!found->is_string()) {
    return fieldError(name, "must be a base64 string");
  }
  auto decoded = decodeBase64Lenient(found->get_string());
  if (!decoded) {
    return fieldError(name, "is not base64");
  }
  return std::move(*decoded);
}

Result<std::string> stringField(const json::object& object, const std::string& path,
                                std::string_view camel, std::string_view snake = {}) {
  const auto* found = field(object, camel, snake);
  if (found == nullptr) {
    return std::string();
  }
  if (!found->is_string()) {
    return fieldError(fmt::format("{}.{}", path, camel), "must be a string");
  }
  return std::string(found->get_string());
}

// X509Certificate messages ({"rawBytes": base64 DER}) of `list`, appended to `out`.
Result<void> readCertificates(const json::array& list, const std::string& path,
                              std::vector<std::string>& out) {
  for (size_t i = 0; i < list.size(); ++i) {
    auto at = fmt::format("{}[{}]", path, i);
    if (!list[i].is_object()) {
      return fieldError(at, "must be an object");
    }
    auto der = bytesField(list[i].get_object(), at, "rawBytes", "raw_bytes");
    if (!der) {
      return der.error();
    }
    if (der->empty()) {
      return fieldError(at + ".rawBytes", "is required");
    }
    out.push_back(std::move(*der));
  }
  return {};
}

Result<void> readVerificationMaterial(const json::object& material, SigstoreBundle& out) {
  const std::string path = "verificationMaterial";
  if (auto key = objectField(material, path, "publicKey", "public_key"); !key) {
    return key.error();
  } else if (*key != nullptr) {
    auto hint = stringField(**key, path + ".publicKey", "hint");
    if (!hint) {
      return hint.error();
    }
    out.publicKeyHint = std::move(*hint);
  }
  if (auto certificate = objectField(material, path, "certificate"); !certificate) {
    return certificate.error();
  } else if (*certificate != nullptr) {
    json::array one{**certificate};
    if (auto read = readCertificates(one, path + ".certificate", out.certificates); !read) {
      return read.error();
    }
  }
  if (auto chain = objectField(material, path, "x509CertificateChain", "x509_certificate_chain");
      !chain) {
    return chain.error();
  } else if (*chain != nullptr) {
    auto list = arrayField(**chain, path + ".x509CertificateChain", "certificates");
    if (!list) {
      return list.error();
    }
    if (*list != nullptr) {
      auto read =
          readCertificates(**list, path + ".x509CertificateChain.certificates", out.certificates);
      if (!read) {
        return read.error();
      }
    }
  }
  auto entries = arrayField(material, path, "tlogEntries", "tlog_entries");
  if (!entries) {
    return entries.error();
  }
  if (*entries != nullptr) {
    out.tlogEntries.assign((*entries)->begin(), (*entries)->end());
  }
  auto timestamps =
      objectField(material, path, "timestampVerificationData", "timestamp_verification_data");
  if (!timestamps) {
    return timestamps.error();
  }
  if (*timestamps != nullptr) {
    auto tsPath = path + ".timestampVerificationData";
    auto list = arrayField(**timestamps, tsPath, "rfc3161Timestamps", "rfc3161_timestamps");
    if (!list) {
      return list.error();
    }
    for (size_t i = 0; *list != nullptr && i < (*list)->size(); ++i) {
      auto at = fmt::format("{}.rfc3161Timestamps[{}]", tsPath, i);
      if (!(**list)[i].is_object()) {
        return fieldError(at, "must be an object");
      }
      auto der = bytesField((**list)[i].get_object(), at, "signedTimestamp", "signed_timestamp");
      if (!der) {
        return der.error();
      }
      out.rfc3161Timestamps.push_back(std::move(*der));
    }
  }
  return {};
}

Result<MessageSignature> readMessageSignature(const json::object& message) {
  const std::string path = "messageSignature";
  MessageSignature out;
  auto digest = objectField(message, path, "messageDigest", "message_digest");
  if (!digest) {
    return digest.error();
  }
  if (*digest != nullptr) {
    auto algorithm = stringField(**digest, path + ".messageDigest", "algorithm");
    auto value = bytesField(**digest, path + ".messageDigest", "digest");
    if (!algorithm || !value) {
      return algorithm ? value.error() : algorithm.error();
    }
    out.digestAlgorithm = std::move(*algorithm);
    out.digest = std::move(*value);
  }
  auto signature = bytesField(message, path, "signature");
  if (!signature) {
    return signature.error();
  }
  if (signature->empty()) {
    return fieldError(path + ".signature", "is required");
  }
  out.signature = std::move(*signature);
  return out;
}

}  // namespace

Result<SigstoreBundle> parseSigstoreBundle(std::string_view bytes) {
  boost::system::error_code ec;
  json::value value = json::parse(bytes, ec);
  if (ec) {
    return makeError(ErrorKind::Invalid, fmt::format("bundle is not JSON: {}", ec.message()));
  }
  if (!value.is_object()) {
    return makeError(ErrorKind::Invalid, "bundle is not a JSON object");
  }
  const auto& bundle = value.get_object();
  SigstoreBundle out;
  auto mediaType = stringField(bundle, "bundle", "mediaType", "media_type");
  if (!mediaType) {
    return mediaType.error();
  }
  if (std::find(kBundleMediaTypes.begin(), kBundleMediaTypes.end(), *mediaType) ==
      kBundleMediaTypes.end()) {
    return fieldError("mediaType", fmt::format("\"{}\" is not a Sigstore bundle MC reads (v0.1 "
                                               "to v0.3)",
                                               *mediaType));
  }
  out.mediaType = std::move(*mediaType);
  auto material = objectField(bundle, "bundle", "verificationMaterial", "verification_material");
  if (!material) {
    return material.error();
  }
  if (*material == nullptr) {
    return fieldError("verificationMaterial", "is required");
  }
  if (auto read = readVerificationMaterial(**material, out); !read) {
    return read.error();
  }
  auto envelope = objectField(bundle, "bundle", "dsseEnvelope", "dsse_envelope");
  auto message = objectField(bundle, "bundle", "messageSignature", "message_signature");
  if (!envelope || !message) {
    return envelope ? message.error() : envelope.error();
  }
  if ((*envelope == nullptr) == (*message == nullptr)) {
    return fieldError("dsseEnvelope",
                      "a bundle holds exactly one of dsseEnvelope and messageSignature");
  }
  if (*envelope != nullptr) {
    auto read = readDsseEnvelope(**envelope, "dsseEnvelope");
    if (!read) {
      return read.error();
    }
    out.dsse = std::move(*read);
  } else {
    auto read = readMessageSignature(**message);
    if (!read) {
      return read.error();
    }
    out.messageSignature = std::move(*read);
  }
  return out;
}

}  // namespace mc::signing
