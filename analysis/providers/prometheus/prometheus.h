#pragma once

#include <chrono>
#include <string>

#include "mc/analysis/provider.h"
#include "mc/runtime/http.h"

// The Prometheus provider: one instant query (POST /api/v1/query) per measurement, through the
// runtime's HTTP client. docs/analysis.md's table says what each answer is.
namespace mc::analysis::prometheus {

// A metric's `provider.prometheus` block.
struct Config {
  std::string address;  // http(s)://host:port[/prefix]
  std::string query;
  std::chrono::milliseconds timeout{std::chrono::seconds(10)};
  std::string secretName;  // "": no credentials; else token | username+password, ca.crt
};

// Invalid naming the field under `path` when the block is wrong.
Result<Config> parseConfig(const boost::json::object& block, const std::string& path);

// What an answer of the query API says: a value, Inconclusive (empty, several series) or Error
// (a non-200 status, status "error", a body that is not the API's JSON). Pure.
Observation parseResponse(const http::Response& response);

ProviderRegistration registration();

}  // namespace mc::analysis::prometheus
