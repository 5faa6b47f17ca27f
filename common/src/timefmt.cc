#include "mc/common/timefmt.h"

// date.h's parser trips GCC 12's -Wmaybe-uninitialized inside the library (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/date.h>

#include <sstream>

namespace mc {

std::string formatMicroTime(std::chrono::system_clock::time_point time) {
  return date::format("%FT%TZ", std::chrono::floor<std::chrono::microseconds>(time));
}

std::string formatTime(std::chrono::system_clock::time_point time) {
  return date::format("%FT%TZ", std::chrono::floor<std::chrono::seconds>(time));
}

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) {
  std::chrono::system_clock::time_point time;
  for (const char* format : {"%FT%TZ", "%FT%T%Ez"}) {
    std::istringstream in{std::string(text)};
    in >> date::parse(format, time);
    if (!in.fail() && in.peek() == std::char_traits<char>::eof()) {
      return time;
    }
  }
  return std::nullopt;
}

}  // namespace mc

#pragma GCC diagnostic pop
