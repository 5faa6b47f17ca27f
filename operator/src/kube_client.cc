#include "mc/operator/kube_client.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <fstream>
#include <sstream>

#include "mc/operator/http_client.h"

namespace mc::kube {
namespace {

ErrorKind kindFromReason(std::string_view reason, int status) {
  if (reason == "NotFound") return ErrorKind::NotFound;
  if (reason == "AlreadyExists") return ErrorKind::AlreadyExists;
  if (reason == "Conflict") return ErrorKind::Conflict;
  if (reason == "Gone" || reason == "Expired") return ErrorKind::Gone;
  if (reason == "Invalid" || reason == "BadRequest") return ErrorKind::Invalid;
  if (reason == "Forbidden") return ErrorKind::Forbidden;
  if (reason == "Unauthorized") return ErrorKind::Unauthorized;
  if (reason == "TooManyRequests") return ErrorKind::TooManyRequests;
  if (reason == "Timeout" || reason == "ServerTimeout") return ErrorKind::Timeout;
  switch (status) {
    case 400:
      return ErrorKind::Invalid;
    case 401:
      return ErrorKind::Unauthorized;
    case 403:
      return ErrorKind::Forbidden;
    case 404:
      return ErrorKind::NotFound;
    case 409:
      return ErrorKind::Conflict;
    case 410:
      return ErrorKind::Gone;
    case 422:
      return ErrorKind::Invalid;
    case 429:
      return ErrorKind::TooManyRequests;
    case 504:
      return ErrorKind::Timeout;
    default:
      return status >= 500 ? ErrorKind::Transient : ErrorKind::Terminal;
  }
}

}  // namespace

Error errorFromResponse(const http::Response& response) {
  std::string reason;
  std::string message;
  boost::system::error_code ec;
  auto body = boost::json::parse(response.body, ec);
  if (!ec && body.is_object()) {
    const auto& status = body.as_object();
    if (auto* kind = status.if_contains("kind");
        kind && kind->is_string() && kind->as_string() == "Status") {
      if (auto* r = status.if_contains("reason"); r && r->is_string()) {
        reason = r->as_string();
      }
      if (auto* m = status.if_contains("message"); m && m->is_string()) {
        message = m->as_string();
      }
    }
  }
  if (message.empty()) {
    message = response.body.substr(0, 200);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.pop_back();
    }
    if (message.empty()) {
      message = fmt::format("HTTP {}", response.status);
    }
  }
  return makeError(kindFromReason(reason, response.status), std::move(message), response.status);
}

KubeClient::KubeClient(RestConfig config, http::HttpClientPtr http)
    : config_(std::move(config)), http_(std::move(http)) {}

KubeClient::~KubeClient() = default;

Result<std::unique_ptr<KubeClient>> KubeClient::create(boost::asio::any_io_executor executor,
                                                       RestConfig config) {
  http::TlsOptions tls{config.caPem, config.clientCertPem, config.clientKeyPem,
                       config.insecureSkipTlsVerify};
  auto http = http::HttpClient::create(executor, config.server, tls);
  if (!http) {
    return makeError(http.error().kind, fmt::format("{}: {}", config.origin, http.error().message));
  }
  return std::unique_ptr<KubeClient>(new KubeClient(std::move(config), std::move(*http)));
}

std::string KubeClient::bearerToken() const {
  if (config_.tokenFile.empty()) {
    return config_.bearerToken;
  }
  // Projected service-account tokens rotate on disk; read the current one each time.
  std::ifstream in(config_.tokenFile);
  std::ostringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) {
    token.pop_back();
  }
  return token.empty() ? config_.bearerToken : token;
}

boost::asio::awaitable<Result<http::Response>> KubeClient::send(http::Request request) {
  if (auto token = bearerToken(); !token.empty()) {
    request.headers.emplace_back("Authorization", "Bearer " + token);
  }
  request.headers.emplace_back("Accept", "application/json");
  co_return co_await http_->send(std::move(request));
}

boost::asio::awaitable<Result<boost::json::value>> KubeClient::get(std::string path) {
  // Named, not a temporary inside co_await: GCC 12 mishandles temporaries' lifetimes there.
  http::Request request{"GET", std::move(path)};
  auto response = co_await send(std::move(request));
  if (!response) {
    co_return response.error();
  }
  if (response->status < 200 || response->status > 299) {
    co_return errorFromResponse(*response);
  }
  boost::system::error_code ec;
  auto value = boost::json::parse(response->body, ec);
  if (ec) {
    co_return makeError(ErrorKind::Transient,
                        fmt::format("apiserver answered with invalid JSON: {}", ec.message()),
                        response->status);
  }
  co_return value;
}

}  // namespace mc::kube
