#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mc {

// RFC 3339 with microseconds and a Z, as metav1.MicroTime: "2026-11-23T16:40:00.123456Z".
std::string formatMicroTime(std::chrono::system_clock::time_point time);
// RFC 3339 to the second, as metav1.Time: "2026-11-23T16:40:00Z".
std::string formatTime(std::chrono::system_clock::time_point time);

// RFC 3339 as the apiserver writes it ("...Z" or "+01:00", with or without fractions); nullopt
// if it is not one.
std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text);

}  // namespace mc
