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
struct Error {
  ErrorKind kind = ErrorKind::Terminal;
  int httpStatus = 0;
  std::string message;

  // Whether repeating the same call later may succeed.
  bool retryable() const;
  // "Conflict (409): the object has been modified".
  std::string describe() const;
};

Error makeError(ErrorKind kind, std::string message, int httpStatus = 0);

// Thrown only by Result<T>::value() on an error; reconcile paths test the result instead.
[[noreturn]] void throw_exception_from_error(const Error& error, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace mc
