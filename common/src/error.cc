#include "mc/common/error.h"

#include <fmt/format.h>

#include <stdexcept>

namespace mc {

std::string_view toString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::NotFound:
      return "NotFound";
    case ErrorKind::AlreadyExists:
      return "AlreadyExists";
    case ErrorKind::Conflict:
      return "Conflict";
    case ErrorKind::Gone:
      return "Gone";
    case ErrorKind::Invalid:
      return "Invalid";
    case ErrorKind::Forbidden:
      return "Forbidden";
    case ErrorKind::Unauthorized:
      return "Unauthorized";
    case ErrorKind::TooManyRequests:
      return "TooManyRequests";
    case ErrorKind::Timeout:
      return "Timeout";
    case ErrorKind::Transient:
      return "Transient";
    case ErrorKind::Terminal:
      return "Terminal";
  }
  return "Unknown";
}

bool Error::retryable() const {
  return kind == ErrorKind::TooManyRequests || kind == ErrorKind::Timeout ||
         kind == ErrorKind::Transient;
}

std::string Error::describe() const {
  if (httpStatus != 0) {
    return fmt::format("{} ({}): {}", toString(kind), httpStatus, fieldMessage());
  }
  return fmt::format("{}: {}", toString(kind), fieldMessage());
}

std::string Error::fieldMessage() const {
  return field.empty() ? message : fmt::format("{}: {}", field, message);
}

Error makeError(ErrorKind kind, std::string message, int httpStatus) {
  return Error{kind, httpStatus, std::move(message), {}};
}

Error fieldError(std::string field, std::string message) {
  return Error{ErrorKind::Invalid, 0, std::move(message), std::move(field)};
}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw std::runtime_error(error.describe());
}

}  // namespace mc
