#pragma once

#include <boost/json/fwd.hpp>
#include <string>

#include "mc/common/error.h"

namespace mc::audit {

// `value` in the JSON Canonicalization Scheme (RFC 8785): object members sorted by their names'
// UTF-16 code units, no whitespace, strings escaped only where JSON must be (", \ and control
// characters, the short forms where JSON has them), numbers as ECMAScript writes a double. The
// same value always gives the same bytes, whoever wrote it, which is what a hash over it needs.
// Invalid for a number no double holds exactly (an integer beyond 2^53) or not finite.
Result<std::string> canonicalJson(const boost::json::value& value);

// A double as ECMAScript's Number.prototype.toString writes it (RFC 8785 section 3.2.2.3):
// the shortest digits that read back the same, "1e+21" from 10^21 up and "1e-7" below 10^-6.
std::string ecmaNumber(double value);

}  // namespace mc::audit
