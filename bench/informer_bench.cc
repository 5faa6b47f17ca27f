// mc-informer-bench: how long MC's informer takes to list+watch one resource of a namespace into
// its store, and what that costs in memory. The same figures, in the same JSON shape, as
// `clientgo-bench informer` (e2e/tools/clientgo-bench), so bench/run-informer-bench.sh can put
// the two side by side. Prints one line of JSON on stdout; everything else goes to stderr.
// Measures; asserts nothing about time.
// Exit codes: 0 measured, 1 not synced in time or apiserver unusable, 2 bad flags or config.
#include <fmt/format.h>
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>

#include "mc/runtime/informer.h"
#include "mc/runtime/kube_client.h"
#include "mc/runtime/kubeconfig.h"
#include "mc/testing/io_thread.h"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
// Same as the Go tool's wait loop: a coarser poll would blur sync times of a fraction of a second.
constexpr auto kPollInterval = std::chrono::milliseconds(1);
constexpr auto kStopGrace = std::chrono::seconds(10);

struct Options {
  std::string kubeconfig;
  std::string ns;
  std::string resource = "configmaps";
  int64_t expect = 0;
  int timeoutSeconds = 300;
  bool mallocStats = false;
};

// The bench's custom resource (bench/widget-crd.yaml).
const mc::kube::ResourceType kWidgets{"bench.mc.maestro.dev", "v1", "widgets"};

// VmRSS from /proc/self/status, in bytes; -1 if it cannot be read.
int64_t readRss() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) {
      return std::stoll(line.substr(6)) * 1024;  // "VmRSS:	   12345 kB"
    }
  }
  return -1;
}

// Hands freed memory back to the kernel first: the analogue of Go's debug.FreeOSMemory(), so
// neither side is charged for memory it has already freed.
int64_t settledRss() {
  malloc_trim(0);
  return readRss();
}

// Bytes malloc has handed out and not had back, over every arena (mallinfo2 sums them):
// the analogue of Go's HeapInuse.
int64_t heapInUse() {
  struct mallinfo2 info = mallinfo2();
  return static_cast<int64_t>(info.uordblks + info.hblkhd);
}

double round3(double x) { return std::round(x * 1000) / 1000; }

int usageError(const std::string& message) {
  fmt::print(stderr, "mc-informer-bench: {}\n", message);
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  CLI::App app{"mc-informer-bench: time MC's informer sync of one resource; print one JSON line"};
  app.add_option("--kubeconfig", options.kubeconfig,
                 "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)");
  app.add_option("--namespace", options.ns, "namespace to watch")->required();
  app.add_option("--resource", options.resource, "configmaps or widgets")
      ->check(CLI::IsMember({"configmaps", "widgets"}))
      ->capture_default_str();
  app.add_option("--expect", options.expect, "wait until the store holds at least this many")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout", options.timeoutSeconds, "seconds to wait for the sync")
      ->capture_default_str();
  app.add_flag("--malloc-stats", options.mallocStats,
               "print glibc's malloc_stats() to stderr after the sync");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return usageError(fmt::format("{} (see --help)", e.what()));
  }

  auto config = mc::kube::loadKubeconfig({options.kubeconfig});
  if (!config) {
    return usageError(config.error().describe());
  }
  mc::test::IoThread io;
  // High enough that the client never throttles: an informer makes one list per 500 objects.
  mc::kube::ClientOptions clientOptions{.qps = 1000, .burst = 1000};
  auto client = mc::kube::KubeClient::create(io.executor(), *config, clientOptions);
  if (!client) {
    return usageError(client.error().describe());
  }
  const auto& type = options.resource == "widgets" ? kWidgets : mc::kube::resources::kConfigMaps;
  // Built, not started, before the baseline, as the Go tool does with its informer.
  mc::kube::Informer informer(**client, type, options.ns);
  // A handler as a controller would have one: it counts adds (the Go tool's does the same).
  std::atomic<int64_t> added{0};
  informer.addHandler({.onAdd = [&](const mc::kube::ObjectPtr&) { ++added; }});

  const int64_t baseline = settledRss();
  const int64_t heapBaseline = heapInUse();

  const auto start = std::chrono::steady_clock::now();
  auto running = boost::asio::co_spawn(io.io(), informer.run(), boost::asio::use_future);
  const auto deadline = start + std::chrono::seconds(options.timeoutSeconds);
  auto synced = [&] {
    return informer.hasSynced() && added.load() >= options.expect &&
           static_cast<int64_t>(informer.store().size()) >= options.expect;
  };
  while (!synced()) {
    if (std::chrono::steady_clock::now() > deadline) {
      fmt::print(stderr,
                 "mc-informer-bench: not synced within {} s: synced={}, {} {} in store, want {}\n",
                 options.timeoutSeconds, informer.hasSynced(), informer.store().size(),
                 options.resource, options.expect);
      informer.stop();
      running.wait_for(kStopGrace);
      return kExitRuntime;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  const double syncSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto objects = static_cast<int64_t>(informer.store().size());

  // The informer is still watching while memory is read, as the Go tool's is.
  const int64_t rss = settledRss();
  const int64_t heap = heapInUse();
  if (options.mallocStats) {
    malloc_stats();
  }

  // For the analysis only, after the figures are taken: what the objects weigh as JSON text.
  size_t jsonBytes = 0;
  for (const auto& object : informer.store().list()) {
    jsonBytes += boost::json::serialize(*object).size();
  }
  const int64_t perObject = objects > 0 ? (rss - baseline) / objects : 0;
  fmt::print(stderr,
             "mc-informer-bench: {}: {} objects in store, {} add events, synced in {:.3f} s; "
             "per object: {} B RSS, {} B heap, {} B as JSON text\n",
             options.resource, objects, added.load(), syncSeconds, perObject,
             objects > 0 ? (heap - heapBaseline) / objects : 0,
             objects > 0 ? static_cast<int64_t>(jsonBytes) / objects : 0);

  informer.stop();
  running.wait_for(kStopGrace);

  fmt::print(
      "{{\"impl\":\"mc\",\"resource\":\"{}\",\"objects\":{},\"sync_seconds\":{},"
      "\"rss_bytes\":{},\"rss_baseline_bytes\":{},\"heap_inuse_bytes\":{},"
      "\"bytes_per_object\":{}}}\n",
      options.resource, objects, round3(syncSeconds), rss, baseline, heap, perObject);
  return 0;
}
