#include <fmt/format.h>

#include "../providers/prometheus/prometheus.h"
#include "mc/analysis/provider.h"

namespace mc::analysis {
namespace {

// Every provider MC knows, one line each.
const ProviderRegistration kProviders[] = {
    prometheus::registration(),
};

}  // namespace

Result<MetricProviderPtr> makeProvider(ProviderDeps& deps, const std::string& ns,
                                       const boost::json::object& provider,
                                       const std::string& path) {
  if (provider.size() != 1) {
    return fieldError(path, "needs exactly one provider (prometheus)");
  }
  const auto& [kind, block] = *provider.begin();
  for (const auto& registration : kProviders) {
    if (registration.kind == kind) {
      if (!block.is_object()) {
        return fieldError(fmt::format("{}.{}", path, std::string_view(kind)), "expected an object");
      }
      return registration.make(deps, ns, block.as_object(),
                               fmt::format("{}.{}", path, std::string_view(kind)));
    }
  }
  return fieldError(path, fmt::format("unknown provider \"{}\"", std::string_view(kind)));
}

}  // namespace mc::analysis
