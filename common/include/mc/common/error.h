#pragma once

#include <boost/system/result.hpp>
#include <string>
#include <string_view>

namespace mc {

// What a caller can do about an error decides its kind: retry with fresh state (Conflict),
// relist (Gone), back off (TooManyRequests, Transient, Timeout), or report and stop (Invalid...).
enum class ErrorKind {
  NotFound,
  AlreadyExists,
  Conflict,
  Gone,
  Invalid,
  Forbidden,
  Unauthorized,
  TooManyRequests,
  Timeout,
  Transient,
  Terminal,
};

std::string_view toString(ErrorKind kind);

// An error on an I/O or reconcile path. `httpStatus` is 0 when no HTTP response was involved.
// `field` is the path of the field at fault when there is one ("spec.strategy.canary.steps[2]"),
// so callers report it without ever parsing a message.
struct Error {
  ErrorKind kind = ErrorKind::Terminal;
  int httpStatus = 0;
  std::string message;
  std::string field;

  // Whether repeating the same call later may succeed.
  bool retryable() const;
  // "Conflict (409): the object has been modified"; "Invalid: spec.replicas: must be >= 0".
  std::string describe() const;
  // "spec.replicas: must be >= 0", or the message alone without a field.
  std::string fieldMessage() const;
};

Error makeError(ErrorKind kind, std::string message, int httpStatus = 0);
// Invalid, about one field: what a user must fix in what they wrote.
Error fieldError(std::string field, std::string message);

// Thrown only by Result<T>::value() on an error; reconcile paths test the result instead.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace mc
