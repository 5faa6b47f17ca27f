#include "mc/runtime/watch_decoder.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <random>
#include <string>
#include <vector>

namespace mc::kube {
namespace {

// Three events as the apiserver sends them, with multi-byte UTF-8 so that splits land inside
// characters, escapes so that they land inside escape sequences, and a CRLF and a blank line
// between events.
const std::string kThreeEvents =
    R"({"type":"ADDED","object":{"kind":"ConfigMap","metadata":{"name":"café",)"
    R"("resourceVersion":"101"},"data":{"greeting":"日本語 🚀","quote":"a\"b\\c\u00e9"}}})"
    "\n"
    R"({"type":"MODIFIED","object":{"metadata":{"name":"x","resourceVersion":"102"},)"
    R"("spec":{"replicas":3,"ratio":0.25,"paused":false,"tags":[],"empty":{},"n":null}}})"
    "\r\n\r\n"
    R"({"type":"DELETED","object":{"metadata":{"name":"ü","resourceVersion":"103"}}})"
    "\n";

struct Expected {
  WatchEventType type;
  boost::json::object object;
};

std::vector<Expected> expectedThree() {
  auto object = [](std::string_view text) { return boost::json::parse(text).as_object(); };
  return {
      {WatchEventType::Added,
       object(R"({"kind":"ConfigMap","metadata":{"name":"café","resourceVersion":"101"},)"
              R"("data":{"greeting":"日本語 🚀","quote":"a\"b\\cé"}})")},
      {WatchEventType::Modified,
       object(R"({"metadata":{"name":"x","resourceVersion":"102"},"spec":{"replicas":3,)"
              R"("ratio":0.25,"paused":false,"tags":[],"empty":{},"n":null}})")},
      {WatchEventType::Deleted, object(R"({"metadata":{"name":"ü","resourceVersion":"103"}})")},
  };
}

std::vector<WatchEvent> drain(WatchDecoder& decoder) {
  std::vector<WatchEvent> events;
  while (auto event = decoder.next()) {
    events.push_back(std::move(*event));
  }
  return events;
}

// Feeds `stream` in the given chunk sizes (the last chunk takes the rest) and returns the events.
std::vector<WatchEvent> decodeInChunks(std::string_view stream,
                                       const std::vector<size_t>& chunkSizes) {
  WatchDecoder decoder;
  for (size_t size : chunkSizes) {
    size = std::min(size, stream.size());
    auto fed = decoder.feed(stream.substr(0, size));
    EXPECT_TRUE(fed.has_value()) << fed.error().describe();
    stream.remove_prefix(size);
  }
  auto fed = decoder.feed(stream);
  EXPECT_TRUE(fed.has_value()) << fed.error().describe();
  EXPECT_FALSE(decoder.midEvent());
  return drain(decoder);
}

void expectThree(const std::vector<WatchEvent>& events, const std::string& context) {
  static const auto expected = expectedThree();
  ASSERT_EQ(events.size(), expected.size()) << context;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(events[i].type, expected[i].type) << context << " event " << i;
    EXPECT_EQ(events[i].object, expected[i].object) << context << " event " << i;
  }
}

std::string event(std::string_view type, std::string_view object) {
  return "{\"type\":\"" + std::string(type) + "\",\"object\":" + std::string(object) + "}\n";
}

TEST(WatchDecoderTest, EverySingleSplitPointYieldsTheSameEvents) {
  for (size_t split = 0; split <= kThreeEvents.size(); ++split) {
    expectThree(decodeInChunks(kThreeEvents, {split}), "split at " + std::to_string(split));
  }
}

TEST(WatchDecoderTest, ByteByByteYieldsTheSameEvents) {
  WatchDecoder decoder;
  size_t decoded = 0;
  for (char c : kThreeEvents) {
    auto fed = decoder.feed(std::string_view(&c, 1));
    ASSERT_TRUE(fed.has_value()) << fed.error().describe();
    decoded += *fed;
  }
  EXPECT_EQ(decoded, 3u);
  EXPECT_FALSE(decoder.midEvent());
  expectThree(drain(decoder), "byte by byte");
}

TEST(WatchDecoderTest, RandomChunkingsYieldTheSameEvents) {
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> sizes;
    for (size_t total = 0; total < kThreeEvents.size();) {
      sizes.push_back(std::uniform_int_distribution<size_t>(0, 40)(random));
      total += sizes.back();
    }
    expectThree(decodeInChunks(kThreeEvents, sizes), "round " + std::to_string(round));
  }
}

TEST(WatchDecoderTest, SeveralEventsInOneChunk) {
  WatchDecoder decoder;
  auto fed = decoder.feed(kThreeEvents);
  ASSERT_TRUE(fed.has_value()) << fed.error().describe();
  EXPECT_EQ(*fed, 3u);
  expectThree(drain(decoder), "one chunk");
  EXPECT_FALSE(decoder.next().has_value());
}

TEST(WatchDecoderTest, EventIsAvailableBeforeTheNextOneBegins) {
  // The apiserver sends an event and then may stay silent for minutes.
  WatchDecoder decoder;
  auto fed = decoder.feed(R"({"type":"ADDED","object":{"a":1}})");
  ASSERT_TRUE(fed.has_value());
  EXPECT_EQ(*fed, 1u);
  EXPECT_FALSE(decoder.midEvent());
  ASSERT_TRUE(decoder.next().has_value());
}

TEST(WatchDecoderTest, LargeObjectInChunksOfManySizes) {
  // ~5 MiB: a long string with escapes and multi-byte characters, and a long array.
  boost::json::object object;
  object["metadata"] = {{"name", "big"}, {"resourceVersion", "7"}};
  std::string blob;
  while (blob.size() < (size_t{4} << 20)) {
    blob += "line \"quoted\" \\ é 日本 🚀\n";
  }
  boost::json::array items;
  for (int i = 0; i < 100000; ++i) {
    items.push_back(boost::json::object{{"i", i}, {"x", 1.5}});
  }
  object["data"] = {{"blob", blob}, {"items", std::move(items)}};
  std::string stream = event("MODIFIED", boost::json::serialize(object));
  ASSERT_GT(stream.size(), size_t{5} << 20);

  for (size_t chunk : {size_t{1}, size_t{3}, size_t{1000}, size_t{4096}, size_t{65536}}) {
    WatchDecoder decoder;
    for (size_t at = 0; at < stream.size(); at += chunk) {
      auto fed = decoder.feed(std::string_view(stream).substr(at, chunk));
      ASSERT_TRUE(fed.has_value()) << "chunk " << chunk << ": " << fed.error().describe();
    }
    auto decoded = decoder.next();
    ASSERT_TRUE(decoded.has_value()) << "chunk " << chunk;
    EXPECT_EQ(decoded->type, WatchEventType::Modified);
    EXPECT_TRUE(decoded->object == object) << "chunk " << chunk;
    EXPECT_EQ(resourceVersionOf(*decoded), "7");
    EXPECT_FALSE(decoder.next().has_value());
  }
}

TEST(WatchDecoderTest, BookmarkCarriesResourceVersion) {
  WatchDecoder decoder;
  ASSERT_TRUE(decoder
                  .feed(event("BOOKMARK", R"({"kind":"Rollout","apiVersion":"mc.io/v1",)"
                                          R"("metadata":{"resourceVersion":"12345"}})"))
                  .has_value());
  auto bookmark = decoder.next();
  ASSERT_TRUE(bookmark.has_value());
  EXPECT_EQ(bookmark->type, WatchEventType::Bookmark);
  EXPECT_EQ(resourceVersionOf(*bookmark), "12345");
}

TEST(WatchDecoderTest, ResourceVersionOfIsEmptyWhenAbsent) {
  for (std::string_view object : {R"({})", R"({"metadata":{}})", R"({"metadata":"x"})",
                                  R"({"metadata":{"resourceVersion":5}})"}) {
    WatchEvent watchEvent{WatchEventType::Added, boost::json::parse(object).as_object()};
    EXPECT_EQ(resourceVersionOf(watchEvent), "") << object;
  }
}

TEST(WatchDecoderTest, ErrorEventMapsStatusToErrorKind) {
  struct Case {
    std::string_view status;
    ErrorKind kind;
    int httpStatus;
  };
  const Case cases[] = {
      {R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
       R"j("message":"too old resource version: 1 (2)","reason":"Expired","code":410})j",
       ErrorKind::Gone, 410},
      {R"({"kind":"Status","reason":"Gone","code":410})", ErrorKind::Gone, 410},
      {R"({"kind":"Status","code":410})", ErrorKind::Gone, 410},
      {R"({"kind":"Status","reason":"Expired"})", ErrorKind::Gone, 0},
      {R"({"kind":"Status","reason":"InternalError","code":500})", ErrorKind::Transient, 500},
      {R"({"kind":"Status","code":503})", ErrorKind::Transient, 503},
      {R"({"kind":"Status","reason":"Forbidden","code":403})", ErrorKind::Forbidden, 403},
      {R"({"kind":"Status","reason":"NotFound","code":404})", ErrorKind::NotFound, 404},
      {R"({"kind":"Status","reason":"TooManyRequests","code":429})", ErrorKind::TooManyRequests,
       429},
      {R"({"kind":"Status","reason":"Timeout","code":504})", ErrorKind::Timeout, 504},
      {R"({"kind":"Status","reason":"Unauthorized","code":401})", ErrorKind::Unauthorized, 401},
      {R"({"kind":"Status","code":"410"})", ErrorKind::Terminal, 0},
      {R"({})", ErrorKind::Terminal, 0},
  };
  for (const auto& c : cases) {
    WatchDecoder decoder;
    ASSERT_TRUE(decoder.feed(event("ERROR", c.status)).has_value()) << c.status;
    auto errorEvent = decoder.next();
    ASSERT_TRUE(errorEvent.has_value()) << c.status;
    EXPECT_EQ(errorEvent->type, WatchEventType::Error);
    Error error = errorOf(*errorEvent);
    EXPECT_EQ(error.kind, c.kind) << c.status << " gave " << error.describe();
    EXPECT_EQ(error.httpStatus, c.httpStatus) << c.status;
    EXPECT_FALSE(error.message.empty()) << c.status;
  }
}

TEST(WatchDecoderTest, ErrorOfKeepsTheStatusMessage) {
  WatchEvent errorEvent{WatchEventType::Error,
                        boost::json::parse(R"j({"message":"too old resource version: 1 (2)",)j"
                                           R"("reason":"Expired","code":410})")
                            .as_object()};
  EXPECT_EQ(errorOf(errorEvent).describe(), "Gone (410): too old resource version: 1 (2)");
}

TEST(WatchDecoderTest, ErrorOfANonErrorEventIsInvalid) {
  WatchEvent added{WatchEventType::Added, {}};
  EXPECT_EQ(errorOf(added).kind, ErrorKind::Invalid);
}

TEST(WatchDecoderTest, MalformedInputIsInvalidAndTheDecoderStaysFailed) {
  struct Case {
    std::string_view name;
    std::string input;
  };
  const Case cases[] = {
      {"garbage", "hello world\n"},
      {"binary", std::string("\x00\xff\xfe", 3)},
      {"truncated then a new object", R"({"type":"ADDED","object":{"a":1})"
                                      "\n" +
                                          event("ADDED", "{}")},
      {"unknown type", event("UPSERTED", "{}")},
      {"lower-case type", event("added", "{}")},
      {"type not a string", R"({"type":1,"object":{}})"},
      {"missing type", R"({"object":{}})"},
      {"object is a string", event("ADDED", R"("x")")},
      {"object is an array", event("ADDED", "[]")},
      {"object is null", event("ADDED", "null")},
      {"missing object", R"({"type":"ADDED"})"},
      {"top-level array", "[" + event("ADDED", "{}") + "]"},
      {"top-level string", "\"ADDED\"\n"},
      {"top-level number", "42\n"},
      {"invalid UTF-8", "{\"type\":\"ADDED\",\"object\":{\"a\":\"\xc3\x28\"}}\n"},
      {"trailing comma", R"({"type":"ADDED","object":{},})"},
      {"stray closing brace", "}\n"},
  };
  for (const auto& c : cases) {
    // The bad event arrives after a good one, in one chunk and byte by byte.
    for (bool byteByByte : {false, true}) {
      WatchDecoder decoder;
      std::string stream = event("ADDED", R"({"good":true})") + c.input;
      Result<size_t> fed = size_t{0};
      if (byteByByte) {
        for (size_t i = 0; i < stream.size() && fed.has_value(); ++i) {
          fed = decoder.feed(std::string_view(stream).substr(i, 1));
        }
      } else {
        fed = decoder.feed(stream);
      }
      ASSERT_FALSE(fed.has_value()) << c.name;
      EXPECT_EQ(fed.error().kind, ErrorKind::Invalid) << c.name;
      EXPECT_FALSE(fed.error().message.empty()) << c.name;

      // The good event decoded before the error is still delivered, and nothing after it.
      auto good = decoder.next();
      ASSERT_TRUE(good.has_value()) << c.name;
      EXPECT_TRUE(good->object.contains("good")) << c.name;
      EXPECT_FALSE(decoder.next().has_value()) << c.name;

      // Poisoned: even a valid event is refused, with the same error.
      auto again = decoder.feed(event("ADDED", "{}"));
      ASSERT_FALSE(again.has_value()) << c.name;
      EXPECT_EQ(again.error().message, fed.error().message) << c.name;
      EXPECT_FALSE(decoder.next().has_value()) << c.name;
    }
  }
}

TEST(WatchDecoderTest, CorruptedStreamsFailCleanly) {
  // Not a fuzzer, but cheap: damaged bytes anywhere give events or Invalid, never a crash.
  std::mt19937 random(7);
  const std::string kAlphabet = "{}[]\":,\\ \n\r0aeE-+.\x80\xc3\xff";
  for (int round = 0; round < 2000; ++round) {
    std::string stream = kThreeEvents;
    int damage = std::uniform_int_distribution<int>(1, 4)(random);
    for (int i = 0; i < damage; ++i) {
      size_t at = std::uniform_int_distribution<size_t>(0, stream.size() - 1)(random);
      stream[at] =
          kAlphabet[std::uniform_int_distribution<size_t>(0, kAlphabet.size() - 1)(random)];
    }
    WatchDecoder decoder(256);
    Result<size_t> fed = size_t{0};
    for (size_t at = 0; at < stream.size() && fed.has_value();) {
      size_t size = std::uniform_int_distribution<size_t>(1, 32)(random);
      fed = decoder.feed(std::string_view(stream).substr(at, size));
      at += size;
    }
    if (!fed.has_value()) {
      EXPECT_EQ(fed.error().kind, ErrorKind::Invalid) << stream;
    }
    EXPECT_LE(drain(decoder).size(), 3u);
  }
}

TEST(WatchDecoderTest, DeepNestingBeyondBoostDefaultIsAccepted) {
  std::string deep;
  for (int i = 0; i < 100; ++i) {
    deep += R"({"a":)";
  }
  deep += "1";
  deep += std::string(100, '}');
  WatchDecoder decoder;
  auto fed = decoder.feed(event("ADDED", deep));
  ASSERT_TRUE(fed.has_value()) << fed.error().describe();
  EXPECT_EQ(*fed, 1u);
}

TEST(WatchDecoderTest, EventOverMaxEventBytesIsAnError) {
  const std::string atLimit = R"({"type":"ADDED","object":{"pad":"xxxxxxxxxx"}})";
  const size_t limit = atLimit.size();
  std::string overLimit = atLimit;
  overLimit.insert(overLimit.find("xx"), "x");

  struct Case {
    std::string name;
    std::string stream;
    bool ok;
  };
  const Case cases[] = {
      {"exactly the limit", atLimit + "\n", true},
      {"exactly the limit, then whitespace and another", atLimit + "\r\n\n  " + atLimit, true},
      {"many events each under the limit", atLimit + atLimit + atLimit + atLimit, true},
      {"one byte over", overLimit + "\n", false},
      {"after a good one", atLimit + "\n" + overLimit, false},
      {"never ending", "{\"type\":\"ADDED\",\"object\":{\"pad\":\"" + std::string(1000, 'x'),
       false},
  };
  for (const auto& c : cases) {
    for (size_t chunk : {size_t{1}, size_t{7}, limit, c.stream.size()}) {
      WatchDecoder decoder(limit);
      Result<size_t> fed = size_t{0};
      for (size_t at = 0; at < c.stream.size() && fed.has_value(); at += chunk) {
        fed = decoder.feed(std::string_view(c.stream).substr(at, chunk));
      }
      EXPECT_EQ(fed.has_value(), c.ok) << c.name << ", chunk " << chunk;
      if (!fed.has_value()) {
        EXPECT_EQ(fed.error().kind, ErrorKind::Invalid);
        EXPECT_NE(fed.error().message.find("larger than"), std::string::npos)
            << fed.error().message;
      }
    }
  }
}

TEST(WatchDecoderTest, EmptyChunksAndBlankLinesAreFine) {
  WatchDecoder decoder;
  const std::string_view chunks[] = {
      "",     "\r\n", "\n\n  \t\r\n", "", R"({"type":"ADDED",)", "", R"("object":{}})", "\r\n",
      "\r\n", "",     "   ",
  };
  size_t decoded = 0;
  for (auto chunk : chunks) {
    auto fed = decoder.feed(chunk);
    ASSERT_TRUE(fed.has_value()) << fed.error().describe();
    decoded += *fed;
  }
  EXPECT_EQ(decoded, 1u);
  EXPECT_FALSE(decoder.midEvent());
  EXPECT_TRUE(decoder.next().has_value());
  EXPECT_FALSE(decoder.next().has_value());
}

TEST(WatchDecoderTest, MidEventAfterAPartialFeed) {
  WatchDecoder decoder;
  EXPECT_FALSE(decoder.midEvent());
  ASSERT_TRUE(decoder.feed("\n\r\n").has_value());
  EXPECT_FALSE(decoder.midEvent()) << "separators alone are not an event";
  ASSERT_TRUE(decoder.feed(R"({"type":"ADD)").has_value());
  EXPECT_TRUE(decoder.midEvent());
  EXPECT_FALSE(decoder.next().has_value());
  ASSERT_TRUE(decoder.feed(R"(ED","object":{"a":[1,2)").has_value());
  EXPECT_TRUE(decoder.midEvent());
  ASSERT_TRUE(decoder.feed("]}}\n").has_value());
  EXPECT_FALSE(decoder.midEvent());
  EXPECT_TRUE(decoder.next().has_value());
}

TEST(WatchDecoderTest, ResetDecodesAFreshStream) {
  WatchDecoder decoder;
  ASSERT_TRUE(decoder.feed(event("ADDED", "{}")).has_value());
  ASSERT_FALSE(decoder.feed("garbage").has_value());
  decoder.reset();
  EXPECT_FALSE(decoder.next().has_value()) << "reset drops undelivered events";
  EXPECT_FALSE(decoder.midEvent());
  expectThree(decodeInChunks(kThreeEvents, {}), "fresh decoder");
  auto fed = decoder.feed(kThreeEvents);
  ASSERT_TRUE(fed.has_value()) << fed.error().describe();
  expectThree(drain(decoder), "after reset");
}

TEST(WatchDecoderTest, MovedDecoderKeepsItsPartialEvent) {
  WatchDecoder first;
  ASSERT_TRUE(first.feed(std::string_view(kThreeEvents).substr(0, 50)).has_value());
  WatchDecoder second = std::move(first);
  EXPECT_TRUE(second.midEvent());
  ASSERT_TRUE(second.feed(std::string_view(kThreeEvents).substr(50)).has_value());
  expectThree(drain(second), "moved");
}

TEST(WatchDecoderTest, EventTypeNamesMatchTheApiserver) {
  EXPECT_EQ(toString(WatchEventType::Added), "ADDED");
  EXPECT_EQ(toString(WatchEventType::Modified), "MODIFIED");
  EXPECT_EQ(toString(WatchEventType::Deleted), "DELETED");
  EXPECT_EQ(toString(WatchEventType::Bookmark), "BOOKMARK");
  EXPECT_EQ(toString(WatchEventType::Error), "ERROR");
}

}  // namespace
}  // namespace mc::kube
