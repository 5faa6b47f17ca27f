#include "mc/audit/chain.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>

#include "mc/audit/canonical_json.h"
#include "mc/runtime/hash.h"

namespace mc::audit {
namespace {

namespace json = boost::json;

bool holdsNumber(const json::value& value) {
  if (value.is_number()) return true;
  if (value.is_array()) {
    return std::any_of(value.as_array().begin(), value.as_array().end(), holdsNumber);
  }
  if (value.is_object()) {
    for (const auto& member : value.as_object()) {
      if (holdsNumber(member.value())) return true;
    }
  }
  return false;
}

std::string evidenceString(const crds::AuditRecordSpec& spec, std::string_view key) {
  auto* value = spec.evidence.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

// The checkpoint that stands for the pruned prefix before `first`: the newest whose prefix
// reaches first's predecessor (further, while a prune's deletes are still under way).
const ChainRecord* checkpointBefore(const std::vector<ChainRecord>& records,
                                    const ChainRecord& first, int64_t& through) {
  const ChainRecord* found = nullptr;
  for (const auto& record : records) {
    if (record.spec.action != kCheckpointAction) continue;
    int64_t pruned =
        std::strtoll(evidenceString(record.spec, "prunedThrough").c_str(), nullptr, 10);
    if (pruned >= first.spec.seq - 1 && (found == nullptr || pruned > through)) {
      found = &record;
      through = pruned;
    }
  }
  return found;
}

}  // namespace

Result<std::string> recordHash(const crds::AuditRecordSpec& spec) {
  if (holdsNumber(spec.evidence)) {
    return makeError(ErrorKind::Invalid,
                     "audit evidence holds a JSON number; MC writes numbers as decimal strings");
  }
  json::value body = json::value_from(spec);
  body.as_object().erase("prevHash");
  body.as_object().erase("hash");
  auto canonical = canonicalJson(body);
  if (!canonical) {
    return canonical.error();
  }
  return kube::sha256Hex(spec.prevHash + *canonical);
}

ChainVerdict verifyChain(std::string_view chain, std::vector<ChainRecord> records,
                         const crds::AuditChainHead& head) {
  ChainVerdict verdict;
  std::stable_sort(records.begin(), records.end(),
                   [](const auto& a, const auto& b) { return a.spec.seq < b.spec.seq; });
  verdict.records = records.size();
  auto broken = [&](int64_t seq, std::string record, std::string problem) {
    verdict.broken = ChainBreak{seq, std::move(record), std::move(problem)};
    return verdict;
  };
  if (records.empty()) {
    if (head.seq > 0) {
      return broken(head.seq, head.record,
                    fmt::format("the head is seq {} but no record of the chain is left", head.seq));
    }
    return verdict;
  }
  const ChainRecord& first = records.front();
  verdict.first = first.spec.seq;
  verdict.last = records.back().spec.seq;
  if (first.spec.seq == 1) {
    if (first.spec.prevHash != kGenesisHash) {
      return broken(1, first.name,
                    "the first record does not start the chain (prevHash is not "
                    "64 zeros): records before it were replaced");
    }
  } else {
    int64_t through = 0;
    const ChainRecord* checkpoint = checkpointBefore(records, first, through);
    if (checkpoint == nullptr) {
      return broken(first.spec.seq - 1, "",
                    fmt::format("records 1 to {} are missing and no checkpoint says they were "
                                "pruned: deleted",
                                first.spec.seq - 1));
    }
    // The prefix's last record is gone (its hash must be the first's link) or, mid-prune, still
    // here (its own hash must be the one vouched for).
    const std::string vouched = evidenceString(checkpoint->spec, "prunedHash");
    const ChainRecord* end = nullptr;
    for (const auto& record : records) {
      if (record.spec.seq == through) end = &record;
    }
    bool vouchedFor = end != nullptr
                          ? end->spec.hash == vouched
                          : through == first.spec.seq - 1 && first.spec.prevHash == vouched;
    if (!vouchedFor) {
      return broken(end != nullptr ? through : first.spec.seq,
                    end != nullptr ? end->name : first.name,
                    fmt::format("does not link to the pruned prefix checkpoint {} vouches for",
                                checkpoint->name));
    }
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& record = records[i];
    if (record.spec.chain != chain) {
      return broken(record.spec.seq, record.name,
                    fmt::format("belongs to chain {}, not {}", record.spec.chain, chain));
    }
    if (i > 0) {
      const auto& previous = records[i - 1];
      if (record.spec.seq == previous.spec.seq) {
        return broken(record.spec.seq, record.name,
                      fmt::format("seq {} is held by two records, {} and {}: a fork or a copy",
                                  record.spec.seq, previous.name, record.name));
      }
      if (record.spec.seq != previous.spec.seq + 1) {
        return broken(previous.spec.seq + 1, "",
                      fmt::format("seq {} is missing (between {} and {}): a record was deleted",
                                  previous.spec.seq + 1, previous.name, record.name));
      }
      if (record.spec.prevHash != previous.spec.hash) {
        return broken(record.spec.seq, record.name,
                      fmt::format("does not link to seq {} ({}): it or its predecessor was "
                                  "recreated, or they were reordered",
                                  previous.spec.seq, previous.name));
      }
    }
    auto hash = recordHash(record.spec);
    if (!hash) {
      return broken(record.spec.seq, record.name, hash.error().message);
    }
    if (*hash != record.spec.hash) {
      return broken(record.spec.seq, record.name,
                    "its content does not match its hash: it was edited");
    }
  }
  // The head is the last word: the newest record must be it (or link on from it).
  const ChainRecord* atHead = nullptr;
  for (const auto& record : records) {
    if (record.spec.seq == head.seq) atHead = &record;
  }
  if (head.seq > verdict.last) {
    return broken(verdict.last + 1, "",
                  fmt::format("the head is seq {} but the newest record is seq {}: the newest "
                              "records were deleted",
                              head.seq, verdict.last));
  }
  if (head.seq < verdict.first - 1 || (atHead == nullptr && head.seq != verdict.first - 1)) {
    return broken(head.seq, head.record,
                  fmt::format("the head (seq {}) is not among the records", head.seq));
  }
  if (atHead != nullptr && atHead->spec.hash != head.hash) {
    return broken(head.seq, atHead->name,
                  "its hash is not the head's: the record was recreated after the head named it");
  }
  verdict.beyondHead = static_cast<size_t>(verdict.last - head.seq);
  return verdict;
}

}  // namespace mc::audit
