#include "mc/signing/verifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <mutex>
#include <unordered_map>

namespace mc::signing {

namespace asio = boost::asio;

struct Verifier::Impl {
  struct Entry {
    DigestVerdict verdict;
    Clock::TimePoint expires;
  };

  Impl(SignatureSource& source, const Clock& clock, VerifierOptions options)
      : source(source), clock(clock), options(options), pool(std::max(options.threads, 1u)) {}

  std::optional<DigestVerdict> cached(const std::string& key) {
    std::lock_guard lock(mutex);
    auto found = entries.find(key);
    if (found == entries.end() || found->second.expires <= clock.now()) {
      return std::nullopt;
    }
    ++stats.hits;
    return found->second.verdict;
  }

  void remember(const std::string& key, const DigestVerdict& verdict) {
    std::lock_guard lock(mutex);
    ++stats.checks;
    const auto now = clock.now();
    if (entries.size() >= options.maxEntries) {
      std::erase_if(entries, [now](const auto& entry) { return entry.second.expires <= now; });
    }
    if (entries.size() >= options.maxEntries) {
      // Still full of fresh verdicts: drop the one closest to expiry, which is asked again first.
      entries.erase(std::min_element(entries.begin(), entries.end(), [](auto& a, auto& b) {
        return a.second.expires < b.second.expires;
      }));
    }
    auto lifetime = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        verdict.verified ? options.verifiedFor : options.refusedFor);
    if (verdict.verified && verdict.validUntil) {
      // A certificate trusted for being valid now is not trusted past its expiry.
      auto left = *verdict.validUntil - clock.wallNow();
      lifetime = std::clamp(std::chrono::duration_cast<std::chrono::steady_clock::duration>(left),
                            std::chrono::steady_clock::duration::zero(), lifetime);
    }
    entries.insert_or_assign(key, Entry{verdict, now + lifetime});
  }

  SignatureSource& source;
  const Clock& clock;
  const VerifierOptions options;
  asio::thread_pool pool;
  mutable std::mutex mutex;
  std::unordered_map<std::string, Entry> entries;
  Stats stats;
};

Verifier::Verifier(SignatureSource& source, const Clock& clock, VerifierOptions options)
    : impl_(std::make_unique<Impl>(source, clock, options)) {}

Verifier::~Verifier() { impl_->pool.join(); }

asio::awaitable<Result<DigestVerdict>> Verifier::verify(
    ImageReference pinned, TrustPolicy policy, std::optional<RegistryCredentials> credentials) {
  if (!pinned.hasDigest()) {
    co_return makeError(
        ErrorKind::Invalid,
        fmt::format("{} names no digest: only a digest can be verified", pinned.str()));
  }
  const std::string key =
      fmt::format("{}|{}|{}", pinned.digest(), pinned.name(), policy.cacheKey());
  if (auto verdict = impl_->cached(key)) {
    co_return *verdict;
  }
  auto fetched = co_await impl_->source.artifacts(pinned, std::move(credentials),
                                                  !policy.attestations.empty());
  if (!fetched) {
    co_return fetched.error();
  }
  const VerifyOptions options{pinned.name(), impl_->clock.wallNow()};
  const std::string digest = pinned.digest();
  auto check = [&]() -> asio::awaitable<DigestVerdict> {
    co_return verifyArtifacts(digest, *fetched, policy, options);
  };
  // Named before co_await: GCC 12 mishandles class temporaries in a co_await expression.
  auto onPool = asio::co_spawn(impl_->pool.get_executor(), check, asio::use_awaitable);
  DigestVerdict verdict = co_await std::move(onPool);
  impl_->remember(key, verdict);
  co_return verdict;
}

Verifier::Stats Verifier::stats() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stats;
}

}  // namespace mc::signing
