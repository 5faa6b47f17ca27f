#include "mc/crds/analysis.h"

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include "reader.h"

namespace mc::crds {
namespace {

Metric readMetric(Reader& r, const json::object& in, const std::string& path) {
  Metric m;
  m.name = r.optString(in, "name", path).value_or("");
  m.interval = r.optString(in, "interval", path);
  m.count = r.optInt<int32_t>(in, "count", path);
  m.initialDelay = r.optString(in, "initialDelay", path);
  m.failureLimit = r.optInt<int32_t>(in, "failureLimit", path);
  m.inconclusiveLimit = r.optInt<int32_t>(in, "inconclusiveLimit", path);
  m.consecutiveErrorLimit = r.optInt<int32_t>(in, "consecutiveErrorLimit", path);
  m.dryRun = r.optBool(in, "dryRun", path);
  if (auto* success = r.optObject(in, "successCondition", path)) {
    m.successCondition.min = r.optDouble(*success, "min", path + ".successCondition");
    m.successCondition.max = r.optDouble(*success, "max", path + ".successCondition");
  }
  if (auto* provider = r.optObject(in, "provider", path)) {
    m.provider = *provider;
  } else {
    r.missing(path + ".provider");
  }
  return m;
}

std::vector<Metric> readMetrics(Reader& r, const json::object& spec, const std::string& path) {
  std::vector<Metric> metrics;
  if (auto* list = r.optArray(spec, "metrics", path)) {
    for (size_t i = 0; i < list->size(); ++i) {
      auto metricPath = path + ".metrics[" + std::to_string(i) + "]";
      if (const auto* metric = r.asObject((*list)[i], metricPath)) {
        metrics.push_back(readMetric(r, *metric, metricPath));
      }
    }
  }
  return metrics;
}

Measurement readMeasurement(Reader& r, const json::object& in, const std::string& path) {
  return {r.optString(in, "phase", path).value_or(""), r.optString(in, "value", path),
          r.optString(in, "startedAt", path).value_or(""),
          r.optString(in, "finishedAt", path).value_or(""),
          r.optString(in, "message", path).value_or("")};
}

MetricResult readMetricResult(Reader& r, const json::object& in, const std::string& path) {
  MetricResult m;
  m.name = r.optString(in, "name", path).value_or("");
  m.phase = r.optString(in, "phase", path).value_or("");
  m.message = r.optString(in, "message", path).value_or("");
  m.query = r.optString(in, "query", path).value_or("");
  if (auto* list = r.optArray(in, "queries", path)) {
    for (size_t i = 0; i < list->size(); ++i) {
      auto qpath = path + ".queries[" + std::to_string(i) + "]";
      if (const auto* query = r.asObject((*list)[i], qpath)) {
        m.queries.push_back({r.optString(*query, "name", qpath).value_or(""),
                             r.optString(*query, "query", qpath).value_or("")});
      }
    }
  }
  m.count = r.optInt<int32_t>(in, "count", path).value_or(0);
  m.successful = r.optInt<int32_t>(in, "successful", path).value_or(0);
  m.failed = r.optInt<int32_t>(in, "failed", path).value_or(0);
  m.inconclusive = r.optInt<int32_t>(in, "inconclusive", path).value_or(0);
  m.error = r.optInt<int32_t>(in, "error", path).value_or(0);
  m.consecutiveErrors = r.optInt<int32_t>(in, "consecutiveErrors", path).value_or(0);
  if (auto* list = r.optArray(in, "measurements", path)) {
    for (size_t i = 0; i < list->size(); ++i) {
      auto mpath = path + ".measurements[" + std::to_string(i) + "]";
      if (const auto* measurement = r.asObject((*list)[i], mpath)) {
        m.measurements.push_back(readMeasurement(r, *measurement, mpath));
      }
    }
  }
  return m;
}

// The object at `in`, its metadata, and its spec (missing spec is a fault).
const json::object* specOf(Reader& r, const json::value& in, const char* what,
                           json::object& metadata) {
  const auto* object = r.asObject(in, what);
  if (object == nullptr) {
    return nullptr;
  }
  if (auto* m = r.optObject(*object, "metadata", "")) {
    metadata = *m;
  }
  const auto* spec = r.optObject(*object, "spec", "");
  if (spec == nullptr) {
    r.missing("spec");
  }
  return spec;
}

}  // namespace

Result<AnalysisTemplate> readAnalysisTemplate(const json::value& in) {
  Reader r;
  AnalysisTemplate out;
  if (const auto* spec = specOf(r, in, "template", out.metadata)) {
    out.spec.args = readArgs(r, *spec, "spec");
    out.spec.metrics = readMetrics(r, *spec, "spec");
  }
  if (r.fault) {
    return *r.fault;
  }
  return out;
}

Result<AnalysisRun> readAnalysisRun(const json::value& in) {
  Reader r;
  AnalysisRun out;
  if (const auto* spec = specOf(r, in, "analysisRun", out.metadata)) {
    out.spec.args = readArgs(r, *spec, "spec");
    out.spec.metrics = readMetrics(r, *spec, "spec");
    if (auto* terminate = r.optObject(*spec, "terminate", "spec")) {
      out.spec.terminate =
          Terminate{r.optString(*terminate, "reason", "spec.terminate").value_or(""),
                    r.optString(*terminate, "message", "spec.terminate")};
    }
  }
  if (in.is_object()) {
    if (auto* status = r.optObject(in.as_object(), "status", "")) {
      auto& s = out.status;
      s.phase = r.optString(*status, "phase", "status");
      s.message = r.optString(*status, "message", "status");
      s.startedAt = r.optString(*status, "startedAt", "status");
      s.completedAt = r.optString(*status, "completedAt", "status");
      if (auto* list = r.optArray(*status, "metricResults", "status")) {
        for (size_t i = 0; i < list->size(); ++i) {
          auto path = "status.metricResults[" + std::to_string(i) + "]";
          if (const auto* result = r.asObject((*list)[i], path)) {
            s.metricResults.push_back(readMetricResult(r, *result, path));
          }
        }
      }
    }
  }
  if (r.fault) {
    return *r.fault;
  }
  return out;
}

json::object writeMetric(const Metric& m) {
  json::object out{{"name", m.name}};
  put(out, "interval", m.interval);
  put(out, "count", m.count);
  put(out, "initialDelay", m.initialDelay);
  put(out, "failureLimit", m.failureLimit);
  put(out, "inconclusiveLimit", m.inconclusiveLimit);
  put(out, "consecutiveErrorLimit", m.consecutiveErrorLimit);
  put(out, "dryRun", m.dryRun);
  json::object success;
  put(success, "min", m.successCondition.min);
  put(success, "max", m.successCondition.max);
  if (!success.empty()) {
    out["successCondition"] = std::move(success);
  }
  out["provider"] = m.provider;
  return out;
}

json::object writeRunStatus(const AnalysisRunStatus& s) {
  json::object out;
  put(out, "phase", s.phase);
  put(out, "message", s.message);
  put(out, "startedAt", s.startedAt);
  put(out, "completedAt", s.completedAt);
  json::array results;
  for (const auto& m : s.metricResults) {
    json::array measurements;
    for (const auto& x : m.measurements) {
      json::object measurement{
          {"phase", x.phase}, {"startedAt", x.startedAt}, {"finishedAt", x.finishedAt}};
      put(measurement, "value", x.value);
      if (!x.message.empty()) {
        measurement["message"] = x.message;
      }
      measurements.push_back(std::move(measurement));
    }
    json::object result{{"name", m.name},
                        {"phase", m.phase},
                        {"message", m.message},
                        {"query", m.query},
                        {"count", m.count},
                        {"successful", m.successful},
                        {"failed", m.failed},
                        {"inconclusive", m.inconclusive},
                        {"error", m.error},
                        {"consecutiveErrors", m.consecutiveErrors},
                        {"measurements", std::move(measurements)}};
    if (!m.queries.empty()) {
      json::array queries;
      for (const auto& q : m.queries) {
        queries.push_back(json::object{{"name", q.name}, {"query", q.query}});
      }
      result["queries"] = std::move(queries);
    }
    results.push_back(std::move(result));
  }
  out["metricResults"] = std::move(results);
  return out;
}

void tag_invoke(const json::value_from_tag&, json::value& out, const AnalysisRun& run) {
  json::array metrics;
  for (const auto& metric : run.spec.metrics) {
    metrics.push_back(writeMetric(metric));
  }
  json::object spec{{"metrics", std::move(metrics)}};
  if (!run.spec.args.empty()) {
    spec["args"] = writeArgs(run.spec.args);
  }
  if (run.spec.terminate) {
    json::object terminate{{"reason", run.spec.terminate->reason}};
    put(terminate, "message", run.spec.terminate->message);
    spec["terminate"] = std::move(terminate);
  }
  json::object object{{"apiVersion", kApiVersion},
                      {"kind", kAnalysisRunKind},
                      {"metadata", run.metadata},
                      {"spec", std::move(spec)}};
  if (run.status.phase) {
    object["status"] = writeRunStatus(run.status);
  }
  out = std::move(object);
}

}  // namespace mc::crds
