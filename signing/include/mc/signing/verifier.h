#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/signing/docker_config.h"
#include "mc/signing/image_reference.h"
#include "mc/signing/public_key.h"
#include "mc/signing/verify.h"

// The verifier that reconcilers call: signatures fetched through a SignatureSource, checked on a
// small pool of its own (signature checks are CPU work and must not hold the io threads, where
// every other Rollout's reconcile runs), verdicts cached by (digest, image, policy).
namespace mc::signing {

// Where a digest's signatures come from: the registry (cosign's `.sig` and `.att` tags, and its
// bundles), or a fake in tests. A digest without signatures is an empty list, not an error; a
// registry that cannot be reached, or refuses access, is an Error.
class SignatureSource {
 public:
  virtual ~SignatureSource() = default;
  // `pinned` holds a digest; `credentials` are the pull Secret's for its registry, if any.
  // Parameters are values: a reference to a caller's temporary would dangle after the first
  // suspension.
  // v2 attestations (the `.att` tag) are fetched only when `attestations` is set: most policies
  // ask for none, and it saves them a request.
  virtual boost::asio::awaitable<Result<SignedArtifacts>> artifacts(
      ImageReference pinned, std::optional<RegistryCredentials> credentials, bool attestations) = 0;
};

struct VerifierOptions {
  unsigned threads = 2;
  // A verdict is reused this long: a verified digest stays verified (re-verification of running
  // digests asks again when this has passed), a refusal is asked again soon, so a signature
  // pushed after the first try is seen within seconds.
  std::chrono::seconds verifiedFor{std::chrono::minutes(10)};
  std::chrono::seconds refusedFor{30};
  size_t maxEntries = 4096;
};

// Callable from coroutines on any executor, from several at once; each call resumes on its
// caller's executor. Destroying it waits for checks under way on its pool.
class Verifier {
 public:
  Verifier(SignatureSource& source, const Clock& clock, VerifierOptions options = {});
  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // The verdict on `pinned` (Invalid unless it holds a digest) under `policy`. A failure to read
  // the signatures is an Error, returned as it is and never cached, never a verdict.
  // Parameters are values, as SignatureSource's (a TrustPolicy's keys are shared, so copies are
  // cheap).
  boost::asio::awaitable<Result<DigestVerdict>> verify(
      ImageReference pinned, TrustPolicy policy,
      std::optional<RegistryCredentials> credentials = std::nullopt);

  struct Stats {
    uint64_t hits = 0;    // verdicts answered from the cache
    uint64_t checks = 0;  // verdicts fetched and checked
  };
  Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mc::signing
