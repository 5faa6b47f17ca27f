#include "mc/signing/registry_client.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <map>
#include <utility>

#include "mc/runtime/hash.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/secret.h"
#include "mc/signing/auth_challenge.h"
#include "mc/signing/digest.h"

namespace mc::signing {
namespace {

namespace asio = boost::asio;

// Docker's default when a token server does not say how long its token lives.
constexpr std::chrono::seconds kDefaultTokenLifetime{60};
// A token server's answer is a small JSON object.
constexpr uint64_t kMaxTokenAnswerBytes = 1 << 20;
// A registry's error text is quoted in messages; a hostile one must not fill them.
constexpr size_t kMaxErrorDetail = 300;

bool isRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string stringField(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr || !value->is_string()) {
    return {};
  }
  return std::string(value->as_string());
}

// What a registry said in distribution's error body ({"errors": [{"code", "message"}]}), or a
// token server in Docker's ({"details": "..."}): "DENIED: requested access to the resource is
// denied". Empty when the body says nothing MC can read. Only these fields are quoted, never the
// body itself: a token server's body may hold a token.
std::string registryErrors(std::string_view body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) {
    return {};
  }
  const auto& object = value.as_object();
  std::string out;
  if (const auto* errors = object.if_contains("errors"); errors != nullptr && errors->is_array()) {
    for (const auto& entry : errors->as_array()) {
      if (!entry.is_object()) {
        continue;
      }
      std::string code = stringField(entry.as_object(), "code");
      std::string message = stringField(entry.as_object(), "message");
      std::string part = code.empty() || message.empty() ? code + message : code + ": " + message;
      if (!part.empty()) {
        out += (out.empty() ? "" : "; ") + part;
      }
    }
  }
  if (out.empty()) {
    out = stringField(object, "details");
  }
  if (out.size() > kMaxErrorDetail) {
    out.resize(kMaxErrorDetail);
    out += "...";
  }
  return out;
}

bool hasPassword(const std::optional<RegistryCredentials>& credentials) {
  return credentials && (!credentials->username.empty() || !credentials->password.empty());
}

std::string basicAuthorization(const RegistryCredentials& credentials) {
  return "Basic " + kube::base64Encode(credentials.username + ":" + credentials.password);
}

// Tokens are cached per credentials, so a token one pull Secret earned never answers for
// another's request to the same repository. The key holds a hash of them, not them.
std::string credentialKey(const std::optional<RegistryCredentials>& credentials) {
  if (!credentials || credentials->anonymous()) {
    return "anonymous";
  }
  std::string all = credentials->username;
  for (const std::string* part :
       {&credentials->password, &credentials->identityToken, &credentials->registryToken}) {
    all += '\0';
    all += *part;
  }
  return kube::sha256Hex(all);
}

Error within(Error error, std::string_view what) {
  error.message = fmt::format("{}: {}", what, error.message);
  return error;
}

// A transport failure, kind kept (Transient, Timeout, Terminal for TLS). A redirect's target may
// carry a presigned URL's signature in its query, a credential for the blob: the query is cut
// from the message.
Error unreachable(Error error, std::string_view what, std::string_view host,
                  std::string_view target) {
  if (auto query = target.find('?'); query != std::string_view::npos) {
    for (auto at = error.message.find(target); at != std::string::npos;
         at = error.message.find(target, at)) {
      error.message.replace(at, target.size(), target.substr(0, query));
    }
  }
  // HttpClient's messages name the host they failed to reach; others get it added.
  if (error.message.find(host) == std::string::npos) {
    error.message = fmt::format("{}: {}: {}", what, host, error.message);
  } else {
    error.message = fmt::format("{}: {}", what, error.message);
  }
  return error;
}

struct Token {
  std::string token;
  std::chrono::seconds lifetime{kDefaultTokenLifetime};
};

Result<Token> readToken(std::string_view body) {
  boost::system::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorKind::Terminal, "its answer is not a JSON object");
  }
  const auto& object = value.as_object();
  Token out;
  out.token = stringField(object, "token");
  if (out.token.empty()) {
    out.token = stringField(object, "access_token");
  }
  if (out.token.empty()) {
    return makeError(ErrorKind::Terminal, "its answer holds no token or access_token");
  }
  if (const auto* expires = object.if_contains("expires_in"); expires != nullptr) {
    if (expires->is_int64() && expires->as_int64() > 0) {
      out.lifetime = std::chrono::seconds(expires->as_int64());
    } else if (expires->is_uint64() && expires->as_uint64() > 0) {
      out.lifetime = std::chrono::seconds(static_cast<int64_t>(expires->as_uint64()));
    } else if (expires->is_double() && expires->as_double() >= 1) {
      out.lifetime = std::chrono::seconds(static_cast<int64_t>(expires->as_double()));
    }
  }
  return out;
}

}  // namespace

struct HttpRegistryClient::Impl {
  // One request to the registry, as each step of its journey needs it.
  struct Call {
    ImageReference ref;
    std::optional<RegistryCredentials> credentials;
    std::string target;  // "/v2/<repository>/manifests/<reference>"
    std::string accept;
    uint64_t maxBytes = 0;
    std::string what;  // "manifest 127.0.0.1:5000/mc/app:v1", the start of every message
  };

  // A response, and where it came from after redirects.
  struct Answer {
    http::Response response;
    std::string host;
    bool atRegistry = true;
  };

  struct CachedToken {
    std::string token;
    Clock::TimePoint expires;
  };

  asio::any_io_executor executor;
  HttpRegistryOptions options;
  const Clock& clock;
  std::map<std::string, http::HttpClientPtr, std::less<>> clients;  // by origin
  std::map<std::string, CachedToken, std::less<>> tokens;  // by host, scope and credentials

  Impl(asio::any_io_executor executor, HttpRegistryOptions options, const Clock& clock)
      : executor(std::move(executor)), options(std::move(options)), clock(clock) {}

  bool insecure(std::string_view host) const { return options.insecureHosts.contains(host); }

  std::string registryOrigin(const ImageReference& ref) const {
    bool plain = insecure(ref.registry()) || insecure(ref.apiHost());
    return fmt::format("{}://{}", plain ? "http" : "https", ref.apiHost());
  }

  Result<http::HttpClient*> clientFor(const std::string& origin) {
    if (auto found = clients.find(origin); found != clients.end()) {
      return found->second.get();
    }
    http::TlsOptions tls;
    tls.caPem = options.caPem;
    auto made = http::HttpClient::create(executor, origin, tls);
    if (!made) {
      return made.error();
    }
    auto* client = made->get();
    clients.emplace(origin, std::move(*made));
    return client;
  }

  static std::string tokenKey(const Call& call) {
    return fmt::format("{}\n{}\n{}", call.ref.apiHost(), call.ref.repository(),
                       credentialKey(call.credentials));
  }

  std::string cachedAuthorization(const Call& call) {
    auto found = tokens.find(tokenKey(call));
    if (found == tokens.end()) {
      return {};
    }
    if (clock.now() >= found->second.expires) {
      tokens.erase(found);
      return {};
    }
    return "Bearer " + found->second.token;
  }

  void cacheToken(const Call& call, Token token) {
    auto now = clock.now();
    std::erase_if(tokens, [now](const auto& entry) { return now >= entry.second.expires; });
    tokens[tokenKey(call)] = CachedToken{std::move(token.token), now + token.lifetime};
  }

  Result<void> checkScheme(const boost::urls::url_view_base& url, std::string_view what) const {
    std::string host(url.encoded_authority());
    if (url.scheme_id() == boost::urls::scheme::https ||
        (url.scheme_id() == boost::urls::scheme::http && insecure(host))) {
      return {};
    }
    return makeError(
        ErrorKind::Terminal,
        fmt::format("{} is {}, and {} is not an insecure host", what,
                    url.scheme_id() == boost::urls::scheme::http ? "plain HTTP" : "not HTTP(S)",
                    host));
  }

  // Sends `call` to its registry, following redirects; the Authorization header goes to the
  // registry's own origin only, never to the storage a blob is redirected to.
  asio::awaitable<Result<Answer>> sendFollowing(const Call& call, std::string authorization) {
    std::string registry = registryOrigin(call.ref);
    std::string origin = registry;
    std::string host = call.ref.apiHost();
    std::string target = call.target;
    bool atRegistry = true;
    for (int hop = 0;; ++hop) {
      auto client = clientFor(origin);
      if (!client) {
        co_return within(client.error(), call.what);
      }
      http::Request request;
      request.target = target;
      request.timeout = options.timeout;
      request.maxBodyBytes = call.maxBytes;
      if (!call.accept.empty()) {
        request.headers.emplace_back("Accept", call.accept);
      }
      if (atRegistry && !authorization.empty()) {
        request.headers.emplace_back("Authorization", authorization);
      }
      auto sent = co_await (*client)->send(std::move(request));
      if (!sent) {
        co_return unreachable(sent.error(), call.what, host, target);
      }
      std::string location = sent->header("Location");
      if (!isRedirect(sent->status) || location.empty()) {
        co_return Answer{std::move(*sent), host, atRegistry};
      }
      if (hop >= options.maxRedirects) {
        co_return makeError(
            ErrorKind::Terminal,
            fmt::format("{}: more than {} redirects", call.what, options.maxRedirects),
            sent->status);
      }
      const std::string current = origin + target;  // the views below point into it
      auto base = boost::urls::parse_uri(current);
      auto next = boost::urls::parse_uri_reference(location);
      boost::urls::url resolved;
      if (!base || !next || !boost::urls::resolve(*base, *next, resolved) ||
          !resolved.has_authority()) {
        co_return makeError(
            ErrorKind::Terminal,
            fmt::format("{}: {} redirected to a location that is not a URL", call.what, host),
            sent->status);
      }
      resolved.remove_fragment();
      auto scheme = checkScheme(resolved, fmt::format("{}: the redirect from {}", call.what, host));
      if (!scheme) {
        co_return scheme.error();
      }
      origin = fmt::format("{}://{}", resolved.scheme(), resolved.encoded_authority());
      host = std::string(resolved.encoded_authority());
      target = std::string(resolved.encoded_target());
      if (target.empty()) {
        target = "/";
      }
      atRegistry = atRegistry && origin == registry;
    }
  }

  // The Authorization that answers a registry's 401: a token from its token server for a Bearer
  // challenge, the credentials themselves for a Basic one.
  asio::awaitable<Result<std::string>> answerChallenge(const Call& call, std::string header) {
    const std::string host = call.ref.apiHost();
    if (header.empty()) {
      co_return makeError(ErrorKind::Unauthorized,
                          fmt::format("{}: registry {} answered 401 without a WWW-Authenticate "
                                      "challenge",
                                      call.what, host),
                          401);
    }
    auto challenge = parseAuthChallenge(header);
    if (!challenge) {
      auto error =
          within(challenge.error(), fmt::format("{}: registry {}'s challenge", call.what, host));
      error.kind = ErrorKind::Unauthorized;
      error.httpStatus = 401;
      co_return error;
    }
    const auto& credentials = call.credentials;
    if (challenge->scheme == AuthScheme::Basic) {
      if (!hasPassword(credentials)) {
        co_return makeError(ErrorKind::Unauthorized,
                            fmt::format("{}: registry {} asks for a username and password for "
                                        "repository {}, and the pull Secret gives none",
                                        call.what, host, call.ref.repository()),
                            401);
      }
      co_return basicAuthorization(*credentials);
    }
    if (credentials && !credentials->registryToken.empty()) {
      co_return "Bearer " + credentials->registryToken;
    }
    if (credentials && !credentials->identityToken.empty() && !hasPassword(credentials)) {
      // Docker exchanges an identity token as an OAuth2 refresh token (a POST to the realm);
      // MC does not yet, and an anonymous token would only hide why access is refused.
      co_return makeError(ErrorKind::Unauthorized,
                          fmt::format("{}: the pull Secret for {} holds an identity token, which "
                                      "MC cannot exchange yet; give a username and password",
                                      call.what, call.ref.registry()),
                          401);
    }
    auto url = tokenRequestUrl(*challenge, call.ref.repository(), "pull");
    if (!url) {
      co_return within(url.error(), fmt::format("{}: registry {}'s challenge", call.what, host));
    }
    auto parsed = boost::urls::parse_uri(*url);
    if (!parsed) {
      co_return makeError(
          ErrorKind::Terminal,
          fmt::format("{}: registry {}'s token realm is not a URL", call.what, host));
    }
    auto scheme = checkScheme(*parsed, fmt::format("{}: the token realm of {}", call.what, host));
    if (!scheme) {
      co_return scheme.error();
    }
    std::string realmHost(parsed->encoded_authority());
    auto client = clientFor(fmt::format("{}://{}", parsed->scheme(), realmHost));
    if (!client) {
      co_return within(client.error(), call.what);
    }
    http::Request request;
    request.target = std::string(parsed->encoded_target());
    request.timeout = options.timeout;
    request.maxBodyBytes = kMaxTokenAnswerBytes;
    if (hasPassword(credentials)) {
      request.headers.emplace_back("Authorization", basicAuthorization(*credentials));
    }
    auto sent = co_await (*client)->send(std::move(request));
    if (!sent) {
      co_return unreachable(sent.error(), fmt::format("{}: token server", call.what), realmHost,
                            "");
    }
    if (sent->status == 401 || sent->status == 403) {
      auto detail = registryErrors(sent->body);
      co_return makeError(
          sent->status == 401 ? ErrorKind::Unauthorized : ErrorKind::Forbidden,
          fmt::format("{}: token server {} refused {} access to repository {} ({}){}", call.what,
                      realmHost, hasPassword(credentials) ? "the pull Secret's" : "anonymous",
                      call.ref.repository(), sent->status, detail.empty() ? "" : ": " + detail),
          sent->status);
    }
    if (sent->status != 200) {
      auto detail = registryErrors(sent->body);
      co_return makeError(
          sent->status >= 500 || sent->status == 429 ? ErrorKind::Transient : ErrorKind::Terminal,
          fmt::format("{}: token server {} answered {}{}", call.what, realmHost, sent->status,
                      detail.empty() ? "" : ": " + detail),
          sent->status);
    }
    auto token = readToken(sent->body);
    if (!token) {
      co_return within(token.error(), fmt::format("{}: token server {}", call.what, realmHost));
    }
    std::string authorization = "Bearer " + token->token;
    cacheToken(call, std::move(*token));
    co_return authorization;
  }

  // Sends `call` with a cached token if there is one, and answers one challenge: a 401 after
  // that (or a 403) is the registry's last word.
  asio::awaitable<Result<Answer>> fetch(const Call& call) {
    std::string authorization = cachedAuthorization(call);
    bool answered = false;
    for (;;) {
      auto answer = co_await sendFollowing(call, authorization);
      if (!answer) {
        co_return answer.error();
      }
      if (answer->response.status != 401 || !answer->atRegistry || answered) {
        co_return answer;
      }
      answered = true;
      if (!authorization.empty()) {
        tokens.erase(tokenKey(call));  // revoked, or expired earlier than it said
      }
      std::string challenge = answer->response.header("WWW-Authenticate");
      auto made = co_await answerChallenge(call, std::move(challenge));
      if (!made) {
        co_return made.error();
      }
      authorization = std::move(*made);
    }
  }

  static Error statusError(const Call& call, const Answer& answer) {
    int status = answer.response.status;
    auto detail = registryErrors(answer.response.body);
    std::string said = detail.empty() ? "" : ": " + detail;
    const char* who = answer.atRegistry ? "registry" : "storage";
    if (status == 401 || status == 403) {
      return makeError(status == 401 ? ErrorKind::Unauthorized : ErrorKind::Forbidden,
                       fmt::format("{}: {} {} refused access to repository {} ({}){}", call.what,
                                   who, answer.host, call.ref.repository(), status, said),
                       status);
    }
    if (status == 404) {
      return makeError(ErrorKind::NotFound,
                       fmt::format("{}: not found at {} {}{}", call.what, who, answer.host, said),
                       status);
    }
    ErrorKind kind = ErrorKind::Terminal;
    if (status == 429) {
      kind = ErrorKind::TooManyRequests;
    } else if (status >= 500) {
      kind = ErrorKind::Transient;
    }
    return makeError(
        kind, fmt::format("{}: {} {} answered {}{}", call.what, who, answer.host, status, said),
        status);
  }
};

HttpRegistryClient::HttpRegistryClient(asio::any_io_executor executor, HttpRegistryOptions options,
                                       const Clock& clock)
    : impl_(std::make_unique<Impl>(std::move(executor), std::move(options), clock)) {}

HttpRegistryClient::~HttpRegistryClient() = default;

asio::awaitable<Result<FetchedManifest>> HttpRegistryClient::manifest(
    ImageReference ref, std::optional<RegistryCredentials> credentials) {
  std::string reference = ref.hasDigest() ? ref.digest() : ref.tag();
  if (reference.empty()) {
    reference = "latest";
  }
  Impl::Call call{
      ref,
      std::move(credentials),
      fmt::format("/v2/{}/manifests/{}", ref.repository(), reference),
      std::string(kManifestAccept),
      kMaxManifestBytes,
      fmt::format("manifest {}{}{}", ref.name(), ref.hasDigest() ? "@" : ":", reference)};
  auto answer = co_await impl_->fetch(call);
  if (!answer) {
    co_return answer.error();
  }
  if (answer->response.status != 200) {
    co_return Impl::statusError(call, *answer);
  }
  const std::string& body = answer->response.body;
  if (ref.hasDigest()) {
    if (auto checked = verifyDigest(body, ref.digest()); !checked) {
      co_return within(checked.error(), call.what);
    }
  }
  if (auto checked = checkContentDigest(body, answer->response.header("Docker-Content-Digest"));
      !checked) {
    co_return within(checked.error(), call.what);
  }
  auto parsed = parseManifest(body, answer->response.header("Content-Type"));
  if (!parsed) {
    co_return within(parsed.error(), call.what);
  }
  FetchedManifest out;
  out.digest = ref.hasDigest() ? ref.digest() : digestOf(body);
  out.mediaType = parsed->mediaType;
  out.bytes = std::move(answer->response.body);
  out.manifest = std::move(*parsed);
  co_return out;
}

asio::awaitable<Result<std::string>> HttpRegistryClient::blob(
    ImageReference ref, std::string digest, uint64_t maxBytes,
    std::optional<RegistryCredentials> credentials) {
  if (auto checked = checkDigest(digest); !checked) {
    co_return checked.error();
  }
  if (maxBytes == 0) {
    co_return makeError(ErrorKind::Invalid, "a blob's size limit must be above 0");
  }
  Impl::Call call{ref,
                  std::move(credentials),
                  fmt::format("/v2/{}/blobs/{}", ref.repository(), digest),
                  std::string(),
                  maxBytes,
                  fmt::format("blob {} of {} (at most {} bytes)", digest, ref.name(), maxBytes)};
  auto answer = co_await impl_->fetch(call);
  if (!answer) {
    co_return answer.error();
  }
  if (answer->response.status != 200) {
    co_return Impl::statusError(call, *answer);
  }
  std::string& body = answer->response.body;
  if (body.size() > maxBytes) {
    co_return makeError(ErrorKind::Terminal,
                        fmt::format("{}: the registry sent {} bytes", call.what, body.size()));
  }
  if (auto checked = verifyDigest(body, digest); !checked) {
    co_return within(checked.error(), call.what);
  }
  co_return std::move(body);
}

asio::awaitable<Result<Manifest>> HttpRegistryClient::referrers(
    ImageReference pinned, std::optional<RegistryCredentials> credentials) {
  if (auto checked = checkDigest(pinned.digest()); !checked) {
    co_return checked.error();
  }
  Impl::Call call{pinned,
                  std::move(credentials),
                  fmt::format("/v2/{}/referrers/{}", pinned.repository(), pinned.digest()),
                  std::string(kOciIndexType),
                  kMaxManifestBytes,
                  fmt::format("referrers of {}", pinned.str())};
  auto answer = co_await impl_->fetch(call);
  if (!answer) {
    co_return answer.error();
  }
  if (answer->response.status != 200) {
    co_return Impl::statusError(call, *answer);
  }
  // A page of referrers; registries that page (a Link header) list the rest elsewhere, which MC
  // does not follow: a digest's signatures are a handful.
  auto parsed = parseManifest(answer->response.body, answer->response.header("Content-Type"));
  if (!parsed) {
    co_return within(parsed.error(), call.what);
  }
  if (!parsed->isIndex()) {
    co_return makeError(
        ErrorKind::Invalid,
        fmt::format("{}: the registry answered a {}, not an index", call.what, parsed->mediaType));
  }
  co_return std::move(*parsed);
}

asio::awaitable<Result<Manifest>> referrersOf(RegistryClient& client, ImageReference pinned,
                                              std::optional<RegistryCredentials> credentials) {
  auto listed = co_await client.referrers(pinned, credentials);
  // Registries without the API answer 404 (distribution), 405 or 400 (some proxies); one with it
  // answers 200 even for a digest it does not hold.
  bool noApi = !listed && (listed.error().kind == ErrorKind::NotFound ||
                           listed.error().httpStatus == 400 || listed.error().httpStatus == 405);
  if (!noApi) {
    co_return listed;
  }
  auto digest = pinned.digest();
  if (auto valid = checkSha256Digest(digest); !valid) {
    co_return valid.error();
  }
  auto fallback =
      ImageReference::parse(fmt::format("{}:sha256-{}", pinned.name(), digest.substr(7)));
  if (!fallback) {
    co_return fallback.error();
  }
  auto index = co_await client.manifest(*fallback, std::move(credentials));
  if (!index) {
    if (index.error().kind == ErrorKind::NotFound) {
      Manifest empty;
      empty.kind = ManifestKind::OciIndex;
      empty.mediaType = std::string(kOciIndexType);
      co_return empty;
    }
    co_return index.error();
  }
  if (!index->manifest.isIndex()) {
    // Something else pushed under that tag: it lists no referrers.
    Manifest empty;
    empty.kind = ManifestKind::OciIndex;
    empty.mediaType = std::string(kOciIndexType);
    co_return empty;
  }
  co_return std::move(index->manifest);
}

asio::awaitable<Result<ResolvedImage>> resolveDigest(
    RegistryClient& client, ImageReference ref, Platform platform,
    std::optional<RegistryCredentials> credentials) {
  auto fetched = co_await client.manifest(ref, std::move(credentials));
  if (!fetched) {
    co_return fetched.error();
  }
  ResolvedImage out;
  out.digest = fetched->digest;
  out.mediaType = fetched->mediaType;
  if (fetched->manifest.isIndex()) {
    auto chosen = selectPlatform(fetched->manifest, platform);
    if (!chosen) {
      co_return within(chosen.error(), ref.str());
    }
    out.platformManifest = std::move(*chosen);
  }
  co_return out;
}

}  // namespace mc::signing
