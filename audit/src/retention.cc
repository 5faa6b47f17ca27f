#include "mc/audit/retention.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "mc/common/timefmt.h"
#include "mc/crds/names.h"

namespace mc::audit {
namespace {

namespace json = boost::json;

std::string evidenceOf(const crds::AuditRecordSpec& spec, std::string_view key) {
  auto* value = spec.evidence.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : "";
}

// The prefix the newest checkpoint vouches for (0: none).
int64_t checkpointed(const std::vector<ChainRecord>& records) {
  int64_t through = 0;
  for (const auto& record : records) {
    if (record.spec.action == kCheckpointAction) {
      through = std::max<int64_t>(
          through, std::strtoll(evidenceOf(record.spec, "prunedThrough").c_str(), nullptr, 10));
    }
  }
  return through;
}

}  // namespace

int64_t prunableThrough(const std::vector<ChainRecord>& records, const crds::AuditChainHead& head,
                        std::chrono::system_clock::time_point now, const RetentionPolicy& policy) {
  int64_t through = 0;
  for (const auto& record : records) {
    auto at = parseTime(record.spec.at);
    bool old = at && *at < now - policy.maxAge;
    if (record.spec.seq > head.seq - policy.keep || !old) {
      break;
    }
    through = record.spec.seq;
  }
  return through;
}

Retention::Retention(kube::Client& client, AuditLog& log, Sink* sink, RetentionPolicy policy,
                     const Clock& clock)
    : client_(client), log_(log), sink_(sink), policy_(policy), clock_(clock) {}

boost::asio::awaitable<Result<int64_t>> Retention::prune(std::string ns, std::string chain) {
  auto object = co_await client_.get(crds::resources::kAuditChains, ns, chain);
  if (!object) {
    co_return object.error();
  }
  auto head = crds::readAuditChainHead(*object);
  if (!head) {
    co_return head.error();
  }
  kube::ListOptions options;
  options.labelSelector = chainSelector(chain);
  auto listed = co_await client_.listAll(crds::resources::kAuditRecords, ns, options, 500);
  if (!listed) {
    co_return listed.error();
  }
  std::vector<ChainRecord> records;
  for (const auto& item : listed->items) {
    const auto* spec = item.if_contains("spec");
    auto read = crds::readAuditRecordSpec(spec != nullptr ? *spec : json::value());
    if (read && read->chain == chain) {
      records.push_back({kube::nameOf(item), std::move(*read)});
    }
  }
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.spec.seq < b.spec.seq; });

  int64_t through = checkpointed(records);  // a prune killed before its deletes finished
  int64_t more = prunableThrough(records, *head, clock_.wallNow(), policy_);
  if (more - through >= policy_.batch()) {
    const ChainRecord* last = nullptr;
    int64_t count = 0;
    for (const auto& record : records) {
      if (record.spec.seq > more) break;
      last = &record;
      ++count;
      if (sink_ != nullptr) sink_->write(ns, record.name, record.spec);  // a copy first
    }
    Entry checkpoint;
    checkpoint.name = fmt::format("{}.checkpoint-{}", chain, more);
    checkpoint.chain = chain;
    auto& spec = checkpoint.spec;
    spec.actor = "mc";
    spec.action = kCheckpointAction;
    spec.subject = std::string(json::value_to<std::string_view>(
        object->at("spec").as_object().contains("subject") ? object->at("spec").at("subject")
                                                           : json::value("")));
    spec.reason = fmt::format(
        "retention: {} records through seq {} (older than {} s and beyond the newest {}) are "
        "pruned; their copies went to the audit sink",
        count, more, policy_.maxAge.count(), policy_.keep);
    spec.evidence = {{"prunedThrough", std::to_string(more)},
                     {"prunedHash", last->spec.hash},
                     {"prunedRecords", std::to_string(count)},
                     {"maxAgeSeconds", std::to_string(policy_.maxAge.count())},
                     {"keep", std::to_string(policy_.keep)}};
    spec.at = formatTime(clock_.wallNow());
    auto appended = co_await log_.append(ns, std::move(checkpoint));
    if (!appended) {
      co_return appended.error();  // nothing is deleted without its checkpoint
    }
    through = more;
  }
  int64_t deleted = 0;
  for (const auto& record : records) {
    if (record.spec.seq > through) break;
    auto removed = co_await client_.remove(crds::resources::kAuditRecords, ns, record.name);
    if (!removed && removed.error().kind != ErrorKind::NotFound) {
      co_return removed.error();
    }
    ++deleted;
  }
  co_return deleted;
}

}  // namespace mc::audit
