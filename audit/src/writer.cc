#include "mc/audit/writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <deque>

#include "mc/audit/chain.h"
#include "mc/crds/names.h"

namespace mc::audit {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;

// Names and label values keep their start and, when cut, a hash of the whole, so two long
// names that share a start stay apart.
std::string cut(std::string_view name, size_t limit) {
  if (name.size() <= limit) {
    return std::string(name);
  }
  crds::AuditRecordSpec probe;
  probe.prevHash = std::string(name);
  std::string digest = recordHash(probe).value().substr(0, 8);
  std::string head(name.substr(0, limit - 9));
  while (!head.empty() && !std::isalnum(static_cast<unsigned char>(head.back()))) {
    head.pop_back();
  }
  return head + "-" + digest;
}

std::string chainLabelValue(std::string_view chain) { return cut(chain, 63); }

std::string linkTarget(const crds::AuditChainHead& head) {
  return head.seq == 0 ? std::string(kGenesisHash) : head.hash;
}

// Whether `spec` is the record that comes right after `head`, intact.
bool follows(const crds::AuditRecordSpec& spec, const crds::AuditChainHead& head) {
  auto hash = recordHash(spec);
  return spec.seq == head.seq + 1 && spec.prevHash == linkTarget(head) && hash &&
         *hash == spec.hash;
}

json::object chainObject(const std::string& ns, const std::string& name,
                         const std::string& subject) {
  return {{"apiVersion", crds::kApiVersion},
          {"kind", crds::kAuditChainKind},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec", {{"subject", subject}}}};
}

}  // namespace

std::string chainSelector(std::string_view chain) {
  return fmt::format("{}={}", crds::kAuditChainLabel, chainLabelValue(chain));
}

std::string rolloutChain(std::string_view rollout) {
  return cut(fmt::format("rollout-{}", rollout), 253);
}

json::object recordObject(const std::string& ns, const std::string& name,
                          const crds::AuditRecordSpec& spec) {
  return {{"apiVersion", crds::kApiVersion},
          {"kind", crds::kAuditRecordKind},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels",
             {{crds::kAuditChainLabel, chainLabelValue(spec.chain)},
              {crds::kAuditSeqLabel, std::to_string(spec.seq)}}}}},
          {"spec", json::value_from(spec)}};
}

// One chain as this writer knows it. `busy` and `waiters` serialise appends: the executor is
// one strand, so plain fields suffice, but an append spans several awaits.
struct ChainWriter::Chain {
  bool loaded = false;
  crds::AuditChainHead head;
  std::string resourceVersion;  // of the AuditChain, for its status writes
  std::set<std::string> names;  // records known to be in the apiserver
  bool busy = false;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters;
};

ChainWriter::ChainWriter(kube::Client& client, Sink* sink) : client_(client), sink_(sink) {}
ChainWriter::~ChainWriter() = default;

asio::awaitable<Result<void>> ChainWriter::append(std::string ns, Entry entry) {
  auto& slot = chains_[ns + "/" + entry.chain];
  if (!slot) {
    slot = std::make_unique<Chain>();
  }
  Chain& chain = *slot;
  while (chain.busy) {
    auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor,
                                                      asio::steady_timer::time_point::max());
    chain.waiters.push_back(timer);
    boost::system::error_code ec;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  chain.busy = true;
  auto result = co_await appendLocked(chain, ns, entry);
  chain.busy = false;
  if (!chain.waiters.empty()) {
    chain.waiters.front()->cancel();
    chain.waiters.pop_front();
  }
  co_return result;
}

asio::awaitable<Result<void>> ChainWriter::appendLocked(Chain& chain, const std::string& ns,
                                                        Entry& entry) {
  if (!chain.loaded) {
    std::string subject = entry.chain == kNamespaceChain ? "Namespace/" + ns : entry.spec.subject;
    auto loaded = co_await load(chain, ns, entry.chain, subject);
    if (!loaded) {
      co_return loaded.error();
    }
  }
  if (chain.names.contains(entry.name)) {
    co_return Result<void>();  // on record already: a decision planned again
  }
  crds::AuditRecordSpec spec = std::move(entry.spec);
  spec.chain = entry.chain;
  spec.seq = chain.head.seq + 1;
  spec.prevHash = linkTarget(chain.head);
  auto hash = recordHash(spec);
  if (!hash) {
    co_return hash.error();
  }
  spec.hash = *hash;
  auto created = co_await client_.create(crds::resources::kAuditRecords, ns,
                                         recordObject(ns, entry.name, spec));
  if (!created && created.error().kind == ErrorKind::AlreadyExists) {
    // Written by a pass that crashed before it took the record into the head, or written and
    // taken in already: either way the decision is on record once.
    auto found = co_await client_.get(crds::resources::kAuditRecords, ns, entry.name);
    if (!found) {
      chain.loaded = false;
      co_return found.error();
    }
    auto existing =
        crds::readAuditRecordSpec(found->contains("spec") ? found->at("spec") : json::value());
    if (existing && existing->chain == entry.chain && existing->seq <= chain.head.seq) {
      chain.names.insert(entry.name);
      co_return Result<void>();
    }
    if (existing && existing->chain == entry.chain && follows(*existing, chain.head)) {
      chain.names.insert(entry.name);
      if (sink_ != nullptr) sink_->write(ns, entry.name, *existing);
      co_return co_await advanceHead(chain, ns, entry.name, *existing);
    }
    chain.loaded = false;
    co_return makeError(ErrorKind::Conflict,
                        fmt::format("audit record {} exists but is not the next link of chain "
                                    "{} (head seq {})",
                                    entry.name, entry.chain, chain.head.seq));
  }
  if (!created) {
    chain.loaded = false;  // written or not: read the chain again before the next record
    co_return created.error();
  }
  chain.names.insert(entry.name);
  ++written_;
  if (sink_ != nullptr) sink_->write(ns, entry.name, spec);
  co_return co_await advanceHead(chain, ns, entry.name, spec);
}

asio::awaitable<Result<void>> ChainWriter::load(Chain& chain, const std::string& ns,
                                                const std::string& name,
                                                const std::string& subject) {
  auto object = co_await client_.get(crds::resources::kAuditChains, ns, name);
  if (!object && object.error().kind == ErrorKind::NotFound) {
    object =
        co_await client_.create(crds::resources::kAuditChains, ns, chainObject(ns, name, subject));
  }
  if (!object) {
    co_return object.error();
  }
  auto head = crds::readAuditChainHead(*object);
  if (!head) {
    co_return head.error();
  }
  chain.head = *head;
  chain.resourceVersion = kube::resourceVersionOf(*object);
  kube::ListOptions options;
  options.labelSelector = chainSelector(name);
  auto listed = co_await client_.listAll(crds::resources::kAuditRecords, ns, options, 500);
  if (!listed) {
    co_return listed.error();
  }
  chain.names.clear();
  std::vector<ChainRecord> beyond;
  for (const auto& item : listed->items) {
    auto* spec = item.if_contains("spec");
    auto read = crds::readAuditRecordSpec(spec != nullptr ? *spec : json::value());
    if (!read || read->chain != name) {
      continue;  // another chain whose label value is the same cut
    }
    chain.names.insert(kube::nameOf(item));
    if (read->seq > chain.head.seq) {
      beyond.push_back({kube::nameOf(item), std::move(*read)});
    }
  }
  chain.loaded = true;
  // Records a crashed pass wrote but never took into the head: taken in, in order, while they
  // link. One that does not link stays out (audit verify will name it).
  std::sort(beyond.begin(), beyond.end(),
            [](const auto& a, const auto& b) { return a.spec.seq < b.spec.seq; });
  for (const auto& record : beyond) {
    if (!follows(record.spec, chain.head)) {
      break;
    }
    if (sink_ != nullptr) sink_->write(ns, record.name, record.spec);
    auto advanced = co_await advanceHead(chain, ns, record.name, record.spec);
    if (!advanced) {
      co_return advanced.error();
    }
  }
  co_return Result<void>();
}

asio::awaitable<Result<void>> ChainWriter::advanceHead(Chain& chain, const std::string& ns,
                                                       const std::string& record,
                                                       const crds::AuditRecordSpec& spec) {
  crds::AuditChainHead head = chain.head;
  head.seq = spec.seq;
  head.hash = spec.hash;
  head.record = record;
  if (spec.action == kCheckpointAction) {
    head.checkpoint = spec.seq;
  }
  json::object object{
      {"apiVersion", crds::kApiVersion},
      {"kind", crds::kAuditChainKind},
      {"metadata",
       {{"name", spec.chain}, {"namespace", ns}, {"resourceVersion", chain.resourceVersion}}},
      {"status", json::value_from(head)}};
  auto updated =
      co_await client_.update(crds::resources::kAuditChains, ns, std::move(object), "status");
  if (!updated) {
    chain.loaded = false;
    co_return updated.error();
  }
  chain.head = head;
  chain.resourceVersion = kube::resourceVersionOf(*updated);
  co_return Result<void>();
}

}  // namespace mc::audit
