#include "commands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>

#include "mc/audit/writer.h"
#include "mc/cli/analysis_view.h"
#include "mc/cli/audit_view.h"
#include "mc/cli/rollout_list.h"
#include "mc/cli/rollout_view.h"
#include "mc/common/json.h"
#include "mc/common/timefmt.h"
#include "mc/crds/names.h"
#include "mc/crds/pod_template_hash.h"

namespace mc::cli {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using crds::resources::kAnalysisRuns;
using crds::resources::kRollouts;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxAttempts = 5;  // optimistic writes re-read and retry this often on a conflict
constexpr auto kRetryDelay = std::chrono::seconds(1);
constexpr int64_t kPageSize = 500;  // objects a list request, as kubectl's --chunk-size
// The name a failure is about when it is about no one Rollout (a list).
const std::string kAnyRollout;

// Errors a watch cannot outlast by retrying: the object or the permission is not there.
bool fatal(const Error& error) {
  return error.kind == ErrorKind::NotFound || error.kind == ErrorKind::Forbidden ||
         error.kind == ErrorKind::Unauthorized;
}

void out(const std::string& text) {
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
}

struct FollowSpec {
  kube::ResourceType type;
  std::string ns;
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;  // where the watch starts; "" lists first
};

using ListHandler = std::function<void(std::vector<json::object>)>;
using EventHandler = std::function<void(kube::WatchEvent&&)>;

// Keeps `onList`/`onEvent` up to date with the objects of `spec` until `cancel`: re-watches when
// the server ends a watch, re-lists when the resourceVersion expired (410 Gone) or the stream
// broke mid-event, and backs off on transient errors. Returns only a fatal error or success on
// cancel.
asio::awaitable<Result<void>> follow(kube::Client& client, FollowSpec spec, ListHandler onList,
                                     EventHandler onEvent,
                                     std::shared_ptr<http::StreamCancel> cancel) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    if (cancel->cancelled()) {
      co_return Result<void>();
    }
    std::optional<Error> failure;
    if (spec.resourceVersion.empty()) {
      kube::ListOptions options;
      options.labelSelector = spec.labelSelector;
      options.fieldSelector = spec.fieldSelector;
      auto listed = co_await client.list(spec.type, spec.ns, options);
      if (listed) {
        spec.resourceVersion = listed->resourceVersion;
        onList(std::move(listed->items));
        continue;
      }
      failure = listed.error();
    } else {
      kube::WatchOptions options;
      options.resourceVersion = spec.resourceVersion;
      options.labelSelector = spec.labelSelector;
      options.fieldSelector = spec.fieldSelector;
      auto watched = co_await client.watch(spec.type, spec.ns, options, onEvent, cancel);
      if (cancel->cancelled()) {
        co_return Result<void>();
      }
      if (watched) {
        spec.resourceVersion = *watched;  // the server's timeout: resume where it ended
        continue;
      }
      failure = watched.error();
      if (failure->kind == ErrorKind::Gone || failure->kind == ErrorKind::Invalid) {
        spec.resourceVersion.clear();
        continue;
      }
    }
    if (fatal(*failure)) {
      co_return *failure;
    }
    spdlog::warn("following {}: {}; retrying", spec.type.displayName(), failure->describe());
    timer.expires_after(kRetryDelay);
    co_await timer.async_wait(kNoThrow);
  }
}

std::string labelSelectorOfReplicaSets() { return std::string(crds::kPodTemplateHashLabel); }

std::string lowerCase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Whether a discovery document (an APIResourceList) lists `resource`; a document of another
// shape counts as listing it (the 404 is then the object's).
bool serves(const json::value& discovery, const std::string& resource) {
  const auto* resources =
      discovery.is_object() ? arrayAt(discovery.as_object(), "resources") : nullptr;
  if (resources == nullptr) {
    return true;
  }
  return std::any_of(resources->begin(), resources->end(), [&](const json::value& r) {
    return r.is_object() && stringAt(r.as_object(), "name") == resource;
  });
}

// Why a Rollout's AnalysisRuns cannot be shown, when `get rollout` shows it without them: the
// API is missing (an MC without analysis) or the user may not list them. nullopt for any other
// error, which fails the command.
std::optional<std::string> runsUnavailable(const Error& error) {
  if (error.kind == ErrorKind::NotFound) {
    return fmt::format("the AnalysisRun API ({}.{}) is not installed on this cluster",
                       kAnalysisRuns.resource, kAnalysisRuns.group);
  }
  if (error.kind == ErrorKind::Forbidden || error.kind == ErrorKind::Unauthorized) {
    return fmt::format("no access: {}", error.message);
  }
  return std::nullopt;
}

// Hands every object of `type` in `ns` ("": all namespaces) to `onItem`, a page of kPageSize at a
// time. Unlike listAll, no page outlives its turn: 10,000 Rollouts or 30,000 ReplicaSets are
// never all in memory at once.
asio::awaitable<Result<void>> forEachListed(kube::Client& client, const kube::ResourceType& type,
                                            std::string ns, kube::ListOptions options,
                                            std::function<void(const json::object&)> onItem) {
  options.limit = kPageSize;
  for (;;) {
    auto page = co_await client.list(type, ns, options);
    if (!page) {
      co_return page.error();
    }
    for (const auto& item : page->items) {
      onItem(item);
    }
    if (page->continueToken.empty()) {
      co_return Result<void>();
    }
    options.continueToken = std::move(page->continueToken);
  }
}

}  // namespace

// What `get --watch` keeps between events: the Rollout, every ReplicaSet carrying MC's hash
// label and every AnalysisRun carrying its name (both filtered by owner at render time, as the
// Rollout's uid may arrive second).
struct Commands::Watch {
  std::optional<json::object> rollout;
  std::map<std::string, json::object> replicaSets;
  std::map<std::string, json::object> runs;
  std::optional<std::string> runsUnavailable;
  std::string lastFrame;
  std::optional<Error> failure;
  bool rolloutDeleted = false;
};

Commands::Commands(kube::Client& client, std::string ns, bool tty)
    : client_(client), ns_(std::move(ns)), tty_(tty) {}

Commands::~Commands() = default;

bool Commands::interrupt() {
  interrupted_ = true;
  for (const auto& stream : streams_) {
    stream->cancel();
  }
  return !streams_.empty();
}

asio::awaitable<int> Commands::fail(const Error& error, const std::string& name) {
  co_return co_await failAbout(error, kRollouts, crds::kRolloutKind, name);
}

// A 404 is one of two things: no such object, or no such API on this cluster at all (its CRD is
// not installed). Discovery of MC's group version tells them apart, as kubectl does, so no error
// message is parsed: the resource is installed if the group version lists it. Takes references:
// every caller passes names of its own.
asio::awaitable<int> Commands::failAbout(const Error& error, const kube::ResourceType& type,
                                         const char* kind, const std::string& name) {
  std::string message;
  if (error.kind == ErrorKind::NotFound && error.httpStatus == 404) {
    std::string groupVersion = type.groupVersionPath();
    auto discovered = co_await client_.getPath(groupVersion);
    bool installed = discovered ? serves(*discovered, type.resource)
                                : discovered.error().kind != ErrorKind::NotFound;
    message = installed ? fmt::format("{} \"{}\" not found in namespace \"{}\"", lowerCase(kind),
                                      name, ns_)
                        : fmt::format("the {} API ({}.{}) is not installed on this cluster: {}",
                                      kind, type.resource, type.group, error.message);
  } else if (error.kind == ErrorKind::Forbidden || error.kind == ErrorKind::Unauthorized) {
    message = fmt::format("no access: {}", error.message);
  } else if (error.httpStatus == 0 &&
             (error.kind == ErrorKind::Invalid || error.kind == ErrorKind::NotFound)) {
    message = error.message;  // kubectl-mc's own verdict on what it read
  } else {
    message = error.describe();
  }
  fmt::print(stderr, "Error: {}\n", message);
  co_return kExitFailed;
}

asio::awaitable<Result<std::vector<json::object>>> Commands::ownedReplicaSetsOf(
    json::object rollout) {
  kube::ListOptions options;
  options.labelSelector = labelSelectorOfReplicaSets();
  auto listed = co_await client_.list(kube::resources::kReplicaSets, ns_, options);
  if (!listed) {
    co_return listed.error();
  }
  co_return ownedReplicaSets(rollout, std::move(listed->items));
}

asio::awaitable<Result<RolloutRuns>> Commands::analysisRunsOf(json::object rollout) {
  RolloutRuns runs;
  auto selector = analysisRunSelector(kube::nameOf(rollout));
  if (!selector) {
    co_return runs;  // no label can name it: MC made no runs of it
  }
  kube::ListOptions options;
  options.labelSelector = std::move(*selector);
  auto listed = co_await client_.list(kAnalysisRuns, ns_, options);
  if (!listed) {
    runs.unavailable = runsUnavailable(listed.error());
    if (!runs.unavailable) {
      co_return listed.error();
    }
    co_return runs;
  }
  runs.runs = ownedAnalysisRuns(rollout, std::move(listed->items));
  co_return runs;
}

asio::awaitable<int> Commands::get(std::string name, bool watch) {
  auto object = co_await client_.get(kRollouts, ns_, name);
  if (!object) {
    co_return co_await fail(object.error(), name);
  }
  if (!watch) {
    auto owned = co_await ownedReplicaSetsOf(*object);
    if (!owned) {
      co_return co_await fail(owned.error(), name);
    }
    auto runs = co_await analysisRunsOf(*object);
    if (!runs) {
      co_return co_await fail(runs.error(), name);
    }
    out(renderRollout(*object, *owned, *runs, std::chrono::system_clock::now()));
    co_return kExitOk;
  }

  // The follows share the state; the ReplicaSets' and the AnalysisRuns' run as coroutines of
  // their own and may end after this one, so the state is shared, not on this frame.
  auto state = std::make_shared<Watch>();
  auto rolloutCancel = std::make_shared<http::StreamCancel>();
  auto replicaSetCancel = std::make_shared<http::StreamCancel>();
  auto runCancel = std::make_shared<http::StreamCancel>();
  streams_ = {rolloutCancel, replicaSetCancel, runCancel};
  bool tty = tty_;
  auto render = [state, tty] {
    if (!state->rollout) {
      return;
    }
    std::vector<json::object> candidates;
    for (const auto& [rsName, rs] : state->replicaSets) {
      candidates.push_back(rs);
    }
    RolloutRuns runs;
    runs.unavailable = state->runsUnavailable;
    std::vector<json::object> runCandidates;
    for (const auto& [runName, run] : state->runs) {
      runCandidates.push_back(run);
    }
    runs.runs = ownedAnalysisRuns(*state->rollout, std::move(runCandidates));
    auto frame = renderRollout(*state->rollout, ownedReplicaSets(*state->rollout, candidates), runs,
                               std::chrono::system_clock::now());
    if (frame == state->lastFrame) {
      return;
    }
    bool first = state->lastFrame.empty();
    state->lastFrame = frame;
    // A terminal redraws in place; a pipe or file gets every frame, a blank line apart.
    out(tty ? "\033[H\033[2J" + frame : (first ? "" : "\n") + frame);
  };
  auto stopAll = [rolloutCancel, replicaSetCancel, runCancel] {
    rolloutCancel->cancel();
    replicaSetCancel->cancel();
    runCancel->cancel();
  };

  ListHandler onReplicaSets = [state, render](std::vector<json::object> items) {
    state->replicaSets.clear();
    for (auto& rs : items) {
      auto rsName = kube::nameOf(rs);
      state->replicaSets[rsName] = std::move(rs);
    }
    render();
  };
  EventHandler onReplicaSetEvent = [state, render](kube::WatchEvent&& event) {
    if (event.type == kube::WatchEventType::Bookmark) {
      return;
    }
    auto rsName = kube::nameOf(event.object);
    if (event.type == kube::WatchEventType::Deleted) {
      state->replicaSets.erase(rsName);
    } else {
      state->replicaSets[rsName] = std::move(event.object);
    }
    render();
  };
  ListHandler onRuns = [state, render](std::vector<json::object> items) {
    state->runs.clear();
    for (auto& run : items) {
      auto runName = kube::nameOf(run);
      state->runs[runName] = std::move(run);
    }
    render();
  };
  EventHandler onRunEvent = [state, render](kube::WatchEvent&& event) {
    if (event.type == kube::WatchEventType::Bookmark) {
      return;
    }
    auto runName = kube::nameOf(event.object);
    if (event.type == kube::WatchEventType::Deleted) {
      state->runs.erase(runName);
    } else {
      state->runs[runName] = std::move(event.object);
    }
    render();
  };
  ListHandler onRollouts = [state, render, stopAll](std::vector<json::object> items) {
    if (items.empty()) {
      state->rolloutDeleted = true;
      stopAll();
      return;
    }
    state->rollout = std::move(items.front());
    render();
  };
  EventHandler onRolloutEvent = [state, render, stopAll](kube::WatchEvent&& event) {
    if (event.type == kube::WatchEventType::Bookmark) {
      return;
    }
    if (event.type == kube::WatchEventType::Deleted) {
      state->rolloutDeleted = true;
      stopAll();
      return;
    }
    state->rollout = std::move(event.object);
    render();
  };

  // The first frame from a read of all three; each watch starts where its read was.
  kube::ListOptions rsOptions;
  rsOptions.labelSelector = labelSelectorOfReplicaSets();
  auto replicaSets = co_await client_.list(kube::resources::kReplicaSets, ns_, rsOptions);
  if (!replicaSets) {
    co_return co_await fail(replicaSets.error(), name);
  }
  std::string rsVersion = replicaSets->resourceVersion;
  auto runSelector = analysisRunSelector(name);
  std::string runVersion;
  std::vector<json::object> runItems;
  if (runSelector) {
    kube::ListOptions runOptions;
    runOptions.labelSelector = *runSelector;
    auto runs = co_await client_.list(kAnalysisRuns, ns_, runOptions);
    if (runs) {
      runVersion = runs->resourceVersion;
      runItems = std::move(runs->items);
    } else {
      state->runsUnavailable = runsUnavailable(runs.error());
      if (!state->runsUnavailable) {
        co_return co_await fail(runs.error(), name);
      }
    }
  }
  state->rollout = std::move(*object);
  for (auto& run : runItems) {
    auto runName = kube::nameOf(run);
    state->runs[runName] = std::move(run);
  }
  onReplicaSets(std::move(replicaSets->items));

  FollowSpec rsSpec{kube::resources::kReplicaSets, ns_, labelSelectorOfReplicaSets(), "",
                    rsVersion};
  auto executor = co_await asio::this_coro::executor;
  asio::co_spawn(
      executor,
      follow(client_, std::move(rsSpec), onReplicaSets, onReplicaSetEvent, replicaSetCancel),
      [state, stopAll](std::exception_ptr e, Result<void> result) {
        if (e) {
          std::rethrow_exception(e);
        }
        if (!result && !state->failure) {
          state->failure = result.error();
          stopAll();
        }
      });
  if (runSelector && !state->runsUnavailable) {
    // A follow of the runs that ends (their API deleted, access revoked) says so in the frame
    // and leaves the Rollout's and the ReplicaSets' running.
    FollowSpec runSpec{kAnalysisRuns, ns_, *runSelector, "", runVersion};
    asio::co_spawn(executor, follow(client_, std::move(runSpec), onRuns, onRunEvent, runCancel),
                   [state, render](std::exception_ptr e, Result<void> result) {
                     if (e) {
                       std::rethrow_exception(e);
                     }
                     if (!result) {
                       state->runsUnavailable = runsUnavailable(result.error());
                       if (!state->runsUnavailable) {
                         state->runsUnavailable = result.error().describe();
                       }
                       render();
                     }
                   });
  }
  FollowSpec rolloutSpec{kRollouts, ns_, "", "metadata.name=" + name,
                         kube::resourceVersionOf(*state->rollout)};
  auto followed =
      co_await follow(client_, std::move(rolloutSpec), onRollouts, onRolloutEvent, rolloutCancel);
  stopAll();
  if (!followed && !state->failure) {
    state->failure = followed.error();
  }
  if (state->failure) {
    co_return co_await fail(*state->failure, name);
  }
  if (state->rolloutDeleted) {
    fmt::print(stderr, "Error: rollout \"{}\" was deleted from namespace \"{}\"\n", name, ns_);
    co_return kExitFailed;
  }
  co_return kExitOk;  // Ctrl-C
}

asio::awaitable<int> Commands::getAnalysisRun(std::string name) {
  auto object = co_await client_.get(kAnalysisRuns, ns_, name);
  if (!object) {
    co_return co_await failAbout(object.error(), kAnalysisRuns, crds::kAnalysisRunKind, name);
  }
  out(renderAnalysisRun(*object, std::chrono::system_clock::now()));
  co_return kExitOk;
}

asio::awaitable<int> Commands::list(bool allNamespaces, std::vector<std::string> phases,
                                    bool names) {
  std::string ns = allNamespaces ? "" : ns_;
  RolloutList rollouts(std::move(phases));
  kube::ListOptions all;
  auto listed = co_await forEachListed(
      client_, kRollouts, ns, all, [&](const json::object& item) { rollouts.addRollout(item); });
  if (!listed) {
    co_return co_await fail(listed.error(), kAnyRollout);
  }
  if (rollouts.empty()) {
    fmt::print(stderr, "{}", rollouts.emptyMessage(ns_, allNamespaces));
    co_return kExitOk;
  }
  if (names) {
    out(rollouts.renderNames());
    co_return kExitOk;
  }
  // The images: one paged list of the ReplicaSets MC made, matched to the Rollouts by name.
  if (rollouts.needsReplicaSets()) {
    kube::ListOptions options;
    options.labelSelector = labelSelectorOfReplicaSets();
    auto replicaSets =
        co_await forEachListed(client_, kube::resources::kReplicaSets, ns, std::move(options),
                               [&](const json::object& item) { rollouts.addReplicaSet(item); });
    if (!replicaSets && replicaSets.error().kind != ErrorKind::Forbidden) {
      co_return co_await fail(replicaSets.error(), kAnyRollout);
    }
    if (!replicaSets) {
      // Rollouts readable, ReplicaSets not: the table still answers which are mid-canary.
      fmt::print(stderr,
                 "Warning: images from the Rollouts' templates, not their ReplicaSets: {}\n",
                 replicaSets.error().message);
    }
  }
  out(rollouts.render(std::chrono::system_clock::now(), allNamespaces));
  co_return kExitOk;
}

// A request to MC, written to the Rollout's status (merge patch of the status subresource),
// naming who asks: the chart's admission policy refuses a request whose requestedBy is not the
// user the apiserver authenticated.
asio::awaitable<Result<json::object>> Commands::patchStatus(const std::string& name,
                                                            const std::string& body,
                                                            kube::PatchType type) {
  auto username = co_await whoAmI();
  if (!username) {
    co_return username.error();
  }
  kube::PatchOptions options;
  options.subresource = "status";
  std::string request = withRequester(body, *username, reason_);
  co_return co_await client_.patch(kRollouts, ns_, name, type, request, options);
}

asio::awaitable<Result<std::string>> Commands::whoAmI() {
  if (username_) {
    co_return *username_;
  }
  static const kube::ResourceType kSelfSubjectReviews{"authentication.k8s.io", "v1",
                                                      "selfsubjectreviews", false};
  json::object review{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}};
  auto answered = co_await client_.create(kSelfSubjectReviews, "", std::move(review));
  if (!answered) {
    auto error = answered.error();
    error.message =
        "cannot learn who you are from the apiserver (SelfSubjectReview): " + error.message;
    co_return error;
  }
  std::string username = stringAt(objectAt(objectAt(*answered, "status"), "userInfo"), "username");
  if (username.empty()) {
    co_return makeError(ErrorKind::Invalid, "the apiserver's SelfSubjectReview names no user");
  }
  username_ = username;
  co_return username;
}

struct Commands::Chain {
  std::string name;
  crds::AuditChainHead head;
  std::vector<audit::ChainRecord> records;
};

asio::awaitable<Result<Commands::Chain>> Commands::readChain(const std::string& rollout) {
  static const kube::ResourceType& kChains = crds::resources::kAuditChains;
  Chain chain;
  chain.name = audit::rolloutChain(rollout);
  auto object = co_await client_.get(kChains, ns_, chain.name);
  if (!object && object.error().kind == ErrorKind::NotFound) {
    co_return makeError(ErrorKind::NotFound,
                        fmt::format("rollout \"{}\" has no audit chain in namespace \"{}\" "
                                    "(AuditChain {}): MC has recorded no decision of it",
                                    rollout, ns_, chain.name));
  }
  if (!object) {
    co_return object.error();
  }
  auto head = crds::readAuditChainHead(*object);
  if (!head) {
    co_return head.error();
  }
  chain.head = *head;
  kube::ListOptions options;
  options.labelSelector = audit::chainSelector(chain.name);
  auto listed = co_await client_.listAll(crds::resources::kAuditRecords, ns_, options, 500);
  if (!listed) {
    co_return listed.error();
  }
  for (const auto& item : listed->items) {
    const auto* spec = item.if_contains("spec");
    auto read = crds::readAuditRecordSpec(spec != nullptr ? *spec : json::value());
    if (!read) {
      co_return makeError(ErrorKind::Invalid, fmt::format("audit record {}: {}", kube::nameOf(item),
                                                          read.error().fieldMessage()));
    }
    if (read->chain == chain.name) {
      chain.records.push_back({kube::nameOf(item), std::move(*read)});
    }
  }
  co_return chain;
}

asio::awaitable<int> Commands::auditLog(std::string name, bool json) {
  auto chain = co_await readChain(name);
  if (!chain) {
    co_return co_await fail(chain.error(), name);
  }
  out(json ? auditLogJson(std::move(chain->records)) : auditLogTable(std::move(chain->records)));
  co_return kExitOk;
}

asio::awaitable<int> Commands::auditVerify(std::string name) {
  auto chain = co_await readChain(name);
  if (!chain) {
    co_return co_await fail(chain.error(), name);
  }
  auto verdict = audit::verifyChain(chain->name, chain->records, chain->head);
  out(verifyReport(chain->name, verdict, chain->head));
  co_return verdict.intact() ? kExitOk : kExitFailed;
}

asio::awaitable<int> Commands::promote(std::string name, bool full) {
  for (int attempt = 1;; ++attempt) {
    auto object = co_await client_.get(kRollouts, ns_, name);
    if (!object) {
      co_return co_await fail(object.error(), name);
    }
    auto rollout = parseRollout(*object);
    if (!rollout) {
      co_return co_await fail(rollout.error(), name);
    }
    if (auto promotable = checkPromotable(*rollout, name, full); !promotable) {
      co_return co_await fail(promotable.error(), name);
    }
    auto body = promotePatch(*rollout, full);
    auto patched = co_await patchStatus(name, body, kube::PatchType::Json);
    if (patched) {
      out(fmt::format("rollout \"{}\" promoted{}\n", name, full ? " fully" : ""));
      co_return kExitOk;
    }
    // A failed test operation (a bare 422) or a conflict: the controller moved on since the
    // read, so decide again from the state it is in now.
    const auto& error = patched.error();
    bool stale = error.kind == ErrorKind::Conflict || error.httpStatus == 422;
    if (!stale || attempt >= kMaxAttempts) {
      co_return co_await fail(patched.error(), name);
    }
  }
}

asio::awaitable<int> Commands::abort(std::string name) {
  const std::string body = R"({"status":{"abort":true}})";
  auto patched = co_await patchStatus(name, body);
  if (!patched) {
    co_return co_await fail(patched.error(), name);
  }
  out(fmt::format("rollout \"{}\" aborted\n", name));
  co_return kExitOk;
}

asio::awaitable<int> Commands::retry(std::string name) {
  auto object = co_await client_.get(kRollouts, ns_, name);
  if (!object) {
    co_return co_await fail(object.error(), name);
  }
  auto rollout = parseRollout(*object);
  if (!rollout) {
    co_return co_await fail(rollout.error(), name);
  }
  if (auto retryable = checkRetryable(*rollout, name); !retryable) {
    co_return co_await fail(retryable.error(), name);
  }
  const std::string body = R"({"status":{"abort":false}})";
  auto patched = co_await patchStatus(name, body);
  if (!patched) {
    co_return co_await fail(patched.error(), name);
  }
  out(fmt::format("rollout \"{}\" retried\n", name));
  co_return kExitOk;
}

asio::awaitable<int> Commands::setPaused(std::string name, bool paused) {
  // null deletes the field: a resumed Rollout looks as if it had never been paused.
  const std::string body = paused ? R"({"spec":{"paused":true}})" : R"({"spec":{"paused":null}})";
  auto patched = co_await client_.patch(kRollouts, ns_, name, kube::PatchType::Merge, body);
  if (!patched) {
    co_return co_await fail(patched.error(), name);
  }
  out(fmt::format("rollout \"{}\" {}\n", name, paused ? "paused" : "resumed"));
  co_return kExitOk;
}

asio::awaitable<int> Commands::undo(std::string name, std::optional<int64_t> toRevision) {
  for (int attempt = 1;; ++attempt) {
    auto object = co_await client_.get(kRollouts, ns_, name);
    if (!object) {
      co_return co_await fail(object.error(), name);
    }
    auto rollout = parseRollout(*object);
    if (!rollout) {
      co_return co_await fail(rollout.error(), name);
    }
    auto owned = co_await ownedReplicaSetsOf(*object);
    if (!owned) {
      co_return co_await fail(owned.error(), name);
    }
    auto target = undoTarget(*rollout, name, *owned, toRevision);
    if (!target) {
      co_return co_await fail(target.error(), name);
    }
    if (target->alreadyCurrent) {
      out(fmt::format("rollout \"{}\" has the template of revision {} already\n", name,
                      target->revision));
      co_return kExitOk;
    }
    std::string readVersion = kube::resourceVersionOf(*object);
    auto body = undoPatch(*target, readVersion);
    auto patched = co_await client_.patch(kRollouts, ns_, name, kube::PatchType::Json, body);
    if (patched) {
      out(fmt::format("rollout \"{}\" rolled back to revision {} ({}){}\n", name, target->revision,
                      target->replicaSet,
                      target->knownGood.empty()
                          ? ""
                          : fmt::format(", the last known-good: {}", target->knownGood)));
      co_return kExitOk;
    }
    // A failed test operation comes back as a bare 422 ("the server rejected our request"):
    // if the Rollout moved on since the read, that was it, so decide again from its new state.
    const auto& error = patched.error();
    bool stale = error.kind == ErrorKind::Conflict;
    if (!stale && error.httpStatus == 422 && attempt < kMaxAttempts) {
      auto reread = co_await client_.get(kRollouts, ns_, name);
      stale = reread && kube::resourceVersionOf(*reread) != readVersion;
    }
    if (!stale || attempt >= kMaxAttempts) {
      co_return co_await fail(error, name);
    }
  }
}

namespace {

// `patch` as a JSON patch that replaces spec.template if the Rollout is still at `version`.
std::string replaceTemplate(const json::object& podTemplate, const std::string& version) {
  return json::serialize(json::array{
      json::object{{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", version}},
      json::object{{"op", "replace"}, {"path", "/spec/template"}, {"value", podTemplate}}});
}

std::optional<WallTime> timeOf(const json::object* object, std::string_view key) {
  return parseTime(stringAt(object, key));
}

}  // namespace

asio::awaitable<int> Commands::drill(std::string name, DrillOptions options) {
  auto object = co_await client_.get(kRollouts, ns_, name);
  if (!object) {
    co_return co_await fail(object.error(), name);
  }
  auto rollout = parseRollout(*object);
  if (!rollout) {
    co_return co_await fail(rollout.error(), name);
  }
  const auto& st = rollout->status;
  if (st.phase != crds::phase::kHealthy || st.canaryRS || !st.stablePodHash) {
    co_return co_await fail(
        makeError(ErrorKind::Invalid,
                  fmt::format("rollout \"{}\" is {}: a drill starts from a Healthy Rollout with "
                              "no canary",
                              name, st.phase.value_or("without a status"))),
        name);
  }
  DrillTimeline timeline;
  timeline.ns = ns_;
  timeline.rollout = name;
  timeline.change = options.changeText;
  timeline.timeout = std::chrono::duration_cast<std::chrono::seconds>(options.timeout);
  timeline.started = std::chrono::system_clock::now();
  timeline.id = fmt::format("drill-{}", std::chrono::duration_cast<std::chrono::seconds>(
                                            timeline.started.time_since_epoch())
                                            .count());
  const json::object original = rollout->spec.podTemplate;
  auto bad = drillTemplate(original, options.change, timeline.id);
  if (!bad) {
    co_return co_await fail(bad.error(), name);
  }
  const std::string drillHash =
      crds::podTemplateHash(*bad, rollout->status.collisionCount.value_or(0));
  auto applied = co_await client_.patch(kRollouts, ns_, name, kube::PatchType::Json,
                                        replaceTemplate(*bad, kube::resourceVersionOf(*object)));
  if (!applied) {
    co_return co_await fail(applied.error(), name);
  }
  out(
      fmt::format("drill {}: rollout \"{}\" now runs the bad revision ({}); following it for "
                  "{} s\n",
                  timeline.id, name, timeline.change, timeline.timeout.count()));

  // Poll until the deadline: MC rolls back (traffic and pods), or promotes the bad revision.
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (!timeline.passed() && !timeline.promoted && !interrupted_ &&
         std::chrono::steady_clock::now() < deadline) {
    auto seen = co_await observeDrill(name, drillHash, timeline);
    if (!seen && !seen.error().retryable()) {
      co_return co_await fail(seen.error(), name);
    }
    timer.expires_after(std::chrono::milliseconds(250));
    co_await timer.async_wait(kNoThrow);
  }

  if (!options.keep) {
    // Put the template back, if it is still the drill's: the stable's pods never changed.
    for (int attempt = 1; attempt <= kMaxAttempts && !timeline.restored; ++attempt) {
      auto now = co_await client_.get(kRollouts, ns_, name);
      if (!now) break;
      auto current = parseRollout(*now);
      if (!current || current->spec.podTemplate != *bad) break;
      auto put = co_await client_.patch(kRollouts, ns_, name, kube::PatchType::Json,
                                        replaceTemplate(original, kube::resourceVersionOf(*now)));
      timeline.restored = bool(put);
    }
  }
  std::string report = drillMarkdown(timeline);
  out("\n" + report);
  if (!options.reportFile.empty()) {
    std::ofstream(options.reportFile) << report;
    std::ofstream(options.reportFile + ".json") << drillJson(timeline);
  }
  co_return timeline.passed() ? kExitOk : kExitFailed;
}

asio::awaitable<Result<void>> Commands::observeDrill(const std::string& name,
                                                     const std::string& drillHash,
                                                     DrillTimeline& timeline) {
  const auto now = std::chrono::system_clock::now();
  auto object = co_await client_.get(kRollouts, ns_, name);
  if (!object) {
    co_return object.error();
  }
  const json::object* status = objectAt(*object, "status");
  const std::string canaryRs = fmt::format("{}-{}", name, drillHash);
  if (stringAt(status, "stablePodHash") == drillHash) {
    timeline.promoted = true;
    co_return Result<void>();
  }
  auto rs = co_await client_.get(kube::resources::kReplicaSets, ns_, canaryRs);
  // MC's records of this drill's canary (decided after the drill was applied): when it started
  // and when it was aborted, to the microsecond.
  kube::ListOptions chain;
  chain.labelSelector = audit::chainSelector(audit::rolloutChain(name));
  auto records = co_await client_.list(crds::resources::kAuditRecords, ns_, chain);
  for (const auto& item : records ? records->items : std::vector<json::object>{}) {
    const auto* spec = objectAt(item, "spec");
    auto at = timeOf(spec, "at");
    if (!at || *at + std::chrono::seconds(1) < timeline.started) continue;
    const std::string action = stringAt(spec, "action");
    if ((action == "CanaryStarted" || action == "Retried") && !timeline.canaryStarted) {
      timeline.canaryStarted = at;
    }
    if (action == crds::event::kAborted && !timeline.aborted) {
      timeline.aborted = at;
      timeline.abortedBy = stringAt(spec, "actor");
      timeline.abortReason = stringAt(spec, "reason");
    }
  }
  if (rs && !timeline.canaryStarted) {  // no record to read (no RBAC on them)
    timeline.canaryStarted = timeOf(objectAt(*rs, "metadata"), "creationTimestamp");
  }
  // The first Failed measurement of the drill's runs, as the AnalysisRun controller timed it.
  kube::ListOptions runsOf;
  runsOf.labelSelector =
      fmt::format("{}={},{}={}", crds::kRolloutLabel, crds::rolloutLabelValue(name),
                  crds::kPodTemplateHashLabel, drillHash);
  auto runs = co_await client_.list(kAnalysisRuns, ns_, runsOf);
  if (runs) {
    for (const auto& run : runs->items) {
      for (const auto& result : [&] {
             const auto* list = arrayAt(objectAt(run, "status"), "metricResults");
             return list != nullptr ? *list : json::array();
           }()) {
        const auto* measurements = arrayAt(&result.as_object(), "measurements");
        for (const auto& m : measurements != nullptr ? *measurements : json::array()) {
          const auto& measurement = m.as_object();
          auto at = timeOf(&measurement, "finishedAt");
          if (stringAt(measurement, "phase") == crds::analysis::kFailed && at &&
              (!timeline.firstFailure || *at < *timeline.firstFailure)) {
            timeline.firstFailure = at;
            timeline.failure = fmt::format("{} of {}: {}", stringAt(result.as_object(), "name"),
                                           kube::nameOf(run), stringAt(measurement, "message"));
          }
        }
      }
    }
  }
  if (!timeline.aborted && stringAt(status, "phase") == crds::phase::kDegraded) {
    timeline.aborted = now;  // no record to read (no RBAC on them): when it was seen
  }
  if (timeline.aborted && !timeline.trafficBack && intAt(status, "canaryWeight", 0) == 0) {
    timeline.trafficBack = now;
  }
  if (timeline.aborted && !timeline.podsGone && timeline.canaryStarted &&
      (!rs || (intAt(objectAt(*rs, "spec"), "replicas", 1) == 0 &&
               intAt(objectAt(*rs, "status"), "replicas", 0) == 0))) {
    timeline.podsGone = now;
  }
  co_return Result<void>();
}

asio::awaitable<int> Commands::status(std::string name, std::chrono::milliseconds timeout,
                                      std::string timeoutText) {
  struct State {
    std::optional<Progress> last;
    std::optional<int> exitCode;
    std::optional<Error> failure;
  };
  auto state = std::make_shared<State>();
  auto cancel = std::make_shared<http::StreamCancel>();
  streams_ = {cancel};

  auto evaluate = [state, cancel, name](const json::object& object) {
    if (state->exitCode) {
      return;  // decided; events still queued in this chunk change nothing
    }
    auto rollout = parseRollout(object);
    if (!rollout) {
      state->failure = rollout.error();
      cancel->cancel();
      return;
    }
    auto progress = progressOf(*rollout);
    if (progress != state->last) {
      out(progress.describe() + "\n");
      state->last = progress;
    }
    if (!progress.observed) {
      return;
    }
    if (progress.phase == crds::phase::kHealthy) {
      out(fmt::format("rollout \"{}\" is Healthy\n", name));
      state->exitCode = kExitOk;
      cancel->cancel();
    } else if (progress.phase == crds::phase::kDegraded ||
               progress.phase == crds::phase::kRolledBack) {
      // Both end the wait: the current template is not what serves, and will not be by itself.
      fmt::print(stderr, "Error: rollout \"{}\" is {}: {}\n", name, progress.phase,
                 progress.message);
      state->exitCode = kExitFailed;
      cancel->cancel();
    }
  };
  ListHandler onList = [state, evaluate, cancel, this, name](std::vector<json::object> items) {
    if (items.empty()) {
      state->failure = makeError(
          ErrorKind::NotFound, fmt::format("rollouts.mc.maestro.dev \"{}\" not found", name), 404);
      cancel->cancel();
      return;
    }
    evaluate(items.front());
  };
  EventHandler onEvent = [state, evaluate, cancel, this, name](kube::WatchEvent&& event) {
    if (event.type == kube::WatchEventType::Deleted) {
      state->failure =
          makeError(ErrorKind::NotFound,
                    fmt::format("rollout \"{}\" was deleted from namespace \"{}\"", name, ns_));
      cancel->cancel();
    } else if (event.type != kube::WatchEventType::Bookmark) {
      evaluate(event.object);
    }
  };

  auto executor = co_await asio::this_coro::executor;
  auto timer = std::make_shared<asio::steady_timer>(executor);
  if (timeout.count() > 0) {
    timer->expires_after(timeout);
    timer->async_wait([state, cancel, name, timeoutText](const boost::system::error_code& ec) {
      if (ec || state->exitCode || state->failure) {
        return;
      }
      std::string why = state->last ? (state->last->observed && !state->last->message.empty()
                                           ? state->last->message
                                           : state->last->describe())
                                    : "the rollout was not read yet";
      fmt::print(stderr, "Error: rollout \"{}\" not Healthy after {}: {}\n", name, timeoutText,
                 why);
      state->exitCode = kExitFailed;
      cancel->cancel();
    });
  }
  FollowSpec spec{kRollouts, ns_, "", "metadata.name=" + name, ""};
  auto followed = co_await follow(client_, std::move(spec), onList, onEvent, cancel);
  timer->cancel();
  if (!followed && !state->failure) {
    state->failure = followed.error();
  }
  if (state->failure) {
    co_return co_await fail(*state->failure, name);
  }
  if (state->exitCode) {
    co_return *state->exitCode;
  }
  co_return interrupted_ ? kExitInterrupted : kExitFailed;
}

}  // namespace mc::cli
