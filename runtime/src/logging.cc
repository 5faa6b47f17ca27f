#include "mc/runtime/logging.h"

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

namespace mc::logging {
namespace {

// A Logger's fields travel after the message: kFieldsStart, then key kKeyEnd value kFieldEnd...
constexpr char kFieldsStart = '\x1f';
constexpr char kKeyEnd = '\x1e';
constexpr char kFieldEnd = '\x1d';

void appendJsonEscaped(std::string_view text, spdlog::memory_buf_t& dest) {
  for (char c : text) {
    switch (c) {
      case '"':
        dest.append(std::string_view("\\\""));
        break;
      case '\\':
        dest.append(std::string_view("\\\\"));
        break;
      case '\n':
        dest.append(std::string_view("\\n"));
        break;
      case '\r':
        dest.append(std::string_view("\\r"));
        break;
      case '\t':
        dest.append(std::string_view("\\t"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          fmt::format_to(std::back_inserter(dest), "\\u{:04x}", static_cast<int>(c));
        } else {
          dest.push_back(c);
        }
    }
  }
}

// The message as a JSON string body and the fields as further members: the pattern puts this
// between the quotes of "msg", so it closes that string and opens each field's.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    auto start = payload.find(kFieldsStart);
    appendJsonEscaped(payload.substr(0, start), dest);
    if (start == std::string_view::npos) {
      return;
    }
    for (auto rest = payload.substr(start + 1); !rest.empty();) {
      auto keyEnd = rest.find(kKeyEnd);
      auto fieldEnd = rest.find(kFieldEnd);
      if (keyEnd == std::string_view::npos || fieldEnd == std::string_view::npos) {
        break;
      }
      dest.append(std::string_view("\",\""));
      appendJsonEscaped(rest.substr(0, keyEnd), dest);
      dest.append(std::string_view("\":\""));
      appendJsonEscaped(rest.substr(keyEnd + 1, fieldEnd - keyEnd - 1), dest);
      rest = rest.substr(fieldEnd + 1);
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// Text: the message, then " key=value" for each field.
class TextMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      switch (c) {
        case kFieldsStart:
          break;
        case kKeyEnd:
          dest.push_back('=');
          break;
        case kFieldEnd:
          break;
        default:
          dest.push_back(c);
      }
      if (c == kFieldsStart || c == kFieldEnd) {
        dest.push_back(' ');
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

}  // namespace

Result<Format> parseFormat(std::string_view name) {
  if (name == "json") {
    return Format::Json;
  }
  if (name == "text") {
    return Format::Text;
  }
  return makeError(ErrorKind::Invalid,
                   fmt::format("log format \"{}\": must be json or text", name));
}

namespace {
std::atomic<bool> configured{false};
}  // namespace

void setup(Format format) {
  configured = true;
  spdlog::drop("mc");  // set up again: replace, don't throw
  auto logger = spdlog::stderr_color_mt("mc");
  if (format == Format::Json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","msg":"%*"})");
    logger->set_formatter(std::move(formatter));
  } else {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<TextMessageFlag>('*').set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %*");
    logger->set_formatter(std::move(formatter));
  }
  spdlog::set_default_logger(logger);
}

void ensureSetup() {
  if (!configured.exchange(true)) {
    setup(Format::Text);
  }
}

Logger::Logger(Fields fields) : fields_(std::move(fields)) {
  // Fields need MC's formatters; a program (or test) that never called setup() gets text.
  ensureSetup();
  if (fields_.empty()) {
    return;
  }
  suffix_.push_back(kFieldsStart);
  for (const auto& [key, value] : fields_) {
    suffix_ += key;
    suffix_.push_back(kKeyEnd);
    suffix_ += value;
    suffix_.push_back(kFieldEnd);
  }
}

Logger Logger::with(Fields more) const {
  Fields all = fields_;
  all.insert(all.end(), more.begin(), more.end());
  return Logger(std::move(all));
}

void Logger::log(spdlog::level::level_enum level, std::string message) const {
  message += suffix_;
  spdlog::log(level, message);
}

}  // namespace mc::logging
