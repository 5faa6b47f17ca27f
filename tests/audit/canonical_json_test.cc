#include "mc/audit/canonical_json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <cstring>

namespace mc::audit {
namespace {

std::string canonical(std::string_view text) {
  auto out = canonicalJson(boost::json::parse(text));
  EXPECT_TRUE(out) << out.error().describe();
  return out ? *out : "";
}

// RFC 8785 section 3.2.4's example, input and output as the RFC prints them.
TEST(CanonicalJson, MatchesTheRfcExample) {
  const char* input = R"json({
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  })json";
  auto value = boost::json::parse(input);
  // Boost.JSON 1.81 reads this 17-digit decimal one ulp off (its parser trades exactness for
  // speed; 1.83 adds a precise mode); strtod reads it exactly. MC's records hold no doubles.
  value.at("numbers").as_array()[0] = std::strtod("333333333.33333329", nullptr);
  auto out = canonicalJson(value);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out,
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
            "\"string\":\"\xE2\x82\xAC$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

// RFC 8785 section 3.2.3: members sort by UTF-16 code units, so U+1F600 (a surrogate pair)
// comes before U+FB33, though its UTF-8 bytes sort after.
TEST(CanonicalJson, SortsMembersByUtf16CodeUnits) {
  const char* input =
      R"json({"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One", "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"})json";
  std::string out = canonical(input);
  std::vector<size_t> at;
  for (const char* value :
       {"Carriage Return", "One", "Control", "Latin Small", "Euro Sign", "Emoji", "Hebrew"}) {
    at.push_back(out.find(value));
    ASSERT_NE(at.back(), std::string::npos) << value;
  }
  EXPECT_TRUE(std::is_sorted(at.begin(), at.end())) << out;
}

// Appendix B of RFC 8785: IEEE 754 values and the strings ECMAScript writes for them.
TEST(CanonicalJson, WritesNumbersAsEcmaScriptDoes) {
  struct Case {
    uint64_t bits;
    const char* text;
  };
  for (auto [bits, text] : std::vector<Case>{
           {0x0000000000000000, "0"},
           {0x8000000000000000, "0"},
           {0x0000000000000001, "5e-324"},
           {0x8000000000000001, "-5e-324"},
           {0x7fefffffffffffff, "1.7976931348623157e+308"},
           {0xffefffffffffffff, "-1.7976931348623157e+308"},
           {0x4340000000000000, "9007199254740992"},
           {0xc340000000000000, "-9007199254740992"},
           {0x4430000000000000, "295147905179352830000"},
           {0x44b52d02c7e14af5, "9.999999999999997e+22"},
           {0x44b52d02c7e14af6, "1e+23"},
           {0x44b52d02c7e14af7, "1.0000000000000001e+23"},
           {0x444b1ae4d6e2ef4e, "999999999999999700000"},
           {0x444b1ae4d6e2ef4f, "999999999999999900000"},
           {0x444b1ae4d6e2ef50, "1e+21"},
           {0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"},
           {0x3eb0c6f7a0b5ed8d, "0.000001"},
           {0x41b3de4355555553, "333333333.3333332"},
           {0x41b3de4355555554, "333333333.33333325"},
           {0x41b3de4355555555, "333333333.3333333"},
           {0x41b3de4355555556, "333333333.3333334"},
           {0x41b3de4355555557, "333333333.33333343"},
           {0xbecbf647612f3696, "-0.0000033333333333333333"},
           {0x43143ff3c1cb0959, "1424953923781206.2"},
       }) {
    double value;
    std::memcpy(&value, &bits, sizeof value);
    EXPECT_EQ(ecmaNumber(value), text) << std::hex << bits;
  }
}

TEST(CanonicalJson, WritesIntegersExactlyAndRefusesThoseNoDoubleHolds) {
  EXPECT_EQ(canonical(R"({"seq": 42, "neg": -7, "big": 9007199254740992})"),
            R"({"big":9007199254740992,"neg":-7,"seq":42})");
  auto tooBig = canonicalJson(boost::json::value(int64_t{9007199254740993}));
  ASSERT_FALSE(tooBig);
  EXPECT_EQ(tooBig.error().kind, ErrorKind::Invalid);
  EXPECT_NE(tooBig.error().message.find("string"), std::string::npos);
}

TEST(CanonicalJson, EscapesOnlyWhatJsonMust) {
  EXPECT_EQ(canonical(R"(["\u0001\b\t\n\f\r\u001f", "é ✓ /", "a\"b\\c"])"),
            "[\"\\u0001\\b\\t\\n\\f\\r\\u001f\",\"\xC3\xA9 \xE2\x9C\x93 /\",\"a\\\"b\\\\c\"]");
}

TEST(CanonicalJson, KeepsArrayOrderAndNestsObjects) {
  EXPECT_EQ(canonical(R"({"b": [3, {"z": 1, "a": [true]}], "a": {}})"),
            R"({"a":{},"b":[3,{"a":[true],"z":1}]})");
}

}  // namespace
}  // namespace mc::audit
