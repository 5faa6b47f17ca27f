#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mc/common/error.h"

namespace boost::json {
class stream_parser;
}  // namespace boost::json

namespace mc::kube {

enum class WatchEventType { Added, Modified, Deleted, Bookmark, Error };

// "ADDED", "MODIFIED", ... as the apiserver spells them.
std::string_view toString(WatchEventType type);

// One event of a watch stream. The object owns its memory (default resource), so it can be kept
// in a cache for as long as needed.
struct WatchEvent {
  WatchEventType type = WatchEventType::Added;
  // The watched object; for Bookmark only apiVersion, kind and metadata.resourceVersion; for
  // Error the metav1.Status object.
  boost::json::object object;
};

// Decodes the body of a watch (`GET ...?watch=1`): JSON objects separated by newlines, arriving in
// network chunks split anywhere. Each object is parsed once, incrementally, as its bytes arrive;
// no copy of the raw text is kept. Not thread-safe: one decoder per watch stream, used by whoever
// reads that stream.
class WatchDecoder {
 public:
  static constexpr size_t kDefaultMaxEventBytes = size_t{64} << 20;

  // An event larger than `maxEventBytes` is an error: it bounds what a broken or hostile stream
  // can make the decoder buffer.
  explicit WatchDecoder(size_t maxEventBytes = kDefaultMaxEventBytes);
  ~WatchDecoder();
  WatchDecoder(WatchDecoder&&) noexcept;
  WatchDecoder& operator=(WatchDecoder&&) noexcept;

  // Consumes a chunk and returns how many events it completed; they are available from next().
  // An error (malformed JSON, a value that is not an object, an unknown type, a missing or
  // non-object "object", an event over maxEventBytes) is Invalid and poisons the decoder: every
  // later feed() returns the same error and the caller restarts the watch. Events completed
  // before the error stay available from next(), in order. Never throws.
  Result<size_t> feed(std::string_view chunk);

  // The oldest decoded event not yet taken, if any.
  std::optional<WatchEvent> next();

  // Whether part of an event is buffered: if so when the stream ends, it ended mid-event.
  bool midEvent() const { return eventBytes_ > 0; }

  // Forgets everything (buffered events, a partial event, a failure) to decode a new stream.
  void reset();

 private:
  Result<size_t> fail(std::string message);
  Result<void> takeEvent();

  size_t maxEventBytes_;
  std::unique_ptr<boost::json::stream_parser> parser_;
  // Bytes of the current partial event seen so far; 0 between events.
  size_t eventBytes_ = 0;
  // Bytes of the stream consumed so far, to say where an error is.
  size_t streamBytes_ = 0;
  std::optional<Error> failure_;
  std::deque<WatchEvent> events_;
};

// The resourceVersion of an event's object (metadata.resourceVersion); "" if absent.
// (kube_client.h has the same for a bare object.)
std::string resourceVersionOf(const WatchEvent& event);

// What an Error event's Status means: code 410 or reason Expired/Gone is Gone (relist), 5xx is
// Transient, and NotFound, Forbidden, TooManyRequests... as for any apiserver response. Any other
// event type gives Invalid.
Error errorOf(const WatchEvent& event);

}  // namespace mc::kube
