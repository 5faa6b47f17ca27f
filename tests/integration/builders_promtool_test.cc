// Every query the built-ins' builders write, for a table of their parameters, parsed by
// Prometheus' own parser: written as recording rules into a rule file that `promtool check
// rules` must accept. A query Prometheus rejects would make every measurement of the metric an
// Error (bad_data), on every canary, so this is where a quoting or syntax slip shows first.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../../analysis/providers/prometheus/builders.h"
#include "mc/e2e/process.h"

namespace mc::analysis::prometheus {
namespace {

using namespace std::chrono_literals;

struct Rule {
  std::string record;  // the rule's name, as promtool's messages cite it
  std::string about;   // the parameters that wrote it
  std::string expr;
};

// The table: each builder for every combination of its parameters, each distinct query once
// (promtool's lint flags duplicate rules).
std::vector<Rule> builtinQueries() {
  std::vector<Rule> rules;
  std::set<std::string> seen;
  auto add = [&](std::string about, std::string expr) {
    if (seen.insert(expr).second) {
      rules.push_back(
          {fmt::format("mc_builtin_{}", rules.size()), std::move(about), std::move(expr)});
    }
  };
  const CanarySelector selectors[] = {
      {"pod_template_hash", "7d9f8c6b5", ""},
      {"rollouts_pod_template_hash", "abc-123",
       R"(namespace="prod", job=~"web|api", route!="/healthz", env!~"dev.*")"},
      // A PromQL string in single quotes: the rule file must quote it for YAML.
      {"pod_template_hash", "5f6d", "route='/pay'"},
  };
  const char* counters[] = {"http_requests_total", "api_calls_total", "nginx:requests:total"};
  const char* codeLabels[] = {"code", "status", "grpc_code"};
  const Seconds windows[] = {30s, 1min, 90s, 5min, 1h + 5min, 6h, 26h};
  const char* histograms[] = {"http_request_duration_seconds", "rpc:latency_seconds"};
  const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};

  for (const auto& selector : selectors) {
    const std::string on = selectorOf(selector);
    for (Seconds window : windows) {
      for (const char* metric : counters) {
        for (const char* code : codeLabels) {
          ErrorRate check{metric, code, window, selector};
          add(fmt::format("errorRate {} {} {} {}", metric, code, promDuration(window), on),
              errorRateQuery(check));
        }
      }
      for (const char* metric : histograms) {
        for (double quantile : quantiles) {
          Latency check{metric, quantile, window, defaultMinRequests(quantile), selector};
          const std::string about =
              fmt::format("latency {} {} {} {}", metric, quantile, promDuration(window), on);
          add(about, latencyQuery(check));
          add(about + " (requests)", requestCountQuery(check));
        }
      }
    }
    // sloBurn: each preset's windows, custom ones, and windows shortened to a young canary's age.
    std::vector<Seconds> burnWindows;
    for (const char* preset : {"workbook", "runbook"}) {
      for (const auto& pair : burnPreset(preset)) {
        burnWindows.push_back(pair.longWindow);
        burnWindows.push_back(pair.shortWindow);
      }
    }
    for (Seconds custom : {Seconds(2h), Seconds(10min), Seconds(72h), Seconds(90s), Seconds(30s)}) {
      burnWindows.push_back(custom);
    }
    for (Seconds age : {Seconds(20min), Seconds(45s), Seconds(1234s)}) {
      burnWindows.push_back(readableWindow(6h, age));
    }
    for (Seconds window : burnWindows) {
      for (const char* code : codeLabels) {
        add(fmt::format("sloBurn http_requests_total {} {} {}", code, promDuration(window), on),
            errorRatioQuery("http_requests_total", code, selector, window));
      }
    }
  }
  return rules;
}

// A rule file of `rules`: YAML single-quoted expressions (a quote inside doubled), each rule
// preceded by a comment with its parameters.
std::string ruleFile(const std::vector<Rule>& rules) {
  std::string out = "groups:\n  - name: mc-builtins\n    rules:\n";
  for (const auto& rule : rules) {
    std::string quoted;
    for (char c : rule.expr) {
      quoted += c == '\'' ? std::string("''") : std::string(1, c);
    }
    out += fmt::format("      # {}\n      - record: {}\n        expr: '{}'\n", rule.about,
                       rule.record, quoted);
  }
  return out;
}

class BuildersPromtoolTest : public ::testing::Test {
 protected:
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // promtool check rules on a file of `rules`.
  e2e::CommandResult check(const std::vector<Rule>& rules, const std::string& name) {
    const auto file = dir_ / name;
    std::ofstream(file) << ruleFile(rules);
    return e2e::run({"promtool", "check", "rules", file.string()});
  }

  // The parameters and query of each rule promtool's output names.
  static std::string named(const std::vector<Rule>& rules, const std::string& output) {
    std::string out;
    for (const auto& rule : rules) {
      if (output.find(fmt::format("\"{}\"", rule.record)) != std::string::npos) {
        out += fmt::format("\n{} ({}): {}", rule.record, rule.about, rule.expr);
      }
    }
    return out;
  }

  std::filesystem::path dir_ = e2e::makeTempDir("mc-builders-promtool");
};

TEST_F(BuildersPromtoolTest, PrometheusParsesEveryQueryTheBuiltinsWrite) {
  const auto rules = builtinQueries();
  ASSERT_GT(rules.size(), 400u) << "the table covers every builder's parameters";
  auto checked = check(rules, "builtins.yml");
  EXPECT_EQ(checked.exitCode, 0) << checked.output << named(rules, checked.output);
  EXPECT_NE(checked.output.find(fmt::format("SUCCESS: {} rules found", rules.size())),
            std::string::npos)
      << "promtool read every rule: " << checked.output;
}

TEST_F(BuildersPromtoolTest, ARuleFileWithOneBrokenExpressionFails) {
  // The negative control: the same rules and one query written from a matcher with an unquoted
  // value, which PromQL does not allow.
  auto rules = builtinQueries();
  ErrorRate broken;
  broken.canary = {"pod_template_hash", "7d9f8c6b5", "job=web"};
  rules.push_back({"mc_builtin_broken", "errorRate with matchers job=web", errorRateQuery(broken)});
  auto checked = check(rules, "broken.yml");
  EXPECT_NE(checked.exitCode, 0) << checked.output;
  EXPECT_NE(checked.output.find("\"mc_builtin_broken\""), std::string::npos) << checked.output;
  EXPECT_EQ(named(rules, checked.output), named({rules.back()}, checked.output))
      << "only the broken rule is reported: " << checked.output;
}

}  // namespace
}  // namespace mc::analysis::prometheus
