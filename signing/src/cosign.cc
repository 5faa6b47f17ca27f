#include "mc/signing/cosign.h"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "go_json.h"

namespace mc::signing {
namespace {

namespace json = boost::json;
using gojson::member;
using gojson::objectMember;
using gojson::stringMember;

}  // namespace

Result<std::string> signatureTag(std::string_view digest) {
  if (auto valid = checkSha256Digest(digest); !valid) {
    return valid.error();
  }
  return fmt::format("sha256-{}.sig", digest.substr(kSha256.size() + 1));
}

Result<std::string> attestationTag(std::string_view digest) {
  if (auto valid = checkSha256Digest(digest); !valid) {
    return valid.error();
  }
  return fmt::format("sha256-{}.att", digest.substr(kSha256.size() + 1));
}

namespace {

std::string annotation(const Descriptor& layer, std::string_view key) {
  auto found = layer.annotations.find(std::string(key));
  return found == layer.annotations.end() ? std::string() : found->second;
}

// The layers of `mediaType` of a cosign manifest (`what`: "signature", "attestation"); with
// `signed`, each must carry the signature annotation.
Result<SignatureLayers> cosignLayers(const Manifest& manifest, std::string_view mediaType,
                                     std::string_view what, bool needsSignature) {
  if (manifest.isIndex()) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("a cosign {} manifest is an image manifest, not a {}", what,
                                 manifest.mediaType));
  }
  SignatureLayers out;
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const auto& layer = manifest.layers[i];
    auto field = fmt::format("layers[{}]", i);
    if (layer.mediaType != mediaType) {
      out.skipped.push_back(
          fieldError(fmt::format("{}.mediaType", field),
                     fmt::format("\"{}\" is not a cosign {} layer", layer.mediaType, what)));
      continue;
    }
    SignatureLayer parsed;
    parsed.signature = annotation(layer, kSignatureAnnotation);
    if (needsSignature && parsed.signature.empty()) {
      out.skipped.push_back(
          fieldError(fmt::format("{}.annotations[{}]", field, kSignatureAnnotation),
                     "is missing: the layer carries no signature"));
      continue;
    }
    parsed.index = i;
    parsed.payloadDigest = layer.digest;
    parsed.payloadSize = layer.size;
    parsed.certificate = annotation(layer, kCertificateAnnotation);
    parsed.chain = annotation(layer, kChainAnnotation);
    parsed.rekorBundle = annotation(layer, kRekorBundleAnnotation);
    parsed.rfc3161 = annotation(layer, kRfc3161Annotation);
    out.layers.push_back(std::move(parsed));
  }
  if (out.layers.empty()) {
    auto error = makeError(
        ErrorKind::Invalid,
        fmt::format("the {} manifest has no cosign {} layer ({} layers{})", what, what,
                    manifest.layers.size(),
                    out.skipped.empty()
                        ? ""
                        : fmt::format("; first refused: {}", out.skipped.front().fieldMessage())));
    error.field = "layers";
    return error;
  }
  return out;
}

}  // namespace

Result<SignatureLayers> signatureLayers(const Manifest& manifest) {
  return cosignLayers(manifest, kSimpleSigningMediaType, "signature", true);
}

Result<SignatureLayers> attestationLayers(const Manifest& manifest) {
  return cosignLayers(manifest, kDsseLayerMediaType, "attestation", false);
}

Result<SimpleSigningPayload> parseSimpleSigningPayload(std::string_view bytes) {
  auto value = gojson::parseObject(bytes, "signature payload");
  if (!value) {
    return value.error();
  }
  auto critical = objectMember(*value, "critical", "critical");
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
  auto optional = member(*value, "optional", "optional");
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
