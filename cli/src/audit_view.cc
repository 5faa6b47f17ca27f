#include "mc/cli/audit_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "mc/cli/table.h"

namespace mc::cli {
namespace {

void bySeq(std::vector<audit::ChainRecord>& records) {
  std::stable_sort(records.begin(), records.end(),
                   [](const auto& a, const auto& b) { return a.spec.seq < b.spec.seq; });
}

std::string fromTo(const crds::AuditRecordSpec& spec) {
  if (spec.from.empty() && spec.to.empty()) {
    return "-";
  }
  std::string from = spec.from.empty() ? "(none)" : shortImages(spec.from);
  std::string to = spec.to.empty() ? "(none)" : shortImages(spec.to);
  return from == to ? to : fmt::format("{} -> {}", from, to);
}

}  // namespace

std::string shortImages(const std::string& images) {
  if (images.find(',') != std::string::npos) {
    return images;
  }
  auto eq = images.find('=');
  return eq == std::string::npos ? images : images.substr(eq + 1);
}

std::string auditLogTable(std::vector<audit::ChainRecord> records) {
  bySeq(records);
  std::vector<std::vector<std::string>> rows{
      {"SEQ", "WHEN", "ACTOR", "ACTION", "FROM -> TO", "REASON"}};
  for (const auto& record : records) {
    const auto& spec = record.spec;
    rows.push_back(
        {std::to_string(spec.seq), spec.at, spec.actor, spec.action, fromTo(spec), spec.reason});
  }
  return table(rows, 3);
}

std::string auditLogJson(std::vector<audit::ChainRecord> records) {
  bySeq(records);
  boost::json::array out;
  for (const auto& record : records) {
    out.push_back(
        boost::json::object{{"name", record.name}, {"spec", boost::json::value_from(record.spec)}});
  }
  return boost::json::serialize(out) + "\n";
}

std::string verifyReport(const std::string& chain, const audit::ChainVerdict& verdict,
                         const crds::AuditChainHead& head) {
  if (verdict.broken) {
    const auto& broken = *verdict.broken;
    return fmt::format("chain {} is BROKEN at seq {}{}: {}\n", chain, broken.seq,
                       broken.record.empty() ? "" : fmt::format(" ({})", broken.record),
                       broken.problem);
  }
  if (verdict.records == 0) {
    return fmt::format("chain {}: no records yet\n", chain);
  }
  std::string out = fmt::format(
      "chain {}: {} records (seq {} to {}), every hash and link verified; head seq {}{}\n", chain,
      verdict.records, verdict.first, verdict.last, head.seq,
      verdict.first > 1 ? fmt::format("; seq 1 to {} pruned behind a checkpoint", verdict.first - 1)
                        : "");
  if (verdict.beyondHead > 0) {
    out += fmt::format(
        "note: {} record(s) past the head, linked and intact: written just before MC stopped; "
        "MC takes them into the head with its next record\n",
        verdict.beyondHead);
  }
  return out;
}

}  // namespace mc::cli
