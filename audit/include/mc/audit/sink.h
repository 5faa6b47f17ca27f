#pragma once

#include <memory>
#include <string>

#include "mc/common/error.h"
#include "mc/crds/audit.h"

namespace mc::audit {

// A copy of every record as it is written, for systems outside the cluster (a log pipeline, a
// file on a mounted volume), one JSON object a line:
//   {"namespace":"shop","name":"web.1a2b3c4d.a1.started","record":{...the spec...}}
// A record may be mirrored twice (written, then MC killed before it moved the head, then taken
// in again); readers key lines by (namespace, chain, seq).
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const std::string& ns, const std::string& name,
                     const crds::AuditRecordSpec& record) = 0;
};

// "-" for stdout (MC's logs go to stderr, so the records are a stream of their own), else a file
// opened for appending (created if missing). Each line is flushed as it is written.
Result<std::unique_ptr<Sink>> openJsonLinesSink(const std::string& target);

// One line of the sink, without its newline.
std::string sinkLine(const std::string& ns, const std::string& name,
                     const crds::AuditRecordSpec& record);

}  // namespace mc::audit
