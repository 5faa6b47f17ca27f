#include "mc/runtime/hash.h"

#include <openssl/evp.h>

namespace mc::kube {
namespace {

std::string hexDigest(const EVP_MD* md, std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, md, nullptr) != 1) {
    return {};
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(length * 2);
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 0xf];
  }
  return hex;
}

}  // namespace

std::string sha256Hex(std::string_view bytes) { return hexDigest(EVP_sha256(), bytes); }

std::string sha512Hex(std::string_view bytes) { return hexDigest(EVP_sha512(), bytes); }

}  // namespace mc::kube
