#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace mc {

// A Go-style duration as the CRD accepts it ("30s", "1m30s", "1.5h", "250ms"); nullopt if it
// is not one. Pause steps, analysis intervals and both executables' flags use it.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace mc
