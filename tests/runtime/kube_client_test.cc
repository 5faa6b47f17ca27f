#include "mc/runtime/kube_client.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "mc/e2e/process.h"
#include "mc/runtime/http_server.h"

namespace mc::kube {
namespace {

http::Response status(int code, std::string_view reason, std::string_view message) {
  boost::json::object body{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                           {"message", message}, {"reason", reason},   {"code", code}};
  return http::Response{code, {}, boost::json::serialize(body)};
}

TEST(ErrorFromResponseTest, MapsStatusReasonsAndCodes) {
  struct Case {
    http::Response response;
    ErrorKind kind;
    std::string message;
  };
  std::vector<Case> cases = {
      {status(404, "NotFound", "configmaps \"x\" not found"), ErrorKind::NotFound,
       "configmaps \"x\" not found"},
      {status(409, "AlreadyExists", "exists"), ErrorKind::AlreadyExists, "exists"},
      {status(409, "Conflict", "the object has been modified"), ErrorKind::Conflict,
       "the object has been modified"},
      {status(410, "Expired", "too old resource version"), ErrorKind::Gone,
       "too old resource version"},
      {status(422, "Invalid", "spec.replicas: Invalid value"), ErrorKind::Invalid,
       "spec.replicas: Invalid value"},
      {status(403, "Forbidden", "cannot list"), ErrorKind::Forbidden, "cannot list"},
      {status(401, "Unauthorized", "Unauthorized"), ErrorKind::Unauthorized, "Unauthorized"},
      {status(429, "TooManyRequests", "slow down"), ErrorKind::TooManyRequests, "slow down"},
      {status(504, "Timeout", "timed out"), ErrorKind::Timeout, "timed out"},
      {status(500, "InternalError", "etcd"), ErrorKind::Transient, "etcd"},
      // Bodies that are not a Status fall back to the HTTP code.
      {http::Response{503, {}, "service unavailable\n"}, ErrorKind::Transient,
       "service unavailable"},
      {http::Response{410, {}, ""}, ErrorKind::Gone, "HTTP 410"},
      {http::Response{404, {}, "<html>"}, ErrorKind::NotFound, "<html>"},
      {http::Response{418, {}, "teapot"}, ErrorKind::Terminal, "teapot"},
  };
  for (const auto& c : cases) {
    auto error = errorFromResponse(c.response);
    EXPECT_EQ(error.kind, c.kind) << c.response.body;
    EXPECT_EQ(error.httpStatus, c.response.status);
    EXPECT_EQ(error.message, c.message);
  }
}

// A plain-HTTP stand-in apiserver that records the Authorization header it receives.
class KubeClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bound = http::HttpServer::bind(io_.get_executor(), "127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().describe();
    server_ = std::move(*bound);
    server_->route("/version", [this](const http::Request& request) {
      for (const auto& [name, value] : request.headers) {
        if (name == "Authorization") {
          authorizations_.push_back(value);
        }
      }
      return http::Response{200, {}, R"({"gitVersion":"v1.33.13"})"};
    });
    server_->route("/api/v1/namespaces/x/configmaps/missing", [](const http::Request&) {
      return status(404, "NotFound", "configmaps \"missing\" not found");
    });
    server_->start();
  }

  Result<boost::json::value> get(KubeClient& client, std::string path) {
    std::optional<Result<boost::json::value>> result;
    boost::asio::co_spawn(
        io_,
        [&]() -> boost::asio::awaitable<void> { result.emplace(co_await client.getPath(path)); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    io_.restart();
    while (!result) {
      io_.run_one();
    }
    return std::move(*result);
  }

  RestConfig config() const {
    RestConfig config;
    config.server = fmt::format("http://127.0.0.1:{}", server_->port());
    config.origin = "test";
    return config;
  }

  boost::asio::io_context io_;
  http::HttpServerPtr server_;
  std::vector<std::string> authorizations_;
};

TEST_F(KubeClientTest, SendsTheBearerTokenAndParsesJson) {
  auto c = config();
  c.bearerToken = "s3cret";
  auto client = KubeClient::create(io_.get_executor(), c);
  ASSERT_TRUE(client);
  auto version = get(**client, "/version");
  ASSERT_TRUE(version) << version.error().describe();
  EXPECT_EQ(version->at("gitVersion").as_string(), "v1.33.13");
  EXPECT_EQ(authorizations_, std::vector<std::string>{"Bearer s3cret"});
}

TEST_F(KubeClientTest, RereadsARotatedTokenFile) {
  auto dir = e2e::makeTempDir("mc-token");
  auto c = config();
  c.tokenFile = (dir / "token").string();
  std::ofstream(c.tokenFile) << "first\n";
  auto client = KubeClient::create(io_.get_executor(), c);
  ASSERT_TRUE(client);
  ASSERT_TRUE(get(**client, "/version"));
  std::ofstream(c.tokenFile) << "second\n";
  ASSERT_TRUE(get(**client, "/version"));
  EXPECT_EQ(authorizations_, (std::vector<std::string>{"Bearer first", "Bearer second"}));
  std::filesystem::remove_all(dir);
}

TEST_F(KubeClientTest, NonSuccessBecomesATypedError) {
  auto client = KubeClient::create(io_.get_executor(), config());
  ASSERT_TRUE(client);
  auto missing = get(**client, "/api/v1/namespaces/x/configmaps/missing");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::NotFound);
  EXPECT_EQ(missing.error().httpStatus, 404);
  EXPECT_TRUE(authorizations_.empty());
}

}  // namespace
}  // namespace mc::kube
