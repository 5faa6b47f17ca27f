#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "mc/common/error.h"
#include "mc/runtime/http.h"

namespace mc::http {

struct TlsOptions {
  std::string caPem;  // empty: the system trust store
  std::string clientCertPem;
  std::string clientKeyPem;
  bool insecureSkipVerify = false;
};

// Stops a streaming request from any thread: the connection is closed and stream() returns.
class StreamCancel {
 public:
  void cancel();
  bool cancelled() const;

 private:
  friend class HttpClient;
  void setCloser(std::function<void()> closer);  // called by stream() on its executor

  mutable std::mutex mutex_;
  bool cancelled_ = false;
  std::function<void()> closer_;
};

// Receives a streamed body piece by piece as it arrives; returning false stops the stream.
using BodySink = std::function<bool(std::string_view piece)>;

// An HTTP/1.1 client for one origin (scheme, host, port), over TCP or TLS, with keep-alive:
// idle connections are reused, a request that finds its reused connection closed is sent once
// more on a fresh one. Transport failures come back as Transient or Timeout errors; any HTTP
// status is a Response (mapping statuses to errors is the caller's business).
// Callable from any coroutine on the executor it was made with; not thread-safe otherwise.
class HttpClient {
 public:
  // `baseUrl` is "http(s)://host:port"; Invalid if it or the TLS material is bad.
  static Result<std::unique_ptr<HttpClient>> create(boost::asio::any_io_executor executor,
                                                    const std::string& baseUrl,
                                                    const TlsOptions& tls = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<Result<Response>> send(Request request);

  // For long responses (watches): a 200 body goes to `sink` as it arrives, on a connection of
  // its own that is closed afterwards; `request.timeout` bounds the wait for each piece, not
  // the whole stream. Any other status comes back whole in the Response, as from send().
  boost::asio::awaitable<Result<Response>> stream(Request request, BodySink sink,
                                                  std::shared_ptr<StreamCancel> cancel);

  const std::string& baseUrl() const;

  // New connections present this client certificate (a rotated one, from a credential plugin);
  // idle ones are closed. Streams already open keep theirs. Invalid if the PEM is bad.
  Result<void> setClientCertificate(std::string certPem, std::string keyPem);

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

using HttpClientPtr = std::unique_ptr<HttpClient>;

// Runs one request to completion on a private io_context: for start-up checks, tools and
// tests, never on a reconcile path.
Result<Response> fetchBlocking(const std::string& url, Request request = {},
                               const TlsOptions& tls = {});

}  // namespace mc::http
