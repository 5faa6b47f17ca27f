#pragma once

#include <algorithm>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "mc/audit/chain.h"
#include "mc/audit/sink.h"
#include "mc/audit/writer.h"
#include "mc/common/clock.h"
#include "mc/runtime/kube_client.h"

namespace mc::audit {

// Records are pruned once they are older than `maxAge` *and* beyond the newest `keep` of their
// chain, so etcd never holds an unbounded chain and a quiet Rollout keeps its history.
// They go in batches of at least `batch` (a tenth of keep, 2 to 100), so a chain does not gain
// a checkpoint per run: a checkpoint is a record too, and makes one more record prunable.
struct RetentionPolicy {
  std::chrono::seconds maxAge{std::chrono::hours(24 * 90)};
  int64_t keep = 1000;
  int64_t batch() const { return std::clamp<int64_t>(keep / 10, 2, 100); }
};

// The seq through which records may go (0: none): the longest run of the oldest records (sorted
// by seq) each older than maxAge and beyond the newest `keep` of the head.
int64_t prunableThrough(const std::vector<ChainRecord>& records, const crds::AuditChainHead& head,
                        std::chrono::system_clock::time_point now, const RetentionPolicy& policy);

// Retention of one chain: the records to prune are first mirrored to the sink, then a checkpoint
// record (through `log`, so it is one link like any other) vouches for the prefix they form,
// then they are deleted, oldest first. Killed midway, the next run finds the checkpoint and
// finishes the deletes; `verifyChain` accepts the chain at every point in between.
class Retention {
 public:
  Retention(kube::Client& client, AuditLog& log, Sink* sink, RetentionPolicy policy,
            const Clock& clock = systemClock());

  // The number of records deleted.
  boost::asio::awaitable<Result<int64_t>> prune(std::string ns, std::string chain);

 private:
  kube::Client& client_;
  AuditLog& log_;
  Sink* sink_;
  RetentionPolicy policy_;
  const Clock& clock_;
};

}  // namespace mc::audit
