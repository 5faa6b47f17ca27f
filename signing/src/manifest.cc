#include "mc/signing/manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

#include "mc/common/text.h"

namespace mc::signing {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, 4> kManifestTypes{
    kDockerManifestType, kDockerManifestListType, kOciManifestType, kOciIndexType};

bool isManifestType(std::string_view type) {
  return std::find(kManifestTypes.begin(), kManifestTypes.end(), type) != kManifestTypes.end();
}

// A Content-Type without parameters or spaces, lower-cased (media types are case-insensitive).
std::string bareMediaType(std::string_view contentType) {
  auto bare = contentType.substr(0, contentType.find(';'));
  while (!bare.empty() && (bare.front() == ' ' || bare.front() == '\t')) {
    bare.remove_prefix(1);
  }
  while (!bare.empty() && (bare.back() == ' ' || bare.back() == '\t')) {
    bare.remove_suffix(1);
  }
  return asciiLower(bare);
}

// What registries send when they do not say which manifest a body is.
bool isGenericType(std::string_view type) {
  return type.empty() || type == "application/json" || type == "text/plain" ||
         type == "application/octet-stream";
}

std::string join(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

Result<std::optional<std::string>> optionalString(const json::object& object, std::string_view key,
                                                  std::string_view parent) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) {
    return std::optional<std::string>();
  }
  if (!value->is_string()) {
    return fieldError(join(parent, key), "must be a string");
  }
  return std::optional<std::string>(std::string(value->get_string()));
}

Result<std::string> requiredString(const json::object& object, std::string_view key,
                                   std::string_view parent) {
  auto value = optionalString(object, key, parent);
  if (!value) {
    return value.error();
  }
  if (!*value || (*value)->empty()) {
    return fieldError(join(parent, key), "is required");
  }
  return std::move(**value);
}

Result<std::map<std::string, std::string>> annotationsAt(const json::object& object,
                                                         std::string_view parent) {
  std::map<std::string, std::string> out;
  const auto* value = object.if_contains("annotations");
  if (value == nullptr || value->is_null()) {
    return out;
  }
  auto field = join(parent, "annotations");
  if (!value->is_object()) {
    return fieldError(field, "must be an object of strings");
  }
  for (const auto& member : value->get_object()) {
    if (!member.value().is_string()) {
      return fieldError(fmt::format("{}[{}]", field, std::string_view(member.key())),
                        "must be a string");
    }
    out.emplace(member.key(), member.value().get_string());
  }
  return out;
}

Result<Platform> platformAt(const json::value& value, std::string_view field) {
  if (!value.is_object()) {
    return fieldError(std::string(field), "must be an object");
  }
  const auto& object = value.get_object();
  Platform platform;
  auto os = requiredString(object, "os", field);
  if (!os) {
    return os.error();
  }
  auto architecture = requiredString(object, "architecture", field);
  if (!architecture) {
    return architecture.error();
  }
  auto variant = optionalString(object, "variant", field);
  if (!variant) {
    return variant.error();
  }
  platform.os = std::move(*os);
  platform.architecture = std::move(*architecture);
  platform.variant = variant->value_or("");
  return platform;
}

Result<Descriptor> descriptorAt(const json::value& value, std::string_view field) {
  if (!value.is_object()) {
    return fieldError(std::string(field), "must be an object (a descriptor)");
  }
  const auto& object = value.get_object();
  Descriptor descriptor;
  auto mediaType = requiredString(object, "mediaType", field);
  if (!mediaType) {
    return mediaType.error();
  }
  descriptor.mediaType = std::move(*mediaType);
  auto digest = requiredString(object, "digest", field);
  if (!digest) {
    return digest.error();
  }
  if (auto valid = checkDigest(*digest, join(field, "digest")); !valid) {
    return valid.error();
  }
  descriptor.digest = std::move(*digest);
  const auto* size = object.if_contains("size");
  if (size == nullptr) {
    return fieldError(join(field, "size"), "is required");
  }
  if (size->is_int64() && size->get_int64() >= 0) {
    descriptor.size = size->get_int64();
  } else if (size->is_uint64() || size->is_int64()) {
    return fieldError(join(field, "size"), "must be a size in bytes (0 to 2^63-1)");
  } else {
    return fieldError(join(field, "size"), "must be an integer");
  }
  auto annotations = annotationsAt(object, field);
  if (!annotations) {
    return annotations.error();
  }
  descriptor.annotations = std::move(*annotations);
  if (const auto* platform = object.if_contains("platform");
      platform != nullptr && !platform->is_null()) {
    auto parsed = platformAt(*platform, join(field, "platform"));
    if (!parsed) {
      return parsed.error();
    }
    descriptor.platform = std::move(*parsed);
  }
  auto artifactType = optionalString(object, "artifactType", field);
  if (!artifactType) {
    return artifactType.error();
  }
  descriptor.artifactType = artifactType->value_or("");
  return descriptor;
}

Result<std::vector<Descriptor>> descriptorsAt(const json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) {
    return fieldError(std::string(key), "is required");
  }
  if (!value->is_array()) {
    return fieldError(std::string(key), "must be an array of descriptors");
  }
  std::vector<Descriptor> out;
  const auto& array = value->get_array();
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    auto descriptor = descriptorAt(array[i], fmt::format("{}[{}]", key, i));
    if (!descriptor) {
      return descriptor.error();
    }
    out.push_back(std::move(*descriptor));
  }
  return out;
}

ManifestKind kindOf(std::string_view type) {
  if (type == kDockerManifestType) {
    return ManifestKind::DockerManifest;
  }
  if (type == kDockerManifestListType) {
    return ManifestKind::DockerManifestList;
  }
  if (type == kOciIndexType) {
    return ManifestKind::OciIndex;
  }
  return ManifestKind::OciManifest;
}

// containerd's normalisation of variants, so "linux/arm64" and "linux/arm64/v8" are one.
std::string normalVariant(const Platform& platform) {
  if (platform.architecture == "arm64" && platform.variant.empty()) {
    return "v8";
  }
  if (platform.architecture == "arm" && platform.variant.empty()) {
    return "v7";
  }
  if (platform.architecture == "amd64" && platform.variant == "v1") {
    return "";
  }
  return platform.variant;
}

}  // namespace

std::string Platform::str() const {
  return variant.empty() ? fmt::format("{}/{}", os, architecture)
                         : fmt::format("{}/{}/{}", os, architecture, variant);
}

Result<Platform> parsePlatform(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    auto slash = text.find('/', start);
    parts.push_back(text.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  bool empty = std::any_of(parts.begin(), parts.end(), [](auto part) { return part.empty(); });
  if (parts.size() < 2 || parts.size() > 3 || empty) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("platform \"{}\" is not os/architecture[/variant]", text));
  }
  return Platform{std::string(parts[0]), std::string(parts[1]),
                  parts.size() == 3 ? std::string(parts[2]) : std::string()};
}

Result<Manifest> parseManifest(std::string_view body, std::string_view contentType) {
  boost::system::error_code ec;
  json::value value = json::parse(body, ec);
  if (ec) {
    return makeError(ErrorKind::Invalid, fmt::format("manifest is not JSON: {}", ec.message()));
  }
  if (!value.is_object()) {
    return makeError(ErrorKind::Invalid, "manifest is not a JSON object");
  }
  const auto& object = value.get_object();

  auto header = bareMediaType(contentType);
  if (!isGenericType(header) && !isManifestType(header)) {
    auto error = makeError(ErrorKind::Invalid,
                           fmt::format("media type \"{}\" is not a manifest MC reads (Docker v2 "
                                       "schema 2 or OCI manifests and indexes)",
                                       header));
    error.field = "Content-Type";
    return error;
  }
  auto bodyType = optionalString(object, "mediaType", "");
  if (!bodyType) {
    return bodyType.error();
  }
  if (*bodyType && !isManifestType(**bodyType)) {
    return fieldError("mediaType",
                      fmt::format("\"{}\" is not a manifest MC reads (Docker v2 schema 2 or OCI "
                                  "manifests and indexes)",
                                  **bodyType));
  }
  std::string type;
  if (isManifestType(header)) {
    if (*bodyType && **bodyType != header) {
      return fieldError("mediaType", fmt::format("\"{}\" contradicts the Content-Type \"{}\"",
                                                 **bodyType, header));
    }
    type = header;
  } else if (*bodyType) {
    type = **bodyType;
  } else {
    type = std::string(object.contains("manifests") ? kOciIndexType : kOciManifestType);
  }

  Manifest manifest;
  manifest.kind = kindOf(type);
  manifest.mediaType = type;
  const auto* schemaVersion = object.if_contains("schemaVersion");
  if (schemaVersion == nullptr) {
    return fieldError("schemaVersion", "is required");
  }
  if (!schemaVersion->is_int64() || schemaVersion->get_int64() != 2) {
    return fieldError("schemaVersion",
                      fmt::format("must be 2, not {}", json::serialize(*schemaVersion)));
  }
  manifest.schemaVersion = 2;
  if (manifest.isIndex()) {
    auto manifests = descriptorsAt(object, "manifests");
    if (!manifests) {
      return manifests.error();
    }
    manifest.manifests = std::move(*manifests);
  } else {
    const auto* config = object.if_contains("config");
    if (config == nullptr) {
      return fieldError("config", "is required");
    }
    auto parsed = descriptorAt(*config, "config");
    if (!parsed) {
      return parsed.error();
    }
    manifest.config = std::move(*parsed);
    auto layers = descriptorsAt(object, "layers");
    if (!layers) {
      return layers.error();
    }
    manifest.layers = std::move(*layers);
  }
  auto annotations = annotationsAt(object, "");
  if (!annotations) {
    return annotations.error();
  }
  manifest.annotations = std::move(*annotations);
  auto artifactType = optionalString(object, "artifactType", "");
  if (!artifactType) {
    return artifactType.error();
  }
  manifest.artifactType = artifactType->value_or("");
  if (const auto* subject = object.if_contains("subject");
      subject != nullptr && !subject->is_null()) {
    auto parsed = descriptorAt(*subject, "subject");
    if (!parsed) {
      return parsed.error();
    }
    manifest.subject = std::move(*parsed);
  }
  return manifest;
}

Result<Descriptor> selectPlatform(const Manifest& index, const Platform& platform) {
  if (!index.isIndex()) {
    return makeError(
        ErrorKind::Invalid,
        fmt::format("a {} is not an index: it has no platforms to choose from", index.mediaType));
  }
  auto wanted = normalVariant(platform);
  for (const auto& entry : index.manifests) {
    if (!entry.platform || entry.platform->os != platform.os ||
        entry.platform->architecture != platform.architecture) {
      continue;
    }
    if (wanted.empty() || normalVariant(*entry.platform) == wanted) {
      return entry;
    }
  }
  std::vector<std::string> offered;
  for (const auto& entry : index.manifests) {
    if (entry.platform) {
      offered.push_back(entry.platform->str());
    }
  }
  return makeError(ErrorKind::NotFound,
                   fmt::format("the index has no manifest for {} (it has: {})", platform.str(),
                               offered.empty() ? "none with a platform"
                                               : fmt::format("{}", fmt::join(offered, ", "))));
}

}  // namespace mc::signing
