#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "mc/common/error.h"

namespace mc::signing {

// Docker Hub's name in references, and the host its registry API answers on.
inline constexpr std::string_view kDockerHub = "docker.io";
inline constexpr std::string_view kDockerHubApiHost = "index.docker.io";

// One name per registry, so a policy's pattern cannot be dodged by spelling the same registry
// otherwise, and a pull secret's entry is found however either is spelt: host names are
// case-insensitive, :443 is HTTPS's default port, and Docker Hub answers as docker.io,
// index.docker.io and registry-1.docker.io. Lower case, unless that (or dropping :443) would leave
// a name Docker reads as a Docker Hub path ("MyHost" or "myhost:443" become "myhost"): such a host
// is written in upper case ("MYHOST"), still one name for every spelling, and a reference pinned
// from it still names the registry it was resolved on. `host` is "host[:port]".
std::string canonicalRegistry(std::string_view host);

// An image reference as a pod spec writes it, read as Docker and containerd read it:
// `[registry[:port]/]repository[:tag][@sha256:<64 hex>]`.
// - The first path component is a registry only when it holds a '.' or a ':', is `localhost`, or
//   has an upper-case letter (which a repository cannot); otherwise the registry is docker.io.
// - On docker.io a one-component repository is an official image: `nginx` is `library/nginx`.
// - The registry has one name however it is spelt: lower-cased, without HTTPS's default :443, and
//   docker.io for index.docker.io and registry-1.docker.io (so a policy's pattern cannot be
//   dodged by another spelling of the same registry).
// - Repository components are lower-case alphanumerics joined by '.', '_', '__' or dashes; a tag
//   is up to 128 of [A-Za-z0-9_.-] not starting with '.' or '-'; a digest must be sha256.
// An immutable value; copies are cheap enough and safe on any thread.
class ImageReference {
 public:
  // Invalid, saying what is wrong, for anything Docker would refuse (and for digests other than
  // sha256, which MC does not pin to).
  static Result<ImageReference> parse(std::string_view text);

  // The registry as normalised: "docker.io", "ghcr.io", "localhost:5000".
  const std::string& registry() const { return registry_; }
  // The host (and port) of the registry's HTTP API: "index.docker.io" for docker.io.
  std::string apiHost() const;
  // "library/nginx", "org/app".
  const std::string& repository() const { return repository_; }
  // As written; empty when the reference names none (Docker would then pull "latest").
  const std::string& tag() const { return tag_; }
  // "sha256:<hex>" as written; empty when the reference names none.
  const std::string& digest() const { return digest_; }
  bool hasDigest() const { return !digest_.empty(); }

  // "docker.io/library/nginx": the registry as normalised (docker.io, never index.docker.io, so
  // one image has one name in MC's status, records and messages) and the repository.
  std::string name() const;
  // name() + "@sha256:..." when the reference holds a digest: the tag dropped, since the digest
  // alone says what runs. nullopt without a digest.
  std::optional<std::string> pinned() const;
  // The same image pinned to `digest` (what a tag resolved to), the tag kept; Invalid unless
  // `digest` is a sha256 digest.
  Result<ImageReference> withDigest(std::string_view digest) const;
  // The whole normalised reference: name()[:tag][@digest].
  std::string str() const;

  bool operator==(const ImageReference&) const = default;

 private:
  ImageReference() = default;

  std::string registry_;
  std::string repository_;
  std::string tag_;
  std::string digest_;
};

}  // namespace mc::signing
