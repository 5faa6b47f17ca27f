#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "mc/audit/sink.h"
#include "mc/common/error.h"
#include "mc/crds/audit.h"
#include "mc/runtime/kube_client.h"

namespace mc::audit {

// The chain of a Rollout's decisions, and the one of its namespace's verdicts of no Rollout.
// AuditChain names: "rollout-<name>" (a name too long for that keeps its start and a hash of the
// whole), and "namespace".
std::string rolloutChain(std::string_view rollout);
inline constexpr std::string_view kNamespaceChain = "namespace";
// The label selector of a chain's records (the label value is the chain's name, cut to 63).
std::string chainSelector(std::string_view chain);

// A decision to put on record. `spec` holds what the decider knows (actor, action, subject,
// revision, from, to, reason, evidence, at); the log adds the chain's seq and hashes.
struct Entry {
  std::string name;  // the AuditRecord's name, derived from the decision (the same on a re-plan)
  std::string chain;
  crds::AuditRecordSpec spec;
};

// Where decisions go on record before they take effect. Called from controllers on the
// manager's executor, only while this replica leads: one writer per chain, so no fork.
class AuditLog {
 public:
  virtual ~AuditLog() = default;
  // Done once the record is in the apiserver: written now, or found already there (a decision
  // re-planned after a crash). An error means the decision must not be acted on.
  virtual boost::asio::awaitable<Result<void>> append(std::string ns, Entry entry) = 0;
};

// The AuditLog on the apiserver: AuditRecords, and each chain's head in its AuditChain's status.
// It keeps each chain's head and record names it has seen, read once per chain (a list of the
// chain's records), and again after any failed write; a record found past the head (written just
// before a crash) is taken into the head before the next is written. Appends to one chain are
// serialised. Every record written is mirrored to `sink` (may be null).
class ChainWriter final : public AuditLog {
 public:
  ChainWriter(kube::Client& client, Sink* sink);
  ~ChainWriter() override;

  boost::asio::awaitable<Result<void>> append(std::string ns, Entry entry) override;

  uint64_t written() const { return written_; }

 private:
  struct Chain;
  boost::asio::awaitable<Result<void>> appendLocked(Chain& chain, const std::string& ns,
                                                    Entry& entry);
  boost::asio::awaitable<Result<void>> load(Chain& chain, const std::string& ns,
                                            const std::string& name, const std::string& subject);
  boost::asio::awaitable<Result<void>> advanceHead(Chain& chain, const std::string& ns,
                                                   const std::string& record,
                                                   const crds::AuditRecordSpec& spec);

  kube::Client& client_;
  Sink* sink_;
  std::map<std::string, std::unique_ptr<Chain>> chains_;  // "<ns>/<chain>"
  uint64_t written_ = 0;
};

// The AuditRecord object MC creates for `spec` (hash filled in), labelled with its chain and seq.
boost::json::object recordObject(const std::string& ns, const std::string& name,
                                 const crds::AuditRecordSpec& spec);

}  // namespace mc::audit
