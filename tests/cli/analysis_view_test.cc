// What `kubectl mc` shows of AnalysisRuns: `get analysisrun`, and the runs section of
// `get rollout`. Pure functions of the objects and now.
#include "mc/cli/analysis_view.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "mc/common/timefmt.h"
#include "mc/runtime/kube_client.h"

namespace mc::cli {
namespace {

namespace json = boost::json;

const WallTime kNow = *parseTime("2026-03-01T12:00:00Z");

const char* kErrorRate = R"json({"name": "error-rate", "interval": "30s", "count": 3,
  "successCondition": {"max": 0.02},
  "provider": {"prometheus": {"address": "http://prometheus:9090",
                              "query": "rate(errors{hash=\"{{args.canary-hash}}\"}[1m])"
}
}
})json";
const char* kLatency = R"json({"name": "latency", "failureLimit": 1, "consecutiveErrorLimit": 2,
  "successCondition": {"min": 0.1, "max": 0.5},
  "provider": {"prometheus": {"address": "http://prometheus:9090",
                              "query": "histogram_quantile(0.99,\n  rate(latency_bucket[1m]))\n"}}})json";

// An AnalysisRun as MC makes it: labelled and controlled by the Rollout "web" (uid-web).
json::object run(const std::string& name, const std::string& analysis, const std::string& metrics,
                 const std::string& status, const std::string& created = "2026-03-01T11:50:00Z",
                 const std::string& ownerUid = "uid-web", const std::string& extraSpec = "") {
  return json::parse(fmt::format(R"({{
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "AnalysisRun",
    "metadata": {{"name": "{0}", "namespace": "shop", "creationTimestamp": "{4}",
                  "labels": {{"mc.maestro.dev/rollout": "web", "mc.maestro.dev/analysis": "{1}"}},
                  "ownerReferences": [{{"apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
                                        "name": "web", "uid": "{5}", "controller": true}}]}},
    "spec": {{"args": [{{"name": "canary-hash", "value": "bbb"}}, {{"name": "namespace",
                       "value": "shop"}}], "metrics": [{2}]{6}}}{3}}})",
                                 name, analysis, metrics,
                                 status.empty() ? "" : ", \"status\": " + status, created, ownerUid,
                                 extraSpec))
      .as_object();
}

// A Rollout "web" at attempt `attempt`, with a background analysis and an analysis step.
json::object rollout(int attempt, const std::string& extraStatus = "", bool analyses = true) {
  std::string steps = analyses ? R"([{"setWeight": 20}, {"analysis": {"templates":
                                      [{"templateName": "error-rate"}]}}, {"setWeight": 60}])"
                               : R"([{"setWeight": 20}, {"pause": {}}])";
  std::string background =
      analyses ? R"(, "analysis": {"templates": [{"templateName": "error-rate"}]})" : "";
  return json::parse(fmt::format(R"({{
    "apiVersion": "mc.maestro.dev/v1alpha1", "kind": "Rollout",
    "metadata": {{"name": "web", "namespace": "shop", "uid": "uid-web", "generation": 2}},
    "spec": {{"replicas": 4, "selector": {{"matchLabels": {{"app": "web"}}}},
              "template": {{"metadata": {{"labels": {{"app": "web"}}}},
                           "spec": {{"containers": [{{"name": "web", "image": "example/web:2"}}]}}}},
              "strategy": {{"canary": {{"steps": {}{}}}}}}},
    "status": {{"phase": "Progressing", "observedGeneration": 2, "currentStepIndex": 1,
                "canaryRS": "web-bbb", "stableRS": "web-aaa", "attempt": {}{}}}}})",
                                 steps, background, attempt, extraStatus))
      .as_object();
}

// A metric result of `count` measurements, the last with `value` (absent if "").
std::string result(const std::string& name, const std::string& phase, int count,
                   const std::string& value, const std::string& counts = "") {
  std::string measurements;
  for (int i = 0; i < count; ++i) {
    bool last = i + 1 == count;
    measurements += fmt::format(
        R"({}{{"phase": "{}", {}"startedAt": "2026-03-01T11:5{}:00Z",
             "finishedAt": "2026-03-01T11:5{}:01Z", "message": "{}"}})",
        i == 0 ? "" : ",", last ? phase : "Successful",
        last && value.empty() ? "" : fmt::format(R"("value": "{}", )", last ? value : "0.01"), i, i,
        last ? "measured\\nlast" : "");
  }
  return fmt::format(R"({{"name": "{}", "phase": "{}", "query": "q-{}", "count": {},
                          "measurements": [{}]{}}})",
                     name, phase, name, count, measurements, counts);
}

std::string lineWith(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  if (at == std::string::npos) {
    return "";
  }
  size_t begin = text.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  size_t end = text.find('\n', at);
  return text.substr(begin, end - begin);
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string cell; in >> cell;) {
    out.push_back(cell);
  }
  return out;
}

// The section of `text` from the line with `from` up to the next line with `to` ("": the end).
std::string section(const std::string& text, const std::string& from, const std::string& to) {
  size_t begin = text.find(from);
  if (begin == std::string::npos) {
    return "";
  }
  size_t end = to.empty() ? std::string::npos : text.find(to, begin + from.size());
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

using Row = std::vector<std::string>;

TEST(KubectlMcAnalysisViewTest, EveryPhaseOfARunAndItsMetric) {
  struct Case {
    const char* phase;
    const char* message;
    const char* completedAt;  // "" running
    const char* value;
    const char* counts;  // extra fields of the metric result
    Row rolloutMetricCells;
  };
  for (const auto& c : std::vector<Case>{
           {"Pending",
            "",
            "",
            "",
            "",
            {"error-rate", "Pending", "<none>", "(max", "0.02)", "0/3", "measured"}},
           {"Running",
            "error-rate: 1/3 measured",
            "",
            "0.011",
            R"(, "successful": 1)",
            {"error-rate", "Running", "0.011", "(max", "0.02)", "1/3", "measured"}},
           {"Successful",
            "",
            "2026-03-01T11:58:00Z",
            "0.012",
            R"(, "successful": 3)",
            {"error-rate", "Successful", "0.012", "(max", "0.02)", "3/3", "measured"}},
           {"Failed",
            "error-rate: 0.2 is above max 0.02",
            "2026-03-01T11:52:00Z",
            "0.2",
            R"(, "failed": 1)",
            {"error-rate", "Failed", "0.2", "(max", "0.02)", "1/3", "measured,", "1", "failed"}},
           {"Error",
            "error-rate: prometheus unreachable",
            "2026-03-01T11:59:00Z",
            "",
            R"(, "successful": 1, "error": 1, "consecutiveErrors": 1)",
            {"error-rate", "Error", "0.01", "(max", "0.02)", "2/3", "measured,", "1", "error"}},
           {"Inconclusive",
            "error-rate: NaN",
            "2026-03-01T11:52:00Z",
            "NaN",
            R"(, "inconclusive": 1)",
            {"error-rate", "Inconclusive", "NaN", "(max", "0.02)", "1/3", "measured,", "1",
             "inconclusive"}},
       }) {
    std::string phase = c.phase;
    int count = phase == "Pending" ? 0 : phase == "Successful" ? 3 : phase == "Error" ? 2 : 1;
    std::string status = fmt::format(
        R"({{"phase": "{}", "message": "{}", "startedAt": "2026-03-01T11:50:00Z"{},
             "metricResults": [{}]}})",
        phase, c.message,
        std::string(c.completedAt).empty() ? ""
                                           : fmt::format(R"(, "completedAt": "{}")", c.completedAt),
        result("error-rate", phase, count, c.value, c.counts));
    auto object = run("web-2-1", "step-1", kErrorRate, status);

    auto text = renderAnalysisRun(object, kNow);
    std::string statusLine = std::string("Status:         ") + c.phase +
                             (std::string(c.message).empty() ? "" : std::string(" - ") + c.message);
    EXPECT_EQ(lineWith(text, "Status:"), statusLine) << text;
    EXPECT_EQ(lineWith(text, "Started:"), "Started:        2026-03-01T11:50:00Z (10m ago)");
    EXPECT_EQ(lineWith(text, "Completed:"),
              std::string(c.completedAt).empty()
                  ? "Completed:      <not yet>"
                  : fmt::format("Completed:      {} ({} ago)", c.completedAt,
                                formatAge(std::chrono::floor<std::chrono::seconds>(
                                    kNow - *parseTime(c.completedAt)))));
    EXPECT_EQ(lineWith(text, "    Phase:"), std::string("    Phase:              ") + c.phase);
    if (count == 0) {
      EXPECT_EQ(lineWith(text, "Measurements"), "    Measurements:       none yet") << text;
    } else {
      auto last = cells(lineWith(text, "measured last"));
      ASSERT_GE(last.size(), 3u) << text;
      EXPECT_EQ(last[1], c.phase) << "the last measurement, its message on one line";
      EXPECT_EQ(last[2], std::string(c.value).empty() ? "<none>" : c.value);
    }

    auto runs = renderRolloutRuns(rollout(2), {{object}, std::nullopt});
    EXPECT_EQ(cells(lineWith(runs, "web-2-1")),
              cells(fmt::format("web-2-1 step 2 {} {}", c.phase, c.message)))
        << runs;
    EXPECT_EQ(cells(lineWith(runs, "    error-rate")), c.rolloutMetricCells) << runs;
  }
}

TEST(KubectlMcAnalysisViewTest, GetAnalysisRunShowsArgsMetricsAndMeasurements) {
  std::string status = fmt::format(
      R"({{"phase": "Failed", "message": "error-rate: 0.2 is above max 0.02",
           "startedAt": "2026-03-01T11:50:00Z", "completedAt": "2026-03-01T11:52:00Z",
           "metricResults": [{}]}})",
      result("error-rate", "Failed", 2, "0.2", R"(, "successful": 1, "failed": 1,
             "message": "0.2 is above max 0.02")"));
  auto object = run("web-2-1", "step-1", std::string(kErrorRate) + "," + kLatency, status, "",
                    "uid-web", R"(, "terminate": {"reason": "Aborted", "message": "by a person"})");
  auto text = renderAnalysisRun(object, kNow);

  EXPECT_EQ(lineWith(text, "Name:"), "Name:           web-2-1") << text;
  EXPECT_EQ(lineWith(text, "Namespace:"), "Namespace:      shop");
  EXPECT_EQ(lineWith(text, "Rollout:"), "Rollout:        web");
  EXPECT_EQ(lineWith(text, "Analysis:"), "Analysis:       step 2");
  EXPECT_EQ(lineWith(text, "Status:"), "Status:         Failed - error-rate: 0.2 is above max 0.02")
      << "a finished run's terminate is history, not a request";
  EXPECT_EQ(lineWith(text, "Terminate:"), "Terminate:      Aborted - by a person");
  EXPECT_EQ(section(text, "Args:", "Metrics:"),
            "Args:\n"
            "  canary-hash:  bbb\n"
            "  namespace:    shop\n");

  EXPECT_EQ(section(text, "  error-rate:", "  latency:"),
            "  error-rate:\n"
            "    Phase:              Failed - 0.2 is above max 0.02\n"
            "    Provider:           prometheus http://prometheus:9090\n"
            "    Query:              q-error-rate\n"
            "    Success condition:  max 0.02\n"
            "    Limits:             failureLimit 0, inconclusiveLimit 0, consecutiveErrorLimit 4\n"
            "    Schedule:           count 3, interval 30s\n"
            "    Measured:           2/3 - 1 successful, 1 failed, 0 inconclusive, 0 errors (0 in "
            "a row)\n"
            "    Measurements:\n"
            "      STARTED               PHASE       VALUE  MESSAGE\n"
            "      2026-03-01T11:50:00Z  Successful  0.01\n"
            "      2026-03-01T11:51:00Z  Failed      0.2    measured last\n")
      << "the query as run (the status's), not the spec's";

  // Never measured: the spec's query (each line under the first), the defaults, no table.
  EXPECT_EQ(section(text, "  latency:", ""),
            "  latency:\n"
            "    Phase:              Pending\n"
            "    Provider:           prometheus http://prometheus:9090\n"
            "    Query:              histogram_quantile(0.99,\n"
            "                          rate(latency_bucket[1m]))\n"
            "    Success condition:  min 0.1, max 0.5\n"
            "    Limits:             failureLimit 1, inconclusiveLimit 0, consecutiveErrorLimit 2\n"
            "    Schedule:           count 1\n"
            "    Measured:           0/1 - 0 successful, 0 failed, 0 inconclusive, 0 errors (0 in "
            "a row)\n"
            "    Measurements:       none yet\n");
}

TEST(KubectlMcAnalysisViewTest, ABuiltInShowsThePromQLItRanForGrafana) {
  const char* latency = R"json({"name": "p95", "interval": "30s", "count": 3,
    "successCondition": {"max": 1.5},
    "provider": {"prometheus": {"address": "http://prometheus:9090", "latency": {}}}})json";
  // Before the first measurement: no PromQL yet, and it says why.
  auto pending = renderAnalysisRun(run("web-2-1", "step-1", latency, ""), kNow);
  EXPECT_EQ(lineWith(pending, "Provider:"),
            "    Provider:           prometheus http://prometheus:9090, built-in latency")
      << pending;
  EXPECT_EQ(lineWith(pending, "Query:"),
            "    Query:              <written by the built-in latency at the first measurement>");

  // After one: every query it ran, by what it is for.
  auto measured = renderAnalysisRun(
      run("web-2-1", "step-1", latency, R"json({"phase": "Running", "metricResults": [{
        "name": "p95", "phase": "Running", "count": 1, "successful": 1,
        "query": "histogram_quantile(0.95, sum by (le) (rate(d_bucket{h=\"bbb\"}[1m])))",
        "queries": [
          {"name": "p95", "query": "histogram_quantile(0.95, sum by (le) (rate(d_bucket{h=\"bbb\"}[1m])))"},
          {"name": "requests", "query": "sum(increase(d_count{h=\"bbb\"}[1m]))"}]}]})json"),
      kNow);
  EXPECT_EQ(lineWith(measured, "Query p95:"),
            "    Query p95:          histogram_quantile(0.95, sum by (le) "
            "(rate(d_bucket{h=\"bbb\"}[1m])))")
      << measured;
  EXPECT_EQ(lineWith(measured, "Query requests:"),
            "    Query requests:     sum(increase(d_count{h=\"bbb\"}[1m]))");

  // An alert expression shows its guard before it has run.
  const char* alert = R"json({"name": "alert", "successCondition": {"max": 0},
    "provider": {"prometheus": {"address": "http://p", "failWhenPresent": true,
                                "query": "errors > 0.02", "guard": "rate(requests[1m])"}}})json";
  auto guarded = renderAnalysisRun(run("web-2-1", "step-1", alert, ""), kNow);
  EXPECT_EQ(lineWith(guarded, "Query alert:"), "    Query alert:        errors > 0.02");
  EXPECT_EQ(lineWith(guarded, "Query guard:"), "    Query guard:        rate(requests[1m])");
}

TEST(KubectlMcAnalysisViewTest, RunWithoutStatusYet) {
  auto object = run("web-2-bg", "background", kErrorRate, "", "", "uid-web",
                    R"(, "terminate": {"reason": "Superseded"})");
  auto text = renderAnalysisRun(object, kNow);
  EXPECT_EQ(lineWith(text, "Status:"),
            "Status:         Pending - the AnalysisRun controller has not written a status yet "
            "(terminate requested: Superseded)")
      << text;
  EXPECT_EQ(lineWith(text, "Analysis:"), "Analysis:       background");
  EXPECT_EQ(lineWith(text, "Started:"), "Started:        <not yet>");
  EXPECT_EQ(lineWith(text, "    Phase:"), "    Phase:              Pending");
  EXPECT_EQ(lineWith(text, "Query:"),
            "    Query:              rate(errors{hash=\"{{args.canary-hash}}\"}[1m])");
  EXPECT_EQ(lineWith(text, "Schedule:"), "    Schedule:           count 3, interval 30s");
  EXPECT_EQ(
      lineWith(text, "Measured:"),
      "    Measured:           0/3 - 0 successful, 0 failed, 0 inconclusive, 0 errors (0 in a "
      "row)");
  EXPECT_EQ(lineWith(text, "Measurements"), "    Measurements:       none yet");

  auto runs = renderRolloutRuns(rollout(2, R"(, "backgroundRun": "web-2-bg")"), {{object}, {}});
  EXPECT_EQ(cells(lineWith(runs, "web-2-bg")),
            cells("web-2-bg background Pending the AnalysisRun controller has not written a "
                  "status yet (terminate requested: Superseded)"))
      << runs;
  EXPECT_EQ(cells(lineWith(runs, "    error-rate")),
            (Row{"error-rate", "Pending", "<none>", "(max", "0.02)", "0/3", "measured"}));
}

TEST(KubectlMcAnalysisViewTest, OlderMeasurementsAreCountedAndBackgroundRunsUnbounded) {
  const char* unbounded = R"({"name": "error-rate", "interval": "1m", "initialDelay": "30s",
    "dryRun": true, "successCondition": {"max": 0.02},
    "provider": {"prometheus": {"address": "http://p:9090", "query": "q"}}})";
  std::string status = fmt::format(R"({{"phase": "Running", "metricResults": [{}]}})",
                                   result("error-rate", "Running", 3, "0.015", ""));
  auto object = run("web-2-bg", "background", unbounded, status);
  object["status"].as_object()["metricResults"].as_array()[0].as_object()["count"] = 25;
  auto text = renderAnalysisRun(object, kNow);
  EXPECT_EQ(lineWith(text, "Schedule:"),
            "    Schedule:           count unbounded, interval 1m, initialDelay 30s")
      << text;
  EXPECT_EQ(lineWith(text, "Dry run:"),
            "    Dry run:            yes: measured and shown, never decides the run");
  EXPECT_EQ(lineWith(text, "Measured:").rfind("    Measured:           25 - ", 0), 0u);
  EXPECT_EQ(lineWith(text, "Measurements"), "    Measurements (last 3 of 25):");

  auto runs = renderRolloutRuns(rollout(2), {{object}, {}});
  EXPECT_EQ(
      cells(lineWith(runs, "    error-rate")),
      (Row{"error-rate", "Running", "0.015", "(max", "0.02)", "25", "measured,", "dry", "run"}))
      << runs;
}

TEST(KubectlMcAnalysisViewTest, UnreadableRunSaysWhy) {
  auto object = run("web-2-1", "step-1", kErrorRate, R"({"phase": 7})");
  auto text = renderAnalysisRun(object, kNow);
  EXPECT_NE(lineWith(text, "Status:").find("Unknown - analysisrun \"web-2-1\" cannot be read: "),
            std::string::npos)
      << text;
  EXPECT_NE(lineWith(text, "Status:").find("status.phase"), std::string::npos) << text;
  auto runs = renderRolloutRuns(rollout(2), {{object}, {}});
  EXPECT_EQ(cells(lineWith(runs, "web-2-1")).at(3), "Unknown") << runs;
}

TEST(KubectlMcAnalysisViewTest, GetRolloutShowsTheCurrentAttemptsRunsAndSumsUpOlderOnes) {
  auto bg = run("web-2-bg", "background", kErrorRate,
                fmt::format(R"({{"phase": "Inconclusive", "message": "terminated: Superseded",
                                 "metricResults": [{}]}})",
                            result("error-rate", "Inconclusive", 1, "NaN", "")),
                "2026-03-01T11:40:00Z");
  auto bg2 = run("web-2-bg-2", "background", kErrorRate,
                 fmt::format(R"({{"phase": "Running", "message": "error-rate: 2/3 measured",
                                  "metricResults": [{}]}})",
                             result("error-rate", "Running", 2, "0.011", "")),
                 "2026-03-01T11:45:00Z");
  auto step = run("web-2-1", "step-1", std::string(kErrorRate) + "," + kLatency,
                  fmt::format(R"({{"phase": "Failed", "message": "error-rate: 0.2 is above max",
                                   "metricResults": [{}]}})",
                              result("error-rate", "Failed", 1, "0.2", R"(, "failed": 1)")),
                  "2026-03-01T11:50:00Z");
  std::vector<json::object> older{
      run("web-1-1", "step-1", kErrorRate, R"({"phase": "Failed"})", "2026-03-01T10:00:00Z"),
      run("web-1-bg", "background", kErrorRate, R"({"phase": "Inconclusive"})",
          "2026-03-01T10:00:00Z"),
      run("web-10-bg", "background", kErrorRate, R"({"phase": "Failed"})", "2026-03-01T10:30:00Z")};
  auto notMine =
      run("web-2-3", "step-3", kErrorRate, R"({"phase": "Failed"})", "", "uid-other-web");
  auto object = rollout(2, R"(, "backgroundRun": "web-2-bg-2")");

  std::vector<json::object> candidates{step, older[0], bg2, notMine, older[1], bg, older[2]};
  auto owned = ownedAnalysisRuns(object, candidates);
  ASSERT_EQ(owned.size(), 6u) << "not the run another Rollout's uid controls";
  EXPECT_EQ(kube::nameOf(owned.front()), "web-1-1") << "oldest first, then by name";
  EXPECT_EQ(kube::nameOf(owned[1]), "web-1-bg");

  auto text = renderRollout(object, {}, {owned, std::nullopt}, kNow);
  EXPECT_EQ(section(text, "\nAnalysisRuns", ""),
            "\nAnalysisRuns of attempt 2:\n"
            "  web-2-bg    background (replaced)  Inconclusive  terminated: Superseded\n"
            "    error-rate  Inconclusive  NaN (max 0.02)             1/3 measured\n"
            "  web-2-bg-2  background             Running       error-rate: 2/3 measured\n"
            "    error-rate  Running       0.011 (max 0.02)           2/3 measured\n"
            "  web-2-1     step 2                 Failed        error-rate: 0.2 is above max\n"
            "    error-rate  Failed        0.2 (max 0.02)             1/3 measured, 1 failed\n"
            "    latency     Pending       <none> (min 0.1, max 0.5)  0/1 measured\n"
            "  Older: 3 runs of attempts 1, 10 (2 Failed, 1 Inconclusive); `kubectl mc get "
            "analysisrun NAME` shows one\n")
      << text;
  EXPECT_EQ(text.find("web-2-3"), std::string::npos);
  EXPECT_EQ(text.rfind(renderRollout(object, {}, kNow), 0), 0u)
      << "the Rollout's own view first, unchanged";
}

TEST(KubectlMcAnalysisViewTest, GetRolloutWithoutRunsOrWithoutAccess) {
  // No analysis in the spec and no runs: nothing to say.
  auto plain = rollout(1, "", false);
  EXPECT_EQ(renderRolloutRuns(plain, {}), "");
  EXPECT_EQ(renderRollout(plain, {}, {}, kNow), renderRollout(plain, {}, kNow));
  EXPECT_EQ(renderRolloutRuns(plain, {{}, "no access: forbidden"}), "")
      << "runs it would not have are not missed";

  EXPECT_EQ(renderRolloutRuns(rollout(3), {}), "\nAnalysisRuns of attempt 3: none yet.\n");
  auto fresh = rollout(0);
  fresh["status"].as_object().erase("canaryRS");
  EXPECT_EQ(renderRolloutRuns(fresh, {}), "\nAnalysisRuns: none, no canary has run yet.\n");
  EXPECT_EQ(renderRolloutRuns(rollout(3), {{}, "no access: analysisruns is forbidden"}),
            "\nAnalysisRuns: not shown: no access: analysisruns is forbidden\n");

  // Only older attempts' runs: the current one has none yet, the older are summed up.
  auto old = run("web-1-1", "step-1", kErrorRate, R"({"phase": "Successful"})");
  EXPECT_EQ(renderRolloutRuns(rollout(2), {{old}, {}}),
            "\nAnalysisRuns of attempt 2: none yet.\n"
            "  Older: 1 run of attempt 1 (1 Successful); `kubectl mc get analysisrun NAME` shows "
            "one\n");
}

TEST(KubectlMcAnalysisViewTest, AnalysisFromTheLabelAndTheSelector) {
  struct Case {
    const char* label;  // nullptr: none
    const char* shown;
  };
  for (const auto& c : std::vector<Case>{{"background", "background"},
                                         {"step-0", "step 1"},
                                         {"step-11", "step 12"},
                                         {"step-x", "step-x"},
                                         {"step-", "step-"},
                                         {"canary-check", "canary-check"},
                                         {nullptr, ""}}) {
    auto object = run("web-2-1", c.label != nullptr ? c.label : "", kErrorRate, "");
    if (c.label == nullptr) {
      object["metadata"].as_object()["labels"].as_object().erase("mc.maestro.dev/analysis");
    }
    EXPECT_EQ(analysisOf(object), c.shown) << (c.label != nullptr ? c.label : "(none)");
  }
  EXPECT_EQ(analysisRunSelector("web"), "mc.maestro.dev/rollout=web");
  EXPECT_EQ(analysisRunSelector(std::string(63, 'a')),
            "mc.maestro.dev/rollout=" + std::string(63, 'a'));
  EXPECT_EQ(analysisRunSelector(std::string(70, 'a')),
            "mc.maestro.dev/rollout=" + std::string(63, 'a'))
      << "a longer name is cut as MC cuts it when it labels the runs";
}

}  // namespace
}  // namespace mc::cli
