#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/audit.h"

// The hash chain of AuditRecords, as pure functions: the hash of a record, and the verification
// of a chain against its head. docs/audit.md writes the same down for tools other than MC's.
namespace mc::audit {

// The prevHash of a chain's first record.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The action of a checkpoint record, whose evidence carries `prunedThrough` (the seq of the last
// record pruned before it) and `prunedHash` (that record's hash): what the records after the
// pruned prefix link to.
inline constexpr const char* kCheckpointAction = "Checkpoint";

// sha256, lower-case hex, of `prevHash` followed by the RFC 8785 canonical JSON of the spec
// without `prevHash` and `hash`. Invalid if the evidence holds a number (MC writes them as
// decimal strings, which the apiserver keeps byte for byte).
Result<std::string> recordHash(const crds::AuditRecordSpec& spec);

// A record as read back: its object's name and spec.
struct ChainRecord {
  std::string name;
  crds::AuditRecordSpec spec;
};

struct ChainBreak {
  int64_t seq = 0;      // where the chain breaks (the record that fails, or the one missing)
  std::string record;   // the record's name ("" when it is missing)
  std::string problem;  // "seq 4 is missing: a record was deleted"
};

struct ChainVerdict {
  std::optional<ChainBreak> broken;  // the first broken link, in seq order
  int64_t first = 0;                 // the oldest seq kept (1, or the one after a checkpoint)
  int64_t last = 0;                  // the newest seq read
  size_t records = 0;
  // Records past the head that link correctly: written just before MC stopped; the next record
  // MC writes takes them into the head.
  size_t beyondHead = 0;
  bool intact() const { return !broken; }
};

// Recomputes every hash of `records` (in any order), checks that each links to the one before,
// that seqs run without a gap from 1 or from a checkpoint's pruned prefix, and that the newest
// is the head. Names the first broken link: a record deleted, edited, recreated with other
// content, or out of its place.
ChainVerdict verifyChain(std::string_view chain, std::vector<ChainRecord> records,
                         const crds::AuditChainHead& head);

}  // namespace mc::audit
