// The Prometheus provider against a real Prometheus (Debian's) scraping values this test serves,
// and against the servers that stand where a Prometheus should (a proxy's page, a black hole,
// an endpoint behind a token): each answer becomes the Observation docs/analysis.md says.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <thread>

#include "mc/analysis/provider.h"
#include "mc/e2e/poll.h"
#include "mc/e2e/servers.h"
#include "mc/runtime/http_server.h"
#include "mc/runtime/secret.h"
#include "mc/testing/fake_apiserver.h"
#include "mc/testing/io_thread.h"

namespace mc::analysis {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using Kind = Observation::Kind;

constexpr const char* kNs = "shop";

class PrometheusProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& family =
        prometheus::BuildGauge().Name("mc_test_ratio").Help("served").Register(*registry_);
    family.Add({{"pod", "a"}}).Set(0.25);
    family.Add({{"pod", "b"}}).Set(0.75);
    auto& zero = prometheus::BuildGauge().Name("mc_test_zero").Help("served").Register(*registry_);
    zero.Add({}).Set(0);
    auto bound = http::HttpServer::bind(io_.executor(), "127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().describe();
    target_ = std::move(*bound);
    target_->route("/metrics", [this](const http::Request&) {
      return http::Response{200, {}, prometheus::TextSerializer().Serialize(registry_->Collect())};
    });
    target_->start();
  }
  void TearDown() override { target_->stop(); }

  // One measurement of `query` at `address`, as the AnalysisRun controller takes it.
  Observation measure(const std::string& address, const std::string& query,
                      json::object extra = {}) {
    json::object block{{"address", address}, {"query", query}};
    for (auto& [key, value] : extra) {
      block[key] = value;
    }
    ProviderDeps deps{fake_, io_.executor()};
    auto provider = makeProvider(deps, {kNs, {}}, json::object{{"prometheus", block}}, "provider");
    EXPECT_TRUE(provider) << provider.error().fieldMessage();
    if (!provider) {
      return Observation::error("no provider");
    }
    EXPECT_EQ((*provider)->queries().at(0).query, query);
    return io_.run((*provider)->measure());
  }

  // Prometheus has scraped the target once the served series are there.
  void awaitScrape(const e2e::PrometheusServer& prometheus) {
    ASSERT_TRUE(e2e::pollUntil(
        [&] {
          auto seen = measure(prometheus.url(), "sum(mc_test_ratio)");
          return seen.kind == Kind::Value && seen.value == 1.0;
        },
        30s))
        << "Prometheus never scraped the test's target";
  }

  test::IoThread io_;
  test::FakeApiServer fake_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  http::HttpServerPtr target_;
};

TEST_F(PrometheusProviderTest, ARealPrometheusAnswersEachKindOfQuery) {
  e2e::PrometheusServer prometheus({fmt::format("127.0.0.1:{}", target_->port())});
  ASSERT_NO_FATAL_FAILURE(awaitScrape(prometheus));
  const std::string url = prometheus.url();
  struct Case {
    const char* query;
    Kind kind;
    double value;
    const char* inMessage;
  };
  const Case cases[] = {
      {R"(mc_test_ratio{pod="a"})", Kind::Value, 0.25, ""},
      {"scalar(sum(mc_test_ratio))", Kind::Value, 1.0, ""},
      {R"(mc_test_ratio{pod="a"}[1m])", Kind::Value, 0.25, ""},  // a matrix: the last sample
      {R"(mc_test_ratio{pod="nobody"})", Kind::Inconclusive, 0, "empty result"},
      {"mc_test_ratio", Kind::Inconclusive, 0, "2 series"},
      {"sum(mc_test_ratio", Kind::Error, 0, "bad_data"},
      {"mc_test_ratio + on(nothing)", Kind::Error, 0, "HTTP 400"},
  };
  for (const auto& c : cases) {
    auto seen = measure(url, c.query);
    EXPECT_EQ(seen.kind, c.kind) << c.query << ": " << seen.message;
    if (c.kind == Kind::Value) {
      EXPECT_DOUBLE_EQ(seen.value, c.value) << c.query;
    } else {
      EXPECT_NE(seen.message.find(c.inMessage), std::string::npos)
          << c.query << ": " << seen.message;
    }
  }
  auto nan = measure(url, "sum(mc_test_zero) / sum(mc_test_zero)");
  ASSERT_EQ(nan.kind, Kind::Value) << nan.message;
  EXPECT_TRUE(std::isnan(nan.value)) << "0/0, as a ratio with no traffic: the evaluator's to judge";
}

TEST_F(PrometheusProviderTest, AStoppedPrometheusIsAnErrorNeverAValue) {
  std::string url;
  {
    e2e::PrometheusServer prometheus({fmt::format("127.0.0.1:{}", target_->port())});
    ASSERT_NO_FATAL_FAILURE(awaitScrape(prometheus));
    url = prometheus.url();
    ASSERT_EQ(measure(url, "sum(mc_test_ratio)").kind, Kind::Value) << "it answered";
  }
  auto gone = measure(url, "sum(mc_test_ratio)");
  EXPECT_EQ(gone.kind, Kind::Error);
  EXPECT_NE(gone.message.find("unreachable"), std::string::npos) << gone.message;
}

TEST_F(PrometheusProviderTest, ASilentServerTimesOutAsAnError) {
  // Accepts connections and never answers.
  asio::io_context blackHoleIo;
  asio::ip::tcp::acceptor blackHole(blackHoleIo, {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = blackHole.local_endpoint().port();
  auto started = std::chrono::steady_clock::now();
  auto seen = measure(fmt::format("http://127.0.0.1:{}", port), "up", {{"timeout", "300ms"}});
  auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(seen.kind, Kind::Error);
  EXPECT_NE(seen.message.find("timed out"), std::string::npos) << seen.message;
  EXPECT_LT(took, 10s) << "bounded by the metric's timeout";
}

TEST_F(PrometheusProviderTest, CredentialsComeFromTheSecretAndAPathPrefixIsKept) {
  const std::string answer =
      R"({"status":"success","data":{"resultType":"scalar","result":[1,"0.5"]}})";
  std::string lastAuthorization;
  std::string lastBody;
  auto bound = http::HttpServer::bind(io_.executor(), "127.0.0.1:0");
  ASSERT_TRUE(bound);
  auto proxy = std::move(*bound);
  proxy->routeAny("/prom/api/v1/query", [&](const http::Request& request) {
    for (const auto& [name, value] : request.headers) {
      if (name == "Authorization" || name == "authorization") {
        lastAuthorization = value;
      }
    }
    lastBody = request.body;
    bool allowed = lastAuthorization == "Bearer s3cret" ||
                   lastAuthorization == "Basic " + kube::base64Encode("mc:pa55");
    return allowed ? http::Response{200, {}, answer}
                   : http::Response{401, {}, "<html>401 Unauthorized</html>"};
  });
  proxy->routeAny("/login", [&](const http::Request&) {
    return http::Response{200, {}, "<html>sign in</html>"};
  });
  proxy->start();
  const std::string address = fmt::format("http://127.0.0.1:{}/prom/", proxy->port());
  auto secret = [&](const std::string& name, json::object data) {
    for (auto& [key, value] : data) {
      value = kube::base64Encode(value.as_string());
    }
    fake_.put(kube::resources::kSecrets, {{"apiVersion", "v1"},
                                          {"kind", "Secret"},
                                          {"metadata", {{"name", name}, {"namespace", kNs}}},
                                          {"data", std::move(data)}});
  };
  secret("token", {{"token", "s3cret"}});
  secret("basic", {{"username", "mc"}, {"password", "pa55"}});
  secret("wrong", {{"token", "nope"}});

  auto none = measure(address, "up");
  EXPECT_EQ(none.kind, Kind::Error) << "no credentials: the 401 is an Error";
  EXPECT_NE(none.message.find("HTTP 401"), std::string::npos) << none.message;

  auto bearer = measure(address, "sum(rate(x[1m]))", {{"secretRef", {{"name", "token"}}}});
  EXPECT_EQ(bearer.kind, Kind::Value) << bearer.message;
  EXPECT_EQ(lastAuthorization, "Bearer s3cret");
  EXPECT_EQ(lastBody, "query=sum%28rate%28x%5B1m%5D%29%29") << "the query, form-encoded";

  auto basic = measure(address, "up", {{"secretRef", {{"name", "basic"}}}});
  EXPECT_EQ(basic.kind, Kind::Value) << basic.message;

  auto wrong = measure(address, "up", {{"secretRef", {{"name", "wrong"}}}});
  EXPECT_EQ(wrong.kind, Kind::Error);
  EXPECT_EQ(wrong.message.find("nope"), std::string::npos) << "the credential is never shown";

  auto missing = measure(address, "up", {{"secretRef", {{"name", "absent"}}}});
  EXPECT_EQ(missing.kind, Kind::Error);
  EXPECT_NE(missing.message.find("Secret \"absent\""), std::string::npos) << missing.message;

  auto login =
      measure(fmt::format("http://127.0.0.1:{}/login-page-not-prometheus", proxy->port()), "up");
  EXPECT_EQ(login.kind, Kind::Error);
  proxy->stop();
}

}  // namespace
}  // namespace mc::analysis
