// The built-in analyses (errorRate, latency, sloBurn) and failWhenPresent, each measured through
// makeProvider on one real Prometheus holding fixed data: counters that rise at a constant rate
// per segment, written into its TSDB by promtool for several canaries (pod_template_hash values)
// before it starts. Every expected value is computed here from those rates, so each assertion
// says what Prometheus must answer, not what it answered once.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../../analysis/providers/prometheus/builders.h"
#include "mc/analysis/evaluator.h"
#include "mc/analysis/provider.h"
#include "mc/common/timefmt.h"
#include "mc/crds/names.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/servers.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/io_thread.h"

namespace mc::analysis {
namespace {

namespace json = boost::json;
namespace phase = crds::analysis;
using namespace std::chrono_literals;
using Kind = Observation::Kind;
using std::chrono::seconds;

constexpr const char* kNs = "shop";

// The fixed data: a sample every 15 s from 7 h before the suite's t0 (the wall clock when it
// wrote them) to 10 min after it, so a query at "now" reads windows of up to 6 h that hold only
// this data. Every series starts at 0 and rises at its rate (per second), constant from each
// offset from t0 on; the offsets are on the 15 s grid, so each sample's value is exact.
constexpr seconds kStep = 15s;
constexpr seconds kDataFrom = -7h;
constexpr seconds kDataTo = 10min;

struct Segment {
  seconds from;  // offset from t0
  double perSecond;
};

// OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`: each metric name's
// lines together (OpenMetrics forbids interleaving them), each series' samples in time order.
// Labels are written a="b",c="d": OpenMetrics allows no space after the comma, and promtool
// refuses one ("expected label name, got INVALID").
class Backfill {
 public:
  explicit Backfill(WallTime t0)
      : t0_(std::chrono::duration_cast<seconds>(t0.time_since_epoch())) {}

  void counter(const std::string& name, const std::string& labels,
               const std::vector<Segment>& segments) {
    std::string& lines = families_[name];
    double value = 0;
    for (seconds at = kDataFrom; at <= kDataTo; at += kStep) {
      lines += fmt::format("{}{{{}}} {} {}\n", name, labels, value, (t0_ + at).count());
      double rate = 0;
      for (const auto& segment : segments) {
        if (segment.from <= at) {
          rate = segment.perSecond;
        }
      }
      value += rate * static_cast<double>(kStep.count());
    }
    ++series_;
  }

  std::string text() const {
    std::string out;
    for (const auto& [name, lines] : families_) {
      out += lines;
    }
    return out + "# EOF\n";
  }
  int series() const { return series_; }

 private:
  seconds t0_;
  std::map<std::string, std::string> families_;
  int series_ = 0;
};

// errors5pct: 10 requests/s, 0.3/s of them 500 and 0.2/s 503 (5 %).
constexpr double kRequests5pct = 10;
constexpr double k500s5pct = 0.3;
constexpr double k503s5pct = 0.2;

// The buckets of a latency histogram: per-second rates of requests at or under each bound (as
// the cumulative _bucket series count them), the last +Inf; _count rises as +Inf does.
struct Bucket {
  double le;
  double perSecond;
};
constexpr double kInf = std::numeric_limits<double>::infinity();
// 10 requests/s, 95 % of them under 0.5 s.
constexpr Bucket kFast[] = {{0.05, 2}, {0.1, 5},  {0.25, 8}, {0.5, 9.6},
                            {1, 9.9},  {2.5, 10}, {kInf, 10}};
// 10 requests/s, 1 in 40 slower than 2.5 s: p95 at 2 s.
constexpr Bucket kSlow[] = {{0.1, 3}, {0.25, 6}, {0.5, 8}, {1, 9}, {2.5, 9.75}, {kInf, 10}};
// 0.2 requests/s: 12 a minute, fewer than a p95 needs (20).
constexpr Bucket kSparse[] = {{0.1, 0.1}, {0.25, 0.16}, {0.5, 0.18}, {1, 0.2}, {kInf, 0.2}};

// histogram_quantile as Prometheus 2.42 computes it (promql/quantile.go, bucketQuantile): the
// rank q * total lands in the first finite bucket whose cumulative rate reaches it, and is
// placed linearly between that bucket's lower bound (the previous bound, or 0) and its own; a
// rank beyond every finite bucket is the highest finite bound.
double expectedQuantile(double q, std::span<const Bucket> buckets) {
  double rank = q * buckets.back().perSecond;
  size_t b = 0;
  while (b + 1 < buckets.size() && buckets[b].perSecond < rank) {
    ++b;
  }
  if (b + 1 == buckets.size()) {
    return buckets[b - 1].le;
  }
  const double lower = b == 0 ? 0 : buckets[b - 1].le;
  const double below = b == 0 ? 0 : buckets[b - 1].perSecond;
  return lower + (buckets[b].le - lower) * (rank - below) / (buckets[b].perSecond - below);
}

// The SLO canaries: 100 requests/s. burning: 2 % errors throughout (a burn of 20 against 99.9 %).
// spike: 0.3 % errors (a burn of 3) until 10 min before t0, then 2 % (20).
constexpr double kSloRequests = 100;
constexpr double kBurningErrors = 2;
constexpr double kSpikeBaseErrors = 0.3;
constexpr double kSpikeErrors = 2;
constexpr seconds kSpikeFrom = -10min;
constexpr double kBudget = 0.001;  // of objective 99.9

// The burn of the spike canary over the `window` seconds before a query `elapsed` seconds after
// t0: its error ratio is the time-weighted mean of its two segments' ratios (the traffic is the
// same in both), the spike covering the part of the window after t0 - 10 min.
double spikeBurn(double window, double elapsed) {
  const double spiking = std::clamp(elapsed - static_cast<double>(kSpikeFrom.count()), 0.0, window);
  const double errors = spiking * kSpikeErrors + (window - spiking) * kSpikeBaseErrors;
  return errors / (window * kSloRequests) / kBudget;
}

// How far Prometheus' reading of a window straddling the spike's start may be from spikeBurn:
// rate() reads the samples nearest the window's two ends, [first, last], each up to a 15 s step
// inside it, so the spike's part of what it reads is up to 15 s shorter and the whole up to
// 30 s shorter; and the query ran at some moment of the measurement, which took `took` seconds,
// while spikeBurn is evaluated at its middle. The burn moves by (20 - 3) / window a second of
// either.
double spikeTolerance(double window, double took) {
  const double step = static_cast<double>(kStep.count());
  const double perSecond =
      (kSpikeErrors - kSpikeBaseErrors) / kSloRequests / kBudget / (window - 2 * step);
  return perSecond * (2 * step + took + 1);
}

Backfill fixedData(WallTime t0) {
  Backfill data(t0);
  const seconds start = kDataFrom;
  // errorRate and failWhenPresent.
  const std::string requests = "http_requests_total";
  data.counter(requests, R"(pod_template_hash="errors5pct",code="200")",
               {{start, kRequests5pct - k500s5pct - k503s5pct}});
  data.counter(requests, R"(pod_template_hash="errors5pct",code="500")", {{start, k500s5pct}});
  data.counter(requests, R"(pod_template_hash="errors5pct",code="503")", {{start, k503s5pct}});
  // No 5xx series at all.
  data.counter(requests, R"(pod_template_hash="healthy",code="200")", {{start, 10}});
  // Served until 30 min ago; its counter is still there and no longer rises.
  data.counter(requests, R"(pod_template_hash="idle",code="200")", {{start, 5}, {-30min, 0}});
  // Another counter, the code in `status`, and series of other jobs and namespaces that the
  // metric's matchers (job="web",namespace="prod") leave out.
  const std::string calls = "api_calls_total";
  data.counter(calls, R"(pod_template_hash="shaped",job="web",namespace="prod",status="200")",
               {{start, 9}});
  data.counter(calls, R"(pod_template_hash="shaped",job="web",namespace="prod",status="503")",
               {{start, 1}});
  data.counter(calls, R"(pod_template_hash="shaped",job="batch",namespace="prod",status="500")",
               {{start, 10}});
  data.counter(calls, R"(pod_template_hash="shaped",job="web",namespace="staging",status="500")",
               {{start, 5}});
  // latency.
  auto histogram = [&](const std::string& hash, std::span<const Bucket> buckets) {
    for (const auto& bucket : buckets) {
      const std::string le = std::isinf(bucket.le) ? "+Inf" : fmt::format("{}", bucket.le);
      data.counter("http_request_duration_seconds_bucket",
                   fmt::format(R"(pod_template_hash="{}",le="{}")", hash, le),
                   {{start, bucket.perSecond}});
    }
    data.counter("http_request_duration_seconds_count",
                 fmt::format(R"(pod_template_hash="{}")", hash),
                 {{start, buckets.back().perSecond}});
  };
  histogram("p95fast", kFast);
  histogram("p95slow", kSlow);
  histogram("sparse", kSparse);
  // sloBurn.
  data.counter(requests, R"(pod_template_hash="burning",code="200")",
               {{start, kSloRequests - kBurningErrors}});
  data.counter(requests, R"(pod_template_hash="burning",code="500")", {{start, kBurningErrors}});
  data.counter(
      requests, R"(pod_template_hash="spike",code="200")",
      {{start, kSloRequests - kSpikeBaseErrors}, {kSpikeFrom, kSloRequests - kSpikeErrors}});
  data.counter(requests, R"(pod_template_hash="spike",code="500")",
               {{start, kSpikeBaseErrors}, {kSpikeFrom, kSpikeErrors}});
  return data;
}

// The real monotonic clock, and a wall clock that stands at `wall`: a canary's age is exact.
class StoppedWallClock final : public Clock {
 public:
  explicit StoppedWallClock(WallTime wall) : wall_(wall) {}
  TimePoint now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return wall_; }

 private:
  WallTime wall_;
};

// The queries a provider lists, one "name: PromQL" a line, so a difference reads as text.
std::string listed(const std::vector<crds::MetricQuery>& queries) {
  std::string out;
  for (const auto& q : queries) {
    out += fmt::format("{}: {}\n", q.name, q.query);
  }
  return out;
}

prometheus::CanarySelector canary(const std::string& hash, std::string matchers = {}) {
  return {"pod_template_hash", hash, std::move(matchers)};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class PrometheusBuiltinsTest : public ::testing::Test {
 public:
  // One Prometheus for the suite, with the fixed data, and ready once it answers for every
  // series the data has.
  static void SetUpTestSuite() {
    t0_ = std::chrono::floor<seconds>(std::chrono::system_clock::now());
    const Backfill data = fixedData(t0_);
    try {
      e2e::PrometheusServer::Options options;
      options.backfill = data.text();
      prometheus_ = std::make_unique<e2e::PrometheusServer>(std::move(options));
    } catch (const std::exception& e) {
      startFailure_ = e.what();
      return;
    }
    test::IoThread io;
    test::FakeApiServer fake;
    ProviderDeps deps{fake, io.executor()};
    const json::object block{{"address", prometheus_->url()},
                             {"query", R"(count({__name__=~".+"}))"}};
    auto count = makeProvider(deps, {kNs, {}}, json::object{{"prometheus", block}}, "provider");
    if (!count) {
      startFailure_ = count.error().fieldMessage();
      prometheus_.reset();
      return;
    }
    Observation last;
    const bool loaded = e2e::pollUntil(
        [&] {
          last = io.run((*count)->measure());
          return last.kind == Kind::Value && last.value == data.series();
        },
        30s);
    if (!loaded) {
      startFailure_ = fmt::format("Prometheus never answered for the {} backfilled series: {} {}",
                                  data.series(), last.value, last.message);
      prometheus_.reset();
    }
  }
  static void TearDownTestSuite() { prometheus_.reset(); }

 protected:
  void SetUp() override {
    ASSERT_TRUE(prometheus_) << startFailure_;
    ASSERT_LT(elapsed(), static_cast<double>((kDataTo - 1min).count()))
        << "the fixed data ends 10 min after t0: the suite took too long to get here";
  }

  // Seconds since the data's t0.
  static double elapsed() {
    return std::chrono::duration<double>(std::chrono::system_clock::now() - t0_).count();
  }

  // A `prometheus` block with one built-in (or failWhenPresent's fields, kind empty).
  static json::object builtin(const std::string& kind, json::object params) {
    json::object block{{"address", prometheus_->url()}};
    if (kind.empty()) {
      for (auto& [key, value] : params) {
        block[key] = value;
      }
    } else {
      block[kind] = std::move(params);
    }
    return block;
  }

  // The provider of `block` for a run of the canary `hash`, with MC's canary-started-at when
  // given; nullptr (and a failure) if the block is refused.
  MetricProviderPtr provider(const json::object& block, const std::string& hash,
                             std::optional<std::string> startedAt = {}) {
    std::vector<crds::AnalysisArg> args{{"canary-hash", hash}};
    if (startedAt) {
      args.push_back({"canary-started-at", *startedAt});
    }
    auto made = makeProvider(startedAt ? agedDeps_ : deps_, {kNs, std::move(args)},
                             json::object{{"prometheus", block}}, "provider");
    EXPECT_TRUE(made) << made.error().fieldMessage();
    return made ? std::move(*made) : nullptr;
  }

  // One measurement, as the AnalysisRun controller takes it; notes when it ran (at_: seconds
  // after t0, the middle of it) and how long it took.
  Observation measure(MetricProvider& provider) {
    const double before = elapsed();
    Observation seen = io_.run(provider.measure());
    took_ = elapsed() - before;
    at_ = before + took_ / 2;
    return seen;
  }

  // The measurement's phase as the evaluator judges it by the metric's default condition.
  static std::string verdict(const Observation& seen, const json::object& block) {
    crds::Metric metric;
    metric.name = "builtin";
    metric.provider = json::object{{"prometheus", block}};
    auto condition = effectiveCondition(metric);
    if (!condition) {
      return "no condition";
    }
    const auto now = std::chrono::system_clock::now();
    return judge(seen, *condition, now, now).phase;
  }

  static std::optional<double> defaultMax(const json::object& block) {
    crds::Metric metric;
    metric.provider = json::object{{"prometheus", block}};
    auto condition = effectiveCondition(metric);
    if (!condition || condition->min) {
      return std::nullopt;
    }
    return condition->max;
  }

  static inline std::unique_ptr<e2e::PrometheusServer> prometheus_;
  static inline std::string startFailure_;
  static inline WallTime t0_;

  test::IoThread io_;
  test::FakeApiServer fake_;
  const WallTime stoppedAt_ = std::chrono::floor<seconds>(std::chrono::system_clock::now());
  StoppedWallClock stoppedClock_{stoppedAt_};
  ProviderDeps deps_{fake_, io_.executor()};
  ProviderDeps agedDeps_{fake_, io_.executor(), stoppedClock_};
  double at_ = 0;
  double took_ = 0;
};

// Exact: all series rise at constant rates over every window read here.
constexpr double kExact = 1e-9;

TEST_F(PrometheusBuiltinsTest, ErrorRateIsTheShareOfTheCanarysRequestsAnswered5xx) {
  const json::object block = builtin("errorRate", {});
  EXPECT_EQ(defaultMax(block), 0.02) << "errorRate's default: at most 2 %";

  auto five = provider(block, "errors5pct");
  ASSERT_TRUE(five);
  auto seen = measure(*five);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, (k500s5pct + k503s5pct) / kRequests5pct, kExact);
  EXPECT_EQ(seen.message, "5 % of the canary's requests in the last 1m were 5xx");
  EXPECT_EQ(verdict(seen, block), phase::kFailed) << "5 % > max 2 %";

  auto fiveMinutes = provider(builtin("errorRate", {{"window", "5m"}}), "errors5pct");
  ASSERT_TRUE(fiveMinutes);
  seen = measure(*fiveMinutes);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, 0.05, kExact);
  EXPECT_EQ(seen.message, "5 % of the canary's requests in the last 5m were 5xx");

  // A healthy canary has no 5xx series at all: `or vector(0)` makes that 0, a Value.
  auto healthy = provider(block, "healthy");
  ASSERT_TRUE(healthy);
  seen = measure(*healthy);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_EQ(seen.value, 0.0);
  EXPECT_EQ(verdict(seen, block), phase::kSuccessful);
}

TEST_F(PrometheusBuiltinsTest, ErrorRateWithoutTrafficIsInconclusiveNeverZero) {
  const json::object block = builtin("errorRate", {});
  // ghost: no series at all (an empty result); idle: a counter that no longer rises (0 / 0).
  for (const char* hash : {"ghost", "idle"}) {
    auto none = provider(block, hash);
    ASSERT_TRUE(none);
    auto seen = measure(*none);
    EXPECT_EQ(seen.kind, Kind::Inconclusive) << hash << ": " << seen.value << " " << seen.message;
    EXPECT_TRUE(contains(seen.message, "no traffic")) << hash << ": " << seen.message;
    EXPECT_TRUE(contains(seen.message, fmt::format(R"(pod_template_hash="{}")", hash)))
        << seen.message;
    EXPECT_EQ(verdict(seen, block), phase::kInconclusive) << hash;
  }
}

TEST_F(PrometheusBuiltinsTest, ErrorRateReadsTheMetricCodeLabelAndMatchersItIsGiven) {
  const json::object shaped{{"metric", "api_calls_total"},
                            {"codeLabel", "status"},
                            {"matchers", R"(job="web", namespace="prod")"}};
  auto p = provider(builtin("errorRate", shaped), "shaped");
  ASSERT_TRUE(p);
  auto seen = measure(*p);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, 1.0 / 10, kExact) << "web in prod: 1 of 10 requests/s answered 503";

  // Each parameter matters: without the matchers the batch job's and staging's 500s count too;
  // without codeLabel no series has a `code`, so nothing is a 5xx; without the metric the
  // canary has no http_requests_total.
  json::object unmatched = shaped;
  unmatched.erase("matchers");
  p = provider(builtin("errorRate", unmatched), "shaped");
  ASSERT_TRUE(p);
  seen = measure(*p);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, (1.0 + 10 + 5) / (10 + 10 + 5), kExact);

  json::object byCode = shaped;
  byCode.erase("codeLabel");
  p = provider(builtin("errorRate", byCode), "shaped");
  ASSERT_TRUE(p);
  seen = measure(*p);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_EQ(seen.value, 0.0);

  json::object defaultMetric = shaped;
  defaultMetric.erase("metric");
  p = provider(builtin("errorRate", defaultMetric), "shaped");
  ASSERT_TRUE(p);
  seen = measure(*p);
  EXPECT_EQ(seen.kind, Kind::Inconclusive) << seen.value << " " << seen.message;
}

TEST_F(PrometheusBuiltinsTest, LatencyIsTheQuantileOfTheCanarysBuckets) {
  const json::object block = builtin("latency", {});
  EXPECT_EQ(defaultMax(block), 1.5) << "latency's default: p95 at most 1.5 s";

  auto fast = provider(block, "p95fast");
  ASSERT_TRUE(fast);
  auto seen = measure(*fast);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  // Rank 0.95 * 10 = 9.5 lands in (0.25, 0.5] (8 to 9.6 a second): 0.25 + 0.25 * 1.5 / 1.6.
  EXPECT_NEAR(expectedQuantile(0.95, kFast), 0.484375, 1e-12) << "the test's own arithmetic";
  EXPECT_NEAR(seen.value, expectedQuantile(0.95, kFast), kExact);
  EXPECT_EQ(seen.message, "p95 0.4844 s over the last 1m (600 requests)");
  EXPECT_EQ(verdict(seen, block), phase::kSuccessful);

  auto slow = provider(block, "p95slow");
  ASSERT_TRUE(slow);
  seen = measure(*slow);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  // Rank 9.5 lands in (1, 2.5] (9 to 9.75 a second): 1 + 1.5 * 0.5 / 0.75 = 2.
  EXPECT_NEAR(expectedQuantile(0.95, kSlow), 2.0, 1e-12);
  EXPECT_NEAR(seen.value, expectedQuantile(0.95, kSlow), kExact);
  EXPECT_EQ(verdict(seen, block), phase::kFailed) << "2 s > max 1.5 s";

  auto p90 = provider(builtin("latency", {{"quantile", 0.9}}), "p95fast");
  ASSERT_TRUE(p90);
  seen = measure(*p90);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, expectedQuantile(0.9, kFast), kExact);
  EXPECT_TRUE(contains(seen.message, "p90 ")) << seen.message;
}

TEST_F(PrometheusBuiltinsTest, LatencyOverTooFewRequestsIsInconclusive) {
  // 12 requests in the minute, and a p95 needs 20.
  auto sparse = provider(builtin("latency", {}), "sparse");
  ASSERT_TRUE(sparse);
  auto seen = measure(*sparse);
  EXPECT_EQ(seen.kind, Kind::Inconclusive) << seen.value << " " << seen.message;
  EXPECT_EQ(seen.message,
            "12 requests from the canary's pods in the last 1m, fewer than the 20 a p95 needs");

  // Enough with a lower minRequests, or over a longer window (60 requests in 5 minutes).
  // Rank 0.19 lands in (0.5, 1] (0.18 to 0.2 a second): 0.75.
  for (const json::object& params :
       {json::object{{"minRequests", 10}}, json::object{{"window", "5m"}}}) {
    auto enough = provider(builtin("latency", params), "sparse");
    ASSERT_TRUE(enough);
    seen = measure(*enough);
    ASSERT_EQ(seen.kind, Kind::Value) << json::serialize(params) << ": " << seen.message;
    EXPECT_NEAR(seen.value, expectedQuantile(0.95, kSparse), kExact) << json::serialize(params);
    EXPECT_NEAR(seen.value, 0.75, kExact);
  }

  // p99.9 needs 1000 requests by default: not the 600 of a minute, the 3000 of 5 minutes.
  auto p999 = provider(builtin("latency", {{"quantile", 0.999}}), "p95fast");
  ASSERT_TRUE(p999);
  seen = measure(*p999);
  EXPECT_EQ(seen.kind, Kind::Inconclusive) << seen.value << " " << seen.message;
  EXPECT_EQ(
      seen.message,
      "600 requests from the canary's pods in the last 1m, fewer than the 1000 a p99.9 needs");
  p999 = provider(builtin("latency", {{"quantile", 0.999}, {"window", "5m"}}), "p95fast");
  ASSERT_TRUE(p999);
  seen = measure(*p999);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  // Rank 9.99 lands in (1, 2.5] (9.9 to 10 a second): 1 + 1.5 * 0.09 / 0.1 = 2.35.
  EXPECT_NEAR(seen.value, expectedQuantile(0.999, kFast), kExact);
  EXPECT_NEAR(seen.value, 2.35, kExact);

  auto ghost = provider(builtin("latency", {}), "ghost");
  ASSERT_TRUE(ghost);
  seen = measure(*ghost);
  EXPECT_EQ(seen.kind, Kind::Inconclusive) << seen.value << " " << seen.message;
  EXPECT_TRUE(contains(seen.message, "0 requests")) << seen.message;
}

TEST_F(PrometheusBuiltinsTest, SloBurnBreachesWhenBothWindowsOfAPairBurnTooFast) {
  const json::object block = builtin("sloBurn", {{"objective", 99.9}});
  EXPECT_EQ(defaultMax(block), 1.0) << "sloBurn's default: no pair's severity above 1";

  // Burning 20x in every window: 20 / 14.4 for 1h/5m, 20 / 6 for 6h/30m, the worst.
  auto burning = provider(block, "burning");
  ASSERT_TRUE(burning);
  auto seen = measure(*burning);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, 20.0 / 6, kExact);
  EXPECT_EQ(seen.message,
            "objective 99.9 %: 1h/5m burn 20x/20x of 14.4x (breach); 6h/30m burn 20x/20x of 6x "
            "(breach)");
  EXPECT_EQ(verdict(seen, block), phase::kFailed);

  const json::object fastPair{
      {"objective", 99.9},
      {"windows",
       json::array{json::object{{"long", "1h"}, {"short", "5m"}, {"maxBurnRate", 14.4}}}}};
  burning = provider(builtin("sloBurn", fastPair), "burning");
  ASSERT_TRUE(burning);
  seen = measure(*burning);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, 20 / 14.4, kExact);
  EXPECT_GT(seen.value, 1);
  EXPECT_EQ(seen.message, "objective 99.9 %: 1h/5m burn 20x/20x of 14.4x (breach)");

  // The same block's other parameters, on the shaped canary: 10 % errors against 99 % is a
  // burn of 10, twice the pair's 5.
  const json::object shaped{
      {"metric", "api_calls_total"},
      {"codeLabel", "status"},
      {"matchers", R"(job="web", namespace="prod")"},
      {"objective", 99},
      {"windows", json::array{json::object{{"long", "1h"}, {"short", "5m"}, {"maxBurnRate", 5}}}}};
  auto p = provider(builtin("sloBurn", shaped), "shaped");
  ASSERT_TRUE(p);
  seen = measure(*p);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, 2, kExact);
  EXPECT_EQ(seen.message, "objective 99 %: 1h/5m burn 10x/10x of 5x (breach)");
}

TEST_F(PrometheusBuiltinsTest, ASpikeBreachesTheShortWindowOnlyAndTheRunbookCatchesIt) {
  // The spike burns 20x over the last 5 minutes, but over the hour (50 min at 3x, 10 at 20x)
  // about 5.8x: the 1h/5m pair does not breach, its severity is the long window's burn over 14.4.
  // Windows that straddle the spike's start are read with spikeTolerance (see there).
  const json::object fastPair{
      {"objective", 99.9},
      {"windows",
       json::array{json::object{{"long", "1h"}, {"short", "5m"}, {"maxBurnRate", 14.4}}}}};
  auto spike = provider(builtin("sloBurn", fastPair), "spike");
  ASSERT_TRUE(spike);
  auto seen = measure(*spike);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  const double hour = spikeBurn(3600, at_);
  EXPECT_NEAR(seen.value, std::min(hour, 20.0) / 14.4, spikeTolerance(3600, took_) / 14.4)
      << seen.message;
  EXPECT_LT(seen.value, 1);
  EXPECT_TRUE(contains(seen.message, "x/20x of 14.4x"))
      << "the 5m window burns 20x: " << seen.message;
  EXPECT_FALSE(contains(seen.message, "(breach)")) << seen.message;

  // The workbook's pairs: 1h/5m as above, 6h/30m about 3.5x/8.7x of 6x; neither breaches.
  const double sixHours = spikeBurn(6 * 3600, at_);
  const double halfHour = spikeBurn(1800, at_);
  const json::object workbook = builtin("sloBurn", {{"objective", 99.9}, {"preset", "workbook"}});
  spike = provider(workbook, "spike");
  ASSERT_TRUE(spike);
  seen = measure(*spike);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  double expected = std::max(std::min(hour, 20.0) / 14.4, std::min(sixHours, halfHour) / 6);
  // A max of mins moves no more than the most any of its terms does.
  double tolerance =
      std::max({spikeTolerance(3600, took_) / 14.4, spikeTolerance(6 * 3600, took_) / 6,
                spikeTolerance(1800, took_) / 6});
  EXPECT_NEAR(seen.value, expected, tolerance) << seen.message;
  EXPECT_FALSE(contains(seen.message, "(breach)")) << seen.message;
  EXPECT_EQ(verdict(seen, workbook), phase::kSuccessful);

  // Our runbook's 2x over 6h/30m is breached on the same data (about 3.5x and 8.7x).
  const json::object runbook = builtin("sloBurn", {{"objective", 99.9}, {"preset", "runbook"}});
  spike = provider(runbook, "spike");
  ASSERT_TRUE(spike);
  seen = measure(*spike);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  expected = std::max(std::min(spikeBurn(3600, at_), 20.0) / 10,
                      std::min(spikeBurn(6 * 3600, at_), spikeBurn(1800, at_)) / 2);
  tolerance = std::max({spikeTolerance(3600, took_) / 10, spikeTolerance(6 * 3600, took_) / 2,
                        spikeTolerance(1800, took_) / 2});
  EXPECT_NEAR(seen.value, expected, tolerance) << seen.message;
  EXPECT_GT(seen.value, 1);
  EXPECT_TRUE(contains(seen.message, "of 2x (breach)")) << seen.message;
  EXPECT_TRUE(contains(seen.message, "x/20x of 10x; "))
      << "1h/5m does not breach: " << seen.message;
  EXPECT_EQ(verdict(seen, runbook), phase::kFailed);
}

TEST_F(PrometheusBuiltinsTest, SloBurnOfAYoungCanaryReadsOnlyItsLife) {
  // The wall clock stands at stoppedAt_; the canary started 20 minutes before: the 1h, 6h and
  // 30m windows read 20m, the 5m one reads 5m.
  const std::string startedAt = formatTime(stoppedAt_ - 20min);
  const json::object block = builtin("sloBurn", {{"objective", 99.9}});
  auto burning = provider(block, "burning", startedAt);
  ASSERT_TRUE(burning);
  auto seen = measure(*burning);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_NEAR(seen.value, 20.0 / 6, kExact);
  EXPECT_EQ(seen.message,
            "objective 99.9 %: 1h/5m burn 20x/20x of 14.4x (breach); 6h/30m burn 20x/20x of 6x "
            "(breach); the canary is 20m old, so the 1h, 6h, 30m windows read 20m");
  const auto selector = canary("burning");
  auto ratio = [&](seconds window) {
    return prometheus::errorRatioQuery("http_requests_total", "code", selector, window);
  };
  EXPECT_EQ(listed(burning->queries()), listed({{"burn 1h", ratio(20min)},
                                                {"burn 5m", ratio(5min)},
                                                {"burn 6h", ratio(20min)},
                                                {"burn 30m", ratio(20min)}}));
  EXPECT_TRUE(contains(burning->queries().at(0).query, "[20m]")) << burning->queries().at(0).query;

  // The spike's 20 minutes: 10 at 3x, 10 (and the seconds since t0) at 20x, about 11.5x in
  // each 20m window: above 6x in both of 6h/30m's, so the young canary breaches where the
  // old one (ASpikeBreachesTheShortWindowOnly...) does not.
  auto spike = provider(block, "spike", startedAt);
  ASSERT_TRUE(spike);
  seen = measure(*spike);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  const double life = spikeBurn(1200, at_);
  EXPECT_NEAR(seen.value, std::max(std::min(life, 20.0) / 14.4, life / 6),
              spikeTolerance(1200, took_) / 6)
      << seen.message;
  EXPECT_GT(seen.value, 1);
  EXPECT_TRUE(contains(seen.message, "the 1h, 6h, 30m windows read 20m")) << seen.message;
}

TEST_F(PrometheusBuiltinsTest, SloBurnWithoutTrafficIsInconclusive) {
  const json::object block = builtin("sloBurn", {{"objective", 99.9}});
  auto ghost = provider(block, "ghost");
  ASSERT_TRUE(ghost);
  auto seen = measure(*ghost);
  EXPECT_EQ(seen.kind, Kind::Inconclusive) << seen.value << " " << seen.message;
  EXPECT_TRUE(contains(seen.message, "no traffic")) << seen.message;
  EXPECT_TRUE(contains(seen.message, "in the last 1h")) << seen.message;
  EXPECT_EQ(ghost->queries().size(), 1u) << "it stops at the first window without traffic";

  // idle served until 30 min ago: its hour burns nothing, its last 5 minutes have no requests.
  auto idle = provider(block, "idle");
  ASSERT_TRUE(idle);
  seen = measure(*idle);
  EXPECT_EQ(seen.kind, Kind::Inconclusive) << seen.value << " " << seen.message;
  EXPECT_TRUE(contains(seen.message, "in the last 5m")) << seen.message;
  EXPECT_EQ(verdict(seen, block), phase::kInconclusive);
}

TEST_F(PrometheusBuiltinsTest,
       FailWhenPresentCountsTheAlertsSeriesAndTrustsSilenceOnlyWithTraffic) {
  auto alert = [&](const std::string& hash) {
    return builtin(
        "",
        {{"failWhenPresent", true},
         {"query",
          fmt::format(R"(rate(http_requests_total{{pod_template_hash="{}", code=~"5.."}}[1m]) > 0)",
                      hash)},
         {"guard",
          fmt::format(R"(sum(rate(http_requests_total{{pod_template_hash="{}"}}[1m])))", hash)}});
  };
  EXPECT_EQ(defaultMax(alert("x")), 0.0) << "failWhenPresent's default: no series";

  // errors5pct answers 500 and 503: two series.
  const json::object breaching = alert("errors5pct");
  auto p = provider(breaching, "errors5pct");
  ASSERT_TRUE(p);
  auto seen = measure(*p);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_EQ(seen.value, 2);
  EXPECT_TRUE(contains(seen.message, "the alert expression returned 2 series: ")) << seen.message;
  EXPECT_TRUE(contains(seen.message, R"({code="500", pod_template_hash="errors5pct"} 0.3)"))
      << seen.message;
  EXPECT_TRUE(contains(seen.message, R"({code="503", pod_template_hash="errors5pct"} 0.2)"))
      << seen.message;
  EXPECT_EQ(verdict(seen, breaching), phase::kFailed);
  EXPECT_EQ(listed(p->queries()),
            listed({{"alert", std::string(breaching.at("query").as_string())}}))
      << "with series found, the guard is not asked";

  // healthy: no 5xx, and 10 requests/s by the guard.
  const json::object quiet = alert("healthy");
  p = provider(quiet, "healthy");
  ASSERT_TRUE(p);
  seen = measure(*p);
  ASSERT_EQ(seen.kind, Kind::Value) << seen.message;
  EXPECT_EQ(seen.value, 0.0);
  EXPECT_EQ(seen.message, "the alert expression returned nothing; the guard reads 10");
  EXPECT_EQ(verdict(seen, quiet), phase::kSuccessful);
  EXPECT_EQ(p->queries().size(), 2u);

  // ghost: the guard returns nothing; idle: it reads 0. Silence without traffic proves nothing.
  for (const char* hash : {"ghost", "idle"}) {
    const json::object silent = alert(hash);
    p = provider(silent, hash);
    ASSERT_TRUE(p);
    seen = measure(*p);
    EXPECT_EQ(seen.kind, Kind::Inconclusive) << hash << ": " << seen.value << " " << seen.message;
    EXPECT_TRUE(contains(seen.message, "with no traffic, silence is not health"))
        << hash << ": " << seen.message;
    EXPECT_EQ(verdict(seen, silent), phase::kInconclusive) << hash;
  }
  EXPECT_TRUE(contains(seen.message, "the guard reads 0")) << seen.message;
}

TEST_F(PrometheusBuiltinsTest, QueriesAreNamedAndWrittenAsTheBuildersWriteThem) {
  // errorRate with its parameters.
  prometheus::ErrorRate errorRate;
  errorRate.metric = "api_calls_total";
  errorRate.codeLabel = "status";
  errorRate.window = 5min;
  errorRate.canary = canary("shaped", R"(job="web", namespace="prod")");
  auto p = provider(builtin("errorRate", {{"metric", "api_calls_total"},
                                          {"codeLabel", "status"},
                                          {"window", "5m"},
                                          {"matchers", R"(job="web", namespace="prod")"}}),
                    "shaped");
  ASSERT_TRUE(p);
  const std::string errorRateQueries =
      listed({{"errorRate", prometheus::errorRateQuery(errorRate)}});
  EXPECT_EQ(listed(p->queries()), errorRateQueries) << "before the first measurement";
  ASSERT_EQ(measure(*p).kind, Kind::Value);
  EXPECT_EQ(listed(p->queries()), errorRateQueries) << "as measured";
  EXPECT_EQ(p->queries().at(0).query,
            R"((sum(rate(api_calls_total{pod_template_hash="shaped", status=~"5..", job="web", )"
            R"(namespace="prod"}[5m])) or vector(0)) / sum(rate(api_calls_total{)"
            R"(pod_template_hash="shaped", job="web", namespace="prod"}[5m])))");

  // latency: the quantile, then the request count.
  prometheus::Latency latency;
  latency.quantile = 0.99;
  latency.window = 5min;
  latency.canary = canary("p95fast");
  p = provider(builtin("latency", {{"quantile", 0.99}, {"window", "5m"}}), "p95fast");
  ASSERT_TRUE(p);
  const std::string latencyQueries = listed({{"p99", prometheus::latencyQuery(latency)},
                                             {"requests", prometheus::requestCountQuery(latency)}});
  EXPECT_EQ(listed(p->queries()), latencyQueries);
  ASSERT_EQ(measure(*p).kind, Kind::Value);
  EXPECT_EQ(listed(p->queries()), latencyQueries);

  // sloBurn: each pair's long window, then its short one.
  std::vector<crds::MetricQuery> burns;
  for (const auto& pair : prometheus::burnPreset("runbook")) {
    for (seconds window : {pair.longWindow, pair.shortWindow}) {
      burns.push_back(
          {"burn " + prometheus::promDuration(window),
           prometheus::errorRatioQuery("http_requests_total", "code", canary("burning"), window)});
    }
  }
  ASSERT_EQ(burns.size(), 4u);
  EXPECT_EQ(burns[2].name, "burn 6h");
  p = provider(builtin("sloBurn", {{"objective", 99.9}, {"preset", "runbook"}}), "burning");
  ASSERT_TRUE(p);
  EXPECT_EQ(listed(p->queries()), listed(burns));
  ASSERT_EQ(measure(*p).kind, Kind::Value);
  EXPECT_EQ(listed(p->queries()), listed(burns));

  // failWhenPresent: the alert expression, then the guard, as written.
  const std::string query =
      R"(rate(http_requests_total{pod_template_hash="healthy", code=~"5.."}[1m]) > 0)";
  const std::string guard = R"(sum(rate(http_requests_total{pod_template_hash="healthy"}[1m])))";
  p = provider(builtin("", {{"failWhenPresent", true}, {"query", query}, {"guard", guard}}),
               "healthy");
  ASSERT_TRUE(p);
  EXPECT_EQ(listed(p->queries()), listed({{"alert", query}, {"guard", guard}}));
  ASSERT_EQ(measure(*p).kind, Kind::Value);
  EXPECT_EQ(listed(p->queries()), listed({{"alert", query}, {"guard", guard}}));
}

}  // namespace
}  // namespace mc::analysis
