#include "mc/signing/image_reference.h"

#include <fmt/format.h>

#include <algorithm>

#include "mc/common/text.h"
#include "mc/signing/digest.h"

namespace mc::signing {
namespace {

// distribution/reference's limit on a whole name (registry and repository).
constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool isLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool isWordChar(char c) { return isAlnum(c) || c == '_'; }

Error invalid(std::string_view text, std::string_view problem) {
  return makeError(ErrorKind::Invalid, fmt::format("image reference \"{}\": {}", text, problem));
}

// One path component: [a-z0-9]+ joined by '.', '_', '__' or one or more '-'.
bool isPathComponent(std::string_view part) {
  if (part.empty() || !isLowerAlnum(part.front()) || !isLowerAlnum(part.back())) {
    return false;
  }
  for (size_t i = 0; i < part.size();) {
    if (isLowerAlnum(part[i])) {
      ++i;
      continue;
    }
    size_t run = i;
    while (run < part.size() && !isLowerAlnum(part[run])) {
      ++run;
    }
    auto separator = part.substr(i, run - i);
    bool dashes = std::all_of(separator.begin(), separator.end(), [](char c) { return c == '-'; });
    if (separator != "." && separator != "_" && separator != "__" && !dashes) {
      return false;
    }
    i = run;
  }
  return true;
}

// A DNS-ish label: alphanumerics and inner dashes.
bool isDomainComponent(std::string_view part) {
  if (part.empty() || !isAlnum(part.front()) || !isAlnum(part.back())) {
    return false;
  }
  return std::all_of(part.begin(), part.end(), [](char c) { return isAlnum(c) || c == '-'; });
}

// host[:port], the host a dotted name or a bracketed IPv6 address.
bool isDomain(std::string_view domain) {
  std::string_view host = domain;
  std::string_view port;
  if (!domain.empty() && domain.front() == '[') {
    auto close = domain.find(']');
    if (close == std::string_view::npos || close < 3) {
      return false;
    }
    auto address = domain.substr(1, close - 1);
    bool hex = std::all_of(address.begin(), address.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':';
    });
    if (!hex || address.find(':') == std::string_view::npos) {
      return false;
    }
    auto rest = domain.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return false;
      }
      port = rest.substr(1);
      if (port.empty()) {
        return false;
      }
    }
  } else {
    auto colon = domain.find(':');
    if (colon != std::string_view::npos) {
      host = domain.substr(0, colon);
      port = domain.substr(colon + 1);
      if (port.empty()) {
        return false;
      }
    }
    size_t start = 0;
    while (true) {
      auto dot = host.find('.', start);
      if (!isDomainComponent(host.substr(start, dot - start))) {
        return false;
      }
      if (dot == std::string_view::npos) {
        break;
      }
      start = dot + 1;
    }
  }
  return std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool isTag(std::string_view tag) {
  return !tag.empty() && tag.size() <= kMaxTagLength && isWordChar(tag.front()) &&
         std::all_of(tag.begin(), tag.end(),
                     [](char c) { return isWordChar(c) || c == '.' || c == '-'; });
}

// Whether the first component of a name is a registry (Docker's splitDockerDomain).
bool isRegistryComponent(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" ||
         std::any_of(first.begin(), first.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

std::string canonicalRegistry(std::string_view domain) {
  std::string lower = asciiLower(domain);
  std::string out = lower;
  if (out.size() > 4 && out.ends_with(":443")) {
    out.resize(out.size() - 4);
  }
  if (out == kDockerHubApiHost || out == "registry-1.docker.io") {
    return std::string(kDockerHub);
  }
  if (isRegistryComponent(out)) {
    return out;
  }
  if (std::none_of(out.begin(), out.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    return lower;  // "12:443": no letter to write in upper case, so the port stays
  }
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

Result<ImageReference> ImageReference::parse(std::string_view text) {
  if (text.empty()) {
    return makeError(ErrorKind::Invalid, "image reference is empty");
  }
  ImageReference ref;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto digest = rest.substr(at + 1);
    if (auto valid = checkSha256Digest(digest); !valid) {
      return invalid(text, valid.error().message);
    }
    ref.digest_ = std::string(digest);
    rest = rest.substr(0, at);
  }
  // A tag follows the last ':' after the last '/' (a ':' before it is a registry's port).
  auto slash = rest.rfind('/');
  auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    auto tag = rest.substr(colon + 1);
    if (!isTag(tag)) {
      return invalid(text, fmt::format("tag \"{}\" is not valid (up to 128 of A-Z a-z 0-9 _ . -, "
                                       "not starting with . or -)",
                                       tag));
    }
    ref.tag_ = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) {
    return invalid(text, "no repository");
  }
  std::string_view path = rest;
  auto firstSlash = rest.find('/');
  if (firstSlash != std::string_view::npos && isRegistryComponent(rest.substr(0, firstSlash))) {
    auto domain = rest.substr(0, firstSlash);
    if (!isDomain(domain)) {
      return invalid(text, fmt::format("registry \"{}\" is not a host[:port]", domain));
    }
    ref.registry_ = canonicalRegistry(domain);
    path = rest.substr(firstSlash + 1);
  } else {
    ref.registry_ = std::string(kDockerHub);
  }
  if (path.empty()) {
    return invalid(text, "no repository after the registry");
  }
  if (std::any_of(path.begin(), path.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    return invalid(text, "repository name must be lowercase");
  }
  size_t start = 0;
  while (true) {
    auto end = path.find('/', start);
    auto part = path.substr(start, end - start);
    if (!isPathComponent(part)) {
      return invalid(text, fmt::format("repository component \"{}\" is not valid (lower-case "
                                       "letters and digits joined by . _ __ or -)",
                                       part));
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + 1;
  }
  ref.repository_ = std::string(path);
  if (ref.registry_ == kDockerHub && path.find('/') == std::string_view::npos) {
    ref.repository_ = fmt::format("library/{}", path);
  }
  if (ref.name().size() > kMaxNameLength) {
    return invalid(text, fmt::format("name is longer than {} characters", kMaxNameLength));
  }
  return ref;
}

std::string ImageReference::apiHost() const {
  return registry_ == kDockerHub ? std::string(kDockerHubApiHost) : registry_;
}

std::string ImageReference::name() const { return fmt::format("{}/{}", registry_, repository_); }

std::optional<std::string> ImageReference::pinned() const {
  if (digest_.empty()) {
    return std::nullopt;
  }
  return fmt::format("{}@{}", name(), digest_);
}

Result<ImageReference> ImageReference::withDigest(std::string_view digest) const {
  if (auto valid = checkSha256Digest(digest); !valid) {
    return valid.error();
  }
  ImageReference copy = *this;
  copy.digest_ = std::string(digest);
  return copy;
}

std::string ImageReference::str() const {
  std::string out = name();
  if (!tag_.empty()) {
    out += ':';
    out += tag_;
  }
  if (!digest_.empty()) {
    out += '@';
    out += digest_;
  }
  return out;
}

}  // namespace mc::signing
