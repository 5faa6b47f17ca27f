#include "mc/signing/cosign.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

namespace mc::signing {
namespace {

namespace json = boost::json;

bool sameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// The member of `object` whose key equals `key` ignoring case, as Go's encoding/json finds a
// struct field; nullptr when none. Two such members are ambiguous: Go would take the last, a
// reader that sees the first would see another payload, so MC takes neither.
Result<const json::value*> member(const json::object& object, std::string_view key,
                                  std::string_view field) {
  const json::value* found = nullptr;
  for (const auto& entry : object) {
    if (sameIgnoringCase(entry.key(), key)) {
      if (found != nullptr) {
        return fieldError(std::string(field),
                          "is given twice (keys differing only in case); refusing the payload");
      }
      found = &entry.value();
    }
  }
  return found;
}

Result<const json::object*> objectMember(const json::object& object, std::string_view key,
                                         std::string_view field) {
  auto found = member(object, key, field);
  if (!found) {
    return found.error();
  }
  if (*found == nullptr) {
    return fieldError(std::string(field), "is required");
  }
  if (!(*found)->is_object()) {
    return fieldError(std::string(field), "must be an object");
  }
  return &(*found)->get_object();
}

// A string member; empty when absent or null (Go leaves the field empty), Invalid when another
// type.
Result<std::string> stringMember(const json::object& object, std::string_view key,
                                 std::string_view field) {
  auto found = member(object, key, field);
  if (!found) {
    return found.error();
  }
  if (*found == nullptr || (*found)->is_null()) {
    return std::string();
  }
  if (!(*found)->is_string()) {
    return fieldError(std::string(field), "must be a string");
  }
  return std::string((*found)->get_string());
}

}  // namespace

Result<std::string> signatureTag(std::string_view digest) {
  if (auto valid = checkSha256Digest(digest); !valid) {
    return valid.error();
  }
  return fmt::format("sha256-{}.sig", digest.substr(kSha256.size() + 1));
}

Result<SignatureLayers> signatureLayers(const Manifest& manifest) {
  if (manifest.isIndex()) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("a cosign signature manifest is an image manifest, not a {}",
                                 manifest.mediaType));
  }
  SignatureLayers out;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const auto& layer = manifest.layers[i];
    auto field = fmt::format("layers[{}]", i);
    if (layer.mediaType != kSimpleSigningMediaType) {
      out.skipped.push_back(
          fieldError(fmt::format("{}.mediaType", field),
                     fmt::format("\"{}\" is not a cosign simple-signing layer", layer.mediaType)));
      continue;
    }
    auto signature = layer.annotations.find(std::string(kSignatureAnnotation));
    if (signature == layer.annotations.end() || signature->second.empty()) {
      out.skipped.push_back(
          fieldError(fmt::format("{}.annotations[{}]", field, kSignatureAnnotation),
                     "is missing: the layer carries no signature"));
      continue;
    }
    SignatureLayer parsed;
    parsed.index = i;
    parsed.payloadDigest = layer.digest;
    parsed.payloadSize = layer.size;
    parsed.signature = signature->second;
    if (auto found = layer.annotations.find(std::string(kCertificateAnnotation));
        found != layer.annotations.end()) {
      parsed.certificate = found->second;
    }
    if (auto found = layer.annotations.find(std::string(kChainAnnotation));
        found != layer.annotations.end()) {
      parsed.chain = found->second;
    }
    out.layers.push_back(std::move(parsed));
  }
  if (out.layers.empty()) {
    auto error = makeError(
        ErrorKind::Invalid,
        fmt::format("the signature manifest has no cosign signature layer ({} layers{})",
                    manifest.layers.size(),
                    out.skipped.empty()
                        ? ""
                        : fmt::format("; first refused: {}", out.skipped.front().fieldMessage())));
    error.field = "layers";
    return error;
  }
  return out;
}

Result<SimpleSigningPayload> parseSimpleSigningPayload(std::string_view bytes) {
  boost::system::error_code ec;
  json::value value = json::parse(bytes, ec);
  if (ec) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("signature payload is not JSON: {}", ec.message()));
  }
  if (!value.is_object()) {
    return makeError(ErrorKind::Invalid, "signature payload is not a JSON object");
  }
  auto critical = objectMember(value.get_object(), "critical", "critical");
  if (!critical) {
    return critical.error();
  }
  SimpleSigningPayload payload;
  auto type = stringMember(**critical, "type", "critical.type");
  if (!type) {
    return type.error();
  }
  if (*type != kCosignSignatureType) {
    return fieldError("critical.type",
                      fmt::format("is \"{}\", not \"{}\"", *type, kCosignSignatureType));
  }
  payload.type = std::move(*type);
  auto image = objectMember(**critical, "image", "critical.image");
  if (!image) {
    return image.error();
  }
  auto digest =
      stringMember(**image, "docker-manifest-digest", "critical.image.docker-manifest-digest");
  if (!digest) {
    return digest.error();
  }
  if (digest->empty()) {
    return fieldError("critical.image.docker-manifest-digest", "is required");
  }
  if (auto valid = checkSha256Digest(*digest, "critical.image.docker-manifest-digest"); !valid) {
    return valid.error();
  }
  payload.manifestDigest = std::move(*digest);
  // cosign reads the identity but does not require it; MC keeps it for messages and policies.
  auto identity = member(**critical, "identity", "critical.identity");
  if (!identity) {
    return identity.error();
  }
  if (*identity != nullptr && !(*identity)->is_null()) {
    if (!(*identity)->is_object()) {
      return fieldError("critical.identity", "must be an object");
    }
    auto reference = stringMember((*identity)->get_object(), "docker-reference",
                                  "critical.identity.docker-reference");
    if (!reference) {
      return reference.error();
    }
    payload.dockerReference = std::move(*reference);
  }
  auto optional = member(value.get_object(), "optional", "optional");
  if (!optional) {
    return optional.error();
  }
  if (*optional != nullptr && !(*optional)->is_null()) {
    if (!(*optional)->is_object()) {
      return fieldError("optional", "must be an object or null");
    }
    payload.optional = (*optional)->get_object();
  }
  return payload;
}

Result<void> checkPayloadDigest(const SimpleSigningPayload& payload,
                                std::string_view expectedDigest) {
  if (payload.manifestDigest != expectedDigest) {
    auto error = makeError(ErrorKind::Terminal,
                           fmt::format("the signature is for {}, not for {}: a signature of "
                                       "another image",
                                       payload.manifestDigest, expectedDigest));
    error.field = "critical.image.docker-manifest-digest";
    return error;
  }
  return {};
}

}  // namespace mc::signing
