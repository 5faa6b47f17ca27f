#include "mc/signing/auth_challenge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace mc::signing {
namespace {

using ::testing::HasSubstr;

TEST(ParseAuthChallenge, ReadsDockerHubsBearerChallenge) {
  auto challenge = parseAuthChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
      R"(scope="repository:library/nginx:pull")");
  ASSERT_TRUE(challenge) << challenge.error().describe();
  EXPECT_EQ(challenge->scheme, AuthScheme::Bearer);
  EXPECT_EQ(challenge->realm(), "https://auth.docker.io/token");
  EXPECT_EQ(challenge->service(), "registry.docker.io");
  EXPECT_EQ(challenge->scope(), "repository:library/nginx:pull");
}

TEST(ParseAuthChallenge, KeepsCommasAndEscapesInsideQuotes) {
  auto challenge = parseAuthChallenge(R"(bearer Realm = "https://r.example/token?a=1,b=2" , )"
                                      R"(scope="repository:a/b:pull,push", error="say \"hi\"")");
  ASSERT_TRUE(challenge) << challenge.error().describe();
  EXPECT_EQ(challenge->scheme, AuthScheme::Bearer);
  EXPECT_EQ(challenge->schemeName, "bearer");
  EXPECT_EQ(challenge->realm(), "https://r.example/token?a=1,b=2");
  EXPECT_EQ(challenge->scope(), "repository:a/b:pull,push");
  EXPECT_EQ(challenge->param("ERROR"), R"(say "hi")");
  EXPECT_EQ(challenge->service(), "");
}

TEST(ParseAuthChallenges, ReadsSeveralChallengesAndPrefersBearer) {
  const std::string header = R"(Basic realm="Registry Realm", Negotiate, Other abc/def==, )"
                             R"(Bearer realm="https://t.example/token",service=registry)";
  auto all = parseAuthChallenges(header);
  ASSERT_TRUE(all) << all.error().describe();
  ASSERT_EQ(all->size(), 4u);
  EXPECT_EQ((*all)[0].scheme, AuthScheme::Basic);
  EXPECT_EQ((*all)[0].realm(), "Registry Realm");
  EXPECT_EQ((*all)[1].schemeName, "Negotiate");
  EXPECT_EQ((*all)[2].token68, "abc/def==");
  EXPECT_EQ((*all)[3].service(), "registry");

  auto chosen = parseAuthChallenge(header);
  ASSERT_TRUE(chosen);
  EXPECT_EQ(chosen->scheme, AuthScheme::Bearer);
  auto basic = parseAuthChallenge(R"(Basic realm="x")");
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->scheme, AuthScheme::Basic);
  EXPECT_EQ(parseAuthChallenge("BASIC")->scheme, AuthScheme::Basic);
}

TEST(ParseAuthChallenge, RefusesMalformedHeaders) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"", "empty"},
      {"  ,  ", "empty"},
      {R"(Bearer realm="https://a/token)", "not closed"},
      {R"(Bearer realm="https://a/token\)", "not closed"},
      {R"(Bearer realm=)", "realm"},
      {R"(Bearer service="x")", "realm"},
      {R"(Bearer realm="a" service="b")", "expected ','"},
      {R"(Bearer realm="a", realm="b")", "twice"},
      {R"(Bearer realm="a", ="b")", "expected an authentication scheme"},
      {R"(Bearer ="a")", "parameter name"},
      {R"(Bearer realm "a")", "expected '='"},
      {R"(Bearer service=x, realm=)", "no value"},
      {R"("Bearer" realm="a")", "authentication scheme"},
      {R"(Negotiate abc)", "neither Bearer nor Basic"},
      {R"(Bearer@ realm="a")", "space after the scheme"},
  };
  for (const auto& [header, problem] : cases) {
    auto challenge = parseAuthChallenge(header);
    ASSERT_FALSE(challenge) << header;
    EXPECT_EQ(challenge.error().kind, ErrorKind::Invalid) << header;
    EXPECT_THAT(challenge.error().message, HasSubstr(problem)) << header;
  }
}

TEST(TokenRequestUrl, AddsServiceAndScopeToTheRealm) {
  auto hub = parseAuthChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io")");
  ASSERT_TRUE(hub);
  auto url = tokenRequestUrl(*hub, "library/nginx");
  ASSERT_TRUE(url) << url.error().describe();
  EXPECT_EQ(*url,
            "https://auth.docker.io/token?service=registry.docker.io&scope=repository:library/"
            "nginx:pull");

  // A realm with its own query keeps it; a service with spaces is encoded; the challenge's own
  // scope, when it names something else, is asked for too.
  auto other = parseAuthChallenge(
      R"(Bearer realm="http://127.0.0.1:5001/auth?x=1#frag",service="my registry",)"
      R"(scope="registry:catalog:*")");
  ASSERT_TRUE(other);
  auto withQuery = tokenRequestUrl(*other, "team/app", "pull,push");
  ASSERT_TRUE(withQuery) << withQuery.error().describe();
  EXPECT_EQ(*withQuery,
            "http://127.0.0.1:5001/auth?x=1&service=my%20registry&scope=repository:team/app:"
            "pull,push&scope=registry:catalog:*");

  auto same =
      parseAuthChallenge(R"(Bearer realm="https://a.example/t",scope="repository:team/app:pull")");
  EXPECT_EQ(*tokenRequestUrl(*same, "team/app"),
            "https://a.example/t?scope=repository:team/app:pull");
}

TEST(TokenRequestUrl, RefusesARealmThatIsNotAnHttpUrl) {
  for (const char* realm : {"/token", "ftp://a.example/token", "not a url", "https://"}) {
    AuthChallenge challenge;
    challenge.scheme = AuthScheme::Bearer;
    challenge.params["realm"] = realm;
    auto url = tokenRequestUrl(challenge, "a/b");
    ASSERT_FALSE(url) << realm;
    EXPECT_EQ(url.error().field, "realm") << realm;
  }
}

}  // namespace
}  // namespace mc::signing
