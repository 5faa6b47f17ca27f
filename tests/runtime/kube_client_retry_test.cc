#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "mc/runtime/http_server.h"
#include "mc/runtime/kube_client.h"

// The retry policy of KubeClient::Impl::call (runtime/src/kube_client.cc), against a stand-in
// apiserver that answers from a script.
namespace mc::kube {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

constexpr std::string_view kCollection = "/api/v1/namespaces/x/configmaps";
constexpr std::string_view kObject = "/api/v1/namespaces/x/configmaps/cm";
constexpr std::string_view kConfigMap =
    R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","namespace":"x"}})";

http::Response ok() { return http::Response{200, {}, std::string(kConfigMap)}; }
http::Response created() { return http::Response{201, {}, std::string(kConfigMap)}; }

// A metav1.Status failure, as the apiserver sends it.
http::Response failure(int code, std::string_view reason, http::Headers headers = {}) {
  boost::json::object body{{"kind", "Status"},    {"apiVersion", "v1"},
                           {"status", "Failure"}, {"message", fmt::format("scripted {}", code)},
                           {"reason", reason},    {"code", code}};
  return http::Response{code, std::move(headers), boost::json::serialize(body)};
}

http::Response plain(int code) { return http::Response{code, {}, "upstream trouble\n"}; }

enum class Call { Get, Create, Update, MergePatch, ApplyPatch, Delete };

// What a call came to, whatever its result type.
struct Outcome {
  bool ok = false;
  Error error;
};

template <class T>
Outcome outcomeOf(const Result<T>& result) {
  Outcome outcome;
  outcome.ok = result.has_value();
  if (!result) {
    outcome.error = result.error();
  }
  return outcome;
}

// Arguments are named before each co_await (GCC 12 mishandles temporaries inside one).
asio::awaitable<Outcome> perform(KubeClient& client, Call call) {
  const ResourceType& type = resources::kConfigMaps;
  std::string ns = "x";
  std::string name = "cm";
  KubeClient::Object object{{"apiVersion", "v1"},
                            {"kind", "ConfigMap"},
                            {"metadata", {{"name", name}, {"namespace", ns}}},
                            {"data", {{"k", "v"}}}};
  Outcome outcome;
  switch (call) {
    case Call::Get: {
      auto op = client.get(type, ns, name);
      auto result = co_await std::move(op);
      outcome = outcomeOf(result);
      break;
    }
    case Call::Create: {
      auto op = client.create(type, ns, object);
      auto result = co_await std::move(op);
      outcome = outcomeOf(result);
      break;
    }
    case Call::Update: {
      auto op = client.update(type, ns, object);
      auto result = co_await std::move(op);
      outcome = outcomeOf(result);
      break;
    }
    case Call::MergePatch: {
      std::string body = R"({"data":{"k":"w"}})";
      auto op = client.patch(type, ns, name, PatchType::Merge, body);
      auto result = co_await std::move(op);
      outcome = outcomeOf(result);
      break;
    }
    case Call::ApplyPatch: {
      std::string body = boost::json::serialize(object);
      auto op = client.patch(type, ns, name, PatchType::Apply, body);
      auto result = co_await std::move(op);
      outcome = outcomeOf(result);
      break;
    }
    case Call::Delete: {
      auto op = client.remove(type, ns, name);
      auto result = co_await std::move(op);
      outcome = outcomeOf(result);
      break;
    }
  }
  co_return outcome;
}

// One io_context, driven by the test thread, runs both the server and the client.
class KubeClientRetryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bound = http::HttpServer::bind(io_.get_executor(), "127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().describe();
    server_ = std::move(*bound);
    auto handler = [this](const http::Request& request) { return answer(request); };
    server_->routeAny(std::string(kCollection), handler);
    server_->routeAny(std::string(kObject), handler);
    server_->start();
  }

  // The next scripted answer; the last one repeats.
  http::Response answer(const http::Request& request) {
    received_.push_back(request);
    if (script_.empty()) {
      return http::Response{500, {}, "test error: empty script\n"};
    }
    http::Response response = script_.front();
    if (script_.size() > 1) {
      script_.pop_front();
    }
    return response;
  }

  void script(std::vector<http::Response> responses) {
    script_.assign(responses.begin(), responses.end());
    received_.clear();
  }

  ClientOptions options() const {
    ClientOptions options;
    options.maxRetries = 3;
    options.retryBaseDelay = milliseconds(1);
    return options;
  }

  KubeClientPtr client(ClientOptions options) {
    RestConfig config;
    config.server = fmt::format("http://127.0.0.1:{}", server_->port());
    config.origin = "test";
    auto created = KubeClient::create(io_.get_executor(), config, std::move(options));
    EXPECT_TRUE(created) << created.error().describe();
    return created ? std::move(*created) : nullptr;
  }

  Outcome run(KubeClient& client, Call call) {
    std::optional<Outcome> outcome;
    asio::co_spawn(io_, perform(client, call), [&](std::exception_ptr e, Outcome value) {
      if (e) {
        std::rethrow_exception(e);
      }
      outcome = std::move(value);
    });
    io_.restart();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!outcome && std::chrono::steady_clock::now() < deadline) {
      io_.run_one_for(milliseconds(100));
    }
    if (!outcome) {
      ADD_FAILURE() << "the call did not finish";
      return Outcome{false, makeError(ErrorKind::Terminal, "did not finish")};
    }
    return *outcome;
  }

  int calls() const { return static_cast<int>(received_.size()); }

  asio::io_context io_;
  http::HttpServerPtr server_;
  std::deque<http::Response> script_;
  std::vector<http::Request> received_;
};

TEST_F(KubeClientRetryTest, RetriesOnlyWhatIsSafeToRepeat) {
  struct Case {
    std::string name;
    Call call;
    std::vector<http::Response> script;  // the last answer repeats
    int calls;
    std::optional<ErrorKind> error;  // nullopt: success
    int httpStatus = 0;              // of the error
    int maxRetries = 3;
  };
  const http::Headers retryNow{{"Retry-After", "0"}};
  for (const Case& c : std::vector<Case>{
           // Idempotent verbs retry 5xx and 429.
           {"GET 503, 503, 200", Call::Get, {plain(503), plain(503), ok()}, 3, std::nullopt},
           {"GET 500 Status, 200",
            Call::Get,
            {failure(500, "InternalError"), ok()},
            2,
            std::nullopt},
           {"GET 504 Timeout, 200", Call::Get, {failure(504, "Timeout"), ok()}, 2, std::nullopt},
           {"GET 429, 200", Call::Get, {failure(429, "TooManyRequests"), ok()}, 2, std::nullopt},
           {"GET 429 Retry-After 0, 200",
            Call::Get,
            {failure(429, "TooManyRequests", retryNow), ok()},
            2,
            std::nullopt},
           {"PUT 503, 200", Call::Update, {plain(503), ok()}, 2, std::nullopt},
           {"DELETE 503, 200", Call::Delete, {plain(503), ok()}, 2, std::nullopt},
           {"PATCH apply 500, 200", Call::ApplyPatch, {plain(500), ok()}, 2, std::nullopt},
           // POST and non-apply PATCH may have been acted on: a 5xx is final...
           {"POST 503", Call::Create, {plain(503), created()}, 1, ErrorKind::Transient, 503},
           {"POST 500 Retry-After 0",
            Call::Create,
            {failure(500, "InternalError", retryNow), created()},
            1,
            ErrorKind::Transient,
            500},
           {"PATCH merge 500", Call::MergePatch, {plain(500), ok()}, 1, ErrorKind::Transient, 500},
           // ...but a 429 says the server did nothing, so any verb retries it.
           {"POST 429, 201",
            Call::Create,
            {failure(429, "TooManyRequests"), created()},
            2,
            std::nullopt},
           {"PATCH merge 429, 200",
            Call::MergePatch,
            {failure(429, "TooManyRequests"), ok()},
            2,
            std::nullopt},
           // Giving up: the last answer is the error, after 1 + maxRetries calls.
           {"GET always 500", Call::Get, {plain(500)}, 4, ErrorKind::Transient, 500},
           {"GET always 429",
            Call::Get,
            {failure(429, "TooManyRequests")},
            4,
            ErrorKind::TooManyRequests,
            429},
           {"POST always 429",
            Call::Create,
            {failure(429, "TooManyRequests")},
            4,
            ErrorKind::TooManyRequests,
            429},
           {"GET always 503, no retries", Call::Get, {plain(503)}, 1, ErrorKind::Transient, 503, 0},
           {"GET always 503, one retry", Call::Get, {plain(503)}, 2, ErrorKind::Transient, 503, 1},
           // Answers no retry can change come back at once.
           {"GET 404", Call::Get, {failure(404, "NotFound"), ok()}, 1, ErrorKind::NotFound, 404},
           {"PUT 409", Call::Update, {failure(409, "Conflict"), ok()}, 1, ErrorKind::Conflict, 409},
           {"POST 409",
            Call::Create,
            {failure(409, "AlreadyExists"), created()},
            1,
            ErrorKind::AlreadyExists,
            409},
           {"PATCH apply 422",
            Call::ApplyPatch,
            {failure(422, "Invalid"), ok()},
            1,
            ErrorKind::Invalid,
            422},
           {"DELETE 403",
            Call::Delete,
            {failure(403, "Forbidden"), ok()},
            1,
            ErrorKind::Forbidden,
            403},
       }) {
    SCOPED_TRACE(c.name);
    script(c.script);
    ClientOptions o = options();
    o.maxRetries = c.maxRetries;
    auto kube = client(std::move(o));
    ASSERT_NE(kube, nullptr);
    Outcome outcome = run(*kube, c.call);
    EXPECT_EQ(calls(), c.calls);
    if (c.error) {
      ASSERT_FALSE(outcome.ok);
      EXPECT_EQ(outcome.error.kind, *c.error) << outcome.error.describe();
      EXPECT_EQ(outcome.error.httpStatus, c.httpStatus) << outcome.error.describe();
    } else {
      EXPECT_TRUE(outcome.ok) << outcome.error.describe();
    }
  }
}

TEST_F(KubeClientRetryTest, ARetryResendsTheSameRequest) {
  script({failure(429, "TooManyRequests"), plain(500), ok()});
  auto kube = client(options());
  ASSERT_NE(kube, nullptr);
  Outcome outcome = run(*kube, Call::ApplyPatch);
  EXPECT_TRUE(outcome.ok) << outcome.error.describe();
  ASSERT_EQ(calls(), 3);
  const http::Request& first = received_.front();
  EXPECT_EQ(first.method, "PATCH");
  EXPECT_EQ(first.target, std::string(kObject) + "?fieldManager=mc-operator");
  EXPECT_NE(first.body.find(R"("name":"cm")"), std::string::npos) << first.body;
  for (const http::Request& again : received_) {
    EXPECT_EQ(again.method, first.method);
    EXPECT_EQ(again.target, first.target);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.headers, first.headers);
  }
}

TEST_F(KubeClientRetryTest, BacksOffExponentiallyBetweenAttempts) {
  script({plain(503)});
  ClientOptions o = options();
  o.retryBaseDelay = milliseconds(10);
  auto kube = client(std::move(o));
  ASSERT_NE(kube, nullptr);
  auto started = std::chrono::steady_clock::now();
  Outcome outcome = run(*kube, Call::Get);
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(outcome.ok);
  EXPECT_EQ(calls(), 4);
  // 10 + 20 + 40 ms; timers never fire early, so only the lower bound is safe to check.
  EXPECT_GE(took, milliseconds(70));
}

// Label values -> counter value, for one family.
std::map<std::map<std::string, std::string>, double> counters(prometheus::Registry& registry,
                                                              const std::string& family) {
  std::map<std::map<std::string, std::string>, double> values;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) {
      continue;
    }
    for (const prometheus::ClientMetric& metric : f.metric) {
      std::map<std::string, std::string> labels;
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        labels[label.name] = label.value;
      }
      values[labels] = metric.counter.value;
    }
  }
  return values;
}

std::map<std::string, std::uint64_t> histogramCounts(prometheus::Registry& registry,
                                                     const std::string& family) {
  std::map<std::string, std::uint64_t> counts;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) {
      continue;
    }
    for (const prometheus::ClientMetric& metric : f.metric) {
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "verb") {
          counts[label.value] = metric.histogram.sample_count;
        }
      }
    }
  }
  return counts;
}

TEST_F(KubeClientRetryTest, MetricsCountLogicalRequestsByTheirFinalCode) {
  auto registry = std::make_shared<prometheus::Registry>();
  ClientOptions o = options();
  o.registry = registry;
  auto kube = client(std::move(o));
  ASSERT_NE(kube, nullptr);

  script({plain(503), ok()});
  EXPECT_TRUE(run(*kube, Call::Get).ok);
  script({plain(503), created()});
  EXPECT_FALSE(run(*kube, Call::Create).ok);
  script({failure(429, "TooManyRequests"), plain(500), ok()});
  EXPECT_TRUE(run(*kube, Call::ApplyPatch).ok);
  script({plain(500)});
  EXPECT_FALSE(run(*kube, Call::Delete).ok);

  // One sample per call, labelled with the answer the caller got; retried attempts leave no
  // trace of their own (no {verb="get",code="503"}).
  using Labels = std::map<std::string, std::string>;
  EXPECT_EQ(counters(*registry, "mc_kube_requests_total"),
            (std::map<Labels, double>{
                {Labels{{"verb", "get"}, {"code", "200"}}, 1},
                {Labels{{"verb", "create"}, {"code", "503"}}, 1},
                {Labels{{"verb", "patch"}, {"code", "200"}}, 1},
                {Labels{{"verb", "delete"}, {"code", "500"}}, 1},
            }));
  EXPECT_EQ(histogramCounts(*registry, "mc_kube_request_duration_seconds"),
            (std::map<std::string, std::uint64_t>{
                {"create", 1}, {"delete", 1}, {"get", 1}, {"patch", 1}}));
}

}  // namespace
}  // namespace mc::kube
