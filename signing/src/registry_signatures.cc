#include "mc/signing/registry_signatures.h"

#include <fmt/format.h>

#include "mc/signing/bundle.h"
#include "mc/signing/cosign.h"
#include "mc/signing/dsse.h"

namespace mc::signing {
namespace {

// A signature payload is a few hundred bytes; cosign's annotations-heavy ones a few KiB; an
// attestation or bundle with a large predicate (provenance, an SBOM's summary) more.
constexpr uint64_t kMaxPayloadBytes = 1024 * 1024;
constexpr uint64_t kMaxEnvelopeBytes = 8 * 1024 * 1024;
// A digest's bundles MC reads at most, and the referrers it looks into to find them: a handful in
// practice, and a registry must not make one verification fetch without end (nor junk referrers
// crowd a real bundle out, up to that bound).
constexpr size_t kMaxBundles = 16;
constexpr size_t kMaxReferrersLooked = 64;

// Errors that say MC could not ask, not that the answer was bad: retried, never a verdict.
bool unreadable(const Error& error) {
  return error.kind == ErrorKind::Transient || error.kind == ErrorKind::Timeout ||
         error.kind == ErrorKind::TooManyRequests || error.kind == ErrorKind::Unauthorized ||
         error.kind == ErrorKind::Forbidden;
}

Result<ImageReference> atTag(const ImageReference& pinned, const Result<std::string>& tag) {
  if (!tag) {
    return tag.error();
  }
  return ImageReference::parse(fmt::format("{}:{}", pinned.name(), *tag));
}

}  // namespace

boost::asio::awaitable<Result<SignedArtifacts>> RegistrySignatures::artifacts(
    ImageReference pinned, std::optional<RegistryCredentials> credentials, bool attestations) {
  SignedArtifacts out;
  if (auto added = co_await addSignatures(pinned, credentials, out); !added) {
    co_return added.error();
  }
  if (attestations) {
    if (auto added = co_await addAttestations(pinned, credentials, out); !added) {
      co_return added.error();
    }
  }
  if (auto added = co_await addBundles(pinned, credentials, out); !added) {
    co_return added.error();
  }
  co_return out;
}

boost::asio::awaitable<Result<void>> RegistrySignatures::addSignatures(
    ImageReference pinned, std::optional<RegistryCredentials> credentials, SignedArtifacts& out) {
  auto at = atTag(pinned, signatureTag(pinned.digest()));
  if (!at) {
    co_return at.error();
  }
  auto manifest = co_await registry_.manifest(*at, credentials);
  if (!manifest) {
    if (manifest.error().kind == ErrorKind::NotFound) {
      co_return Result<void>{};  // never signed in the v2 format
    }
    co_return manifest.error();
  }
  auto layers = signatureLayers(manifest->manifest);
  if (!layers) {
    co_return Result<void>{};  // a `.sig` manifest without a signature layer vouches for nothing
  }
  for (auto& layer : layers->layers) {
    auto payload = co_await registry_.blob(*at, layer.payloadDigest, kMaxPayloadBytes, credentials);
    if (!payload) {
      if (unreadable(payload.error())) {
        co_return payload.error();
      }
      continue;  // missing, oversized or not the bytes its digest names: it cannot vouch
    }
    out.signatures.push_back({std::move(layer), std::move(*payload)});
  }
  co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> RegistrySignatures::addAttestations(
    ImageReference pinned, std::optional<RegistryCredentials> credentials, SignedArtifacts& out) {
  auto at = atTag(pinned, attestationTag(pinned.digest()));
  if (!at) {
    co_return at.error();
  }
  auto manifest = co_await registry_.manifest(*at, credentials);
  if (!manifest) {
    if (manifest.error().kind == ErrorKind::NotFound) {
      co_return Result<void>{};
    }
    co_return manifest.error();
  }
  auto layers = attestationLayers(manifest->manifest);
  if (!layers) {
    co_return Result<void>{};
  }
  for (auto& layer : layers->layers) {
    auto envelope =
        co_await registry_.blob(*at, layer.payloadDigest, kMaxEnvelopeBytes, credentials);
    if (!envelope) {
      if (unreadable(envelope.error())) {
        co_return envelope.error();
      }
      continue;
    }
    out.attestations.push_back({layer.index, std::move(*envelope), SignerMaterial::of(layer)});
  }
  co_return Result<void>{};
}

boost::asio::awaitable<Result<void>> RegistrySignatures::addBundles(
    ImageReference pinned, std::optional<RegistryCredentials> credentials, SignedArtifacts& out) {
  auto index = co_await referrersOf(registry_, pinned, credentials);
  if (!index) {
    co_return index.error();  // MC could not ask: never "no bundles"
  }
  size_t looked = 0;
  for (const auto& listed : index->manifests) {
    // An index may leave a descriptor's artifactType out; the manifest's layers then decide.
    bool bundle = listed.artifactType == kBundleV03MediaType || listed.artifactType.empty();
    if (!bundle) {
      continue;
    }
    if (out.bundles.size() == kMaxBundles || looked == kMaxReferrersLooked) {
      break;
    }
    ++looked;
    auto ref = ImageReference::parse(fmt::format("{}@{}", pinned.name(), listed.digest));
    if (!ref) {
      continue;
    }
    auto manifest = co_await registry_.manifest(*ref, credentials);
    if (!manifest) {
      if (unreadable(manifest.error())) {
        co_return manifest.error();
      }
      continue;
    }
    // The bundle is the referrer's one layer of the bundle media type.
    for (const auto& layer : manifest->manifest.layers) {
      if (layer.mediaType != kBundleV03MediaType) {
        continue;
      }
      auto bundle = co_await registry_.blob(*ref, layer.digest, kMaxEnvelopeBytes, credentials);
      if (!bundle) {
        if (unreadable(bundle.error())) {
          co_return bundle.error();
        }
        continue;
      }
      out.bundles.push_back({listed.digest, std::move(*bundle)});
      break;
    }
  }
  co_return Result<void>{};
}

}  // namespace mc::signing
