#pragma once

#include "mc/signing/registry_client.h"
#include "mc/signing/verifier.h"

namespace mc::signing {

// cosign v2 signatures as the registry holds them: the manifest at the digest's `.sig` tag and
// each signature layer's payload blob. What cannot vouch for the digest (no `.sig` tag, a layer
// that is no signature, a payload the registry cannot give whole) is left out, so the verdict
// says "no signature" or why each one failed; what MC could not read (the registry unreachable,
// access refused) is an Error.
class RegistrySignatures final : public SignatureSource {
 public:
  explicit RegistrySignatures(RegistryClient& registry) : registry_(registry) {}

  boost::asio::awaitable<Result<std::vector<FetchedSignature>>> signatures(
      ImageReference pinned, std::optional<RegistryCredentials> credentials) override;

 private:
  RegistryClient& registry_;
};

}  // namespace mc::signing
