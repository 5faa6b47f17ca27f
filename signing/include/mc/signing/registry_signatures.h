#pragma once

#include "mc/signing/registry_client.h"
#include "mc/signing/verifier.h"

namespace mc::signing {

// What cosign pushed for a digest, as the registry holds it: v2's manifests at the digest's
// `.sig` (and, when asked, `.att`) tags with each layer's blob, and v3's bundles, the digest's
// referrers (through the referrers API or its tag fallback) whose artifact type is a Sigstore
// bundle. What cannot vouch for the digest (no tag, a layer that is no signature, a blob the
// registry cannot give whole) is left out, so the verdict says "no signature" or why each one
// failed; what MC could not read (the registry unreachable, access refused) is an Error.
class RegistrySignatures final : public SignatureSource {
 public:
  explicit RegistrySignatures(RegistryClient& registry) : registry_(registry) {}

  boost::asio::awaitable<Result<SignedArtifacts>> artifacts(
      ImageReference pinned, std::optional<RegistryCredentials> credentials,
      bool attestations) override;

 private:
  boost::asio::awaitable<Result<void>> addSignatures(ImageReference pinned,
                                                     std::optional<RegistryCredentials> credentials,
                                                     SignedArtifacts& out);
  boost::asio::awaitable<Result<void>> addAttestations(
      ImageReference pinned, std::optional<RegistryCredentials> credentials, SignedArtifacts& out);
  boost::asio::awaitable<Result<void>> addBundles(ImageReference pinned,
                                                  std::optional<RegistryCredentials> credentials,
                                                  SignedArtifacts& out);

  RegistryClient& registry_;
};

}  // namespace mc::signing
