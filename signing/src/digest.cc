#include "mc/signing/digest.h"

#include <fmt/format.h>

#include <algorithm>

#include "mc/runtime/hash.h"

namespace mc::signing {
namespace {

bool isLowerHex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Digests are short and made of ASCII; a bad one is shown whole unless it is long.
std::string shown(std::string_view digest) {
  if (digest.size() > 80) {
    return fmt::format("\"{}...\"", digest.substr(0, 80));
  }
  return fmt::format("\"{}\"", digest);
}

// The digest of `bytes` by the algorithm `expected` names (already checked).
std::string digestLike(std::string_view bytes, std::string_view expected) {
  if (expected.substr(0, kSha512.size()) == kSha512) {
    return fmt::format("sha512:{}", kube::sha512Hex(bytes));
  }
  return digestOf(bytes);
}

}  // namespace

Result<void> checkDigest(std::string_view digest, std::string field) {
  auto colon = digest.find(':');
  if (colon == std::string_view::npos) {
    return fieldError(std::move(field),
                      fmt::format("{} is not a digest (want sha256:<64 hex>)", shown(digest)));
  }
  auto algorithm = digest.substr(0, colon);
  auto hex = digest.substr(colon + 1);
  size_t want = 0;
  if (algorithm == kSha256) {
    want = 64;
  } else if (algorithm == kSha512) {
    want = 128;
  } else {
    return fieldError(std::move(field),
                      fmt::format("{}: digest algorithm \"{}\" is not supported (sha256, sha512)",
                                  shown(digest), algorithm));
  }
  if (hex.size() != want || !isLowerHex(hex)) {
    return fieldError(std::move(field), fmt::format("{}: a {} digest is {} lower-case hex digits",
                                                    shown(digest), algorithm, want));
  }
  return {};
}

Result<void> checkSha256Digest(std::string_view digest, std::string field) {
  if (digest.substr(0, kSha256.size() + 1) != "sha256:") {
    return fieldError(
        std::move(field),
        fmt::format("{} is not a sha256 digest (want sha256:<64 hex>)", shown(digest)));
  }
  return checkDigest(digest, std::move(field));
}

std::string digestOf(std::string_view bytes) {
  return fmt::format("sha256:{}", kube::sha256Hex(bytes));
}

Result<void> verifyDigest(std::string_view bytes, std::string_view expected) {
  if (auto valid = checkDigest(expected); !valid) {
    return valid.error();
  }
  auto actual = digestLike(bytes, expected);
  if (actual != expected) {
    return makeError(ErrorKind::Terminal,
                     fmt::format("content digest mismatch: expected {}, the bytes read are {}",
                                 expected, actual));
  }
  return {};
}

Result<void> checkContentDigest(std::string_view body, std::string_view header) {
  if (header.empty()) {
    return {};
  }
  if (auto valid = checkDigest(header, "Docker-Content-Digest"); !valid) {
    return valid.error();
  }
  auto actual = digestLike(body, header);
  if (actual != header) {
    auto error = makeError(
        ErrorKind::Terminal,
        fmt::format("the registry's Docker-Content-Digest {} does not match the body it sent, "
                    "whose digest is {}",
                    header, actual));
    error.field = "Docker-Content-Digest";
    return error;
  }
  return {};
}

}  // namespace mc::signing
