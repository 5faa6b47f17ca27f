#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>

#include "mc/operator/error.h"
#include "mc/operator/http_client.h"
#include "mc/operator/kubeconfig.h"

namespace mc::kube {

// Maps a non-2xx apiserver response (a metav1.Status body, or not) to a typed Error.
Error errorFromResponse(const http::Response& response);

// A client of one apiserver as one user: TLS as the RestConfig says (verified unless the
// kubeconfig explicitly allowed otherwise), bearer token or client certificate, JSON in and out.
// Tokens are sent, never logged. Use from coroutines on the executor it was created with.
class KubeClient {
 public:
  static Result<std::unique_ptr<KubeClient>> create(boost::asio::any_io_executor executor,
                                                    RestConfig config);
  ~KubeClient();

  // Any apiserver path ("/version", "/api/v1/namespaces/x/configmaps"); 2xx -> the JSON body.
  boost::asio::awaitable<Result<boost::json::value>> get(std::string path);

  // The raw exchange, auth added; for callers that need the status or headers themselves.
  boost::asio::awaitable<Result<http::Response>> send(http::Request request);

  const RestConfig& config() const { return config_; }

 private:
  KubeClient(RestConfig config, http::HttpClientPtr http);
  std::string bearerToken() const;

  RestConfig config_;
  std::unique_ptr<http::HttpClient> http_;
};

using KubeClientPtr = std::unique_ptr<KubeClient>;

}  // namespace mc::kube
