#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/signing/digest.h"

// Registry manifests: the four media types MC reads (Docker's v2 schema 2 manifest and manifest
// list, OCI's image manifest and index), parsed from a registry's bytes and Content-Type.
namespace mc::signing {

inline constexpr std::string_view kDockerManifestType =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestListType =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kOciManifestType = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndexType = "application/vnd.oci.image.index.v1+json";
// The Accept header that asks a registry for any of them (and not for schema 1).
inline constexpr std::string_view kManifestAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;  // "v8" for arm64, "v7" for arm; often empty

  // "linux/amd64", "linux/arm64/v8".
  std::string str() const;
  bool operator==(const Platform&) const = default;
};

// "os/architecture[/variant]" as `docker --platform` takes it.
Result<Platform> parsePlatform(std::string_view text);

// A content descriptor: what a manifest says about a blob or another manifest.
struct Descriptor {
  std::string mediaType;
  std::string digest;  // checked: sha256 or sha512 with the right number of lower-case hex digits
  int64_t size = 0;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // in an index
  std::string artifactType;          // OCI 1.1; empty when absent
};

enum class ManifestKind { DockerManifest, DockerManifestList, OciManifest, OciIndex };

struct Manifest {
  ManifestKind kind = ManifestKind::OciManifest;
  std::string mediaType;  // the media type the manifest was read as
  int64_t schemaVersion = 2;
  // An image manifest's parts.
  std::optional<Descriptor> config;
  std::vector<Descriptor> layers;
  // An index's (or manifest list's) manifests.
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
  std::string artifactType;
  std::optional<Descriptor> subject;  // OCI 1.1 referrers

  bool isIndex() const {
    return kind == ManifestKind::DockerManifestList || kind == ManifestKind::OciIndex;
  }
};

// The manifest in `body`, read as `contentType` says (parameters such as "; charset=utf-8"
// ignored). When the header is generic (empty, application/json, application/octet-stream, or
// not a manifest type) the body's own mediaType decides, and without one its shape does (OCI
// allows a manifest without mediaType): `manifests` makes an OCI index, otherwise an OCI image
// manifest. Invalid, naming the field, for anything malformed: not JSON, a field of the wrong
// type, a descriptor without a digest or with a bad one, a media type MC does not read, a body
// whose mediaType contradicts the header.
Result<Manifest> parseManifest(std::string_view body, std::string_view contentType);

// The platform MC runs images for when nothing else is said.
inline const Platform kDefaultPlatform{"linux", "amd64", ""};

// The entry of an index for `platform`: os and architecture equal, and variant equal after
// containerd's normalisation (arm64 means arm64/v8, arm means arm/v7, amd64/v1 is amd64); a
// variant still empty after it (amd64) takes the first entry of that os and architecture, in the
// index's order, whatever its variant. NotFound naming
// the platforms the index has when none fits; Invalid when `index` is not an index.
Result<Descriptor> selectPlatform(const Manifest& index,
                                  const Platform& platform = kDefaultPlatform);

}  // namespace mc::signing
