#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "mc/common/error.h"

// mc-demo-app's behaviour, read from the environment as a container's would be (the e2e
// workload runner copies these from a ReplicaSet's pod template).
namespace mc::demo {

// The environment variables mc-demo-app reads: their names are spelt here only.
inline constexpr const char* kErrorRateEnv = "ERROR_RATE";          // fraction 0..1 answered 500
inline constexpr const char* kLatencyEnv = "LATENCY";               // Go duration: "50ms", "1.5s"
inline constexpr const char* kLatencyJitterEnv = "LATENCY_JITTER";  // up to this much more

struct Config {
  double errorRate = 0;
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds latencyJitter{0};
};

// The value of a variable, or nullopt when it is unset; tests pass their own.
using Lookup = std::function<std::optional<std::string>(const char* name)>;

// Invalid, with `field` the variable's name, if a value is not what it should be (an empty value
// counts as unset, as the default).
Result<Config> readConfig(const Lookup& lookup);
Result<Config> readConfigFromEnvironment();

}  // namespace mc::demo
