#include "prometheus.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>

#include "mc/common/duration.h"
#include "mc/common/json.h"
#include "mc/runtime/http_client.h"
#include "mc/runtime/secret.h"

namespace mc::analysis::prometheus {
namespace {

namespace json = boost::json;

// application/x-www-form-urlencoded: unreserved characters stay, the rest is %XX.
std::string formEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// Where to send the query: the origin the client connects to and the path of the query API
// under any prefix the address has ("http://host:9090/prom" -> "/prom/api/v1/query").
struct Endpoint {
  std::string origin;
  std::string target;
};

Result<Endpoint> endpointOf(const std::string& address, const std::string& field) {
  auto url = boost::urls::parse_absolute_uri(address);
  if (!url || (url->scheme() != "http" && url->scheme() != "https") || url->host().empty()) {
    return fieldError(field, fmt::format("\"{}\" is not an http(s) URL", address));
  }
  std::string origin = fmt::format("{}://{}", std::string_view(url->scheme()),
                                   std::string_view(url->encoded_host_and_port()));
  std::string prefix(url->encoded_path());
  while (!prefix.empty() && prefix.back() == '/') {
    prefix.pop_back();
  }
  return Endpoint{std::move(origin), prefix + "/api/v1/query"};
}

// What a Secret adds to a request: an Authorization header and a CA to trust.
struct Credentials {
  std::string authorization;
  std::string caPem;
};

class PrometheusProvider final : public MetricProvider {
 public:
  PrometheusProvider(ProviderDeps& deps, std::string ns, Config config, Endpoint endpoint)
      : deps_(deps),
        ns_(std::move(ns)),
        config_(std::move(config)),
        endpoint_(std::move(endpoint)) {}

  std::string query() const override { return config_.query; }

  boost::asio::awaitable<Observation> measure() override {
    auto credentials = co_await readCredentials();
    if (!credentials) {
      co_return Observation::error(credentials.error().fieldMessage());
    }
    http::TlsOptions tls;
    tls.caPem = credentials->caPem;
    auto client = http::HttpClient::create(deps_.executor, endpoint_.origin, tls);
    if (!client) {
      co_return Observation::error(client.error().message);
    }
    http::Request request;
    request.method = "POST";
    request.target = endpoint_.target;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    if (!credentials->authorization.empty()) {
      request.headers.emplace_back("Authorization", credentials->authorization);
    }
    request.body = "query=" + formEncode(config_.query);
    request.timeout = config_.timeout;
    auto response = co_await (*client)->send(std::move(request));
    if (!response) {
      co_return Observation::error(fmt::format("Prometheus at {} unreachable: {}", config_.address,
                                               response.error().message));
    }
    co_return parseResponse(*response);
  }

 private:
  boost::asio::awaitable<Result<Credentials>> readCredentials() {
    Credentials credentials;
    if (config_.secretName.empty()) {
      co_return credentials;
    }
    std::string name = config_.secretName;
    auto secret = co_await deps_.client.get(kube::resources::kSecrets, ns_, name);
    if (!secret) {
      co_return makeError(secret.error().kind,
                          fmt::format("Secret \"{}\": {}", name, secret.error().message));
    }
    auto value = [&](std::string_view key) -> Result<std::string> {
      auto decoded = kube::secretValue(*secret, key);
      if (!decoded) {
        return fieldError(fmt::format("Secret \"{}\" {}", name, decoded.error().field),
                          decoded.error().message);
      }
      return decoded->value_or("");
    };
    auto token = value("token");
    auto username = value("username");
    auto password = value("password");
    auto ca = value("ca.crt");
    for (const auto* part : {&token, &username, &password, &ca}) {
      if (!*part) {
        co_return part->error();
      }
    }
    if (!token->empty()) {
      credentials.authorization = "Bearer " + *token;
    } else if (!username->empty()) {
      std::string pair = *username + ":" + *password;
      credentials.authorization = "Basic " + kube::base64Encode(pair);
    }
    credentials.caPem = std::move(*ca);
    co_return credentials;
  }

  ProviderDeps& deps_;
  std::string ns_;
  Config config_;
  Endpoint endpoint_;
};

Result<MetricProviderPtr> make(ProviderDeps& deps, const std::string& ns, const json::object& block,
                               const std::string& path) {
  auto config = parseConfig(block, path);
  if (!config) {
    return config.error();
  }
  auto endpoint = endpointOf(config->address, path + ".address");
  if (!endpoint) {
    return endpoint.error();
  }
  return MetricProviderPtr(
      std::make_unique<PrometheusProvider>(deps, ns, std::move(*config), std::move(*endpoint)));
}

}  // namespace

Result<Config> parseConfig(const json::object& block, const std::string& path) {
  Config config;
  config.address = stringAt(block, "address");
  config.query = stringAt(block, "query");
  if (config.address.empty()) {
    return fieldError(path + ".address", "missing");
  }
  if (config.query.empty()) {
    return fieldError(path + ".query", "missing");
  }
  if (auto timeout = stringAt(block, "timeout"); !timeout.empty()) {
    auto parsed = parseDuration(timeout);
    if (!parsed || parsed->count() <= 0) {
      return fieldError(path + ".timeout", fmt::format("\"{}\" is not a duration", timeout));
    }
    config.timeout = *parsed;
  }
  config.secretName = stringAt(objectAt(block, "secretRef"), "name");
  return config;
}

ProviderRegistration registration() { return {"prometheus", &make}; }

}  // namespace mc::analysis::prometheus
