#include "mc/common/duration.h"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace mc {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesGoDurations) {
  struct Case {
    const char* text;
    std::optional<milliseconds> value;
  };
  for (const auto& [text, value] : std::vector<Case>{
           {"30s", milliseconds(30'000)},
           {"1m30s", milliseconds(90'000)},
           {"1.5h", milliseconds(5'400'000)},
           {"250ms", milliseconds(250)},
           {"2h45m", milliseconds(9'900'000)},
           {"0s", milliseconds(0)},
           {"", std::nullopt},
           {"30", std::nullopt},  // a unit is required
           {"s", std::nullopt},
           {"5d", std::nullopt},
           {"1m 30s", std::nullopt},
           {"-5s", std::nullopt},
       }) {
    EXPECT_EQ(parseDuration(text), value) << "\"" << text << "\"";
  }
}

}  // namespace
}  // namespace mc
