#include "mc/signing/auth_challenge.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/url.hpp>
#include <cctype>
#include <cstring>

#include "mc/common/text.h"

namespace mc::signing {
namespace {

bool isTchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         (c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
}

bool isToken68Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
         (c != '\0' && std::strchr("-._~+/", c) != nullptr);
}

// A cursor over the header; every failure names the offset, so a person sees where it broke.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const { return atEnd() ? '\0' : text_[pos_]; }
  size_t pos() const { return pos_; }
  void seek(size_t pos) { pos_ = pos; }
  void skipSpaces() {
    while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  // Spaces and empty list elements (RFC 7230 lets lists hold them).
  void skipSeparators() {
    while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == ',')) {
      ++pos_;
    }
  }
  std::string_view token() {
    size_t start = pos_;
    while (!atEnd() && isTchar(text_[pos_])) {
      ++pos_;
    }
    return text_.substr(start, pos_ - start);
  }
  size_t skipWhile(bool (*accept)(char)) {
    size_t start = pos_;
    while (!atEnd() && accept(text_[pos_])) {
      ++pos_;
    }
    return pos_ - start;
  }
  Result<std::string> quoted() {
    size_t start = pos_;
    ++pos_;  // the opening quote
    std::string out;
    while (!atEnd()) {
      char c = text_[pos_++];
      if (c == '"') {
        return out;
      }
      if (c == '\\') {
        if (atEnd()) {
          break;
        }
        c = text_[pos_++];
      }
      out.push_back(c);
    }
    return fail(start, "a quoted string is not closed");
  }
  Error fail(size_t at, std::string_view problem) const {
    return makeError(
        ErrorKind::Invalid,
        fmt::format("WWW-Authenticate header is malformed at character {}: {}", at + 1, problem));
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// After a scheme: a token68, if what follows is one and then the end or a comma.
bool readToken68(Reader& reader, AuthChallenge& challenge, std::string_view header) {
  size_t start = reader.pos();
  if (reader.skipWhile(isToken68Char) == 0) {
    return false;
  }
  reader.skipWhile([](char c) { return c == '='; });
  size_t end = reader.pos();
  reader.skipSpaces();
  if (reader.atEnd() || reader.peek() == ',') {
    challenge.token68 = std::string(header.substr(start, end - start));
    return true;
  }
  reader.seek(start);
  return false;
}

// Whether the reader stands at `name=` (another parameter) rather than at a new scheme.
bool atParam(Reader& reader) {
  size_t start = reader.pos();
  bool param = !reader.token().empty();
  reader.skipSpaces();
  param = param && reader.peek() == '=';
  reader.seek(start);
  return param;
}

Result<void> readParams(Reader& reader, AuthChallenge& challenge) {
  while (true) {
    size_t at = reader.pos();
    auto name = reader.token();
    if (name.empty()) {
      return reader.fail(at, "expected a parameter name");
    }
    reader.skipSpaces();
    if (reader.peek() != '=') {
      return reader.fail(reader.pos(), fmt::format("expected '=' after \"{}\"", name));
    }
    reader.seek(reader.pos() + 1);
    reader.skipSpaces();
    std::string value;
    if (reader.peek() == '"') {
      auto quoted = reader.quoted();
      if (!quoted) {
        return quoted.error();
      }
      value = std::move(*quoted);
    } else {
      size_t valueAt = reader.pos();
      value = std::string(reader.token());
      if (value.empty()) {
        return reader.fail(valueAt, fmt::format("\"{}\" has no value", name));
      }
    }
    auto key = asciiLower(name);
    if (challenge.params.contains(key)) {
      return reader.fail(at, fmt::format("\"{}\" is given twice", key));
    }
    challenge.params.emplace(std::move(key), std::move(value));
    reader.skipSpaces();
    if (reader.atEnd()) {
      return {};
    }
    if (reader.peek() != ',') {
      return reader.fail(reader.pos(), "expected ',' between parameters");
    }
    reader.skipSeparators();
    if (reader.atEnd() || !atParam(reader)) {
      return {};  // the next challenge's scheme, or the end
    }
  }
}

}  // namespace

std::string AuthChallenge::param(std::string_view name) const {
  auto found = params.find(asciiLower(name));
  return found == params.end() ? std::string() : found->second;
}

Result<std::vector<AuthChallenge>> parseAuthChallenges(std::string_view header) {
  Reader reader(header);
  std::vector<AuthChallenge> challenges;
  reader.skipSeparators();
  if (reader.atEnd()) {
    return makeError(ErrorKind::Invalid, "WWW-Authenticate header is empty");
  }
  while (!reader.atEnd()) {
    size_t at = reader.pos();
    auto scheme = reader.token();
    if (scheme.empty()) {
      return reader.fail(at, "expected an authentication scheme");
    }
    AuthChallenge challenge;
    challenge.schemeName = std::string(scheme);
    auto name = asciiLower(scheme);
    challenge.scheme = name == "bearer"  ? AuthScheme::Bearer
                       : name == "basic" ? AuthScheme::Basic
                                         : AuthScheme::Other;
    size_t spaces = reader.skipWhile([](char c) { return c == ' ' || c == '\t'; });
    if (!reader.atEnd() && reader.peek() != ',') {
      if (spaces == 0) {
        return reader.fail(reader.pos(), "expected a space after the scheme");
      }
      if (!readToken68(reader, challenge, header)) {
        if (auto params = readParams(reader, challenge); !params) {
          return params.error();
        }
      }
    }
    if (challenge.scheme == AuthScheme::Bearer && challenge.realm().empty()) {
      auto error = reader.fail(at, "a Bearer challenge needs a realm");
      error.field = "realm";
      return error;
    }
    challenges.push_back(std::move(challenge));
    reader.skipSeparators();
  }
  return challenges;
}

Result<AuthChallenge> parseAuthChallenge(std::string_view header) {
  auto challenges = parseAuthChallenges(header);
  if (!challenges) {
    return challenges.error();
  }
  for (auto scheme : {AuthScheme::Bearer, AuthScheme::Basic}) {
    for (auto& challenge : *challenges) {
      if (challenge.scheme == scheme) {
        return std::move(challenge);
      }
    }
  }
  return makeError(ErrorKind::Invalid,
                   "WWW-Authenticate offers neither Bearer nor Basic authentication");
}

Result<std::string> tokenRequestUrl(const AuthChallenge& challenge, std::string_view repository,
                                    std::string_view actions) {
  auto realm = challenge.realm();
  auto parsed = boost::urls::parse_uri(realm);
  if (!parsed ||
      (parsed->scheme_id() != boost::urls::scheme::https &&
       parsed->scheme_id() != boost::urls::scheme::http) ||
      parsed->host().empty()) {
    auto error = makeError(ErrorKind::Invalid,
                           fmt::format("token realm \"{}\" is not an absolute http(s) URL", realm));
    error.field = "realm";
    return error;
  }
  boost::urls::url url(*parsed);
  url.remove_fragment();
  auto service = challenge.service();
  if (!service.empty()) {
    url.params().append({"service", service});
  }
  auto scope = fmt::format("repository:{}:{}", repository, actions);
  url.params().append({"scope", scope});
  if (auto own = challenge.scope(); !own.empty() && own != scope) {
    url.params().append({"scope", own});
  }
  return std::string(url.buffer());
}

}  // namespace mc::signing
