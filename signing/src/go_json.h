#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "mc/common/error.h"

// Reading JSON that Go programs wrote and Go programs read (cosign's payloads, DSSE envelopes,
// in-toto statements) the way Go's encoding/json reads it into a struct: keys matched ignoring
// case, absent and null alike. Private to signing/src.
namespace mc::signing::gojson {

// The member of `object` whose key equals `key` ignoring case, as encoding/json finds a struct
// field; nullptr when none. Two such members are ambiguous: Go would take the last, a reader
// that sees the first would see another document, so MC takes neither (Invalid, naming `field`).
Result<const boost::json::value*> member(const boost::json::object& object, std::string_view key,
                                         std::string_view field);

// A required object member: Invalid naming `field` when absent, null or not an object.
Result<const boost::json::object*> objectMember(const boost::json::object& object,
                                                std::string_view key, std::string_view field);

// A string member; empty when absent or null (Go leaves the field empty), Invalid when another
// type.
Result<std::string> stringMember(const boost::json::object& object, std::string_view key,
                                 std::string_view field);

// An array member; nullptr when absent or null, Invalid when another type.
Result<const boost::json::array*> arrayMember(const boost::json::object& object,
                                              std::string_view key, std::string_view field);

// `bytes` parsed as one JSON object; Invalid ("<what> is not JSON: …") otherwise.
Result<boost::json::object> parseObject(std::string_view bytes, std::string_view what);

}  // namespace mc::signing::gojson
