#include "server.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

#include "mc/runtime/http_server.h"

namespace mc::demo {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr auto kIdleTimeout = std::chrono::seconds(60);

// The RED metrics of the requests to the app's own paths (not /metrics or /healthz), named as
// most HTTP instrumentation names them, so an AnalysisTemplate written for a real app reads them.
class Metrics {
 public:
  Metrics()
      : requests_(prometheus::BuildCounter()
                      .Name("http_requests_total")
                      .Help("Requests answered, by status code and method")
                      .Register(*registry_)),
        durations_(prometheus::BuildHistogram()
                       .Name("http_request_duration_seconds")
                       .Help("Time from reading a request to its response, by code and method")
                       .Register(*registry_)) {
    // Both codes exist from the start at 0, so a rate() of the 500s counts the first one.
    for (const char* code : {"200", "500"}) {
      series("GET", code);
    }
  }

  void observe(const std::string& method, const char* code, double seconds) {
    auto& s = series(method, code);
    s.requests->Increment();
    s.duration->Observe(seconds);
  }

  std::string text() const { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

 private:
  struct Series {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
  };

  Series& series(const std::string& method, const char* code) {
    auto key = method + " " + code;
    auto it = series_.find(key);
    if (it == series_.end()) {
      prometheus::Labels labels{{"code", code}, {"method", method}};
      it = series_.emplace(key, Series{&requests_.Add(labels), &durations_.Add(labels, kBuckets)})
               .first;
    }
    return it->second;
  }

  inline static const prometheus::Histogram::BucketBoundaries kBuckets{
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10};

  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  std::map<std::string, Series> series_;
};

// All of it runs on the one io thread, so none of it needs a lock.
class App {
 public:
  explicit App(const Config& config) : config_(config) {}

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      stream.expires_after(kIdleTimeout);
      bhttp::request<bhttp::string_body> req;
      auto [rec, rn] = co_await bhttp::async_read(stream, buffer, req, kNoThrow);
      if (rec) {
        break;
      }
      stream.expires_never();
      auto started = Clock::now();
      auto path = std::string_view(req.target()).substr(0, req.target().find('?'));
      bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      if (path == "/metrics") {
        res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.body() = metrics_.text();
      } else if (path == "/healthz") {
        res.body() = "ok\n";
      } else {
        auto delay = nextDelay();
        if (delay.count() > 0) {
          asio::steady_timer timer(stream.get_executor(), delay);
          co_await timer.async_wait(kNoThrow);  // cancelled only when the app stops
        }
        bool fail = nextFails();
        res.result(fail ? bhttp::status::internal_server_error : bhttp::status::ok);
        res.body() = fail ? "injected error\n" : "ok\n";
        std::chrono::duration<double> took = Clock::now() - started;
        metrics_.observe(std::string(req.method_string()), fail ? "500" : "200", took.count());
      }
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      auto [wec, wn] = co_await bhttp::async_write(stream, res, kNoThrow);
      if (wec || !res.keep_alive()) {
        break;
      }
    }
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<void> acceptLoop(tcp::acceptor& acceptor) {
    while (acceptor.is_open()) {
      auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
          break;
        }
        continue;  // e.g. too many open files: keep serving the connections there are
      }
      asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
    }
  }

 private:
  std::chrono::milliseconds nextDelay() {
    auto delay = config_.latency;
    if (config_.latencyJitter.count() > 0) {
      std::uniform_int_distribution<int64_t> jitter(0, config_.latencyJitter.count());
      delay += std::chrono::milliseconds(jitter(random_));
    }
    return delay;
  }

  bool nextFails() {
    // bernoulli_distribution(1.0) is always true and (0.0) never, so the ends are exact.
    return std::bernoulli_distribution(config_.errorRate)(random_);
  }

  Config config_;
  Metrics metrics_;
  std::mt19937_64 random_{std::random_device{}()};
};

}  // namespace

int serve(const Config& config, const std::string& listen) {
  auto hostPort = http::splitHostPort(listen);
  if (!hostPort) {
    fmt::print(stderr, "mc-demo-app: --listen: {}\n", hostPort.error().message);
    return kExitUsage;
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(hostPort->first, ec);
  if (ec) {
    fmt::print(stderr, "mc-demo-app: --listen: \"{}\" is not an IP address\n", hostPort->first);
    return kExitUsage;
  }
  asio::io_context io(1);
  tcp::acceptor acceptor(io);
  tcp::endpoint endpoint(ip, hostPort->second);
  if (acceptor.open(endpoint.protocol(), ec); !ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor.bind(endpoint, ec); !ec) {
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
  }
  if (ec) {
    fmt::print(stderr, "mc-demo-app: cannot listen on {}: {}\n", listen, ec.message());
    return kExitRuntime;
  }
  auto bound = acceptor.local_endpoint();
  // The first line on stdout, flushed at once: with port 0 it is how a test learns the port.
  fmt::print("listening on {}:{}\n", bound.address().to_string(), bound.port());
  std::fflush(stdout);

  App app(config);
  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code&, int) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    io.stop();
  });
  asio::co_spawn(io, app.acceptLoop(acceptor), asio::detached);
  io.run();
  return kExitOk;
}

}  // namespace mc::demo
