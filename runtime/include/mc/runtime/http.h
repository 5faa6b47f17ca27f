#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mc::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  Headers headers;
  std::string body;
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
  // The most body send() reads before giving up on the response (a Terminal error, the connection
  // dropped); 0 is the client's own limit (1 GiB). For callers that know how big an answer can
  // be (a registry's manifests and signature payloads), so a server cannot make them hold more.
  uint64_t maxBodyBytes = 0;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;

  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

}  // namespace mc::http
