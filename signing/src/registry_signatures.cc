#include "mc/signing/registry_signatures.h"

#include <fmt/format.h>

namespace mc::signing {
namespace {

// A signature payload is a few hundred bytes; cosign's annotations-heavy ones a few KiB.
constexpr uint64_t kMaxPayloadBytes = 1024 * 1024;

// Errors that say MC could not ask, not that the answer was bad: retried, never a verdict.
bool unreadable(const Error& error) {
  return error.kind == ErrorKind::Transient || error.kind == ErrorKind::Timeout ||
         error.kind == ErrorKind::TooManyRequests || error.kind == ErrorKind::Unauthorized ||
         error.kind == ErrorKind::Forbidden;
}

}  // namespace

boost::asio::awaitable<Result<std::vector<FetchedSignature>>> RegistrySignatures::signatures(
    ImageReference pinned, std::optional<RegistryCredentials> credentials) {
  auto tag = signatureTag(pinned.digest());
  if (!tag) {
    co_return tag.error();
  }
  auto at = ImageReference::parse(fmt::format("{}:{}", pinned.name(), *tag));
  if (!at) {
    co_return at.error();
  }
  auto manifest = co_await registry_.manifest(*at, credentials);
  if (!manifest) {
    if (manifest.error().kind == ErrorKind::NotFound) {
      co_return std::vector<FetchedSignature>{};  // never signed
    }
    co_return manifest.error();
  }
  std::vector<FetchedSignature> out;
  auto layers = signatureLayers(manifest->manifest);
  if (!layers) {
    co_return out;  // a `.sig` manifest without a signature layer vouches for nothing
  }
  for (auto& layer : layers->layers) {
    auto payload = co_await registry_.blob(*at, layer.payloadDigest, kMaxPayloadBytes, credentials);
    if (!payload) {
      if (unreadable(payload.error())) {
        co_return payload.error();
      }
      continue;  // missing, oversized or not the bytes its digest names: it cannot vouch
    }
    out.push_back({std::move(layer), std::move(*payload)});
  }
  co_return out;
}

}  // namespace mc::signing
