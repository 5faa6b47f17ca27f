// mc-demo-app: a stand-in workload for the e2e suite (see server.h for what it serves and
// config.h for its environment). Exit codes: 0 stopped by a signal, 1 cannot listen, 2 bad
// flags or environment.
#include <fmt/format.h>

#include <CLI/CLI.hpp>

#include "config.h"
#include "server.h"

int main(int argc, char** argv) {
  CLI::App app{
      "An HTTP server with an error rate and latency set by ERROR_RATE, LATENCY and "
      "LATENCY_JITTER, exporting Prometheus metrics on /metrics",
      "mc-demo-app"};
  std::string listen = "127.0.0.1:8080";
  app.add_option("--listen", listen, "HOST:PORT to serve on; port 0 picks a free one")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? mc::demo::kExitOk : mc::demo::kExitUsage;
  }
  auto config = mc::demo::readConfigFromEnvironment();
  if (!config) {
    fmt::print(stderr, "mc-demo-app: {}\n", config.error().fieldMessage());
    return mc::demo::kExitUsage;
  }
  return mc::demo::serve(*config, listen);
}
