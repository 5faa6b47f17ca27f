#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "mc/common/error.h"

namespace mc::kube {

// Standard base64 (as in kubeconfig *-data fields and a Secret's data), line breaks allowed;
// nullopt if it is not base64.
std::optional<std::string> base64Decode(std::string_view encoded);
std::string base64Encode(std::string_view bytes);

// The decoded value of `key` in a Secret's `data`; nullopt when the key is absent, Invalid when
// it is not base64. The value is a credential: callers never log it.
Result<std::optional<std::string>> secretValue(const boost::json::object& secret,
                                               std::string_view key);

}  // namespace mc::kube
