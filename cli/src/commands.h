#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mc/cli/analysis_view.h"
#include "mc/cli/drill.h"
#include "mc/runtime/kube_client.h"

namespace mc::cli {

// Exit codes of kubectl-mc.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;  // the apiserver said no, the rollout failed or timed out
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

// The subcommands of `kubectl mc`, each a coroutine that prints its result (stdout) or its error
// (stderr, "Error: ...") and returns the exit code. One instance per process; all coroutines
// and interrupt() run on the client's executor.
class Commands {
 public:
  Commands(kube::Client& client, std::string ns, bool tty);
  ~Commands();

  // A Rollout, its ReplicaSets and its current attempt's AnalysisRuns; with `watch`, again on
  // every change of any of them.
  boost::asio::awaitable<int> get(std::string name, bool watch);
  boost::asio::awaitable<int> getAnalysisRun(std::string name);
  // The Rollouts of the namespace (or all, with a NAMESPACE column) in the given phases (empty:
  // all), as a table or, with `names`, as kubectl's `-o name`.
  boost::asio::awaitable<int> list(bool allNamespaces, std::vector<std::string> phases, bool names);
  boost::asio::awaitable<int> promote(std::string name, bool full);
  boost::asio::awaitable<int> abort(std::string name);
  boost::asio::awaitable<int> retry(std::string name);
  boost::asio::awaitable<int> setPaused(std::string name, bool paused);
  boost::asio::awaitable<int> undo(std::string name, std::optional<int64_t> toRevision);
  // `timeout` zero: wait for ever; `timeoutText` is how the user wrote it, for the message.
  boost::asio::awaitable<int> status(std::string name, std::chrono::milliseconds timeout,
                                     std::string timeoutText);
  // The Rollout's audit chain as a table (or JSON), and its verification (exit 1 if broken).
  boost::asio::awaitable<int> auditLog(std::string name, bool json);
  boost::asio::awaitable<int> auditVerify(std::string name);

  // A game-day drill: deploys `change` as a canary marked as a drill, follows it until MC rolls
  // it back (exit 0) or `timeout` passes or MC promotes it (exit 1), puts the template back unless
  // `keep`, and prints the report (Markdown; `reportFile` gets it too, and FILE.json the JSON).
  struct DrillOptions {
    DrillChange change;
    std::string changeText;
    std::chrono::milliseconds timeout{std::chrono::minutes(10)};
    std::string reportFile;
    bool keep = false;
  };
  boost::asio::awaitable<int> drill(std::string name, DrillOptions options);

  // The --reason that goes with the requests (promote, abort, retry).
  void setReason(std::string reason) { reason_ = std::move(reason); }

  // Ctrl-C: ends a running watch, and the command returns kExitInterrupted (get --watch:
  // kExitOk). False if no watch runs: the caller stops the command itself.
  bool interrupt();

 private:
  // Writes a person's request to the Rollout's status subresource, naming them (withRequester).
  boost::asio::awaitable<Result<boost::json::object>> patchStatus(
      const std::string& name, const std::string& body,
      kube::PatchType type = kube::PatchType::Merge);
  struct Watch;
  // Prints why a request about Rollout `name` failed, for people; kExitFailed.
  boost::asio::awaitable<int> fail(const Error& error, const std::string& name);
  // The same about an object of `type` (`kind` as the API spells it: "AnalysisRun").
  boost::asio::awaitable<int> failAbout(const Error& error, const kube::ResourceType& type,
                                        const char* kind, const std::string& name);
  boost::asio::awaitable<Result<std::vector<boost::json::object>>> ownedReplicaSetsOf(
      boost::json::object rollout);
  // The Rollout's AnalysisRuns (one list by its label), or why they cannot be shown.
  boost::asio::awaitable<Result<RolloutRuns>> analysisRunsOf(boost::json::object rollout);
  // One look at the drill's canary: what it shows now goes into `timeline`.
  boost::asio::awaitable<Result<void>> observeDrill(const std::string& name,
                                                    const std::string& drillHash,
                                                    DrillTimeline& timeline);
  // Who the apiserver says this client is (a SelfSubjectReview), asked once.
  boost::asio::awaitable<Result<std::string>> whoAmI();
  // The chain of Rollout `name`: its head and its records, or why not.
  struct Chain;
  boost::asio::awaitable<Result<Chain>> readChain(const std::string& name);

  kube::Client& client_;
  std::string ns_;
  bool tty_;
  bool interrupted_ = false;
  std::string reason_;
  std::optional<std::string> username_;
  std::vector<std::shared_ptr<http::StreamCancel>> streams_;
};

}  // namespace mc::cli
