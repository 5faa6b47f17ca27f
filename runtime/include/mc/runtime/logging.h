#pragma once

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mc/common/error.h"

namespace mc::logging {

enum class Format { Text, Json };

// "json" | "text" -> Format; Invalid otherwise.
Result<Format> parseFormat(std::string_view name);

// Sets spdlog's default logger to stderr in `format`: JSON lines (one object a line, for log
// shippers; the in-cluster default) or readable text for a terminal. Call once at start-up.
void setup(Format format);
// setup(Format::Text) unless a setup has been made. A setup replaces spdlog's default logger,
// which is not safe while another thread logs: a program (or test) that does not call setup()
// calls this before it starts threads that log (Logger's constructor calls it too, late).
void ensureSetup();

// A logger that adds the same fields to every line: separate keys in JSON lines
// ({"msg":"...","controller":"rollout","key":"ns/x","reconcileID":"1f"}), "k=v" after the
// message in text. Cheap to copy; thread-safe as spdlog is.
class Logger {
 public:
  using Fields = std::vector<std::pair<std::string, std::string>>;
  explicit Logger(Fields fields = {});

  Logger with(Fields more) const;

  template <class... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::debug, fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::info, fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::warn, fmt::format(format, std::forward<Args>(args)...));
  }
  template <class... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    log(spdlog::level::err, fmt::format(format, std::forward<Args>(args)...));
  }

 private:
  void log(spdlog::level::level_enum level, std::string message) const;

  Fields fields_;
  std::string suffix_;  // the fields, encoded for the formatters (see logging.cc)
};

}  // namespace mc::logging
