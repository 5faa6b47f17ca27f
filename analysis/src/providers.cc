#include <fmt/format.h>

#include <algorithm>

#include "../providers/prometheus/prometheus.h"
#include "mc/analysis/provider.h"

namespace mc::analysis {
namespace {

// Every provider MC knows, one line each.
const ProviderRegistration kProviders[] = {
    prometheus::registration(),
};

const ProviderRegistration* registrationOf(std::string_view kind) {
  for (const auto& registration : kProviders) {
    if (registration.kind == kind) {
      return &registration;
    }
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> RunScope::arg(std::string_view name) const {
  auto it = std::find_if(args.begin(), args.end(),
                         [&](const crds::AnalysisArg& a) { return a.name == name; });
  if (it == args.end()) {
    return std::nullopt;
  }
  return it->value;
}

namespace {

// The registration of `provider`'s one kind, its block and the block's path.
struct Located {
  const ProviderRegistration* registration;
  const boost::json::object* block;
  std::string path;
};

Result<Located> locate(const boost::json::object& provider, const std::string& path) {
  if (provider.size() != 1) {
    return fieldError(path, "needs exactly one provider (prometheus)");
  }
  const auto& [kind, block] = *provider.begin();
  const auto* registration = registrationOf(kind);
  if (registration == nullptr) {
    return fieldError(path, fmt::format("unknown provider \"{}\"", std::string_view(kind)));
  }
  std::string at = fmt::format("{}.{}", path, std::string_view(kind));
  if (!block.is_object()) {
    return fieldError(at, "expected an object");
  }
  return Located{registration, &block.as_object(), std::move(at)};
}

}  // namespace

Result<MetricProviderPtr> makeProvider(ProviderDeps& deps, const RunScope& run,
                                       const boost::json::object& provider,
                                       const std::string& path) {
  auto located = locate(provider, path);
  if (!located) {
    return located.error();
  }
  return located->registration->make(deps, run, *located->block, located->path);
}

Result<void> checkProvider(const RunScope& run, const boost::json::object& provider,
                           const std::string& path) {
  auto located = locate(provider, path);
  if (!located) {
    return located.error();
  }
  return located->registration->check(*located->block, run, located->path);
}

std::optional<crds::SuccessCondition> effectiveCondition(const crds::Metric& metric) {
  if (metric.successCondition.min || metric.successCondition.max) {
    return metric.successCondition;
  }
  if (metric.provider.size() != 1) {
    return std::nullopt;
  }
  const auto& [kind, block] = *metric.provider.begin();
  const auto* registration = registrationOf(kind);
  if (registration == nullptr || !block.is_object()) {
    return std::nullopt;
  }
  return registration->defaultCondition(block.as_object());
}

}  // namespace mc::analysis
