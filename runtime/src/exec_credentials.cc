#include "mc/runtime/exec_credentials.h"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "mc/common/timefmt.h"
#include "mc/runtime/secret.h"
#include "mc/runtime/subprocess.h"

namespace mc::kube {
namespace {

namespace json = boost::json;

constexpr size_t kStderrTail = 600;

std::string stringField(const json::object& object, std::string_view key) {
  auto* value = object.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

Error invalidAnswer(std::string_view field, std::string_view what) {
  return makeError(ErrorKind::Invalid, fmt::format("its answer's {} {}", field, what));
}

// The end of what a failed plugin printed, on one line, for the error message.
std::string tailOf(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.pop_back();
  }
  if (text.size() > kStderrTail) {
    text = "…" + text.substr(text.size() - kStderrTail);
  }
  for (char& c : text) {
    if (c == '\n' || c == '\r') {
      c = ' ';
    }
  }
  return text;
}

}  // namespace

bool stdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }

Result<Credential> parseExecCredential(std::string_view text, std::string_view apiVersion) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec || !value.is_object()) {
    return makeError(ErrorKind::Invalid, "its answer on stdout is not an ExecCredential in JSON");
  }
  const auto& object = value.as_object();
  if (auto version = stringField(object, "apiVersion"); version != apiVersion) {
    return invalidAnswer(
        "apiVersion",
        fmt::format("is \"{}\", not the \"{}\" the kubeconfig asks for", version, apiVersion));
  }
  if (stringField(object, "kind") != "ExecCredential") {
    return invalidAnswer("kind", "is not ExecCredential");
  }
  auto* status = object.if_contains("status");
  if (status == nullptr || !status->is_object()) {
    return invalidAnswer("status", "is missing");
  }
  const auto& s = status->as_object();
  Credential credential;
  credential.token = stringField(s, "token");
  credential.clientCertPem = stringField(s, "clientCertificateData");
  credential.clientKeyPem = stringField(s, "clientKeyData");
  if (credential.clientCertPem.empty() != credential.clientKeyPem.empty()) {
    return invalidAnswer("status", "has only one of clientCertificateData and clientKeyData");
  }
  if (credential.token.empty() && credential.clientCertPem.empty()) {
    return invalidAnswer("status",
                         "has neither a token nor clientCertificateData and clientKeyData");
  }
  if (auto expiry = stringField(s, "expirationTimestamp"); !expiry.empty()) {
    credential.expiry = parseTime(expiry);
    if (!credential.expiry) {
      return invalidAnswer("status.expirationTimestamp",
                           fmt::format("\"{}\" is not an RFC 3339 time", expiry));
    }
  }
  return credential;
}

ExecCredentials::ExecCredentials(ExecConfig config, const RestConfig& cluster, bool interactive,
                                 const Clock& clock)
    : config_(std::move(config)),
      server_(cluster.server),
      caPem_(cluster.caPem),
      insecure_(cluster.insecureSkipTlsVerify),
      interactive_(interactive && config_.interactiveMode != ExecConfig::InteractiveMode::Never),
      clock_(clock) {}

Result<CredentialPtr> ExecCredentials::get() {
  std::lock_guard lock(mutex_);
  if (cached_ && (!cached_->expiry || clock_.wallNow() < *cached_->expiry)) {
    return cached_;
  }
  cached_.reset();
  ++runs_;
  auto fresh = run();
  if (fresh) {
    cached_ = *fresh;
  }
  return fresh;
}

void ExecCredentials::invalidate(const CredentialPtr& used) {
  std::lock_guard lock(mutex_);
  if (cached_ == used) {
    cached_.reset();
  }
}

int ExecCredentials::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

std::string ExecCredentials::execInfo() const {
  json::object spec{{"interactive", interactive_}};
  if (config_.provideClusterInfo) {
    json::object cluster{{"server", server_}};
    if (!caPem_.empty()) {
      cluster["certificate-authority-data"] = base64Encode(caPem_);
    }
    if (insecure_) {
      cluster["insecure-skip-tls-verify"] = true;
    }
    spec["cluster"] = std::move(cluster);
  }
  return json::serialize(
      json::object{{"apiVersion", config_.apiVersion}, {"kind", "ExecCredential"}, {"spec", spec}});
}

Result<CredentialPtr> ExecCredentials::run() const {
  auto failed = [this](std::string_view what) {
    return fmt::format("credential plugin {}: {}", config_.command, what);
  };
  if (config_.interactiveMode == ExecConfig::InteractiveMode::Always && !interactive_) {
    return makeError(ErrorKind::Unauthorized,
                     failed("needs a person to answer it (interactiveMode: Always), and standard "
                            "input is not a terminal"));
  }
  auto program = findProgram(config_.command, config_.baseDir);
  if (program.empty()) {
    std::string message =
        failed(config_.command.find('/') == std::string::npos ? "not found on $PATH"
                                                              : "not found, or not executable");
    if (!config_.installHint.empty()) {
      message += "; " + tailOf(config_.installHint);
    }
    return makeError(ErrorKind::Unauthorized, std::move(message));
  }
  SubprocessOptions options{program, config_.args, config_.env, interactive_, config_.timeout};
  options.env.emplace_back("KUBERNETES_EXEC_INFO", execInfo());
  auto ran = runSubprocess(options);
  if (!ran) {
    return makeError(
        ran.error().kind == ErrorKind::Timeout ? ErrorKind::Timeout : ErrorKind::Unauthorized,
        failed(ran.error().message));
  }
  if (ran->exitCode != 0) {
    auto err = tailOf(ran->err);
    return makeError(ErrorKind::Unauthorized,
                     failed(fmt::format("exited with code {}{}{}", ran->exitCode,
                                        err.empty() ? "" : ": ", err)));
  }
  auto credential = parseExecCredential(ran->out, config_.apiVersion);
  if (!credential) {
    return makeError(ErrorKind::Unauthorized, failed(credential.error().message));
  }
  return std::make_shared<const Credential>(std::move(*credential));
}

}  // namespace mc::kube
