#pragma once

#include <string>

#include "config.h"

namespace mc::demo {

// Exit codes of mc-demo-app.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;  // cannot listen
inline constexpr int kExitUsage = 2;    // bad flags or environment

// Serves on `listen` ("127.0.0.1:0" picks a free port) until SIGTERM or SIGINT, on one thread:
//   /metrics  Prometheus text: http_requests_total{code,method}, http_request_duration_seconds
//   /healthz  200
//   any other path: 200, or 500 with probability config.errorRate, after config.latency plus a
//   uniform part of config.latencyJitter (a timer, so a slow request holds up no other).
// Prints "listening on HOST:PORT" as the first line on stdout once it accepts connections.
// Returns the exit code.
int serve(const Config& config, const std::string& listen);

}  // namespace mc::demo
