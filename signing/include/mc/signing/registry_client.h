#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/signing/docker_config.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/manifest.h"

// Reading manifests and blobs from an OCI registry (the distribution API), as a verifier needs
// them: an image's manifest or index, a cosign signature manifest, its payload blobs.
namespace mc::signing {

// distribution's own limit on a manifest's size; a registry that sends more is refused.
inline constexpr uint64_t kMaxManifestBytes = 4 * 1024 * 1024;

// A manifest as the registry served it, its bytes checked against its digest.
struct FetchedManifest {
  std::string digest;     // "sha256:<hex>" of `bytes`: what `repository@digest` names
  std::string mediaType;  // the media type it was read as (manifest.mediaType)
  std::string bytes;      // exactly as served: these are what the digest and signatures cover
  Manifest manifest;
};

// A registry, read-only. Credentials are those of a pull Secret for the reference's registry
// (DockerConfig::lookup), or nullopt for anonymous access; they are only ever sent to that
// registry and the token server it names, and never appear in an error.
// Coroutine parameters are values (GCC 12: a reference to a caller's temporary dangles after the
// first suspension); callers name class-type arguments before co_await-ing.
class RegistryClient {
 public:
  virtual ~RegistryClient() = default;

  // The manifest `ref` names: by digest when it has one (the bytes must hash to it), else by tag
  // ("latest" when it names none; the registry's Docker-Content-Digest, when sent, must match the
  // bytes). NotFound when the registry has no such manifest; Unauthorized or Forbidden when it
  // refuses access; Transient or Timeout when it cannot be reached; Terminal for bytes that are
  // not what was asked for; Invalid for a manifest MC cannot read.
  virtual boost::asio::awaitable<Result<FetchedManifest>> manifest(
      ImageReference ref, std::optional<RegistryCredentials> credentials) = 0;

  // The blob `digest` in `ref`'s repository (its tag and digest are ignored), checked against
  // the digest, and refused (Terminal) when larger than `maxBytes`: the blobs MC reads (signature
  // payloads, attestations) are small, and a registry must not make MC hold more.
  virtual boost::asio::awaitable<Result<std::string>> blob(
      ImageReference ref, std::string digest, uint64_t maxBytes,
      std::optional<RegistryCredentials> credentials) = 0;

  // The referrers API (`GET /v2/<name>/referrers/<digest>`) for `pinned`'s digest: the index the
  // registry answers. NotFound when the registry has no such API (distribution 2.x answers 404;
  // one that has it never does), and then the tag fallback is what pushers wrote.
  virtual boost::asio::awaitable<Result<Manifest>> referrers(
      ImageReference pinned, std::optional<RegistryCredentials> credentials) = 0;
};

using RegistryClientPtr = std::unique_ptr<RegistryClient>;

// The index of a digest's OCI 1.1 referrers (signatures, attestations, SBOMs pushed with
// `subject` = the digest): the registry's referrers API when it has one, else the tag fallback
// `sha256-<hex>` that pushers write on registries without it (cosign v3 does). An empty index when
// there are none (or the tag holds no index). Errors as RegistryClient::manifest, except NotFound,
// which is never returned: a registry that fails is never "no referrers".
boost::asio::awaitable<Result<Manifest>> referrersOf(
    RegistryClient& client, ImageReference pinned, std::optional<RegistryCredentials> credentials);

// What an image reference runs as.
struct ResolvedImage {
  // The digest of the manifest the reference names: for a multi-platform image, the index's
  // own digest. That is what a pinned `repository@sha256:...` names (Kubernetes and containerd
  // pin the index, and pull the platform's manifest through it), and what `cosign sign` signs
  // when given a tag or that pinned reference: it resolves the tag to the top-level digest and
  // writes `sha256-<that>.sig`. So signatures are looked up and checked against this digest.
  // (`cosign sign --recursive` also signs each platform manifest; a policy that accepts those
  // needs `platformManifest` below.)
  std::string digest;
  std::string mediaType;  // of the top-level manifest
  // For an index: the entry selectPlatform chose for the platform asked for (the manifest a
  // node of that platform runs). nullopt for a single-platform manifest.
  std::optional<Descriptor> platformManifest;
};

// Fetches `ref`'s manifest and, for an index, chooses `platform`'s entry; NotFound (naming the
// platforms the index has) when it has none, since no Pod of that platform could run it.
boost::asio::awaitable<Result<ResolvedImage>> resolveDigest(
    RegistryClient& client, ImageReference ref, Platform platform,
    std::optional<RegistryCredentials> credentials);

struct HttpRegistryOptions {
  // Registry hosts ("host:port" as an image reference names them, "127.0.0.1:5000") spoken to in
  // plain HTTP, as containerd's insecure registries; also token realms and redirect targets on
  // those hosts. Every other host is HTTPS with the certificate verified.
  std::set<std::string, std::less<>> insecureHosts;
  // A CA bundle (PEM) that HTTPS certificates are verified against; empty: the system's.
  std::string caPem;
  // Bounds each HTTP exchange (connect, send, read the answer).
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  // Redirects followed for one request (registries send blobs to storage with a 307).
  int maxRedirects = 3;
};

// The distribution API over runtime's HttpClient: one client per origin (registry, token server,
// storage), made on first use and kept for its idle connections. The token flow of a Bearer
// challenge is answered with basic credentials and its tokens cached per registry, repository
// scope and credentials until they expire (by `clock`); a Basic challenge with basic credentials.
// Use from coroutines on `executor` only (it holds no lock); it must outlive the coroutines
// that call it.
class HttpRegistryClient final : public RegistryClient {
 public:
  HttpRegistryClient(boost::asio::any_io_executor executor, HttpRegistryOptions options,
                     const Clock& clock = systemClock());
  ~HttpRegistryClient() override;
  HttpRegistryClient(const HttpRegistryClient&) = delete;
  HttpRegistryClient& operator=(const HttpRegistryClient&) = delete;

  boost::asio::awaitable<Result<FetchedManifest>> manifest(
      ImageReference ref, std::optional<RegistryCredentials> credentials) override;
  boost::asio::awaitable<Result<std::string>> blob(
      ImageReference ref, std::string digest, uint64_t maxBytes,
      std::optional<RegistryCredentials> credentials) override;
  boost::asio::awaitable<Result<Manifest>> referrers(
      ImageReference pinned, std::optional<RegistryCredentials> credentials) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mc::signing
