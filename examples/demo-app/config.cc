#include "config.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "mc/common/duration.h"

namespace mc::demo {
namespace {

Result<double> readFraction(const char* name, const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) || value < 0 ||
      value > 1) {
    return fieldError(name,
                      fmt::format("\"{}\" is not a fraction between 0 and 1 (e.g. 0.2)", text));
  }
  return value;
}

Result<std::chrono::milliseconds> readDuration(const char* name, const std::string& text) {
  if (text == "0") {  // as Go's time.ParseDuration, the one duration that needs no unit
    return std::chrono::milliseconds(0);
  }
  auto duration = parseDuration(text);
  if (!duration) {
    return fieldError(name, fmt::format("\"{}\" is not a duration (e.g. 50ms, 1.5s)", text));
  }
  return *duration;
}

}  // namespace

Result<Config> readConfig(const Lookup& lookup) {
  Config config;
  auto value = [&](const char* name) -> std::optional<std::string> {
    auto text = lookup(name);
    return text && !text->empty() ? text : std::nullopt;
  };
  if (auto text = value(kErrorRateEnv)) {
    auto rate = readFraction(kErrorRateEnv, *text);
    if (!rate) {
      return rate.error();
    }
    config.errorRate = *rate;
  }
  if (auto text = value(kLatencyEnv)) {
    auto latency = readDuration(kLatencyEnv, *text);
    if (!latency) {
      return latency.error();
    }
    config.latency = *latency;
  }
  if (auto text = value(kLatencyJitterEnv)) {
    auto jitter = readDuration(kLatencyJitterEnv, *text);
    if (!jitter) {
      return jitter.error();
    }
    config.latencyJitter = *jitter;
  }
  return config;
}

Result<Config> readConfigFromEnvironment() {
  return readConfig([](const char* name) -> std::optional<std::string> {
    const char* text = std::getenv(name);
    return text != nullptr ? std::optional<std::string>(text) : std::nullopt;
  });
}

}  // namespace mc::demo
