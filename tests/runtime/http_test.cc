#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <optional>
#include <thread>

#include "mc/runtime/http_client.h"
#include "mc/runtime/http_server.h"

namespace mc::http {
namespace {

namespace asio = boost::asio;

// A server and client on one io_context driven by a background thread.
class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto bound = HttpServer::bind(io_.get_executor(), "127.0.0.1:0");
    ASSERT_TRUE(bound) << bound.error().describe();
    server_ = std::move(*bound);
    server_->route("/hello", [this](const Request& request) {
      ++hits_;
      return Response{200, {{"X-Target", request.target}}, "hello\n"};
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    server_->stop();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string base() const { return fmt::format("http://127.0.0.1:{}", server_->port()); }

  Result<Response> send(HttpClient& client, Request request) {
    std::promise<Result<Response>> done;
    asio::co_spawn(
        io_, [&]() -> asio::awaitable<void> { done.set_value(co_await client.send(request)); },
        asio::detached);
    return done.get_future().get();
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  HttpServerPtr server_;
  std::atomic<int> hits_{0};
  std::thread thread_;
};

TEST_F(HttpTest, ServesRoutesAndRejectsTheRest) {
  auto ok = fetchBlocking(base() + "/hello?x=1");
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "hello\n");
  EXPECT_EQ(ok->header("x-target"), "/hello?x=1");

  auto missing = fetchBlocking(base() + "/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  auto post = fetchBlocking(base() + "/hello", {.method = "POST", .body = "x"});
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(hits_, 1);
}

TEST_F(HttpTest, ReusesAConnectionAndRecoversWhenTheServerDropsIt) {
  auto client = HttpClient::create(io_.get_executor(), base());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    auto response = send(**client, {.target = "/hello"});
    ASSERT_TRUE(response) << response.error().describe();
    EXPECT_EQ(response->status, 200);
  }
  // Closing every server-side connection leaves the client a stale idle one; the next GET
  // must still succeed (resent once on a fresh connection).
  std::promise<void> closed;
  asio::post(io_, [&] {
    server_->stop();
    closed.set_value();
  });
  closed.get_future().get();
  auto rebound = HttpServer::bind(io_.get_executor(), fmt::format("127.0.0.1:{}", server_->port()));
  ASSERT_TRUE(rebound) << rebound.error().describe();
  (*rebound)->route("/hello", [](const Request&) { return Response{200, {}, "again\n"}; });
  (*rebound)->start();
  auto response = send(**client, {.target = "/hello"});
  ASSERT_TRUE(response) << response.error().describe();
  EXPECT_EQ(response->body, "again\n");
  (*rebound)->stop();
}

TEST_F(HttpTest, RefusedConnectionIsTransient) {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = probe.local_endpoint().port();
  probe.close();
  auto result = fetchBlocking(fmt::format("http://127.0.0.1:{}/", port));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Transient);
  EXPECT_TRUE(result.error().retryable());
}

TEST_F(HttpTest, SilentServerTimesOut) {
  asio::io_context io;
  // Accepts connections (the kernel does, via the backlog) but never answers.
  asio::ip::tcp::acceptor silent(io, {asio::ip::make_address("127.0.0.1"), 0});
  auto result = fetchBlocking(fmt::format("http://127.0.0.1:{}/", silent.local_endpoint().port()),
                              {.timeout = std::chrono::milliseconds(300)});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::Timeout);
}

TEST(HttpClientCreateTest, RejectsBadUrlsAndTlsMaterial) {
  asio::io_context io;
  EXPECT_EQ(HttpClient::create(io.get_executor(), "not a url").error().kind, ErrorKind::Invalid);
  EXPECT_EQ(HttpClient::create(io.get_executor(), "ftp://x:1").error().kind, ErrorKind::Invalid);
  auto badCa = HttpClient::create(io.get_executor(), "https://127.0.0.1:1",
                                  {.caPem = "-----BEGIN CERTIFICATE-----\nnope\n"});
  ASSERT_FALSE(badCa);
  EXPECT_NE(badCa.error().message.find("CA certificate"), std::string::npos);
}

TEST(SplitHostPortTest, ParsesAndRejects) {
  struct Case {
    std::string input;
    bool ok;
    std::string host;
    unsigned short port;
  };
  for (const auto& c : std::vector<Case>{{"127.0.0.1:8080", true, "127.0.0.1", 8080},
                                         {":8081", true, "0.0.0.0", 8081},
                                         {"[::1]:0", true, "::1", 0},
                                         {"8080", false, "", 0},
                                         {"host:99999", false, "", 0},
                                         {"host:80x", false, "", 0}}) {
    auto parsed = splitHostPort(c.input);
    ASSERT_EQ(parsed.has_value(), c.ok) << c.input;
    if (c.ok) {
      EXPECT_EQ(parsed->first, c.host);
      EXPECT_EQ(parsed->second, c.port);
    }
  }
}

TEST(HttpServerBindTest, TakenPortIsAClearError) {
  asio::io_context io;
  auto first = HttpServer::bind(io.get_executor(), "127.0.0.1:0");
  ASSERT_TRUE(first);
  auto second = HttpServer::bind(io.get_executor(), fmt::format("127.0.0.1:{}", (*first)->port()));
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("cannot listen on 127.0.0.1:"), std::string::npos)
      << second.error().message;
}

}  // namespace
}  // namespace mc::http
