#pragma once

#include <string>
#include <vector>

#include "mc/common/error.h"
#include "mc/crds/analysis.h"

// The metrics of a new AnalysisRun: the templates' metrics with `{{args.NAME}}` replaced in
// every string of their provider blocks, from the arguments the Rollout gives (MC's own first)
// and the templates' defaults.
namespace mc::analysis {

struct NamedTemplate {
  std::string name;  // for messages: "AnalysisTemplate error-rate"
  crds::AnalysisTemplateSpec spec;
};

struct ResolvedRun {
  std::vector<crds::AnalysisArg> args;  // every argument the templates declare, with its value
  std::vector<crds::Metric> metrics;
};

// Invalid, with `field` (the Rollout's analysis block), when a declared argument has no value
// and no default, a query names an undeclared argument, or two templates give a metric the
// same name.
Result<ResolvedRun> resolveRun(const std::vector<NamedTemplate>& templates,
                               const std::vector<crds::AnalysisArg>& given,
                               const std::string& field);

}  // namespace mc::analysis
