// A real Prometheus scrapes a target this test serves, and PromQL returns what was served.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <thread>

#include "mc/e2e/poll.h"
#include "mc/e2e/servers.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/http_server.h"

namespace mc::e2e {
namespace {

namespace asio = boost::asio;

// The single sample value of an instant query, or nullopt if Prometheus has none (yet).
std::optional<double> queryValue(const std::string& prometheusUrl, const std::string& promql) {
  auto url = prometheusUrl +
             "/api/v1/query?query=" + boost::urls::encode(promql, boost::urls::unreserved_chars);
  auto response = http::fetchBlocking(url);
  if (!response || response->status != 200) {
    return std::nullopt;
  }
  auto body = boost::json::parse(response->body);
  const auto& result = body.at("data").at("result").as_array();
  if (result.size() != 1) {
    return std::nullopt;
  }
  return std::stod(std::string(result[0].at("value").as_array()[1].as_string()));
}

class PrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gauge_ = &prometheus::BuildGauge()
                  .Name("mc_test_served_value")
                  .Help("A value this test serves for Prometheus to scrape")
                  .Register(*registry_)
                  .Add({{"source", "prometheus_test"}});
    auto bound = http::HttpServer::bind(io_.get_executor(), "127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().describe();
    target_ = std::move(*bound);
    target_->route("/metrics", [this](const http::Request&) {
      return http::Response{200, {}, prometheus::TextSerializer().Serialize(registry_->Collect())};
    });
    target_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    target_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Gauge* gauge_ = nullptr;
  http::HttpServerPtr target_;
  std::thread thread_;
};

TEST_F(PrometheusTest, QueryReturnsTheScrapedValue) {
  gauge_->Set(42.5);
  PrometheusServer prometheus({fmt::format("127.0.0.1:{}", target_->port())});
  const std::string query = R"(mc_test_served_value{source="prometheus_test"})";
  std::optional<double> seen;
  ASSERT_TRUE(pollUntil([&] { return (seen = queryValue(prometheus.url(), query)).has_value(); },
                        std::chrono::seconds(30)))
      << "Prometheus never returned the served value";
  EXPECT_DOUBLE_EQ(*seen, 42.5);

  // A new value shows up at a later scrape: the query reads live data, not a fixed answer.
  gauge_->Set(7);
  EXPECT_TRUE(pollUntil([&] { return queryValue(prometheus.url(), query) == 7.0; },
                        std::chrono::seconds(30)));
  // PromQL arithmetic runs on the scraped series too.
  EXPECT_EQ(queryValue(prometheus.url(), "sum(" + query + ") * 2"), 14.0);
}

TEST_F(PrometheusTest, DownTargetIsReportedByUp) {
  // A target nobody serves: Prometheus records up == 0 for it, which analyses must not read
  // as healthy data.
  auto port = freePort();
  PrometheusServer prometheus({fmt::format("127.0.0.1:{}", port)});
  EXPECT_TRUE(pollUntil([&] { return queryValue(prometheus.url(), "up") == 0.0; },
                        std::chrono::seconds(30)));
}

}  // namespace
}  // namespace mc::e2e
