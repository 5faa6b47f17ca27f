#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "mc/common/clock.h"
#include "mc/common/error.h"
#include "mc/runtime/kubeconfig.h"

namespace mc::kube {

// What a credential plugin answered (ExecCredential.status).
struct Credential {
  std::string token;
  std::string clientCertPem;  // with clientKeyPem: a client certificate
  std::string clientKeyPem;
  std::optional<std::chrono::system_clock::time_point> expiry;  // none: until a 401
};
using CredentialPtr = std::shared_ptr<const Credential>;

// Runs a kubeconfig's exec credential plugin as kubectl does (client.authentication.k8s.io v1
// and v1beta1): the command with its args and env, KUBERNETES_EXEC_INFO describing the request
// (and the cluster, with provideClusterInfo), stdin and stderr shared with a person only when
// interactive. The answer is cached until its expirationTimestamp, or until a 401 shows the
// server no longer takes it. Errors name the plugin and say what to do (installHint included).
// get() blocks while the plugin runs: call it off the io threads. Thread-safe; one run at a time.
class ExecCredentials {
 public:
  // `interactive`: whether a person is at this process's stdin (a terminal).
  ExecCredentials(ExecConfig config, const RestConfig& cluster, bool interactive,
                  const Clock& clock = systemClock());

  // The cached credential while it has not expired; otherwise the plugin's new answer.
  Result<CredentialPtr> get();
  // The server refused `used` (401): drop it, so the next get() runs the plugin again. A
  // credential already replaced by another caller is left alone.
  void invalidate(const CredentialPtr& used);
  // How many times the plugin ran: for tests and logs.
  int runs() const;

 private:
  Result<CredentialPtr> run() const;
  std::string execInfo() const;

  ExecConfig config_;
  std::string server_;
  std::string caPem_;
  bool insecure_ = false;
  bool interactive_ = false;
  const Clock& clock_;
  mutable std::mutex mutex_;
  CredentialPtr cached_;
  int runs_ = 0;
};

// Parses a plugin's stdout: an ExecCredential of `apiVersion` with a token or a client
// certificate and key. Invalid, naming the field, otherwise.
Result<Credential> parseExecCredential(std::string_view text, std::string_view apiVersion);

// Whether stdin is a terminal a plugin could prompt on.
bool stdinIsTerminal();

}  // namespace mc::kube
