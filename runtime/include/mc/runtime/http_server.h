#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "mc/common/error.h"
#include "mc/runtime/http.h"

namespace mc::http {

// A small HTTP/1.1 server for MC's own endpoints (/metrics, /healthz, /readyz): exact-path
// routes (the query is ignored when matching), GET and HEAD only; other methods get 405, on
// unknown paths too. Tests also use it as a stand-in for other servers (an apiserver), through
// routeAny(). Handlers get the request's method, target, headers and body; they run on the
// server's executor and must not block.
class HttpServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  // Binds at once ("127.0.0.1:0" picks a free port), so a taken address fails here.
  static Result<std::unique_ptr<HttpServer>> bind(boost::asio::any_io_executor executor,
                                                  const std::string& address);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // GET and HEAD only (405 for the rest); HEAD responses drop the body.
  void route(std::string path, Handler handler);
  // Every method reaches the handler, which decides what to allow.
  void routeAny(std::string path, Handler handler);
  void start();  // begins accepting; routes may still be added before the first request
  void stop();   // closes the listener and open connections
  unsigned short port() const;

 private:
  struct Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

using HttpServerPtr = std::unique_ptr<HttpServer>;

// "host:port" -> parts; a bare ":8080" binds every address, as Go servers do.
Result<std::pair<std::string, unsigned short>> splitHostPort(const std::string& address);

}  // namespace mc::http
