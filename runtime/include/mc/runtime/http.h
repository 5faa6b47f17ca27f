#pragma once

#include <chrono>
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
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;

  // The first header of that name (case-insensitive), or "".
  std::string header(std::string_view name) const;
};

}  // namespace mc::http
