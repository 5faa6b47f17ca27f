#include "mc/crds/audit.h"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include "reader.h"

namespace mc::crds {

void tag_invoke(const json::value_from_tag&, json::value& out, const AuditRecordSpec& spec) {
  json::object o{{"chain", spec.chain},   {"seq", spec.seq},          {"actor", spec.actor},
                 {"action", spec.action}, {"subject", spec.subject},  {"from", spec.from},
                 {"to", spec.to},         {"reason", spec.reason},    {"evidence", spec.evidence},
                 {"at", spec.at},         {"prevHash", spec.prevHash}};
  put(o, "revision", spec.revision);
  if (!spec.hash.empty()) {
    o["hash"] = spec.hash;
  }
  out = std::move(o);
}

Result<AuditRecordSpec> readAuditRecordSpec(const json::value& in) {
  Reader r;
  const std::string path = "spec";
  const json::object* spec = r.asObject(in, path);
  if (spec == nullptr) {
    return *r.fault;
  }
  AuditRecordSpec out;
  out.chain = r.optString(*spec, "chain", path).value_or("");
  out.seq = r.optInt<int64_t>(*spec, "seq", path).value_or(0);
  out.actor = r.optString(*spec, "actor", path).value_or("");
  out.action = r.optString(*spec, "action", path).value_or("");
  out.subject = r.optString(*spec, "subject", path).value_or("");
  out.revision = r.optInt<int64_t>(*spec, "revision", path);
  out.from = r.optString(*spec, "from", path).value_or("");
  out.to = r.optString(*spec, "to", path).value_or("");
  out.reason = r.optString(*spec, "reason", path).value_or("");
  if (auto* evidence = r.optObject(*spec, "evidence", path)) {
    out.evidence = *evidence;
  }
  out.at = r.optString(*spec, "at", path).value_or("");
  out.prevHash = r.optString(*spec, "prevHash", path).value_or("");
  out.hash = r.optString(*spec, "hash", path).value_or("");
  if (r.fault) {
    return *r.fault;
  }
  return out;
}

void tag_invoke(const json::value_from_tag&, json::value& out, const AuditChainHead& head) {
  json::object o{{"seq", head.seq}, {"hash", head.hash}, {"record", head.record}};
  if (head.checkpoint > 0) {
    o["checkpoint"] = head.checkpoint;
  }
  out = std::move(o);
}

Result<AuditChainHead> readAuditChainHead(const json::object& auditChain) {
  Reader r;
  AuditChainHead head;
  if (auto* status = r.optObject(auditChain, "status", "")) {
    head.seq = r.optInt<int64_t>(*status, "seq", "status").value_or(0);
    head.hash = r.optString(*status, "hash", "status").value_or("");
    head.record = r.optString(*status, "record", "status").value_or("");
    head.checkpoint = r.optInt<int64_t>(*status, "checkpoint", "status").value_or(0);
  }
  if (r.fault) {
    return *r.fault;
  }
  return head;
}

}  // namespace mc::crds
