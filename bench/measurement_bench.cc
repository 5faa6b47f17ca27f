// mc-measurement-bench: what one analysis measurement costs MC. A real Prometheus (Debian's)
// scrapes a target serving the demo app's metric names; the bench then takes N measurements of
// an error-ratio query through the Prometheus provider and the evaluator, exactly as the
// AnalysisRun controller takes them, and prints one line of JSON: CPU time (user + system of the
// whole process) and wall time per measurement, and the bytes Prometheus answered per query.
// Measures; asserts nothing about time. Exit codes: 0 measured, 1 Prometheus unusable, 2 flags.
#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "mc/analysis/evaluator.h"
#include "mc/analysis/provider.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/servers.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/http_server.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/io_thread.h"

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr const char* kQuery =
    R"((sum(rate(http_requests_total{code=~"5..",pod_template_hash="abc"}[10s])) or vector(0)) / sum(rate(http_requests_total{pod_template_hash="abc"}[10s])))";

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mc-measurement-bench: the cost of one analysis measurement"};
  int measurements = 500;
  app.add_option("--measurements", measurements, "measurements to take")
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  // The target: http_requests_total of one pod-template hash, 200s and 500s.
  auto registry = std::make_shared<prometheus::Registry>();
  auto& requests =
      prometheus::BuildCounter().Name("http_requests_total").Help("served").Register(*registry);
  requests.Add({{"code", "200"}, {"pod_template_hash", "abc"}}).Increment(0);
  requests.Add({{"code", "500"}, {"pod_template_hash", "abc"}}).Increment(0);
  mc::test::IoThread io;
  auto bound = mc::http::HttpServer::bind(io.executor(), "127.0.0.1:0");
  if (!bound) {
    fmt::print(stderr, "cannot serve the target: {}\n", bound.error().describe());
    return 1;
  }
  auto target = std::move(*bound);
  target->route("/metrics", [&](const mc::http::Request&) {
    // Every scrape sees traffic: 98 answers of 200 and 2 of 500 more than the last one.
    requests.Add({{"code", "200"}, {"pod_template_hash", "abc"}}).Increment(98);
    requests.Add({{"code", "500"}, {"pod_template_hash", "abc"}}).Increment(2);
    return mc::http::Response{200, {}, prometheus::TextSerializer().Serialize(registry->Collect())};
  });
  target->start();
  mc::e2e::PrometheusServer prometheus({fmt::format("127.0.0.1:{}", target->port())});

  mc::test::FakeApiServer client;  // no Secret is read
  mc::analysis::ProviderDeps deps{client, io.executor()};
  json::object block{{"prometheus", {{"address", prometheus.url()}, {"query", kQuery}}}};
  auto provider = mc::analysis::makeProvider(deps, {"default", {}}, block, "provider");
  if (!provider) {
    fmt::print(stderr, "{}\n", provider.error().fieldMessage());
    return 1;
  }
  auto measure = [&] { return io.run((*provider)->measure()); };
  if (!mc::e2e::pollUntil([&] { return measure().kind == mc::analysis::Observation::Kind::Value; },
                          60s, 500ms)) {
    fmt::print(stderr, "Prometheus never had the ratio\n");
    return 1;
  }

  mc::crds::Metric metric;
  metric.name = "error-rate";
  metric.count = measurements;
  metric.successCondition.max = 0.05;
  auto policy = mc::analysis::policyOf(metric, "spec.metrics[0]").value();
  mc::crds::MetricResult result;
  const double cpuStart = cpuSeconds();
  const auto wallStart = std::chrono::steady_clock::now();
  for (int i = 0; i < measurements; ++i) {
    auto started = std::chrono::system_clock::now();
    auto observation = measure();
    mc::analysis::record(policy, result,
                         mc::analysis::judge(observation, policy.successCondition, started,
                                             std::chrono::system_clock::now()));
  }
  const double cpu = cpuSeconds() - cpuStart;
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();

  // What Prometheus answers to the query, as the provider receives it (body and headers).
  mc::http::Request request;
  request.method = "POST";
  request.target = "/api/v1/query";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = "query=" + std::string(kQuery);  // the size matters, not the encoding
  auto answer = mc::http::fetchBlocking(prometheus.url() + "/api/v1/query", request);
  size_t bytes = 0;
  if (answer) {
    bytes = answer->body.size();
    for (const auto& [name, value] : answer->headers) {
      bytes += name.size() + value.size() + 4;
    }
  }
  target->stop();
  std::printf(
      R"({"measurements":%d,"successful":%d,"cpu_us_per_measurement":%.1f,"wall_ms_per_measurement":%.3f,"response_bytes":%zu,"request_body_bytes":%zu})"
      "\n",
      measurements, result.successful, cpu / measurements * 1e6, wall / measurements * 1e3, bytes,
      request.body.size());
  return result.successful == measurements ? 0 : 1;
}
