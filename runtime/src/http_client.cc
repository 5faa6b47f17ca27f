#include "mc/runtime/http_client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <optional>
#include <variant>

#include "mc/runtime/version.h"

namespace mc::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr size_t kMaxIdleConnections = 8;
constexpr uint64_t kMaxBodyBytes = 1ull << 30;

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One open connection: plain or TLS.
struct Connection {
  std::shared_ptr<ssl::context> context;  // outlives the stream made with it
  std::variant<std::unique_ptr<beast::tcp_stream>, std::unique_ptr<TlsStream>> stream;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(*s); },
                      stream);
  }
};

bool isIdempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

// Errors a server gives when it closed an idle keep-alive connection under us.
bool isStaleConnection(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::eof ||
         ec == ssl::error::stream_truncated;
}

Error transportError(const boost::system::error_code& ec, std::string_view what,
                     std::string_view origin) {
  if (ec == beast::error::timeout) {
    return makeError(ErrorKind::Timeout, fmt::format("{} {}: timed out", what, origin));
  }
  if (ec == bhttp::error::body_limit) {
    // The same request would get the same answer: not worth a retry.
    return makeError(ErrorKind::Terminal,
                     fmt::format("{} {}: response body over the limit", what, origin));
  }
  return makeError(ErrorKind::Transient, fmt::format("{} {}: {}", what, origin, ec.message()));
}

Result<std::shared_ptr<ssl::context>> makeContext(const TlsOptions& options) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  auto& ctx = *context;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  if (!options.caPem.empty()) {
    ctx.add_certificate_authority(asio::buffer(options.caPem), ec);
    if (ec) {
      return makeError(ErrorKind::Invalid, fmt::format("CA certificate: {}", ec.message()));
    }
  } else {
    ctx.set_default_verify_paths(ec);
  }
  if (!options.clientCertPem.empty()) {
    ctx.use_certificate_chain(asio::buffer(options.clientCertPem), ec);
    if (ec) {
      return makeError(ErrorKind::Invalid, fmt::format("client certificate: {}", ec.message()));
    }
    ctx.use_private_key(asio::buffer(options.clientKeyPem), ssl::context::pem, ec);
    if (ec) {
      // The message names the problem, never the key.
      return makeError(ErrorKind::Invalid, fmt::format("client key: {}", ec.message()));
    }
  }
  return context;
}

}  // namespace

struct HttpClient::Impl {
  asio::any_io_executor executor;
  std::string baseUrl;
  std::string host;
  std::string port;
  bool tls = false;
  bool insecure = false;
  TlsOptions tlsOptions;
  std::shared_ptr<ssl::context> sslContext;  // replaced when the client identity changes
  std::vector<std::unique_ptr<Connection>> idle;

  std::string origin() const { return fmt::format("{}:{}", host, port); }
  Result<bhttp::request<bhttp::string_body>> makeRequest(Request& request) const;

  asio::awaitable<Result<std::unique_ptr<Connection>>> connect(std::chrono::milliseconds timeout) {
    tcp::resolver resolver(executor);
    auto [rec, endpoints] = co_await resolver.async_resolve(host, port, kNoThrow);
    if (rec) {
      co_return transportError(rec, "resolving", origin());
    }
    auto conn = std::make_unique<Connection>();
    if (tls) {
      conn->context = sslContext;
      conn->stream = std::make_unique<TlsStream>(executor, *sslContext);
    } else {
      conn->stream = std::make_unique<beast::tcp_stream>(executor);
    }
    conn->tcp().expires_after(timeout);
    auto [cec, ep] = co_await conn->tcp().async_connect(endpoints, kNoThrow);
    if (cec) {
      co_return transportError(cec, "connecting to", origin());
    }
    if (tls) {
      auto& stream = *std::get<std::unique_ptr<TlsStream>>(conn->stream);
      boost::system::error_code addrEc;
      asio::ip::make_address(host, addrEc);
      bool isIp = !addrEc;
      if (!isIp) {
        // SNI, for servers that pick their certificate by name.
        SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
      }
      if (!insecure) {
        stream.set_verify_mode(ssl::verify_peer);
        stream.set_verify_callback(ssl::host_name_verification(host));
      } else {
        stream.set_verify_mode(ssl::verify_none);
      }
      auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kNoThrow);
      if (hec) {
        std::string detail = hec.message();
        long verify = SSL_get_verify_result(stream.native_handle());
        if (verify != X509_V_OK) {
          detail =
              fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
        }
        // A certificate the CA does not vouch for will not start vouching on a retry.
        co_return makeError(ErrorKind::Terminal,
                            fmt::format("TLS handshake with {} failed: {}", origin(), detail));
      }
    }
    co_return conn;
  }

  template <class Stream>
  static asio::awaitable<boost::system::error_code> exchange(
      Stream& stream, beast::flat_buffer& buffer, bhttp::request<bhttp::string_body>& req,
      bhttp::response_parser<bhttp::string_body>& parser, bool& wrote) {
    auto [wec, wn] = co_await bhttp::async_write(stream, req, kNoThrow);
    if (wec) {
      co_return wec;
    }
    wrote = true;
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, kNoThrow);
    co_return rec;
  }

  asio::awaitable<Result<Response>> sendOnce(bhttp::request<bhttp::string_body>& req,
                                             std::chrono::milliseconds timeout,
                                             uint64_t maxBodyBytes, bool& retry) {
    retry = false;
    std::unique_ptr<Connection> conn;
    bool reused = false;
    if (!idle.empty()) {
      conn = std::move(idle.back());
      idle.pop_back();
      reused = true;
    } else {
      auto fresh = co_await connect(timeout);
      if (!fresh) {
        co_return fresh.error();
      }
      conn = std::move(*fresh);
    }
    conn->tcp().expires_after(timeout);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(maxBodyBytes > 0 ? maxBodyBytes : kMaxBodyBytes);
    // A HEAD response announces a Content-Length but carries no body.
    parser.skip(req.method() == bhttp::verb::head);
    bool wrote = false;
    auto ec = co_await std::visit(
        [&](auto& stream) { return exchange(*stream, conn->buffer, req, parser, wrote); },
        conn->stream);
    if (ec) {
      // A reused connection the server had closed: safe to resend if the request never went
      // out, or if sending it twice does no harm.
      retry = reused && isStaleConnection(ec) &&
              (!wrote || isIdempotent(std::string(req.method_string())));
      co_return transportError(ec, fmt::format("{} {}", req.method_string(), req.target()),
                               origin());
    }
    auto& res = parser.get();
    Response out;
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = std::move(res.body());
    if (res.keep_alive() && idle.size() < kMaxIdleConnections) {
      conn->tcp().expires_never();
      idle.push_back(std::move(conn));
    }
    co_return out;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

const std::string& HttpClient::baseUrl() const { return impl_->baseUrl; }

Result<void> HttpClient::setClientCertificate(std::string certPem, std::string keyPem) {
  if (!impl_->tls) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("{}: a client certificate needs https", impl_->baseUrl));
  }
  if (certPem == impl_->tlsOptions.clientCertPem && keyPem == impl_->tlsOptions.clientKeyPem) {
    return {};
  }
  TlsOptions options = impl_->tlsOptions;
  options.clientCertPem = std::move(certPem);
  options.clientKeyPem = std::move(keyPem);
  auto context = makeContext(options);
  if (!context) {
    return context.error();
  }
  impl_->tlsOptions = std::move(options);
  impl_->sslContext = std::move(*context);
  impl_->idle.clear();  // they present the old certificate
  return {};
}

Result<std::unique_ptr<HttpClient>> HttpClient::create(asio::any_io_executor executor,
                                                       const std::string& baseUrl,
                                                       const TlsOptions& tlsOptions) {
  auto url = boost::urls::parse_absolute_uri(baseUrl);
  if (!url) {
    return makeError(ErrorKind::Invalid, fmt::format("\"{}\" is not a URL", baseUrl));
  }
  auto impl = std::make_unique<Impl>();
  impl->executor = executor;
  impl->baseUrl = baseUrl;
  impl->host = std::string(url->host_address());
  std::string scheme(url->scheme());
  if (scheme == "https") {
    impl->tls = true;
  } else if (scheme != "http") {
    return makeError(ErrorKind::Invalid,
                     fmt::format("\"{}\": scheme must be http or https", baseUrl));
  }
  impl->port = url->has_port() ? std::string(url->port()) : (impl->tls ? "443" : "80");
  if (impl->host.empty()) {
    return makeError(ErrorKind::Invalid, fmt::format("\"{}\" has no host", baseUrl));
  }
  if (impl->tls) {
    impl->insecure = tlsOptions.insecureSkipVerify;
    impl->tlsOptions = tlsOptions;
    auto context = makeContext(tlsOptions);
    if (!context) {
      return context.error();
    }
    impl->sslContext = std::move(*context);
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

void StreamCancel::cancel() {
  std::function<void()> closer;
  {
    std::lock_guard lock(mutex_);
    cancelled_ = true;
    closer = closer_;
  }
  if (closer) {
    closer();
  }
}

bool StreamCancel::cancelled() const {
  std::lock_guard lock(mutex_);
  return cancelled_;
}

void StreamCancel::setCloser(std::function<void()> closer) {
  std::lock_guard lock(mutex_);
  closer_ = std::move(closer);
}

Result<bhttp::request<bhttp::string_body>> HttpClient::Impl::makeRequest(Request& request) const {
  bhttp::request<bhttp::string_body> req;
  auto verb = bhttp::string_to_verb(request.method);
  if (verb == bhttp::verb::unknown) {
    return makeError(ErrorKind::Invalid, fmt::format("unknown HTTP method {}", request.method));
  }
  req.method(verb);
  req.target(request.target);
  req.version(11);
  bool defaultPort = port == (tls ? "443" : "80");
  req.set(bhttp::field::host, defaultPort ? host : origin());
  req.set(bhttp::field::user_agent, fmt::format("mc-operator/{}", kVersion));
  for (const auto& [name, value] : request.headers) {
    req.set(name, value);
  }
  req.body() = std::move(request.body);
  req.prepare_payload();
  return req;
}

asio::awaitable<Result<Response>> HttpClient::send(Request request) {
  auto made = impl_->makeRequest(request);
  if (!made) {
    co_return made.error();
  }
  auto& req = *made;
  bool retry = false;
  auto result = co_await impl_->sendOnce(req, request.timeout, request.maxBodyBytes, retry);
  if (!result && retry) {
    result = co_await impl_->sendOnce(req, request.timeout, request.maxBodyBytes, retry);
  }
  co_return result;
}

namespace {

Response headOf(const bhttp::response_header<>& head) {
  Response out;
  out.status = static_cast<int>(head.result_int());
  for (const auto& field : head) {
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  return out;
}

// Reads a response body piece by piece into `sink` until it ends, the sink says stop, or an
// error; `idle` bounds the wait for each piece.
template <class Stream>
asio::awaitable<boost::system::error_code> pump(Stream& stream, beast::tcp_stream& tcp,
                                                beast::flat_buffer& buffer,
                                                bhttp::response_parser<bhttp::buffer_body>& parser,
                                                std::chrono::milliseconds idle,
                                                const BodySink& sink) {
  std::array<char, 64 * 1024> piece;
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    tcp.expires_after(idle);
    auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, kNoThrow);
    if (ec == bhttp::error::need_buffer) {
      ec = {};
    }
    size_t got = piece.size() - parser.get().body().size;
    if (got > 0 && !sink(std::string_view(piece.data(), got))) {
      co_return boost::system::error_code{};
    }
    if (ec) {
      co_return ec;
    }
  }
  co_return boost::system::error_code{};
}

// Parameters are held by value or refer to the caller's coroutine frame: a reference to a
// temporary of the caller's full expression would dangle once this coroutine suspends.
template <class Stream>
asio::awaitable<Result<Response>> streamOn(Stream& stream, beast::tcp_stream& tcp,
                                           bhttp::request<bhttp::string_body>& req,
                                           std::chrono::milliseconds idle, const BodySink& sink,
                                           std::string origin) {
  auto what = fmt::format("{} {}", req.method_string(), req.target());
  tcp.expires_after(idle);
  auto [wec, wn] = co_await bhttp::async_write(stream, req, kNoThrow);
  if (wec) {
    co_return transportError(wec, what, origin);
  }
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [hec, hn] = co_await bhttp::async_read_header(stream, buffer, parser, kNoThrow);
  if (hec) {
    co_return transportError(hec, what, origin);
  }
  Response head = headOf(parser.get().base());
  if (head.status == 200) {
    auto ec = co_await pump(stream, tcp, buffer, parser, idle, sink);
    if (ec) {
      co_return transportError(ec, what, origin);
    }
    co_return head;
  }
  // An error status: collect its (small) body for the caller to map.
  std::string body;
  auto collect = [&body](std::string_view piece) {
    body.append(piece);
    return body.size() < (1u << 20);
  };
  auto ec = co_await pump(stream, tcp, buffer, parser, idle, collect);
  if (ec) {
    co_return transportError(ec, what, origin);
  }
  head.body = std::move(body);
  co_return head;
}

}  // namespace

asio::awaitable<Result<Response>> HttpClient::stream(Request request, BodySink sink,
                                                     std::shared_ptr<StreamCancel> cancel) {
  auto made = impl_->makeRequest(request);
  if (!made) {
    co_return made.error();
  }
  auto conn = co_await impl_->connect(request.timeout);
  if (!conn) {
    co_return conn.error();
  }
  std::shared_ptr<Connection> connection = std::move(*conn);
  auto& tcp = connection->tcp();
  if (cancel) {
    // Closing the socket on the executor ends the pending read with an error; the weak
    // pointer makes a late cancel harmless once the stream is gone.
    cancel->setCloser([weak = std::weak_ptr<Connection>(connection), executor = impl_->executor] {
      asio::post(executor, [weak] {
        if (auto alive = weak.lock()) {
          boost::system::error_code ignored;
          alive->tcp().socket().close(ignored);
        }
      });
    });
    if (cancel->cancelled()) {
      cancel->setCloser({});
      co_return makeError(ErrorKind::Terminal, "stream cancelled");
    }
  }
  auto result = co_await std::visit(
      [&](auto& s) { return streamOn(*s, tcp, *made, request.timeout, sink, impl_->origin()); },
      connection->stream);
  if (cancel) {
    cancel->setCloser({});
    if (cancel->cancelled()) {
      co_return makeError(ErrorKind::Terminal, "stream cancelled");
    }
  }
  co_return result;
}

Result<Response> fetchBlocking(const std::string& url, Request request, const TlsOptions& tls) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return makeError(ErrorKind::Invalid, fmt::format("\"{}\" is not a URL", url));
  }
  std::string origin = fmt::format("{}://{}", parsed->scheme(), parsed->encoded_authority());
  std::string target(parsed->encoded_target());
  if (target.empty()) {
    target = "/";
  }
  asio::io_context io;
  auto client = HttpClient::create(io.get_executor(), origin, tls);
  if (!client) {
    return client.error();
  }
  request.target = target;
  std::optional<Result<Response>> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        result.emplace(co_await (*client)->send(std::move(request)));
      },
      [](std::exception_ptr e) {
        if (e) {
          std::rethrow_exception(e);
        }
      });
  io.run();
  return std::move(*result);
}

}  // namespace mc::http
