// RFC 8785 by hand: Boost.JSON's serializer neither sorts members nor writes numbers as
// ECMAScript does, and the bytes must be the same as any other JCS implementation's.
#include "mc/audit/canonical_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <vector>

namespace mc::audit {
namespace {

namespace json = boost::json;

// The UTF-16 code units of a UTF-8 string, the order RFC 8785 sorts member names by (it differs
// from the bytes' order for characters above U+FFFF against U+E000..U+FFFF).
std::u16string utf16(std::string_view utf8) {
  std::u16string out;
  for (size_t i = 0; i < utf8.size();) {
    auto byte = static_cast<unsigned char>(utf8[i]);
    int length = byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4;
    char32_t point = length == 1   ? byte
                     : length == 2 ? byte & 0x1F
                     : length == 3 ? byte & 0x0F
                                   : byte & 0x07;
    for (int k = 1; k < length && i + k < utf8.size(); ++k) {
      point = (point << 6) | (static_cast<unsigned char>(utf8[i + k]) & 0x3F);
    }
    i += length;
    if (point >= 0x10000) {
      point -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (point >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (point & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(point));
    }
  }
  return out;
}

void writeString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20) {
          out += fmt::format("\\u{:04x}", byte);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

constexpr int64_t kExactIntegers = int64_t{1} << 53;  // beyond 2^53 a double skips integers

Result<void> write(std::string& out, const json::value& value);

Result<void> writeNumber(std::string& out, const json::value& value) {
  double number = 0;
  if (value.is_int64()) {
    number = static_cast<double>(value.as_int64());
    if (value.as_int64() > kExactIntegers || value.as_int64() < -kExactIntegers) {
      return makeError(ErrorKind::Invalid,
                       fmt::format("{} is beyond the integers a JSON number holds exactly; "
                                   "write it as a string",
                                   value.as_int64()));
    }
  } else if (value.is_uint64()) {
    number = static_cast<double>(value.as_uint64());
    if (value.as_uint64() > static_cast<uint64_t>(kExactIntegers)) {
      return makeError(ErrorKind::Invalid,
                       fmt::format("{} is beyond the integers a JSON number holds exactly; "
                                   "write it as a string",
                                   value.as_uint64()));
    }
  } else {
    number = value.as_double();
    if (!std::isfinite(number)) {
      return makeError(ErrorKind::Invalid, "a JSON number must be finite");
    }
  }
  out += ecmaNumber(number);
  return Result<void>();
}

Result<void> writeObject(std::string& out, const json::object& object) {
  std::vector<std::pair<std::u16string, const json::key_value_pair*>> members;
  members.reserve(object.size());
  for (const auto& member : object) {
    members.emplace_back(utf16(member.key()), &member);
  }
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  out.push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out.push_back(',');
    writeString(out, members[i].second->key());
    out.push_back(':');
    auto written = write(out, members[i].second->value());
    if (!written) return written;
  }
  out.push_back('}');
  return Result<void>();
}

Result<void> write(std::string& out, const json::value& value) {
  switch (value.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += value.as_bool() ? "true" : "false";
      break;
    case json::kind::string:
      writeString(out, value.as_string());
      break;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return writeNumber(out, value);
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        auto written = write(out, element);
        if (!written) return written;
      }
      out.push_back(']');
      break;
    }
    case json::kind::object:
      return writeObject(out, value.as_object());
  }
  return Result<void>();
}

}  // namespace

std::string ecmaNumber(double value) {
  if (value == 0) {
    return "0";  // -0 too
  }
  // The shortest digits that round-trip, as "d.ddde+XX": to_chars's shortest form is the same
  // digit string ECMAScript's algorithm picks.
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, std::abs(value), std::chars_format::scientific);
  std::string_view text(buffer, static_cast<size_t>(end - buffer));
  auto e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(),
                  exponent);
  // ECMAScript's n: the value is 0.digits x 10^n.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  std::string out = value < 0 ? "-" : "";
  if (k <= n && n <= 21) {
    out += digits + std::string(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n)) + "." + digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0." + std::string(static_cast<size_t>(-n), '0') + digits;
  } else {
    out += digits.substr(0, 1);
    if (k > 1) out += "." + digits.substr(1);
    out += fmt::format("e{}{}", n - 1 >= 0 ? "+" : "-", std::abs(n - 1));
  }
  return out;
}

Result<std::string> canonicalJson(const json::value& value) {
  std::string out;
  auto written = write(out, value);
  if (!written) {
    return written.error();
  }
  return out;
}

}  // namespace mc::audit
