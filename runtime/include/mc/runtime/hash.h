#pragma once

#include <string>
#include <string_view>

// Digests as lower-case hex, the one home for them: the audit chain's record hashes and the
// signing folder's image digests both stand on these.
namespace mc::kube {

std::string sha256Hex(std::string_view bytes);
std::string sha512Hex(std::string_view bytes);

}  // namespace mc::kube
