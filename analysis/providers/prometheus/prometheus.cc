#include "prometheus.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <boost/url/parse.hpp>
#include <cmath>

#include "mc/runtime/http_client.h"
#include "mc/runtime/secret.h"

namespace mc::analysis::prometheus {
namespace {

namespace json = boost::json;
using std::chrono::duration_cast;

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

// A value for a message: 4 significant digits.
std::string brief(double value) { return fmt::format("{:.4g}", value); }

class PrometheusProvider final : public MetricProvider {
 public:
  PrometheusProvider(ProviderDeps& deps, std::string ns, Config config, Endpoint endpoint)
      : deps_(deps),
        ns_(std::move(ns)),
        config_(std::move(config)),
        endpoint_(std::move(endpoint)) {}

  std::vector<crds::MetricQuery> queries() const override {
    return queries_.empty() ? planned() : queries_;
  }

  boost::asio::awaitable<Observation> measure() override {
    queries_.clear();
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
    client_ = std::move(*client);
    authorization_ = std::move(credentials->authorization);
    Observation observation = co_await measureCheck();
    client_.reset();
    co_return observation;
  }

 private:
  boost::asio::awaitable<Observation> measureCheck() {
    if (const auto* q = std::get_if<Query>(&config_.check)) {
      crds::MetricQuery query{"query", q->query};
      auto samples = co_await ask(std::move(query));
      co_return oneValue(samples);
    }
    if (const auto* alert = std::get_if<Alert>(&config_.check)) {
      co_return co_await measureAlert(*alert);
    }
    if (const auto* errorRate = std::get_if<ErrorRate>(&config_.check)) {
      co_return co_await measureErrorRate(*errorRate);
    }
    if (const auto* latency = std::get_if<Latency>(&config_.check)) {
      co_return co_await measureLatency(*latency);
    }
    co_return co_await measureBurn(std::get<SloBurn>(config_.check));
  }

  // Any series is a breach: the value is how many. None passes only on the guard's word.
  boost::asio::awaitable<Observation> measureAlert(const Alert& alert) {
    crds::MetricQuery alertQuery{"alert", alert.query};
    auto breaches = co_await ask(std::move(alertQuery));
    if (!breaches) {
      co_return Observation::error(breaches.error().message);
    }
    if (!breaches->empty()) {
      std::string seen;
      for (size_t i = 0; i < breaches->size() && i < 3; ++i) {
        seen += fmt::format("{}{} {}", i ? "; " : "", (*breaches)[i].labels,
                            brief((*breaches)[i].value));
      }
      co_return Observation::of(
          static_cast<double>(breaches->size()),
          fmt::format("the alert expression returned {} series: {}{}", breaches->size(), seen,
                      breaches->size() > 3 ? "; ..." : ""));
    }
    crds::MetricQuery guardQuery{"guard", alert.guard};
    auto guard = co_await ask(std::move(guardQuery));
    Observation traffic = oneValue(guard);
    if (traffic.kind == Observation::Kind::Error) {
      co_return traffic;
    }
    if (traffic.kind != Observation::Kind::Value || !(traffic.value > 0)) {
      co_return Observation::inconclusive(fmt::format(
          "the alert expression returned nothing, but the guard reads {}: with no traffic, "
          "silence is not health",
          traffic.kind == Observation::Kind::Value ? brief(traffic.value) : traffic.message));
    }
    co_return Observation::of(
        0, fmt::format("the alert expression returned nothing; the guard reads {}",
                       brief(traffic.value)));
  }

  boost::asio::awaitable<Observation> measureErrorRate(const ErrorRate& check) {
    crds::MetricQuery query{"errorRate", errorRateQuery(check)};
    auto samples = co_await ask(std::move(query));
    Observation ratio = oneValue(samples);
    if (ratio.kind == Observation::Kind::Error) {
      co_return ratio;
    }
    if (ratio.kind != Observation::Kind::Value || std::isnan(ratio.value)) {
      co_return Observation::inconclusive(
          fmt::format("no requests from the canary's pods ({}=\"{}\") in the last {}: no "
                      "traffic is not a 0 % error rate",
                      check.canary.hashLabel, check.canary.hash, promDuration(check.window)));
    }
    co_return Observation::of(ratio.value,
                              fmt::format("{} % of the canary's requests in the last {} were 5xx",
                                          brief(ratio.value * 100), promDuration(check.window)));
  }

  boost::asio::awaitable<Observation> measureLatency(const Latency& check) {
    const std::string name = quantileName(check.quantile);
    crds::MetricQuery quantileQuery{name, latencyQuery(check)};
    auto quantile = co_await ask(std::move(quantileQuery));
    crds::MetricQuery countQuery{"requests", requestCountQuery(check)};
    auto requests = co_await ask(std::move(countQuery));
    if (!quantile) {
      co_return Observation::error(quantile.error().message);
    }
    Observation count = oneValue(requests);
    if (count.kind == Observation::Kind::Error) {
      co_return count;
    }
    const double seen =
        count.kind == Observation::Kind::Value && !std::isnan(count.value) ? count.value : 0;
    if (seen < check.minRequests) {
      co_return Observation::inconclusive(fmt::format(
          "{} requests from the canary's pods in the last {}, fewer than the {} a {} needs",
          brief(seen), promDuration(check.window), check.minRequests, name));
    }
    Observation value = oneValue(quantile);
    if (value.kind != Observation::Kind::Value) {
      co_return value;
    }
    co_return Observation::of(
        value.value, fmt::format("{} {} s over the last {} ({} requests)", name, brief(value.value),
                                 promDuration(check.window), brief(seen)));
  }

  boost::asio::awaitable<Observation> measureBurn(const SloBurn& check) {
    const Seconds age = canaryAge();
    std::vector<PairBurn> pairs;
    std::vector<std::string> shortened;
    Seconds shortenedTo{0};
    std::string readings;
    for (const auto& windows : check.pairs) {
      PairBurn pair{windows};
      const std::array<std::pair<Seconds, double*>, 2> parts{
          {{windows.longWindow, &pair.longBurn}, {windows.shortWindow, &pair.shortBurn}}};
      for (const auto& [window, burn] : parts) {
        const Seconds read = readableWindow(window, age);
        if (read != window) {
          shortened.push_back(promDuration(window));
          shortenedTo = read;
        }
        crds::MetricQuery query{"burn " + promDuration(window),
                                errorRatioQuery(check.metric, check.codeLabel, check.canary, read)};
        auto samples = co_await ask(std::move(query));
        Observation ratio = oneValue(samples);
        if (ratio.kind == Observation::Kind::Error) {
          co_return ratio;
        }
        if (ratio.kind != Observation::Kind::Value || std::isnan(ratio.value)) {
          co_return Observation::inconclusive(fmt::format(
              "no requests from the canary's pods ({}=\"{}\") in the last {}: no traffic burns "
              "no budget, and proves nothing",
              check.canary.hashLabel, check.canary.hash, promDuration(read)));
        }
        *burn = burnRate(ratio.value, check.objective);
      }
      readings += fmt::format("{}{}/{} burn {}x/{}x of {}x{}", readings.empty() ? "" : "; ",
                              promDuration(windows.longWindow), promDuration(windows.shortWindow),
                              brief(pair.longBurn), brief(pair.shortBurn),
                              brief(windows.maxBurnRate), pair.breaches() ? " (breach)" : "");
      pairs.push_back(pair);
    }
    std::string note;
    if (!shortened.empty()) {
      note = fmt::format("; the canary is {} old, so the {} windows read {}", promDuration(age),
                         fmt::join(shortened, ", "), promDuration(shortenedTo));
    }
    co_return Observation::of(
        worstSeverity(pairs),
        fmt::format("objective {} %: {}{}", brief(check.objective), readings, note));
  }

  // How long the canary has existed; a run without canary-started-at reads whole windows.
  Seconds canaryAge() const {
    if (!config_.canaryStartedAt) {
      return Seconds::max();
    }
    auto age = deps_.clock.wallNow() - *config_.canaryStartedAt;
    return std::max(Seconds(0), duration_cast<Seconds>(age + std::chrono::milliseconds(999)));
  }

  // The queries as they will run before a measurement has run them.
  std::vector<crds::MetricQuery> planned() const {
    if (const auto* q = std::get_if<Query>(&config_.check)) {
      return {{"query", q->query}};
    }
    if (const auto* alert = std::get_if<Alert>(&config_.check)) {
      return {{"alert", alert->query}, {"guard", alert->guard}};
    }
    if (const auto* errorRate = std::get_if<ErrorRate>(&config_.check)) {
      return {{"errorRate", errorRateQuery(*errorRate)}};
    }
    if (const auto* latency = std::get_if<Latency>(&config_.check)) {
      return {{quantileName(latency->quantile), latencyQuery(*latency)},
              {"requests", requestCountQuery(*latency)}};
    }
    const auto& burn = std::get<SloBurn>(config_.check);
    std::vector<crds::MetricQuery> out;
    for (const auto& pair : burn.pairs) {
      for (auto window : {pair.longWindow, pair.shortWindow}) {
        out.push_back({"burn " + promDuration(window),
                       errorRatioQuery(burn.metric, burn.codeLabel, burn.canary, window)});
      }
    }
    return out;
  }

  // One instant query, recorded for the status.
  // Takes its query by value from a named variable: GCC 12 mishandles class temporaries inside
  // co_await expressions.
  boost::asio::awaitable<Result<std::vector<Sample>>> ask(crds::MetricQuery query) {
    const std::string promql = query.query;
    queries_.push_back(std::move(query));
    http::Request request;
    request.method = "POST";
    request.target = endpoint_.target;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Accept", "application/json"}};
    if (!authorization_.empty()) {
      request.headers.emplace_back("Authorization", authorization_);
    }
    request.body = "query=" + formEncode(promql);
    request.timeout = config_.timeout;
    auto response = co_await client_->send(std::move(request));
    if (!response) {
      co_return makeError(response.error().kind,
                          fmt::format("Prometheus at {} unreachable: {}", config_.address,
                                      response.error().message));
    }
    co_return parseSamples(*response);
  }

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
  std::vector<crds::MetricQuery> queries_;  // those the last measurement ran
  // For the queries of one measurement:
  std::unique_ptr<http::HttpClient> client_;
  std::string authorization_;
};

Result<MetricProviderPtr> make(ProviderDeps& deps, const RunScope& run, const json::object& block,
                               const std::string& path) {
  auto config = parseConfig(block, run, path);
  if (!config) {
    return config.error();
  }
  auto endpoint = endpointOf(config->address, path + ".address");
  if (!endpoint) {
    return endpoint.error();
  }
  return MetricProviderPtr(
      std::make_unique<PrometheusProvider>(deps, run.ns, std::move(*config), std::move(*endpoint)));
}

Result<void> check(const json::object& block, const RunScope& run, const std::string& path) {
  auto config = parseConfig(block, run, path);
  if (!config) {
    return config.error();
  }
  auto endpoint = endpointOf(config->address, path + ".address");
  if (!endpoint) {
    return endpoint.error();
  }
  return {};
}

// The built-ins' thresholds: our users' policy (docs/analysis.md).
std::optional<crds::SuccessCondition> defaultCondition(const json::object& block) {
  if (block.contains("errorRate")) {
    return crds::SuccessCondition{std::nullopt, 0.02};
  }
  if (block.contains("latency")) {
    return crds::SuccessCondition{std::nullopt, 1.5};
  }
  if (block.contains("sloBurn")) {
    return crds::SuccessCondition{std::nullopt, 1.0};
  }
  if (const auto* alert = block.if_contains("failWhenPresent");
      alert && alert->is_bool() && alert->as_bool()) {
    return crds::SuccessCondition{std::nullopt, 0.0};
  }
  return std::nullopt;
}

}  // namespace

ProviderRegistration registration() { return {"prometheus", &make, &check, &defaultCondition}; }

}  // namespace mc::analysis::prometheus
