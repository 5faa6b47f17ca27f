#pragma once

#include <algorithm>
#include <string>
#include <string_view>

namespace mc {

// `text` with ASCII letters lower-cased (host names, media types, header names: the
// case-insensitive names of protocols, never locale-dependent).
inline std::string asciiLower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

}  // namespace mc
