#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"

// A registry's `WWW-Authenticate` answer to an unauthenticated request (RFC 7235), and the token
// request it asks for (the Docker registry token protocol, which OCI registries share).
namespace mc::signing {

enum class AuthScheme { Basic, Bearer, Other };

struct AuthChallenge {
  AuthScheme scheme = AuthScheme::Other;
  std::string schemeName;  // as written ("Bearer", "Negotiate")
  // Parameter names lower-cased (they are case-insensitive), values unquoted.
  std::map<std::string, std::string> params;
  std::string token68;  // a scheme's single token instead of parameters (rare)

  std::string param(std::string_view name) const;
  std::string realm() const { return param("realm"); }
  std::string service() const { return param("service"); }
  std::string scope() const { return param("scope"); }
};

// Every challenge of a header (`Basic realm="x", Bearer realm="y",service="z"`), quoted strings
// holding commas and escaped quotes. Invalid, saying where, for a malformed header, and for a
// Bearer challenge without a realm.
Result<std::vector<AuthChallenge>> parseAuthChallenges(std::string_view header);
// The challenge MC answers: Bearer when offered, else Basic. Invalid when the header is
// malformed or offers neither.
Result<AuthChallenge> parseAuthChallenge(std::string_view header);

// The token request a Bearer challenge asks for: realm?service=<service>&scope=repository:
// <repository>:<actions>, with the challenge's own scope added when it names another. Invalid
// when the realm is not an absolute http(s) URL.
Result<std::string> tokenRequestUrl(const AuthChallenge& challenge, std::string_view repository,
                                    std::string_view actions = "pull");

}  // namespace mc::signing
