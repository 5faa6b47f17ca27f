#include "mc/runtime/watch_decoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/stream_parser.hpp>
#include <boost/json/value.hpp>
#include <exception>
#include <utility>

#include "mc/runtime/status.h"

namespace mc::kube {
namespace {

// Boost.JSON's default of 32 rejects real objects: a CRD's openAPIV3Schema embedding a pod
// template nests deeper than that. The parser keeps its own stack, so this costs no call depth.
constexpr size_t kMaxDepth = 512;

boost::json::parse_options parseOptions() {
  boost::json::parse_options options;
  options.max_depth = kMaxDepth;
  return options;
}

bool isSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

std::optional<WatchEventType> eventTypeFrom(std::string_view name) {
  if (name == "ADDED") return WatchEventType::Added;
  if (name == "MODIFIED") return WatchEventType::Modified;
  if (name == "DELETED") return WatchEventType::Deleted;
  if (name == "BOOKMARK") return WatchEventType::Bookmark;
  if (name == "ERROR") return WatchEventType::Error;
  return std::nullopt;
}

std::string_view stringField(const boost::json::object& object, std::string_view key) {
  if (const auto* field = object.if_contains(key); field && field->is_string()) {
    return field->get_string();
  }
  return {};
}

}  // namespace

std::string_view toString(WatchEventType type) {
  switch (type) {
    case WatchEventType::Added:
      return "ADDED";
    case WatchEventType::Modified:
      return "MODIFIED";
    case WatchEventType::Deleted:
      return "DELETED";
    case WatchEventType::Bookmark:
      return "BOOKMARK";
    case WatchEventType::Error:
      return "ERROR";
  }
  return "UNKNOWN";
}

WatchDecoder::WatchDecoder(size_t maxEventBytes)
    : maxEventBytes_(maxEventBytes),
      parser_(std::make_unique<boost::json::stream_parser>(boost::json::storage_ptr(),
                                                           parseOptions())) {}

WatchDecoder::~WatchDecoder() = default;
WatchDecoder::WatchDecoder(WatchDecoder&&) noexcept = default;
WatchDecoder& WatchDecoder::operator=(WatchDecoder&&) noexcept = default;

Result<size_t> WatchDecoder::feed(std::string_view chunk) {
  if (failure_) {
    return *failure_;
  }
  size_t decoded = 0;
  // The parser throws only when memory runs out (or a container outgrows Boost.JSON's limits,
  // which maxEventBytes normally prevents); report that as a broken stream, not a crash.
  try {
    while (!chunk.empty()) {
      if (eventBytes_ == 0) {
        // Between events: skip the separators here, so the parser only ever sees one object and
        // a blank line or CRLF never counts as, or breaks, an event.
        auto start = std::find_if_not(chunk.begin(), chunk.end(), isSpace);
        streamBytes_ += static_cast<size_t>(start - chunk.begin());
        chunk.remove_prefix(static_cast<size_t>(start - chunk.begin()));
        if (chunk.empty()) {
          break;
        }
        // Fail at the first byte rather than after parsing a whole array or garbage.
        if (chunk.front() != '{') {
          return fail(fmt::format("watch event at byte {} is not a JSON object", streamBytes_));
        }
      }
      size_t room = maxEventBytes_ - eventBytes_;
      if (room == 0) {
        return fail(fmt::format("watch event at byte {} is larger than {} bytes",
                                streamBytes_ - eventBytes_, maxEventBytes_));
      }
      boost::system::error_code ec;
      size_t used = parser_->write_some(chunk.data(), std::min(chunk.size(), room), ec);
      eventBytes_ += used;
      streamBytes_ += used;
      chunk.remove_prefix(used);
      if (ec) {
        return fail(
            fmt::format("malformed watch event before byte {}: {}", streamBytes_, ec.message()));
      }
      // Done as soon as the closing brace is in, so an event is delivered without waiting for
      // the next one to begin.
      if (parser_->done()) {
        if (auto taken = takeEvent(); !taken) {
          return fail(std::move(taken.error().message));
        }
        ++decoded;
      }
    }
  } catch (const std::exception& e) {
    return fail(fmt::format("watch event at byte {} could not be decoded: {}",
                            streamBytes_ - eventBytes_, e.what()));
  }
  return decoded;
}

Result<void> WatchDecoder::takeEvent() {
  size_t start = streamBytes_ - eventBytes_;
  eventBytes_ = 0;
  boost::json::value parsed = parser_->release();
  parser_->reset();
  // The first byte was '{', so a completed value is an object.
  auto& envelope = parsed.as_object();
  std::string_view typeName = stringField(envelope, "type");
  auto type = eventTypeFrom(typeName);
  if (!type) {
    if (typeName.empty()) {
      return makeError(ErrorKind::Invalid,
                       fmt::format("watch event at byte {} has no \"type\" string", start));
    }
    return makeError(ErrorKind::Invalid,
                     fmt::format("watch event at byte {} has unknown type \"{}\"", start,
                                 typeName.substr(0, 64)));
  }
  auto* object = envelope.if_contains("object");
  if (object == nullptr || !object->is_object()) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("watch event at byte {} has no \"object\" object", start));
  }
  // Same storage as the parsed envelope, so this move steals the object rather than copying it.
  events_.push_back(WatchEvent{*type, std::move(object->get_object())});
  return {};
}

Result<size_t> WatchDecoder::fail(std::string message) {
  failure_ = makeError(ErrorKind::Invalid, std::move(message));
  return *failure_;
}

std::optional<WatchEvent> WatchDecoder::next() {
  if (events_.empty()) {
    return std::nullopt;
  }
  WatchEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

void WatchDecoder::reset() {
  parser_->reset();
  eventBytes_ = 0;
  streamBytes_ = 0;
  failure_.reset();
  events_.clear();
}

std::string resourceVersionOf(const WatchEvent& event) {
  if (const auto* metadata = event.object.if_contains("metadata");
      metadata && metadata->is_object()) {
    return std::string(stringField(metadata->get_object(), "resourceVersion"));
  }
  return {};
}

Error errorOf(const WatchEvent& event) {
  if (event.type != WatchEventType::Error) {
    return makeError(ErrorKind::Invalid,
                     fmt::format("a {} watch event is not an error", toString(event.type)));
  }
  const auto& status = event.object;
  int64_t code = 0;
  if (const auto* field = status.if_contains("code"); field) {
    boost::system::error_code ec;
    if (auto number = field->to_number<int64_t>(ec); !ec) {
      code = number;
    }
  }
  std::string_view reason = stringField(status, "reason");
  std::string message(stringField(status, "message"));
  if (message.empty()) {
    message =
        reason.empty() ? std::string("watch failed") : fmt::format("watch failed: {}", reason);
  }
  int httpStatus = code >= 100 && code <= 599 ? static_cast<int>(code) : 0;
  return makeError(errorKindOf(reason, code), std::move(message), httpStatus);
}

}  // namespace mc::kube
