#include "mc/runtime/kube_client.h"

#include <fmt/format.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/url.hpp>
#include <charconv>
#include <fstream>
#include <sstream>

#include "mc/common/json.h"
#include "mc/runtime/exec_credentials.h"
#include "mc/runtime/rate_limit.h"
#include "mc/runtime/status.h"

namespace mc::kube {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

constexpr auto kMaxRetryAfter = std::chrono::seconds(30);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

std::string metadataField(const json::object& object, std::string_view key) {
  auto* metadata = object.if_contains("metadata");
  return metadata != nullptr && metadata->is_object() ? stringAt(metadata->as_object(), key)
                                                      : std::string();
}

bool isIdempotent(const http::Request& request, bool apply) {
  return request.method == "GET" || request.method == "PUT" || request.method == "DELETE" ||
         (request.method == "PATCH" && apply);
}

std::chrono::milliseconds retryAfter(const http::Response& response) {
  auto header = response.header("Retry-After");
  int seconds = 0;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (ec != std::errc() || seconds <= 0) {
    return std::chrono::milliseconds(0);
  }
  return std::min<std::chrono::milliseconds>(std::chrono::seconds(seconds), kMaxRetryAfter);
}

// Runs on the plugin's thread: get() blocks while the plugin runs.
asio::awaitable<Result<CredentialPtr>> credentialFrom(std::shared_ptr<ExecCredentials> source) {
  co_return source->get();
}

std::string_view contentTypeOf(PatchType type) {
  switch (type) {
    case PatchType::Merge:
      return "application/merge-patch+json";
    case PatchType::Json:
      return "application/json-patch+json";
    case PatchType::StrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::Apply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

// Kubernetes objects nest deeper than Boost.JSON's default limit of 32 (CRD schemas do).
json::value parseJson(std::string_view text, boost::system::error_code& ec,
                      json::storage_ptr storage = {}) {
  json::parse_options options;
  options.max_depth = 512;
  return json::parse(text, ec, std::move(storage), options);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Paths

std::string nameOf(const json::object& object) { return metadataField(object, "name"); }
std::string namespaceOf(const json::object& object) { return metadataField(object, "namespace"); }
std::string resourceVersionOf(const json::object& object) {
  return metadataField(object, "resourceVersion");
}
std::string uidOf(const json::object& object) { return metadataField(object, "uid"); }
std::string keyOf(const json::object& object) {
  auto ns = namespaceOf(object);
  return ns.empty() ? nameOf(object) : fmt::format("{}/{}", ns, nameOf(object));
}

std::optional<ControllerRef> controllerOf(const json::object& object) {
  const auto* metadata = object.if_contains("metadata");
  const auto* owners = metadata != nullptr && metadata->is_object()
                           ? metadata->as_object().if_contains("ownerReferences")
                           : nullptr;
  if (owners == nullptr || !owners->is_array()) {
    return std::nullopt;
  }
  for (const auto& owner : owners->as_array()) {
    if (!owner.is_object()) {
      continue;
    }
    const auto& ref = owner.as_object();
    const auto* controller = ref.if_contains("controller");
    if (controller != nullptr && controller->is_bool() && controller->as_bool()) {
      auto text = [&ref](std::string_view key) {
        const auto* value = ref.if_contains(key);
        return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
      };
      return ControllerRef{text("apiVersion"), text("kind"), text("name"), text("uid")};
    }
  }
  return std::nullopt;
}

json::object controllerReference(std::string apiVersion, std::string kind, std::string name,
                                 std::string uid) {
  return {{"apiVersion", std::move(apiVersion)},
          {"kind", std::move(kind)},
          {"name", std::move(name)},
          {"uid", std::move(uid)},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

Error errorFromResponse(const http::Response& response) {
  std::string reason;
  std::string message;
  boost::system::error_code ec;
  auto body = parseJson(response.body, ec);
  if (!ec && body.is_object() && stringAt(body.as_object(), "kind") == "Status") {
    const auto& status = body.as_object();
    reason = stringAt(status, "reason");
    message = stringAt(status, "message");
    // Invalid: name every field at fault, as kubectl does.
    if (auto* details = status.if_contains("details"); details && details->is_object()) {
      if (auto* causes = details->as_object().if_contains("causes"); causes && causes->is_array()) {
        for (const auto& cause : causes->as_array()) {
          if (!cause.is_object()) {
            continue;
          }
          auto field = stringAt(cause.as_object(), "field");
          auto text = stringAt(cause.as_object(), "message");
          if (!field.empty() && message.find(field) == std::string::npos) {
            message += fmt::format("; {}: {}", field, text);
          }
        }
      }
    }
  }
  if (message.empty()) {
    message = response.body.substr(0, 200);
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.pop_back();
    }
    if (message.empty()) {
      message = fmt::format("HTTP {}", response.status);
    }
  }
  return makeError(errorKindOf(reason, response.status), std::move(message), response.status);
}

// ---------------------------------------------------------------------------------------------
// The client

struct KubeClient::Impl {
  asio::any_io_executor executor;
  RestConfig config;
  ClientOptions options;
  http::HttpClientPtr http;
  std::shared_ptr<ExecCredentials> exec;  // set when the kubeconfig names a credential plugin
  std::unique_ptr<asio::thread_pool> execThread;  // where the plugin runs, off the io threads
  TokenBucket bucket;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* durations = nullptr;

  Impl(asio::any_io_executor ex, RestConfig cfg, ClientOptions opts, http::HttpClientPtr client)
      : executor(std::move(ex)),
        config(std::move(cfg)),
        options(std::move(opts)),
        http(std::move(client)),
        bucket(options.qps, options.burst, *options.clock) {
    if (config.exec) {
      exec = std::make_shared<ExecCredentials>(*config.exec, config, options.interactive,
                                               *options.clock);
      execThread = std::make_unique<asio::thread_pool>(1);
    }
    if (options.registry) {
      requests = &prometheus::BuildCounter()
                      .Name("mc_kube_requests_total")
                      .Help("Requests to the apiserver by verb and HTTP code (or \"error\")")
                      .Register(*options.registry);
      durations = &prometheus::BuildHistogram()
                       .Name("mc_kube_request_duration_seconds")
                       .Help("Apiserver request latency by verb, retries included")
                       .Register(*options.registry);
    }
  }

  std::string bearerToken() const {
    if (config.tokenFile.empty()) {
      return config.bearerToken;
    }
    // Projected service-account tokens rotate on disk; read the current one each time.
    auto token = readTokenFile(config.tokenFile);
    return token.empty() ? config.bearerToken : token;
  }

  // Sets the request's Authorization header. With a credential plugin: the credential used, to
  // hand back to invalidate() if the server answers 401.
  asio::awaitable<Result<CredentialPtr>> authorize(http::Request& request) {
    std::erase_if(request.headers, [](const auto& h) { return h.first == "Authorization"; });
    CredentialPtr credential;
    if (exec) {
      // Named, not a temporary of the co_await expression: GCC 12 destroys such temporaries twice.
      auto pending = credentialFrom(exec);
      auto got = co_await asio::co_spawn(execThread->get_executor(), std::move(pending),
                                         asio::use_awaitable);
      if (!got) {
        co_return makeError(got.error().kind,
                            fmt::format("{}: {}", config.origin, got.error().message));
      }
      credential = std::move(*got);
      if (!credential->clientCertPem.empty()) {
        auto set = http->setClientCertificate(credential->clientCertPem, credential->clientKeyPem);
        if (!set) {
          co_return makeError(
              ErrorKind::Unauthorized,
              fmt::format("{}: the credential plugin's {}", config.origin, set.error().message));
        }
      }
    }
    auto token = credential && !credential->token.empty() ? credential->token : bearerToken();
    if (!token.empty()) {
      request.headers.emplace_back("Authorization", "Bearer " + token);
    }
    co_return credential;
  }

  // After a 401: true if a credential plugin may answer with a credential the server takes, so
  // the request is worth sending once more (the server acted on nothing).
  bool refreshAfterUnauthorized(const CredentialPtr& used) {
    if (!exec) {
      return false;
    }
    exec->invalidate(used);
    return true;
  }

  void record(std::string_view verb, const Result<http::Response>& result, double seconds) {
    if (requests == nullptr) {
      return;
    }
    std::string code = result ? std::to_string(result->status) : "error";
    requests->Add({{"verb", std::string(verb)}, {"code", code}}).Increment();
    static const prometheus::Histogram::BucketBoundaries kBuckets{
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    durations->Add({{"verb", std::string(verb)}}, kBuckets).Observe(seconds);
  }

  asio::awaitable<void> sleep(std::chrono::nanoseconds duration) {
    if (duration <= std::chrono::nanoseconds(0)) {
      co_return;
    }
    asio::steady_timer timer(executor, duration);
    co_await timer.async_wait(asio::use_awaitable);
  }

  // One logical request: rate limited, retried as safe, measured.
  asio::awaitable<Result<http::Response>> call(std::string_view verb, http::Request request,
                                               bool apply = false) {
    request.headers.emplace_back("Accept", "application/json");
    request.timeout = options.timeout;
    bool idempotent = isIdempotent(request, apply);
    bool reauthorized = false;
    auto started = std::chrono::steady_clock::now();
    Result<http::Response> result = makeError(ErrorKind::Transient, "not sent");
    for (int attempt = 0;; ++attempt) {
      co_await sleep(bucket.reserve());
      http::Request copy = request;
      auto used = co_await authorize(copy);
      if (!used) {
        result = used.error();
        break;
      }
      result = co_await http->send(std::move(copy));
      std::chrono::milliseconds wait{0};
      if (result && result->status == 401 && !reauthorized && refreshAfterUnauthorized(*used)) {
        reauthorized =
            true;  // once: a plugin whose fresh answer is refused too is the user's to fix
        continue;
      }
      if (!result) {
        // A request that may have reached the server is only resent when that is harmless.
        if (!result.error().retryable() || !idempotent) {
          break;
        }
      } else if (result->status == 429) {
        wait = retryAfter(*result);  // the server did not act on it: any verb may retry
      } else if (result->status >= 500 && idempotent) {
        wait = retryAfter(*result);
      } else {
        break;
      }
      if (attempt >= options.maxRetries) {
        break;
      }
      if (wait.count() == 0) {
        // The exponent is capped so the shift cannot overflow, whatever maxRetries is.
        wait = std::min<std::chrono::milliseconds>(
            options.retryBaseDelay * (1 << std::min(attempt, 16)), kMaxBackoff);
      }
      co_await sleep(wait);
    }
    record(verb, result,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    co_return result;
  }

  // A call whose 2xx body is JSON; any other status becomes its typed error.
  asio::awaitable<Result<json::value>> callForJson(std::string_view verb, http::Request request,
                                                   bool apply = false) {
    auto response = co_await call(verb, std::move(request), apply);
    if (!response) {
      co_return response.error();
    }
    if (response->status < 200 || response->status > 299) {
      co_return errorFromResponse(*response);
    }
    boost::system::error_code ec;
    auto value = parseJson(response->body, ec);
    if (ec) {
      co_return makeError(ErrorKind::Transient, "apiserver answered with invalid JSON",
                          response->status);
    }
    co_return value;
  }

  asio::awaitable<Result<json::object>> callForObject(std::string_view verb, http::Request request,
                                                      bool apply = false) {
    auto value = co_await callForJson(verb, std::move(request), apply);
    if (!value) {
      co_return value.error();
    }
    if (!value->is_object()) {
      co_return makeError(ErrorKind::Transient, "apiserver answered with a non-object");
    }
    co_return std::move(value->as_object());
  }
};

KubeClient::KubeClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KubeClient::~KubeClient() = default;

const RestConfig& KubeClient::config() const { return impl_->config; }

Result<std::unique_ptr<KubeClient>> KubeClient::create(asio::any_io_executor executor,
                                                       RestConfig config, ClientOptions options) {
  http::TlsOptions tls{config.caPem, config.clientCertPem, config.clientKeyPem,
                       config.insecureSkipTlsVerify};
  auto http = http::HttpClient::create(executor, config.server, tls);
  if (!http) {
    return makeError(http.error().kind, fmt::format("{}: {}", config.origin, http.error().message));
  }
  if (options.clock == nullptr) {
    options.clock = &systemClock();
  }
  return std::unique_ptr<KubeClient>(new KubeClient(
      std::make_unique<Impl>(executor, std::move(config), std::move(options), std::move(*http))));
}

KubeClient::Async<KubeClient::Object> KubeClient::get(const ResourceType& type, std::string ns,
                                                      std::string name, std::string subresource) {
  http::Request request{"GET", type.objectPath(ns, name, subresource)};
  co_return co_await impl_->callForObject("get", std::move(request));
}

KubeClient::Async<ObjectList> KubeClient::list(const ResourceType& type, std::string ns,
                                               ListOptions options) {
  boost::urls::url url(type.collectionPath(ns));
  auto params = url.params();
  if (!options.labelSelector.empty()) params.append({"labelSelector", options.labelSelector});
  if (!options.fieldSelector.empty()) params.append({"fieldSelector", options.fieldSelector});
  if (options.limit > 0) params.append({"limit", std::to_string(options.limit)});
  if (!options.continueToken.empty()) params.append({"continue", options.continueToken});
  if (!options.resourceVersion.empty()) {
    params.append({"resourceVersion", options.resourceVersion});
  }
  http::Request request{"GET", std::string(url.buffer())};
  auto body = co_await impl_->callForObject("list", std::move(request));
  if (!body) {
    co_return body.error();
  }
  ObjectList list;
  auto& page = *body;
  if (auto* metadata = page.if_contains("metadata"); metadata && metadata->is_object()) {
    list.resourceVersion = stringAt(metadata->as_object(), "resourceVersion");
    list.continueToken = stringAt(metadata->as_object(), "continue");
  }
  if (auto* items = page.if_contains("items"); items && items->is_array()) {
    list.items.reserve(items->as_array().size());
    for (auto& item : items->as_array()) {
      if (item.is_object()) {
        list.items.push_back(std::move(item.as_object()));
      }
    }
  }
  co_return list;
}

Client::Async<ObjectList> Client::listAll(const ResourceType& type, std::string ns,
                                          ListOptions options, int64_t pageSize) {
  ObjectList all;
  options.limit = pageSize;
  for (bool first = true;; first = false) {
    ListOptions page = options;
    auto result = co_await list(type, ns, std::move(page));
    if (!result) {
      co_return result.error();
    }
    if (first) {
      all.resourceVersion = result->resourceVersion;
    }
    for (auto& item : result->items) {
      all.items.push_back(std::move(item));
    }
    if (result->continueToken.empty()) {
      break;
    }
    options.continueToken = std::move(result->continueToken);
  }
  co_return all;
}

KubeClient::Async<KubeClient::Object> KubeClient::create(const ResourceType& type, std::string ns,
                                                         Object object) {
  http::Request request{"POST",
                        type.collectionPath(ns),
                        {{"Content-Type", "application/json"}},
                        json::serialize(object)};
  co_return co_await impl_->callForObject("create", std::move(request));
}

KubeClient::Async<KubeClient::Object> KubeClient::update(const ResourceType& type, std::string ns,
                                                         Object object, std::string subresource) {
  auto name = nameOf(object);
  if (name.empty()) {
    co_return makeError(ErrorKind::Invalid, "update: metadata.name is not set");
  }
  http::Request request{"PUT",
                        type.objectPath(ns, name, subresource),
                        {{"Content-Type", "application/json"}},
                        json::serialize(object)};
  co_return co_await impl_->callForObject("update", std::move(request));
}

KubeClient::Async<KubeClient::Object> KubeClient::patch(const ResourceType& type, std::string ns,
                                                        std::string name, PatchType patchType,
                                                        std::string body, PatchOptions options) {
  boost::urls::url url(type.objectPath(ns, name, options.subresource));
  bool apply = patchType == PatchType::Apply;
  if (apply) {
    url.params().append({"fieldManager", impl_->options.fieldManager});
    if (options.force) {
      url.params().append({"force", "true"});
    }
  }
  http::Request request{"PATCH",
                        std::string(url.buffer()),
                        {{"Content-Type", std::string(contentTypeOf(patchType))}},
                        std::move(body)};
  co_return co_await impl_->callForObject("patch", std::move(request), apply);
}

KubeClient::Async<void> KubeClient::remove(const ResourceType& type, std::string ns,
                                           std::string name, DeleteOptions options) {
  json::object body{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!options.propagationPolicy.empty()) {
    body["propagationPolicy"] = options.propagationPolicy;
  }
  if (!options.preconditionUid.empty() || !options.preconditionResourceVersion.empty()) {
    json::object preconditions;
    if (!options.preconditionUid.empty()) preconditions["uid"] = options.preconditionUid;
    if (!options.preconditionResourceVersion.empty()) {
      preconditions["resourceVersion"] = options.preconditionResourceVersion;
    }
    body["preconditions"] = std::move(preconditions);
  }
  http::Request request{"DELETE",
                        type.objectPath(ns, name),
                        {{"Content-Type", "application/json"}},
                        json::serialize(body)};
  auto response = co_await impl_->call("delete", std::move(request));
  if (!response) {
    co_return response.error();
  }
  if (response->status < 200 || response->status > 299) {
    co_return errorFromResponse(*response);
  }
  co_return Result<void>();
}

KubeClient::Async<std::string> KubeClient::watch(const ResourceType& type, std::string ns,
                                                 WatchOptions options,
                                                 std::function<void(WatchEvent&&)> onEvent,
                                                 std::shared_ptr<http::StreamCancel> cancel) {
  boost::urls::url url(type.collectionPath(ns));
  auto params = url.params();
  params.append({"watch", "1"});
  if (!options.resourceVersion.empty()) {
    params.append({"resourceVersion", options.resourceVersion});
  }
  if (!options.labelSelector.empty()) params.append({"labelSelector", options.labelSelector});
  if (!options.fieldSelector.empty()) params.append({"fieldSelector", options.fieldSelector});
  if (options.allowBookmarks) params.append({"allowWatchBookmarks", "true"});
  params.append({"timeoutSeconds", std::to_string(options.timeoutSeconds)});

  http::Request request{"GET", std::string(url.buffer()), {{"Accept", "application/json"}}};
  // Bounds the silence between pieces: the server sends bookmarks and ends the watch itself
  // after timeoutSeconds, so a longer silence means a dead connection.
  request.timeout = std::chrono::seconds(options.timeoutSeconds + 30);

  WatchDecoder decoder;
  std::string lastVersion = options.resourceVersion;
  std::optional<Error> failure;
  auto sink = [&](std::string_view piece) {
    if (auto fed = decoder.feed(piece); !fed) {
      failure = fed.error();
      return false;
    }
    while (auto event = decoder.next()) {
      if (event->type == WatchEventType::Error) {
        failure = errorOf(*event);
        return false;
      }
      if (auto version = resourceVersionOf(event->object); !version.empty()) {
        lastVersion = std::move(version);
      }
      onEvent(std::move(*event));
    }
    return true;
  };
  auto started = std::chrono::steady_clock::now();
  Result<http::Response> response = makeError(ErrorKind::Transient, "not sent");
  for (bool reauthorized = false;; reauthorized = true) {
    co_await impl_->sleep(impl_->bucket.reserve());
    auto used = co_await impl_->authorize(request);
    if (!used) {
      co_return used.error();
    }
    response = co_await impl_->http->stream(request, sink, cancel);
    if (reauthorized || !response || response->status != 401 ||
        !impl_->refreshAfterUnauthorized(*used)) {
      break;
    }
  }
  impl_->record("watch", response,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  if (failure) {
    co_return *failure;
  }
  if (!response) {
    co_return response.error();
  }
  if (response->status != 200) {
    co_return errorFromResponse(*response);
  }
  co_return lastVersion;
}

KubeClient::Async<json::value> KubeClient::getPath(std::string path) {
  http::Request request{"GET", std::move(path)};
  co_return co_await impl_->callForJson("get", std::move(request));
}

}  // namespace mc::kube
