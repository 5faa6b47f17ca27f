#include "mc/analysis/args.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mc/common/json.h"

namespace mc::analysis {
namespace {

namespace json = boost::json;

crds::Metric metric(const std::string& name, const std::string& query) {
  crds::Metric m;
  m.name = name;
  m.successCondition.max = 0.02;
  m.provider = {{"prometheus", {{"address", "http://prom:9090"}, {"query", query}}}};
  return m;
}

std::string queryOf(const crds::Metric& m) {
  return stringAt(objectAt(m.provider, "prometheus"), "query");
}

const std::string kField = "spec.strategy.canary.steps[1].analysis";

TEST(ResolveRunTest, ArgumentsComeFromTheRolloutThenTheTemplatesDefaults) {
  NamedTemplate t{
      "AnalysisTemplate error-rate",
      {{{"canary-hash", std::nullopt}, {"window", "1m"}},
       {metric("error-rate",
               R"(sum(rate(x{pod_template_hash="{{args.canary-hash}}"}[{{ args.window }}])))")}}};
  auto run = resolveRun({t}, {{"canary-hash", "abc123"}, {"namespace", "prod"}}, kField);
  ASSERT_TRUE(run) << run.error().fieldMessage();
  ASSERT_EQ(run->metrics.size(), 1u);
  EXPECT_EQ(queryOf(run->metrics[0]), R"(sum(rate(x{pod_template_hash="abc123"}[1m])))");
  EXPECT_EQ(t.spec.metrics[0].provider.at("prometheus").at("query").as_string().find("abc123"),
            json::string::npos)
      << "the template itself is left as it was";
  std::map<std::string, std::string> args;
  for (const auto& a : run->args) {
    args[a.name] = a.value.value_or("");
  }
  EXPECT_EQ(args["window"], "1m");
  EXPECT_EQ(args["namespace"], "prod") << "MC's own arguments need no declaring";
}

TEST(ResolveRunTest, ABuiltInsThresholdIsWrittenIntoTheRun) {
  crds::Metric builtin;
  builtin.name = "p95";
  builtin.provider = {
      {"prometheus", {{"address", "http://prom:9090"}, {"latency", json::object{}}}}};
  crds::Metric strict = builtin;
  strict.name = "p95-strict";
  strict.successCondition.max = 0.8;
  NamedTemplate t{"AnalysisTemplate latency", {{}, {builtin, strict}}};
  auto run = resolveRun({t}, {{"canary-hash", "abc123"}}, kField);
  ASSERT_TRUE(run) << run.error().fieldMessage();
  ASSERT_EQ(run->metrics.size(), 2u);
  // The run shows the condition in force: the built-in's 1.5 s, or the metric's own.
  EXPECT_EQ(run->metrics[0].successCondition.max, 1.5);
  EXPECT_FALSE(run->metrics[0].successCondition.min);
  EXPECT_EQ(run->metrics[1].successCondition.max, 0.8);
}

TEST(ResolveRunTest, TheRolloutsValueBeatsTheDefault) {
  NamedTemplate t{"AnalysisTemplate t", {{{"window", "1m"}}, {metric("m", "x[{{args.window}}]")}}};
  auto run = resolveRun({t}, {{"window", "5m"}}, kField);
  ASSERT_TRUE(run);
  EXPECT_EQ(queryOf(run->metrics[0]), "x[5m]");
}

TEST(ResolveRunTest, MissingArgumentsAndDuplicateMetricsAreInvalidNamingWhat) {
  NamedTemplate needs{"AnalysisTemplate needs", {{{"service", std::nullopt}}, {metric("m", "up")}}};
  auto missing = resolveRun({needs}, {}, kField);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().field, kField);
  EXPECT_NE(missing.error().message.find("AnalysisTemplate needs needs argument \"service\""),
            std::string::npos)
      << missing.error().message;

  NamedTemplate undeclared{"AnalysisTemplate u", {{}, {metric("m", "x{a=\"{{args.nope}}\"}")}}};
  auto unknown = resolveRun({undeclared}, {}, kField);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("{{args.nope}}"), std::string::npos)
      << unknown.error().message;

  NamedTemplate a{"AnalysisTemplate a", {{}, {metric("m", "up")}}};
  NamedTemplate b{"ClusterAnalysisTemplate b", {{}, {metric("m", "up")}}};
  auto twice = resolveRun({a, b}, {}, kField);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("metric \"m\" is in two templates"), std::string::npos);
}

TEST(ResolveRunTest, OtherBracesAreKeptAsWritten) {
  NamedTemplate t{"AnalysisTemplate t", {{}, {metric("m", "x{{not_an_arg}} {{args.ns}}")}}};
  auto run = resolveRun({t}, {{"ns", "prod"}}, kField);
  ASSERT_TRUE(run);
  EXPECT_EQ(queryOf(run->metrics[0]), "x{{not_an_arg}} prod");
}

}  // namespace
}  // namespace mc::analysis
