#include "mc/audit/sink.h"

#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mc::audit {
namespace {

class FileSink final : public Sink {
 public:
  FileSink(std::FILE* file, bool owned) : file_(file), owned_(owned) {}
  ~FileSink() override {
    if (owned_) std::fclose(file_);
  }
  void write(const std::string& ns, const std::string& name,
             const crds::AuditRecordSpec& record) override {
    std::string line = sinkLine(ns, name, record) + "\n";
    std::fwrite(line.data(), 1, line.size(), file_);
    std::fflush(file_);
  }

 private:
  std::FILE* file_;
  bool owned_;
};

}  // namespace

std::string sinkLine(const std::string& ns, const std::string& name,
                     const crds::AuditRecordSpec& record) {
  return boost::json::serialize(boost::json::object{
      {"namespace", ns}, {"name", name}, {"record", boost::json::value_from(record)}});
}

Result<std::unique_ptr<Sink>> openJsonLinesSink(const std::string& target) {
  if (target == "-") {
    return std::unique_ptr<Sink>(std::make_unique<FileSink>(stdout, false));
  }
  std::FILE* file = std::fopen(target.c_str(), "a");
  if (file == nullptr) {
    return makeError(ErrorKind::Invalid,
                     "cannot open the audit sink " + target + ": " + std::strerror(errno));
  }
  return std::unique_ptr<Sink>(std::make_unique<FileSink>(file, true));
}

}  // namespace mc::audit
