#include "mc/operator/timefmt.h"

#include <date/date.h>

namespace mc {

std::string formatMicroTime(std::chrono::system_clock::time_point time) {
  return date::format("%FT%TZ", std::chrono::floor<std::chrono::microseconds>(time));
}

std::string formatTime(std::chrono::system_clock::time_point time) {
  return date::format("%FT%TZ", std::chrono::floor<std::chrono::seconds>(time));
}

}  // namespace mc
