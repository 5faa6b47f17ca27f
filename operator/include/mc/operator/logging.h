#pragma once

#include <string_view>

#include "mc/operator/error.h"

namespace mc::logging {

enum class Format { Text, Json };

// "json" | "text" -> Format; Invalid otherwise.
Result<Format> parseFormat(std::string_view name);

// Sets spdlog's default logger to stderr in `format`: JSON lines (one object a line, for log
// shippers; the in-cluster default) or readable text for a terminal. Call once at start-up.
void setup(Format format);

}  // namespace mc::logging
