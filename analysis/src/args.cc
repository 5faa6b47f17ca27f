#include "mc/analysis/args.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "mc/analysis/provider.h"

namespace mc::analysis {
namespace {

namespace json = boost::json;

const crds::AnalysisArg* findArg(const std::vector<crds::AnalysisArg>& args,
                                 std::string_view name) {
  auto it = std::find_if(args.begin(), args.end(),
                         [&](const crds::AnalysisArg& a) { return a.name == name; });
  return it == args.end() ? nullptr : &*it;
}

// `text` with each {{args.NAME}} (spaces inside the braces allowed) replaced; the first
// unknown NAME is an error.
Result<std::string> substitute(std::string_view text, const std::vector<crds::AnalysisArg>& args,
                               const std::string& where, const std::string& field) {
  std::string out;
  size_t at = 0;
  while (true) {
    size_t open = text.find("{{", at);
    if (open == std::string_view::npos) {
      out.append(text.substr(at));
      return out;
    }
    size_t close = text.find("}}", open);
    if (close == std::string_view::npos) {
      out.append(text.substr(at));
      return out;
    }
    std::string_view inner = text.substr(open + 2, close - open - 2);
    while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
    while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
    out.append(text.substr(at, open - at));
    if (inner.substr(0, 5) != "args.") {
      out.append(text.substr(open, close + 2 - open));  // not ours: kept as written
    } else {
      const auto* arg = findArg(args, inner.substr(5));
      if (arg == nullptr || !arg->value) {
        return fieldError(field,
                          fmt::format("{} uses {{{{{}}}}}, which has no value", where, inner));
      }
      out.append(*arg->value);
    }
    at = close + 2;
  }
}

Result<void> substituteAll(json::value& value, const std::vector<crds::AnalysisArg>& args,
                           const std::string& where, const std::string& field) {
  if (auto* text = value.if_string()) {
    auto replaced = substitute(*text, args, where, field);
    if (!replaced) {
      return replaced.error();
    }
    *text = *replaced;
  } else if (auto* object = value.if_object()) {
    for (auto& [key, member] : *object) {
      auto done = substituteAll(member, args, where, field);
      if (!done) {
        return done;
      }
    }
  } else if (auto* array = value.if_array()) {
    for (auto& member : *array) {
      auto done = substituteAll(member, args, where, field);
      if (!done) {
        return done;
      }
    }
  }
  return {};
}

}  // namespace

Result<ResolvedRun> resolveRun(const std::vector<NamedTemplate>& templates,
                               const std::vector<crds::AnalysisArg>& given,
                               const std::string& field) {
  ResolvedRun run;
  std::set<std::string> metricNames;
  for (const auto& t : templates) {
    // This template's arguments: all the Rollout gives (MC's own need no declaring), and for
    // each it declares, the Rollout's value, else the template's default.
    std::vector<crds::AnalysisArg> args = given;
    for (const auto& declared : t.spec.args) {
      const auto* value = findArg(given, declared.name);
      if (value && value->value) {
        continue;
      }
      if (!declared.value) {
        return fieldError(
            field, fmt::format("{} needs argument \"{}\": give it in args", t.name, declared.name));
      }
      args.push_back(declared);
    }
    for (const auto& arg : args) {
      if (findArg(run.args, arg.name) == nullptr) {
        run.args.push_back(arg);
      }
    }
    for (const auto& metric : t.spec.metrics) {
      if (!metricNames.insert(metric.name).second) {
        return fieldError(field, fmt::format("metric \"{}\" is in two templates ({} is the second)",
                                             metric.name, t.name));
      }
      crds::Metric resolved = metric;
      json::value provider = resolved.provider;
      auto done = substituteAll(provider, args,
                                fmt::format("{} metric \"{}\"", t.name, metric.name), field);
      if (!done) {
        return done.error();
      }
      resolved.provider = provider.as_object();
      if (auto condition = effectiveCondition(resolved)) {
        resolved.successCondition = *condition;  // a built-in's default, shown in the run
      }
      run.metrics.push_back(std::move(resolved));
    }
  }
  return run;
}

}  // namespace mc::analysis
