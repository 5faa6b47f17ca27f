#include "mc/runtime/secret.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include "mc/common/json.h"

namespace mc::kube {

std::optional<std::string> base64Decode(std::string_view encoded) {
  std::string compact;
  for (char c : encoded) {
    if (c != '\n' && c != '\r' && c != ' ') {
      compact.push_back(c);
    }
  }
  if (compact.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(compact.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(compact.data()),
                          static_cast<int>(compact.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the padding as zero bytes; drop them.
  size_t padding = 0;
  if (!compact.empty() && compact.back() == '=') {
    padding = (compact.size() >= 2 && compact[compact.size() - 2] == '=') ? 2 : 1;
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::optional<std::string>> secretValue(const boost::json::object& secret,
                                               std::string_view key) {
  const auto* data = objectAt(secret, "data");
  if (data == nullptr || !data->contains(key)) {
    return std::optional<std::string>();
  }
  const auto* encoded = data->at(key).if_string();
  auto decoded = encoded ? base64Decode(*encoded) : std::nullopt;
  if (!decoded) {
    return fieldError(fmt::format("data.{}", key), "not valid base64");
  }
  return decoded;
}

}  // namespace mc::kube
