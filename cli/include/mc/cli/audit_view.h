#pragma once

#include <string>
#include <vector>

#include "mc/audit/chain.h"
#include "mc/crds/audit.h"

// What `kubectl mc audit log` and `kubectl mc audit verify` print, as pure functions of the
// records and the chain's head.
namespace mc::cli {

// SEQ, WHEN, ACTOR, ACTION, FROM -> TO, REASON: one row a record, in seq order.
std::string auditLogTable(std::vector<audit::ChainRecord> records);
// The records in seq order as a JSON array of {name, spec}, for tools.
std::string auditLogJson(std::vector<audit::ChainRecord> records);
// "chain rollout-web: 12 records (seq 1 to 12), every hash and link verified; head seq 12" or
// "chain rollout-web is BROKEN at seq 4 (web.1a2b.a1.step-2): its content does not match ...".
std::string verifyReport(const std::string& chain, const audit::ChainVerdict& verdict,
                         const crds::AuditChainHead& head);

// "web=registry/web:v1" -> "registry/web:v1" for one container; several stay name=image.
std::string shortImages(const std::string& images);

}  // namespace mc::cli
