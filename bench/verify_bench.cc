// mc-verify-bench: what verifying an image's signature costs MC (issue 14). A real
// docker-registry on 127.0.0.1 holds N images, each signed as `cosign sign --key` signs them (a
// cosign v2 `.sig` manifest whose layer is a simple-signing payload naming the digest, with an
// ECDSA P-256 signature by a key made here). A canary's look at its image is what a reconciler
// will do: resolve the tag to its digest, then Verifier::verify through RegistrySignatures over
// HttpRegistryClient. Prints wall and CPU time per digest cold and cached, the registry requests
// per canary, and how late a 1 ms timer on the same io_context wakes meanwhile.
// Measures; asserts nothing about time. Exit codes: 0 measured, 1 set-up failed or a verdict was
// not the expected one, 2 flags.
#include <fmt/format.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <future>
#include <stdexcept>
#include <thread>

#include "mc/e2e/servers.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/secret.h"
#include "mc/signing/cosign.h"
#include "mc/signing/digest.h"
#include "mc/signing/registry_client.h"
#include "mc/signing/registry_signatures.h"
#include "mc/signing/verifier.h"
#include "mc/testing/io_thread.h"
#include "signing/registry_calls.h"
#include "signing/test_keys.h"

namespace mc::signing {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kRepository = "mc/bench";
// Cached verdicts take microseconds: enough calls that p99 is not simply the slowest one.
constexpr int kCachedRounds = 20;
constexpr auto kTick = 1ms;

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double microsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
      .count();
}

// "812 µs" or "2.31 ms".
std::string formatMicros(double micros) {
  return micros < 1000 ? fmt::format("{:.1f} µs", micros) : fmt::format("{:.2f} ms", micros / 1e3);
}

struct Spread {
  double p50 = 0, p95 = 0, p99 = 0, max = 0, mean = 0;
};

// Nearest-rank percentiles.
Spread spreadOf(std::vector<double> samples) {
  if (samples.empty()) {
    return {};
  }
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(samples.size())));
    return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
  };
  double sum = 0;
  for (double sample : samples) {
    sum += sample;
  }
  return {at(0.50), at(0.95), at(0.99), samples.back(), sum / static_cast<double>(samples.size())};
}

// Counts what MC asks of the registry. Against this registry (anonymous, filesystem storage) each
// call is one HTTP request: no 401 to answer with the token flow, no redirect of blobs.
class CountingRegistry final : public RegistryClient {
 public:
  explicit CountingRegistry(RegistryClient& inner) : inner_(inner) {}

  asio::awaitable<Result<FetchedManifest>> manifest(
      ImageReference ref, std::optional<RegistryCredentials> credentials) override {
    ++manifests_;
    auto result = co_await inner_.manifest(std::move(ref), std::move(credentials));
    co_return result;
  }

  asio::awaitable<Result<std::string>> blob(
      ImageReference ref, std::string digest, uint64_t maxBytes,
      std::optional<RegistryCredentials> credentials) override {
    ++blobs_;
    auto result =
        co_await inner_.blob(std::move(ref), std::move(digest), maxBytes, std::move(credentials));
    co_return result;
  }

  asio::awaitable<Result<Manifest>> referrers(
      ImageReference pinned, std::optional<RegistryCredentials> credentials) override {
    ++manifests_;
    auto result = co_await inner_.referrers(std::move(pinned), std::move(credentials));
    co_return result;
  }

  struct Counts {
    uint64_t manifests = 0;
    uint64_t blobs = 0;
  };
  Counts counts() const { return {manifests_.load(), blobs_.load()}; }

 private:
  RegistryClient& inner_;
  std::atomic<uint64_t> manifests_{0};
  std::atomic<uint64_t> blobs_{0};
};

json::object descriptor(std::string_view mediaType, const std::string& bytes) {
  return {{"mediaType", mediaType}, {"digest", digestOf(bytes)}, {"size", bytes.size()}};
}

// Pushes through the distribution API as the integration tests do; throws when the registry
// refuses (set-up only).
class Pusher {
 public:
  explicit Pusher(std::string url) : url_(std::move(url)) {}

  // Monolithic upload: POST opens an upload, PUT gives the bytes with their digest.
  void blob(const std::string& data) {
    auto opened = http::fetchBlocking(fmt::format("{}/v2/{}/blobs/uploads/", url_, kRepository),
                                      {.method = "POST"});
    check(opened, 202, "opening an upload");
    std::string location = opened->header("Location");
    if (!location.empty() && location.front() == '/') {
      location = url_ + location;
    }
    location += location.find('?') == std::string::npos ? "?" : "&";
    location += "digest=" + digestOf(data);
    auto put = http::fetchBlocking(
        location,
        {.method = "PUT", .headers = {{"Content-Type", "application/octet-stream"}}, .body = data});
    check(put, 201, "uploading a blob");
  }

  // The manifest's digest.
  std::string manifest(const std::string& reference, std::string_view mediaType,
                       const std::string& body) {
    auto put = http::fetchBlocking(
        fmt::format("{}/v2/{}/manifests/{}", url_, kRepository, reference),
        {.method = "PUT", .headers = {{"Content-Type", std::string(mediaType)}}, .body = body});
    check(put, 201, "pushing manifest " + reference);
    return digestOf(body);
  }

 private:
  static void check(const Result<http::Response>& answer, int status, const std::string& what) {
    if (!answer) {
      throw std::runtime_error(what + ": " + answer.error().describe());
    }
    if (answer->status != status) {
      throw std::runtime_error(fmt::format("{}: HTTP {}: {}", what, answer->status, answer->body));
    }
  }

  std::string url_;
};

// Images mc/bench:v0..v<count-1>, one config each (so each has a digest of its own) over a shared
// layer, each signed by `signer` under its `.sig` tag. Returns the tagged references.
std::vector<ImageReference> pushSignedImages(const e2e::OciRegistry& registry, int count,
                                             const KeyPair& signer) {
  Pusher push(registry.url());
  const std::string layer = "the layer every bench image shares\n";
  const std::string signatureConfig = R"({"architecture":"","os":"","config":{}})";
  push.blob(layer);
  push.blob(signatureConfig);
  const std::string repository = fmt::format("{}/{}", registry.host(), kRepository);
  std::vector<ImageReference> images;
  for (int i = 0; i < count; ++i) {
    const std::string config = fmt::format(
        R"({{"architecture":"amd64","os":"linux","config":{{"Env":["IMAGE={}"]}}}})", i);
    push.blob(config);
    json::object image{
        {"schemaVersion", 2},
        {"mediaType", kOciManifestType},
        {"config", descriptor("application/vnd.oci.image.config.v1+json", config)},
        {"layers", json::array{descriptor("application/vnd.oci.image.layer.v1.tar", layer)}}};
    const std::string tag = fmt::format("v{}", i);
    const std::string digest = push.manifest(tag, kOciManifestType, json::serialize(image));

    // What `cosign sign --key` writes: the payload naming the digest, as a layer of the manifest
    // at sha256-<hex>.sig, its signature in the layer's annotation.
    json::object payload{{"critical",
                          {{"identity", {{"docker-reference", repository}}},
                           {"image", {{"docker-manifest-digest", digest}}},
                           {"type", kCosignSignatureType}}},
                         {"optional", nullptr}};
    const std::string payloadBytes = json::serialize(payload);
    push.blob(payloadBytes);
    auto signatureLayer = descriptor(kSimpleSigningMediaType, payloadBytes);
    signatureLayer["annotations"] = json::object{
        {kSignatureAnnotation, kube::base64Encode(signer.sign(payloadBytes, EVP_sha256()))}};
    json::object signature{
        {"schemaVersion", 2},
        {"mediaType", kOciManifestType},
        {"config", descriptor("application/vnd.oci.image.config.v1+json", signatureConfig)},
        {"layers", json::array{signatureLayer}}};
    push.manifest(signatureTag(digest).value(), kOciManifestType, json::serialize(signature));
    images.push_back(ImageReference::parse(fmt::format("{}:{}", repository, tag)).value());
  }
  return images;
}

// One canary's look at its image: the tag resolved to the digest the Pods will pin, that digest
// verified. Arguments are named before co_await (GCC 12 and temporaries).
asio::awaitable<Result<DigestVerdict>> checkCanary(RegistryClient& registry, Verifier& verifier,
                                                   ImageReference tagged, TrustPolicy policy) {
  Platform platform = kDefaultPlatform;
  std::optional<RegistryCredentials> anonymous;
  auto resolved =
      co_await resolveDigest(registry, tagged, std::move(platform), std::move(anonymous));
  if (!resolved) {
    co_return resolved.error();
  }
  auto pinned = tagged.withDigest(resolved->digest);
  if (!pinned) {
    co_return pinned.error();
  }
  auto verdict = co_await verifier.verify(std::move(*pinned), std::move(policy));
  co_return verdict;
}

enum class Step { ResolveAndVerify, VerifyPinned };

struct Pass {
  std::vector<double> micros;  // wall time of each image's step
  double cpuMicros = 0;        // of the whole process, over the pass
  std::optional<std::string> failure;
};

// Each image's step in turn on the io thread, timed there (what a reconciler would wait).
asio::awaitable<Pass> timeEach(RegistryClient& registry, Verifier& verifier,
                               std::vector<ImageReference> images, TrustPolicy policy, Step step) {
  Pass pass;
  const double cpuStart = cpuSeconds();
  for (const auto& image : images) {
    const auto start = std::chrono::steady_clock::now();
    Result<DigestVerdict> verdict = DigestVerdict{};
    if (step == Step::ResolveAndVerify) {
      verdict = co_await checkCanary(registry, verifier, image, policy);
    } else {
      std::optional<RegistryCredentials> anonymous;
      verdict = co_await verifier.verify(image, policy, std::move(anonymous));
    }
    pass.micros.push_back(microsSince(start));
    if (!verdict) {
      pass.failure = verdict.error().describe();
      co_return pass;
    }
    if (!verdict->verified) {
      pass.failure = verdict->describe(image.digest());
      co_return pass;
    }
  }
  pass.cpuMicros = (cpuSeconds() - cpuStart) * 1e6;
  co_return pass;
}

// A timer on the io thread every 1 ms, standing in for every other Rollout's reconcile there: how
// late it wakes is how long the io thread was kept from them.
class Ticker {
 public:
  explicit Ticker(asio::io_context& io) : done_(asio::co_spawn(io, run(), asio::use_future)) {}
  ~Ticker() {
    if (done_.valid()) {
      stop();
    }
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  // Stops it; the lateness of each tick, in µs.
  std::vector<double> stop() {
    stopping_ = true;
    return done_.get();
  }

 private:
  asio::awaitable<std::vector<double>> run() {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    std::vector<double> lateness;
    while (!stopping_) {
      const auto deadline = std::chrono::steady_clock::now() + kTick;
      timer.expires_at(deadline);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      lateness.push_back(microsSince(deadline));
    }
    co_return lateness;
  }

  std::atomic<bool> stopping_{false};
  std::future<std::vector<double>> done_;
};

// The registry client's sockets live on the io thread: it is dropped there, however the bench
// ends.
struct ClientOnIo {
  ~ClientOnIo() { io.run(drop()); }
  asio::awaitable<void> drop() {
    client.reset();
    co_return;
  }

  test::IoThread& io;
  std::unique_ptr<HttpRegistryClient> client;
};

void printRow(std::string_view name, const Pass& pass) {
  const auto spread = spreadOf(pass.micros);
  fmt::print("{:<28} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11} {:>6}\n", name,
             formatMicros(spread.p50), formatMicros(spread.p95), formatMicros(spread.p99),
             formatMicros(spread.max), formatMicros(spread.mean),
             formatMicros(pass.cpuMicros / static_cast<double>(pass.micros.size())),
             pass.micros.size());
}

// Two 1 ms timers: one on the io thread, where verification fetches, and a control on a thread
// of its own. Lateness the control shares is the machine's (a loaded CPU, the scheduler); what
// only the io thread's timer shows is work holding the io thread.
class Lateness {
 public:
  Lateness(test::IoThread& io, test::IoThread& apart) : onIo_(io.io()), apart_(apart.io()) {}

  static void printHeader() {
    fmt::print("{:<28} {:>10} {:>10} {:>10} {:>7}   {:>10} {:>10}\n", "lateness of a 1 ms timer",
               "io p50", "io p99", "io max", "ticks", "apart p99", "apart max");
  }
  void stopAndPrint(std::string_view name) {
    const auto io = onIo_.stop();
    const auto ioSpread = spreadOf(io);
    const auto apartSpread = spreadOf(apart_.stop());
    fmt::print("{:<28} {:>10} {:>10} {:>10} {:>7}   {:>10} {:>10}\n", name,
               formatMicros(ioSpread.p50), formatMicros(ioSpread.p99), formatMicros(ioSpread.max),
               io.size(), formatMicros(apartSpread.p99), formatMicros(apartSpread.max));
  }

 private:
  Ticker onIo_;
  Ticker apart_;
};

std::string perCanary(CountingRegistry::Counts before, CountingRegistry::Counts after, int images) {
  const double manifests = static_cast<double>(after.manifests - before.manifests) / images;
  const double blobs = static_cast<double>(after.blobs - before.blobs) / images;
  return fmt::format("{:.2f} ({:.2f} manifests, {:.2f} blobs)", manifests + blobs, manifests,
                     blobs);
}

int runBench(int count) {
  const auto signer = generate("EC", "P-256");
  TrustPolicy policy;
  policy.keys.push_back(PublicKey::fromPem(signer.publicPem(), "bench/cosign.pub").value());
  e2e::OciRegistry registry;
  const auto images = pushSignedImages(registry, count, signer);

  test::IoThread io;
  HttpRegistryOptions options;
  options.insecureHosts = {registry.host()};
  ClientOnIo http{io, std::make_unique<HttpRegistryClient>(io.executor(), options)};
  CountingRegistry counting(*http.client);
  RegistrySignatures source(counting);
  VerifierOptions verifierOptions;
  int status = 0;
  {
    Verifier verifier(source, systemClock(), verifierOptions);
    auto pass = [&](std::vector<ImageReference> refs, Step step) {
      auto result = io.run(timeEach(counting, verifier, std::move(refs), policy, step));
      if (result.failure) {
        throw std::runtime_error(*result.failure);
      }
      return result;
    };

    // Cold: every digest new to the verifier (the registry client's connection stays open after
    // the first, as it does in mc-operator).
    const auto beforeCold = counting.counts();
    const auto cold = pass(images, Step::ResolveAndVerify);
    const auto afterCold = counting.counts();
    std::vector<ImageReference> pinned;
    for (const auto& image : images) {
      auto resolved = io.run(resolveOn(counting, image, kDefaultPlatform)).value();
      pinned.push_back(image.withDigest(resolved.digest).value());
    }

    // Cached: the same digests again on the same verifier.
    const auto statsBefore = verifier.stats();
    const auto beforeCached = counting.counts();
    Pass cached;
    for (int round = 0; round < kCachedRounds; ++round) {
      auto one = pass(pinned, Step::VerifyPinned);
      cached.micros.insert(cached.micros.end(), one.micros.begin(), one.micros.end());
      cached.cpuMicros += one.cpuMicros;
    }
    const auto afterCached = counting.counts();
    const auto statsAfter = verifier.stats();
    const auto cachedCanaries = pass(images, Step::ResolveAndVerify);
    const auto afterCachedCanaries = counting.counts();
    const auto hits = statsAfter.hits - statsBefore.hits;
    if (statsBefore.hits != 0 || statsBefore.checks != images.size()) {
      fmt::print(stderr, "the cold pass was not all checks: {} hits, {} checks\n", statsBefore.hits,
                 statsBefore.checks);
      status = 1;
    }
    if (hits != pinned.size() * static_cast<size_t>(kCachedRounds) ||
        statsAfter.checks != statsBefore.checks) {
      fmt::print(stderr, "the cached pass was not all hits: {} hits, {} checks\n", hits,
                 statsAfter.checks - statsBefore.checks);
      status = 1;
    }

    fmt::print(
        "mc-verify-bench: {} images signed with ECDSA P-256 on docker-registry {} (anonymous, "
        "plain HTTP), verifier pool of {} threads, {} cores\n\n",
        count, registry.host(), verifierOptions.threads, std::thread::hardware_concurrency());
    fmt::print("{:<28} {:>10} {:>10} {:>10} {:>10} {:>10} {:>11} {:>6}\n", "wall time per digest",
               "p50", "p95", "p99", "max", "mean", "CPU/digest", "calls");
    printRow("cold: resolve + verify", cold);
    printRow("cached: verify", cached);
    printRow("cached: resolve + verify", cachedCanaries);
    fmt::print("first cold digest (new connection): {}\n", formatMicros(cold.micros.front()));
    fmt::print("verifier stats after the cached pass: {} hits, {} checks\n\n", statsAfter.hits,
               statsAfter.checks);
    fmt::print("registry requests per canary (resolve the tag, verify the digest):\n");
    fmt::print("  cold    {}\n", perCanary(beforeCold, afterCold, count));
    fmt::print("  cached  {}\n", perCanary(afterCached, afterCachedCanaries, count));
    fmt::print(
        "  cached verify alone: {} requests in {} calls\n\n",
        afterCached.manifests + afterCached.blobs - beforeCached.manifests - beforeCached.blobs,
        cached.micros.size());
  }

  // The io thread's other work: a 1 ms timer on it, idle, then while a fresh verifier checks
  // every digest cold, then while the same verifier answers from its cache.
  test::IoThread apart;
  Lateness::printHeader();
  {
    Lateness idle(io, apart);
    std::this_thread::sleep_for(500ms);
    idle.stopAndPrint("idle (500 ms)");
  }
  {
    Verifier verifier(source, systemClock(), verifierOptions);
    Lateness duringCold(io, apart);
    auto cold = io.run(timeEach(counting, verifier, images, policy, Step::ResolveAndVerify));
    duringCold.stopAndPrint("cold: resolve + verify");
    Lateness duringCached(io, apart);
    auto cached = io.run(timeEach(counting, verifier, images, policy, Step::ResolveAndVerify));
    duringCached.stopAndPrint("cached: resolve + verify");
    if (cold.failure || cached.failure) {
      fmt::print(stderr, "{}\n", cold.failure.value_or(cached.failure.value_or("")));
      status = 1;
    }
  }
  return status;
}

}  // namespace
}  // namespace mc::signing

int main(int argc, char** argv) {
  CLI::App app{"mc-verify-bench: the cost of verifying an image's signature"};
  int images = 50;
  app.add_option("--images", images, "signed images to push and verify")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    return mc::signing::runBench(images);
  } catch (const std::exception& error) {
    fmt::print(stderr, "mc-verify-bench: {}\n", error.what());
    return 1;
  }
}
