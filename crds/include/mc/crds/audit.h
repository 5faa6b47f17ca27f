#pragma once

#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "mc/common/error.h"

// C++ types of AuditRecord and AuditChain (crds/audit_record.yaml, crds/audit_chain.yaml;
// docs/audit.md says what each field means and how the hash is computed).
namespace mc::crds {

// One decision on record. Written once by MC; the apiserver refuses any change to it.
struct AuditRecordSpec {
  std::string chain;    // the AuditChain it belongs to ("rollout-web", "namespace")
  int64_t seq = 0;      // 1, 2, ... within the chain
  std::string actor;    // who decided: "mc", "analysis/<run>", or a person's username
  std::string action;   // CanaryStarted, StepAdvanced, Promoted, Aborted, AnalysisVerdict, ...
  std::string subject;  // what it is about: "Rollout/web"
  std::optional<int64_t> revision;  // the Rollout revision it is about, if any
  std::string from;                 // what was running ("web=registry/web@sha256:..."), or ""
  std::string to;                   // what runs after the decision, or ""
  std::string reason;               // one line for people
  // The numbers behind it, every one a decimal string (the apiserver re-encodes JSON numbers;
  // strings it keeps as they are), so the hash over it survives the round trip.
  boost::json::object evidence;
  std::string at;        // RFC 3339, when MC decided
  std::string prevHash;  // the previous record's hash; 64 zeros for seq 1
  std::string hash;      // sha256 hex of prevHash and the canonical JSON of the rest
};

// Where a chain stands: its newest record. In AuditChain's status, written only by MC.
struct AuditChainHead {
  int64_t seq = 0;     // 0: no record yet
  std::string hash;    // the newest record's hash ("" before the first)
  std::string record;  // the newest record's name
  // The newest checkpoint's seq: records before it were pruned (0: none ever were).
  int64_t checkpoint = 0;
};

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& out,
                const AuditRecordSpec& spec);
// Reads an AuditRecord's spec (the object's `spec`); Invalid naming the field at fault.
Result<AuditRecordSpec> readAuditRecordSpec(const boost::json::value& spec);

void tag_invoke(const boost::json::value_from_tag&, boost::json::value& out,
                const AuditChainHead& head);
// An AuditChain's status; an absent status is the empty chain.
Result<AuditChainHead> readAuditChainHead(const boost::json::object& auditChain);

}  // namespace mc::crds
