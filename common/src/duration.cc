#include "mc/common/duration.h"

#include <cctype>
#include <charconv>
#include <cmath>

namespace mc {

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  double totalMs = 0;
  while (!text.empty()) {
    size_t numberEnd = 0;
    while (numberEnd < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[numberEnd])) || text[numberEnd] == '.')) {
      ++numberEnd;
    }
    if (numberEnd == 0) {
      return std::nullopt;
    }
    double number = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + numberEnd, number);
    if (ec != std::errc() || end != text.data() + numberEnd) {
      return std::nullopt;
    }
    text.remove_prefix(numberEnd);
    double unitMs = 0;
    if (text.starts_with("ms")) {
      unitMs = 1;
      text.remove_prefix(2);
    } else if (text.starts_with("s")) {
      unitMs = 1000;
      text.remove_prefix(1);
    } else if (text.starts_with("m")) {
      unitMs = 60'000;
      text.remove_prefix(1);
    } else if (text.starts_with("h")) {
      unitMs = 3'600'000;
      text.remove_prefix(1);
    } else {
      return std::nullopt;  // a unit is required, as in Go
    }
    totalMs += number * unitMs;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(totalMs)));
}

}  // namespace mc
