#include "mc/runtime/http_server.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <map>
#include <set>

#include "mc/runtime/version.h"

namespace mc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::ip::tcp;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr auto kIdleTimeout = std::chrono::seconds(60);

}  // namespace

Result<std::pair<std::string, unsigned short>> splitHostPort(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return makeError(
        ErrorKind::Invalid,
        fmt::format("\"{}\" is not host:port (e.g. 127.0.0.1:8080 or :8080)", address));
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view portText(address.data() + colon + 1, address.size() - colon - 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (ec != std::errc() || end != portText.data() + portText.size() || port > 65535) {
    return makeError(ErrorKind::Invalid, fmt::format("\"{}\": port must be 0-65535", address));
  }
  if (host.empty()) {
    host = "0.0.0.0";
  }
  return std::pair{host, static_cast<unsigned short>(port)};
}

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  struct Route {
    Handler handler;
    bool anyMethod = false;
  };

  asio::strand<asio::any_io_executor> strand;
  tcp::acceptor acceptor;
  std::map<std::string, Route, std::less<>> routes;
  std::set<std::shared_ptr<beast::tcp_stream>> sessions;
  unsigned short port = 0;

  explicit Impl(asio::any_io_executor executor)
      : strand(asio::make_strand(executor)), acceptor(strand) {}

  Response dispatch(const Request& request) {
    bool readOnly = request.method == "GET" || request.method == "HEAD";
    auto path = std::string_view(request.target).substr(0, request.target.find('?'));
    auto it = routes.find(path);
    if (!readOnly && (it == routes.end() || !it->second.anyMethod)) {
      return Response{405, {{"Allow", "GET, HEAD"}}, "method not allowed\n"};
    }
    if (it == routes.end()) {
      return Response{404, {}, "not found\n"};
    }
    return it->second.handler(request);
  }

  void addRoute(std::string path, Handler handler, bool anyMethod) {
    asio::dispatch(strand, [self = shared_from_this(), path = std::move(path),
                            route = Route{std::move(handler), anyMethod}]() mutable {
      self->routes[std::move(path)] = std::move(route);
    });
  }

  asio::awaitable<void> serve(std::shared_ptr<beast::tcp_stream> stream) {
    auto self = shared_from_this();
    beast::flat_buffer buffer;
    for (;;) {
      stream->expires_after(kIdleTimeout);
      bhttp::request<bhttp::string_body> req;
      auto [rec, rn] = co_await bhttp::async_read(*stream, buffer, req, kNoThrow);
      if (rec) {
        break;
      }
      Request request{
          std::string(req.method_string()), std::string(req.target()), {}, std::move(req.body())};
      for (const auto& field : req) {
        request.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
      }
      Response response = dispatch(request);
      bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status),
                                              req.version()};
      res.set(bhttp::field::server, fmt::format("mc-operator/{}", kVersion));
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      for (const auto& [name, value] : response.headers) {
        res.set(name, value);
      }
      res.keep_alive(req.keep_alive());
      res.body() = req.method() == bhttp::verb::head ? std::string() : std::move(response.body);
      res.prepare_payload();
      auto [wec, wn] = co_await bhttp::async_write(*stream, res, kNoThrow);
      if (wec || !res.keep_alive()) {
        break;
      }
    }
    boost::system::error_code ignored;
    stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
    sessions.erase(stream);
  }

  asio::awaitable<void> acceptLoop() {
    auto self = shared_from_this();
    while (acceptor.is_open()) {
      auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
          break;
        }
        continue;  // e.g. too many open files: keep serving the connections we have
      }
      auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
      sessions.insert(stream);
      asio::co_spawn(strand, serve(stream), asio::detached);
    }
  }

  void close() {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    for (const auto& session : sessions) {
      session->socket().close(ignored);
    }
    sessions.clear();
  }
};

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::bind(asio::any_io_executor executor,
                                                     const std::string& address) {
  auto hostPort = splitHostPort(address);
  if (!hostPort) {
    return hostPort.error();
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(hostPort->first, ec);
  if (ec) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("\"{}\": \"{}\" is not an IP address", address, hostPort->first));
  }
  auto impl = std::make_shared<Impl>(executor);
  tcp::endpoint endpoint(ip, hostPort->second);
  auto& acceptor = impl->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); !ec) {
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (acceptor.bind(endpoint, ec); !ec) {
      acceptor.listen(asio::socket_base::max_listen_connections, ec);
    }
  }
  if (ec) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("cannot listen on {}: {}", address, ec.message()));
  }
  impl->port = acceptor.local_endpoint().port();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::route(std::string path, Handler handler) {
  impl_->addRoute(std::move(path), std::move(handler), false);
}

void HttpServer::routeAny(std::string path, Handler handler) {
  impl_->addRoute(std::move(path), std::move(handler), true);
}

void HttpServer::start() { asio::co_spawn(impl_->strand, impl_->acceptLoop(), asio::detached); }

void HttpServer::stop() {
  asio::dispatch(impl_->strand, [impl = impl_] { impl->close(); });
}

unsigned short HttpServer::port() const { return impl_->port; }

}  // namespace mc::http
