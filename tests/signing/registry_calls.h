#pragma once

// The registry client's calls as coroutines a test can hand to IoThread::run: each takes its
// arguments by value and names the call before co_await (GCC 12 and temporaries), once for the
// unit and the integration tests.
#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

#include "mc/signing/registry_client.h"

namespace mc::signing {

inline boost::asio::awaitable<Result<FetchedManifest>> manifestOn(
    RegistryClient& client, ImageReference ref,
    std::optional<RegistryCredentials> creds = std::nullopt) {
  auto result = co_await client.manifest(std::move(ref), std::move(creds));
  co_return result;
}

inline boost::asio::awaitable<Result<std::string>> blobOn(
    RegistryClient& client, ImageReference ref, std::string digest, uint64_t maxBytes,
    std::optional<RegistryCredentials> creds = std::nullopt) {
  auto result = co_await client.blob(std::move(ref), std::move(digest), maxBytes, std::move(creds));
  co_return result;
}

inline boost::asio::awaitable<Result<ResolvedImage>> resolveOn(
    RegistryClient& client, ImageReference ref, Platform platform,
    std::optional<RegistryCredentials> creds = std::nullopt) {
  auto result =
      co_await resolveDigest(client, std::move(ref), std::move(platform), std::move(creds));
  co_return result;
}

}  // namespace mc::signing
